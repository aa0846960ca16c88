/* The glue between libmicrohttpd and the GLib main loop, with answers that
 * come later: deferred requests and streams, both suspended connections. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "http.h"
#include "tls.h"

/* How much of a stream MHD asks for at a time. */
#define HTTP_STREAM_BLOCK (16 * 1024)

/* A stream's buffer that drained after growing past this is given back. */
#define HTTP_STREAM_KEEP_CAPACITY (64 * 1024)

/* The memory MHD gives each connection for its request line, headers and
 * read buffer (MHD's own default, said here): larger headers get 431. */
#define HTTP_CONNECTION_MEMORY (32 * 1024)

/* On shutdown, rounds of MHD_run() that flush the last answers; each one
 * only sends what the sockets take, so a stuck client costs nothing. */
#define HTTP_SHUTDOWN_RUNS 16

static const char http_keepalive_line[] = ": keepalive\n\n";

typedef struct _HttpExchange HttpExchange;

typedef struct {
    HttpServer *server;
    struct MHD_Daemon *mhd;
    char *name;
    gboolean remote;            /* TCP rather than a unix socket */
    gboolean tls;               /* HTTPS: a TCP listener of a server with a certificate */
    guint io_source;
    guint timer_source;         /* when MHD next wants to run */
    guint run_source;           /* a run that http_listener_run_soon() asked for */
    gboolean stopping;
    GQueue exchanges;           /* HttpExchange, requests in progress */
} HttpListener;

struct _HttpServer {
    HttpHandler handler;
    HttpHandler gate;
    HttpLimits limits;
    gpointer user_data;
    GPtrArray *listeners;
    guint keepalive_ms;
    gsize stream_max_buffer;
    TlsCreds *tls;              /* NULL: plain HTTP on TCP */
    GPtrArray *tls_retired;     /* TlsCreds that sessions may still point to */
};

typedef enum {
    HTTP_EXCHANGE_RECEIVING,    /* MHD feeds us the body in pieces */
    HTTP_EXCHANGE_HANDLING,     /* inside the handler */
    HTTP_EXCHANGE_DEFERRED,     /* suspended until http_deferred_finish() */
    HTTP_EXCHANGE_STREAMING,
    HTTP_EXCHANGE_ANSWERED,
} HttpExchangeState;

/* One request, from its headers until MHD reports it completed. */
struct _HttpExchange {
    HttpListener *listener;
    struct MHD_Connection *connection;
    GList *link;                /* in listener->exchanges */
    HttpExchangeState state;
    GByteArray *body;
    gboolean too_large;
    GHashTable *query;
    char *client;               /* HttpRequest.client */
    TlsClient cert;             /* HttpRequest.cert, over TLS */
    gboolean suspended;
    gboolean peer_gone;
    guint peer_watch;
    HttpDeferred *deferred;
    HttpStream *stream;         /* owned */
};

struct _HttpDeferred {
    HttpExchange *ex;           /* NULL once the request is over */
};

struct _HttpStream {
    HttpExchange *ex;
    GByteArray *buf;
    gsize sent;                 /* bytes at the start of @buf MHD already took */
    gboolean ended;
    gint64 last_write;          /* monotonic, µs */
    guint keepalive_source;
    HttpStreamClosed closed;
    gpointer user_data;
};

void
http_response_clear(HttpResponse *resp)
{
    g_clear_pointer(&resp->body, json_decref);
    g_clear_pointer(&resp->allow, g_free);
    g_clear_pointer(&resp->text, g_free);
    resp->content_type = NULL;
    resp->headers = NULL;
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);

    /* log.c escapes what MHD quotes from the client. */
    g_debug("HTTP server: %s", g_strchomp(text));
}

static void
http_set_error(HttpResponse *resp, MigdErrorCode code, const char *message)
{
    http_response_clear(resp);
    resp->status = migd_error_code_to_http_status(code);
    resp->body = migd_error_to_json(code, message);
}

/* A handler that answers nothing is a bug the client should hear about. */
static void
http_response_ensure_body(HttpResponse *resp)
{
    if (!resp->body && !resp->text)
        http_set_error(resp, MIGD_ERROR_INTERNAL, "the request produced no response");
}

/* @json as one line of compact ASCII JSON. */
static char *
http_json_line(const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);
    char *line = g_strconcat(text ? text : "{}", "\n", NULL);

    free(text);
    return line;
}

