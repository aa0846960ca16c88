/* The source's view of a running migration: libvirt's job statistics,
 * sampled every poll interval and at each memory pass for the policy, and
 * libvirt's figures of the finished job (the destination's completed
 * statistics, or the source's JOB_COMPLETED event). */
#include <config.h>

#include <libvirt/virterror.h>

#include "failpoint.h"
#include "src-migrator-priv.h"

static void
figures_from_stats(const VirtJobStats *stats, JobFigures *ret_figures)
{
    ret_figures->downtime_ms = (gint64)stats->downtime_ms;
    ret_figures->setup_time_ms = (gint64)stats->setup_time_ms;
    ret_figures->total_time_ms = (gint64)stats->time_elapsed_ms;
    ret_figures->data_transferred = stats->data_processed;
}

gboolean
src_stats_completed_figures(SrcWork *w, JobFigures *ret_figures)
{
    VirtJobStats stats;

    if (!w->dest || !w->ops->job_stats(w->dest, w->domain, TRUE, &stats, NULL) ||
        stats.type != VIR_DOMAIN_JOB_COMPLETED)
        return FALSE;
    figures_from_stats(&stats, ret_figures);
    return TRUE;
}

/* Reads the source's job statistics in a worker: at the end of a
 * migration libvirt holds the domain while it runs the qemu hook, and the
 * hook asks this migd, so the loop must never wait for the domain. */
static void
stats_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;
    g_autoptr(GError) error = NULL;
    VirtJobStats stats;

    if (!w->src)
        return;
    if (!w->ops->job_stats(w->src, w->domain, FALSE, &stats, &error)) {
        /* A transient guest that left is gone from this host. */
        w->job_ended = g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
        return;
    }
    w->ok = stats.type != VIR_DOMAIN_JOB_NONE;
    w->job_ended = !w->ok;
    w->sample.data_total = stats.data_total;
    w->sample.data_processed = stats.data_processed;
    w->sample.data_remaining = stats.data_remaining;
    w->sample.memory_bps = stats.memory_bps;
    w->sample.dirty_rate_pps = stats.dirty_rate_pps;
    w->sample.page_size = stats.page_size;
    w->sample.iteration = stats.iteration;
}

static void sample_stats(SrcRun *run);

static void
stats_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);
    SrcRun *run;
    JobEvent ev;

    if (!w)
        return;
    run = w->run;
    run->polling = FALSE;
    if (w->job_ended && run->following) {
        src_reconcile_job_ended(run);
        return;
    }
    if (!w->ok)
        return;
    /* A pass began while this one was read: its sample comes next. */
    if (run->resample) {
        run->resample = FALSE;
        sample_stats(run);
    }
    /* The first sample of a migration started here is libvirt's word that
     * its job runs; the record already says migrating. */
    if (run->migrate_call && !run->sampled)
        failpoint("src-after-migrate-start");
    run->sampled = TRUE;
    engine_event_init(&ev, JOB_EV_STATS);
    w->sample.now_ms = ev.mono_ms;
    ev.sample = &w->sample;
    engine_feed(run->m->engine, run->id, &ev);
}

/* Starts one sample, unless one is still being read or libvirt is away. */
static void
sample_stats(SrcRun *run)
{
    if (run->polling || !virt_is_connected(run->m->virt))
        return;
    run->polling = TRUE;
    migrator_work_start(run, migrator_work_new(run), stats_thread, stats_done);
}

static gboolean
poll_stats(gpointer data)
{
    sample_stats(data);
    return G_SOURCE_CONTINUE;
}

/* A pause job polls at least every JOB_PAUSE_POLL_MS: its switchover is
 * decided from a sample, and must come before QEMU's pass ends. */
void
src_stats_start_polling(SrcRun *run, const Job *job)
{
    guint interval = run->m->poll_interval_ms;

    if (job_pauses(job))
        interval = MIN(interval, JOB_PAUSE_POLL_MS);
    g_clear_handle_id(&run->poll_source, g_source_remove);
    run->poll_source = g_timeout_add(interval, poll_stats, run);
}

void
src_stats_stop_polling(SrcRun *run)
{
    g_clear_handle_id(&run->poll_source, g_source_remove);
}

/* A new memory pass: sample now rather than at the next poll, so the
 * policy sees every iteration. */
static void
on_source_iteration(const VirtEvent *event, gpointer data)
{
    SrcRun *run = data;

    if (g_strcmp0(event->domain, run->domain) != 0)
        return;
    if (run->polling)
        run->resample = TRUE;
    sample_stats(run);
}

/* libvirt's own account of the finished job, on the source. The figures
 * come from the destination's completed statistics (what `virsh domjobinfo
 * --completed` shows there); these stand in when those cannot be read. */
static void
on_source_job_completed(const VirtEvent *event, gpointer data)
{
    SrcRun *run = data;
    JobFigures *f = &run->event_figures;

    if (g_strcmp0(event->domain, run->domain) != 0 || !event->stats)
        return;
    figures_from_stats(event->stats, f);
    run->have_event_figures = TRUE;
    migrator_note(run->m, run->id, "info", "libvirt reports the job completed (JOB_COMPLETED): %"
                  G_GINT64_FORMAT " ms of downtime, %" G_GINT64_FORMAT " ms in all",
                  f->downtime_ms, f->total_time_ms);
}

/* Registered for every domain and filtered by name: registering for one
 * domain would look it up on the loop. */
void
src_stats_watch_events(SrcRun *run)
{
    const VirtOps *ops = virt_ops(run->m->virt);

    if (run->src)
        return;
    run->src = virt_conn(run->m->virt);
    if (!run->src)
        return;
    run->src_callback = ops->event_register(run->src, NULL, VIRT_EVENT_MIGRATION_ITERATION,
                                            on_source_iteration, run, NULL, NULL);
    run->src_completed_callback = ops->event_register(run->src, NULL, VIRT_EVENT_JOB_COMPLETED,
                                                      on_source_job_completed, run, NULL, NULL);
}
