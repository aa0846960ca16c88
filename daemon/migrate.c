/* libvirt behind the engine's operations. Calls that may block for long
 * (opening the destination, the migrate call) run in GTask workers and
 * report back on the main loop; short RPCs to the local libvirtd run on the
 * loop. Every outcome reaches the job as an event through engine_feed(). */
#include <config.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>

#include "migrate.h"
#include "nicsteps.h"

struct _Migrator {
    Virt *virt;
    Engine *engine;
    const MigdConf *conf;
    guint poll_interval_ms;
    GHashTable *runs;           /* job id -> MigRun */
};

/* What migd holds for one job while it runs. */
typedef struct {
    Migrator *m;
    char *id;
    char *domain;
    char *dest_uri;
    virConnectPtr dest;         /* the destination's libvirtd, for its events */
    int dest_callback;
    virConnectPtr src;          /* a reference, for the source's iteration events */
    int src_callback;
    int src_completed_callback;
    gboolean have_event_figures;
    JobFigures event_figures;   /* from the source's JOB_COMPLETED event */
    guint poll_source;
    gboolean polling;           /* a sample is being read */
    NicSteps *nics;
    GCancellable *cancellable;  /* cancelled when the run goes away */
} MigRun;

/* A worker's result, handed back to the loop. */
typedef struct {
    MigRun *run;                /* borrowed; valid unless cancelled */
    char *dest_uri;
    char *domain;
    virDomainPtr dom;           /* for the migrate call */
    virTypedParameterPtr params;
    int nparams;
    int maxparams;
    unsigned int flags;
    guint downtime_ms;
    virConnectPtr dest;         /* opened by the worker */
    virConnectPtr src;          /* a reference, for work on the source in a worker */
    guint bandwidth_mibps;      /* for the dirty-rate prediction; 0: none */
    gint64 dirty_mibps;         /* measured; -1: not measured */
    char *dirty_error;
    gboolean ok;
    gboolean dest_running;
    char *error;
    JobFigures figures;
    gboolean have_figures;
    PolicySample sample;
} Work;

static void
work_free(gpointer data)
{
    Work *w = data;

    if (w->dom)
        (void)virDomainFree(w->dom);
    if (w->dest)
        (void)virConnectClose(w->dest);
    if (w->src)
        (void)virConnectClose(w->src);
    g_free(w->dirty_error);
    virTypedParamsFree(w->params, w->nparams);
    g_free(w->dest_uri);
    g_free(w->domain);
    g_free(w->error);
    g_free(w);
}

/* In a done callback: the worker's Work, or NULL when its run went away
 * meanwhile and nothing of it may be touched. */
static Work *
work_finished(GAsyncResult *result)
{
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
        return NULL;
    return g_task_get_task_data(G_TASK(result));
}

static void
run_free(gpointer data)
{
    MigRun *run = data;

    g_cancellable_cancel(run->cancellable);
    g_clear_object(&run->cancellable);
    g_clear_handle_id(&run->poll_source, g_source_remove);
    g_clear_pointer(&run->nics, nic_steps_free);
    if (run->dest) {
        if (run->dest_callback >= 0)
            (void)virConnectDomainEventDeregisterAny(run->dest, run->dest_callback);
        (void)virConnectClose(run->dest);
    }
    if (run->src) {
        if (run->src_callback >= 0)
            (void)virConnectDomainEventDeregisterAny(run->src, run->src_callback);
        if (run->src_completed_callback >= 0)
            (void)virConnectDomainEventDeregisterAny(run->src, run->src_completed_callback);
        (void)virConnectClose(run->src);
    }
    g_free(run->id);
    g_free(run->domain);
    g_free(run->dest_uri);
    g_free(run);
}

Migrator *
migrator_new(Virt *virt, const MigdConf *conf)
{
    Migrator *m = g_new0(Migrator, 1);

    m->virt = virt;
    m->conf = conf;
    m->poll_interval_ms = conf->poll_interval_ms;
    m->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, run_free);
    return m;
}

void
migrator_free(Migrator *m)
{
    if (!m)
        return;
    g_hash_table_unref(m->runs);
    g_free(m);
}

void
migrator_set_engine(Migrator *m, Engine *engine)
{
    m->engine = engine;
}

