/* migctl's migration commands: migrate, status, list, watch, cancel and
 * force-complete, each a request to migd's /v1/migrations API. */
#pragma once

#include <glib.h>

#include "ctl-args.h"
#include "ctl-commands.h"

extern const CtlArgSpec ctl_migration_migrate_options[];
extern const CtlArgSpec ctl_migration_list_options[];

gboolean ctl_migration_migrate(CtlContext *ctx, const CtlArgs *args,
                               GError **error);

gboolean ctl_migration_status(CtlContext *ctx, const CtlArgs *args,
                              GError **error);

gboolean ctl_migration_list(CtlContext *ctx, const CtlArgs *args,
                            GError **error);

gboolean ctl_migration_watch(CtlContext *ctx, const CtlArgs *args,
                             GError **error);

gboolean ctl_migration_cancel(CtlContext *ctx, const CtlArgs *args,
                              GError **error);

gboolean ctl_migration_force_complete(CtlContext *ctx, const CtlArgs *args,
                                      GError **error);
