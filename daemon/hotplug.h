/* Hot-plugging a guest device and waiting for the guest's answer. The API
 * call's return proves nothing (DESIGN.md section 3): a detach is done when
 * libvirt reports DEVICE_REMOVED, an attach when it reports DEVICE_ADDED. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

typedef struct _Hotplug Hotplug;

/* @ok: the guest acknowledged; @elapsed_ms: from the request to the event;
 * @error: why not (a sentence), NULL when @ok. Called once, on the loop,
 * unless hotplug_cancel() came first. */
typedef void (*HotplugDone)(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data);

/* Detaches the device @alias of the running @domain on @conn; the call runs
 * in a worker. DEVICE_REMOVAL_FAILED or no DEVICE_REMOVED within
 * @timeout_ms is a failure (the device may still be attached). */
Hotplug *hotplug_detach(virConnectPtr conn, const char *domain, const char *alias,
                        guint timeout_ms, HotplugDone done, gpointer data);

/* Attaches @device_xml (whose alias is @alias) to the running @domain. */
Hotplug *hotplug_attach(virConnectPtr conn, const char *domain, const char *device_xml,
                        const char *alias, guint timeout_ms, HotplugDone done, gpointer data);

/* Forgets @hp: its callback will not run. NULL-safe. */
void hotplug_cancel(Hotplug *hp);