void
migrator_set_conf(Migrator *m, const MigdConf *conf)
{
    m->conf = conf;
    m->poll_interval_ms = conf->poll_interval_ms;
}

static MigRun *
migrator_run(Migrator *m, Job *job)
{
    MigRun *run = g_hash_table_lookup(m->runs, job->id);

    if (!run) {
        run = g_new0(MigRun, 1);
        run->m = m;
        run->id = g_strdup(job->id);
        run->domain = g_strdup(job->domain);
        run->dest_uri = g_strdup(job->dest.libvirt_uri);
        run->dest_callback = -1;
        run->src_callback = -1;
        run->src_completed_callback = -1;
        run->cancellable = g_cancellable_new();
        run->nics = nic_steps_new(m->engine, m->virt, m->conf, job);
        g_hash_table_insert(m->runs, run->id, run);
    }
    return run;
}

/* --- feeding events ----------------------------------------------------- */

static void
feed(Migrator *m, const char *id, JobEventKind kind, const char *reason, const char *message)
{
    JobEvent ev;

    engine_event_init(&ev, kind);
    ev.reason = reason;
    ev.message = message;
    engine_feed(m->engine, id, &ev);
}

static void
note(Migrator *m, const char *id, const char *kind, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void
note(Migrator *m, const char *id, const char *kind, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    feed(m, id, JOB_EV_NOTE, kind, message);
}

/* The source domain, or NULL with @ret_error set to a sentence. */
static virDomainPtr
lookup_source(Migrator *m, const char *domain, char **ret_error)
{
    virConnectPtr conn = virt_connection(m->virt);
    virDomainPtr dom;

    if (!conn) {
        *ret_error = g_strdup_printf("migd is not connected to libvirt at %s",
                                     virt_uri(m->virt));
        return NULL;
    }
    dom = virDomainLookupByName(conn, domain);
    if (!dom)
        *ret_error = g_strdup_printf("domain '%s' does not exist on this host", domain);
    return dom;
}

/* --- checks ------------------------------------------------------------- */

/* Measures how fast the guest dirties its memory (QEMU samples pages for
 * @seconds). libvirt reports the result only through domain stats, so the
 * worker asks until it is measured. */
static gboolean
measure_dirty_rate(Work *w, int seconds)
{
    virDomainPtr dom = virDomainLookupByName(w->src, w->domain);
    virDomainPtr doms[] = { dom, NULL };
    gint64 deadline = g_get_monotonic_time() + (seconds + 3) * G_USEC_PER_SEC;
    gboolean measured = FALSE;

    if (!dom || virDomainStartDirtyRateCalc(dom, seconds, 0) < 0) {
        w->dirty_error = g_strdup(virGetLastErrorMessage());
        if (dom)
            (void)virDomainFree(dom);
        return FALSE;
    }
    g_usleep(seconds * G_USEC_PER_SEC);
    while (!measured && g_get_monotonic_time() < deadline) {
        virDomainStatsRecordPtr *records = NULL;
        int status = 0;
        long long mibps = 0;

        if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0) == 1 &&
            virTypedParamsGetInt(records[0]->params, records[0]->nparams,
                                 "dirtyrate.calc_status", &status) == 1 && status == 2 &&
            virTypedParamsGetLLong(records[0]->params, records[0]->nparams,
                                   "dirtyrate.megabytes_per_second", &mibps) == 1) {
            w->dirty_mibps = mibps;
            measured = TRUE;
        }
        virDomainStatsRecordListFree(records);
        if (!measured)
            g_usleep(100 * 1000);
    }
    if (!measured && !w->dirty_error)
        w->dirty_error = g_strdup("QEMU did not finish measuring in time");
    (void)virDomainFree(dom);
    return measured;
}

static void
checks_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Work *w = data;
    virDomainPtr ddom;

    /* Measuring takes a second, so only when a bandwidth cap makes a
     * prediction possible. */
    w->dirty_mibps = -1;
    if (w->bandwidth_mibps > 0 && w->src)
        (void)measure_dirty_rate(w, 1);

    w->dest = virConnectOpen(w->dest_uri);
    if (!w->dest) {
        w->error = g_strdup_printf("cannot reach the destination's libvirt at %s: %s",
                                   w->dest_uri, virGetLastErrorMessage());
        return;
    }
    ddom = virDomainLookupByName(w->dest, w->domain);
    if (ddom) {
        int state = 0;

        w->dest_running = virDomainGetState(ddom, &state, NULL, 0) == 0 &&
                          state != VIR_DOMAIN_SHUTOFF;
        (void)virDomainFree(ddom);
    }
    w->ok = TRUE;
}

