/* test-lab-tap's driver: loads the plugin directory through migd's own
 * loader (daemon/plugin-loader.c) and calls lab-tap through plugin_call(),
 * in a worker with a timeout as migd does, running the commands it is given
 * in order in one process, so that abort sees what restore remembered.
 *
 *   test-driver DIR [-s KEY=VALUE]... COMMAND...
 *     probe TAP | save TAP FILE | check TAP FILE | restore TAP FILE
 *     pre TAP | post TAP | abort TAP
 *     job ID        the job of the calls after it (none at first)
 *     kind vf|emulated
 *     version N     the state version that check and restore pass
 *     sh CMD        runs CMD with /bin/sh (reads the kernel between calls)
 *
 * One line per call: "CALL TAP: ok ..." or "CALL TAP: failed (-ERRNO): ...".
 * Exits 0 when every call succeeded, 1 when one failed, 2 when the plugin
 * did not load. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin-call.h"

#define DRIVER_TIMEOUT_MS 10000
#define DRIVER_STATE_CAP 65536

typedef struct {
    GMainLoop *loop;
    PluginCallResult result;
    char *error;
    GBytes *state;
} DriverCall;

typedef struct {
    Plugin *plugin;
    PluginDevice dev;
    guint32 version;
    gboolean failed;
} Driver;

static void
driver_done(const PluginCallResult *result, gpointer data)
{
    DriverCall *c = data;

    c->result = *result;
    c->error = g_strdup(result->error);
    c->state = result->state ? g_bytes_ref(result->state) : NULL;
    c->result.error = NULL;
    c->result.state = NULL;
    g_main_loop_quit(c->loop);
}

/* Runs one call to its end (or its timeout) on a loop of its own. */
static void
driver_run(Driver *d, PluginCallKind kind, GBytes *state, DriverCall *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->loop = g_main_loop_new(NULL, FALSE);
    plugin_call(d->plugin, kind, &d->dev, state, d->version, DRIVER_STATE_CAP,
                DRIVER_TIMEOUT_MS, driver_done, ret);
    g_main_loop_run(ret->loop);
    g_main_loop_unref(ret->loop);
}

