/* Tests of http.c with real clients: libcurl on worker threads (and a raw
 * socket where a test must control the bytes) talks to an HttpServer on a
 * unix socket served by this thread's main loop. The .c is included to
 * shorten the keepalive period and to see when MHD has let a request go. */
#include <config.h>

#include <curl/curl.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.c"
#include "testutil.h"

/* Generous for ASan on a loaded machine; only a hang ever waits this long. */
#define WAIT_SECONDS 20

static gboolean
on_wait_expired(gpointer data)
{
    g_error("gave up after %d s waiting for %s", WAIT_SECONDS, (const char *)data);
    return G_SOURCE_REMOVE;
}

/* Runs the main loop until @cond holds; every wake-up is an event. */
#define WAIT_UNTIL(cond)                                                                 \
    G_STMT_START {                                                                       \
        guint guard_ = g_timeout_add_seconds(WAIT_SECONDS, on_wait_expired, (gpointer)#cond); \
        while (!(cond))                                                                  \
            (void)g_main_context_iteration(NULL, TRUE);                                  \
        g_source_remove(guard_);                                                         \
    } G_STMT_END

/* Dispatches whatever is ready without waiting, to catch late callbacks. */
static void
drain_main_loop(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* ---- the server side ---- */

typedef struct {
    char *dir;
    char *socket_path;
    HttpServer *server;
    guint closed_calls;
    HttpStream *stream;         /* the open stream, until closed */
    HttpDeferred *held;         /* a deferred request the test answers */
    guint script_step;          /* of the /events route */
} Fixture;

static const char *event_a = "event: a\ndata: 1\n\n";
static const char *event_b = "event: b\ndata: 2\n\n";
static const char *event_c = "event: c\ndata: {\"three\":3}\n\n";
static const char *event_hello = "event: hello\ndata: 1\n\n";

static void
stream_write_text(HttpStream *stream, const char *text)
{
    http_stream_write(stream, text, strlen(text));
}

static void
on_stream_closed(HttpStream *stream, gpointer data)
{
    Fixture *fx = data;

    g_assert_true(stream == fx->stream);
    fx->closed_calls++;
    fx->stream = NULL;
}

/* /events: one event from the handler, then one per main loop turn. */
static gboolean
on_events_script(gpointer data)
{
    Fixture *fx = data;

    g_assert_nonnull(fx->stream);
    if (fx->script_step++ == 0) {
        stream_write_text(fx->stream, event_b);
        return G_SOURCE_CONTINUE;
    }
    stream_write_text(fx->stream, event_c);
    http_stream_end(fx->stream);
    /* Ended streams ignore writes. */
    stream_write_text(fx->stream, event_a);
    return G_SOURCE_REMOVE;
}

static gboolean
on_deferred_due(gpointer data)
{
    HttpDeferred *deferred = data;
    HttpResponse resp = { .status = 202, .body = json_pack("{s:b}", "late", TRUE) };

    http_deferred_finish(deferred, &resp);
    g_assert_null(resp.body);
    return G_SOURCE_REMOVE;
}

static json_t *
query_to_json(GHashTable *query)
{
    json_t *obj = json_object();
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init(&iter, query);
    while (g_hash_table_iter_next(&iter, &key, &value))
        json_object_set_new(obj, key, json_string(value));
    return obj;
}

static void
test_handler(const HttpRequest *req, HttpResponse *resp, gpointer data)
{
    Fixture *fx = data;

    g_assert_nonnull(req->query);
    if (strcmp(req->path, "/echo") == 0) {
        resp->status = 200;
        resp->body = json_pack("{s:s,s:s,s:o}", "method", req->method, "body", req->body,
                               "query", query_to_json(req->query));
    } else if (strcmp(req->path, "/deferred") == 0) {
        (void)g_timeout_add(5, on_deferred_due, http_request_defer(req));
    } else if (strcmp(req->path, "/deferred-now") == 0) {
        on_deferred_due(http_request_defer(req));
    } else if (strcmp(req->path, "/deferred-held") == 0) {
        g_assert_null(fx->held);
        fx->held = http_request_defer(req);
    } else if (g_str_has_prefix(req->path, "/events")) {
        g_assert_null(fx->stream);
        fx->stream = http_request_stream(req, "text/event-stream", on_stream_closed, fx);
        if (strcmp(req->path, "/events") == 0) {
            stream_write_text(fx->stream, event_a);
            fx->script_step = 0;
            (void)g_idle_add(on_events_script, fx);
        } else if (strcmp(req->path, "/events-open") == 0) {
            stream_write_text(fx->stream, event_hello);
        }
        /* /events-quiet writes nothing. */
    } else {
        resp->status = 404;
        resp->body = json_pack("{s:s}", "path", req->path);
    }
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fx->dir = g_dir_make_tmp("test-http-XXXXXX", &error);
    g_assert_no_error(error);
    fx->socket_path = g_build_filename(fx->dir, "migd.sock", NULL);
    fx->server = http_server_new(test_handler, fx);
    g_assert_true(http_server_add_listener(fx->server, test_unix_listen(fx->socket_path), "test",
                                           &error));
    g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
    g_clear_pointer(&fx->server, http_server_free);
    g_assert_null(fx->stream);
    g_assert_null(fx->held);
    drain_main_loop();
    g_assert_cmpint(g_unlink(fx->socket_path), ==, 0);
    g_assert_cmpint(g_rmdir(fx->dir), ==, 0);
    g_free(fx->socket_path);
    g_free(fx->dir);
}

/* ---- the client side ---- */

typedef struct {
    const char *socket_path;
    const char *paths[2];       /* requested in turn over one connection */
    const char *post;           /* a body for the first request */
    const char *abandon_at;     /* give up once the body holds this */
    gboolean pause_at_first_data;

    GThread *thread;
    gint first_data;            /* atomic */
    gint done;                  /* atomic */
    GMutex lock;
    GCond cond;
    gboolean go_on;

    /* of the last request */
    CURLcode code;
    long status;
    long new_connections;
    GString *headers;
    GString *body;
} Client;

static size_t
client_on_header(char *data, size_t size, size_t n, void *cls)
{
    Client *client = cls;

    g_string_append_len(client->headers, data, (gssize)(size * n));
    return size * n;
}

static size_t
client_on_body(char *data, size_t size, size_t n, void *cls)
{
    Client *client = cls;

    g_string_append_len(client->body, data, (gssize)(size * n));
    if (client->pause_at_first_data && !g_atomic_int_get(&client->first_data)) {
        /* Stop reading until the test says so, as a slow client would. */
        g_atomic_int_set(&client->first_data, TRUE);
        g_main_context_wakeup(NULL);
        g_mutex_lock(&client->lock);
        while (!client->go_on)
            g_cond_wait(&client->cond, &client->lock);
        g_mutex_unlock(&client->lock);
    } else if (!g_atomic_int_get(&client->first_data)) {
        g_atomic_int_set(&client->first_data, TRUE);
        g_main_context_wakeup(NULL);
    }
    if (client->abandon_at && strstr(client->body->str, client->abandon_at))
        return 0;
    return size * n;
}

static gpointer
client_run(gpointer data)
{
    Client *client = data;
    CURL *curl = curl_easy_init();

    g_assert_nonnull(curl);
    (void)curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, client->socket_path);
    (void)curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, client_on_header);
    (void)curl_easy_setopt(curl, CURLOPT_HEADERDATA, client);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_on_body);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, client);
    for (guint i = 0; i < G_N_ELEMENTS(client->paths) && client->paths[i]; i++) {
        g_autofree char *url = g_strconcat("http://migd", client->paths[i], NULL);

        g_string_truncate(client->headers, 0);
        g_string_truncate(client->body, 0);
        (void)curl_easy_setopt(curl, CURLOPT_URL, url);
        if (i == 0 && client->post)
            (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, client->post);
        else
            (void)curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        client->code = curl_easy_perform(curl);
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &client->status);
        (void)curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &client->new_connections);
    }
    curl_easy_cleanup(curl);
    g_atomic_int_set(&client->done, TRUE);
    g_main_context_wakeup(NULL);
    return NULL;
}

