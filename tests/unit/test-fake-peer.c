/* The scripted destination answers as peer_call() does: on the loop, never
 * after a cancel, with libcurl's words for a transport failure and migd's
 * error envelope for a refusal; it records what it was asked. */
#include <config.h>

#include <string.h>

#include "fake-peer.h"

#define URL "http://10.200.0.2:7480"

typedef struct {
    guint calls;
    guint status;
    char *body;                 /* the answer's JSON, compact */
    char *error;
    char *message;              /* peer_error_message() of it */
    gboolean on_main_thread;
} Reply;

static void
on_reply(guint status, json_t *body, const char *error, gpointer data)
{
    Reply *r = data;

    r->calls++;
    r->status = status;
    g_free(r->body);
    r->body = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    g_free(r->error);
    r->error = g_strdup(error);
    g_free(r->message);
    r->message = peer_error_message(URL, status, body, error);
    r->on_main_thread = g_main_context_is_owner(g_main_context_default());
}

static void
reply_clear(Reply *r)
{
    g_free(r->body);
    g_free(r->error);
    g_free(r->message);
    memset(r, 0, sizeof(*r));
}

static void
ask(FakePeer *fp, const char *method, const char *path, json_t *body, GCancellable *cancel,
    Reply *r)
{
    guint before = r->calls;

    peer_call(URL, "s3cret", method, path, body, 10000, cancel, on_reply, r);
    g_assert_cmpuint(r->calls, ==, before);    /* never before the call returned */
    fake_peer_flush(fp);
}

static void
test_answer_and_record(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(json_t) body = json_pack("{s:s,s:[{s:s}]}", "domain", "labvm", "nics", "pool", "p");
    const FakePeerRequest *q;
    Reply r = { 0 };

    fake_peer_answer(fp, "POST", "/v1/reservations", 201, "{\"id\":\"r1\",\"nics\":[]}");
    ask(fp, "POST", "/v1/reservations", body, NULL, &r);
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_cmpuint(r.status, ==, 201);
    g_assert_cmpstr(r.body, ==, "{\"id\":\"r1\",\"nics\":[]}");
    g_assert_null(r.error);
    g_assert_true(r.on_main_thread);
    q = fake_peer_last(fp, "POST", "/v1/reservations");
    g_assert_nonnull(q);
    g_assert_cmpstr(q->base_url, ==, URL);
    g_assert_cmpstr(q->token, ==, "s3cret");
    g_assert_cmpuint(q->timeout_ms, ==, 10000);
    g_assert_true(json_equal(q->body, body));
    g_assert_cmpuint(fake_peer_count(fp, "POST", "/v1/reservations*"), ==, 1);
    g_assert_cmpuint(fake_peer_count(fp, "DELETE", "/v1/reservations*"), ==, 0);
    reply_clear(&r);
}

/* A route with the peer's whole URL answers that peer only, before the
 * route by path that answers the others. */
static void
test_route_per_peer(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    Reply r = { 0 };

    fake_peer_answer(fp, "GET", "/v1/capacity", 200, "{\"who\":\"any\"}");
    fake_peer_answer(fp, "GET", URL "/v1/capacity", 200, "{\"who\":\"B\"}");
    ask(fp, "GET", "/v1/capacity", NULL, NULL, &r);
    g_assert_cmpstr(r.body, ==, "{\"who\":\"B\"}");
    reply_clear(&r);
    peer_call("http://10.200.0.3:7480", NULL, "GET", "/v1/capacity", NULL, 1000, NULL, on_reply,
              &r);
    fake_peer_flush(fp);
    g_assert_cmpstr(r.body, ==, "{\"who\":\"any\"}");
    g_assert_cmpuint(fake_peer_count(fp, "GET", "/v1/capacity"), ==, 2);
    reply_clear(&r);
}

/* A queue per route: each answer once, the last one for good. */
static void
test_answer_queue(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    Reply r = { 0 };

    fake_peer_error(fp, "POST", "/v1/reservations", MIGD_ERROR_BUSY, "2 of 2 incoming slots are taken");
    fake_peer_answer(fp, "POST", "/v1/reservations", 201, "{\"id\":\"r1\"}");
    ask(fp, "POST", "/v1/reservations", NULL, NULL, &r);
    g_assert_cmpuint(r.status, ==, 503);
    g_assert_cmpstr(r.body, ==, "{\"error\":{\"code\":\"busy\",\"message\":\"2 of 2 incoming slots are taken\"}}");
    g_assert_cmpstr(r.message, ==, "the migd at " URL " refused: 2 of 2 incoming slots are taken");
    for (int i = 0; i < 2; i++) {
        ask(fp, "POST", "/v1/reservations", NULL, NULL, &r);
        g_assert_cmpuint(r.status, ==, 201);
    }
    reply_clear(&r);
}

