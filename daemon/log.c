/* Routes every GLib log message through one writer that filters by migd's
 * configured level and picks the journal or stderr. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[MIGD_LOG_LAST] = {
    [MIGD_LOG_ERROR] = "error",
    [MIGD_LOG_WARNING] = "warning",
    [MIGD_LOG_INFO] = "info",
    [MIGD_LOG_DEBUG] = "debug",
};

static MigdLogLevel log_level = MIGD_LOG_INFO;
static gboolean log_to_journal;

const char *
log_level_to_string(MigdLogLevel level)
{
    return (unsigned int)level < MIGD_LOG_LAST ? level_names[level] : "unknown";
}

int
log_level_from_string(const char *name)
{
    for (int i = 0; i < MIGD_LOG_LAST; i++) {
        if (g_strcmp0(level_names[i], name) == 0)
            return i;
    }
    return -1;
}

static MigdLogLevel
level_from_glib(GLogLevelFlags flags)
{
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        return MIGD_LOG_ERROR;
    if (flags & G_LOG_LEVEL_WARNING)
        return MIGD_LOG_WARNING;
    if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
        return MIGD_LOG_INFO;
    return MIGD_LOG_DEBUG;
}

static const char *
field_string(const GLogField *fields, gsize n_fields, const char *key)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, key) == 0 && fields[i].length < 0)
            return fields[i].value;
    }
    return NULL;
}

char *
log_escape(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));
    const char *p = text;

    while (*p) {
        gunichar c = g_utf8_get_char_validated(p, -1);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append_printf(out, "\\x%02x", (guchar)*p);
            p++;
            continue;
        }
        if (c == '\n')
            g_string_append(out, "\\n");
        else if (c == '\r')
            g_string_append(out, "\\r");
        else if (c == '\t')
            g_string_append(out, "\\t");
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
            g_string_append_printf(out, "\\x%02x", c);
        else
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
        p = g_utf8_next_char(p);
    }
    return g_string_free(out, FALSE);
}

/* One line a message on stderr: time, level, text, and any MIGD_* fields so
 * that the context a journal would index is not lost without one. */
static void
write_stderr(MigdLogLevel level, const GLogField *fields, gsize n_fields)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
    g_autoptr(GString) line = g_string_new(NULL);
    const char *text = field_string(fields, n_fields, "MESSAGE");
    g_autofree char *message = log_escape(text ? text : "");

    /* %f prints microseconds; milliseconds are enough to read a timeline. */
    if (strlen(stamp) > 24)
        memmove(stamp + 23, stamp + 26, strlen(stamp + 26) + 1);
    g_string_append_printf(line, "%s migd[%d]: %s: %s", stamp, (int)getpid(),
                           log_level_to_string(level), message);
    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_has_prefix(fields[i].key, "MIGD_") && fields[i].length < 0) {
            g_autofree char *key = g_ascii_strdown(fields[i].key + 5, -1);
            g_autofree char *value = log_escape(fields[i].value);

            g_string_append_printf(line, " %s=%s", key, value);
        }
    }
    g_string_append_c(line, '\n');
    (void)fputs(line->str, stderr);
    (void)fflush(stderr);
}

static GLogWriterOutput
log_writer(GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer data)
{
    MigdLogLevel level = level_from_glib(flags);

    if (level > log_level)
        return G_LOG_WRITER_HANDLED;
    /* Libraries' debug output (libvirt-glib logs every event-loop handle)
     * drowns migd's own; G_MESSAGES_DEBUG=all brings it back. */
    if (level == MIGD_LOG_DEBUG &&
        g_strcmp0(field_string(fields, n_fields, "GLIB_DOMAIN"), G_LOG_DOMAIN) != 0 &&
        g_strcmp0(g_getenv("G_MESSAGES_DEBUG"), "all") != 0)
        return G_LOG_WRITER_HANDLED;
    if (log_to_journal &&
        g_log_writer_journald(flags, fields, n_fields, data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
    write_stderr(level, fields, n_fields);
    return G_LOG_WRITER_HANDLED;
}

void
log_init(MigdLogLevel level)
{
    log_level = level;
    log_to_journal = g_log_writer_is_journald(fileno(stderr));
    g_log_set_writer_func(log_writer, NULL, NULL);
}

void
log_structured(GLogLevelFlags level, const char *const *fields, const char *fmt, ...)
{
    static const char *const priorities[] = { "3", "4", "6", "7" };
    g_autofree char *message = NULL;
    g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(GLogField));
    GLogField field;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    field = (GLogField){ "MESSAGE", message, -1 };
    g_array_append_val(all, field);
    field = (GLogField){ "PRIORITY", priorities[level_from_glib(level)], -1 };
    g_array_append_val(all, field);
    field = (GLogField){ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
    g_array_append_val(all, field);
    for (gsize i = 0; fields[i] && fields[i + 1]; i += 2) {
        field = (GLogField){ fields[i], fields[i + 1], -1 };
        g_array_append_val(all, field);
    }
    g_log_structured_array(level, (GLogField *)(void *)all->data, all->len);
}

void
log_set_level(MigdLogLevel level)
{
    log_level = level;
}