/* Whether the guest can converge within the job's policy, from the dirty
 * rate measured against the bandwidth cap; refuses with the figures. */
static gboolean
predict(MigRun *run, Work *w, char **ret_refusal, char **ret_note)
{
    Job *job = engine_lookup(run->m->engine, run->id);
    g_autofree char *reason = NULL;
    PolicyConfig effective;

    if (!job)
        return TRUE;
    if (w->dirty_mibps < 0) {
        *ret_note = w->bandwidth_mibps > 0
                        ? g_strdup_printf("its dirty rate could not be measured (%s), so "
                                          "convergence is not predicted", w->dirty_error)
                        : g_strdup("convergence is predicted only with a bandwidth cap");
        return TRUE;
    }
    effective = job->policy;
    effective.allow_auto_converge &= job->options.auto_converge;
    if (policy_predict(&effective, (guint64)w->dirty_mibps << 20,
                       (guint64)w->bandwidth_mibps << 20, job->postcopy_forbidden, &reason)) {
        *ret_note = g_strdup_printf("it dirties %" G_GINT64_FORMAT " MiB/s: %s", w->dirty_mibps,
                                    reason ? reason : "it can converge");
        return TRUE;
    }
    *ret_refusal = g_strdup_printf("%s cannot converge within the policy, so nothing was "
                                   "started: %s", w->domain, reason);
    return FALSE;
}

