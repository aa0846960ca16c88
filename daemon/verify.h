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

/* The guest's own view of its network outage: "lab-agent" asks the lab
 * agent for the largest gap in its probe since the last reset (and resets
 * it with @reset). @max_gap_ms is -1 when there is no probe ("none") or it
 * could not be read; @detail then says why. */
typedef void (*VerifyProbeDone)(gint64 max_gap_ms, const char *detail, gpointer data);

void verify_probe(const char *method, const char *socket_dir, const char *domain,
                  gboolean reset, GCancellable *cancellable, VerifyProbeDone done,
                  gpointer data);
