/* The glue between libmicrohttpd and the GLib main loop. */
#include <config.h>

#include <glib-unix.h>
#include <microhttpd.h>
#include <string.h>

#include "error.h"
#include "http.h"

typedef struct {
    HttpServer *server;
    struct MHD_Daemon *mhd;
    char *name;
    guint io_source;
    guint timer_source;
} HttpListener;

struct _HttpServer {
    HttpHandler handler;
    gpointer user_data;
    GPtrArray *listeners;
};

/* Per-request state while MHD feeds us the body in pieces. */
typedef struct {
    GByteArray *body;
    gboolean too_large;
    GHashTable *query;
} HttpExchange;

void
http_response_clear(HttpResponse *resp)
{
    g_clear_pointer(&resp->body, json_decref);
    g_clear_pointer(&resp->allow, g_free);
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);

    g_debug("HTTP server: %s", g_strchomp(text));
}

static void
http_exchange_done(void *cls, struct MHD_Connection *connection, void **con_cls,
                   enum MHD_RequestTerminationCode code)
{
    HttpExchange *ex = *con_cls;

    if (!ex)
        return;
    g_byte_array_unref(ex->body);
    g_clear_pointer(&ex->query, g_hash_table_unref);
    g_free(ex);
    *con_cls = NULL;
}

static enum MHD_Result
http_send(struct MHD_Connection *connection, HttpResponse *resp)
{
    char *text = json_dumps(resp->body, JSON_COMPACT | JSON_ENSURE_ASCII);
    g_autofree char *line = g_strconcat(text ? text : "{}", "\n", NULL);
    struct MHD_Response *response;
    enum MHD_Result ret;

    free(text);
    response = MHD_create_response_from_buffer(strlen(line), line, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (resp->allow)
        (void)MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, resp->allow);
    ret = MHD_queue_response(connection, resp->status, response);
    MHD_destroy_response(response);
    return ret;
}

static void
http_set_error(HttpResponse *resp, MigdErrorCode code, const char *message)
{
    resp->status = migd_error_code_to_http_status(code);
    resp->body = json_pack("{s:{s:s,s:s}}", "error", "code", migd_error_code_to_string(code),
                           "message", message);
}

static enum MHD_Result
http_collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    g_hash_table_replace(cls, g_strdup(key), g_strdup(value ? value : ""));
    return MHD_YES;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size,
            void **con_cls)
{
    HttpServer *server = cls;
    HttpExchange *ex = *con_cls;
    HttpResponse resp = { 0 };
    HttpRequest req = { 0 };
    enum MHD_Result ret;

    if (!ex) {
        ex = g_new0(HttpExchange, 1);
        ex->body = g_byte_array_new();
        *con_cls = ex;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (ex->body->len + *upload_data_size > HTTP_MAX_BODY)
            ex->too_large = TRUE;
        else
            g_byte_array_append(ex->body, (const guint8 *)upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (ex->too_large) {
        g_autofree char *msg = g_strdup_printf(
            "the request body is larger than the %d bytes migd accepts", HTTP_MAX_BODY);
        http_set_error(&resp, MIGD_ERROR_PAYLOAD_TOO_LARGE, msg);
    } else {
        ex->query = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        (void)MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, http_collect_query,
                                        ex->query);
        req.method = method;
        req.path = url;
        req.body_len = ex->body->len;
        g_byte_array_append(ex->body, (const guint8 *)"", 1);
        req.body = (const char *)ex->body->data;
        req.query = ex->query;
        server->handler(&req, &resp, server->user_data);
        if (!resp.body)
            http_set_error(&resp, MIGD_ERROR_INTERNAL, "the request produced no response");
    }
    ret = http_send(connection, &resp);
    http_response_clear(&resp);
    return ret;
}

static gboolean http_on_timer(gpointer data);

static void
http_listener_run(HttpListener *l)
{
    MHD_UNSIGNED_LONG_LONG timeout;

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

static void
http_listener_free(gpointer data)
{
    HttpListener *l = data;

    g_clear_handle_id(&l->io_source, g_source_remove);
    g_clear_handle_id(&l->timer_source, g_source_remove);
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    g_free(l->name);
    g_free(l);
}

HttpServer *
http_server_new(HttpHandler handler, gpointer user_data)
{
    HttpServer *server = g_new0(HttpServer, 1);

    server->handler = handler;
    server->user_data = user_data;
    server->listeners = g_ptr_array_new_with_free_func(http_listener_free);
    return server;
}

gboolean
http_server_add_listener(HttpServer *server, int fd, const char *name, GError **error)
{
    const union MHD_DaemonInfo *info;
    HttpListener *l = g_new0(HttpListener, 1);

    l->server = server;
    l->name = g_strdup(name);
    l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0,
                              NULL, NULL, http_access, server,
                              MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_NOTIFY_COMPLETED, http_exchange_done, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
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
    g_ptr_array_unref(server->listeners);
    g_free(server);
}
