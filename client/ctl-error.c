/* migctl's error domain and the exit status each failure class maps to. */
#include <config.h>

#include "ctl-error.h"

G_DEFINE_QUARK(migctl-error-quark, ctl_error)

static const char *const exit_descriptions[CTL_EXIT_LAST] = {
    [CTL_EXIT_OK] = "Success; for health, migd is healthy; for watch and "
                    "migrate --wait, the migration completed.",
    [CTL_EXIT_FAILURE] = "migd answered with an error or with an answer migctl "
                         "cannot read; for health, migd reports itself "
                         "degraded; for watch and migrate --wait, the "
                         "migration failed or was cancelled.",
    [CTL_EXIT_USAGE] = "Usage error: unknown command or option, missing or "
                       "invalid argument.",
    [CTL_EXIT_UNREACHABLE] = "migd cannot be reached: no such socket, "
                             "connection refused, permission denied, "
                             "timeout, unknown host; for watch and migrate "
                             "--wait, also when the event stream broke off "
                             "before the migration ended.",
};

static const CtlExit error_exits[CTL_ERROR_LAST] = {
    [CTL_ERROR_USAGE] = CTL_EXIT_USAGE,
    [CTL_ERROR_UNREACHABLE] = CTL_EXIT_UNREACHABLE,
    [CTL_ERROR_DAEMON] = CTL_EXIT_FAILURE,
    [CTL_ERROR_BAD_ANSWER] = CTL_EXIT_FAILURE,
    [CTL_ERROR_LOCAL] = CTL_EXIT_FAILURE,
    [CTL_ERROR_MIGRATION] = CTL_EXIT_FAILURE,
};

CtlExit
ctl_error_to_exit(const GError *error)
{
    if (!error)
        return CTL_EXIT_OK;
    if (error->domain != CTL_ERROR || error->code < 0 ||
        error->code >= CTL_ERROR_LAST)
        return CTL_EXIT_FAILURE;
    return error_exits[error->code];
}

const char *
ctl_exit_to_string(CtlExit status)
{
    if ((unsigned int)status >= CTL_EXIT_LAST)
        return "unknown exit status";
    return exit_descriptions[status];
}
