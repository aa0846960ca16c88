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
} HttpRequest;

typedef struct {
    guint status;
    json_t *body;               /* owned; sent as application/json */
    char *allow;                /* the Allow header of a 405, owned */
} HttpResponse;

typedef void (*HttpHandler)(const HttpRequest *req, HttpResponse *resp, gpointer user_data);

typedef struct _HttpServer HttpServer;

/* Bodies larger than this are refused with 413 before they are read. */
#define HTTP_MAX_BODY (1024 * 1024)

HttpServer *http_server_new(HttpHandler handler, gpointer user_data);

/* Serves HTTP on @fd, a bound and listening socket the server now owns. */
gboolean http_server_add_listener(HttpServer *server, int fd, const char *name, GError **error);

void http_server_free(HttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpServer, http_server_free)

void http_response_clear(HttpResponse *resp);