static enum MHD_Result
http_send(struct MHD_Connection *connection, HttpResponse *resp)
{
    g_autofree char *line = resp->text ? NULL : http_json_line(resp->body);
    const char *data = resp->text ? resp->text : line;
    struct MHD_Response *response;
    enum MHD_Result ret;

    response = MHD_create_response_from_buffer(strlen(data), (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  resp->text && resp->content_type ? resp->content_type
                                                                   : "application/json");
    if (resp->allow)
        (void)MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, resp->allow);
    for (guint i = 0; resp->headers && resp->headers[i] && resp->headers[i + 1]; i += 2)
        (void)MHD_add_response_header(response, resp->headers[i], resp->headers[i + 1]);
    ret = MHD_queue_response(connection, resp->status, response);
    MHD_destroy_response(response);
    return ret;
}

static gboolean http_on_timer(gpointer data);

static guint
http_listener_connections(HttpListener *l)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return info ? info->num_connections : 0;
}

static void
http_listener_run(HttpListener *l)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    guint before = http_listener_connections(l);

    (void)MHD_run(l->mhd);
    /* At max_connections MHD takes the listening socket out of its epoll
     * set, and puts it back only at the start of a run: after a run that
     * closed connections nothing may wake us for that next run, and the
     * listener would stay deaf (seen in test-limits). */
    if (before >= l->server->limits.max_connections && http_listener_connections(l) < before)
        (void)MHD_run(l->mhd);
    g_clear_handle_id(&l->timer_source, g_source_remove);
    if (MHD_get_timeout(l->mhd, &timeout) == MHD_YES) {
        guint ms = timeout > G_MAXUINT ? G_MAXUINT : (guint)timeout;

        l->timer_source = g_timeout_add(ms, http_on_timer, l);
    }
}

static gboolean
http_on_timer(gpointer data)
{
    HttpListener *l = data;

    l->timer_source = 0;
    http_listener_run(l);
    return G_SOURCE_REMOVE;
}

