/* The peer client: libcurl's easy interface in a GTask worker, so the loop
 * never waits for another host. */
#include <config.h>

#include <curl/curl.h>

#include "jsonutil.h"
#include "metrics.h"
#include "peer.h"

typedef struct {
    char *base_url;             /* the peer, for the metrics */
    char *url;
    char *token;
    char *ca, *cert, *key;      /* peer_set_tls()'s, when the call was made */
    char *method;
    char *request;
    guint timeout_ms;
    PeerReply reply;
    gpointer data;
    GString *answer;
    long status;
    char *error;
} PeerCall;

static void
peer_call_free(gpointer data)
{
    PeerCall *c = data;

    g_free(c->base_url);
    g_free(c->url);
    g_free(c->token);
    g_free(c->ca);
    g_free(c->cert);
    g_free(c->key);
    g_free(c->method);
    g_free(c->request);
    g_string_free(c->answer, TRUE);
    g_free(c->error);
    g_free(c);
}

/* The files peer_set_tls() named; main loop only. */
static struct {
    char *ca, *cert, *key;
} peer_tls;

void
peer_set_tls(const char *ca, const char *cert, const char *key)
{
    g_free(peer_tls.ca);
    g_free(peer_tls.cert);
    g_free(peer_tls.key);
    peer_tls.ca = g_strdup(ca);
    peer_tls.cert = g_strdup(cert);
    peer_tls.key = g_strdup(key);
}

/* An https:// peer is verified against tls_ca (the system's CAs without
 * it), its name against the URL's host, and is shown this host's
 * certificate; curl ignores all of it for http://. */
static void
peer_setup_tls(CURL *curl, const PeerCall *c)
{
    if (c->ca)
        (void)curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca);
    if (c->cert) {
        (void)curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert);
        (void)curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key);
    }
    (void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    (void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
}

static size_t
peer_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    PeerCall *c = userdata;

    g_string_append_len(c->answer, ptr, (gssize)(size * nmemb));
    return size * nmemb;
}

static void
peer_call_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PeerCall *c = data;
    g_autofree char *auth = NULL;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    CURLcode rc;

    if (!curl) {
        c->error = g_strdup("libcurl could not start a request");
        return;
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    if (c->token) {
        auth = g_strdup_printf("Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
    }
    (void)curl_easy_setopt(curl, CURLOPT_URL, c->url);
    (void)curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
    (void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (c->request)
        (void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->request);
    (void)curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    (void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(c->timeout_ms, 5000));
    (void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, peer_collect);
    (void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    peer_setup_tls(curl, c);
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
    else
        c->error = g_strdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

static void
peer_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PeerCall *c = g_task_get_task_data(G_TASK(result));
    GCancellable *cancellable = g_task_get_cancellable(G_TASK(result));
    g_autoptr(json_t) body = NULL;

    metrics_peer_request(c->base_url, (guint)c->status);
    if (cancellable && g_cancellable_is_cancelled(cancellable))
        return;
    if (c->answer->len > 0)
        body = json_loadb(c->answer->str, c->answer->len, 0, NULL);
    c->reply((guint)c->status, body, c->error, c->data);
}

static void
peer_curl_call(const PeerOps *ops, const char *base_url, const char *token, const char *method,
               const char *path, json_t *body, guint timeout_ms, GCancellable *cancellable,
               PeerReply reply, gpointer data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, peer_call_done, NULL);
    PeerCall *c = g_new0(PeerCall, 1);

    c->base_url = g_strdup(base_url);
    c->url = g_strconcat(base_url, path, NULL);
    c->token = g_strdup(token);
    c->ca = g_strdup(peer_tls.ca);
    c->cert = g_strdup(peer_tls.cert);
    c->key = g_strdup(peer_tls.key);
    c->method = g_strdup(method);
    c->request = body ? json_dumps(body, JSON_COMPACT) : NULL;
    c->timeout_ms = timeout_ms;
    c->reply = reply;
    c->data = data;
    c->answer = g_string_new(NULL);
    g_task_set_task_data(task, c, peer_call_free);
    g_task_run_in_thread(task, peer_call_thread);
}

static const PeerOps curl_ops = {
    .name = "curl",
    .call = peer_curl_call,
};

static const PeerOps *current_ops = &curl_ops;

const PeerOps *
peer_ops_curl(void)
{
    return &curl_ops;
}

const PeerOps *
peer_ops(void)
{
    return current_ops;
}

void
peer_set_ops(const PeerOps *ops)
{
    current_ops = ops ? ops : &curl_ops;
}

void
peer_call(const char *base_url, const char *token, const char *method, const char *path,
          json_t *body, guint timeout_ms, GCancellable *cancellable, PeerReply reply,
          gpointer data)
{
    current_ops->call(current_ops, base_url, token, method, path, body, timeout_ms, cancellable,
                      reply, data);
}

char *
peer_error_message(const char *base_url, guint status, json_t *body, const char *error)
{
    const char *message = NULL;

    if (status == 0)
        return g_strdup_printf("the migd at %s did not answer: %s", base_url,
                               error ? error : "no reason given");
    if (json_unpack(body, "{s:{s:s}}", "error", "message", &message) == 0)
        return g_strdup_printf("the migd at %s refused: %s", base_url, message);
    return g_strdup_printf("the migd at %s answered HTTP %u", base_url, status);
}
