/* The commands of migctl, each a request to migd's REST API and a rendering
 * of its answer. New commands are a function and a line in command_table. */
#include <config.h>

#include <string.h>

#include "ctl-commands.h"
#include "ctl-error.h"
#include "ctl-format.h"

typedef gboolean (*CommandFunc)(CtlContext *ctx, int argc, char **argv,
                                GError **error);

typedef struct {
    const char *name;
    const char *synopsis;       /* the arguments after the name */
    const char *summary;        /* one sentence for the command list */
    const char *description;    /* more, for `migctl help NAME`, or NULL */
    int max_args;               /* -1: the command checks its arguments */
    CommandFunc run;
} Command;

static gboolean cmd_version(CtlContext *ctx, int argc, char **argv,
                            GError **error);
static gboolean cmd_health(CtlContext *ctx, int argc, char **argv,
                           GError **error);
static gboolean cmd_help(CtlContext *ctx, int argc, char **argv,
                         GError **error);

static const Command command_table[] = {
    { "version", "",
      "Show the versions of migd, libvirt, the hypervisor and migctl.",
      "With -o json, only migd's answer is printed; 'migctl --version' "
      "prints the version of migctl alone.",
      0, cmd_version },
    { "health", "",
      "Check that migd is up and connected to libvirt.",
      "Exits with status 0 when migd is healthy and 1 when it reports "
      "itself degraded, for example while its libvirt connection is down; "
      "the report is printed in both cases.",
      0, cmd_health },
    { "help", "[COMMAND]",
      "Show this help, or the help of one command.",
      NULL,
      1, cmd_help },
};

CtlContext *
ctl_context_new(const CtlOptions *options,
                const char *env_url, const char *env_socket)
{
    CtlContext *ctx = g_new0(CtlContext, 1);

    ctx->options = options;
    ctx->env_url = env_url;
    ctx->env_socket = env_socket;
    ctx->out = g_string_new(NULL);
    return ctx;
}

void
ctl_context_free(CtlContext *ctx)
{
    if (!ctx)
        return;
    ctl_http_free(ctx->http);
    g_string_free(ctx->out, TRUE);
    g_free(ctx);
}

static const Command *
command_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(command_table); i++) {
        if (strcmp(command_table[i].name, name) == 0)
            return &command_table[i];
    }
    return NULL;
}

static gboolean
command_is_success(long status)
{
    return status >= 200 && status < 300;
}

static CtlResponse *
command_request(CtlContext *ctx, const char *method, const char *path,
                GError **error)
{
    if (!ctx->http) {
        CtlTarget *target = ctl_target_resolve(ctx->options, ctx->env_url,
                                               ctx->env_socket, error);

        if (!target)
            return NULL;
        ctx->http = ctl_http_new(target, ctx->options->timeout_seconds);
    }
    return ctl_http_request(ctx->http, method, path, NULL, error);
}

/* The JSON object of an answer; anything else means the socket or URL
 * leads to something that is not migd, or migd is broken. */
static json_t *
command_parse(const CtlResponse *response, const char *method,
              const char *path, GError **error)
{
    json_error_t json_error;
    g_autoptr(json_t) answer = json_loadb(response->body, response->len, 0,
                                          &json_error);

    if (!answer || !json_is_object(answer)) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                    "migd's answer to %s %s (HTTP %ld) is not a JSON object "
                    "(%s). Check that the socket or URL is migd's.",
                    method, path, response->status,
                    answer ? "it is another JSON value" : json_error.text);
        return NULL;
    }
    return g_steal_pointer(&answer);
}

/* Reports an error answer. With -o json, an error answer that is JSON also
 * goes to stdout, so that a script can read error.code from it. */
