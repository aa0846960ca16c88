/* Logging: GLib structured logging, to the journal (with MIGD_* fields) when
 * stderr is connected to it, to stderr otherwise. */
#pragma once

#include <glib.h>

typedef enum {
    MIGD_LOG_ERROR,
    MIGD_LOG_WARNING,
    MIGD_LOG_INFO,
    MIGD_LOG_DEBUG,
    MIGD_LOG_LAST
} MigdLogLevel;

const char *log_level_to_string(MigdLogLevel level);
/* Returns -1 when @name is not a level. */
int log_level_from_string(const char *name);

/* Installs migd's GLib log writer; messages above @level are dropped. */
void log_init(MigdLogLevel level);
void log_set_level(MigdLogLevel level);