static void
checks_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Work *w = work_finished(result);
    MigRun *run;
    JobEvent ev;
    g_autofree char *reason = NULL;
    g_autofree char *message = NULL;
    g_autofree char *prediction = NULL;
    g_autofree char *nic_summary = NULL;
    g_autoptr(json_t) nics = NULL;
    gboolean postcopy_forbidden = FALSE;
    virDomainInfo info;
    virDomainPtr dom;
    Job *job;

    if (!w)
        return;
    run = w->run;
    if (!w->ok) {
        feed(run->m, run->id, JOB_EV_CHECKS_FAILED, w->error, NULL);
        return;
    }
    if (w->dest_running) {
        reason = g_strdup_printf("domain '%s' already runs on the destination %s", w->domain,
                                 w->dest_uri);
        feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    dom = lookup_source(run->m, w->domain, &reason);
    if (!dom || virDomainGetInfo(dom, &info) < 0 || info.state != VIR_DOMAIN_RUNNING) {
        if (!reason)
            reason = g_strdup_printf("domain '%s' is not running on this host", w->domain);
        if (dom)
            (void)virDomainFree(dom);
        feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    job = engine_lookup(run->m->engine, run->id);
    if (job && !nic_steps_classify(run->nics, run->m->conf, dom, job, &postcopy_forbidden,
                                   &reason, &nic_summary)) {
        (void)virDomainFree(dom);
        feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    (void)virDomainFree(dom);
    if (job)
        job->postcopy_forbidden = postcopy_forbidden;   /* the prediction weighs it */
    if (!predict(run, w, &reason, &prediction)) {
        feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    run->dest = g_steal_pointer(&w->dest);
    message = g_strdup_printf("%s runs here with %lu MiB of memory; the destination's libvirt "
                              "answers at %s; %s; %s", w->domain, info.maxMem / 1024,
                              run->dest_uri, prediction, nic_summary ? nic_summary : "");
    nics = nic_steps_to_json(run->nics);
    engine_event_init(&ev, JOB_EV_CHECKS_PASSED);
    ev.guest_memory = (guint64)info.maxMem * 1024;
    ev.postcopy_forbidden = postcopy_forbidden;
    ev.message = message;
    ev.nics = nics;
    engine_feed(run->m->engine, run->id, &ev);
}

/* Work for @job's run, about its domain and destination. */
static Work *
work_new(MigRun *run, const Job *job)
{
    Work *w = g_new0(Work, 1);

    w->run = run;
    w->dest_uri = g_strdup(run->dest_uri);
    w->domain = g_strdup(job->domain);
    return w;
}

/* Runs @thread on @w in a worker; @done gets it back on the loop, unless
 * the run went away meanwhile (its cancellable says so). */
static void
work_start(MigRun *run, Work *w, GTaskThreadFunc thread, GAsyncReadyCallback done)
{
    g_autoptr(GTask) task = g_task_new(NULL, run->cancellable, done, NULL);

    g_task_set_task_data(task, w, work_free);
    g_task_run_in_thread(task, thread);
}

static void
op_run_checks(gpointer ctx, Job *job)
{
    Migrator *m = ctx;
    MigRun *run = migrator_run(m, job);
    Work *w = work_new(run, job);

    w->bandwidth_mibps = job->options.bandwidth_mibps;
    w->src = virt_connection(m->virt);
    if (w->src)
        (void)virConnectRef(w->src);
    work_start(run, w, checks_thread, checks_done);
}

/* --- NIC steps ------------------------------------------------------------ */

static void
op_nic_step(gpointer ctx, Job *job)
{
    MigRun *run = migrator_run(ctx, job);

    nic_steps_run(run->nics, job);
}

/* --- the migration ------------------------------------------------------ */

static guint64
param_ull(virTypedParameterPtr params, int n, const char *name)
{
    unsigned long long value = 0;

    (void)virTypedParamsGetULLong(params, n, name, &value);
    return value;
}

/* libvirt's completed job statistics on the destination: what
 * `virsh domjobinfo --completed` shows there. */
static gboolean
completed_figures(virConnectPtr dest, const char *domain, JobFigures *ret)
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
        ret->downtime_ms = (gint64)param_ull(params, n, VIR_DOMAIN_JOB_DOWNTIME);
        ret->setup_time_ms = (gint64)param_ull(params, n, VIR_DOMAIN_JOB_SETUP_TIME);
        ret->total_time_ms = (gint64)param_ull(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
        ret->data_transferred = param_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
    }
    virTypedParamsFree(params, n);
    (void)virDomainFree(ddom);
    return ok;
}

static void
migrate_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Work *w = data;
    virConnectPtr dest;

    /* libvirt takes the max downtime before a migration starts; during
     * its setup phase the call would wait for the job lock instead. */
    if (virDomainMigrateSetMaxDowntime(w->dom, w->downtime_ms, 0) < 0) {
        w->error = g_strdup_printf("cannot set the max downtime to %u ms: %s", w->downtime_ms,
                                   virGetLastErrorMessage());
        return;
    }
    w->ok = virDomainMigrateToURI3(w->dom, w->dest_uri, w->params, w->nparams, w->flags) == 0;
    if (!w->ok) {
        w->error = g_strdup(virGetLastErrorMessage());
        return;
    }
    dest = virConnectOpen(w->dest_uri);
    if (dest) {
        w->have_figures = completed_figures(dest, w->domain, &w->figures);
        (void)virConnectClose(dest);
    }
}

static void
migrate_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Work *w = work_finished(result);
    MigRun *run;
    JobEvent ev;

    if (!w)
        return;
    run = w->run;
    g_clear_handle_id(&run->poll_source, g_source_remove);
    engine_event_init(&ev, w->ok ? JOB_EV_MIGRATE_RETURNED : JOB_EV_MIGRATE_FAILED);
    ev.reason = w->error;
    ev.figures = w->have_figures ? &w->figures : NULL;
    if (w->ok && !w->have_figures && run->have_event_figures) {
        note(run->m, run->id, "warning", "the destination's completed statistics could not be "
             "read; the figures are those of libvirt's JOB_COMPLETED event here");
        ev.figures = &run->event_figures;
    }
    engine_feed(run->m->engine, run->id, &ev);
}

/* Reads the source's job statistics in a worker: at the end of a
 * migration libvirt holds the domain while it runs the qemu hook, and the
 * hook asks this migd, so the loop must never wait for the domain. */
