/* Loading plugins and calling them. migd copies each plugin's table into a
 * zero-filled table of its own size, taking only the bytes the plugin's
 * `size` covers: members a plugin built against an older minor does not
 * have read as NULL, and a newer plugin's extra members are not read. */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "plugin-loader.h"

/* Through `abort`: what every plugin of ABI 1.x has. */
#define PLUGIN_TABLE_MIN_SIZE \
    (offsetof(struct migd_plugin, abort) + sizeof(((struct migd_plugin *)NULL)->abort))

struct _Plugin {
    char *file;
    char *name;
    char *version;
    void *handle;
    struct migd_plugin table;   /* migd's copy, see above */
    void *ctx;
    GMutex lock;                /* one call at a time */
};

struct _PluginSet {
    GPtrArray *plugins;
    GPtrArray *refusals;
};

static void
plugin_clear(gpointer data)
{
    Plugin *p = data;

    if (p->table.fini)
        p->table.fini(p->ctx);
    if (p->handle)
        (void)dlclose(p->handle);
    g_mutex_clear(&p->lock);
    g_free(p->file);
    g_free(p->name);
    g_free(p->version);
}

Plugin *
plugin_ref(Plugin *p)
{
    return g_atomic_rc_box_acquire(p);
}

void
plugin_unref(Plugin *p)
{
    if (p)
        g_atomic_rc_box_release_full(p, plugin_clear);
}

static void
plugin_free(gpointer data)
{
    plugin_unref(data);
}

static void
refusal_free(gpointer data)
{
    PluginRefusal *r = data;

    g_free(r->file);
    g_free(r->reason);
    g_free(r);
}

static void
plugin_refuse(PluginSet *set, const char *file, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
plugin_refuse(PluginSet *set, const char *file, const char *fmt, ...)
{
    PluginRefusal *r = g_new0(PluginRefusal, 1);
    va_list ap;

    va_start(ap, fmt);
    r->reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    r->file = g_strdup(file);
    g_warning("Plugin %s is not used: %s", file, r->reason);
    g_ptr_array_add(set->refusals, r);
}

static gboolean
plugin_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return FALSE;
    for (const char *c = name; *c; c++) {
        if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '-')
            return FALSE;
    }
    return TRUE;
}

/* Why @t cannot be used, or NULL. */
static char *
plugin_table_problem(const struct migd_plugin *t)
{
    if (!t)
        return g_strdup("its " MIGD_PLUGIN_ENTRY_NAME "() returned NULL");
    if (t->abi_major != MIGD_PLUGIN_ABI_MAJOR)
        return g_strdup_printf("it was built for plugin ABI %u.%u, and this migd speaks %u.x",
                               t->abi_major, t->abi_minor, MIGD_PLUGIN_ABI_MAJOR);
    if (t->size < PLUGIN_TABLE_MIN_SIZE)
        return g_strdup_printf("its table is %u bytes, smaller than the %zu of ABI %u.0",
                               t->size, (size_t)PLUGIN_TABLE_MIN_SIZE, MIGD_PLUGIN_ABI_MAJOR);
    if (!plugin_name_valid(t->name))
        return g_strdup("its name is missing or not made of a-z, 0-9 and '-' (64 at most)");
    if (!t->probe)
        return g_strdup("it has no probe callback");
    return NULL;
}

static const struct migd_setting *
plugin_settings(GPtrArray *kv, GArray *store)
{
    for (guint i = 0; kv && i + 1 < kv->len; i += 2) {
        struct migd_setting s = { kv->pdata[i], kv->pdata[i + 1] };

        g_array_append_val(store, s);
    }
    return (const struct migd_setting *)(void *)store->data;
}

/* dlerror()'s message, copied; glibc keeps its buffer until the next
 * dlerror(), so that call frees it. */
static char *
plugin_dlerror(void)
{
    const char *e = dlerror();
    char *copy = g_strdup(e ? e : "unknown error");

    (void)dlerror();
    return copy;
}

/* Loads @file into @set. Its init gets @own when given, else its group
 * in @settings. */
