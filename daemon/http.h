/* libmicrohttpd driven from the GLib main loop: one MHD daemon per listening
 * socket in external epoll mode, so requests run on the loop thread and may
 * touch daemon state without locks. */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct {
    const char *method;
    const char *path;           /* without the query string */
    const char *body;           /* NUL-terminated; "" when there is none */
    gsize body_len;
    /* The query arguments, decoded: name -> value, "" for a bare "?name"; a
     * repeated name keeps its last value. Owned by http.c and valid while
     * the handler runs; NULL only in requests that tests build by hand. */
    GHashTable *query;
    struct _HttpExchange *exchange;     /* http.c's own */
} HttpRequest;

typedef struct {
    guint status;
    json_t *body;               /* owned; sent as application/json */
    char *allow;                /* the Allow header of a 405, owned */
} HttpResponse;

/* Fills @resp, or leaves it untouched after http_request_defer(). */
typedef void (*HttpHandler)(const HttpRequest *req, HttpResponse *resp, gpointer user_data);

typedef struct _HttpServer HttpServer;

/* Bodies larger than this are refused with 413 before they are read. */
#define HTTP_MAX_BODY (1024 * 1024)

HttpServer *http_server_new(HttpHandler handler, gpointer user_data);

/* Serves HTTP on @fd, a bound and listening socket the server now owns. */
gboolean http_server_add_listener(HttpServer *server, int fd, const char *name, GError **error);

/* Answers every deferred request with an error; their HttpDeferred stay
 * valid until http_deferred_finish(). */
void http_server_free(HttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpServer, http_server_free)

void http_response_clear(HttpResponse *resp);

/* A request answered later, once something slow (a worker thread, a peer)
 * has finished. Everything here runs on the main loop only. */
typedef struct _HttpDeferred HttpDeferred;

/* Called inside a handler instead of filling resp: the connection is
 * suspended until http_deferred_finish(). Leave resp untouched. */
HttpDeferred *http_request_defer(const HttpRequest *req);

/* Sends @resp (its body and allow are taken over) and frees @deferred.
 * Safe when the client has gone away meanwhile (then it just frees). Every
 * HttpDeferred must be finished exactly once, even after the server is
 * freed. */
void http_deferred_finish(HttpDeferred *deferred, HttpResponse *resp);
