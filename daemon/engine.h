/* The engine runs migration jobs: it owns them, queues them for the host's
 * outgoing slots, persists every transition before acting on it, carries
 * out the state machine's actions through a small set of operations, and
 * tells subscribers (the event stream) what happened. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "job.h"
#include "job-table.h"
#include "store.h"

typedef struct _Engine Engine;

/* What the engine asks of the outside world. Each call starts work whose
 * outcome comes back later through engine_feed(); none may block. */
typedef struct {
    void (*run_checks)(gpointer ctx, Job *job);
    void (*nic_step)(gpointer ctx, Job *job);
    void (*start_migration)(gpointer ctx, Job *job);
    void (*set_downtime)(gpointer ctx, Job *job, guint downtime_ms);
    void (*auto_converge)(gpointer ctx, Job *job);
    void (*postcopy)(gpointer ctx, Job *job);
    void (*abort_migration)(gpointer ctx, Job *job);
    void (*reconcile)(gpointer ctx, Job *job);
    void (*watch_libvirt_job)(gpointer ctx, Job *job);
    void (*finished)(gpointer ctx, Job *job);
    void (*switchover)(gpointer ctx, Job *job);    /* the pause strategy's */
} EngineOps;

typedef struct {
    guint max_outgoing;         /* concurrent outgoing migrations */
    guint retention_hours;      /* finished jobs are kept this long */
} EngineLimits;

/* Called for every event a job emits: "timeline" (a timeline entry),
 * "progress" (the progress member) or "end" (the final record). */
typedef void (*EngineListener)(const char *event, json_t *data, gpointer user_data);

Engine *engine_new(Store *store, const EngineOps *ops, gpointer ops_ctx, const EngineLimits *limits);
void engine_free(Engine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Engine, engine_free)

void engine_set_limits(Engine *engine, const EngineLimits *limits);

/* Loads the store: finished jobs become history, pending ones queue again,
 * and the others are reconciled with libvirt. Problems with single records
 * are logged, not fatal. */
gboolean engine_load(Engine *engine, GError **error);

/* Accepts a new job (already validated by the caller), persists it and
 * queues it. Refuses a second active job for the same domain (conflict). */
Job *engine_submit(Engine *engine, const char *domain, const JobDestination *dest,
                   const char *strategy, const JobOptions *options, const PolicyConfig *policy,
                   const char *requested_by, GError **error);

/* Feeds an event (from an operation) to the job with @id, if it still exists. */
void engine_feed(Engine *engine, const char *id, JobEvent *event);

gboolean engine_cancel(Engine *engine, const char *id, GError **error);
gboolean engine_force_complete(Engine *engine, const char *id, GError **error);

Job *engine_lookup(Engine *engine, const char *id);

/* Jobs, oldest first, optionally only in @state (-1: any) or of @domain. */
GPtrArray *engine_list(Engine *engine, int state, const char *domain);
/* A page of that list: up to @limit of the jobs that come after @after
 * (NULL: from the oldest) and match the filters; *ret_more says whether
 * more match after the last one. @after need not be a job that still
 * exists, so a page's end stays valid as jobs come and go. */
GPtrArray *engine_list_page(Engine *engine, int state, const char *domain, const JobKey *after,
                            guint limit, gboolean *ret_more);

/* @job's record as compact ASCII JSON (job_to_json()), made once and kept
 * until the job next changes; valid until then, or until the engine runs
 * an event. */
const char *engine_job_text(Engine *engine, const Job *job);

guint engine_subscribe(Engine *engine, const char *id, EngineListener listener, gpointer user_data);
void engine_unsubscribe(Engine *engine, guint subscription);

/* Fills the clock readings of an event: wall time and monotonic time. */
void engine_event_init(JobEvent *event, JobEventKind kind);
