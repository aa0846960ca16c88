/* Where a job's guest is when no migrate call of this migd can say: after a
 * restart (fed as RECONCILED: here, on the destination, both, neither, and
 * whether libvirt's migration job still runs), and when a libvirt job that
 * migd follows ends (fed as the migrate call's outcome would have been).
 * libvirt is asked in a worker; the loop only feeds the answer. */
#include <config.h>

#include "src-migrator-priv.h"

/* A destination that cannot be asked is asked again this often, this many
 * times, before the job is told that it could not be. */
#define RECONCILE_RETRY_S 5
#define RECONCILE_ATTEMPTS 24

static void
reconcile_source(SrcWork *w)
{
    VirtDomainInfo info;
    VirtJobStats stats;

    if (!migrator_work_info(w, &info))
        return;
    /* Paused counts: the guest is here, stopped for the switchover or by
     * a post-copy that has not finished. */
    w->source_running = info.state == VIR_DOMAIN_RUNNING || info.state == VIR_DOMAIN_PAUSED;
    w->source_job_active = w->ops->job_stats(w->src, w->domain, FALSE, &stats, NULL) &&
                           stats.type != VIR_DOMAIN_JOB_NONE;
}

static void
reconcile_destination(SrcWork *w)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info;

    w->dest = w->ops->open(w->ops, w->dest_uri, &error);
    if (!w->dest) {
        g_free(w->error);
        w->error = g_strdup(error->message);
        return;
    }
    /* A paused domain on the destination is an incoming migration still in
     * flight, not a guest that runs there. */
    w->dest_running = w->ops->get_info(w->dest, w->domain, &info, NULL) &&
                      info.state == VIR_DOMAIN_RUNNING;
    w->have_figures = src_stats_completed_figures(w, &w->figures);
    w->ok = TRUE;
}

static void
reconcile_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;

    reconcile_source(w);
    g_clear_pointer(&w->error, g_free);     /* a missing domain is an answer here */
    reconcile_destination(w);
}

static JobPlacement
reconcile_placement(const SrcWork *w)
{
    if (w->source_running && w->dest_running)
        return JOB_GUEST_ON_BOTH;
    if (w->dest_running)
        return JOB_GUEST_ON_DESTINATION;
    if (w->source_running)
        return JOB_GUEST_ON_SOURCE;
    return JOB_GUEST_NOWHERE;
}

static void reconcile_start(SrcRun *run, GAsyncReadyCallback done);

typedef struct {
    SrcRun *run;
    GAsyncReadyCallback done;
} ReconcileRetry;

static gboolean
reconcile_retry(gpointer data)
{
    ReconcileRetry *r = data;

    r->run->retry_source = 0;
    reconcile_start(r->run, r->done);
    return G_SOURCE_REMOVE;
}

/* A guest not here, and a destination that cannot be asked: not an answer
 * yet. TRUE when it is asked again later. */
static gboolean
reconcile_again(SrcWork *w, GAsyncReadyCallback done)
{
    SrcRun *run = w->run;
    ReconcileRetry *r;

    if (w->ok || w->source_running || ++run->reconcile_attempts >= RECONCILE_ATTEMPTS)
        return FALSE;
    if (run->reconcile_attempts == 1)
        migrator_note(run->m, run->id, "warning", "%s does not run on this host and the "
                      "destination %s cannot be asked where it is (%s); asking again every "
                      "%d s for %d s", w->domain, w->dest_uri, w->error, RECONCILE_RETRY_S,
                      RECONCILE_RETRY_S * RECONCILE_ATTEMPTS);
    r = g_new0(ReconcileRetry, 1);
    r->run = run;
    r->done = done;
    run->retry_source = g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, RECONCILE_RETRY_S,
                                                   reconcile_retry, r, g_free);
    return TRUE;
}

/* @message: what happened, when it was not a restart. */
static void
feed_reconciled(SrcWork *w, const char *message)
{
    SrcRun *run = w->run;
    g_autofree char *unasked = NULL;
    JobEvent ev;

    engine_event_init(&ev, JOB_EV_RECONCILED);
    ev.placement = reconcile_placement(w);
    ev.source_job_active = w->source_job_active;
    ev.figures = w->have_figures ? &w->figures : NULL;
    ev.message = message;
    if (!w->ok)
        ev.reason = unasked = g_strdup_printf("the destination %s cannot be asked: %s",
                                              w->dest_uri, w->error);
    engine_feed(run->m->engine, run->id, &ev);
}

/* After a restart: the destination's connection stays with the run, for
 * the resume watch should the job be followed. */
static void
restart_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);

    if (!w || reconcile_again(w, restart_done))
        return;
    if (w->ok && !w->run->dest)
        w->run->dest = g_steal_pointer(&w->dest);
    feed_reconciled(w, NULL);
}

/* libvirt's job ended: the guest's place is the migrate call's outcome. */
static void
ended_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);
    g_autofree char *reason = NULL;
    SrcRun *run;
    JobEvent ev;

    if (!w || reconcile_again(w, ended_done))
        return;
    run = w->run;
    switch (reconcile_placement(w)) {
    case JOB_GUEST_ON_DESTINATION:
        migrator_note(run->m, run->id, "info", "libvirt's migration job ended and %s runs on "
                      "%s", w->domain, w->dest_uri);
        engine_event_init(&ev, JOB_EV_MIGRATE_RETURNED);
        ev.figures = w->have_figures ? &w->figures : NULL;
        engine_feed(run->m->engine, run->id, &ev);
        break;
    case JOB_GUEST_ON_SOURCE:
        reason = g_strdup_printf("libvirt's migration job ended and %s still runs on this host",
                                 w->domain);
        migrator_feed(run->m, run->id, JOB_EV_MIGRATE_FAILED, reason, NULL);
        break;
    default:
        feed_reconciled(w, "libvirt's migration job that migd followed has ended");
        break;
    }
}

static void
reconcile_start(SrcRun *run, GAsyncReadyCallback done)
{
    migrator_work_start(run, migrator_work_new(run), reconcile_thread, done);
}

void
src_reconcile_run(gpointer migrator, Job *job)
{
    SrcRun *run = migrator_run(migrator, job);

    run->reconcile_attempts = 0;
    reconcile_start(run, restart_done);
}

void
src_reconcile_job_ended(SrcRun *run)
{
    run->following = FALSE;
    src_stats_stop_polling(run);
    run->reconcile_attempts = 0;
    reconcile_start(run, ended_done);
}

void
src_reconcile_follow(gpointer migrator, Job *job)
{
    SrcRun *run = migrator_run(migrator, job);

    run->following = TRUE;
    src_resume_watch(run);
    src_stats_watch_events(run);
    src_stats_start_polling(run, job);
}
