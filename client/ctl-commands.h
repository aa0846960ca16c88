/* migctl's commands: a table of what each one is called, what it takes and
 * what it does, from which the dispatcher and --help both work. */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <jansson.h>

#include "ctl-args.h"
#include "ctl-http.h"
#include "ctl-options.h"

typedef struct {
    const CtlOptions *options;
    const char *env_url;        /* $MIGCTL_URL, or NULL */
    const char *env_socket;     /* $MIGCTL_SOCKET, or NULL */
    const char *env_cacert;     /* $MIGCTL_CACERT, $MIGCTL_CERT, $MIGCTL_KEY, or NULL */
    const char *env_cert;
    const char *env_key;
    CtlHttp *http;              /* made on the first request */
    /* What goes to stdout once the command is over: so that a command that
     * fails halfway prints nothing it did not mean to. */
    GString *out;
    /* Where commands that follow a migration print as it goes (stdout), or
     * NULL to add it to @out instead, as the unit tests do. */
    FILE *live;
    gboolean tty;               /* stdout is a terminal */
    guint columns;              /* its width, or 0 if not known */
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

/* For the commands' implementations: */

typedef char *(*CtlFormatFunc)(json_t *answer, GError **error);

/* Sends @method @path with the JSON @body (or NULL) and returns the JSON
 * object of migd's 2xx answer. An error answer is reported as such, and
 * with -o json also put in ctx->out. */
json_t *ctl_command_call(CtlContext *ctx, const char *method,
                         const char *path, const char *body, GError **error);

/* Reports migd's non-2xx @response as the command's failure. Returns
 * FALSE. */
gboolean ctl_command_fail(CtlContext *ctx, const CtlResponse *response,
                          GError **error);

/* Puts @answer in ctx->out as JSON, or as the text @format makes of it. */
gboolean ctl_command_show(CtlContext *ctx, json_t *answer,
                          CtlFormatFunc format, GError **error);

/* The connection to migd, made on first use. */
CtlHttp *ctl_context_get_http(CtlContext *ctx, GError **error);

/* Prints @text now (see CtlContext.live). */
void ctl_context_print(CtlContext *ctx, const char *text);
