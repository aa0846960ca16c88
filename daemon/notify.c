/* Thin wrappers over sd_notify() that keep the daemon's call sites short. */
#include <config.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

static guint watchdog_source;

void
notify_ready(void)
{
    (void)sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
    /* MONOTONIC_USEC lets a Type=notify-reload manager match the reply. */
    (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time());
}

void
notify_reload_done(void)
{
    (void)sd_notify(0, "READY=1");
}

void
notify_stopping(void)
{
    (void)sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
    g_autofree char *status = NULL;
    va_list ap;

    va_start(ap, fmt);
    status = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    (void)sd_notifyf(0, "STATUS=%s", status);
}

static gboolean
notify_on_watchdog(gpointer data)
{
    (void)sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

guint
notify_watchdog_start(void)
{
    uint64_t usec = 0;
    guint ms;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    ms = (guint)MAX(usec / 2000, 1);
    watchdog_source = g_timeout_add(ms, notify_on_watchdog, NULL);
    return ms;
}

void
notify_watchdog_stop(void)
{
    g_clear_handle_id(&watchdog_source, g_source_remove);
}