static void
stats_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Work *w = data;
    virDomainPtr dom = virDomainLookupByName(w->src, w->domain);
    virTypedParameterPtr params = NULL;
    int type = 0, n = 0;

    if (!dom)
        return;
    w->ok = virDomainGetJobStats(dom, &type, &params, &n, 0) == 0 && type != VIR_DOMAIN_JOB_NONE;
    if (w->ok) {
        w->sample.data_total = param_ull(params, n, VIR_DOMAIN_JOB_DATA_TOTAL);
        w->sample.data_processed = param_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
        w->sample.data_remaining = param_ull(params, n, VIR_DOMAIN_JOB_DATA_REMAINING);
        w->sample.memory_bps = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_BPS);
        w->sample.dirty_rate_pps = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
        w->sample.page_size = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
        w->sample.iteration = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
    }
    virTypedParamsFree(params, n);
    (void)virDomainFree(dom);
}

static void
stats_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Work *w = work_finished(result);
    MigRun *run;
    JobEvent ev;

    if (!w)
        return;
    run = w->run;
    run->polling = FALSE;
    if (!w->ok)
        return;
    engine_event_init(&ev, JOB_EV_STATS);
    w->sample.now_ms = ev.mono_ms;
    ev.sample = &w->sample;
    engine_feed(run->m->engine, run->id, &ev);
}

/* Starts one sample, unless one is still being read. */
static void
sample_stats(MigRun *run)
{
    virConnectPtr conn = virt_connection(run->m->virt);
    Work *w;

    if (run->polling || !conn)
        return;
    run->polling = TRUE;
    w = g_new0(Work, 1);
    w->run = run;
    w->domain = g_strdup(run->domain);
    w->src = conn;
    (void)virConnectRef(conn);
    work_start(run, w, stats_thread, stats_done);
}

static gboolean
poll_stats(gpointer data)
{
    sample_stats(data);
    return G_SOURCE_CONTINUE;
}

/* A new memory pass: sample now rather than at the next poll, so the
 * policy sees every iteration. */
static void
on_source_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    MigRun *run = opaque;

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
    MigRun *run = opaque;

    if (g_strcmp0(virDomainGetName(dom), run->domain) != 0)
        return;
    run->event_figures.downtime_ms = (gint64)param_ull(params, nparams, VIR_DOMAIN_JOB_DOWNTIME);
    run->event_figures.setup_time_ms = (gint64)param_ull(params, nparams,
                                                         VIR_DOMAIN_JOB_SETUP_TIME);
    run->event_figures.total_time_ms = (gint64)param_ull(params, nparams,
                                                         VIR_DOMAIN_JOB_TIME_ELAPSED);
    run->event_figures.data_transferred = param_ull(params, nparams,
                                                    VIR_DOMAIN_JOB_DATA_PROCESSED);
    run->have_event_figures = TRUE;
    note(run->m, run->id, "info", "libvirt reports the job completed (JOB_COMPLETED): %" G_GINT64_FORMAT
         " ms of downtime, %" G_GINT64_FORMAT " ms in all", run->event_figures.downtime_ms,
         run->event_figures.total_time_ms);
}

static void
watch_source_iterations(MigRun *run, virDomainPtr dom)
{
    virConnectPtr conn = virt_connection(run->m->virt);

    if (!conn || run->src_callback >= 0)
        return;
    run->src = conn;
    (void)virConnectRef(conn);
    run->src_callback = virConnectDomainEventRegisterAny(
        conn, dom, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
        VIR_DOMAIN_EVENT_CALLBACK(on_source_iteration), run, NULL);
    run->src_completed_callback = virConnectDomainEventRegisterAny(
        conn, dom, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
        VIR_DOMAIN_EVENT_CALLBACK(on_source_job_completed), run, NULL);
}

/* The destination's word that the guest runs there is the completion. */
static int
on_dest_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    MigRun *run = opaque;

    if (g_strcmp0(virDomainGetName(dom), run->domain) != 0 || event != VIR_DOMAIN_EVENT_RESUMED ||
        (detail != VIR_DOMAIN_EVENT_RESUMED_MIGRATED && detail != VIR_DOMAIN_EVENT_RESUMED_POSTCOPY))
        return 0;
    nic_steps_dest_resumed(run->nics);
    feed(run->m, run->id, JOB_EV_DEST_RESUMED, NULL, NULL);
    return 0;
}

