/* POST /v1/drain and GET /v1/drains[/{id}]: every running guest of this
 * host migrated off it (src-drain.c plans and queues; this file lists the
 * guests, reads the peers, starts the jobs and follows them). A drain lives
 * in migd's memory: its jobs are recorded as every job is, the drain object
 * is not, and is gone after a restart. */
#include <config.h>

#include <string.h>

#include "api-priv.h"
#include "src-choose.h"
#include "src-drain.h"
#include "virt-ops.h"

/* The same bound as a migration's options.bandwidth_mibps (request.c). */
#define API_DRAIN_MAX_BANDWIDTH 1048576

static const char *const drain_strategies[] = { "auto", "unplug", "native", "pause", "none",
                                                NULL };

struct _ApiDrain {
    Api *api;
    Drain *drain;
    char *strategy;
    guint bandwidth_mibps;      /* each job's; 0: no limit */
    char *requested_by;
    GArray *subscriptions;      /* guint: the jobs' that have not ended */
    guint pump_source;
};

/* A POST /v1/drain on its way: the guests are listed in a worker, the
 * peers asked on the loop. */
typedef struct {
    Api *api;
    HttpDeferred *deferred;
    GStrv to;                   /* the peers asked for; NULL: every peer */
    gboolean dry_run;
    char *strategy;
    guint bandwidth_mibps;
    char *requested_by;
    VirtConn *conn;
    const VirtOps *ops;
    GPtrArray *running;         /* VirtDomainXml* */
    char *error;
} DrainRequest;

static void
drain_request_free(DrainRequest *r)
{
    g_strfreev(r->to);
    g_free(r->strategy);
    g_free(r->requested_by);
    virt_conn_unref(r->conn);
    if (r->running)
        g_ptr_array_unref(r->running);
    g_free(r->error);
    g_free(r);
}

void
api_drain_free(ApiDrain *ad)
{
    if (!ad)
        return;
    for (guint i = 0; i < ad->subscriptions->len; i++)
        engine_unsubscribe(ad->api->engine, g_array_index(ad->subscriptions, guint, i));
    g_array_unref(ad->subscriptions);
    g_clear_handle_id(&ad->pump_source, g_source_remove);
    drain_free(ad->drain);
    g_free(ad->strategy);
    g_free(ad->requested_by);
    g_free(ad);
}

/* --- following the jobs -------------------------------------------------------- */

static gboolean
api_drain_pump(gpointer data)
{
    ApiDrain *ad = data;

    ad->pump_source = 0;
    drain_pump(ad->drain);
    return G_SOURCE_REMOVE;
}

/* Tells the drain where @job is now; a job that ended lets the next start. */
static gboolean
api_drain_follow(ApiDrain *ad, const Job *job)
{
    gboolean final = job_state_is_final(job->state);

    drain_job_changed(ad->drain, job->id, job_state_to_string(job->state), final,
                      job->state == JOB_COMPLETED, job->reason);
    if (final && !ad->pump_source)
        ad->pump_source = g_idle_add(api_drain_pump, ad);
    return final;
}

static void api_drain_refresh(ApiDrain *ad);

/* Whatever the event of whichever job, the drain reads its jobs again:
 * a few records, and no event is missed. */
static void
api_drain_on_event(const char *event, json_t *data, gpointer user_data)
{
    api_drain_refresh(user_data);
}

static gboolean
api_drain_submit(gpointer ctx, const DrainGuest *g, char **ret_job, char **ret_error)
{
    ApiDrain *ad = ctx;
    Api *api = ad->api;
    JobDestination dest = { g->peer, g->libvirt_uri, g->migd_url, g->choice };
    JobOptions options = { .persistent = TRUE, .undefine_source = TRUE,
                           .bandwidth_mibps = ad->bandwidth_mibps };
    g_autoptr(GError) error = NULL;
    g_autofree char *by = g_strdup_printf("drain %s, asked from %s", drain_id(ad->drain),
                                          ad->requested_by);
    Job *job = engine_submit(api->engine, g->domain, &dest, ad->strategy, &options,
                             &api->conf->policy, by, &error);
    guint sub;

    if (!job) {
        *ret_error = g_strdup(error->message);
        return FALSE;
    }
    sub = engine_subscribe(api->engine, job->id, api_drain_on_event, ad);
    g_array_append_val(ad->subscriptions, sub);
    *ret_job = g_strdup(job->id);
    return TRUE;
}

static const DrainOps api_drain_ops = { .submit = api_drain_submit };

/* The drain's jobs as the engine has them now (an event may not have
 * said the last change yet). */
