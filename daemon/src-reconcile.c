/* Jobs left by a previous migd: where the guest runs now (here, on the
 * destination, both, neither) and whether libvirt's migration job still
 * runs, fed to the job as RECONCILED; a migration still running is followed
 * until it ends, then reconciled again. */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

static void
reconcile_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;
    virDomainPtr ddom;
    int state = 0;

    w->dest = virConnectOpen(w->dest_uri);
    if (!w->dest) {
        w->error = g_strdup(virGetLastErrorMessage());
        return;
    }
    ddom = virDomainLookupByName(w->dest, w->domain);
    if (ddom) {
        w->dest_running = virDomainGetState(ddom, &state, NULL, 0) == 0 &&
                          (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED);
        /* A paused domain on the destination is an incoming migration
         * still in flight, not a guest that runs there. */
        w->dest_running &= state == VIR_DOMAIN_RUNNING;
        (void)virDomainFree(ddom);
    }
    w->have_figures = src_stats_completed_figures(w->dest, w->domain, &w->figures);
    w->ok = TRUE;
}

static void
reconcile_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);
    g_autofree char *error = NULL;
    SrcRun *run;
    virDomainPtr dom;
    virDomainJobInfo info = { 0 };
    gboolean source_running = FALSE;
    JobEvent ev;
    int state = 0;

    if (!w)
        return;
    run = w->run;
    dom = migrator_lookup_source(run->m, w->domain, &error);
    engine_event_init(&ev, JOB_EV_RECONCILED);
    if (dom) {
        source_running = virDomainGetState(dom, &state, NULL, 0) == 0 &&
                         (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED);
        ev.source_job_active = virDomainGetJobInfo(dom, &info) == 0 &&
                               info.type != VIR_DOMAIN_JOB_NONE;
        (void)virDomainFree(dom);
    }
    if (!w->ok)
        migrator_note(run->m, run->id, "warning", "cannot ask the destination %s where the "
                      "guest is: %s", w->dest_uri, w->error);
    if (source_running && w->dest_running)
        ev.placement = JOB_GUEST_ON_BOTH;
    else if (w->dest_running)
        ev.placement = JOB_GUEST_ON_DESTINATION;
    else if (source_running)
        ev.placement = JOB_GUEST_ON_SOURCE;
    else
        ev.placement = JOB_GUEST_NOWHERE;
    ev.figures = w->have_figures ? &w->figures : NULL;
    engine_feed(run->m->engine, run->id, &ev);
}

void
src_reconcile_run(gpointer migrator, Job *job)
{
    SrcRun *run = migrator_run(migrator, job);

    migrator_work_start(run, migrator_work_new(run, job), reconcile_thread, reconcile_done);
}

/* A libvirt migration job that outlived the previous migd: wait for it to
 * end, then reconcile again. */
static gboolean
watch_job_tick(gpointer data)
{
    SrcRun *run = data;
    g_autofree char *error = NULL;
    virDomainPtr dom = migrator_lookup_source(run->m, run->domain, &error);
    virDomainJobInfo info = { 0 };
    gboolean active;
    Job *job;

    active = dom && virDomainGetJobInfo(dom, &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE;
    if (dom)
        (void)virDomainFree(dom);
    if (active)
        return G_SOURCE_CONTINUE;
    run->poll_source = 0;
    job = engine_lookup(run->m->engine, run->id);
    if (job)
        src_reconcile_run(run->m, job);
    return G_SOURCE_REMOVE;
}

void
src_reconcile_watch_job(gpointer migrator, Job *job)
{
    Migrator *m = migrator;
    SrcRun *run = migrator_run(m, job);

    g_clear_handle_id(&run->poll_source, g_source_remove);
    run->poll_source = g_timeout_add(m->poll_interval_ms, watch_job_tick, run);
}