static Client *
client_start(Fixture *fx, Client *client)
{
    client->socket_path = fx->socket_path;
    client->headers = g_string_new(NULL);
    client->body = g_string_new(NULL);
    g_mutex_init(&client->lock);
    g_cond_init(&client->cond);
    client->thread = g_thread_new("client", client_run, client);
    return client;
}

static void
client_go_on(Client *client)
{
    g_mutex_lock(&client->lock);
    client->go_on = TRUE;
    g_cond_signal(&client->cond);
    g_mutex_unlock(&client->lock);
}

static void
client_finish(Client *client)
{
    WAIT_UNTIL(g_atomic_int_get(&client->done));
    g_thread_join(client->thread);
    g_mutex_clear(&client->lock);
    g_cond_clear(&client->cond);
}

static void
client_clear(Client *client)
{
    g_string_free(client->headers, TRUE);
    g_string_free(client->body, TRUE);
}

static void
assert_header(const Client *client, const char *line)
{
    g_autofree char *lower_headers = g_ascii_strdown(client->headers->str, -1);
    g_autofree char *lower_line = g_ascii_strdown(line, -1);

    if (!strstr(lower_headers, lower_line))
        g_error("no '%s' in the headers:\n%s", line, client->headers->str);
}

static json_t *
body_json(const Client *client)
{
    json_error_t jerr;
    json_t *json = json_loads(client->body->str, 0, &jerr);

    if (!json)
        g_error("the body is not JSON (%s): %s", jerr.text, client->body->str);
    return json;
}

