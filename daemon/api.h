/* The REST API v1: routing, request validation and the JSON the endpoints
 * return. It never touches sockets; http.c hands it requests. */
#pragma once

#include <glib.h>

#include "conf.h"
#include "engine.h"
#include "error.h"
#include "http.h"
#include "incoming.h"
#include "plugin-loader.h"
#include "virt.h"

typedef struct _Api Api;

/* @conf is borrowed; api_set_conf() replaces it after a reload. */
Api *api_new(Virt *virt, Engine *engine, const MigdConf *conf);
void api_set_conf(Api *api, const MigdConf *conf);

/* The destination's side of migrations, for the VF and peer endpoints. */
void api_set_incoming(Api *api, Incoming *incoming);

/* The loaded plugins, for GET /v1/plugins (borrowed; none until set). */
void api_set_plugins(Api *api, PluginSet *plugins);
void api_free(Api *api);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Api, api_free)

/* The HttpServer's gate: the route and the credential, from the headers
 * alone, so that a refused request's body is never read. */
void api_gate(const HttpRequest *req, HttpResponse *resp, gpointer data);

/* An HttpHandler: fills @resp for @req. */
void api_handle(const HttpRequest *req, HttpResponse *resp, gpointer api);

/* Sets @resp to migd's error envelope {"error":{"code","message"}}. */
void api_set_error(HttpResponse *resp, MigdErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
