/* The destination's word that the guest resumed there: its libvirt's
 * lifecycle event is the migration's completion as the guest sees it, and
 * it starts the replug while the migrate call here is still returning. */
#include <config.h>

#include "src-migrator-priv.h"

static void
on_dest_lifecycle(const VirtEvent *event, gpointer data)
{
    SrcRun *run = data;

    /* UNPAUSED: a guest that arrived paused (the pause strategy) is
     * resumed there by the destination's migd (measured in the lab:
     * "Suspended Paused", then "Resumed Unpaused"). */
    if (g_strcmp0(event->domain, run->domain) != 0 || event->event != VIR_DOMAIN_EVENT_RESUMED ||
        (event->detail != VIR_DOMAIN_EVENT_RESUMED_MIGRATED &&
         event->detail != VIR_DOMAIN_EVENT_RESUMED_POSTCOPY &&
         event->detail != VIR_DOMAIN_EVENT_RESUMED_UNPAUSED))
        return;
    nic_steps_dest_resumed(run->nics);
    migrator_feed(run->m, run->id, JOB_EV_DEST_RESUMED, NULL, NULL);
}

void
src_resume_watch(SrcRun *run)
{
    g_autoptr(GError) error = NULL;

    if (run->dest_callback >= 0)
        return;
    if (run->dest)
        run->dest_callback = virt_conn_ops(run->dest)->event_register(
            run->dest, NULL, VIRT_EVENT_LIFECYCLE, on_dest_lifecycle, run, NULL, &error);
    if (run->dest_callback < 0)
        migrator_note(run->m, run->id, "warning", "cannot watch the destination for the guest's "
                      "resume (%s); completion will be taken from libvirt's job here",
                      error ? error->message : "it could not be reached");
}
