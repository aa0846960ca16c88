/* The source's NIC steps when the job is undone before the guest left:
 * the live XML says which NICs are gone (a detach that was sent goes ahead
 * in libvirt, whatever the record says), each is plugged back in here from
 * the XML saved before the unplug and verified, and the destination's
 * reservation is released. After a restart the same, from the record. */
#include <config.h>

#include "failpoint.h"
#include "src-nic-priv.h"
#include "verify.h"

static void nic_restore_next(NicSteps *ns);

static void
nic_restore_verified(gboolean ok, gint64 elapsed_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    n->state = ok ? NIC_RESTORED : NIC_LOST;
    if (!ok && !nic_note(ns, "error", "%s is plugged in again but the guest does not use it: %s",
                         n->dom->alias, detail))
        return;
    ns->index++;
    nic_restore_next(ns);
}

static void
nic_restore_verify(NicSteps *ns)
{
    Nic *n = nic_at(ns, ns->index);

    verify_primary(ns->verify, ns->agent_dir, ns->domain,
                   n->dom->kind == DOM_NIC_EMULATED ? n->dom->model : NULL,
                   ns->replug_timeout_s * 1000, ns->cancellable, nic_restore_verified, ns);
}

/* An attach that failed may still have plugged it (libvirt 9.0 refuses a
 * second attach with "non unique alias detected"; an event can be
 * missed): the live XML has the last word. */
static void
nic_restore_checked(NicSteps *ns, const NicXml *xml)
{
    Nic *n = nic_at(ns, ns->index);
    g_autofree char *present = xml->live ? domxml_device_xml(xml->live, n->dom->alias, NULL)
                                         : NULL;

    if (present) {
        nic_restore_verify(ns);
        return;
    }
    n->state = NIC_LOST;
    if (!nic_note(ns, "error", "%s could not be plugged back in here: %s; the guest runs on "
                  "its standby NIC only", n->dom->alias, ns->restore_error))
        return;
    ns->index++;
    nic_restore_next(ns);
}

static void
nic_restored(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;

    ns->hp = NULL;
    if (ok) {
        nic_restore_verify(ns);
        return;
    }
    g_free(ns->restore_error);
    ns->restore_error = g_strdup(error);
    nic_read_xml(ns, 0, FALSE, nic_restore_checked);
}

static void
nic_rollback_released(NicSteps *ns, gboolean released, const char *phrase)
{
    g_autoptr(GString) lost = g_string_new(NULL);
    guint restored = 0;

    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);

        if (n->state == NIC_LOST)
            g_string_append_printf(lost, "%s%s", lost->len ? ", " : "", n->dom->alias);
        restored += n->state == NIC_RESTORED;
    }
    if (lost->len) {
        g_autofree char *reason = g_strdup_printf(
            "%s could not be given back to %s, which runs on this host WITHOUT its passthrough "
            "NIC (on its standby NIC only): plug it in again by hand from the XML in the job's "
            "nics.devices; %s", lost->str, ns->domain, phrase);
        nic_step_failed(ns, reason);
    } else if (restored) {
        nic_step_done(ns, "the VF%s plugged back in here and the guest uses %s again; %s",
                      restored == 1 ? " is" : "s are", restored == 1 ? "it" : "them", phrase);
    } else {
        nic_step_done(ns, "nothing was unplugged; %s", phrase);
    }
}

static void
nic_restore_next(NicSteps *ns)
{
    g_autoptr(VirtConn) conn = NULL;
    Nic *n;

    while (ns->index < ns->nics->len && nic_at(ns, ns->index)->state != NIC_UNPLUGGED)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        nic_release(ns, nic_rollback_released);
        return;
    }
    n = nic_at(ns, ns->index);
    conn = virt_conn(ns->virt);
    if (!conn || !n->dom->xml) {
        nic_restored(FALSE, 0, conn ? "the job's record has no XML for it"
                                    : "migd is not connected to libvirt", ns);
        return;
    }
    /* The record says what is about to be plugged back before it is. */
    if (!nic_note(ns, "info", "plugging %s back in here", n->dom->alias))
        return;
    failpoint("src-mid-rollback");
    ns->hp = hotplug_attach_conn(conn, ns->domain, n->dom->xml, n->dom->alias,
                                 ns->replug_timeout_s * 1000, nic_restored, ns);
}

