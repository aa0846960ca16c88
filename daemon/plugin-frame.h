/* The frame around a plugin's device state on its way from the source's
 * migd to the destination's: who wrote it (plugin, ABI, state version), for
 * which device, how long, and a checksum, so that the destination refuses a
 * damaged, oversized or foreign blob before any plugin sees it. */
#pragma once

#include <glib.h>

/* Longest names a frame carries. */
#define PLUGIN_FRAME_NAME_MAX 64
#define PLUGIN_FRAME_ALIAS_MAX 128

typedef struct {
    char *plugin;               /* the plugin's name */
    guint abi_major, abi_minor; /* the ABI the source's plugin was built for */
    guint32 state_version;
    char *alias;                /* the device's alias in the domain XML */
    GBytes *state;              /* the plugin's blob */
} PluginFrame;

void plugin_frame_clear(PluginFrame *frame);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PluginFrame, plugin_frame_clear)

/* The frame's bytes, as base64 for the peer API's JSON. */
char *plugin_frame_encode(const PluginFrame *frame);

/* Reads @text (base64). FALSE with MIGD_ERROR_INVALID_ARGUMENT and a
 * sentence naming what is wrong (not base64, truncated, wrong magic or
 * version, a name too long, a state over @max_state bytes, a checksum that
 * does not match) and @ret untouched. */
gboolean plugin_frame_decode(const char *text, gsize max_state, PluginFrame *ret,
                             GError **error);
