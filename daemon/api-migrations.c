/* The REST endpoints of migration jobs: create (validated before anything
 * starts), list, get, cancel, force-complete, and the event stream. */
#include <config.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "api-priv.h"
#include "log.h"
#include "request.h"
#include "src-choose.h"

void
api_set_gerror(HttpResponse *resp, const GError *error)
{
    api_set_error(resp, error->domain == MIGD_ERROR ? (MigdErrorCode)error->code
                                                    : MIGD_ERROR_INTERNAL, "%s", error->message);
}

/* The records one page of GET /v1/migrations holds: by default, and at most. */
#define API_LIST_DEFAULT 100
#define API_LIST_MAX 1000

/* A cursor: the creation time (ms, 16 hex digits) and the id of the last
 * job of a page, which need not exist when the next page is asked for. */
#define API_CURSOR_TIME_LEN 16

static const char *const api_list_parameters[] = { "state", "domain", "limit", "cursor", NULL };

static Job *
api_find_job(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    Job *job = engine_lookup(api->engine, req->id);

    if (!job)
        api_set_error(resp, MIGD_ERROR_NOT_FOUND, "there is no migration %s", req->id);
    return job;
}

static char *
api_cursor_format(const Job *job)
{
    JobKey key = job_table_key(job);

    return g_strdup_printf("%016" G_GINT64_MODIFIER "x%s", key.created_ms, key.id);
}

/* Fills @ret_key from @cursor (its id points into @cursor). */
static gboolean
api_cursor_parse(const char *cursor, JobKey *ret_key)
{
    gsize len = strlen(cursor);
    g_autofree char *time = NULL;
    guint64 created_ms;

    if (len <= API_CURSOR_TIME_LEN || strspn(cursor, "0123456789abcdef") < API_CURSOR_TIME_LEN ||
        strspn(cursor + API_CURSOR_TIME_LEN, "0123456789abcdef-") != len - API_CURSOR_TIME_LEN)
        return FALSE;
    time = g_strndup(cursor, API_CURSOR_TIME_LEN);
    if (!g_ascii_string_to_unsigned(time, 16, 0, G_MAXINT64, &created_ms, NULL))
        return FALSE;
    *ret_key = (JobKey){ .created_ms = (gint64)created_ms, .id = cursor + API_CURSOR_TIME_LEN };
    return TRUE;
}

/* Refuses a query parameter the list does not take, rather than listing
 * as if it were not there. */
static gboolean
api_list_check_parameters(GHashTable *query, HttpResponse *resp)
{
    GHashTableIter iter;
    gpointer name;

    g_hash_table_iter_init(&iter, query);
    while (g_hash_table_iter_next(&iter, &name, NULL)) {
        if (!g_strv_contains(api_list_parameters, name)) {
            api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                          "GET /v1/migrations takes no parameter '%s'; it takes state, domain, "
                          "limit and cursor", (const char *)name);
            return FALSE;
        }
    }
    return TRUE;
}

/* The list's filters and page from the query; fills @resp when one is bad. */
static gboolean
api_list_parse(GHashTable *query, int *ret_state, guint *ret_limit, JobKey *ret_after,
               gboolean *ret_has_after, HttpResponse *resp)
{
    const char *state = g_hash_table_lookup(query, "state");
    const char *limit_text = g_hash_table_lookup(query, "limit");
    const char *cursor = g_hash_table_lookup(query, "cursor");
    guint64 limit = API_LIST_DEFAULT;

    if (!api_list_check_parameters(query, resp))
        return FALSE;
    *ret_state = -1;
    if (state && (*ret_state = job_state_from_string(state)) < 0) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "state '%s' is not a migration state; use pending, checking, migrating, "
                      "completed, failed, cancelled or another state of the README", state);
        return FALSE;
    }
    if (limit_text && !g_ascii_string_to_unsigned(limit_text, 10, 1, API_LIST_MAX, &limit, NULL)) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "limit '%s' is not a number of records from 1 to %d (%d when it is left "
                      "out)", limit_text, API_LIST_MAX, API_LIST_DEFAULT);
        return FALSE;
    }
    *ret_limit = (guint)limit;
    *ret_has_after = cursor != NULL;
    if (cursor && !api_cursor_parse(cursor, ret_after)) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "cursor '%s' is not a cursor migd gave: pass the \"next\" of the page "
                      "before unchanged, or leave cursor out to list from the oldest", cursor);
        return FALSE;
    }
    return TRUE;
}