static gboolean
command_fail(CtlContext *ctx, const CtlResponse *response, GError **error)
{
    g_autofree char *message = ctl_format_error_answer(response->status,
                                                       response->body,
                                                       response->len);

    if (ctx->options->output == CTL_OUTPUT_JSON) {
        g_autoptr(json_t) answer = json_loadb(response->body, response->len,
                                              0, NULL);

        if (answer && json_is_object(answer)) {
            g_autofree char *text = ctl_format_json(answer);

            g_string_append(ctx->out, text);
        }
    }
    g_set_error_literal(error, CTL_ERROR, CTL_ERROR_DAEMON, message);
    return FALSE;
}

/* GET @path and the JSON object of its 2xx answer. */
static json_t *
command_get(CtlContext *ctx, const char *path, GError **error)
{
    g_autoptr(CtlResponse) response = command_request(ctx, "GET", path, error);

    if (!response)
        return NULL;
    if (!command_is_success(response->status)) {
        command_fail(ctx, response, error);
        return NULL;
    }
    return command_parse(response, "GET", path, error);
}

/* Puts @answer on stdout as JSON, or as the text @format makes of it. */
static gboolean
command_show(CtlContext *ctx, json_t *answer,
             char *(*format)(json_t *answer, GError **error), GError **error)
{
    g_autofree char *text = NULL;

    if (ctx->options->output == CTL_OUTPUT_JSON)
        text = ctl_format_json(answer);
    else
        text = format(answer, error);
    if (!text)
        return FALSE;
    g_string_append(ctx->out, text);
    return TRUE;
}

static char *
cmd_format_version(json_t *answer, GError **error)
{
    return ctl_format_version(answer, PACKAGE_VERSION, error);
}

static gboolean
cmd_version(CtlContext *ctx, int argc, char **argv, GError **error)
{
    g_autoptr(json_t) answer = command_get(ctx, "/v1/version", error);

    if (!answer)
        return FALSE;
    return command_show(ctx, answer, cmd_format_version, error);
}

/* After the report is shown: the verdict, as an error when not healthy. */
static gboolean
cmd_health_verdict(const CtlResponse *response, json_t *answer,
                   GError **error)
{
    const char *status = json_string_value(json_object_get(answer, "status"));
    g_autofree char *clean_status = NULL;
    g_autofree char *reason = NULL;

    if (response->status == 200 && g_strcmp0(status, "ok") == 0)
        return TRUE;
    /* -o json shows the answer without checking its form; this is where it
     * matters. */
    if (!status) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                    "migd's answer to GET /v1/health (HTTP %ld) has no "
                    "'status' string, so migctl cannot tell whether migd is "
                    "healthy. migd and migctl may come from different "
                    "releases: compare 'migctl --version' with the migd "
                    "package version.", response->status);
        return FALSE;
    }
    clean_status = ctl_format_sanitize(status, -1);
    if (json_is_object(json_object_get(answer, "error"))) {
        reason = ctl_format_error_answer(response->status, response->body,
                                         response->len);
        g_set_error(error, CTL_ERROR, CTL_ERROR_DAEMON,
                    "migd is %s: %s", clean_status, reason);
    } else {
        g_set_error(error, CTL_ERROR, CTL_ERROR_DAEMON,
                    "migd reports its status as '%s' (HTTP %ld); see the "
                    "report for details.", clean_status, response->status);
    }
    return FALSE;
}

static gboolean
cmd_health(CtlContext *ctx, int argc, char **argv, GError **error)
{
    static const char path[] = "/v1/health";
    g_autoptr(CtlResponse) response = command_request(ctx, "GET", path, error);
    g_autoptr(json_t) answer = NULL;

    if (!response)
        return FALSE;
    /* A degraded migd answers 503 and still describes itself; any other
     * error status, or a 503 from something else, is a plain error. */
    if (response->status == 503) {
        answer = json_loadb(response->body, response->len, 0, NULL);
        if (!answer || !json_is_string(json_object_get(answer, "status")))
            return command_fail(ctx, response, error);
    } else if (!command_is_success(response->status)) {
        return command_fail(ctx, response, error);
    } else {
        answer = command_parse(response, "GET", path, error);
        if (!answer)
            return FALSE;
    }
    if (!command_show(ctx, answer, ctl_format_health, error))
        return FALSE;
    return cmd_health_verdict(response, answer, error);
}