static void
driver_flags(guint32 flags, GString *out)
{
    static const struct { guint32 flag; const char *name; } names[] = {
        { MIGD_PROBE_HANDLES, "handles" }, { MIGD_PROBE_STATE, "state" },
        { MIGD_PROBE_NATIVE, "native" }, { MIGD_PROBE_PAUSE, "pause" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (flags & names[i].flag)
            g_string_append_printf(out, "%s%s", out->len ? "," : "", names[i].name);
    }
    if (!out->len)
        g_string_append(out, "none");
}

/* What a successful call adds to its line. */
static char *
driver_ok_detail(const DriverCall *c, const char *file)
{
    g_autoptr(GString) flags = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    const char *data;

    if (c->result.kind == PLUGIN_CALL_PROBE) {
        driver_flags(c->result.probe.flags, flags);
        return g_strdup_printf(" flags=%s version=%u detail=%s", flags->str,
                               c->result.probe.state_version, c->result.probe.detail);
    }
    if (c->result.kind != PLUGIN_CALL_SAVE_STATE)
        return g_strdup("");
    data = g_bytes_get_data(c->state, &len);
    if (!g_file_set_contents(file, data, (gssize)len, &error))
        return g_strdup_printf(" but %s", error->message);
    return g_strdup_printf(" version=%u bytes=%zu", c->result.state_version, (size_t)len);
}

static void
driver_call(Driver *d, PluginCallKind kind, const char *tap, const char *file)
{
    g_autoptr(GBytes) state = NULL;
    g_autofree char *detail = NULL;
    g_autoptr(GError) error = NULL;
    DriverCall c;
    char *data = NULL;
    gsize len = 0;

    if ((kind == PLUGIN_CALL_CHECK_STATE || kind == PLUGIN_CALL_RESTORE_STATE)) {
        if (!g_file_get_contents(file, &data, &len, &error)) {
            printf("%s %s: failed: %s\n", plugin_call_kind_to_string(kind), tap, error->message);
            d->failed = TRUE;
            return;
        }
        state = g_bytes_new_take(data, len);
    }
    g_free(d->dev.netdev);
    d->dev.netdev = g_strdup(tap);
    d->dev.side = kind == PLUGIN_CALL_SAVE_STATE || kind == PLUGIN_CALL_PRE_SWITCHOVER
                      ? MIGD_SIDE_SOURCE : MIGD_SIDE_DESTINATION;
    driver_run(d, kind, state, &c);
    if (c.result.rc == 0) {
        detail = driver_ok_detail(&c, file);
        if (kind == PLUGIN_CALL_SAVE_STATE)
            d->version = c.result.state_version;
        printf("%s %s: ok%s\n", plugin_call_kind_to_string(kind), tap, detail);
    } else {
        printf("%s %s: failed (%d): %s\n", plugin_call_kind_to_string(kind), tap, c.result.rc,
               c.error ? c.error : "no reason");
        d->failed = TRUE;
    }
    fflush(stdout);
    g_free(c.error);
    if (c.state)
        g_bytes_unref(c.state);
}

static const struct {
    const char *word;
    PluginCallKind kind;
    int args;           /* the tap, and a file for the state calls */
} driver_commands[] = {
    { "probe", PLUGIN_CALL_PROBE, 1 }, { "save", PLUGIN_CALL_SAVE_STATE, 2 },
    { "check", PLUGIN_CALL_CHECK_STATE, 2 }, { "restore", PLUGIN_CALL_RESTORE_STATE, 2 },
    { "pre", PLUGIN_CALL_PRE_SWITCHOVER, 1 }, { "post", PLUGIN_CALL_POST_SWITCHOVER, 1 },
    { "abort", PLUGIN_CALL_ABORT, 1 },
};

/* Runs the command at argv[0]; the number of words it took, or 0. */
static int
driver_command(Driver *d, int argc, char **argv)
{
    for (gsize i = 0; i < G_N_ELEMENTS(driver_commands); i++) {
        if (strcmp(argv[0], driver_commands[i].word) != 0 || argc <= driver_commands[i].args)
            continue;
        driver_call(d, driver_commands[i].kind, argv[1],
                    driver_commands[i].args > 1 ? argv[2] : NULL);
        return driver_commands[i].args + 1;
    }
    if (argc < 2)
        return 0;
    if (strcmp(argv[0], "job") == 0) {
        g_free(d->dev.job);
        d->dev.job = g_strdup(argv[1]);
    } else if (strcmp(argv[0], "kind") == 0)
        d->dev.kind = strcmp(argv[1], "vf") == 0 ? MIGD_DEVICE_VF : MIGD_DEVICE_EMULATED;
    else if (strcmp(argv[0], "version") == 0)
        d->version = (guint32)g_ascii_strtoull(argv[1], NULL, 10);
    else if (strcmp(argv[0], "sh") == 0) {
        fflush(stdout);
        if (system(argv[1]) != 0)
            printf("sh: '%s' failed\n", argv[1]);
    } else
        return 0;
    return 2;
}

/* The [plugin.lab-tap] group from -s KEY=VALUE arguments. */
static GHashTable *
driver_settings(int *argc, char ***argv)
{
    GHashTable *settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify)g_ptr_array_unref);
    GPtrArray *kv = g_ptr_array_new_with_free_func(g_free);

    while (*argc >= 2 && strcmp((*argv)[0], "-s") == 0) {
        char **pair = g_strsplit((*argv)[1], "=", 2);

        g_ptr_array_add(kv, g_strstrip(g_strdup(pair[0])));
        g_ptr_array_add(kv, g_strstrip(g_strdup(pair[1] ? pair[1] : "")));
        g_strfreev(pair);
        *argc -= 2;
        *argv += 2;
    }
    g_hash_table_insert(settings, g_strdup("lab-tap"), kv);
    return settings;
}

static int
driver_main(Driver *d, PluginSet *set, int argc, char **argv)
{
    GPtrArray *refused = plugin_set_refusals(set);
    int n;

    for (guint i = 0; i < refused->len; i++) {
        PluginRefusal *r = refused->pdata[i];

        printf("refused %s: %s\n", r->file, r->reason);
    }
    d->plugin = plugin_set_find(set, "lab-tap");
    if (!d->plugin) {
        printf("lab-tap is not loaded\n");
        return 2;
    }
    for (; argc > 0; argc -= n, argv += n) {
        if ((n = driver_command(d, argc, argv)) == 0) {
            fprintf(stderr, "test-driver: cannot run '%s' (see the usage at the top of "
                    "test-driver.c)\n", argv[0]);
            return 2;
        }
    }
    return d->failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
    g_autoptr(GHashTable) settings = NULL;
    g_autoptr(PluginSet) set = NULL;
    Driver d = { .version = 1 };
    const char *dir;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: test-driver DIR [-s KEY=VALUE]... COMMAND...\n");
        return 2;
    }
    dir = argv[1];
    argc -= 2;
    argv += 2;
    settings = driver_settings(&argc, &argv);
    set = plugin_set_load(dir, settings);
    d.dev = (PluginDevice){ .kind = MIGD_DEVICE_EMULATED, .side = MIGD_SIDE_DESTINATION,
                            .pool = g_strdup("lab"), .alias = g_strdup("ua-vf0"),
                            .vf_index = -1, .vlan = -1 };
    rc = driver_main(&d, set, argc, argv);
    g_free(d.dev.netdev);
    g_free(d.dev.pool);
    g_free(d.dev.alias);
    g_free(d.dev.job);
    return rc;
}
