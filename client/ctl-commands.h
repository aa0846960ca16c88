/* migctl's commands: a table of what each one is called, what it takes and
 * what it does, from which the dispatcher and --help both work. */
#pragma once

#include <glib.h>

#include "ctl-http.h"
#include "ctl-options.h"

typedef struct {
    const CtlOptions *options;
    const char *env_url;        /* $MIGCTL_URL, or NULL */
    const char *env_socket;     /* $MIGCTL_SOCKET, or NULL */
    CtlHttp *http;              /* made on the first request */
    /* What goes to stdout once the command is over: so that a command that
     * fails halfway prints nothing it did not mean to. */
    GString *out;
} CtlContext;

CtlContext *ctl_context_new(const CtlOptions *options,
                            const char *env_url, const char *env_socket);

void ctl_context_free(CtlContext *ctx);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlContext, ctl_context_free)

/* Runs the command @argv[0] with its arguments. On failure, @error says why
 * in a sentence for the person on call, and its code decides the exit
 * status; ctx->out may still hold what -o json promises on stdout. */
gboolean ctl_commands_run(CtlContext *ctx, int argc, char **argv,
                          GError **error);

/* The whole of `migctl --help`. */
void ctl_commands_append_usage(GString *out);
