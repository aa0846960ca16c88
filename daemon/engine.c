/* Runs jobs through their state machine: the write-ahead store, the
 * outgoing queue, the operations and the subscribers. */
#include <config.h>

#include <string.h>

#include "engine.h"
#include "error.h"
#include "job-table.h"
#include "log.h"
#include "metrics.h"

typedef struct {
    guint id;
    char *job_id;
    EngineListener listener;
    gpointer user_data;
} Subscription;

struct _Engine {
    Store *store;
    const EngineOps *ops;
    gpointer ops_ctx;
    EngineLimits limits;
    JobTable *jobs;
    GQueue queue;               /* ids of pending jobs, in order */
    GPtrArray *subscriptions;   /* Subscription* */
    guint next_subscription;
};

static void engine_schedule(Engine *engine);

void
engine_event_init(JobEvent *event, JobEventKind kind)
{
    memset(event, 0, sizeof(*event));
    event->kind = kind;
    event->wall_us = g_get_real_time();
    event->mono_ms = g_get_monotonic_time() / 1000;
}

static void
subscription_free(gpointer data)
{
    Subscription *sub = data;

    g_free(sub->job_id);
    g_free(sub);
}

Engine *
engine_new(Store *store, const EngineOps *ops, gpointer ops_ctx, const EngineLimits *limits)
{
    Engine *engine = g_new0(Engine, 1);

    engine->store = store;
    engine->ops = ops;
    engine->ops_ctx = ops_ctx;
    engine->limits = *limits;
    engine->jobs = job_table_new();
    g_queue_init(&engine->queue);
    engine->subscriptions = g_ptr_array_new_with_free_func(subscription_free);
    return engine;
}

void
engine_free(Engine *engine)
{
    if (!engine)
        return;
    g_queue_clear_full(&engine->queue, g_free);
    g_ptr_array_unref(engine->subscriptions);
    job_table_free(engine->jobs);
    g_free(engine);
}

void
engine_set_limits(Engine *engine, const EngineLimits *limits)
{
    engine->limits = *limits;
    engine_schedule(engine);
}

Job *
engine_lookup(Engine *engine, const char *id)
{
    return job_table_lookup(engine->jobs, id);
}

const char *
engine_job_text(Engine *engine, const Job *job)
{
    return job_table_text(engine->jobs, job);
}

static void
engine_publish(Engine *engine, const Job *job, const char *event, json_t *data)
{
    /* A listener may unsubscribe itself, so walk a copy of the ids. */
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));

    for (guint i = 0; i < engine->subscriptions->len; i++) {
        Subscription *sub = g_ptr_array_index(engine->subscriptions, i);

        if (g_strcmp0(sub->job_id, job->id) == 0)
            g_array_append_val(ids, sub->id);
    }
    for (guint i = 0; i < ids->len; i++) {
        for (guint j = 0; j < engine->subscriptions->len; j++) {
            Subscription *sub = g_ptr_array_index(engine->subscriptions, j);

            if (sub->id == g_array_index(ids, guint, i)) {
                sub->listener(event, data, sub->user_data);
                break;
            }
        }
    }
    json_decref(data);
}

guint
engine_subscribe(Engine *engine, const char *id, EngineListener listener, gpointer user_data)
{
    Subscription *sub = g_new0(Subscription, 1);

    sub->id = ++engine->next_subscription;
    sub->job_id = g_strdup(id);
    sub->listener = listener;
    sub->user_data = user_data;
    g_ptr_array_add(engine->subscriptions, sub);
    return sub->id;
}

void
engine_unsubscribe(Engine *engine, guint subscription)
{
    for (guint i = 0; i < engine->subscriptions->len; i++) {
        Subscription *sub = g_ptr_array_index(engine->subscriptions, i);

        if (sub->id == subscription) {
            g_ptr_array_remove_index(engine->subscriptions, i);
            return;
        }
    }
}

/* Write-ahead: the record reaches the disk before any action starts. */
static gboolean
engine_persist(Engine *engine, Job *job, GError **error)
{
    g_autoptr(json_t) record = job_to_json(job);

    return store_save(engine->store, job->id, record, error);
}