static void
plugin_load_file(PluginSet *set, const char *file, GHashTable *settings, GPtrArray *own)
{
    g_autoptr(GArray) kv = g_array_new(FALSE, TRUE, sizeof(struct migd_setting));
    g_autofree char *problem = NULL;
    char err[MIGD_PLUGIN_ERRLEN] = "";
    migd_plugin_entry_fn entry;
    const struct migd_plugin *t;
    Plugin *p;
    void *handle;
    int rc;

    handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        g_autofree char *why = plugin_dlerror();

        plugin_refuse(set, file, "it does not load: %s", why);
        return;
    }
    *(void **)&entry = dlsym(handle, MIGD_PLUGIN_ENTRY_NAME);
    if (!entry) {
        g_free(plugin_dlerror());
        plugin_refuse(set, file, "it exports no " MIGD_PLUGIN_ENTRY_NAME "()");
        (void)dlclose(handle);
        return;
    }
    t = entry();
    problem = plugin_table_problem(t);
    if (!problem && plugin_set_find(set, t->name))
        problem = g_strdup_printf("an earlier file already is plugin '%s'", t->name);
    if (problem) {
        plugin_refuse(set, file, "%s", problem);
        (void)dlclose(handle);
        return;
    }
    p = g_atomic_rc_box_new0(Plugin);
    memcpy(&p->table, t, MIN((size_t)t->size, sizeof(p->table)));
    p->handle = handle;
    p->file = g_strdup(file);
    p->name = g_strdup(t->name);
    p->version = g_strdup(t->version ? t->version : "unknown");
    g_mutex_init(&p->lock);
    if (p->table.init) {
        GPtrArray *group = own ? own : settings ? g_hash_table_lookup(settings, p->name) : NULL;
        const struct migd_setting *s = plugin_settings(group, kv);

        rc = p->table.init(s, kv->len, &p->ctx, err, sizeof(err));
        if (rc != 0) {
            plugin_refuse(set, file, "its init failed: %s (%s)", *err ? err : "no reason given",
                          g_strerror(-rc));
            p->table.fini = NULL;       /* init failed: nothing to finish */
            plugin_free(p);
            return;
        }
    }
    g_message("Plugin %s %s loaded from %s (ABI %u.%u)", p->name, p->version, file,
              p->table.abi_major, p->table.abi_minor);
    g_ptr_array_add(set->plugins, p);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static PluginSet *
plugin_set_new(void)
{
    PluginSet *set = g_new0(PluginSet, 1);

    set->plugins = g_ptr_array_new_with_free_func(plugin_free);
    set->refusals = g_ptr_array_new_with_free_func(refusal_free);
    return set;
}

PluginSet *
plugin_set_load(const char *dir, GHashTable *settings)
{
    PluginSet *set = plugin_set_new();
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = NULL;
    const char *name;

    d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    while (d && (name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".so"))
            g_ptr_array_add(files, g_build_filename(dir, name, NULL));
    }
    g_ptr_array_sort(files, compare_names);
    for (guint i = 0; i < files->len; i++)
        plugin_load_file(set, files->pdata[i], settings, NULL);
    return set;
}

PluginSet *
plugin_set_load_file(const char *file, GPtrArray *settings)
{
    PluginSet *set = plugin_set_new();
    g_autoptr(GPtrArray) none = g_ptr_array_new();

    plugin_load_file(set, file, NULL, settings ? settings : none);
    return set;
}

void
plugin_set_free(PluginSet *set)
{
    if (!set)
        return;
    g_ptr_array_unref(set->plugins);
    g_ptr_array_unref(set->refusals);
    g_free(set);
}

GPtrArray *
plugin_set_plugins(PluginSet *set)
{
    return set->plugins;
}

GPtrArray *
plugin_set_refusals(PluginSet *set)
{
    return set->refusals;
}

Plugin *
plugin_set_find(PluginSet *set, const char *name)
{
    for (guint i = 0; i < set->plugins->len; i++) {
        Plugin *p = set->plugins->pdata[i];

        if (g_strcmp0(p->name, name) == 0)
            return p;
    }
    return NULL;
}

guint
plugin_vouch(guint flags)
{
    guint vouch = flags & (MIGD_PROBE_NATIVE | MIGD_PROBE_PAUSE);

    if (flags & MIGD_PROBE_DENY_NATIVE)
        vouch &= ~MIGD_PROBE_NATIVE;
    if (flags & MIGD_PROBE_DENY_PAUSE)
        vouch &= ~MIGD_PROBE_PAUSE;
    return vouch;
}

const char *
plugin_name(const Plugin *p)
{
    return p->name;
}

const char *
plugin_version(const Plugin *p)
{
    return p->version;
}

const char *
plugin_file(const Plugin *p)
{
    return p->file;
}

guint
plugin_abi_minor(const Plugin *p)
{
    return p->table.abi_minor;
}

/* The rest of this file calls the plugin: the lock, the error buffer and
 * the sentence around what the plugin said. */

static int
plugin_result(const Plugin *p, const char *call, int rc, const char *err, char **reterr_message)
{
    if (rc == 0)
        return 0;
    if (rc > 0)
        rc = -EPROTO;   /* the ABI says negative errno: a positive one is a plugin bug */
    if (reterr_message)
        *reterr_message = g_strdup_printf("plugin %s: %s failed: %s (%s)", p->name, call,
                                          *err ? err : "it gave no reason", g_strerror(-rc));
    return rc;
}

