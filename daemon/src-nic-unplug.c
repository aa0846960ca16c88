/* The source's NIC steps before the migration: each NIC that crosses
 * unplugged is detached here, and the step ends when the guest released
 * them all (libvirt's DEVICE_REMOVED) and runs on its standby NICs, with
 * the XML the migrate call needs read once they are gone. A rollback that
 * comes meanwhile waits for the unplug under way to end: a detach that was
 * sent goes ahead in libvirt whatever migd decides. */
#include <config.h>

#include "failpoint.h"
#include "src-nic-priv.h"
#include "verify.h"

static void nic_unplug_next(NicSteps *ns);

/* The unplug under way ended; a rollback that came meanwhile goes on. */
static gboolean
nic_unplug_interrupted(NicSteps *ns)
{
    if (!ns->rolling_back)
        return FALSE;
    ns->unplug_busy = FALSE;
    nic_rollback_resume(ns);
    return TRUE;
}

static void
nic_unplugged(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    ns->hp = NULL;
    n->detach_pending = FALSE;
    if (ok) {
        n->state = NIC_UNPLUGGED;
        /* The first acknowledgement is the one the guest's outage hangs on. */
        if (ns->unplug_ack_ms < 0)
            ns->unplug_ack_ms = elapsed_ms;
        /* The record says so before anything else happens. */
        if (!nic_note(ns, "info", "the guest released %s after %" G_GINT64_FORMAT " ms "
                      "(DEVICE_REMOVED)", n->dom->alias, elapsed_ms))
            return;
        failpoint("src-after-device-removed");
    }
    if (nic_unplug_interrupted(ns))
        return;
    if (!ok) {
        ns->unplug_busy = FALSE;
        nic_step_failed(ns, error);
        return;
    }
    ns->index++;
    nic_unplug_next(ns);
}

/* The step is done: the guest runs on its standby NICs (if any left). */
static void
nic_unplug_done(NicSteps *ns)
{
    ns->unplug_busy = FALSE;
    if (ns->unplug_start_us)
        nic_step_done(ns, "the guest runs on its standby NIC%s", ns->nics->len == 1 ? "" : "s");
    else
        nic_step_done(ns, "no NIC needs unplugging");
}

static void
nic_unplug_xml_read(NicSteps *ns, const NicXml *xml)
{
    if (nic_unplug_interrupted(ns))
        return;
    if (nic_migrate_xml(ns, xml, ns->persistent))
        nic_unplug_done(ns);
}

/* Every NIC that crosses unplugged is gone: what the migrate call needs
 * of the XML now (the native NICs' destination XML, the persistent
 * definition). */
static void
nic_unplug_finish(NicSteps *ns)
{
    gboolean native = FALSE;

    for (guint i = 0; i < ns->nics->len; i++)
        native |= nic_strategy_stays(nic_at(ns, i)->strategy);
    if (native || (ns->persistent && ns->nics->len)) {
        nic_read_xml(ns, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE, ns->persistent,
                     nic_unplug_xml_read);
        return;
    }
    nic_unplug_done(ns);
}

static void
nic_unplug_next(NicSteps *ns)
{
    g_autoptr(VirtConn) conn = NULL;
    Nic *n;

    while (ns->index < ns->nics->len && nic_at(ns, ns->index)->strategy != NIC_STRATEGY_UNPLUG)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        nic_unplug_finish(ns);
        return;
    }
    conn = virt_conn(ns->virt);
    if (!conn) {
        ns->unplug_busy = FALSE;
        nic_step_failed(ns, "migd lost libvirt before it could unplug the VF");
        return;
    }
    if (!ns->unplug_start_us)
        ns->unplug_start_us = g_get_monotonic_time();
    n = nic_at(ns, ns->index);
    n->detach_sent = n->detach_pending = TRUE;
    /* Recorded before it is asked: a migd restarted meanwhile must wait
     * for the guest's answer before it decides what to plug back in. */
    if (!nic_note(ns, "info", "asking the guest to release %s", n->dom->alias))
        return;
    ns->hp = hotplug_detach_conn(conn, ns->domain, n->dom->alias, ns->unplug_timeout_s * 1000,
                                 nic_unplugged, ns);
}

static void
nic_probe_reset(gint64 max_gap_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;

    if (nic_unplug_interrupted(ns))
        return;
    if (max_gap_ms < 0 && g_strcmp0(ns->verify, "none") != 0 &&
        !nic_note(ns, "warning", "the guest's probe could not be reset, so its outage will not "
                  "be measured: %s", detail))
        return;
    nic_unplug_next(ns);
}

void
nic_unplug(NicSteps *ns, const Job *job)
{
    ns->persistent = job->options.persistent;
    ns->index = 0;
    ns->unplug_busy = TRUE;
    /* The guest's probe counts the outage from here; then unplug. */
    verify_probe(ns->verify, ns->agent_dir, ns->domain, TRUE, ns->cancellable, nic_probe_reset,
                 ns);
}
