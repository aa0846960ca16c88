/* Tests of the REST API's routing, validation and bodies, against libvirt's
 * test driver (a real libvirt connection, in process). */
#include <config.h>

#include <string.h>

#include "api.h"
#include "testutil.h"

typedef struct {
    GMainLoop *loop;
    gboolean connected;
    gboolean reported;
} StateWait;

static void
on_state(Virt *virt, gboolean connected, gpointer data)
{
    StateWait *wait = data;

    wait->connected = connected;
    wait->reported = TRUE;
    g_main_loop_quit(wait->loop);
}

static gboolean
on_timeout(gpointer data)
{
    g_error("libvirt did not report a connection state within 10 s");
    return G_SOURCE_REMOVE;
}

/* A Virt on @uri whose first connect attempt has finished, either way. */
static Virt *
virt_settled(const char *uri, StateWait *wait)
{
    VirtOptions options = { .keepalive_interval = 0, .keepalive_count = 1, .reconnect_max = 60 };
    Virt *virt;
    guint guard;

    wait->loop = g_main_loop_new(NULL, FALSE);
    virt = virt_new(uri, &options, on_state, wait);
    virt_start(virt);
    guard = g_timeout_add_seconds(10, on_timeout, NULL);
    g_main_loop_run(wait->loop);
    g_source_remove(guard);
    g_main_loop_unref(wait->loop);
    g_assert_true(wait->reported);
    return virt;
}

static json_t *
request(Api *api, const char *method, const char *path, const char *body, guint expect_status,
        HttpResponse *resp)
{
    HttpRequest req = {
        .method = method,
        .path = path,
        .body = body ? body : "",
        .body_len = body ? strlen(body) : 0,
    };

    api_handle(&req, resp, api);
    g_assert_cmpuint(resp->status, ==, expect_status);
    g_assert_nonnull(resp->body);
    return resp->body;
}

static void
assert_error(json_t *body, const char *code, const char *message_part)
{
    const char *got_code = NULL, *message = NULL;

    g_assert_cmpint(json_unpack(body, "{s:{s:s,s:s}}", "error", "code", &got_code, "message",
                                &message), ==, 0);
    g_assert_cmpstr(got_code, ==, code);
    if (!strstr(message, message_part))
        g_test_message("message '%s' lacks '%s'", message, message_part);
    g_assert_nonnull(strstr(message, message_part));
}

typedef struct {
    StateWait wait;
    Virt *virt;
    Api *api;
    MigdConf *conf;
    HttpResponse resp;
} Fixture;

static void
fixture_connected(Fixture *f, gconstpointer data)
{
    f->virt = virt_settled("test:///default", &f->wait);
    g_assert_true(f->wait.connected);
    f->conf = conf_new_defaults();
    f->api = api_new(f->virt, NULL, f->conf);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    http_response_clear(&f->resp);
    api_free(f->api);
    conf_free(f->conf);
    virt_free(f->virt);
    g_assert_cmpuint(test_log_count(), ==, 0);
}

static void
test_version(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/version", NULL, 200, &f->resp);
    const char *version, *api, *library, *hypervisor;

    g_assert_cmpint(json_unpack(body, "{s:s,s:s,s:{s:s,s:s}}", "version", &version, "api", &api,
                                "libvirt", "library", &library, "hypervisor", &hypervisor), ==, 0);
    g_assert_cmpstr(version, ==, PACKAGE_VERSION);
    g_assert_cmpstr(api, ==, "v1");
    g_assert_true(g_str_has_prefix(library, "9.") || g_str_has_prefix(library, "1"));
    g_assert_true(g_str_has_prefix(hypervisor, "TEST "));
}

static void
test_health_ok(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/health", NULL, 200, &f->resp);
    const char *status, *uri;
    int connected;
    json_t *since, *error;

    g_assert_cmpint(json_unpack(body, "{s:s,s:{s:s,s:b,s:o}}", "status", &status, "libvirt",
                                "uri", &uri, "connected", &connected, "since", &since), ==, 0);
    g_assert_cmpstr(status, ==, "ok");
    g_assert_cmpstr(uri, ==, "test:///default");
    g_assert_true(connected);
    g_assert_true(json_is_string(since));
    error = json_object_get(body, "error");
    g_assert_null(error);
}