/* The page as text made of the records' own (cached) text: serialising
 * a page of records anew for each request is what made it slow. */
void
api_list_migrations(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GHashTable) none = NULL;
    GHashTable *query = req->http->query;
    g_autoptr(GPtrArray) jobs = NULL;
    g_autofree char *next = NULL;
    gboolean has_after, more;
    GString *text;
    JobKey after;
    guint limit;
    int state;

    if (!query)
        query = none = g_hash_table_new(g_str_hash, g_str_equal);
    if (!api_list_parse(query, &state, &limit, &after, &has_after, resp))
        return;
    jobs = engine_list_page(api->engine, state, g_hash_table_lookup(query, "domain"),
                            has_after ? &after : NULL, limit, &more);
    text = g_string_new("{\"migrations\":[");
    for (guint i = 0; i < jobs->len; i++) {
        if (i > 0)
            g_string_append_c(text, ',');
        g_string_append(text, engine_job_text(api->engine, g_ptr_array_index(jobs, i)));
    }
    /* Oldest first; "next" is the cursor of the next page, null at the end. */
    if (more)
        next = api_cursor_format(g_ptr_array_index(jobs, jobs->len - 1));
    g_string_append_printf(text, "],\"next\":%s%s%s}\n", next ? "\"" : "", next ? next : "null",
                           next ? "\"" : "");
    resp->status = 200;
    resp->text = g_string_free(text, FALSE);
    resp->content_type = "application/json";
}

void
api_get_migration(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    Job *job = api_find_job(api, req, resp);

    if (!job)
        return;
    resp->status = 200;
    resp->text = g_strconcat(engine_job_text(api->engine, job), "\n", NULL);
    resp->content_type = "application/json";
}

static void
api_accepted(Api *api, const char *id, HttpResponse *resp)
{
    Job *job = engine_lookup(api->engine, id);

    resp->status = 202;
    resp->body = job_to_json(job);
}

void
api_cancel_migration(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;

    if (!api_find_job(api, req, resp))
        return;
    if (!engine_cancel(api->engine, req->id, &error)) {
        api_set_gerror(resp, error);
        return;
    }
    api_accepted(api, req->id, resp);
}

void
api_force_complete_migration(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;

    if (!api_find_job(api, req, resp))
        return;
    if (!engine_force_complete(api->engine, req->id, &error)) {
        api_set_gerror(resp, error);
        return;
    }
    api_accepted(api, req->id, resp);
}

/* --- create --------------------------------------------------------------- */

/* A request on its way: validated on the loop, checked in a worker (the
 * guest on this host, the destination's libvirt: libvirt calls that can take
 * seconds), answered on the loop. */
typedef struct {
    Api *api;
    HttpDeferred *deferred;
    MigrationRequest req;
    JobDestination dest;
    virConnectPtr conn;         /* this host's libvirt: the worker's own reference, which it drops */
    char *requested_by;         /* the request's client, for the job's record */
    gboolean choose;            /* destination "auto": chosen among the peers */
    char *live_xml;             /* the guest's, for what it needs (choose) */
    MigdErrorCode code;         /* when message is set */
    char *message;              /* why a check refused the request */
} Creation;

static void
creation_free(gpointer data)
{
    Creation *c = data;

    migration_request_clear(&c->req);
    g_free(c->dest.name);
    g_free(c->dest.libvirt_uri);
    g_free(c->dest.migd_url);
    if (c->dest.choice)
        json_decref(c->dest.choice);
    if (c->conn)
        (void)virConnectClose(c->conn);
    g_free(c->message);
    g_free(c->requested_by);
    g_free(c->live_xml);
    g_free(c);
}

