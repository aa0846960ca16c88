/* Small jansson helpers: GLib ownership for json_t (g_autoptr(json_t)),
 * and the null-for-absent strings and times the API's records use. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

/* A new JSON string, or null when @s is NULL. */
static inline json_t *
json_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A count or a duration in ms, or null when it is negative (not measured). */
static inline json_t *
json_count_or_null(gint64 n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* A wall-clock time (µs since the epoch) as ISO 8601 UTC with milliseconds,
 * the precision records are read in; null for 0 or less. */
json_t *json_time_ms(gint64 wall_us);

/* The reverse: µs since the epoch, or 0 when @value is not such a time. */
gint64 json_time_parse(json_t *value);
