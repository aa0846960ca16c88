/* The source's view of a running migration: libvirt's job statistics,
 * sampled every poll interval and at each memory pass for the policy, and
 * libvirt's figures of the finished job (the destination's completed
 * statistics, or the source's JOB_COMPLETED event). */
#include <config.h>

#include <libvirt/virterror.h>

#include "failpoint.h"
#include "src-migrator-priv.h"

guint64
src_stats_param_ull(virTypedParameterPtr params, int n, const char *name)
{
    unsigned long long value = 0;

    (void)virTypedParamsGetULLong(params, n, name, &value);
    return value;
}

gboolean
src_stats_completed_figures(virConnectPtr dest, const char *domain, JobFigures *ret)
{
    virDomainPtr ddom = virDomainLookupByName(dest, domain);
    virTypedParameterPtr params = NULL;
    int type = 0, n = 0;
    gboolean ok;

    if (!ddom)
        return FALSE;
    /* KEEP_COMPLETED: reading them must not take them from the operator. */
    ok = virDomainGetJobStats(ddom, &type, &params, &n,
                              VIR_DOMAIN_JOB_STATS_COMPLETED |
                                  VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED) == 0 &&
         type == VIR_DOMAIN_JOB_COMPLETED;
    if (ok) {
        ret->downtime_ms = (gint64)src_stats_param_ull(params, n, VIR_DOMAIN_JOB_DOWNTIME);
        ret->setup_time_ms = (gint64)src_stats_param_ull(params, n, VIR_DOMAIN_JOB_SETUP_TIME);
        ret->total_time_ms = (gint64)src_stats_param_ull(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
        ret->data_transferred = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
    }
    virTypedParamsFree(params, n);
    (void)virDomainFree(ddom);
    return ok;
}

/* Reads the source's job statistics in a worker: at the end of a
 * migration libvirt holds the domain while it runs the qemu hook, and the
 * hook asks this migd, so the loop must never wait for the domain. */
static void
stats_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;
    virDomainPtr dom = migrator_work_lookup(w);
    virTypedParameterPtr params = NULL;
    int type = 0, n = 0;

    if (!dom)
        return;
    if (virDomainGetJobStats(dom, &type, &params, &n, 0) == 0) {
        w->ok = type != VIR_DOMAIN_JOB_NONE;
        w->job_ended = !w->ok;
    }
    if (w->ok) {
        w->sample.data_total = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_DATA_TOTAL);
        w->sample.data_processed = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
        w->sample.data_remaining = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_DATA_REMAINING);
        w->sample.memory_bps = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_BPS);
        w->sample.dirty_rate_pps = src_stats_param_ull(params, n,
                                                       VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
        w->sample.page_size = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
        w->sample.iteration = src_stats_param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
    }
    virTypedParamsFree(params, n);
    (void)virDomainFree(dom);
}

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

void
src_stats_start_polling(SrcRun *run)
{
    g_clear_handle_id(&run->poll_source, g_source_remove);
    run->poll_source = g_timeout_add(run->m->poll_interval_ms, poll_stats, run);
}

void
src_stats_stop_polling(SrcRun *run)
{
    g_clear_handle_id(&run->poll_source, g_source_remove);
}

/* A new memory pass: sample now rather than at the next poll, so the
 * policy sees every iteration. */
static void
on_source_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    SrcRun *run = opaque;

    if (g_strcmp0(virDomainGetName(dom), run->domain) == 0)
        sample_stats(run);
}

/* libvirt's own account of the finished job, on the source. The figures
 * come from the destination's completed statistics (what `virsh domjobinfo
 * --completed` shows there); these stand in when those cannot be read. */
static void
on_source_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                        int nparams, void *opaque)
{
    SrcRun *run = opaque;
    JobFigures *f = &run->event_figures;

    if (g_strcmp0(virDomainGetName(dom), run->domain) != 0)
        return;
    f->downtime_ms = (gint64)src_stats_param_ull(params, nparams, VIR_DOMAIN_JOB_DOWNTIME);
    f->setup_time_ms = (gint64)src_stats_param_ull(params, nparams, VIR_DOMAIN_JOB_SETUP_TIME);
    f->total_time_ms = (gint64)src_stats_param_ull(params, nparams,
                                                   VIR_DOMAIN_JOB_TIME_ELAPSED);
    f->data_transferred = src_stats_param_ull(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED);
    run->have_event_figures = TRUE;
    migrator_note(run->m, run->id, "info", "libvirt reports the job completed (JOB_COMPLETED): %"
                  G_GINT64_FORMAT " ms of downtime, %" G_GINT64_FORMAT " ms in all",
                  f->downtime_ms, f->total_time_ms);
}

/* Registered for every domain and filtered by name: registering for one
 * domain would need it looked up on the loop. */
void
src_stats_watch_events(SrcRun *run)
{
    virConnectPtr conn = virt_connection(run->m->virt);

    if (!conn || run->src_callback >= 0)
        return;
    run->src = conn;
    (void)virConnectRef(conn);
    run->src_callback = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
        VIR_DOMAIN_EVENT_CALLBACK(on_source_iteration), run, NULL);
    run->src_completed_callback = virConnectDomainEventRegisterAny(
        conn, NULL, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
        VIR_DOMAIN_EVENT_CALLBACK(on_source_job_completed), run, NULL);
}
