/* Small jansson helpers: GLib ownership for json_t (g_autoptr(json_t)) and
 * the null-for-absent strings the API's records use. */
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