static gboolean
creation_refuse(Creation *c, MigdErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean
creation_refuse(Creation *c, MigdErrorCode code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    c->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->code = code;
    return FALSE;
}

/* The guest must exist and run here before anything is queued. */
static gboolean
creation_check_domain(Creation *c)
{
    virDomainPtr dom = virDomainLookupByName(c->conn, c->req.domain);
    int state = 0;
    gboolean running;

    if (!dom)
        return creation_refuse(c, MIGD_ERROR_NOT_FOUND, "domain '%s' does not exist on this host",
                               c->req.domain);
    running = virDomainGetState(dom, &state, NULL, 0) == 0 && state == VIR_DOMAIN_RUNNING;
    if (running && c->choose)
        c->live_xml = virDomainGetXMLDesc(dom, 0);
    (void)virDomainFree(dom);
    if (!running)
        return creation_refuse(c, MIGD_ERROR_CONFLICT,
                               "domain '%s' is not running on this host, so it cannot be "
                               "live-migrated", c->req.domain);
    return TRUE;
}

static char *
creation_host_uuid(virConnectPtr conn)
{
    char *caps = virConnectGetCapabilities(conn);
    char *uuid = caps ? api_destination_host_uuid(caps) : NULL;

    free(caps);
    return uuid;
}

/* The destination's libvirt must answer and be another host's. The host
 * UUID is what libvirt itself compares (and refuses a migration on, but only
 * once the guest's NICs may be unplugged); the test driver reports none. A
 * URI's error text is logged, never answered: it can quote a file. */
static gboolean
creation_probe_destination(Creation *c)
{
    virConnectPtr dest = virConnectOpen(c->dest.libvirt_uri);
    g_autofree char *here = NULL;
    g_autofree char *there = NULL;

    if (!dest) {
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_DOMAIN", c->req.domain),
                       "The destination's libvirt at %s does not answer: %s",
                       c->dest.libvirt_uri, virGetLastErrorMessage());
        if (c->dest.name)
            return creation_refuse(c, MIGD_ERROR_UNREACHABLE,
                                   "the destination %s does not answer at %s: %s; nothing was "
                                   "started", c->dest.name, c->dest.libvirt_uri,
                                   virGetLastErrorMessage());
        return creation_refuse(c, MIGD_ERROR_UNREACHABLE,
                               "the destination's libvirt does not answer at %s; nothing was "
                               "started (migd's log says what libvirt reported)",
                               c->dest.libvirt_uri);
    }
    here = creation_host_uuid(c->conn);
    there = creation_host_uuid(dest);
    (void)virConnectClose(dest);
    if (here && there && g_ascii_strcasecmp(here, there) == 0)
        return creation_refuse(c, MIGD_ERROR_INVALID_ARGUMENT,
                               "destination '%s' is this host: its libvirt at %s reports this "
                               "host's UUID %s; migrate the guest to another host",
                               c->req.destination, c->dest.libvirt_uri, here);
    return TRUE;
}

static void
creation_check_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Creation *c = data;

    /* A chosen destination is probed by the job's checks. */
    if (creation_check_domain(c) && !c->choose)
        (void)creation_probe_destination(c);
    /* Here, not on the loop: if virt.c dropped its connection meanwhile,
     * this is the last reference and closing it talks to libvirtd. */
    (void)virConnectClose(g_steal_pointer(&c->conn));
}

static void
creation_answer(Creation *c)
{
    HttpResponse resp = { 0 };
    g_autoptr(GError) error = NULL;
    Job *job;

    if (c->message) {
        api_set_error(&resp, c->code, "%s", c->message);
    } else {
        job = engine_submit(c->api->engine, c->req.domain, &c->dest, c->req.strategy,
                            &c->req.options, &c->req.policy, c->requested_by, &error);
        if (job) {
            resp.status = 202;
            resp.body = job_to_json(job);
        } else {
            api_set_gerror(&resp, error);
        }
    }
    http_deferred_finish(c->deferred, &resp);
    http_response_clear(&resp);
    creation_free(c);
}

/* The peers' capacities are in: the best one is the job's destination,
 * the others its next candidates. */
static void
creation_chosen(GPtrArray *peers, gpointer data)
{
    Creation *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) needs = choice_needs_from_xml(c->api->conf, c->req.domain,
                                                        c->live_xml ? c->live_xml : "", &error);
    g_autoptr(GPtrArray) ranked = NULL;
    json_t *refused = json_array();
    const ChoicePeer *best;

    if (!needs) {
        json_decref(refused);
        (void)creation_refuse(c, MIGD_ERROR_CONFLICT, "%s", error->message);
        creation_answer(c);
        return;
    }
    ranked = choice_rank(peers, needs, refused);
    if (ranked->len == 0) {
        c->message = choice_refusal(c->req.domain, needs, refused);
        c->code = MIGD_ERROR_CONFLICT;
        json_decref(refused);
        creation_answer(c);
        return;
    }
    best = g_ptr_array_index(ranked, 0);
    c->dest.name = g_strdup(best->peer);
    c->dest.libvirt_uri = g_strdup(best->libvirt_uri);
    c->dest.migd_url = g_strdup(best->migd_url);
    c->dest.choice = choice_to_json(ranked, needs, refused);
    creation_answer(c);
}