static void
api_drain_refresh(ApiDrain *ad)
{
    GPtrArray *guests = drain_guests(ad->drain);

    for (guint i = 0; i < guests->len; i++) {
        const DrainGuest *g = g_ptr_array_index(guests, i);
        Job *job = g->job && g->state == DRAIN_GUEST_MIGRATING
                       ? engine_lookup(ad->api->engine, g->job) : NULL;

        if (job)
            (void)api_drain_follow(ad, job);
    }
}

/* --- starting ------------------------------------------------------------------- */

static void
api_drain_answer(DrainRequest *r, MigdErrorCode code, const char *message, json_t *body,
                 guint status)
{
    HttpResponse resp = { 0 };

    if (message) {
        api_set_error(&resp, code, "%s", message);
    } else {
        resp.status = status;
        resp.body = body;
    }
    http_deferred_finish(r->deferred, &resp);
    http_response_clear(&resp);
    drain_request_free(r);
}

static GHashTable *
api_drain_in_flight(Api *api)
{
    g_autoptr(GPtrArray) jobs = engine_list(api->engine, -1, NULL);
    GHashTable *in_flight = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < jobs->len; i++) {
        Job *job = g_ptr_array_index(jobs, i);

        if (!job_state_is_final(job->state))
            g_hash_table_replace(in_flight, job->domain, job->id);
    }
    return in_flight;
}

static const ApiDrain *
api_drain_running(Api *api)
{
    return api->drain && !drain_is_done(api->drain->drain) ? api->drain : NULL;
}

const char *
api_draining(gpointer api)
{
    const ApiDrain *running = api_drain_running(api);

    return running ? drain_id(running->drain) : NULL;
}

static void
api_drain_read(GPtrArray *peers, gpointer data)
{
    DrainRequest *r = data;
    Api *api = r->api;
    g_autoptr(GHashTable) in_flight = api_drain_in_flight(api);
    g_autofree char *id = g_uuid_string_random();
    g_autoptr(Drain) drain = drain_plan(id, api->conf, r->running, in_flight, peers);
    const ApiDrain *running = api_drain_running(api);
    ApiDrain *ad;

    if (r->dry_run) {
        api_drain_answer(r, 0, NULL, drain_to_json(drain, TRUE), 200);
        return;
    }
    if (running) {
        g_autofree char *message = g_strdup_printf(
            "drain %s started meanwhile and runs; GET /v1/drains/%s follows it",
            drain_id(running->drain), drain_id(running->drain));

        api_drain_answer(r, MIGD_ERROR_CONFLICT, message, NULL, 0);
        return;
    }
    ad = g_new0(ApiDrain, 1);
    ad->api = api;
    ad->drain = g_steal_pointer(&drain);
    ad->strategy = g_strdup(r->strategy);
    ad->bandwidth_mibps = r->bandwidth_mibps;
    ad->requested_by = g_strdup(r->requested_by);
    ad->subscriptions = g_array_new(FALSE, FALSE, sizeof(guint));
    if (api->drain) {
        char *before = g_strdup(drain_id(api->drain->drain));

        g_hash_table_replace(api->drains, before, g_steal_pointer(&api->drain));
    }
    api->drain = ad;
    drain_start(ad->drain, api->conf->max_outgoing, &api_drain_ops, ad);
    api_drain_answer(r, 0, NULL, drain_to_json(ad->drain, FALSE), 202);
}

static void
api_drain_listed(GObject *source, GAsyncResult *result, gpointer user_data)
{
    DrainRequest *r = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) peers = NULL;

    if (r->error) {
        api_drain_answer(r, MIGD_ERROR_LIBVIRT_DISCONNECTED, r->error, NULL, 0);
        return;
    }
    /* The peers of the configuration in force now (a reload may have come). */
    peers = api_destination_peers(r->api->conf, (const char *const *)r->to, &error);
    if (!peers) {
        api_drain_answer(r, MIGD_ERROR_INVALID_ARGUMENT, error->message, NULL, 0);
        return;
    }
    choice_read(peers, r->api->conf->peer_token, NULL, api_drain_read, r);
}

static void
api_drain_list_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    DrainRequest *r = data;
    g_autoptr(GError) error = NULL;

    r->running = r->ops->list_running(r->conn, &error);
    if (!r->running)
        r->error = g_strdup_printf("migd cannot list the running guests of this host: %s; "
                                   "nothing was started", error->message);
}

/* The body: {"to": [PEER...], "dry_run": BOOL, "strategy": S,
 * "bandwidth_mibps": N}, all optional; FALSE with @resp set when it is
 * refused. */