/* ---- the tests ---- */

static void
test_query_and_body(Fixture *fx, gconstpointer data)
{
    Client client = { .paths = { "/echo?a=1&flag&b=x%20y&a=2" }, .post = "hello" };
    json_t *json;

    client_finish(client_start(fx, &client));
    g_assert_cmpint(client.code, ==, CURLE_OK);
    g_assert_cmpint(client.status, ==, 200);
    assert_header(&client, "Content-Type: application/json\r\n");
    json = body_json(&client);
    g_assert_cmpstr(json_string_value(json_object_get(json, "method")), ==, "POST");
    g_assert_cmpstr(json_string_value(json_object_get(json, "body")), ==, "hello");
    json_object_del(json, "method");
    json_object_del(json, "body");
    {
        json_t *want = json_pack("{s:{s:s,s:s,s:s}}", "query", "a", "2", "flag", "", "b", "x y");

        if (!json_equal(json, want))
            g_error("unexpected answer: %s", client.body->str);
        json_decref(want);
    }
    json_decref(json);
    client_clear(&client);
}

/* Answered from a timeout source; the connection then serves another
 * request, so MHD was left in a sane state. */
static void
test_deferred(Fixture *fx, gconstpointer data)
{
    const char *paths[] = { "/deferred", "/deferred-now" };

    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        Client client = { .paths = { paths[i], "/echo?after=1" } };
        Client first = { .paths = { paths[i] } };
        json_t *json;

        client_finish(client_start(fx, &first));
        g_assert_cmpint(first.code, ==, CURLE_OK);
        g_assert_cmpint(first.status, ==, 202);
        assert_header(&first, "Content-Type: application/json\r\n");
        g_assert_cmpstr(first.body->str, ==, "{\"late\":true}\n");
        client_clear(&first);

        client_finish(client_start(fx, &client));
        g_assert_cmpint(client.code, ==, CURLE_OK);
        g_assert_cmpint(client.status, ==, 200);
        g_assert_cmpint(client.new_connections, ==, 0);
        json = body_json(&client);
        g_assert_cmpstr(json_string_value(json_object_get(json_object_get(json, "query"),
                                                          "after")), ==, "1");
        json_decref(json);
        client_clear(&client);
    }
}

typedef enum {
    GONE_CLOSE,                 /* close(): a hang-up */
    GONE_HALF_CLOSE,            /* shutdown(SHUT_WR): end of file only */
    GONE_AFTER_MORE_BYTES,      /* a pipelined start, then close() */
} GoneHow;

/* A deferred request whose client leaves: MHD lets it go at once, the
 * handler can tell, and the late answer only frees. */
