/* The source's NIC steps, before the migration: each NIC that crosses
 * unplugged is detached here, and the step ends when the guest released
 * them all (libvirt's DEVICE_REMOVED) and runs on its standby NICs. */
#include <config.h>

#include "src-nic-priv.h"
#include "verify.h"

static void nic_unplug_next(NicSteps *ns);

static void
nic_unplugged(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    ns->hp = NULL;
    if (!ok) {
        nic_step_failed(ns, error);
        return;
    }
    n->state = NIC_UNPLUGGED;
    /* The first acknowledgement is the one the guest's outage hangs on. */
    if (ns->unplug_ack_ms < 0)
        ns->unplug_ack_ms = elapsed_ms;
    ns->index++;
    nic_unplug_next(ns);
}

static void
nic_unplug_next(NicSteps *ns)
{
    virConnectPtr conn = virt_connection(ns->virt);

    while (ns->index < ns->nics->len && nic_at(ns, ns->index)->strategy != NIC_STRATEGY_UNPLUG)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        if (ns->unplug_start_us)
            nic_step_done(ns, "the guest released its VF%s after %" G_GINT64_FORMAT " ms "
                          "(DEVICE_REMOVED) and runs on its standby NIC",
                          ns->nics->len == 1 ? "" : "s", ns->unplug_ack_ms);
        else
            nic_step_done(ns, "no NIC needs unplugging");
        return;
    }
    if (!conn) {
        nic_step_failed(ns, "migd lost libvirt before it could unplug the VF");
        return;
    }
    if (!ns->unplug_start_us)
        ns->unplug_start_us = g_get_monotonic_time();
    ns->hp = hotplug_detach(conn, ns->domain, nic_at(ns, ns->index)->dom->alias,
                            ns->unplug_timeout_s * 1000, nic_unplugged, ns);
}

static void
nic_probe_reset(gint64 max_gap_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;

    if (max_gap_ms < 0 && g_strcmp0(ns->verify, "none") != 0)
        nic_feed(ns, JOB_EV_NOTE, "warning", "the guest's probe could not be reset, so its "
                 "outage will not be measured: %s", detail);
    nic_unplug_next(ns);
}

void
nic_unplug(NicSteps *ns)
{
    /* The guest's probe counts the outage from here; then unplug. */
    ns->index = 0;
    verify_probe(ns->verify, ns->agent_dir, ns->domain, TRUE, ns->cancellable, nic_probe_reset,
                 ns);
}