static void
engine_log_entry(const Job *job, const JobEntry *entry)
{
    GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;

    if (g_strcmp0(entry->kind, "warning") == 0)
        level = G_LOG_LEVEL_WARNING;
    else if (g_strcmp0(entry->kind, "error") == 0)
        level = G_LOG_LEVEL_CRITICAL;
    log_structured(level, LOG_FIELDS("MIGD_JOB", job->id, "MIGD_DOMAIN", job->domain,
                                     "MIGD_STATE", job_state_to_string(entry->state)),
                   "migration %.8s of %s: %s", job->id, job->domain, entry->message);
}

static guint
engine_running(Engine *engine)
{
    guint n = 0;

    for (guint i = 0; i < job_table_size(engine->jobs); i++) {
        Job *job = job_table_index(engine->jobs, i);

        if (job->state != JOB_PENDING && !job_state_is_final(job->state))
            n++;
    }
    return n;
}

/* The job's figures for the metrics (metrics_migration_finished). */
static void
engine_count_finished(const Job *job)
{
    json_t *nics = job->nics;
    json_t *window = json_object_get(nics, "no_vf_window_ms");
    gint64 duration_ms = job->finished_at_us && job->created_at_us
                             ? (job->finished_at_us - job->created_at_us) / 1000
                             : -1;

    metrics_migration_finished(job_state_to_string(job->state),
                               json_string_value(json_object_get(nics, "strategy")), duration_ms,
                               job->state == JOB_COMPLETED && job->have_figures
                                   ? job->figures.downtime_ms
                                   : -1,
                               json_is_integer(window) ? json_integer_value(window) : -1, -1);
}

static void
engine_execute(Engine *engine, Job *job, const JobAction *action)
{
    const EngineOps *ops = engine->ops;
    gpointer ctx = engine->ops_ctx;

    switch (action->kind) {
    case JOB_ACT_RUN_CHECKS:
        metrics_migration_started(job->strategy);
        ops->run_checks(ctx, job);
        break;
    case JOB_ACT_NIC_STEP: ops->nic_step(ctx, job); break;
    case JOB_ACT_START_MIGRATION: ops->start_migration(ctx, job); break;
    case JOB_ACT_SET_DOWNTIME: ops->set_downtime(ctx, job, action->downtime_ms); break;
    case JOB_ACT_AUTO_CONVERGE: ops->auto_converge(ctx, job); break;
    case JOB_ACT_POSTCOPY: ops->postcopy(ctx, job); break;
    case JOB_ACT_ABORT_MIGRATION: ops->abort_migration(ctx, job); break;
    case JOB_ACT_WATCH_LIBVIRT_JOB: ops->watch_libvirt_job(ctx, job); break;
    case JOB_ACT_SWITCHOVER: ops->switchover(ctx, job); break;
    case JOB_ACT_FINISHED:
        engine_count_finished(job);
        ops->finished(ctx, job);
        break;
    case JOB_ACT_LAST: break;
    }
}

/* Finished jobs older than the retention go; their files with them. */
static gboolean
engine_expired(Engine *engine, const Job *job, gint64 now_us)
{
    return job_state_is_final(job->state) && job->finished_at_us > 0 &&
           now_us - job->finished_at_us > (gint64)engine->limits.retention_hours * 3600 * G_USEC_PER_SEC;
}

/* Forgets finished jobs past the retention, in memory and on disk. */
static void
engine_prune(Engine *engine)
{
    gint64 now = g_get_real_time();

    for (guint i = job_table_size(engine->jobs); i-- > 0;) {
        Job *job = job_table_index(engine->jobs, i);
        g_autoptr(GError) error = NULL;

        if (!engine_expired(engine, job, now))
            continue;
        if (!store_remove(engine->store, job->id, &error)) {
            g_warning("Cannot remove expired migration record %s: %s", job->id, error->message);
            continue;
        }
        job_table_remove_index(engine->jobs, i);
    }
}

/* A job whose record cannot be written must not act on what it did not
 * record: it fails at once, loudly, and gives its slot and domain back. */
static GArray *
engine_abandon(Engine *engine, Job *job, const JobEvent *event, JobState before,
               const GError *error)
{
    GArray *actions = job_abandon(job, event, before, error->message);
    g_autoptr(GError) again = NULL;

    log_structured(G_LOG_LEVEL_CRITICAL, LOG_FIELDS("MIGD_JOB", job->id, "MIGD_DOMAIN", job->domain),
                   "Cannot record migration %s, so it fails without acting further: %s",
                   job->id, error->message);
    /* The record on disk keeps the last state that was written; a migd
     * restarted on a writable state directory reconciles it with libvirt. */
    if (!engine_persist(engine, job, &again))
        g_debug("The failed migration %s could not be recorded either: %s", job->id,
                again->message);
    return actions;
}

