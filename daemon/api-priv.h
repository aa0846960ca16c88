/* Internals shared by the API's files: the Api object, a parsed request,
 * and the endpoints that live outside api.c. */
#pragma once

#include "api.h"

typedef struct _ApiDrain ApiDrain;

struct _Api {
    Virt *virt;
    Engine *engine;
    Incoming *incoming;
    PluginSet *plugins;         /* borrowed; NULL: none loaded */
    const MigdConf *conf;
    gint64 started;     /* monotonic, µs */
    ApiDrain *drain;    /* the last drain started; NULL: none yet */
    GHashTable *drains; /* id -> ApiDrain: the ones before it */
};

typedef struct {
    const HttpRequest *http;
    json_t *json;       /* the parsed body, or NULL when there was none */
    char *id;           /* the '*' segment of the path, when the route has one */
} ApiRequest;

/* api-identity.c */

/* What a request says about which peer it comes from. */
typedef enum {
    API_CLAIM_NONE,
    API_CLAIM_BODY,             /* the reservation request's source and source_url */
    API_CLAIM_RESERVATION,      /* the stored reservation's source, by the path's id */
    API_CLAIM_LAST
} ApiClaim;

/* Over TLS with a verified client certificate: FALSE, with a 403 in @resp
 * that names both, when the certificate is not the one of the peer the
 * request speaks for ([peer.NAME] cert_name), or is another peer's. */
gboolean api_identity_check(Api *api, ApiClaim claim, const ApiRequest *req,
                            HttpResponse *resp);

/* api-migrations.c */
void api_list_migrations(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_create_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_cancel_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_force_complete_migration(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_migration_events(Api *api, const ApiRequest *req, HttpResponse *resp);

/* api-drains.c */
void api_create_drain(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_drain(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_list_drains(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_drain_free(ApiDrain *ad);
/* The running drain's id, or NULL (an IncomingDrainQuery on the Api). */
const char *api_draining(gpointer api);

/* api-destination.c */

/* Fills @ret from @destination: a [peer.NAME] of @conf, or (only with
 * [migration] allow_uri_destinations) a qemu+tcp, qemu+tls or qemu+ssh URI
 * of another host without parameters, rebuilt from its checked parts. A
 * destination that is this host by @conf is refused. On error (a sentence
 * that says what to do, MIGD_ERROR_INVALID_ARGUMENT) @ret is untouched. */
gboolean api_destination_resolve(const MigdConf *conf, const char *destination,
                                 JobDestination *ret, GError **error);

/* The peers a guest may be sent to: those of @names (NULL or empty: every
 * peer of @conf that is not this host), each checked as a destination; an
 * unknown or refused name is MIGD_ERROR_INVALID_ARGUMENT naming it. The
 * MigdPeer* are borrowed from @conf. */
GPtrArray *api_destination_peers(const MigdConf *conf, const char *const *names,
                                 GError **error);

/* The host UUID in libvirt's capabilities XML, or NULL when it has none
 * (the test driver) or the XML does not parse. */
char *api_destination_host_uuid(const char *capabilities);

/* api-metrics.c */
void api_get_metrics(Api *api, const ApiRequest *req, HttpResponse *resp);

/* api-plugins.c */
void api_list_plugins(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_openapi(Api *api, const ApiRequest *req, HttpResponse *resp);

/* api-ui.c */
void api_ui_redirect(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_ui_index(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_ui_file(Api *api, const ApiRequest *req, HttpResponse *resp);

/* api-nics.c */
void api_list_vfs(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_capacity(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_list_reservations(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_get_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_create_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_prepare_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_renew_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_replug_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_switchover_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_resume_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_release_reservation(Api *api, const ApiRequest *req, HttpResponse *resp);
void api_qemu_hook(Api *api, const ApiRequest *req, HttpResponse *resp);

/* Sets @resp from @error (its code gives the status). */
void api_set_gerror(HttpResponse *resp, const GError *error);
