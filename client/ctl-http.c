/* One HTTP request to migd with libcurl, over its unix socket or TCP. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "ctl-error.h"
#include "ctl-http.h"

/* With a unix socket the host part of the URL is only what the Host header
 * says; migd ignores it. */
#define HTTP_SOCKET_BASE_URL "http://localhost"

struct CtlHttp {
    CtlTarget *target;
    guint timeout_seconds;
};

typedef struct curl_slist CtlCurlList;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlCurlList, curl_slist_free_all)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)

/* Where an answer's body goes: into @data, or, for an event stream, to
 * @chunk as it arrives. */
typedef struct {
    CURL *curl;
    const char *path;
    GByteArray *data;           /* the whole body, unless streamed */
    gboolean too_large;
    CtlHttpChunkFunc chunk;     /* NULL: the body is read whole */
    gpointer user_data;
    gboolean started;           /* the first bytes of the body came */
    gboolean streaming;         /* they go to @chunk */
    gboolean stopped;           /* @chunk or a check stopped the transfer */
    GError *error;              /* why, if it was not the stream's end */
} HttpBody;

CtlHttp *
ctl_http_new(CtlTarget *target, guint timeout_seconds)
{
    CtlHttp *http = g_new0(CtlHttp, 1);

    http->target = target;
    http->timeout_seconds = timeout_seconds;
    return http;
}

void
ctl_http_free(CtlHttp *http)
{
    if (!http)
        return;
    ctl_target_free(http->target);
    g_free(http);
}

void
ctl_response_free(CtlResponse *response)
{
    if (!response)
        return;
    g_free(response->body);
    g_free(response);
}

/* The target as messages name it; where it came from is said when it was
 * the environment, which the person reading may not know is set. */
static char *
http_where(const CtlTarget *target)
{
    if (g_str_has_prefix(target->origin, "MIGCTL_"))
        return g_strdup_printf("%s (from %s)", target->address, target->origin);
    return g_strdup(target->address);
}

/* What to check when connecting failed with @os_errno. */
static char *
http_connect_hint(const CtlTarget *target, int os_errno)
{
    if (target->kind == CTL_TARGET_SOCKET) {
        if (os_errno == EACCES || os_errno == EPERM)
            return g_strdup_printf("Run migctl as root, or as a member of the "
                                   "group that owns the socket (see 'ls -l "
                                   "%s').", target->address);
        return g_strdup("Is migd running? Check 'systemctl status migd' or "
                        "pass --socket/--url.");
    }
    if (os_errno == ECONNREFUSED)
        return g_strdup("Is migd running on that host and listening on that "
                        "port? Check 'systemctl status migd' there, or pass "
                        "--socket/--url.");
    return g_strdup("Check that the host is up and reachable from here and "
                    "that migd runs there ('systemctl status migd'), or pass "
                    "--socket/--url.");
}

char *
ctl_http_describe_failure(const CtlTarget *target, CURLcode code,
                          int os_errno, const char *detail,
                          guint timeout_seconds)
{
    g_autofree char *where = http_where(target);
    g_autofree char *hint = NULL;
    const char *reason;

    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return g_strdup_printf("migd at %s did not answer within %u "
                               "second%s. It may be overloaded or stuck: see "
                               "'journalctl -u migd'%s, or retry with a "
                               "longer --timeout.",
                               where, timeout_seconds,
                               timeout_seconds == 1 ? "" : "s",
                               target->kind == CTL_TARGET_URL ?
                                   " on its host and check that no firewall "
                                   "drops the connection" : "");
    case CURLE_COULDNT_RESOLVE_HOST:
        return g_strdup_printf("cannot reach migd at %s: the host name does "
                               "not resolve. Check the host name given by "
                               "%s.", where, target->origin);
    case CURLE_PEER_FAILED_VERIFICATION:
        return g_strdup_printf("migd at %s presented a certificate migctl does "
                               "not trust (%s). Pass the CA that signs it "
                               "with --cacert (or MIGCTL_CACERT).", where,
                               detail && detail[0] ? detail :
                                   curl_easy_strerror(code));
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return g_strdup_printf("cannot use the TLS files for migd at %s: %s. "
                               "Check --cacert, --cert and --key (or "
                               "MIGCTL_CACERT, MIGCTL_CERT and MIGCTL_KEY).",
                               where, detail && detail[0] ? detail :
                                   curl_easy_strerror(code));
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return g_strdup_printf("migd at %s closed the connection without "
                               "answering. It may have crashed or be "
                               "restarting: check 'systemctl status migd' "
                               "and 'journalctl -u migd'.", where);
    default:
        break;
    }

    if (os_errno != 0)
        reason = g_strerror(os_errno);
    else if (detail && detail[0] != '\0')
        reason = detail;
    else
        reason = curl_easy_strerror(code);
    hint = http_connect_hint(target, os_errno);
    return g_strdup_printf("cannot reach migd at %s: %s. %s",
                           where, reason, hint);
}

