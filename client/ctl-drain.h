/* migctl drain: every running guest of the host migrated off it. */
#pragma once

#include "ctl-args.h"
#include "ctl-commands.h"

extern const CtlArgSpec ctl_drain_options[];

gboolean ctl_drain(CtlContext *ctx, const CtlArgs *args, GError **error);
