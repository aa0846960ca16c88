/* The connection to the local libvirt daemon: opened off the main loop,
 * watched with keepalive and a close callback, reopened with backoff, and
 * described for /v1/health. libvirt events run in the GLib main loop. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "virt-ops.h"

typedef struct _Virt Virt;

typedef struct {
    guint keepalive_interval;   /* seconds; 0: off */
    guint keepalive_count;
    guint reconnect_max;        /* seconds */
} VirtOptions;

/* Called on the main loop whenever the connection comes up or goes down. */
typedef void (*VirtStateFunc)(Virt *virt, gboolean connected, gpointer user_data);

/* Registers libvirt's event loop with GLib; call once before virt_new(). */
void virt_global_init(void);

Virt *virt_new(const char *uri, const VirtOptions *options, VirtStateFunc state_cb,
               gpointer user_data);
void virt_free(Virt *virt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Virt, virt_free)

/* Starts connecting; returns at once. */
void virt_start(Virt *virt);

/* Applies a new URI or options, reconnecting when the URI changed. */
void virt_reconfigure(Virt *virt, const char *uri, const VirtOptions *options);

gboolean virt_is_connected(Virt *virt);
const char *virt_uri(Virt *virt);

/* The open connection, or NULL while disconnected; borrowed. */
virConnectPtr virt_connection(Virt *virt);

/* Wall-clock time of the last connect or disconnect; NULL before either. */
GDateTime *virt_state_since(Virt *virt);

/* Why the last attempt failed or the connection dropped; NULL if none. */
const char *virt_last_error(Virt *virt);

/* Failed attempts since the connection was last up. */
guint virt_reconnect_attempts(Virt *virt);

/* "QEMU 7.2.22", or NULL while disconnected. */
const char *virt_hypervisor(Virt *virt);

/* The libvirt operations of the steps (virt-ops.h): libvirt's, or a fake's
 * set with virt_set_ops() by a unit test before virt_start(). */
const VirtOps *virt_ops(Virt *virt);
void virt_set_ops(Virt *virt, const VirtOps *ops);

/* A new reference to the open connection as a VirtConn, or NULL while
 * disconnected. */
VirtConn *virt_conn(Virt *virt);
