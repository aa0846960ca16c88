/* REST v1 endpoints. Every failure is an error envelope with a stable code
 * and a sentence that names what was wrong. */
#include <config.h>

#include <string.h>

#include "api-priv.h"

typedef void (*ApiHandlerFunc)(Api *api, const ApiRequest *req, HttpResponse *resp);

typedef struct {
    const char *method;
    const char *path;
    ApiHandlerFunc handler;
    gboolean takes_body;
    ApiClaim claim;     /* which peer it speaks for, checked against a client certificate */
    gboolean shipped;   /* a file shipped with migd (the status page): read without a credential */
} ApiRoute;

/* What a 401 must say (RFC 9110): how to authenticate, here the peer
 * token as a bearer token. */
static const char *const api_challenge[] = { "WWW-Authenticate", "Bearer realm=\"migd\"", NULL };

void
api_set_error(HttpResponse *resp, MigdErrorCode code, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    http_response_clear(resp);
    resp->status = migd_error_code_to_http_status(code);
    resp->body = migd_error_to_json(code, message);
    if (code == MIGD_ERROR_UNAUTHENTICATED)
        resp->headers = api_challenge;
}

static json_t *
api_json_time(GDateTime *time)
{
    g_autofree char *text = NULL;

    if (!time)
        return json_null();
    text = g_date_time_format_iso8601(time);
    return json_string(text);
}

static void
api_get_version(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    unsigned long lib = 0;
    g_autofree char *library = NULL;

    (void)virGetVersion(&lib, NULL, NULL);
    library = g_strdup_printf("%lu.%lu.%lu", lib / 1000000, lib / 1000 % 1000, lib % 1000);
    resp->status = 200;
    resp->body = json_pack("{s:s,s:s,s:{s:s,s:o}}", "version", PACKAGE_VERSION, "api", "v1",
                           "libvirt", "library", library, "hypervisor",
                           json_string_or_null(virt_hypervisor(api->virt)));
}

static void
api_get_health(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    gboolean connected = virt_is_connected(api->virt);
    gint64 uptime = (g_get_monotonic_time() - api->started) / G_USEC_PER_SEC;

    resp->body = json_pack("{s:s,s:I,s:{s:s,s:b,s:o,s:o,s:i,s:o}}",
                           "status", connected ? "ok" : "degraded",
                           "uptime_seconds", (json_int_t)uptime,
                           "libvirt",
                           "uri", virt_uri(api->virt),
                           "connected", connected,
                           "since", api_json_time(virt_state_since(api->virt)),
                           "last_error", json_string_or_null(virt_last_error(api->virt)),
                           "reconnect_attempts", (int)virt_reconnect_attempts(api->virt),
                           "hypervisor", json_string_or_null(virt_hypervisor(api->virt)));
    if (connected) {
        resp->status = 200;
        return;
    }
    /* Probes read the status code; people and migctl read the envelope. */
    resp->status = migd_error_code_to_http_status(MIGD_ERROR_LIBVIRT_DISCONNECTED);
    json_object_set_new(resp->body, "error",
                        json_pack("{s:s,s:s++}", "code",
                                  migd_error_code_to_string(MIGD_ERROR_LIBVIRT_DISCONNECTED),
                                  "message", "migd is not connected to libvirt at ",
                                  virt_uri(api->virt), "; migrations cannot start until it is"));
}

