/* The destination's word that the guest resumed there: its libvirt's
 * lifecycle event is the migration's completion as the guest sees it, and
 * it starts the replug while the migrate call here is still returning. */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

static int
on_dest_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    SrcRun *run = opaque;

    if (g_strcmp0(virDomainGetName(dom), run->domain) != 0 || event != VIR_DOMAIN_EVENT_RESUMED ||
        (detail != VIR_DOMAIN_EVENT_RESUMED_MIGRATED && detail != VIR_DOMAIN_EVENT_RESUMED_POSTCOPY))
        return 0;
    nic_steps_dest_resumed(run->nics);
    migrator_feed(run->m, run->id, JOB_EV_DEST_RESUMED, NULL, NULL);
    return 0;
}

void
src_resume_watch(SrcRun *run)
{
    if (run->dest && run->dest_callback < 0)
        run->dest_callback = virConnectDomainEventRegisterAny(
            run->dest, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            VIR_DOMAIN_EVENT_CALLBACK(on_dest_lifecycle), run, NULL);
    if (run->dest_callback < 0)
        migrator_note(run->m, run->id, "warning", "cannot watch the destination for the guest's "
                      "resume (%s); completion will be taken from libvirt's job here",
                      virGetLastErrorMessage());
}
