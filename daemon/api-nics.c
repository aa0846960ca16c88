/* The endpoints of passthrough NICs: the host's VFs, the reservations that
 * a source's migd makes here (peer endpoints), and the qemu hook. */
#include <config.h>

#include "api-priv.h"

/* A deferred request's answer: @result (borrowed) or @error. */
static void
api_deferred_answer(json_t *result, const GError *error, gpointer data, guint status)
{
    HttpResponse resp = { 0 };

    if (result) {
        resp.status = status;
        resp.body = json_incref(result);
    } else {
        api_set_gerror(&resp, error);
    }
    http_deferred_finish(data, &resp);
}

static void
api_vfs_answered(json_t *result, const GError *error, gpointer data)
{
    api_deferred_answer(result, error, data, 200);
}

void
api_list_vfs(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_vfs(api->incoming, api_vfs_answered, http_request_defer(req->http));
}

void
api_get_capacity(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_capacity(api->incoming, api_vfs_answered, http_request_defer(req->http));
}

void
api_list_reservations(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    resp->status = 200;
    resp->body = incoming_list(api->incoming);
}

/* A reservation (or an error) as the answer. */

static void
api_reservation_answer(HttpResponse *resp, json_t *reservation, const GError *error,
                       guint status)
{
    if (!reservation) {
        api_set_gerror(resp, error);
        return;
    }
    resp->status = status;
    resp->body = reservation;
}

void
api_get_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    json_t *reservation = incoming_get(api->incoming, req->id, &error);

    api_reservation_answer(resp, reservation, error, 200);
}

static gboolean
api_require_body(const ApiRequest *req, HttpResponse *resp)
{
    if (json_is_object(req->json))
        return TRUE;
    api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT, "%s %s needs a JSON object as its body",
                  req->http->method, req->http->path);
    return FALSE;
}

static void
api_reservation_created(json_t *result, const GError *error, gpointer data)
{
    api_deferred_answer(result, error, data, 201);
}

void
api_create_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    if (api_require_body(req, resp))
        incoming_reserve(api->incoming, req->json, api_reservation_created,
                         http_request_defer(req->http));
}

static void
api_prepared(json_t *result, const GError *error, gpointer data)
{
    api_deferred_answer(result, error, data, 200);
}

/* The body, when there is one, carries the NICs' device states. */
void
api_prepare_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    if (req->json && !api_require_body(req, resp))
        return;
    incoming_prepare_states(api->incoming, req->id, req->json, api_prepared,
                            http_request_defer(req->http));
}

void
api_renew_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;

    if (!incoming_renew(api->incoming, req->id, &error)) {
        api_set_gerror(resp, error);
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s}", "renewed", req->id);
}

void
api_release_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;

    if (!incoming_release(api->incoming, req->id, &error)) {
        api_set_gerror(resp, error);
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s}", "released", req->id);
}

static void
api_replug_answered(json_t *result, const GError *error, gpointer data)
{
    api_deferred_answer(result, error, data, 200);
}

void
api_replug_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_replug(api->incoming, req->id, api_replug_answered, http_request_defer(req->http));
}

/* The pause strategy's two calls from the source (dest-pause.c). */
void
api_switchover_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_switchover(api->incoming, req->id, api_replug_answered,
                        http_request_defer(req->http));
}

void
api_resume_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_resume(api->incoming, req->id, api_replug_answered, http_request_defer(req->http));
}

void
api_qemu_hook(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    json_t *body;

    if (!api_require_body(req, resp))
        return;
    body = incoming_hook(api->incoming, req->json, &error);
    if (!body) {
        api_set_gerror(resp, error);
        return;
    }
    resp->status = 200;
    resp->body = body;
}
