/* Small jansson helpers shared by the records migd writes. */
#include <config.h>

#include "jsonutil.h"

json_t *
json_time_ms(gint64 wall_us)
{
    g_autoptr(GDateTime) t = NULL;
    g_autofree char *seconds = NULL;
    g_autofree char *text = NULL;

    if (wall_us <= 0)
        return json_null();
    t = g_date_time_new_from_unix_utc(wall_us / G_USEC_PER_SEC);
    if (!t)
        return json_null();
    seconds = g_date_time_format(t, "%Y-%m-%dT%H:%M:%S");
    text = g_strdup_printf("%s.%03dZ", seconds, (int)(wall_us % G_USEC_PER_SEC / 1000));
    return json_string(text);
}

gint64
json_time_parse(json_t *value)
{
    g_autoptr(GDateTime) t = NULL;

    if (!json_is_string(value))
        return 0;
    t = g_date_time_new_from_iso8601(json_string_value(value), NULL);
    return t ? g_date_time_to_unix(t) * G_USEC_PER_SEC + g_date_time_get_microsecond(t) : 0;
}
