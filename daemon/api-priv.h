/* Internals shared by the API's files: the Api object, a parsed request,
 * and the endpoints that live outside api.c. */
#pragma once

#include "api.h"

struct _Api {
    Virt *virt;
    Engine *engine;
    Incoming *incoming;
    const MigdConf *conf;
    gint64 started;     /* monotonic, µs */
};

typedef struct {
    const HttpRequest *http;
    json_t *json;       /* the parsed body, or NULL when there was none */
    char *id;           /* the '*' segment of the path, when the route has one */
} ApiRequest;

/* api-migrations.c */
void api_list_migrations(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_create_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_cancel_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_force_complete_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_migration_events(Api *api, const ApiRequest *req, HttpResponse *resp);

/* api-nics.c */
void api_list_vfs(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_list_reservations(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_create_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_prepare_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_renew_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_replug_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_release_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_qemu_hook(Api *api, const ApiRequest *req, HttpResponse *resp);

/* Sets @resp from @error (its code gives the status). */
void api_set_gerror(HttpResponse *resp, const GError *error);
