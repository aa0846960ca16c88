/* The scripted destination migd (fake-peer.h): routes with answer queues,
 * a delivery queue drained on the main loop, and the request log. */
#include <config.h>

#include <string.h>

#include "fake-peer.h"

typedef enum {
    ANSWER_HTTP,
    ANSWER_TIMEOUT,
    ANSWER_REFUSED,
    ANSWER_HOLD,
} AnswerKind;

typedef struct {
    AnswerKind kind;
    guint status;
    char *body;
    gboolean used;              /* given once already: a new script replaces it */
} Answer;

typedef struct {
    char *method;
    char *path;                 /* may end in '*' */
    GQueue answers;             /* Answer*; the last one stays */
} Route;

/* A call waiting for its answer to be delivered (or held). */
typedef struct {
    AnswerKind kind;
    guint status;
    char *body;
    char *base_url;
    guint timeout_ms;
    GCancellable *cancellable;
    PeerReply reply;
    gpointer data;
} Pending;

struct _FakePeer {
    PeerOps ops;
    GPtrArray *routes;          /* Route*, in the order added */
    GPtrArray *requests;        /* FakePeerRequest* */
    GQueue deliveries;          /* Pending* */
    GQueue held;                /* Pending* */
    guint idle;
};

static void
answer_free(gpointer p)
{
    Answer *a = p;

    g_free(a->body);
    g_free(a);
}

static void
route_free(gpointer p)
{
    Route *r = p;

    g_free(r->method);
    g_free(r->path);
    g_queue_clear_full(&r->answers, answer_free);
    g_free(r);
}

static void
request_free(gpointer p)
{
    FakePeerRequest *q = p;

    g_free(q->base_url);
    g_free(q->token);
    g_free(q->method);
    g_free(q->path);
    if (q->body)
        json_decref(q->body);
    g_free(q);
}

static void
pending_free(gpointer p)
{
    Pending *c = p;

    g_free(c->body);
    g_free(c->base_url);
    g_clear_object(&c->cancellable);
    g_free(c);
}

static void fake_peer_call(const PeerOps *ops, const char *base_url, const char *token,
                           const char *method, const char *path, json_t *body, guint timeout_ms,
                           GCancellable *cancellable, PeerReply reply, gpointer data);

FakePeer *
fake_peer_new(void)
{
    FakePeer *fp = g_new0(FakePeer, 1);

    fp->ops.name = "fake";
    fp->ops.data = fp;
    fp->ops.call = fake_peer_call;
    fp->routes = g_ptr_array_new_with_free_func(route_free);
    fp->requests = g_ptr_array_new_with_free_func(request_free);
    g_queue_init(&fp->deliveries);
    g_queue_init(&fp->held);
    peer_set_ops(&fp->ops);
    return fp;
}

void
fake_peer_free(FakePeer *fp)
{
    if (!fp)
        return;
    if (peer_ops() == &fp->ops)
        peer_set_ops(NULL);
    g_clear_handle_id(&fp->idle, g_source_remove);
    g_queue_clear_full(&fp->deliveries, pending_free);
    g_queue_clear_full(&fp->held, pending_free);
    g_ptr_array_unref(fp->routes);
    g_ptr_array_unref(fp->requests);
    g_free(fp);
}

/* --- scripting ---------------------------------------------------------------- */

static Route *
route_get(FakePeer *fp, const char *method, const char *path)
{
    Route *r;

    for (guint i = 0; i < fp->routes->len; i++) {
        r = g_ptr_array_index(fp->routes, i);
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
            return r;
    }
    r = g_new0(Route, 1);
    r->method = g_strdup(method);
    r->path = g_strdup(path);
    g_queue_init(&r->answers);
    g_ptr_array_add(fp->routes, r);
    return r;
}

static void
script(FakePeer *fp, const char *method, const char *path, AnswerKind kind, guint status,
       char *body)
{
    Route *r = route_get(fp, method, path);
    Answer *a = g_new0(Answer, 1), *last = g_queue_peek_tail(&r->answers);

    if (last && last->used)
        answer_free(g_queue_pop_tail(&r->answers));
    a->kind = kind;
    a->status = status;
    a->body = body;
    g_queue_push_tail(&r->answers, a);
}

void
fake_peer_answer(FakePeer *fp, const char *method, const char *path, guint status,
                 const char *body)
{
    script(fp, method, path, ANSWER_HTTP, status, g_strdup(body));
}

static char *
error_body(MigdErrorCode code, const char *message)
{
    g_autoptr(json_t) envelope = migd_error_to_json(code, message);

    return json_dumps(envelope, JSON_COMPACT);
}

void
fake_peer_error(FakePeer *fp, const char *method, const char *path, MigdErrorCode code,
                const char *message)
{
    script(fp, method, path, ANSWER_HTTP, migd_error_code_to_http_status(code),
           error_body(code, message));
}

void
fake_peer_timeout(FakePeer *fp, const char *method, const char *path)
{
    script(fp, method, path, ANSWER_TIMEOUT, 0, NULL);
}

void
fake_peer_refused(FakePeer *fp, const char *method, const char *path)
{
    script(fp, method, path, ANSWER_REFUSED, 0, NULL);
}

void
fake_peer_hold(FakePeer *fp, const char *method, const char *path)
{
    script(fp, method, path, ANSWER_HOLD, 0, NULL);
}

/* --- matching ----------------------------------------------------------------- */

static gboolean
path_matches(const char *pattern, const char *path)
{
    gsize n = strlen(pattern);

    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, path, n - 1) == 0;
    return strcmp(pattern, path) == 0;
}

