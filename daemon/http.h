/* libmicrohttpd driven from the GLib main loop: one MHD daemon per listening
 * socket in external epoll mode, so requests run on the loop thread and may
 * touch daemon state without locks. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "tls.h"

typedef struct {
    const char *method;
    const char *path;           /* without the query string */
    const char *body;           /* NUL-terminated; "" when there is none */
    gsize body_len;
    gboolean body_announced;    /* the headers say a body follows (Content-Length > 0, or chunked) */
    /* The query arguments, decoded: name -> value, "" for a bare "?name"; a
     * repeated name keeps its last value. Owned by http.c and valid while
     * the handler runs; NULL only in requests that tests build by hand. */
    GHashTable *query;
    const char *authorization;  /* the Authorization header; NULL when absent */
    gboolean remote;            /* it came over TCP, not over the unix socket */
    const char *client;         /* who asked: "ADDRESS:PORT" over TCP, "unix socket" otherwise */
    const TlsClient *cert;      /* over HTTPS, the client's certificate as checked; else NULL */
    struct _HttpExchange *exchange;     /* http.c's own */
} HttpRequest;

typedef struct {
    guint status;
    json_t *body;               /* owned; sent as application/json */
    char *allow;                /* the Allow header of a 405, owned */
    /* Instead of @body: @text (owned) as @content_type (a static string),
     * for what is not JSON (GET /metrics). */
    char *text;
    const char *content_type;
    /* More headers, static: name, value, name, value, ..., NULL (the status
     * page's Content-Security-Policy, a redirect's Location). */
    const char *const *headers;
} HttpResponse;

/* Fills @resp, or leaves it untouched after http_request_defer() or
 * http_request_stream(). */
typedef void (*HttpHandler)(const HttpRequest *req, HttpResponse *resp, gpointer user_data);

typedef struct _HttpServer HttpServer;

/* Bodies larger than this are refused with 413 before they are read: at
 * once when Content-Length says so, at the first chunk past it otherwise. */
#define HTTP_MAX_BODY (1024 * 1024)

/* What a client may hold; 0 in a field keeps the default below. */
typedef struct {
    guint max_connections;      /* per listener, at once */
    guint max_per_address;      /* per client address, TCP listeners only */
    guint idle_timeout_s;       /* a connection that sends or takes nothing for this long is closed */
} HttpLimits;

/* 256 a listener: the unix socket and TCP together stay at half of the 1024
 * descriptors systemd gives a service, the rest left for libvirt, files and
 * peers. 32 from one address: far more than a peer or migctl opens at once,
 * and eight addresses are needed to fill TCP. 30 s idle: longer than the
 * event streams' 15 s keepalive, short enough that slow clients let go. */
#define HTTP_DEFAULT_MAX_CONNECTIONS 256
#define HTTP_DEFAULT_MAX_PER_ADDRESS 32
#define HTTP_DEFAULT_IDLE_TIMEOUT_S 30

HttpServer *http_server_new(HttpHandler handler, gpointer user_data);

/* Applies to the listeners added afterwards. */
void http_server_set_limits(HttpServer *server, const HttpLimits *limits);

/* @gate is called with a request's headers (body NULL, body_len 0), before
 * any of its body is read: when it fills resp, that is the answer and the
 * body is never read; when it leaves resp untouched, the request goes on to
 * the handler. It may not defer or stream. */
void http_server_set_gate(HttpServer *server, HttpHandler gate);

/* The TCP listeners added afterwards speak HTTPS with @creds (owned); on a
 * server that already has a set, new handshakes use @creds and connections
 * already open keep theirs. Listeners that started without TLS stay so. */
void http_server_set_tls(HttpServer *server, TlsCreds *creds);

/* Whether @server was given a certificate: its TCP listeners speak HTTPS. */
gboolean http_server_has_tls(const HttpServer *server);

/* Serves HTTP on @fd, a bound and listening socket the server now owns. */
gboolean http_server_add_listener(HttpServer *server, int fd, const char *name, GError **error);

/* Ends every stream (each one's closed callback runs before this returns)
 * and answers every deferred request with an error; their HttpDeferred
 * stay valid until http_deferred_finish(). */
void http_server_free(HttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpServer, http_server_free)

void http_response_clear(HttpResponse *resp);

/* A request answered later, once something slow (a worker thread, a peer)
 * has finished. Everything here runs on the main loop only. */
typedef struct _HttpDeferred HttpDeferred;

/* Called inside a handler instead of filling resp: the connection is
 * suspended until http_deferred_finish(). Leave resp untouched. */
HttpDeferred *http_request_defer(const HttpRequest *req);

/* Whether the client of @deferred has gone away (hung up, or the server
 * stopped): an answer would reach nobody. A handler that is about to make
 * something last (a job, a reservation) for a deferred request checks this
 * first, and undoes or gives up when it is TRUE. */
gboolean http_deferred_client_gone(const HttpDeferred *deferred);

/* Sends @resp (its body and allow are taken over) and frees @deferred.
 * Safe when the client has gone away meanwhile (then it just frees). Every
 * HttpDeferred must be finished exactly once, even after the server is
 * freed. */
void http_deferred_finish(HttpDeferred *deferred, HttpResponse *resp);

/* A 200 whose body is written over time: server-sent events, since idle
 * streams get SSE comment lines. Everything here runs on the main loop. */
typedef struct _HttpStream HttpStream;

typedef void (*HttpStreamClosed)(HttpStream *stream, gpointer user_data);

/* Unsent bytes a stream may hold for a slow client before it is ended. */
#define HTTP_STREAM_MAX_BUFFER (4 * 1024 * 1024)

/* Idle streams get ": keepalive" this often, so that proxies keep them
 * open and a vanished client is noticed. */
#define HTTP_STREAM_KEEPALIVE_SECONDS 15

/* Inside a handler: answer 200 with Content-Type @content_type (and
 * Cache-Control: no-cache), body to come. @closed is called once, on the
 * main loop, when the client disconnects or after http_stream_end() has
 * flushed; after it returns the stream is freed. */
HttpStream *http_request_stream(const HttpRequest *req, const char *content_type,
                                HttpStreamClosed closed, gpointer user_data);

/* Queues @len bytes; never blocks, never calls @closed itself (the bytes
 * go out from the main loop). Write whole events: when a slow client lets
 * HTTP_STREAM_MAX_BUFFER bytes pile up, the write that would pass it is
 * dropped, an "event: error" whose data is the error envelope (code
 * payload_too_large) ends the stream, and later writes are ignored. */
void http_stream_write(HttpStream *stream, const char *data, gsize len);

/* Ends the stream once everything written so far has been sent. */
void http_stream_end(HttpStream *stream);
