/* The failpoints' table and their trigger. A failpoint kills migd the way a
 * crash or an OOM kill would: no cleanup, no flushing beyond what is
 * already written (the store's write-ahead must be enough). */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "failpoint.h"

/* Every point, one line each: where it is and what has happened by then. */
static const char *const failpoint_table[] = {
    /* The source's NIC steps. */
    "src-after-unplug-request",     /* detach sent, DEVICE_REMOVED not yet seen */
    "src-after-device-removed",     /* the guest released the VF; not migrating yet */
    "src-after-migrate-start",      /* libvirt's migrate call is running */
    "src-mid-rollback",             /* a rollback has begun, the VF not yet back */
    /* The destination's side. */
    "dst-after-prepare",            /* the replug is armed, the guest not here yet */
    "dst-at-resume-before-replug",  /* the guest resumed here; nothing plugged yet */
    "dst-after-replug-before-verify", /* the VF is plugged; the guest not asked yet */
    NULL,
};

static GPtrArray *armed;        /* names from MIGD_FAILPOINTS; NULL: none */

const char *const *
failpoint_names(void)
{
    return failpoint_table;
}

static gboolean
failpoint_known(const char *name)
{
    for (guint i = 0; failpoint_table[i]; i++) {
        if (strcmp(failpoint_table[i], name) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean
failpoint_init(GError **error)
{
    const char *env = g_getenv("MIGD_FAILPOINTS");
    g_auto(GStrv) names = NULL;

    if (!env || !*env)
        return TRUE;
    names = g_strsplit(env, ",", -1);
    for (guint i = 0; names[i]; i++) {
        g_strstrip(names[i]);
        if (*names[i] && !failpoint_known(names[i])) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "MIGD_FAILPOINTS names '%s', which is no failpoint of migd "
                        "(migd --list-failpoints prints them)", names[i]);
            return FALSE;
        }
    }
    if (!armed)
        armed = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; names[i]; i++) {
        if (*names[i])
            g_ptr_array_add(armed, g_strdup(names[i]));
    }
    return TRUE;
}

void
failpoint(const char *name)
{
    if (!failpoint_known(name))
        g_error("failpoint '%s' is not in failpoint.c's table", name);
    if (!armed)
        return;
    for (guint i = 0; i < armed->len; i++) {
        if (strcmp(armed->pdata[i], name) == 0) {
            /* Said on stderr directly: the log may buffer, and the test
             * reads this line to know the point was reached. */
            fprintf(stderr, "migd: failpoint %s reached: killing myself\n", name);
            fflush(stderr);
            (void)kill(getpid(), SIGKILL);
            _exit(137);
        }
    }
}