static void
test_health_degraded(void)
{
    StateWait wait = { 0 };
    g_autoptr(Virt) virt = NULL;
    g_autoptr(Api) api = NULL;
    g_autoptr(MigdConf) conf = NULL;
    HttpResponse resp = { 0 };
    json_t *body;
    const char *status, *last_error;
    int connected, attempts;

    virt = virt_settled("test:///no/such/driver-file.xml", &wait);
    /* The first failure is logged once as a warning that names the URI. */
    g_assert_true(test_log_has("cannot connect to test:///no/such/driver-file.xml:*retrying*"));
    g_assert_cmpuint(test_log_count(), ==, 1);
    test_log_clear();
    conf = conf_new_defaults();
    api = api_new(virt, NULL, conf);
    g_assert_false(wait.connected);
    body = request(api, "GET", "/v1/health", NULL, 503, &resp);
    g_assert_cmpint(json_unpack(body, "{s:s,s:{s:b,s:s,s:i}}", "status", &status, "libvirt",
                                "connected", &connected, "last_error", &last_error,
                                "reconnect_attempts", &attempts), ==, 0);
    g_assert_cmpstr(status, ==, "degraded");
    g_assert_false(connected);
    g_assert_nonnull(strstr(last_error, "test:///no/such/driver-file.xml"));
    g_assert_cmpint(attempts, >=, 1);
    assert_error(body, "libvirt_disconnected", "test:///no/such/driver-file.xml");
    http_response_clear(&resp);
}

static void
test_unknown_path(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/nothing-here", NULL, 404, &f->resp);

    assert_error(body, "not_found", "/v1/nothing-here");
}

static void
test_wrong_method(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "DELETE", "/v1/health", NULL, 405, &f->resp);

    assert_error(body, "method_not_allowed", "DELETE");
    g_assert_cmpstr(f->resp.allow, ==, "GET");
}

/* A method that is not an HTTP token (here not even UTF-8) still gets the
 * 405 and its envelope, which does not quote it. */
static void
test_method_not_a_token(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "G\xffT", "/v1/health", NULL, 405, &f->resp);

    assert_error(body, "method_not_allowed", "not an HTTP method name; use GET");
    g_assert_cmpstr(f->resp.allow, ==, "GET");
    http_response_clear(&f->resp);
    body = request(f->api, "GET /", "/v1/health", NULL, 405, &f->resp);
    assert_error(body, "method_not_allowed", "not an HTTP method name");
    http_response_clear(&f->resp);
    body = request(f->api, "\xc3", "/v1/nothing-here", NULL, 404, &f->resp);
    assert_error(body, "not_found", "/v1/nothing-here");
}

/* A 401 says how to authenticate, as RFC 9110 has it. */
static void
test_unauthenticated_challenge(Fixture *f, gconstpointer data)
{
    HttpRequest req = { .method = "POST", .path = "/v1/migrations", .body = "", .remote = TRUE,
                        .client = "192.0.2.1:4000" };

    api_handle(&req, &f->resp, f->api);
    g_assert_cmpuint(f->resp.status, ==, 401);
    assert_error(f->resp.body, "unauthenticated", "POST /v1/migrations was refused");
    g_assert_nonnull(f->resp.headers);
    g_assert_cmpstr(f->resp.headers[0], ==, "WWW-Authenticate");
    g_assert_cmpstr(f->resp.headers[1], ==, "Bearer realm=\"migd\"");
    g_assert_null(f->resp.headers[2]);
}

/* Whatever a message quotes, the envelope is made, as valid UTF-8. */
static void
test_envelope_not_utf8(void)
{
    g_autoptr(json_t) body = migd_error_to_json(MIGD_ERROR_INVALID_ARGUMENT, "bad \xff\xfe byte");

    g_assert_nonnull(body);
    assert_error(body, "invalid_argument", "bad \xef\xbf\xbd");
}

static void
test_malformed_json(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/version", "{\"a\": 1,\n \"b\": }", 400, &f->resp);

    assert_error(body, "invalid_json", "line 2");
}

static void
test_duplicate_key_json(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/version", "{\"a\": 1, \"a\": 2}", 400, &f->resp);

    assert_error(body, "invalid_json", "duplicate");
}

static void
test_body_where_none_belongs(Fixture *f, gconstpointer data)
{
    json_t *body = request(f->api, "GET", "/v1/health", "{}", 400, &f->resp);

    assert_error(body, "invalid_argument", "takes no request body");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
    virt_global_init();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_connected, fn, fixture_teardown)
    ADD("/api/version", test_version);
    ADD("/api/health/ok", test_health_ok);
    ADD("/api/unknown-path", test_unknown_path);
    ADD("/api/wrong-method", test_wrong_method);
    ADD("/api/method-not-a-token", test_method_not_a_token);
    ADD("/api/unauthenticated-challenge", test_unauthenticated_challenge);
    ADD("/api/malformed-json", test_malformed_json);
    ADD("/api/duplicate-key-json", test_duplicate_key_json);
    ADD("/api/body-where-none-belongs", test_body_where_none_belongs);
#undef ADD
    g_test_add_func("/api/health/degraded", test_health_degraded);
    g_test_add_func("/api/envelope-not-utf8", test_envelope_not_utf8);
    return g_test_run();
}
