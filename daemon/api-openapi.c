/* GET /v1/openapi.json: the OpenAPI description of API v1 (docs/openapi.json),
 * built into the binary as a GResource. */
#include <config.h>

#include "api-priv.h"
#include "openapi-resource.h"

#define OPENAPI_RESOURCE "/org/migd/openapi.json"

void
api_get_openapi(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    g_autoptr(GBytes) bytes = g_resource_lookup_data(migd_openapi_get_resource(),
                                                     OPENAPI_RESOURCE,
                                                     G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    gsize size;
    const char *data;

    /* The build puts it there: a binary without it is broken. */
    g_assert(bytes);
    data = g_bytes_get_data(bytes, &size);
    resp->status = 200;
    resp->text = g_strndup(data, size);
    resp->content_type = "application/json";
}