static gboolean
http_on_io(int fd, GIOCondition condition, gpointer data)
{
    http_listener_run(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
http_on_run_soon(gpointer data)
{
    HttpListener *l = data;

    l->run_source = 0;
    http_listener_run(l);
    return G_SOURCE_REMOVE;
}

/* Runs MHD from the main loop rather than inside the caller: callers are
 * handlers, closed callbacks and writers looping over their streams, and
 * none of them expects a stream to close under its feet. A source of its
 * own, as http_listener_run() replaces timer_source after MHD_run(). */
static void
http_listener_run_soon(HttpListener *l)
{
    if (l->run_source || l->stopping)
        return;
    l->run_source = g_idle_add_full(G_PRIORITY_DEFAULT, http_on_run_soon, l, NULL);
}

static void http_exchange_resume(HttpExchange *ex);

/* While a connection is suspended MHD does not see its client leave, so we
 * watch the socket: a hang-up, an error or end of file means it is gone. */
static gboolean
http_exchange_on_peer(int fd, GIOCondition condition, gpointer data)
{
    HttpExchange *ex = data;
    HttpListener *l = ex->listener;
    char byte;
    ssize_t n;

    if (!(condition & (G_IO_HUP | G_IO_ERR))) {
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return G_SOURCE_CONTINUE;
        if (n > 0) {
            /* A pipelined request: only a hang-up can tell us now. */
            ex->peer_watch = g_unix_fd_add(fd, G_IO_HUP | G_IO_ERR, http_exchange_on_peer, ex);
            return G_SOURCE_REMOVE;
        }
    }
    ex->peer_watch = 0;
    ex->peer_gone = TRUE;
    http_exchange_resume(ex);
    /* MHD closes the connection, which may free @ex. */
    http_listener_run(l);
    return G_SOURCE_REMOVE;
}

static void
http_exchange_suspend(HttpExchange *ex)
{
    const union MHD_ConnectionInfo *info;

    if (ex->suspended)
        return;
    MHD_suspend_connection(ex->connection);
    ex->suspended = TRUE;
    info = MHD_get_connection_info(ex->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        ex->peer_watch = g_unix_fd_add(info->connect_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                       http_exchange_on_peer, ex);
}

/* MHD only acts on a resumed connection when it next runs. */
static void
http_exchange_resume(HttpExchange *ex)
{
    if (!ex->suspended)
        return;
    g_clear_handle_id(&ex->peer_watch, g_source_remove);
    ex->suspended = FALSE;
    MHD_resume_connection(ex->connection);
}

static HttpExchange *
http_exchange_new(HttpListener *l, struct MHD_Connection *connection)
{
    HttpExchange *ex = g_new0(HttpExchange, 1);

    ex->listener = l;
    ex->connection = connection;
    ex->body = g_byte_array_new();
    g_queue_push_tail(&l->exchanges, ex);
    ex->link = l->exchanges.tail;
    return ex;
}

static void http_stream_release(HttpStream *stream);

static void
http_exchange_free(HttpExchange *ex)
{
    g_clear_handle_id(&ex->peer_watch, g_source_remove);
    g_queue_delete_link(&ex->listener->exchanges, ex->link);
    if (ex->deferred)
        ex->deferred->ex = NULL;
    if (ex->stream)
        http_stream_release(ex->stream);
    g_byte_array_unref(ex->body);
    g_clear_pointer(&ex->query, g_hash_table_unref);
    g_free(ex->client);
    tls_client_clear(&ex->cert);
    g_free(ex);
}

static void
http_exchange_done(void *cls, struct MHD_Connection *connection, void **con_cls,
                   enum MHD_RequestTerminationCode code)
{
    HttpExchange *ex = *con_cls;

    if (!ex)
        return;
    *con_cls = NULL;
    http_exchange_free(ex);
}

/* Queues @resp (which keeps its contents) on a request that was deferred
 * and lets MHD send it; the caller runs the listener. */
static void
http_exchange_answer(HttpExchange *ex, HttpResponse *resp)
{
    ex->state = HTTP_EXCHANGE_ANSWERED;
    if (ex->deferred) {
        ex->deferred->ex = NULL;
        ex->deferred = NULL;
    }
    http_response_ensure_body(resp);
    /* On failure the resumed request finds no answer and is closed. */
    if (http_send(ex->connection, resp) != MHD_YES)
        g_debug("HTTP server: a deferred answer could not be queued; closing the connection");
    http_exchange_resume(ex);
}

static enum MHD_Result
http_collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    g_hash_table_replace(cls, g_strdup(key), g_strdup(value ? value : ""));
    return MHD_YES;
}

/* The client's address for messages and records. With inet_ntop() rather
 * than a GSocketAddress: a GObject made and dropped for each request was a
 * sixth of the time a request took. */
static char *
http_client_name(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    char host[INET6_ADDRSTRLEN];

    if (!sa || sa->sa_family == AF_UNIX)
        return g_strdup("unix socket");
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;

        if (!inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
            return g_strdup("an unknown address");
        return g_strdup_printf("[%s]:%u", host, ntohs(in6->sin6_port));
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const void *)sa;

        if (!inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host)))
            return g_strdup("an unknown address");
        return g_strdup_printf("%s:%u", host, ntohs(in4->sin_port));
    }
    return g_strdup("an unknown address");
}

/* The body's length as Content-Length says, G_MAXUINT64 when it is chunked,
 * 0 without a body. MHD has checked that a Content-Length is a number. */
static guint64
http_announced_length(struct MHD_Connection *connection)
{
    const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);

    if (length)
        return g_ascii_strtoull(length, NULL, 10);
    if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return G_MAXUINT64;
    return 0;
}

/* The client certificate, checked against the CA serving now: once per
 * request, so that a CA reloaded meanwhile applies to the next one. */
static void
http_exchange_check_cert(HttpExchange *ex)
{
    const union MHD_ConnectionInfo *info;

    if (!ex->listener->tls)
        return;
    info = MHD_get_connection_info(ex->connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    tls_check_client(ex->listener->server->tls, info ? info->tls_session : NULL, &ex->cert);
}

/* @req from the request's headers; no body yet. */
static void
http_exchange_request(HttpExchange *ex, const char *method, const char *url, HttpRequest *req)
{
    if (!ex->query) {
        ex->query = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        (void)MHD_get_connection_values(ex->connection, MHD_GET_ARGUMENT_KIND,
                                        http_collect_query, ex->query);
        ex->client = http_client_name(ex->connection);
        http_exchange_check_cert(ex);
    }
    *req = (HttpRequest){
        .method = method,
        .path = url,
        .query = ex->query,
        .authorization = MHD_lookup_connection_value(ex->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION),
        .body_announced = http_announced_length(ex->connection) > 0,
        .remote = ex->listener->remote,
        .client = ex->client,
        .cert = ex->listener->tls ? &ex->cert : NULL,
        .exchange = ex,
    };
}

static void
http_set_too_large(HttpResponse *resp)
{
    g_autofree char *msg = g_strdup_printf(
        "the request body is larger than the %d bytes migd accepts", HTTP_MAX_BODY);

    http_set_error(resp, MIGD_ERROR_PAYLOAD_TOO_LARGE, msg);
}

/* Whether the path and every query name and value are UTF-8: they end up
 * in JSON answers and log lines, where other bytes have no place. */
static gboolean
http_request_is_utf8(const HttpRequest *req)
{
    GHashTableIter iter;
    gpointer key, value;

    if (!g_utf8_validate(req->path, -1, NULL))
        return FALSE;
    g_hash_table_iter_init(&iter, req->query);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (!g_utf8_validate(key, -1, NULL) || !g_utf8_validate(value, -1, NULL))
            return FALSE;
    }
    return TRUE;
}

