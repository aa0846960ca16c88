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

/* Logs a message with extra journal fields: @fields holds "MIGD_NAME",
 * value pairs and ends with NULL; LOG_FIELDS() builds it in place. On stderr
 * the fields follow the message as name=value. */
#define LOG_FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
void log_structured(GLogLevelFlags level, const char *const *fields, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* @text with what could break a log line apart written as escapes: control
 * characters (a newline is "\n") and bytes that are not UTF-8 ("\xHH").
 * Every line migd writes to stderr goes through it, so a string from the
 * network cannot forge a line. */
char *log_escape(const char *text);
