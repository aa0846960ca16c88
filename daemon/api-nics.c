/* The endpoints of passthrough NICs: the host's VFs, the reservations that
 * a source's migd makes here (peer endpoints), and the qemu hook. */
#include <config.h>

#include "api-priv.h"

void
api_list_vfs(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    json_t *body = incoming_vfs(api->incoming, &error);

    if (!body) {
        api_set_gerror(resp, error);
        return;
    }
    resp->status = 200;
    resp->body = body;
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

static gboolean
api_require_body(const ApiRequest *req, HttpResponse *resp)
{
    if (json_is_object(req->json))
        return TRUE;
    api_set_error(resp, MIGD_ERROR_INVALID_ARGUMENT, "%s %s needs a JSON object as its body",
                  req->http->method, req->http->path);
    return FALSE;
}

void
api_create_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    json_t *reservation;

    if (!api_require_body(req, resp))
        return;
    reservation = incoming_reserve(api->incoming, req->json, &error);
    api_reservation_answer(resp, reservation, error, 201);
}

void
api_prepare_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GError) error = NULL;
    json_t *reservation = incoming_prepare(api->incoming, req->id, &error);

    api_reservation_answer(resp, reservation, error, 200);
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
    HttpResponse resp = { 0 };

    api_reservation_answer(&resp, result ? json_incref(result) : NULL, error, 200);
    http_deferred_finish(data, &resp);
}

void
api_replug_reservation(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    incoming_replug(api->incoming, req->id, api_replug_answered, http_request_defer(req->http));
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
