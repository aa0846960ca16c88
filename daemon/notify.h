/* The systemd service manager protocol (sd_notify): readiness, status lines
 * and the watchdog. Every call is a no-op when not run by systemd. */
#pragma once

#include <glib.h>

void notify_ready(void);
void notify_reloading(void);
void notify_reload_done(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Pets the watchdog from the main loop at half of WatchdogSec, so a loop
 * that hangs stops petting it. Returns the interval in ms, 0 if disabled. */
guint notify_watchdog_start(void);
void notify_watchdog_stop(void);