static void
migrate_params(const Job *job, Work *w)
{
    int *max = &w->maxparams;

    w->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    if (job->options.persistent)
        w->flags |= VIR_MIGRATE_PERSIST_DEST;
    if (job->options.undefine_source)
        w->flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
    if (job->options.auto_converge)
        w->flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (job->policy.allow_postcopy && !job->postcopy_forbidden)
        w->flags |= VIR_MIGRATE_POSTCOPY;
    if (job->options.bandwidth_mibps > 0)
        (void)virTypedParamsAddULLong(&w->params, &w->nparams, max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                      job->options.bandwidth_mibps);
    if (job->options.parallel_connections > 0) {
        w->flags |= VIR_MIGRATE_PARALLEL;
        (void)virTypedParamsAddInt(&w->params, &w->nparams, max,
                                   VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                   (int)job->options.parallel_connections);
    }
    for (guint i = 0; job->options.compression && job->options.compression[i]; i++) {
        w->flags |= VIR_MIGRATE_COMPRESSED;
        (void)virTypedParamsAddString(&w->params, &w->nparams, max,
                                      VIR_MIGRATE_PARAM_COMPRESSION, job->options.compression[i]);
    }
}

static void
op_start_migration(gpointer ctx, Job *job)
{
    Migrator *m = ctx;
    MigRun *run = migrator_run(m, job);
    g_autofree char *error = NULL;
    Work *w;

    if (run->dest && run->dest_callback < 0)
        run->dest_callback = virConnectDomainEventRegisterAny(
            run->dest, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            VIR_DOMAIN_EVENT_CALLBACK(on_dest_lifecycle), run, NULL);
    if (run->dest_callback < 0)
        note(m, run->id, "warning", "cannot watch the destination for the guest's resume (%s); "
             "completion will be taken from the migrate call", virGetLastErrorMessage());
    w = work_new(run, job);
    w->dom = lookup_source(m, job->domain, &error);
    if (!w->dom) {
        work_free(w);
        feed(m, run->id, JOB_EV_MIGRATE_FAILED, error, NULL);
        return;
    }
    watch_source_iterations(run, w->dom);
    migrate_params(job, w);
    nic_steps_migrate_params(run->nics, w->dom, job, &w->params, &w->nparams, &w->maxparams);
    w->downtime_ms = job->policy.max_downtime_ms;
    work_start(run, w, migrate_thread, migrate_done);
    run->poll_source = g_timeout_add(m->poll_interval_ms, poll_stats, run);
}

/* --- policy actions, abort ----------------------------------------------- */

/* Runs @call on the source domain in a worker: during a migration libvirt
 * may hold such a call until a job lock frees, and the loop must not wait.
 * A failure is noted in the job's timeline. */
typedef struct {
    Migrator *m;
    char *id;
    char *domain;
    const char *what;
    int (*call)(virDomainPtr, gpointer);
    gpointer data;
    virConnectPtr conn;
    char *error;
} SourceCall;

static void
source_call_free(gpointer data)
{
    SourceCall *c = data;

    if (c->conn)
        (void)virConnectClose(c->conn);
    g_free(c->id);
    g_free(c->domain);
    g_free(c->error);
    g_free(c);
}

static void
source_call_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SourceCall *c = data;
    virDomainPtr dom = virDomainLookupByName(c->conn, c->domain);

    if (!dom || c->call(dom, c->data) < 0)
        c->error = g_strdup(virGetLastErrorMessage());
    if (dom)
        (void)virDomainFree(dom);
}

static void
source_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SourceCall *c = g_task_get_task_data(G_TASK(result));

    if (c->error)
        note(c->m, c->id, "warning", "could not %s: %s", c->what, c->error);
}

static void
on_source(Migrator *m, Job *job, const char *what, int (*call)(virDomainPtr, gpointer),
          gpointer data)
{
    virConnectPtr conn = virt_connection(m->virt);
    g_autoptr(GTask) task = NULL;
    SourceCall *c;

    if (!conn) {
        note(m, job->id, "warning", "could not %s: migd is not connected to libvirt", what);
        return;
    }
    c = g_new0(SourceCall, 1);
    c->m = m;
    c->id = g_strdup(job->id);
    c->domain = g_strdup(job->domain);
    c->what = what;
    c->call = call;
    c->data = data;
    c->conn = conn;
    (void)virConnectRef(conn);
    task = g_task_new(NULL, NULL, source_call_done, NULL);
    g_task_set_task_data(task, c, source_call_free);
    g_task_run_in_thread(task, source_call_thread);
}