/* Each refusal a destination migd makes, with its status and code. */
static void
test_errors(void)
{
    static const struct {
        MigdErrorCode code;
        guint status;
        const char *name;
    } cases[] = {
        { MIGD_ERROR_UNAUTHENTICATED, 401, "unauthenticated" },
        { MIGD_ERROR_NOT_FOUND, 404, "not_found" },
        { MIGD_ERROR_NO_FREE_VF, 409, "no_free_vf" },
        { MIGD_ERROR_BUSY, 503, "busy" },
        { MIGD_ERROR_LIBVIRT_DISCONNECTED, 503, "libvirt_disconnected" },
        { MIGD_ERROR_SHUTTING_DOWN, 503, "shutting_down" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakePeer) fp = fake_peer_new();
        g_autofree char *code = NULL;
        Reply r = { 0 };

        fake_peer_error(fp, "POST", "/v1/reservations/*", cases[i].code, "why");
        ask(fp, "POST", "/v1/reservations/r1/prepare", NULL, NULL, &r);
        g_assert_cmpuint(r.status, ==, cases[i].status);
        code = g_strdup_printf("\"code\":\"%s\"", cases[i].name);
        g_assert_nonnull(strstr(r.body, code));
        reply_clear(&r);
    }
}

/* libcurl's words when nothing listens, and when no answer comes in time. */
static void
test_transport_failures(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    Reply r = { 0 };

    fake_peer_refused(fp, "POST", "/v1/reservations");
    ask(fp, "POST", "/v1/reservations", NULL, NULL, &r);
    g_assert_cmpuint(r.status, ==, 0);
    g_assert_null(r.body);
    g_assert_cmpstr(r.error, ==, "Failed to connect to 10.200.0.2 port 7480 after 0 ms: "
                                 "Couldn't connect to server");
    g_assert_cmpstr(r.message, ==, "the migd at " URL " did not answer: Failed to connect to "
                                   "10.200.0.2 port 7480 after 0 ms: Couldn't connect to server");
    fake_peer_timeout(fp, "POST", "/v1/reservations");
    ask(fp, "POST", "/v1/reservations", NULL, NULL, &r);
    g_assert_cmpuint(r.status, ==, 0);
    g_assert_cmpstr(r.error, ==, "Operation timed out after 10000 milliseconds with 0 bytes "
                                 "received");
    reply_clear(&r);
}

/* A frozen destination: no answer until the test lets the calls time out. */
static void
test_hold(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    Reply r = { 0 };

    fake_peer_hold(fp, "POST", "/v1/reservations/r1/replug");
    ask(fp, "POST", "/v1/reservations/r1/replug", NULL, NULL, &r);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpuint(r.calls, ==, 0);
    g_assert_cmpuint(fake_peer_release(fp), ==, 1);
    fake_peer_flush(fp);
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_cmpuint(r.status, ==, 0);
    reply_clear(&r);
}

/* As peer_call: no reply once the call's cancellable is cancelled. */
static void
test_cancel(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    Reply r = { 0 };

    fake_peer_answer(fp, "POST", "/v1/reservations", 201, "{\"id\":\"r1\"}");
    peer_call(URL, NULL, "POST", "/v1/reservations", NULL, 1000, cancel, on_reply, &r);
    g_cancellable_cancel(cancel);
    fake_peer_flush(fp);
    g_assert_cmpuint(r.calls, ==, 0);
    g_assert_cmpuint(fake_peer_count(fp, "POST", "/v1/reservations"), ==, 1);
    g_assert_null(fake_peer_last(fp, "POST", "/v1/reservations")->token);
}

/* What no route answers: migd's 404; an exact route wins over a pattern. */
static void
test_unscripted_and_patterns(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    Reply r = { 0 };

    fake_peer_answer(fp, "GET", "/v1/reservations/*", 200, "{\"id\":\"any\"}");
    fake_peer_answer(fp, "GET", "/v1/reservations/r2", 200, "{\"id\":\"r2\"}");
    ask(fp, "GET", "/v1/reservations/r2", NULL, NULL, &r);
    g_assert_cmpstr(r.body, ==, "{\"id\":\"r2\"}");
    ask(fp, "GET", "/v1/reservations/r9", NULL, NULL, &r);
    g_assert_cmpstr(r.body, ==, "{\"id\":\"any\"}");
    ask(fp, "DELETE", "/v1/reservations/r9", NULL, NULL, &r);
    g_assert_cmpuint(r.status, ==, 404);
    g_assert_nonnull(strstr(r.body, "\"not_found\""));
    reply_clear(&r);
}

/* Once the fake is gone, peer_call() is libcurl's again. */
static void
test_uninstalls(void)
{
    FakePeer *fp = fake_peer_new();

    g_assert_cmpstr(peer_ops()->name, ==, "fake");
    fake_peer_free(fp);
    g_assert_true(peer_ops() == peer_ops_curl());
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fake-peer/answer-and-record", test_answer_and_record);
    g_test_add_func("/fake-peer/answer-queue", test_answer_queue);
    g_test_add_func("/fake-peer/route-per-peer", test_route_per_peer);
    g_test_add_func("/fake-peer/errors", test_errors);
    g_test_add_func("/fake-peer/transport-failures", test_transport_failures);
    g_test_add_func("/fake-peer/hold", test_hold);
    g_test_add_func("/fake-peer/cancel", test_cancel);
    g_test_add_func("/fake-peer/unscripted-and-patterns", test_unscripted_and_patterns);
    g_test_add_func("/fake-peer/uninstalls", test_uninstalls);
    return g_test_run();
}
