/* The source's NIC steps when the job is undone before the guest left:
 * every VF that was unplugged is plugged back in here and verified, and
 * the destination's reservation is released. */
#include <config.h>

#include "src-nic-priv.h"
#include "verify.h"

static void nic_restore_next(NicSteps *ns);

static void
nic_restore_verified(gboolean ok, gint64 elapsed_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    if (!ok) {
        n->state = NIC_LOST;
        nic_feed(ns, JOB_EV_NOTE, "error", "%s is plugged in again but the guest does not use "
                 "it: %s", n->dom->alias, detail);
    } else {
        n->state = NIC_RESTORED;
    }
    ns->index++;
    nic_restore_next(ns);
}

static void
nic_restored(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    ns->hp = NULL;
    if (!ok) {
        n->state = NIC_LOST;
        nic_feed(ns, JOB_EV_NOTE, "error", "%s could not be plugged back in here: %s; the guest "
                 "runs on its standby NIC only", n->dom->alias, error);
        ns->index++;
        nic_restore_next(ns);
        return;
    }
    verify_primary(ns->verify, ns->agent_dir, ns->domain,
                   n->dom->kind == DOM_NIC_EMULATED ? n->dom->model : NULL,
                   ns->replug_timeout_s * 1000, ns->cancellable, nic_restore_verified, ns);
}

/* Every NIC has been seen to: the step's outcome. */
static void
nic_rollback_done(NicSteps *ns)
{
    guint lost = 0, restored = 0;

    for (guint i = 0; i < ns->nics->len; i++) {
        lost += nic_at(ns, i)->state == NIC_LOST;
        restored += nic_at(ns, i)->state == NIC_RESTORED;
    }
    nic_steps_finish(ns);
    if (lost) {
        g_autofree char *reason = g_strdup_printf(
            "%u VF%s could not be given back to %s, which runs on this host WITHOUT its "
            "passthrough NIC (on its standby NIC only)", lost, lost == 1 ? "" : "s", ns->domain);
        nic_step_failed(ns, reason);
    } else {
        nic_step_done(ns, restored ? "the VF is plugged back in here and the guest uses it "
                                     "again; the destination's lease is released"
                                   : "nothing was unplugged; the destination's lease is "
                                     "released");
    }
}

static void
nic_restore_next(NicSteps *ns)
{
    virConnectPtr conn = virt_connection(ns->virt);
    Nic *n;

    while (ns->index < ns->nics->len && nic_at(ns, ns->index)->state != NIC_UNPLUGGED)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        nic_rollback_done(ns);
        return;
    }
    n = nic_at(ns, ns->index);
    if (!conn) {
        nic_restored(FALSE, 0, "migd is not connected to libvirt", ns);
        return;
    }
    ns->hp = hotplug_attach(conn, ns->domain, n->dom->xml, n->dom->alias,
                            ns->replug_timeout_s * 1000, nic_restored, ns);
}

void
nic_rollback(NicSteps *ns)
{
    g_clear_pointer(&ns->hp, hotplug_cancel);
    ns->index = 0;
    nic_restore_next(ns);
}