static void
test_deferred_client_gone(Fixture *fx, gconstpointer data)
{
    GoneHow how = GPOINTER_TO_INT(data);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *request = "GET /deferred-held?x HTTP/1.1\r\nHost: migd\r\n\r\n";
    HttpResponse resp = { .status = 200, .body = json_object(), .allow = g_strdup("GET") };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    strcpy(addr.sun_path, fx->socket_path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(write(fd, request, strlen(request)), ==, (ssize_t)strlen(request));
    WAIT_UNTIL(fx->held);
    g_assert_nonnull(fx->held->ex);
    g_assert_false(http_deferred_client_gone(fx->held));
    switch (how) {
    case GONE_CLOSE:
        g_assert_cmpint(close(fd), ==, 0);
        break;
    case GONE_HALF_CLOSE:
        g_assert_cmpint(shutdown(fd, SHUT_WR), ==, 0);
        break;
    case GONE_AFTER_MORE_BYTES: {
        guint watch = fx->held->ex->peer_watch;

        g_assert_cmpint(write(fd, "GET /", 5), ==, 5);
        /* The server sees bytes, not a hang-up, and watches for one. */
        WAIT_UNTIL(fx->held->ex->peer_watch != watch);
        g_assert_nonnull(fx->held->ex);
        g_assert_cmpint(close(fd), ==, 0);
        break;
    }
    }
    /* What a handler asks before it makes anything last. */
    WAIT_UNTIL(http_deferred_client_gone(fx->held));
    WAIT_UNTIL(fx->held->ex == NULL);
    http_deferred_finish(g_steal_pointer(&fx->held), &resp);
    g_assert_null(resp.body);
    g_assert_null(resp.allow);
    if (how == GONE_HALF_CLOSE)
        g_assert_cmpint(close(fd), ==, 0);
}

typedef struct {
    GString *got;
    gboolean eof;
} GateClient;

static void
gate_refuses(const HttpRequest *req, HttpResponse *resp, gpointer data)
{
    g_assert_null(req->body);
    g_assert_true(req->body_announced);
    if (strcmp(req->path, "/gated") == 0)
        http_set_error(resp, MIGD_ERROR_UNAUTHENTICATED, "not you");
}

static gboolean
gate_client_on_read(int fd, GIOCondition condition, gpointer data)
{
    GateClient *client = data;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n > 0) {
        g_string_append_len(client->got, buf, n);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
    client->eof = TRUE;
    return G_SOURCE_REMOVE;
}

/* A request the gate refuses is answered from its headers, before the
 * body it announces is sent (it never is), and the handler never runs. */
static void
test_gate(Fixture *fx, gconstpointer data)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *request = "POST /gated HTTP/1.1\r\nHost: migd\r\nContent-Length: 1000\r\n\r\n";
    GateClient client = { .got = g_string_new(NULL) };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    http_server_set_gate(fx->server, gate_refuses);
    strcpy(addr.sun_path, fx->socket_path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(write(fd, request, strlen(request)), ==, (ssize_t)strlen(request));
    (void)g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, gate_client_on_read, &client);
    WAIT_UNTIL(client.eof);
    g_assert_true(g_str_has_prefix(client.got->str, "HTTP/1.1 401 "));
    g_assert_nonnull(strstr(client.got->str, "{\"error\":{\"code\":\"unauthenticated\""));
    g_assert_cmpint(close(fd), ==, 0);
    g_string_free(client.got, TRUE);
}

static void
test_stream(Fixture *fx, gconstpointer data)
{
    Client client = { .paths = { "/events" } };
    Client next = { .paths = { "/events", "/echo?after=1" } };
    g_autofree char *want = g_strconcat(event_a, event_b, event_c, NULL);
    json_t *json;

    client_finish(client_start(fx, &client));
    g_assert_cmpint(client.code, ==, CURLE_OK);
    g_assert_cmpint(client.status, ==, 200);
    assert_header(&client, "Content-Type: text/event-stream\r\n");
    assert_header(&client, "Cache-Control: no-cache\r\n");
    assert_header(&client, "Transfer-Encoding: chunked\r\n");
    g_assert_cmpstr(client.body->str, ==, want);
    WAIT_UNTIL(fx->closed_calls == 1);
    drain_main_loop();
    g_assert_cmpuint(fx->closed_calls, ==, 1);
    client_clear(&client);

    /* The connection then serves the next request. */
    client_finish(client_start(fx, &next));
    g_assert_cmpint(next.code, ==, CURLE_OK);
    g_assert_cmpint(next.status, ==, 200);
    g_assert_cmpint(next.new_connections, ==, 0);
    json = body_json(&next);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(json, "query"),
                                                      "after")), ==, "1");
    json_decref(json);
    g_assert_cmpuint(fx->closed_calls, ==, 2);
    client_clear(&next);
}

/* The client reads the first event and leaves while the stream is idle:
 * closed is called once, without waiting for a keepalive. */
static void
test_stream_abandoned(Fixture *fx, gconstpointer data)
{
    Client client = { .paths = { "/events-open" }, .abandon_at = "data: 1\n\n" };

    fx->server->keepalive_ms = 3600 * 1000;
    client_finish(client_start(fx, &client));
    g_assert_cmpint(client.code, ==, CURLE_WRITE_ERROR);
    g_assert_cmpstr(client.body->str, ==, event_hello);
    WAIT_UNTIL(fx->closed_calls == 1);
    drain_main_loop();
    g_assert_cmpuint(fx->closed_calls, ==, 1);
    client_clear(&client);
}

static void
test_stream_keepalive(Fixture *fx, gconstpointer data)
{
    Client client = { .paths = { "/events-quiet" },
                      .abandon_at = ": keepalive\n\n: keepalive\n\n" };

    fx->server->keepalive_ms = 20;
    client_finish(client_start(fx, &client));
    g_assert_cmpint(client.code, ==, CURLE_WRITE_ERROR);
    g_assert_cmpstr(client.body->str, ==, ": keepalive\n\n: keepalive\n\n");
    WAIT_UNTIL(fx->closed_calls == 1);
    client_clear(&client);
}

