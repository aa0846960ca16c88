/* Calling a plugin from the main loop: the callback runs in a worker with a
 * per-call timeout ([plugins] call_timeout_s), and its outcome comes back
 * on the loop. A call that overruns is reported as -ETIMEDOUT at its
 * deadline; its thread cannot be stopped, so its late result is dropped. */
#pragma once

#include <gio/gio.h>

#include "plugin-loader.h"

typedef enum {
    PLUGIN_CALL_PROBE,
    PLUGIN_CALL_SAVE_STATE,
    PLUGIN_CALL_CHECK_STATE,
    PLUGIN_CALL_RESTORE_STATE,
    PLUGIN_CALL_PRE_SWITCHOVER,
    PLUGIN_CALL_POST_SWITCHOVER,
    PLUGIN_CALL_ABORT,
    PLUGIN_CALL_LAST
} PluginCallKind;

const char *plugin_call_kind_to_string(PluginCallKind kind);

/* A device, owning its strings; plugin_device_view() lends it to the ABI. */
typedef struct {
    guint kind;                 /* enum migd_device_kind */
    guint side;                 /* enum migd_side */
    char *pci_address, *pf_address, *pf_netdev, *netdev, *mac, *pool, *domain, *alias, *job;
    int vf_index, vlan;         /* -1: unknown */
} PluginDevice;

PluginDevice *plugin_device_copy(const PluginDevice *dev);
void plugin_device_free(PluginDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PluginDevice, plugin_device_free)
void plugin_device_view(const PluginDevice *dev, struct migd_device *ret);

typedef struct {
    PluginCallKind kind;
    int rc;                     /* 0, a negative errno, or -ETIMEDOUT */
    const char *error;          /* a sentence when rc != 0 */
    gint64 elapsed_ms;
    struct migd_probe probe;    /* PROBE */
    GBytes *state;              /* SAVE_STATE */
    guint32 state_version;      /* SAVE_STATE */
} PluginCallResult;

/* Called once, on the loop; @result is borrowed for the call. */
typedef void (*PluginCallDone)(const PluginCallResult *result, gpointer data);

/* Starts @kind on @p for @dev (copied). @state and @version are the
 * blob for CHECK_STATE and RESTORE_STATE; @cap bounds SAVE_STATE. */
void plugin_call(Plugin *p, PluginCallKind kind, const PluginDevice *dev, GBytes *state,
                 guint32 version, gsize cap, guint timeout_ms, PluginCallDone done,
                 gpointer data);

/* Calls whose worker has not ended yet, the overrun ones included: what a
 * shutdown leaves running. */
guint plugin_call_in_flight(void);

/* Calls abort on @p for @dev with nobody waiting for the outcome (the job
 * is undone): a failure is logged as a warning that names the job, the
 * device and what the plugin said. */
void plugin_call_abort(Plugin *p, const PluginDevice *dev, guint timeout_ms);
