/* Vendor plugins: loading the shared objects of the plugin directory,
 * checking their table against the ABI (include/migd/plugin.h), and calling
 * them. The calls here block as long as the plugin does: run them in a
 * worker (plugin-call.h does, with a timeout). */
#pragma once

#include <glib.h>
#include <migd/plugin.h>

typedef struct _Plugin Plugin;
typedef struct _PluginSet PluginSet;

typedef struct {
    char *file;
    char *reason;       /* a sentence: why migd does not use it */
} PluginRefusal;

/* Loads every "*.so" of @dir, in name order, and calls each one's init
 * with its settings: @settings maps a plugin's name to a GPtrArray of
 * "key", "value", "key", "value"... strings (the [plugin.NAME] group), or
 * is NULL. A file that does not load, has no entry symbol, another ABI
 * major, a table too small or without a name or probe, a name taken by an
 * earlier file, or whose init fails is refused: it is described in the
 * set's refusals, logged once, and the rest load anyway. A missing @dir is
 * an empty set. */
PluginSet *plugin_set_load(const char *dir, GHashTable *settings);
/* Loads the one plugin @file as plugin_set_load() loads each file, its init
 * getting @settings ("key", "value"... strings; may be NULL) whatever its
 * name: what migd-plugin-check does with a file it is given. */
PluginSet *plugin_set_load_file(const char *file, GPtrArray *settings);
void plugin_set_free(PluginSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PluginSet, plugin_set_free)

/* The loaded plugins (Plugin*) and the refused files (PluginRefusal*). */
GPtrArray *plugin_set_plugins(PluginSet *set);
GPtrArray *plugin_set_refusals(PluginSet *set);
Plugin *plugin_set_find(PluginSet *set, const char *name);

/* What a device is vouched for (MIGD_PROBE_NATIVE, _PAUSE), from @flags,
 * the OR of the probe flags of every plugin that claims it: the union of
 * their vouches less what any of them denies (include/migd/plugin.h). */
guint plugin_vouch(guint flags);

/* A call in a worker holds a reference, so that the plugin stays loaded
 * while its callback runs, even past the set's end. */
Plugin *plugin_ref(Plugin *p);
void plugin_unref(Plugin *p);

const char *plugin_name(const Plugin *p);
const char *plugin_version(const Plugin *p);
const char *plugin_file(const Plugin *p);
guint plugin_abi_minor(const Plugin *p);

/* The callbacks. Each returns 0 or a negative errno; on failure
 * @reterr_message (may be NULL) gets a sentence that names the plugin and
 * what it said. One call runs at a time per plugin. A callback the plugin
 * leaves NULL is -EOPNOTSUPP for the state calls and 0 (nothing to do) for
 * pre_switchover, post_switchover and abort. */
int plugin_probe(Plugin *p, const struct migd_device *dev, struct migd_probe *ret,
                 char **reterr_message);
int plugin_save_state(Plugin *p, const struct migd_device *dev, gsize cap, GBytes **ret_state,
                      guint32 *ret_version, char **reterr_message);
int plugin_check_state(Plugin *p, const struct migd_device *dev, GBytes *state, guint32 version,
                       char **reterr_message);
int plugin_restore_state(Plugin *p, const struct migd_device *dev, GBytes *state,
                         guint32 version, char **reterr_message);
int plugin_pre_switchover(Plugin *p, const struct migd_device *dev, char **reterr_message);
int plugin_post_switchover(Plugin *p, const struct migd_device *dev, char **reterr_message);
int plugin_abort(Plugin *p, const struct migd_device *dev, char **reterr_message);
