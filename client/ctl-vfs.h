/* migctl vfs. */
#pragma once

#include "ctl-args.h"
#include "ctl-commands.h"

gboolean ctl_vfs_list(CtlContext *ctx, const CtlArgs *args, GError **error);