static void
creation_checked(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Creation *c = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) peers = NULL;

    if (c->message || !c->choose) {
        creation_answer(c);
        return;
    }
    /* The peers of the configuration in force now (a reload may have come). */
    peers = api_destination_peers(c->api->conf, NULL, &error);
    if (!peers) {
        (void)creation_refuse(c, MIGD_ERROR_INVALID_ARGUMENT, "%s", error->message);
        creation_answer(c);
        return;
    }
    choice_read(peers, c->api->conf->peer_token, NULL, creation_chosen, c);
}

/* Everything that needs no libvirt call; fills @resp when it refuses. */
static gboolean
creation_validate(Api *api, const ApiRequest *req, Creation *c, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = virt_connection(api->virt);

    if (!req->json) {
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                      "POST /v1/migrations needs a JSON body with at least domain and destination");
        return FALSE;
    }
    if (!migration_request_parse(req->json, &api->conf->policy, &c->req, &error)) {
        api_set_gerror(resp, error);
        return FALSE;
    }
    c->choose = strcmp(c->req.destination, "auto") == 0;
    if (!c->choose && !api_destination_resolve(api->conf, c->req.destination, &c->dest, &error)) {
        api_set_gerror(resp, error);
        return FALSE;
    }
    if (!conn) {
        api_set_error(resp, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                      "migd is not connected to libvirt at %s, so it cannot migrate now",
                      virt_uri(api->virt));
        return FALSE;
    }
    c->conn = conn;
    (void)virConnectRef(conn);
    return TRUE;
}

void
api_create_migration(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GTask) task = NULL;
    Creation *c = g_new0(Creation, 1);

    c->api = api;
    if (!creation_validate(api, req, c, resp)) {
        creation_free(c);
        return;
    }
    c->requested_by = g_strdup(req->http->client);
    c->deferred = http_request_defer(req->http);
    task = g_task_new(NULL, NULL, creation_checked, NULL);
    /* Freed once answered: after the checks, or after the choice. */
    g_task_set_task_data(task, c, NULL);
    g_task_run_in_thread(task, creation_check_thread);
}

/* --- the event stream ------------------------------------------------------- */

typedef struct {
    Api *api;
    HttpStream *stream;
    guint subscription;
} Watcher;

static void
watcher_send(Watcher *w, const char *event, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    g_autofree char *frame = g_strdup_printf("event: %s\ndata: %s\n\n", event, text);

    free(text);
    http_stream_write(w->stream, frame, strlen(frame));
}

static void
watcher_on_event(const char *event, json_t *data, gpointer user_data)
{
    Watcher *w = user_data;

    watcher_send(w, event, data);
    if (strcmp(event, "end") == 0) {
        engine_unsubscribe(w->api->engine, w->subscription);
        w->subscription = 0;
        http_stream_end(w->stream);
    }
}

static void
watcher_closed(HttpStream *stream, gpointer user_data)
{
    Watcher *w = user_data;

    if (w->subscription)
        engine_unsubscribe(w->api->engine, w->subscription);
    g_free(w);
}

void
api_migration_events(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    Job *job = api_find_job(api, req, resp);
    g_autoptr(json_t) snapshot = NULL;
    Watcher *w;

    if (!job)
        return;
    w = g_new0(Watcher, 1);
    w->api = api;
    w->stream = http_request_stream(req->http, "text/event-stream", watcher_closed, w);
    snapshot = job_to_json(job);
    watcher_send(w, "snapshot", snapshot);
    if (job_state_is_final(job->state)) {
        watcher_send(w, "end", snapshot);
        http_stream_end(w->stream);
        return;
    }
    w->subscription = engine_subscribe(api->engine, job->id, watcher_on_event, w);
}
