/* migctl plugins. */
#pragma once

#include "ctl-args.h"
#include "ctl-commands.h"

gboolean ctl_plugins_list(CtlContext *ctx, const CtlArgs *args, GError **error);