static gboolean
api_drain_parse(Api *api, const ApiRequest *req, DrainRequest *r, HttpResponse *resp)
{
    json_t *to = NULL;
    json_t *bandwidth = NULL;
    const char *strategy = NULL;
    int dry_run = 0;
    json_error_t jerr;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) peers = NULL;
    g_autoptr(GStrvBuilder) names = g_strv_builder_new();
    size_t i;
    json_t *item;

    if (req->json && json_unpack_ex(req->json, &jerr, JSON_STRICT, "{s?o,s?b,s?s,s?o}", "to", &to,
                                    "dry_run", &dry_run, "strategy", &strategy,
                                    "bandwidth_mibps", &bandwidth) < 0) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "the drain request is not valid: %s (it takes to, dry_run, strategy and "
                      "bandwidth_mibps)", jerr.text);
        return FALSE;
    }
    if (bandwidth && (!json_is_integer(bandwidth) || json_integer_value(bandwidth) < 0 ||
                      json_integer_value(bandwidth) > API_DRAIN_MAX_BANDWIDTH)) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "field 'bandwidth_mibps' must be a whole number of MiB/s from 0 (no "
                      "limit) to %d", API_DRAIN_MAX_BANDWIDTH);
        return FALSE;
    }
    r->bandwidth_mibps = bandwidth ? (guint)json_integer_value(bandwidth) : 0;
    if (to && !json_is_array(to)) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "field 'to' must be an array of peer names");
        return FALSE;
    }
    json_array_foreach(to, i, item) {
        if (!json_is_string(item)) {
            api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                          "field 'to[%zu]' must be a peer name (a string)", i);
            return FALSE;
        }
        g_strv_builder_add(names, json_string_value(item));
    }
    if (strategy && !g_strv_contains(drain_strategies, strategy)) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "field 'strategy' must be one of auto, unplug, native, pause, none, not "
                      "'%s'", strategy);
        return FALSE;
    }
    r->to = g_strv_builder_end(names);
    peers = api_destination_peers(api->conf, (const char *const *)r->to, &error);
    if (!peers) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT, "field 'to': %s", error->message);
        return FALSE;
    }
    r->dry_run = dry_run;
    r->strategy = g_strdup(strategy ? strategy : "auto");
    return TRUE;
}

void
api_create_drain(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    DrainRequest *r = g_new0(DrainRequest, 1);
    const ApiDrain *running = api_drain_running(api);
    g_autoptr(GTask) task = NULL;

    r->api = api;
    if (!api_drain_parse(api, req, r, resp)) {
        drain_request_free(r);
        return;
    }
    if (running && !r->dry_run) {
        g_autoptr(json_t) now = drain_to_json(running->drain, FALSE);

        api_set_error(resp, MIGD_ERROR_CONFLICT,
                      "drain %s runs (%s); a second one would race it for the same slots: "
                      "wait for it to end (GET /v1/drains/%s), or ask with dry_run",
                      drain_id(running->drain),
                      json_string_value(json_object_get(now, "summary")),
                      drain_id(running->drain));
        drain_request_free(r);
        return;
    }
    r->conn = virt_conn(api->virt);
    if (!r->conn) {
        api_set_error(resp, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                      "migd is not connected to libvirt at %s, so it cannot drain this host now",
                      virt_uri(api->virt));
        drain_request_free(r);
        return;
    }
    r->ops = virt_ops(api->virt);
    r->requested_by = g_strdup(req->http->client ? req->http->client : "an unknown client");
    r->deferred = http_request_defer(req->http);
    task = g_task_new(NULL, NULL, api_drain_listed, NULL);
    g_task_set_task_data(task, r, NULL);
    g_task_run_in_thread(task, api_drain_list_thread);
}

/* --- reading --------------------------------------------------------------------- */

static ApiDrain *
api_find_drain(Api *api, const char *id)
{
    if (api->drain && strcmp(drain_id(api->drain->drain), id) == 0)
        return api->drain;
    return g_hash_table_lookup(api->drains, id);
}

void
api_get_drain(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    ApiDrain *ad = api_find_drain(api, req->id);

    if (!ad) {
        api_set_error(resp, MIGD_ERROR_NOT_FOUND,
                      "there is no drain %s (drains are kept until migd restarts)", req->id);
        return;
    }
    api_drain_refresh(ad);
    resp->status = 200;
    resp->body = drain_to_json(ad->drain, FALSE);
}

void
api_list_drains(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    json_t *list = json_array();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, api->drains);
    while (g_hash_table_iter_next(&it, NULL, &value))
        json_array_append_new(list, drain_to_json(((ApiDrain *)value)->drain, FALSE));
    if (api->drain) {
        api_drain_refresh(api->drain);
        json_array_append_new(list, drain_to_json(api->drain->drain, FALSE));
    }
    resp->status = 200;
    resp->body = json_pack("{s:o}", "drains", list);
}