/* One event through one job: persist what changed, tell the subscribers,
 * then act, and let the next queued job in when one finished. */
static void
engine_run_event(Engine *engine, Job *job, JobEvent *event)
{
    guint entries = job->timeline->len;
    JobState before = job->state;
    g_autoptr(GArray) actions = job_handle(job, event);
    g_autofree char *id = g_strdup(job->id);
    g_autoptr(GError) error = NULL;
    gboolean finished = FALSE;

    job_table_changed(engine->jobs, job);
    if ((job->timeline->len != entries || job->state != before) &&
        !engine_persist(engine, job, &error)) {
        g_array_unref(actions);
        actions = engine_abandon(engine, job, event, before, error);
        job_table_changed(engine->jobs, job);
    }
    for (guint i = entries; i < job->timeline->len; i++) {
        const JobEntry *entry = g_ptr_array_index(job->timeline, i);

        engine_log_entry(job, entry);
        engine_publish(engine, job, "timeline", job_entry_to_json(entry));
    }
    if (event->kind == JOB_EV_STATS && job->have_progress)
        engine_publish(engine, job,
                       "progress", json_pack("{s:s,s:o}", "state", job_state_to_string(job->state),
                                             "progress", job_progress_to_json(job)));
    for (guint i = 0; i < actions->len; i++) {
        const JobAction *action = &g_array_index(actions, JobAction, i);

        /* An operation may feed an event back at once; look the job up
         * again rather than trust the pointer. */
        job = engine_lookup(engine, id);
        if (!job)
            return;
        engine_execute(engine, job, action);
        finished |= action->kind == JOB_ACT_FINISHED;
    }
    job = engine_lookup(engine, id);
    if (finished && job)
        engine_publish(engine, job, "end", job_to_json(job));
    if (finished) {
        engine_prune(engine);
        engine_schedule(engine);
    }
}

void
engine_feed(Engine *engine, const char *id, JobEvent *event)
{
    Job *job = engine_lookup(engine, id);

    if (job)
        engine_run_event(engine, job, event);
}

/* Lets queued jobs in, oldest first, while outgoing slots are free. */
static void
engine_schedule(Engine *engine)
{
    while (!g_queue_is_empty(&engine->queue) && engine_running(engine) < engine->limits.max_outgoing) {
        g_autofree char *id = g_queue_pop_head(&engine->queue);
        Job *job = engine_lookup(engine, id);
        JobEvent ev;

        if (!job || job->state != JOB_PENDING)
            continue;
        engine_event_init(&ev, JOB_EV_SLOT_GRANTED);
        engine_run_event(engine, job, &ev);
    }
}

static Job *
engine_active_for_domain(Engine *engine, const char *domain)
{
    for (guint i = 0; i < job_table_size(engine->jobs); i++) {
        Job *job = job_table_index(engine->jobs, i);

        if (!job_state_is_final(job->state) && g_strcmp0(job->domain, domain) == 0)
            return job;
    }
    return NULL;
}

Job *
engine_submit(Engine *engine, const char *domain, const JobDestination *dest,
              const char *strategy, const JobOptions *options, const PolicyConfig *policy,
              const char *requested_by, GError **error)
{
    Job *active = engine_active_for_domain(engine, domain);
    g_autoptr(GError) local = NULL;
    g_autofree char *id = NULL;
    JobEvent ev;
    Job *job;

    if (active) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "domain '%s' already has an active migration (%s, state %s); cancel it or "
                    "wait for it to end", domain, active->id, job_state_to_string(active->state));
        return NULL;
    }
    id = g_uuid_string_random();
    engine_event_init(&ev, JOB_EV_LAST);
    job = job_new(id, domain, dest, strategy, options, policy, requested_by, ev.wall_us,
                  ev.mono_ms);
    if (!engine_persist(engine, job, &local)) {
        log_structured(G_LOG_LEVEL_CRITICAL, LOG_FIELDS("MIGD_JOB", id, "MIGD_DOMAIN", domain),
                       "Cannot record the new migration %s of %s, so it is refused: %s", id,
                       domain, local->message);
        job_free(job);
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "migd cannot write its state directory, so it accepts no migration; see its log");
        return NULL;
    }
    job_table_add(engine->jobs, job);
    engine_log_entry(job, g_ptr_array_index(job->timeline, 0));
    g_queue_push_tail(&engine->queue, g_strdup(id));
    engine_schedule(engine);
    return engine_lookup(engine, id);
}

