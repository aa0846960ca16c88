/* Asking the guest whether it uses its passthrough NIC as the primary path
 * again, after a replug. */
#pragma once

#include <gio/gio.h>

/* @ok: the guest reports the NIC as its active primary; @detail: what it
 * said or why it could not be asked (a sentence). */
typedef void (*VerifyDone)(gboolean ok, gint64 elapsed_ms, const char *detail, gpointer data);

/* @method "none" trusts libvirt's DEVICE_ADDED and says so; "lab-agent"
 * asks the lab guest's agent on <socket_dir>/<domain>.agent until its
 * net_failover primary is a @driver device and active, or @timeout_ms
 * passes. The answer comes on the loop unless @cancellable is cancelled. */
void verify_primary(const char *method, const char *socket_dir, const char *domain,
                    const char *driver, guint timeout_ms, GCancellable *cancellable,
                    VerifyDone done, gpointer data);