static void nic_rollback_read(NicSteps *ns, const NicXml *xml);
static void nic_settle_next(NicSteps *ns);

static void
nic_settled(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = nic_at(ns, ns->index);

    ns->hp = NULL;
    n->detach_pending = FALSE;
    if (ok ? !nic_note(ns, "info", "the guest released %s when asked again (after %" G_GINT64_FORMAT
                       " ms): it is plugged back in", n->dom->alias, elapsed_ms)
           : !nic_note(ns, "info", "the guest keeps %s: %s", n->dom->alias, error))
        return;
    ns->index++;
    nic_settle_next(ns);
}

/* After a restart, a NIC whose release was asked before migd died and is
 * still in the guest may yet go at any moment, and nothing would plug it
 * back. So the guest is asked again (libvirt 9.0 accepts a second detach
 * and tells its outcome) and its answer awaited; then the live XML is read
 * again and says what to plug back in. */
static void
nic_settle_next(NicSteps *ns)
{
    g_autoptr(VirtConn) conn = NULL;
    Nic *n;

    while (ns->index < ns->nics->len && !nic_at(ns, ns->index)->detach_pending)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        nic_read_xml(ns, 0, FALSE, nic_rollback_read);
        return;
    }
    n = nic_at(ns, ns->index);
    conn = virt_conn(ns->virt);
    if (!conn) {
        nic_settled(FALSE, 0, "migd is not connected to libvirt", ns);
        return;
    }
    if (!nic_note(ns, "info", "the guest was asked to release %s before migd restarted and "
                  "still has it: asking again and waiting up to %u s for its answer, so that "
                  "it either keeps it or gets it back", n->dom->alias, ns->unplug_timeout_s))
        return;
    ns->hp = hotplug_detach_conn(conn, ns->domain, n->dom->alias, ns->unplug_timeout_s * 1000,
                                 nic_settled, ns);
}

/* Which NICs to plug back in: those that cross unplugged and are gone from
 * the live XML, once every release asked before a restart has its answer
 * (nic_settle_next). A NIC the guest was asked to release and still has
 * may still go: the timeline says so, since nothing would notice. */
static void
nic_rollback_read(NicSteps *ns, const NicXml *xml)
{
    gboolean settle = FALSE;

    if (!xml->live &&
        !nic_note(ns, "warning", "cannot read %s's live XML (%s), so the rollback goes by the "
                  "job's record of what was unplugged", ns->domain, xml->error))
        return;
    for (guint i = 0; xml->live && i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);
        g_autofree char *present = NULL;

        if (n->strategy != NIC_STRATEGY_UNPLUG || !n->detach_pending)
            continue;
        present = domxml_device_xml(xml->live, n->dom->alias, NULL);
        if (present)
            settle = TRUE;
        else
            n->detach_pending = FALSE;     /* it went: plugged back in below */
    }
    if (settle) {
        ns->index = 0;
        nic_settle_next(ns);
        return;
    }
    for (guint i = 0; xml->live && i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);
        g_autofree char *present = domxml_device_xml(xml->live, n->dom->alias, NULL);

        if (n->strategy != NIC_STRATEGY_UNPLUG)
            continue;
        if (!present) {
            n->state = NIC_UNPLUGGED;
        } else {
            if (n->detach_sent && n->state == NIC_ATTACHED &&
                !nic_note(ns, "warning", "the guest was asked to release %s and has not; if "
                          "it still does, it runs on its standby NIC only", n->dom->alias))
                return;
            n->state = NIC_ATTACHED;
        }
    }
    ns->index = 0;
    nic_restore_next(ns);
}

void
nic_rollback_resume(NicSteps *ns)
{
    if (ns->rollback_started || ns->reserving || ns->unplug_busy || ns->switchover_busy)
        return;
    if (nic_pause_undo(ns))
        return;
    ns->rollback_started = TRUE;
    nic_read_xml(ns, 0, FALSE, nic_rollback_read);
}

void
nic_rollback(NicSteps *ns)
{
    ns->rolling_back = TRUE;
    nic_renew_stop(ns);
    g_clear_handle_id(&ns->timer, g_source_remove);
    /* A reservation's answer still on its way is awaited (it may grant
     * what must be released); the other calls are forgotten. */
    if (ns->reserving)
        nic_call_settle(ns);
    else
        nic_call_abandon(ns);
    nic_rollback_resume(ns);
}
