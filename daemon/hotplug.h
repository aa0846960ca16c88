/* Hot-plugging a guest device and waiting for the guest's answer. The API
 * call's return proves nothing (DESIGN.md section 3): a detach is done when
 * libvirt reports DEVICE_REMOVED, an attach when it reports DEVICE_ADDED.
 * The call runs in a worker through the VirtOps seam (virt-ops.h); nothing
 * here calls libvirt on a domain from the loop. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "virt-ops.h"

typedef struct _Hotplug Hotplug;

/* @ok: the guest acknowledged; @elapsed_ms: from the request to the event;
 * @error: why not (a sentence), NULL when @ok. Called once, on the loop,
 * unless hotplug_cancel() came first. */
typedef void (*HotplugDone)(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data);

/* Detaches the device @alias of the running @domain on @conn (which it
 * references). DEVICE_REMOVAL_FAILED or no DEVICE_REMOVED within
 * @timeout_ms is a failure; after a timeout the guest may still release
 * the device later (libvirt cannot take a detach back). */
Hotplug *hotplug_detach_conn(VirtConn *conn, const char *domain, const char *alias,
                             guint timeout_ms, HotplugDone done, gpointer data);

/* Attaches @device_xml (whose alias is @alias) to the running @domain. */
Hotplug *hotplug_attach_conn(VirtConn *conn, const char *domain, const char *device_xml,
                             const char *alias, guint timeout_ms, HotplugDone done,
                             gpointer data);

/* The same on a plain libvirt connection (the destination's steps, until
 * they hold a VirtConn). */
Hotplug *hotplug_attach(virConnectPtr conn, const char *domain, const char *device_xml,
                        const char *alias, guint timeout_ms, HotplugDone done, gpointer data);

/* Forgets @hp: its callback will not run. NULL-safe. */
void hotplug_cancel(Hotplug *hp);

/* How many hot-plugs still hold a connection (a cancelled one whose call
 * has not returned yet included): a test waits for none before it frees
 * its fake hypervisor. */
guint hotplug_outstanding(void);