/* '*' in a path stands for one segment: the job's id (a file's name under /ui/). */
static const ApiRoute api_routes[] = {
    { "GET", "/v1/version", api_get_version, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/health", api_get_health, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/openapi.json", api_get_openapi, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/migrations", api_list_migrations, FALSE, API_CLAIM_NONE, FALSE },
    { "POST", "/v1/migrations", api_create_migration, TRUE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/migrations/*", api_get_migration, FALSE, API_CLAIM_NONE, FALSE },
    { "POST", "/v1/migrations/*/cancel", api_cancel_migration, FALSE, API_CLAIM_NONE, FALSE },
    { "POST", "/v1/migrations/*/force-complete", api_force_complete_migration, FALSE,
      API_CLAIM_NONE, FALSE },
    { "GET", "/v1/migrations/*/events", api_migration_events, FALSE, API_CLAIM_NONE, FALSE },
    { "POST", "/v1/drain", api_create_drain, TRUE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/drains", api_list_drains, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/drains/*", api_get_drain, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/vfs", api_list_vfs, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/capacity", api_get_capacity, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/reservations", api_list_reservations, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/reservations/*", api_get_reservation, FALSE, API_CLAIM_NONE, FALSE },
    { "POST", "/v1/reservations", api_create_reservation, TRUE, API_CLAIM_BODY, FALSE },
    { "POST", "/v1/reservations/*/prepare", api_prepare_reservation, TRUE,
      API_CLAIM_RESERVATION, FALSE },
    { "POST", "/v1/reservations/*/renew", api_renew_reservation, FALSE,
      API_CLAIM_RESERVATION, FALSE },
    { "POST", "/v1/reservations/*/replug", api_replug_reservation, FALSE,
      API_CLAIM_RESERVATION, FALSE },
    { "POST", "/v1/reservations/*/switchover", api_switchover_reservation, FALSE,
      API_CLAIM_RESERVATION, FALSE },
    { "POST", "/v1/reservations/*/resume", api_resume_reservation, FALSE,
      API_CLAIM_RESERVATION, FALSE },
    { "DELETE", "/v1/reservations/*", api_release_reservation, FALSE,
      API_CLAIM_RESERVATION, FALSE },
    { "POST", "/v1/hooks/qemu", api_qemu_hook, TRUE, API_CLAIM_NONE, FALSE },
    { "GET", "/v1/plugins", api_list_plugins, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/metrics", api_get_metrics, FALSE, API_CLAIM_NONE, FALSE },
    { "GET", "/ui", api_ui_redirect, FALSE, API_CLAIM_NONE, TRUE },
    { "GET", "/ui/", api_ui_index, FALSE, API_CLAIM_NONE, TRUE },
    { "GET", "/ui/*", api_ui_file, FALSE, API_CLAIM_NONE, TRUE },
};

/* Whether @path matches @pattern; the segment under '*' goes to @ret_id.
 * Walks both in place: it runs for every route of every request. */
static gboolean
api_path_match(const char *pattern, const char *path, char **ret_id)
{
    const char *id = NULL;
    gsize id_len = 0;

    while (*pattern && *path) {
        gsize seg = strcspn(path, "/");

        if (pattern[0] == '*' && (pattern[1] == '/' || pattern[1] == '\0')) {
            if (seg == 0)
                return FALSE;
            id = path;
            id_len = seg;
            pattern++;
        } else {
            if (strncmp(pattern, path, seg) != 0 || (pattern[seg] != '/' && pattern[seg] != '\0'))
                return FALSE;
            pattern += seg;
        }
        path += seg;
        if (*pattern != *path)
            return FALSE;
        if (*pattern == '/') {
            pattern++;
            path++;
        }
    }
    if (*pattern || *path)
        return FALSE;
    if (ret_id && id)
        *ret_id = g_strndup(id, id_len);
    return TRUE;
}

/* Whether @method is an HTTP method name (RFC 9110's token): what else
 * a client sends there is not quoted back. */
static gboolean
api_method_is_token(const char *method)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    return method[0] && method[strspn(method, tchar)] == '\0';
}

/* The route for @req, or NULL with @resp set to the 404 or 405 it deserves. */
static const ApiRoute *
api_route(const HttpRequest *req, HttpResponse *resp)
{
    g_autoptr(GString) allow = g_string_new(NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(api_routes); i++) {
        if (!api_path_match(api_routes[i].path, req->path, NULL))
            continue;
        if (strcmp(api_routes[i].method, req->method) == 0)
            return &api_routes[i];
        g_string_append_printf(allow, "%s%s", allow->len ? ", " : "", api_routes[i].method);
    }
    if (allow->len == 0) {
        api_set_error(resp, MIGD_ERROR_NOT_FOUND,
                      "there is no endpoint at %s; the API is described in the README", req->path);
        return NULL;
    }
    if (api_method_is_token(req->method))
        api_set_error(resp, MIGD_ERROR_METHOD_NOT_ALLOWED, "%s does not accept %s; use %s",
                      req->path, req->method, allow->str);
    else
        api_set_error(resp, MIGD_ERROR_METHOD_NOT_ALLOWED,
                      "%s does not accept the method sent, which is not an HTTP method name; "
                      "use %s", req->path, allow->str);
    resp->allow = g_string_free(g_steal_pointer(&allow), FALSE);
    return NULL;
}

/* Parses the body: bad JSON is refused wherever it is sent, and a body sent
 * where none belongs is refused rather than ignored. */
static gboolean
api_parse_body(const ApiRoute *route, const HttpRequest *req, json_t **ret_json,
               HttpResponse *resp)
{
    json_error_t jerr;
    json_t *json;

    *ret_json = NULL;
    if (req->body_len == 0)
        return TRUE;
    json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        api_set_error(resp, MIGD_ERROR_INVALID_JSON,
                      "the request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                      jerr.line, jerr.column);
        return FALSE;
    }
    if (!route->takes_body) {
        json_decref(json);
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT, "%s %s takes no request body",
                      req->method, req->path);
        return FALSE;
    }
    *ret_json = json;
    return TRUE;
}

/* Whether @a and @b are equal, in a time that does not tell how much of a
 * guess was right. */
static gboolean
api_token_equal(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    guint diff = la != lb;

    for (gsize i = 0; i < la; i++)
        diff |= (guint)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* What a TCP client may send to prove who it is, for messages. */
static const char *
api_credential_kinds(const Api *api)
{
    if (api->conf->tls_ca && api->conf->peer_token)
        return "a client certificate signed by tls_ca, or the peer token "
               "(\"Authorization: Bearer TOKEN\", TOKEN from peer_token_file)";
    if (api->conf->tls_ca)
        return "a client certificate signed by tls_ca";
    return "the peer token (\"Authorization: Bearer TOKEN\", TOKEN from peer_token_file)";
}

/* The unix socket is guarded by its file mode. Over TCP a change needs a
 * credential: a client certificate that tls_ca signed, or the peer token
 * the hosts share; so does reading, unless tcp_read = open, or unless what
 * is read is the status page's own files, which hold nothing of this host
 * (the page then asks for the token to read /v1). A certificate or token
 * that is sent must be good, even where none is needed. */
static gboolean
api_authenticated(Api *api, const ApiRoute *route, const HttpRequest *req, HttpResponse *resp)
{
    const char *token = api->conf->peer_token;
    const char *given = req->authorization;
    gboolean reading = strcmp(req->method, "GET") == 0;

    if (!req->remote)
        return TRUE;
    if (req->cert && req->cert->state == TLS_CLIENT_REFUSED) {
        api_set_error(resp, MIGD_ERROR_UNAUTHENTICATED, "%s %s was refused: %s", req->method,
                      req->path, req->cert->why);
        return FALSE;
    }
    if (given && (!token || !g_str_has_prefix(given, "Bearer ") ||
                  !api_token_equal(given + strlen("Bearer "), token))) {
        api_set_error(resp, MIGD_ERROR_UNAUTHENTICATED,
                      "%s %s was refused: %s needs %s, and the token sent is not it%s",
                      req->method, req->path, reading ? "reading over TCP" : "a change over TCP",
                      api_credential_kinds(api),
                      token ? "" : " (migd.conf sets no peer_token_file)");
        return FALSE;
    }
    if (given || (req->cert && req->cert->state == TLS_CLIENT_VERIFIED))
        return TRUE;
    if (reading && (route->shipped || g_str_equal(api->conf->tcp_read, "open")))
        return TRUE;
    if (!token && !api->conf->tls_ca) {
        api_set_error(resp, MIGD_ERROR_UNAUTHENTICATED,
                      "%s %s was refused: migd accepts %s over TCP only from clients with a "
                      "credential, and migd.conf sets neither tls_ca nor peer_token_file; use "
                      "the unix socket%s", req->method, req->path,
                      reading ? "reading" : "changes", reading ? ", or set tcp_read = open" : "");
        return FALSE;
    }
    api_set_error(resp, MIGD_ERROR_UNAUTHENTICATED, "%s %s was refused: %s needs %s, and none "
                  "was sent", req->method, req->path,
                  reading ? "reading over TCP (tcp_read = authenticated)" : "a change over TCP",
                  api_credential_kinds(api));
    return FALSE;
}

void
api_gate(const HttpRequest *req, HttpResponse *resp, gpointer data)
{
    Api *api = data;
    const ApiRoute *route = api_route(req, resp);

    /* Over TCP, where anyone may send a GET, a body where none belongs is
     * refused now: read, it would only be refused later. (On the unix
     * socket it is read and its JSON judged first, as api_parse_body says.) */
    if (route && api_authenticated(api, route, req, resp) && req->remote && !route->takes_body &&
        req->body_announced)
        api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT, "%s %s takes no request body",
                      req->method, req->path);
    if (resp->body)
        g_debug("%s %s from %s -> %u (before the body)", req->method, req->path, req->client,
                resp->status);
}

void
api_handle(const HttpRequest *req, HttpResponse *resp, gpointer data)
{
    Api *api = data;
    const ApiRoute *route = api_route(req, resp);
    ApiRequest areq = { .http = req };

    if (route && api_authenticated(api, route, req, resp) &&
        api_parse_body(route, req, &areq.json, resp)) {
        (void)api_path_match(route->path, req->path, &areq.id);
        if (api_identity_check(api, route->claim, &areq, resp))
            route->handler(api, &areq, resp);
    }
    g_debug("%s %s from %s -> %u", req->method, req->path,
            req->client ? req->client : "an unknown client", resp->status);
    if (areq.json)
        json_decref(areq.json);
    g_free(areq.id);
}

Api *
api_new(Virt *virt, Engine *engine, const MigdConf *conf)
{
    Api *api = g_new0(Api, 1);

    api->virt = virt;
    api->engine = engine;
    api->conf = conf;
    api->started = g_get_monotonic_time();
    api->drains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)api_drain_free);
    return api;
}

void
api_free(Api *api)
{
    if (!api)
        return;
    if (api->incoming)
        incoming_set_drain_query(api->incoming, NULL, NULL);
    g_hash_table_unref(api->drains);
    api_drain_free(api->drain);
    g_free(api);
}

void
api_set_incoming(Api *api, Incoming *incoming)
{
    api->incoming = incoming;
    /* While a drain empties this host, it takes no guest in. */
    if (incoming)
        incoming_set_drain_query(incoming, api_draining, api);
}

void
api_set_plugins(Api *api, PluginSet *plugins)
{
    api->plugins = plugins;
}

void
api_set_conf(Api *api, const MigdConf *conf)
{
    api->conf = conf;
}
