/* migctl's error domain and its exit statuses: each failure class maps to one
 * stable exit status that scripts and the on-call runbook rely on. */
#pragma once

#include <glib.h>

/* The values are a public interface (documented in --help): never renumber. */
typedef enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILURE = 1,       /* migd answered with an error, or unhealthy,
                                 * or a watched migration did not complete */
    CTL_EXIT_USAGE = 2,         /* the command line is wrong */
    CTL_EXIT_UNREACHABLE = 3,   /* no answer from migd at all, or its event
                                 * stream broke off */
    CTL_EXIT_LAST
} CtlExit;

#define CTL_ERROR (ctl_error_quark())

typedef enum {
    CTL_ERROR_USAGE,            /* unknown command or option, bad argument */
    CTL_ERROR_UNREACHABLE,      /* connect failed, timed out, name unknown */
    CTL_ERROR_DAEMON,           /* migd answered with a non-2xx status, or
                                 * knows no migration by the ID given */
    CTL_ERROR_BAD_ANSWER,       /* migd's answer is not what the API promises */
    CTL_ERROR_LOCAL,            /* migctl itself failed, e.g. writing stdout */
    CTL_ERROR_MIGRATION,        /* a watched migration failed or was cancelled */
    CTL_ERROR_LAST
} CtlErrorCode;

GQuark ctl_error_quark(void);

/* The exit status for a failure; a foreign error domain counts as a plain
 * failure so that no error is ever reported as success. */
CtlExit ctl_error_to_exit(const GError *error);

/* One line for the "Exit status" section of --help. */
const char *ctl_exit_to_string(CtlExit status);