/* The checks made on the headers alone, before any body is read: fills
 * @resp when the request is refused. */
static void
http_exchange_screen(HttpExchange *ex, const HttpRequest *req, HttpResponse *resp)
{
    HttpServer *server = ex->listener->server;
    guint64 length = http_announced_length(ex->connection);

    if (!http_request_is_utf8(req)) {
        http_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT,
                       "the request's path or query is not valid UTF-8 (after percent-decoding)");
        return;
    }
    /* A chunked body is counted as it comes. */
    if (length != G_MAXUINT64 && length > HTTP_MAX_BODY) {
        http_set_too_large(resp);
        return;
    }
    if (server->gate)
        server->gate(req, resp, server->user_data);
}

/* Answers at once; MHD closes the connection without reading a body. */
static enum MHD_Result
http_exchange_refuse(HttpExchange *ex, HttpResponse *resp)
{
    enum MHD_Result ret;

    ex->state = HTTP_EXCHANGE_ANSWERED;
    ret = http_send(ex->connection, resp);
    http_response_clear(resp);
    return ret;
}

/* The handler's part, once the whole body is in. */
static enum MHD_Result
http_exchange_handle(HttpExchange *ex, const char *method, const char *url)
{
    HttpServer *server = ex->listener->server;
    HttpResponse resp = { 0 };
    HttpRequest req;
    enum MHD_Result ret;

    if (ex->too_large) {
        http_set_too_large(&resp);
    } else {
        http_exchange_request(ex, method, url, &req);
        req.body_len = ex->body->len;
        g_byte_array_append(ex->body, (const guint8 *)"", 1);
        req.body = (const char *)ex->body->data;
        ex->state = HTTP_EXCHANGE_HANDLING;
        server->handler(&req, &resp, server->user_data);
        switch (ex->state) {
        case HTTP_EXCHANGE_DEFERRED:
            http_response_clear(&resp);
            http_exchange_suspend(ex);
            return MHD_YES;
        case HTTP_EXCHANGE_STREAMING:
        case HTTP_EXCHANGE_ANSWERED:    /* deferred and finished at once */
            http_response_clear(&resp);
            return MHD_YES;
        default:
            break;
        }
        http_response_ensure_body(&resp);
    }
    ex->state = HTTP_EXCHANGE_ANSWERED;
    ret = http_send(ex->connection, &resp);
    http_response_clear(&resp);
    return ret;
}

/* A chunked body passed HTTP_MAX_BODY (a Content-Length past it was
 * refused with the headers). MHD 0.9.75 cannot queue an answer while a body
 * comes in, and reading the rest to answer after it is what must not
 * happen; so the 413 is written straight to the socket (nothing else is
 * being sent on it while a request is read) and the connection closed. */
