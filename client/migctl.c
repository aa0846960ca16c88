/* migctl: the command-line client of migd. It parses the global options,
 * runs one command and turns any failure into one line and an exit status. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl-commands.h"
#include "ctl-error.h"
#include "ctl-options.h"

/* Prints the one line that explains @error and returns its exit status. */
static int
main_fail(const GError *error)
{
    if (g_error_matches(error, CTL_ERROR, CTL_ERROR_USAGE))
        fprintf(stderr, "migctl: %s Run 'migctl --help' for usage.\n",
                error->message);
    else
        fprintf(stderr, "migctl: %s\n", error->message);
    return ctl_error_to_exit(error);
}

/* Checks that everything written to stdout arrived, e.g. not on a full
 * disk, since scripts read it. */
static gboolean
main_flush(GError **error)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return TRUE;
    g_set_error(error, CTL_ERROR, CTL_ERROR_LOCAL,
                "cannot write the output to stdout: %s.", g_strerror(errno));
    return FALSE;
}

/* The width of the terminal on stdout, or 0. */
static guint
main_columns(void)
{
    struct winsize size;

    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) < 0)
        return 0;
    return size.ws_col;
}

static gboolean
main_run(const CtlOptions *options, GError **error)
{
    g_autoptr(CtlContext) ctx = NULL;
    gboolean ok;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_LOCAL,
                            "libcurl failed to initialise, which usually means "
                            "memory is exhausted or the TLS library is broken.");
        return FALSE;
    }
    ctx = ctl_context_new(options, g_getenv("MIGCTL_URL"),
                          g_getenv("MIGCTL_SOCKET"));
    ctx->env_cacert = g_getenv("MIGCTL_CACERT");
    ctx->env_cert = g_getenv("MIGCTL_CERT");
    ctx->env_key = g_getenv("MIGCTL_KEY");
    ctx->live = stdout;
    ctx->tty = isatty(STDOUT_FILENO);
    ctx->columns = main_columns();
    ok = ctl_commands_run(ctx, options->command_argc, options->command_argv,
                          error);
    /* On failure this is only the JSON error answer -o json promises. */
    fwrite(ctx->out->str, 1, ctx->out->len, stdout);
    g_clear_pointer(&ctx, ctl_context_free);
    curl_global_cleanup();
    return ok;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) flush_error = NULL;
    g_autoptr(CtlOptions) options = ctl_options_parse(argc, argv, &error);
    gboolean ok;

    if (!options)
        return main_fail(error);

    if (options->help) {
        g_autoptr(GString) usage = g_string_new(NULL);

        ctl_commands_append_usage(usage);
        fputs(usage->str, stdout);
        ok = TRUE;
    } else if (options->version) {
        printf("migctl %s\n", PACKAGE_VERSION);
        ok = TRUE;
    } else if (options->command_argc == 0) {
        g_set_error_literal(&error, CTL_ERROR, CTL_ERROR_USAGE,
                            "no command given.");
        ok = FALSE;
    } else {
        ok = main_run(options, &error);
    }

    if (!main_flush(&flush_error) && ok)
        return main_fail(flush_error);
    if (!ok)
        return main_fail(error);
    return CTL_EXIT_OK;
}