static int
call_set_downtime(virDomainPtr dom, gpointer data)
{
    return virDomainMigrateSetMaxDowntime(dom, GPOINTER_TO_UINT(data), 0);
}

static int
call_postcopy(virDomainPtr dom, gpointer data)
{
    return virDomainMigrateStartPostCopy(dom, 0);
}

static int
call_abort(virDomainPtr dom, gpointer data)
{
    return virDomainAbortJob(dom);
}

static void
op_set_downtime(gpointer ctx, Job *job, guint downtime_ms)
{
    on_source(ctx, job, "set the max downtime", call_set_downtime, GUINT_TO_POINTER(downtime_ms));
}

static void
op_auto_converge(gpointer ctx, Job *job)
{
    /* The migration was started with auto-converge (the job only lets the
     * policy choose this step then): QEMU's throttling is already on and
     * ramps up by itself; the step gives it time before the next one. */
    note(ctx, job->id, "info", "QEMU's auto-converge throttling is on since the start; the "
         "policy gives it time to slow the guest down before its next step");
}

static void
op_postcopy(gpointer ctx, Job *job)
{
    on_source(ctx, job, "switch to post-copy", call_postcopy, NULL);
}

static void
op_abort_migration(gpointer ctx, Job *job)
{
    on_source(ctx, job, "abort the migration", call_abort, NULL);
}

/* --- after a restart ------------------------------------------------------ */

static void
reconcile_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Work *w = data;
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
    w->have_figures = completed_figures(w->dest, w->domain, &w->figures);
    w->ok = TRUE;
}

static void
reconcile_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Work *w = work_finished(result);
    g_autofree char *error = NULL;
    MigRun *run;
    virDomainPtr dom;
    virDomainJobInfo info = { 0 };
    gboolean source_running = FALSE;
    JobEvent ev;
    int state = 0;

    if (!w)
        return;
    run = w->run;
    dom = lookup_source(run->m, w->domain, &error);
    engine_event_init(&ev, JOB_EV_RECONCILED);
    if (dom) {
        source_running = virDomainGetState(dom, &state, NULL, 0) == 0 &&
                         (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED);
        ev.source_job_active = virDomainGetJobInfo(dom, &info) == 0 &&
                               info.type != VIR_DOMAIN_JOB_NONE;
        (void)virDomainFree(dom);
    }
    if (!w->ok)
        note(run->m, run->id, "warning", "cannot ask the destination %s where the guest is: %s",
             w->dest_uri, w->error);
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

static void
op_reconcile(gpointer ctx, Job *job)
{
    MigRun *run = migrator_run(ctx, job);

    work_start(run, work_new(run, job), reconcile_thread, reconcile_done);
}

/* A libvirt migration job that outlived the previous migd: wait for it to
 * end, then reconcile again. */
static gboolean
watch_job_tick(gpointer data)
{
    MigRun *run = data;
    g_autofree char *error = NULL;
    virDomainPtr dom = lookup_source(run->m, run->domain, &error);
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
        op_reconcile(run->m, job);
    return G_SOURCE_REMOVE;
}

static void
op_watch_libvirt_job(gpointer ctx, Job *job)
{
    Migrator *m = ctx;
    MigRun *run = migrator_run(m, job);

    g_clear_handle_id(&run->poll_source, g_source_remove);
    run->poll_source = g_timeout_add(m->poll_interval_ms, watch_job_tick, run);
}

static void
op_finished(gpointer ctx, Job *job)
{
    Migrator *m = ctx;
    MigRun *run = g_hash_table_lookup(m->runs, job->id);

    if (run)
        nic_steps_finish(run->nics);
    /* Drops the poll, the destination connection and any worker's result. */
    g_hash_table_remove(m->runs, job->id);
}

static const EngineOps ops = {
    .run_checks = op_run_checks,
    .nic_step = op_nic_step,
    .start_migration = op_start_migration,
    .set_downtime = op_set_downtime,
    .auto_converge = op_auto_converge,
    .postcopy = op_postcopy,
    .abort_migration = op_abort_migration,
    .reconcile = op_reconcile,
    .watch_libvirt_job = op_watch_libvirt_job,
    .finished = op_finished,
};

const EngineOps *
migrator_ops(void)
{
    return &ops;
}
