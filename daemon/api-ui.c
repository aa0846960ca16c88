/* GET /ui/: the read-only status page (daemon/ui/), built into the binary
 * as a GResource. It reads the same GET endpoints as migctl, so it needs no
 * rights of its own; its headers keep a browser from loading anything that
 * is not migd's own. */
#include <config.h>

#include <string.h>

#include "api-priv.h"
#include "ui-resource.h"

#define UI_RESOURCE_DIR "/org/migd/ui/"

/* Nothing from elsewhere: no CDN, no inline script or style, no frames. */
static const char *const ui_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "Referrer-Policy", "no-referrer",
    /* A new migd serves a new page: the browser asks again each time. */
    "Cache-Control", "no-cache",
    NULL,
};

static const char *const ui_redirect_headers[] = {
    "Location", "/ui/",
    NULL,
};

typedef struct {
    const char *name;
    const char *content_type;
} UiFile;

static const UiFile ui_files[] = {
    { "index.html", "text/html; charset=utf-8" },
    { "ui.css", "text/css; charset=utf-8" },
    { "api.js", "text/javascript; charset=utf-8" },
    { "chart.js", "text/javascript; charset=utf-8" },
    { "ui.js", "text/javascript; charset=utf-8" },
    { "icon.svg", "image/svg+xml" },
};

static void
api_ui_serve(const char *name, HttpResponse *resp)
{
    g_autofree char *path = g_strconcat(UI_RESOURCE_DIR, name, NULL);
    g_autoptr(GBytes) bytes = NULL;
    const UiFile *file = NULL;
    const char *data;
    gsize size;

    for (gsize i = 0; i < G_N_ELEMENTS(ui_files); i++) {
        if (strcmp(ui_files[i].name, name) == 0)
            file = &ui_files[i];
    }
    if (!file) {
        api_set_error(resp, MIGD_ERROR_NOT_FOUND,
                      "the status page has no file '%s'; open /ui/", name);
        return;
    }
    bytes = g_resource_lookup_data(migd_ui_get_resource(), path, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                   NULL);
    /* The build puts every file of the table there: a binary without one is broken. */
    g_assert(bytes);
    data = g_bytes_get_data(bytes, &size);
    resp->status = 200;
    resp->text = g_strndup(data, size);
    resp->content_type = file->content_type;
    resp->headers = ui_headers;
}

void
api_ui_redirect(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    resp->status = 308;
    resp->text = g_strdup("The status page is at /ui/\n");
    resp->content_type = "text/plain; charset=utf-8";
    resp->headers = ui_redirect_headers;
}

void
api_ui_index(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    api_ui_serve("index.html", resp);
}

void
api_ui_file(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    api_ui_serve(req->id, resp);
}