/* Whether the answer is a 2xx event stream, to hand to @body->chunk, and
 * not an error answer to read whole. Sets @body->error when it is a 2xx
 * answer of another type. */
static gboolean
http_is_stream(HttpBody *body)
{
    long status = 0;
    const char *type = NULL;

    (void)curl_easy_getinfo(body->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300)
        return FALSE;
    (void)curl_easy_getinfo(body->curl, CURLINFO_CONTENT_TYPE, &type);
    if (type && g_ascii_strncasecmp(type, "text/event-stream", 17) == 0)
        return TRUE;
    g_set_error(&body->error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                "migd's answer to GET %s (HTTP %ld) is not an event stream "
                "but %s%s%s. Check that the socket or URL is migd's.",
                body->path, status, type ? "'" : "", type ? type : "untyped",
                type ? "'" : "");
    return FALSE;
}

static size_t
http_write(char *data, size_t size, size_t nmemb, void *user_data)
{
    HttpBody *body = user_data;
    size_t len = size * nmemb;

    if (!body->started && body->chunk) {
        body->streaming = http_is_stream(body);
        if (body->error) {
            body->stopped = TRUE;
            return 0;
        }
    }
    body->started = TRUE;
    if (body->streaming) {
        /* Returning less than was given makes curl stop with an error. */
        if (!body->chunk(data, len, body->user_data, &body->error)) {
            body->stopped = TRUE;
            return 0;
        }
        return len;
    }
    if (body->data->len + len > CTL_HTTP_MAX_BODY) {
        body->too_large = TRUE;
        return 0;
    }
    g_byte_array_append(body->data, (const guint8 *)data, len);
    return len;
}

/* The options every request carries whatever it asks for. */
static void
http_setup(CtlHttp *http, CURL *curl, const char *url, CtlCurlList *headers)
{
    (void)curl_easy_setopt(curl, CURLOPT_URL, url);
    (void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    (void)curl_easy_setopt(curl, CURLOPT_USERAGENT, "migctl/" PACKAGE_VERSION);
    (void)curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)http->timeout_seconds);
    /* Without it, curl's resolver timeouts use SIGALRM. */
    (void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* migd is reached directly: a proxy from http_proxy in the environment
     * of an operator's shell would only send the request somewhere else. */
    (void)curl_easy_setopt(curl, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    (void)curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    (void)curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
                           (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (http->target->kind == CTL_TARGET_SOCKET)
        (void)curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH,
                               http->target->address);
    if (http->target->cacert)
        (void)curl_easy_setopt(curl, CURLOPT_CAINFO, http->target->cacert);
    if (http->target->cert) {
        (void)curl_easy_setopt(curl, CURLOPT_SSLCERT, http->target->cert);
        (void)curl_easy_setopt(curl, CURLOPT_SSLKEY, http->target->key);
    }
}

/* Why a stream that had begun broke off, e.g. when migd stopped. */
static char *
http_describe_break(CtlHttp *http, CURLcode code, const char *detail)
{
    g_autofree char *where = http_where(http->target);

    return g_strdup_printf("the connection to migd at %s broke in the middle "
                           "of its answer (%s). migd may have stopped or "
                           "restarted: check 'systemctl status migd' and "
                           "'journalctl -u migd'%s.", where,
                           detail[0] != '\0' ? detail :
                               curl_easy_strerror(code),
                           http->target->kind == CTL_TARGET_URL ?
                               " on its host" : "");
}

static gboolean
http_perform(CtlHttp *http, CURL *curl, const char *method, const char *path,
             HttpBody *body, GError **error)
{
    char detail[CURL_ERROR_SIZE] = "";
    CURLcode code;
    long os_errno = 0;
    g_autofree char *message = NULL;

    (void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    code = curl_easy_perform(curl);
    if (body->error) {
        g_propagate_error(error, g_steal_pointer(&body->error));
        return FALSE;
    }
    if (code == CURLE_OK || body->stopped)
        return TRUE;

    if (body->too_large) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                    "migd's answer to %s %s is larger than %d MiB, more than "
                    "migd ever sends. Check that the socket or URL is "
                    "migd's.", method, path, CTL_HTTP_MAX_BODY / (1024 * 1024));
        return FALSE;
    }
    if (body->streaming) {
        message = http_describe_break(http, code, detail);
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_UNREACHABLE, message);
        return FALSE;
    }
    (void)curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    message = ctl_http_describe_failure(http->target, code, (int)os_errno,
                                        detail, http->timeout_seconds);
    g_set_error_literal(error, CTL_ERROR, CTL_ERROR_UNREACHABLE, message);
    return FALSE;
}

