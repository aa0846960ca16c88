/* The commands of migctl, each a request to migd's REST API and a rendering
 * of its answer. New commands are a function and a line in command_table. */
#include <config.h>

#include <string.h>

#include "ctl-commands.h"
#include "ctl-drain.h"
#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-migration.h"
#include "ctl-plugins.h"
#include "ctl-vfs.h"

typedef gboolean (*CommandFunc)(CtlContext *ctx, const CtlArgs *args,
                                GError **error);

typedef struct {
    const char *name;
    const char *arguments;      /* the positional ones, e.g. "DOMAIN DEST" */
    int min_args;
    int max_args;
    const CtlArgSpec *options;  /* the command's own, or NULL */
    const char *summary;        /* one sentence for the command list */
    const char *description;    /* more, for `migctl help NAME`, or NULL */
    CommandFunc run;
} Command;

static gboolean cmd_version(CtlContext *ctx, const CtlArgs *args,
                            GError **error);
static gboolean cmd_health(CtlContext *ctx, const CtlArgs *args,
                           GError **error);
static gboolean cmd_help(CtlContext *ctx, const CtlArgs *args,
                         GError **error);

#define COMMAND_ID_HELP \
    "ID is a migration's ID, or its beginning as 'migctl list' shows it."

static const Command command_table[] = {
    { "migrate", "DOMAIN DEST", 2, 2, ctl_migration_migrate_options,
      "Live-migrate a domain to another host.",
      "Asks migd to migrate DOMAIN to DEST, a peer's name from migd.conf (a "
      "qemu+tcp, qemu+tls or qemu+ssh URI only where migd.conf sets "
      "allow_uri_destinations), or auto: migd asks its peers what they can take "
      "and picks one (the migration's destination_choice says which and why), "
      "and prints the migration's ID. What is not given is "
      "left to migd's configuration. With --wait, migctl then follows the "
      "migration as 'migctl watch' does, and exits with its status.",
      ctl_migration_migrate },
    { "status", "ID", 1, 1, NULL,
      "Show a migration: its state, progress, results and timeline.",
      COMMAND_ID_HELP,
      ctl_migration_status },
    { "list", "", 0, 0, ctl_migration_list_options,
      "List the migrations migd knows of, or those in a state or of a "
      "domain.",
      "The ID column shows the beginning of each ID, which the other "
      "commands accept; -o json shows whole records.",
      ctl_migration_list },
    { "watch", "ID", 1, 1, NULL,
      "Follow a migration live until it ends.",
      COMMAND_ID_HELP " On a terminal, a progress line is redrawn in place "
      "and state changes and policy actions are printed above it; "
      "otherwise, each event is a line. With -o json, each event's data is "
      "one line of JSON. Exits with 0 when the migration completed, 1 when "
      "it failed or was cancelled, and 3 when the connection broke before "
      "it ended; --timeout limits only the wait for the connection.",
      ctl_migration_watch },
    { "cancel", "ID", 1, 1, NULL,
      "Cancel a migration; migd rolls back what it did.",
      COMMAND_ID_HELP " migd answers at once: 'migctl watch ID' shows the "
      "rollback and how the migration ends.",
      ctl_migration_cancel },
    { "force-complete", "ID", 1, 1, NULL,
      "Ask migd to make a migration that does not converge finish now.",
      COMMAND_ID_HELP " migd answers at once; what it then does about it "
      "shows in the migration's timeline ('migctl status ID').",
      ctl_migration_force_complete },
    { "drain", "", 0, 0, ctl_drain_options,
      "Migrate every running guest off this host, each to a peer migd chooses.",
      "migd plans where each guest goes (the peers' free VFs and incoming "
      "slots), starts at most max_outgoing migrations at once and queues the "
      "rest; a guest no peer can take stays running here, with the reason. "
      "Prints the drain's guests and total; with --wait, follows it until it "
      "is done. A second drain while one runs is refused.",
      ctl_drain },
    { "vfs", "", 0, 0, NULL,
      "List this host's VFs: free, leased to an incoming migration, or in "
      "use by a domain.",
      "The VFs come from the pools in migd.conf ([pool.NAME]). A leased VF "
      "shows the migration job that holds it and when the lease expires.",
      ctl_vfs_list },
    { "plugins", "", 0, 0, NULL,
      "List migd's vendor plugins, the devices each claims and what it "
      "vouches for.",
      "A plugin carries a device's state across a migration; STRATEGY is "
      "what it vouches the device can do (native: it stays attached and "
      "QEMU migrates it; pause: it stays attached and migd pauses it at "
      "switchover; unplug: it must be unplugged). Files migd refused are "
      "listed with the reason.",
      ctl_plugins_list },
    { "version", "", 0, 0, NULL,
      "Show the versions of migd, libvirt, the hypervisor and migctl.",
      "With -o json, only migd's answer is printed; 'migctl --version' "
      "prints the version of migctl alone.",
      cmd_version },
    { "health", "", 0, 0, NULL,
      "Check that migd is up and connected to libvirt.",
      "Exits with status 0 when migd is healthy and 1 when it reports "
      "itself degraded, for example while its libvirt connection is down; "
      "the report is printed in both cases.",
      cmd_health },
    { "help", "[COMMAND]", 0, 1, NULL,
      "Show this help, or the help of one command.",
      NULL,
      cmd_help },
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

CtlHttp *
ctl_context_get_http(CtlContext *ctx, GError **error)
{
    if (!ctx->http) {
        CtlTarget *target = ctl_target_resolve(ctx->options, ctx->env_url,
                                               ctx->env_socket, error);

        if (!target)
            return NULL;
        if (!ctl_target_resolve_tls(target, ctx->options, ctx->env_cacert, ctx->env_cert,
                                    ctx->env_key, error)) {
            ctl_target_free(target);
            return NULL;
        }
        ctx->http = ctl_http_new(target, ctx->options->timeout_seconds);
    }
    return ctx->http;
}

void
ctl_context_print(CtlContext *ctx, const char *text)
{
    if (!ctx->live) {
        g_string_append(ctx->out, text);
        return;
    }
    /* Errors show in ferror(), which main() checks at the end. */
    (void)fputs(text, ctx->live);
    (void)fflush(ctx->live);
}

static CtlResponse *
command_request(CtlContext *ctx, const char *method, const char *path,
                const char *body, GError **error)
{
    CtlHttp *http = ctl_context_get_http(ctx, error);

    if (!http)
        return NULL;
    return ctl_http_request(http, method, path, body, error);
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
gboolean
ctl_command_fail(CtlContext *ctx, const CtlResponse *response, GError **error)
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

json_t *
ctl_command_call(CtlContext *ctx, const char *method, const char *path,
                 const char *body, GError **error)
{
    g_autoptr(CtlResponse) response = command_request(ctx, method, path, body,
                                                      error);

    if (!response)
        return NULL;
    if (!command_is_success(response->status)) {
        ctl_command_fail(ctx, response, error);
        return NULL;
    }
    return command_parse(response, method, path, error);
}

gboolean
ctl_command_show(CtlContext *ctx, json_t *answer, CtlFormatFunc format,
                 GError **error)
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
cmd_version(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    g_autoptr(json_t) answer = ctl_command_call(ctx, "GET", "/v1/version",
                                                NULL, error);

    if (!answer)
        return FALSE;
    return ctl_command_show(ctx, answer, cmd_format_version, error);
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
cmd_health(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    static const char path[] = "/v1/health";
    g_autoptr(CtlResponse) response = command_request(ctx, "GET", path, NULL,
                                                      error);
    g_autoptr(json_t) answer = NULL;

    if (!response)
        return FALSE;
    /* A degraded migd answers 503 and still describes itself; any other
     * error status, or a 503 from something else, is a plain error. */
    if (response->status == 503) {
        answer = json_loadb(response->body, response->len, 0, NULL);
        if (!answer || !json_is_string(json_object_get(answer, "status")))
            return ctl_command_fail(ctx, response, error);
    } else if (!command_is_success(response->status)) {
        return ctl_command_fail(ctx, response, error);
    } else {
        answer = command_parse(response, "GET", path, error);
        if (!answer)
            return FALSE;
    }
    if (!ctl_command_show(ctx, answer, ctl_format_health, error))
        return FALSE;
    return cmd_health_verdict(response, answer, error);
}

static void
command_append_help(GString *out, const Command *command)
{
    g_string_append_printf(out, "Usage: migctl [OPTION...] %s%s%s%s\n\n",
                           command->name, command->arguments[0] ? " " : "",
                           command->arguments,
                           command->options ? " [COMMAND OPTION...]" : "");
    ctl_format_append_entry(out, command->name, command->summary);
    if (command->description)
        ctl_format_append_entry(out, "", command->description);
    if (command->options) {
        g_string_append_printf(out, "\nOptions of %s (after its name):\n",
                               command->name);
        ctl_args_append_help(out, command->options);
    }
    g_string_append(out, "\nRun 'migctl --help' for the global options and "
                         "exit statuses.\n");
}

static gboolean
cmd_help(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    const Command *command;

    if (args->n_args == 0) {
        ctl_commands_append_usage(ctx->out);
        return TRUE;
    }
    command = command_find(args->args[0]);
    if (!command) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "there is no command '%s' to show help for.",
                    args->args[0]);
        return FALSE;
    }
    command_append_help(ctx->out, command);
    return TRUE;
}

gboolean
ctl_commands_run(CtlContext *ctx, int argc, char **argv, GError **error)
{
    const Command *command = command_find(argv[0]);
    CtlArgsSyntax syntax;
    g_autoptr(CtlArgs) args = NULL;

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
    syntax = (CtlArgsSyntax){
        .command = command->name, .arguments = command->arguments,
        .min_args = command->min_args, .max_args = command->max_args,
        .options = command->options,
    };
    args = ctl_args_parse(&syntax, argc - 1, argv + 1, error);
    if (!args)
        return FALSE;
    return command->run(ctx, args, error);
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

    g_string_append(out, "\nGlobal options (before or after the command: migctl status ID -o json):\n");
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
                    "not, and watch and\n"
                    "  migrate --wait, which print as the migration goes on) "
                    "and one line on\n"
                    "  stderr saying why. With -o json, migd's JSON answer "
                    "is printed on stdout,\n"
                    "  indented, even when it is an error answer, so that "
                    "scripts can read\n"
                    "  error.code; the one-line reason still goes to stderr. "
                    "watch and migrate\n"
                    "  --wait print each event's data as one line of JSON "
                    "instead (JSON Lines).\n");

    g_string_append(out, "\nExit status:\n");
    for (CtlExit status = 0; status < CTL_EXIT_LAST; status++) {
        g_autofree char *term = g_strdup_printf("%d", status);

        ctl_format_append_entry(out, term, ctl_exit_to_string(status));
    }
    g_string_append(out, "\nRun 'migctl help COMMAND' for more on a "
                         "command.\n");
}