static void
http_exchange_abort_too_large(HttpExchange *ex)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(ex->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    HttpResponse resp = { 0 };
    g_autofree char *line = NULL;
    g_autofree char *raw = NULL;

    ex->too_large = TRUE;
    http_set_too_large(&resp);
    line = http_json_line(resp.body);
    http_response_clear(&resp);
    raw = g_strdup_printf("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                          strlen(line), line);
    /* Inside TLS, bytes of our own would only break the record stream. */
    if (info && !ex->listener->tls)
        (void)send(info->connect_fd, raw, strlen(raw), MSG_DONTWAIT | MSG_NOSIGNAL);
    g_debug("HTTP server: a chunked request body on %s passed %d bytes; answered 413 and "
            "closed the connection", ex->listener->name, HTTP_MAX_BODY);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size,
            void **con_cls)
{
    HttpExchange *ex = *con_cls;

    if (!ex) {
        HttpResponse resp = { 0 };
        HttpRequest req;

        ex = http_exchange_new(cls, connection);
        *con_cls = ex;
        http_exchange_request(ex, method, url, &req);
        http_exchange_screen(ex, &req, &resp);
        return resp.body ? http_exchange_refuse(ex, &resp) : MHD_YES;
    }
    if (ex->state != HTTP_EXCHANGE_RECEIVING) {
        /* MHD asks again when a request resumes without an answer: the
         * client left, or queueing the answer failed. */
        if (ex->state == HTTP_EXCHANGE_DEFERRED && !ex->peer_gone) {
            http_exchange_suspend(ex);
            return MHD_YES;
        }
        return MHD_NO;
    }
    if (*upload_data_size > 0) {
        if (ex->body->len + *upload_data_size > HTTP_MAX_BODY) {
            http_exchange_abort_too_large(ex);
            return MHD_NO;
        }
        g_byte_array_append(ex->body, (const guint8 *)upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return http_exchange_handle(ex, method, url);
}

HttpDeferred *
http_request_defer(const HttpRequest *req)
{
    HttpExchange *ex = req->exchange;

    g_return_val_if_fail(ex && ex->state == HTTP_EXCHANGE_HANDLING, NULL);
    ex->deferred = g_new0(HttpDeferred, 1);
    ex->deferred->ex = ex;
    ex->state = HTTP_EXCHANGE_DEFERRED;
    return ex->deferred;
}

gboolean
http_deferred_client_gone(const HttpDeferred *deferred)
{
    g_return_val_if_fail(deferred, TRUE);
    return !deferred->ex || deferred->ex->peer_gone || deferred->ex->listener->stopping;
}

void
http_deferred_finish(HttpDeferred *deferred, HttpResponse *resp)
{
    HttpExchange *ex;

    g_return_if_fail(deferred);
    ex = deferred->ex;
    if (ex) {
        http_exchange_answer(ex, resp);
        http_listener_run_soon(ex->listener);
    }
    http_response_clear(resp);
    g_free(deferred);
}

/* Hands MHD what is buffered; with nothing buffered the connection sleeps
 * until http_stream_write() or http_stream_end() wakes it. */
static ssize_t
http_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    HttpStream *stream = cls;
    gsize pending = stream->buf->len - stream->sent;
    gsize n;

    if (stream->ex->peer_gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pending == 0) {
        if (stream->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        http_exchange_suspend(stream->ex);
        return 0;
    }
    n = MIN(pending, max);
    memcpy(out, stream->buf->data + stream->sent, n);
    stream->sent += n;
    if (stream->sent == stream->buf->len) {
        if (stream->buf->len > HTTP_STREAM_KEEP_CAPACITY) {
            g_byte_array_unref(stream->buf);
            stream->buf = g_byte_array_new();
        }
        g_byte_array_set_size(stream->buf, 0);
        stream->sent = 0;
    } else if (stream->sent > stream->buf->len / 2) {
        g_byte_array_remove_range(stream->buf, 0, stream->sent);
        stream->sent = 0;
    }
    return (ssize_t)n;
}

static void
http_stream_wake(HttpStream *stream)
{
    if (!stream->ex->suspended)
        return;
    http_exchange_resume(stream->ex);
    http_listener_run_soon(stream->ex->listener);
}

static gboolean
http_stream_on_keepalive(gpointer data)
{
    HttpStream *stream = data;
    guint period = stream->ex->listener->server->keepalive_ms;
    gint64 idle_ms = (g_get_monotonic_time() - stream->last_write) / 1000;
    guint next = period;

    stream->keepalive_source = 0;
    if (idle_ms >= period)
        http_stream_write(stream, http_keepalive_line, strlen(http_keepalive_line));
    else
        next = period - (guint)idle_ms;
    if (!stream->ended)
        stream->keepalive_source = g_timeout_add(next, http_stream_on_keepalive, stream);
    return G_SOURCE_REMOVE;
}

HttpStream *
http_request_stream(const HttpRequest *req, const char *content_type, HttpStreamClosed closed,
                    gpointer user_data)
{
    HttpExchange *ex = req->exchange;
    struct MHD_Response *response;
    HttpStream *stream;

    g_return_val_if_fail(ex && ex->state == HTTP_EXCHANGE_HANDLING, NULL);
    g_return_val_if_fail(content_type && closed, NULL);
    stream = g_new0(HttpStream, 1);
    stream->ex = ex;
    stream->buf = g_byte_array_new();
    stream->closed = closed;
    stream->user_data = user_data;
    stream->last_write = g_get_monotonic_time();
    stream->keepalive_source = g_timeout_add(ex->listener->server->keepalive_ms,
                                             http_stream_on_keepalive, stream);
    ex->stream = stream;
    ex->state = HTTP_EXCHANGE_STREAMING;

    /* Without a queued response MHD asks the handler again, which closes
     * the connection, and @closed is called as for any other end. */
    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK,
                                                 http_stream_read, stream, NULL);
    if (!response)
        return stream;
    (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (MHD_queue_response(ex->connection, MHD_HTTP_OK, response) != MHD_YES)
        g_debug("HTTP server: a stream could not be queued; closing the connection");
    MHD_destroy_response(response);
    return stream;
}

/* The last words of a stream whose client fell too far behind. */
static void
http_stream_overflow(HttpStream *stream, gsize max)
{
    g_autofree char *message = g_strdup_printf(
        "the client fell %" G_GSIZE_FORMAT " bytes behind reading this stream, so migd ended "
        "it; reconnect to follow it again", max);
    json_t *envelope = migd_error_to_json(MIGD_ERROR_PAYLOAD_TOO_LARGE, message);
    g_autofree char *data = http_json_line(envelope);
    g_autofree char *event = g_strconcat("event: error\ndata: ", data, "\n", NULL);

    json_decref(envelope);
    g_debug("HTTP server: ending a stream on %s: %s", stream->ex->listener->name, message);
    g_byte_array_append(stream->buf, (const guint8 *)event, strlen(event));
}

void
http_stream_write(HttpStream *stream, const char *data, gsize len)
{
    gsize max;

    g_return_if_fail(stream);
    if (stream->ended || len == 0)
        return;
    max = stream->ex->listener->server->stream_max_buffer;
    if (stream->buf->len - stream->sent + len > max) {
        http_stream_overflow(stream, max);
        http_stream_end(stream);
        return;
    }
    g_byte_array_append(stream->buf, (const guint8 *)data, len);
    stream->last_write = g_get_monotonic_time();
    http_stream_wake(stream);
}

void
http_stream_end(HttpStream *stream)
{
    g_return_if_fail(stream);
    if (stream->ended)
        return;
    stream->ended = TRUE;
    g_clear_handle_id(&stream->keepalive_source, g_source_remove);
    http_stream_wake(stream);
}

/* The request is over: tell the owner, then free. */
static void
http_stream_release(HttpStream *stream)
{
    stream->ended = TRUE;
    g_clear_handle_id(&stream->keepalive_source, g_source_remove);
    stream->closed(stream, stream->user_data);
    g_byte_array_unref(stream->buf);
    g_free(stream);
}

static void
http_listener_free(gpointer data)
{
    HttpListener *l = data;

    l->stopping = TRUE;
    g_clear_handle_id(&l->io_source, g_source_remove);
    g_clear_handle_id(&l->timer_source, g_source_remove);
    /* Closes the connections left, so their exchanges are freed here. */
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    while (l->exchanges.head) {
        g_debug("HTTP server: a request on %s outlived its connection", l->name);
        http_exchange_free(l->exchanges.head->data);
    }
    g_clear_handle_id(&l->run_source, g_source_remove);
    g_free(l->name);
    g_free(l);
}

/* Answers deferred requests and ends streams, then gives MHD a few rounds
 * to send that; MHD must not be stopped with connections suspended. */
static void
http_listener_shutdown(HttpListener *l)
{
    l->stopping = TRUE;
    for (GList *link = l->exchanges.head; link; link = link->next) {
        HttpExchange *ex = link->data;

        if (ex->state == HTTP_EXCHANGE_DEFERRED) {
            HttpResponse resp = { 0 };

            http_set_error(&resp, MIGD_ERROR_SHUTTING_DOWN,
                           "migd is shutting down and cannot answer this request; "
                           "retry once it is back");
            http_exchange_answer(ex, &resp);
            http_response_clear(&resp);
        } else if (ex->state == HTTP_EXCHANGE_STREAMING) {
            http_stream_end(ex->stream);
        }
    }
    for (guint i = 0; i < HTTP_SHUTDOWN_RUNS && l->exchanges.length > 0; i++)
        (void)MHD_run(l->mhd);
}

HttpServer *
http_server_new(HttpHandler handler, gpointer user_data)
{
    HttpServer *server = g_new0(HttpServer, 1);

    server->handler = handler;
    server->user_data = user_data;
    server->listeners = g_ptr_array_new_with_free_func(http_listener_free);
    server->tls_retired = g_ptr_array_new_with_free_func((GDestroyNotify)tls_creds_free);
    server->keepalive_ms = HTTP_STREAM_KEEPALIVE_SECONDS * 1000;
    server->stream_max_buffer = HTTP_STREAM_MAX_BUFFER;
    http_server_set_limits(server, &(HttpLimits){ 0 });
    return server;
}

void
http_server_set_limits(HttpServer *server, const HttpLimits *limits)
{
    server->limits.max_connections = limits->max_connections ? limits->max_connections
                                                             : HTTP_DEFAULT_MAX_CONNECTIONS;
    server->limits.max_per_address = limits->max_per_address ? limits->max_per_address
                                                             : HTTP_DEFAULT_MAX_PER_ADDRESS;
    server->limits.idle_timeout_s = limits->idle_timeout_s ? limits->idle_timeout_s
                                                           : HTTP_DEFAULT_IDLE_TIMEOUT_S;
}

void
http_server_set_tls(HttpServer *server, TlsCreds *creds)
{
    if (server->tls)
        g_ptr_array_add(server->tls_retired, server->tls);
    server->tls = creds;
    tls_serve(creds);
}

gboolean
http_server_has_tls(const HttpServer *server)
{
    return server->tls != NULL;
}

void
http_server_set_gate(HttpServer *server, HttpHandler gate)
{
    server->gate = gate;
}

/* HTTPS with the certificate tls.c serves at each handshake (so a reload
 * applies to new connections without restarting MHD); with a CA, clients
 * are asked for a certificate, which http_exchange_check_cert() judges. */
static void
http_listener_tls_options(HttpListener *l, struct MHD_OptionItem *options, unsigned int *flags)
{
    const char *ca = tls_creds_ca_pem(l->server->tls);
    guint n = 0;

    l->tls = TRUE;
    *flags |= MHD_USE_TLS;
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                            (void *)tls_retrieve_cert };
    if (ca)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)ca };
    options[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
}

gboolean
http_server_add_listener(HttpServer *server, int fd, const char *name, GError **error)
{
    const union MHD_DaemonInfo *info;
    HttpListener *l = g_new0(HttpListener, 1);
    struct MHD_OptionItem tls_options[3] = { { MHD_OPTION_END, 0, NULL } };
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_storage addr = { 0 };
    socklen_t len = sizeof(addr);

    l->server = server;
    l->name = g_strdup(name);
    /* Anything but a unix socket may be reached from another host. */
    l->remote = getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || addr.ss_family != AF_UNIX;
    g_queue_init(&l->exchanges);
    if (l->remote && server->tls)
        http_listener_tls_options(l, tls_options, &flags);
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, l,
                              MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_NOTIFY_COMPLETED, http_exchange_done, l,
                              MHD_OPTION_CONNECTION_TIMEOUT, server->limits.idle_timeout_s,
                              MHD_OPTION_CONNECTION_LIMIT, server->limits.max_connections,
                              /* 0 is no limit: the unix socket's clients share one address. */
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              l->remote ? server->limits.max_per_address : 0u,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
                              MHD_OPTION_ARRAY, tls_options,
                              MHD_OPTION_END);
    if (!l->mhd) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot start the HTTP server on %s (libmicrohttpd refused the socket)",
                    name);
        g_free(l->name);
        g_free(l);
        return FALSE;
    }
    info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    l->io_source = g_unix_fd_add(info->epoll_fd, G_IO_IN, http_on_io, l);
    g_ptr_array_add(server->listeners, l);
    http_listener_run(l);
    return TRUE;
}

void
http_server_free(HttpServer *server)
{
    if (!server)
        return;
    for (guint i = 0; i < server->listeners->len; i++)
        http_listener_shutdown(g_ptr_array_index(server->listeners, i));
    g_ptr_array_unref(server->listeners);
    tls_serve(NULL);
    tls_creds_free(server->tls);
    g_ptr_array_unref(server->tls_retired);
    g_free(server);
}