static gboolean
engine_request(Engine *engine, const char *id, JobEventKind kind, GError **error)
{
    Job *job = engine_lookup(engine, id);
    g_autofree char *why = NULL;
    JobEvent ev;

    if (!job) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND, "there is no migration %s", id);
        return FALSE;
    }
    if (kind == JOB_EV_CANCEL ? !job_can_cancel(job, &why) : !job_can_force_complete(job, &why)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT, "%s", why);
        return FALSE;
    }
    engine_event_init(&ev, kind);
    engine_run_event(engine, job, &ev);
    return TRUE;
}

gboolean
engine_cancel(Engine *engine, const char *id, GError **error)
{
    return engine_request(engine, id, JOB_EV_CANCEL, error);
}

gboolean
engine_force_complete(Engine *engine, const char *id, GError **error)
{
    return engine_request(engine, id, JOB_EV_FORCE_COMPLETE, error);
}

static gboolean
engine_job_matches(const Job *job, int state, const char *domain)
{
    return (state < 0 || (int)job->state == state) && (!domain || strcmp(job->domain, domain) == 0);
}

GPtrArray *
engine_list_page(Engine *engine, int state, const char *domain, const JobKey *after, guint limit,
                 gboolean *ret_more)
{
    GPtrArray *out = g_ptr_array_new();
    guint size = job_table_size(engine->jobs);
    guint i = after ? job_table_index_after(engine->jobs, after) : 0;

    *ret_more = FALSE;
    for (; i < size; i++) {
        Job *job = job_table_index(engine->jobs, i);

        if (!engine_job_matches(job, state, domain))
            continue;
        if (out->len == limit) {
            *ret_more = TRUE;
            break;
        }
        g_ptr_array_add(out, job);
    }
    return out;
}

GPtrArray *
engine_list(Engine *engine, int state, const char *domain)
{
    gboolean more;

    return engine_list_page(engine, state, domain, NULL, G_MAXUINT, &more);
}

/* A record read at start becomes a job of the table, or is dropped with a
 * warning; finished jobs past the retention go, their files with them. */
static void
engine_adopt(json_t *record, gpointer data)
{
    Engine *engine = data;
    g_autoptr(GError) local = NULL;
    Job *job = job_from_json(record, &local);
    JobEvent now;

    json_decref(record);
    if (!job) {
        g_warning("Ignoring a migration record in %s: %s", store_dir(engine->store),
                  local->message);
        return;
    }
    engine_event_init(&now, JOB_EV_LAST);
    job_resume_clock(job, now.wall_us, now.mono_ms);
    if (engine_expired(engine, job, now.wall_us)) {
        if (!store_remove(engine->store, job->id, &local))
            g_warning("Cannot remove expired migration record %s: %s", job->id, local->message);
        job_free(job);
        return;
    }
    job_table_add(engine->jobs, job);
}

gboolean
engine_load(Engine *engine, GError **error)
{
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) reconcile = g_ptr_array_new_with_free_func(g_free);

    /* One record at a time: parsed all at once, 10,000 records were 300
     * MB, and freeing them left the allocator seconds of work that fell
     * on the first request. */
    if (!store_load_each(engine->store, engine_adopt, engine, &problems, error))
        return FALSE;
    for (guint i = 0; problems && i < problems->len; i++)
        g_warning("%s", (const char *)g_ptr_array_index(problems, i));
    /* In list order, oldest first, as the queue must be. */
    for (guint i = 0; i < job_table_size(engine->jobs); i++) {
        Job *job = job_table_index(engine->jobs, i);

        if (job->state == JOB_PENDING)
            g_queue_push_tail(&engine->queue, g_strdup(job->id));
        else if (!job_state_is_final(job->state))
            g_ptr_array_add(reconcile, g_strdup(job->id));
    }
    /* By id: a reconciliation may end a job, and its end prune another. */
    for (guint i = 0; i < reconcile->len; i++) {
        Job *job = engine_lookup(engine, g_ptr_array_index(reconcile, i));

        if (!job)
            continue;

        g_message("Reconciling migration %s of %s, left %s by the previous migd", job->id,
                  job->domain, job_state_to_string(job->state));
        engine->ops->reconcile(engine->ops_ctx, job);
    }
    engine_schedule(engine);
    return TRUE;
}
