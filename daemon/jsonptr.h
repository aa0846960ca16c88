/* GLib ownership helpers for jansson's json_t (g_autoptr(json_t)). */
#pragma once

#include <glib.h>
#include <jansson.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)