static int
plugin_missing(const Plugin *p, const char *call, char **reterr_message)
{
    if (reterr_message)
        *reterr_message = g_strdup_printf("plugin %s has no %s callback", p->name, call);
    return -EOPNOTSUPP;
}

int
plugin_probe(Plugin *p, const struct migd_device *dev, struct migd_probe *ret,
             char **reterr_message)
{
    char err[MIGD_PLUGIN_ERRLEN] = "";
    struct migd_probe probe = { .size = sizeof(probe) };
    int rc;

    g_mutex_lock(&p->lock);
    rc = p->table.probe(p->ctx, dev, &probe, err, sizeof(err));
    g_mutex_unlock(&p->lock);
    probe.detail[sizeof(probe.detail) - 1] = '\0';
    /* Members past ABI 1.0 are read only from a plugin that knows them. */
    if (p->table.abi_minor < 1)
        probe.stop_copy_bytes = 0;
    if (rc == 0)
        *ret = probe;
    return plugin_result(p, "probe", rc, err, reterr_message);
}

int
plugin_save_state(Plugin *p, const struct migd_device *dev, gsize cap, GBytes **ret_state,
                  guint32 *ret_version, char **reterr_message)
{
    char err[MIGD_PLUGIN_ERRLEN] = "";
    g_autofree guint8 *buf = NULL;
    size_t len = 0;
    uint32_t version = 0;
    int rc;

    if (!p->table.save_state)
        return plugin_missing(p, "save_state", reterr_message);
    buf = g_malloc0(MAX(cap, 1));
    g_mutex_lock(&p->lock);
    rc = p->table.save_state(p->ctx, dev, buf, cap, &len, &version, err, sizeof(err));
    g_mutex_unlock(&p->lock);
    if (rc == 0 && len > cap) {
        g_snprintf(err, sizeof(err), "it reported %zu bytes of state in a %zu-byte buffer",
                   len, (size_t)cap);
        rc = -EOVERFLOW;
    }
    rc = plugin_result(p, "save_state", rc, err, reterr_message);
    if (rc == 0) {
        *ret_state = g_bytes_new(buf, len);
        *ret_version = version;
    }
    return rc;
}

int
plugin_check_state(Plugin *p, const struct migd_device *dev, GBytes *state, guint32 version,
                   char **reterr_message)
{
    char err[MIGD_PLUGIN_ERRLEN] = "";
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(state, &len);
    int rc;

    if (!p->table.check_state)
        return plugin_missing(p, "check_state", reterr_message);
    g_mutex_lock(&p->lock);
    rc = p->table.check_state(p->ctx, dev, data, len, version, err, sizeof(err));
    g_mutex_unlock(&p->lock);
    return plugin_result(p, "check_state", rc, err, reterr_message);
}

int
plugin_restore_state(Plugin *p, const struct migd_device *dev, GBytes *state, guint32 version,
                     char **reterr_message)
{
    char err[MIGD_PLUGIN_ERRLEN] = "";
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(state, &len);
    int rc;

    if (!p->table.restore_state)
        return plugin_missing(p, "restore_state", reterr_message);
    g_mutex_lock(&p->lock);
    rc = p->table.restore_state(p->ctx, dev, data, len, version, err, sizeof(err));
    g_mutex_unlock(&p->lock);
    return plugin_result(p, "restore_state", rc, err, reterr_message);
}

typedef int (*PluginDeviceFn)(void *ctx, const struct migd_device *dev, char *err, size_t errlen);

static int
plugin_device_call(Plugin *p, PluginDeviceFn fn, const char *call,
                   const struct migd_device *dev, char **reterr_message)
{
    char err[MIGD_PLUGIN_ERRLEN] = "";
    int rc;

    if (!fn)
        return 0;
    g_mutex_lock(&p->lock);
    rc = fn(p->ctx, dev, err, sizeof(err));
    g_mutex_unlock(&p->lock);
    return plugin_result(p, call, rc, err, reterr_message);
}

int
plugin_pre_switchover(Plugin *p, const struct migd_device *dev, char **reterr_message)
{
    return plugin_device_call(p, p->table.pre_switchover, "pre_switchover", dev, reterr_message);
}

int
plugin_post_switchover(Plugin *p, const struct migd_device *dev, char **reterr_message)
{
    return plugin_device_call(p, p->table.post_switchover, "post_switchover", dev,
                              reterr_message);
}

int
plugin_abort(Plugin *p, const struct migd_device *dev, char **reterr_message)
{
    return plugin_device_call(p, p->table.abort, "abort", dev, reterr_message);
}