/* The route for a request: an exact one, else the first pattern. */
static Route *
route_match(FakePeer *fp, const char *method, const char *path)
{
    Route *pattern = NULL;

    for (guint i = 0; i < fp->routes->len; i++) {
        Route *r = g_ptr_array_index(fp->routes, i);

        if (strcmp(r->method, method) != 0 || !path_matches(r->path, path))
            continue;
        if (strcmp(r->path, path) == 0)
            return r;
        if (!pattern)
            pattern = r;
    }
    return pattern;
}

guint
fake_peer_count(FakePeer *fp, const char *method, const char *path)
{
    guint n = 0;

    for (guint i = 0; i < fp->requests->len; i++) {
        FakePeerRequest *q = g_ptr_array_index(fp->requests, i);

        n += strcmp(q->method, method) == 0 && path_matches(path, q->path);
    }
    return n;
}

const FakePeerRequest *
fake_peer_last(FakePeer *fp, const char *method, const char *path)
{
    for (guint i = fp->requests->len; i > 0; i--) {
        FakePeerRequest *q = g_ptr_array_index(fp->requests, i - 1);

        if (strcmp(q->method, method) == 0 && path_matches(path, q->path))
            return q;
    }
    return NULL;
}

GPtrArray *
fake_peer_requests(FakePeer *fp)
{
    return fp->requests;
}

/* --- delivery ------------------------------------------------------------------ */

/* libcurl 7.88's words for a failed transfer, as peer_call() passes them. */
static char *
transport_error(const Pending *c)
{
    g_autoptr(GUri) uri = NULL;

    if (c->kind == ANSWER_TIMEOUT || c->kind == ANSWER_HOLD)
        return g_strdup_printf("Operation timed out after %u milliseconds with 0 bytes received",
                               c->timeout_ms);
    uri = g_uri_parse(c->base_url, G_URI_FLAGS_NONE, NULL);
    return g_strdup_printf("Failed to connect to %s port %d after 0 ms: Couldn't connect to "
                           "server", uri && g_uri_get_host(uri) ? g_uri_get_host(uri) : "?",
                           uri && g_uri_get_port(uri) > 0 ? g_uri_get_port(uri) : 80);
}

static void
deliver(Pending *c)
{
    g_autoptr(json_t) body = NULL;
    g_autofree char *error = NULL;

    if (c->cancellable && g_cancellable_is_cancelled(c->cancellable))
        return;
    if (c->kind == ANSWER_HTTP && c->body)
        body = json_loads(c->body, 0, NULL);
    else if (c->kind != ANSWER_HTTP)
        error = transport_error(c);
    c->reply(c->kind == ANSWER_HTTP ? c->status : 0, body, error, c->data);
}

static gboolean
deliveries_drain(gpointer data)
{
    FakePeer *fp = data;
    Pending *c;

    fp->idle = 0;
    /* A reply may call again; its answer joins this queue. */
    while ((c = g_queue_pop_head(&fp->deliveries))) {
        deliver(c);
        pending_free(c);
    }
    return G_SOURCE_REMOVE;
}

static void
queue_delivery(FakePeer *fp, Pending *c)
{
    g_queue_push_tail(&fp->deliveries, c);
    if (!fp->idle)
        fp->idle = g_idle_add(deliveries_drain, fp);
}

guint
fake_peer_held(FakePeer *fp)
{
    return g_queue_get_length(&fp->held);
}

guint
fake_peer_release(FakePeer *fp)
{
    guint n = g_queue_get_length(&fp->held);
    Pending *c;

    while ((c = g_queue_pop_head(&fp->held)))
        queue_delivery(fp, c);
    return n;
}

void
fake_peer_flush(FakePeer *fp)
{
    while (!g_queue_is_empty(&fp->deliveries))
        (void)g_main_context_iteration(NULL, TRUE);
}

static void
record(FakePeer *fp, const char *base_url, const char *token, const char *method,
       const char *path, json_t *body, guint timeout_ms)
{
    FakePeerRequest *q = g_new0(FakePeerRequest, 1);

    q->base_url = g_strdup(base_url);
    q->token = g_strdup(token);
    q->method = g_strdup(method);
    q->path = g_strdup(path);
    q->body = body ? json_deep_copy(body) : NULL;
    q->timeout_ms = timeout_ms;
    g_ptr_array_add(fp->requests, q);
}

/* peer_call() in the fake: must be called on the loop's thread, as the
 * steps do. */
static void
fake_peer_call(const PeerOps *ops, const char *base_url, const char *token, const char *method,
               const char *path, json_t *body, guint timeout_ms, GCancellable *cancellable,
               PeerReply reply, gpointer data)
{
    FakePeer *fp = ops->data;
    g_autofree char *url = g_strconcat(base_url, path, NULL);
    Route *exact = route_match(fp, method, url);
    Route *r = exact && strcmp(exact->path, url) == 0 ? exact : route_match(fp, method, path);
    Answer *a = r ? g_queue_peek_head(&r->answers) : NULL;
    Pending *c = g_new0(Pending, 1);

    record(fp, base_url, token, method, path, body, timeout_ms);
    c->base_url = g_strdup(base_url);
    c->timeout_ms = timeout_ms;
    c->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    c->reply = reply;
    c->data = data;
    if (a) {
        c->kind = a->kind;
        c->status = a->status;
        c->body = g_strdup(a->body);
        if (g_queue_get_length(&r->answers) > 1)
            answer_free(g_queue_pop_head(&r->answers));
        else
            a->used = TRUE;
    } else {
        c->kind = ANSWER_HTTP;
        c->status = 404;
        g_autofree char *message = g_strdup_printf("there is no endpoint at %s; the API is "
                                                   "described in the README", path);

        c->body = error_body(MIGD_ERROR_NOT_FOUND, message);
    }
    if (c->kind == ANSWER_HOLD)
        g_queue_push_tail(&fp->held, c);
    else
        queue_delivery(fp, c);
}