static void
command_append_help(GString *out, const Command *command)
{
    g_string_append_printf(out, "Usage: migctl [OPTION...] %s%s%s\n\n",
                           command->name, command->synopsis[0] ? " " : "",
                           command->synopsis);
    ctl_format_append_entry(out, command->name, command->summary);
    if (command->description)
        ctl_format_append_entry(out, "", command->description);
    g_string_append(out, "\nRun 'migctl --help' for the options and exit "
                         "statuses.\n");
}

static gboolean
cmd_help(CtlContext *ctx, int argc, char **argv, GError **error)
{
    const Command *command;

    if (argc < 2) {
        ctl_commands_append_usage(ctx->out);
        return TRUE;
    }
    command = command_find(argv[1]);
    if (!command) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "there is no command '%s' to show help for.", argv[1]);
        return FALSE;
    }
    command_append_help(ctx->out, command);
    return TRUE;
}

/* Says why @extra is one argument too many for @command; an option there is
 * most likely a global option put after the command. */
static void
command_set_too_many(const Command *command, const char *extra,
                     GError **error)
{
    if (extra[0] == '-')
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl %s' has no option '%s'. Global options go before "
                    "the command: migctl [OPTION...] %s.",
                    command->name, extra, command->name);
    else if (command->max_args == 0)
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl %s' takes no arguments, but was given '%s'.",
                    command->name, extra);
    else
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl %s' takes at most %d argument%s (%s), but was "
                    "also given '%s'.",
                    command->name, command->max_args,
                    command->max_args == 1 ? "" : "s",
                    command->synopsis, extra);
}

gboolean
ctl_commands_run(CtlContext *ctx, int argc, char **argv, GError **error)
{
    const Command *command = command_find(argv[0]);

    if (!command) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "unknown command '%s'.", argv[0]);
        return FALSE;
    }
    if (argc > 1 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        command_append_help(ctx->out, command);
        return TRUE;
    }
    if (command->max_args >= 0 && argc - 1 > command->max_args) {
        command_set_too_many(command, argv[command->max_args + 1], error);
        return FALSE;
    }
    return command->run(ctx, argc, argv, error);
}

void
ctl_commands_append_usage(GString *out)
{
    g_string_append(out,
                    "Usage: migctl [OPTION...] COMMAND [ARGUMENT...]\n"
                    "\n"
                    "Control migd, the daemon that live-migrates libvirt/QEMU "
                    "guests with\npassthrough NICs.\n"
                    "\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(command_table); i++)
        ctl_format_append_entry(out, command_table[i].name,
                                command_table[i].summary);

    g_string_append(out, "\nOptions (before the command):\n");
    ctl_options_append_help(out);

    g_string_append(out, "\nEnvironment:\n");
    ctl_format_append_entry(out, "MIGCTL_URL",
                            "Default for --url. Set only one of MIGCTL_URL "
                            "and MIGCTL_SOCKET.");
    ctl_format_append_entry(out, "MIGCTL_SOCKET", "Default for --socket.");

    g_string_append(out,
                    "\nOutput:\n"
                    "  With -o text, a command that fails prints nothing on "
                    "stdout (except health,\n"
                    "  whose report is printed whether migd is healthy or "
                    "not) and one line on\n"
                    "  stderr saying why. With -o json, migd's JSON answer "
                    "is printed on stdout,\n"
                    "  indented, even when it is an error answer, so that "
                    "scripts can read\n"
                    "  error.code; the one-line reason still goes to "
                    "stderr.\n");

    g_string_append(out, "\nExit status:\n");
    for (CtlExit status = 0; status < CTL_EXIT_LAST; status++) {
        g_autofree char *term = g_strdup_printf("%d", status);

        ctl_format_append_entry(out, term, ctl_exit_to_string(status));
    }
    g_string_append(out, "\nRun 'migctl help COMMAND' for more on a "
                         "command.\n");
}