/* A handle for @path with the options every request carries; NULL (and
 * @error set) only when libcurl cannot make one. */
static CURL *
http_new_curl(CtlHttp *http, const char *path, CtlCurlList *headers,
              GError **error)
{
    CURL *curl = curl_easy_init();
    g_autofree char *url = NULL;

    if (!curl) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_LOCAL,
                            "cannot set up an HTTP request: libcurl failed to "
                            "initialise, which usually means memory is "
                            "exhausted.");
        return NULL;
    }
    /* libcurl keeps a copy of the URL. */
    url = g_strconcat(http->target->kind == CTL_TARGET_SOCKET ?
                          HTTP_SOCKET_BASE_URL : http->target->address,
                      path, NULL);
    http_setup(http, curl, url, headers);
    return curl;
}

/* The answer whose body is @data, as the caller gets it. */
static CtlResponse *
http_response(CURL *curl, GByteArray *data)
{
    CtlResponse *response = g_new0(CtlResponse, 1);

    (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    response->len = data->len;
    g_byte_array_append(data, (const guint8 *)"", 1);
    response->body = (char *)g_byte_array_free(data, FALSE);
    return response;
}

CtlResponse *
ctl_http_request(CtlHttp *http, const char *method, const char *path,
                 const char *body, GError **error)
{
    g_autoptr(CURL) curl = NULL;
    g_autoptr(CtlCurlList) headers = NULL;
    g_autoptr(GByteArray) data = g_byte_array_new();
    gboolean post = strcmp(method, "POST") == 0;
    HttpBody answer = { .path = path, .data = data };

    headers = curl_slist_append(headers, "Accept: application/json");
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        /* No "Expect: 100-continue" round trip before it. */
        headers = curl_slist_append(headers, "Expect:");
    } else if (post) {
        /* No body, not an empty form as libcurl would label it. */
        headers = curl_slist_append(headers, "Content-Type:");
    }
    curl = http_new_curl(http, path, headers, error);
    if (!curl)
        return NULL;
    answer.curl = curl;

    if (body || post) {
        (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                               (long)(body ? strlen(body) : 0));
    }
    if (strcmp(method, body || post ? "POST" : "GET") != 0)
        (void)curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);

    if (!http_perform(http, curl, method, path, &answer, error))
        return NULL;
    return http_response(curl, g_steal_pointer(&data));
}

CtlResponse *
ctl_http_stream(CtlHttp *http, const char *path, CtlHttpChunkFunc chunk,
                gpointer user_data, GError **error)
{
    g_autoptr(CURL) curl = NULL;
    g_autoptr(CtlCurlList) headers = NULL;
    g_autoptr(GByteArray) data = g_byte_array_new();
    HttpBody answer = {
        .path = path, .data = data, .chunk = chunk, .user_data = user_data,
    };

    headers = curl_slist_append(headers, "Accept: text/event-stream");
    curl = http_new_curl(http, path, headers, error);
    if (!curl)
        return NULL;
    answer.curl = curl;
    /* A stream lasts as long as the migration: only connecting is timed. */
    (void)curl_easy_setopt(curl, CURLOPT_TIMEOUT, 0L);
    (void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                           (long)http->timeout_seconds);
    /* So that a peer host that vanished is noticed, if only after a while. */
    if (http->target->kind == CTL_TARGET_URL)
        (void)curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);

    if (!http_perform(http, curl, "GET", path, &answer, error))
        return NULL;
    return http_response(curl, g_steal_pointer(&data));
}