/* A client that stops reading: writes never block, and once the buffer is
 * full the stream ends with an error event after the events that fit. */
static void
test_stream_overflow(Fixture *fx, gconstpointer data)
{
    Client client = { .paths = { "/events-open" }, .pause_at_first_data = TRUE };
    g_autofree char *filler = g_strnfill(1000, 'x');
    g_autofree char *event = g_strdup_printf("event: fill\ndata: %s\n\n", filler);
    gsize event_len = strlen(event), written = 0;
    const char *tail;
    gsize events;

    client_start(fx, &client);
    WAIT_UNTIL(g_atomic_int_get(&client.first_data));
    while (!fx->stream->ended) {
        http_stream_write(fx->stream, event, event_len);
        written += event_len;
        g_assert_cmpuint(written, <, 8 * HTTP_STREAM_MAX_BUFFER);
        drain_main_loop();
    }
    client_go_on(&client);
    client_finish(&client);
    g_assert_cmpint(client.code, ==, CURLE_OK);
    g_assert_true(g_str_has_prefix(client.body->str, event_hello));
    tail = g_strrstr(client.body->str, "event: error\n");
    g_assert_nonnull(tail);
    g_assert_true(g_str_has_prefix(tail, "event: error\ndata: {\"error\":{\"code\":"
                                         "\"payload_too_large\",\"message\":\"the client fell "
                                         "4194304 bytes behind"));
    g_assert_true(g_str_has_suffix(tail, "\"}}\n\n"));
    /* Whole events only, every one that was not dropped. */
    g_assert_cmpuint((gsize)(tail - client.body->str - strlen(event_hello)) % event_len, ==, 0);
    events = (gsize)(tail - client.body->str - strlen(event_hello)) / event_len;
    g_assert_cmpuint(events * event_len, ==, written - event_len);
    g_assert_cmpuint(written - event_len, >, HTTP_STREAM_MAX_BUFFER - event_len);
    WAIT_UNTIL(fx->closed_calls == 1);
    client_clear(&client);
}

/* Freeing the server ends the streams (closed is called before it returns)
 * and answers the deferred requests; their HttpDeferred outlive it. */
static void
test_shutdown(Fixture *fx, gconstpointer data)
{
    Client streamer = { .paths = { "/events-open" } };
    Client waiter = { .paths = { "/deferred-held" } };
    HttpResponse resp = { .status = 200, .body = json_object() };
    json_t *json;

    client_start(fx, &streamer);
    client_start(fx, &waiter);
    WAIT_UNTIL(g_atomic_int_get(&streamer.first_data) && fx->held);
    g_clear_pointer(&fx->server, http_server_free);
    g_assert_cmpuint(fx->closed_calls, ==, 1);
    g_assert_null(fx->held->ex);
    http_deferred_finish(g_steal_pointer(&fx->held), &resp);
    client_finish(&streamer);
    client_finish(&waiter);
    g_assert_cmpint(streamer.code, ==, CURLE_OK);
    g_assert_cmpstr(streamer.body->str, ==, event_hello);
    g_assert_cmpint(waiter.code, ==, CURLE_OK);
    g_assert_cmpint(waiter.status, ==, 503);
    json = body_json(&waiter);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(json, "error"), "code")),
                    ==, "shutting_down");
    json_decref(json);
    client_clear(&streamer);
    client_clear(&waiter);
}

#define ADD(name, func, data) \
    g_test_add(name, Fixture, data, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(curl_global_init(CURL_GLOBAL_DEFAULT), ==, CURLE_OK);
    ADD("/http/query-and-body", test_query_and_body, NULL);
    ADD("/http/deferred", test_deferred, NULL);
    ADD("/http/deferred/client-closes", test_deferred_client_gone, GINT_TO_POINTER(GONE_CLOSE));
    ADD("/http/deferred/client-half-closes", test_deferred_client_gone,
        GINT_TO_POINTER(GONE_HALF_CLOSE));
    ADD("/http/deferred/client-pipelines-then-closes", test_deferred_client_gone,
        GINT_TO_POINTER(GONE_AFTER_MORE_BYTES));
    ADD("/http/gate", test_gate, NULL);
    ADD("/http/stream", test_stream, NULL);
    ADD("/http/stream/abandoned", test_stream_abandoned, NULL);
    ADD("/http/stream/keepalive", test_stream_keepalive, NULL);
    ADD("/http/stream/overflow", test_stream_overflow, NULL);
    ADD("/http/shutdown", test_shutdown, NULL);
    rc = g_test_run();
    curl_global_cleanup();
    return rc;
}
