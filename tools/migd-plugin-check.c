/* migd-plugin-check: loads one plugin the way migd does (its loader, its
 * worker calls with a timeout, its state frame) and drives it on named
 * devices, printing what it did and the state as JSON. For plugin authors,
 * and what the kernel bed (tests/kbed) runs.
 *
 *   migd-plugin-check [OPTION]... PLUGIN.so [STEP]...
 *     -d, --device NAME:KEY=VALUE,...  a device (see check-device.h)
 *     -s, --setting KEY=VALUE          a [plugin.NAME] setting for init
 *     -t, --timeout SECONDS            per call, as [plugins] call_timeout_s (10)
 *     -m, --max-state BYTES            as [plugins] max_state_bytes (65536)
 *     -k, --keep-going                 run every step even after a failure
 *   STEP: probe DEV | save DEV | check DEV | restore DEV | pre DEV | post DEV
 *         | abort DEV | load FILE | write FILE | run CMD
 *
 * Without steps it runs what a migration does with two devices: probe and
 * save on the first, probe, check and restore on the second. A failed call
 * skips the steps after it but the aborts (migd too aborts after a failure).
 * Exit: 0 when every step succeeded, 1 when one failed, 2 when the plugin
 * or the command line was refused. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-device.h"
#include "check-report.h"
#include "plugin-frame.h"

#define CHECK_USAGE "[OPTION]... PLUGIN.so [STEP]..."

typedef struct {
    Plugin *plugin;
    GPtrArray *devices;         /* CheckDevice* */
    GBytes *state;              /* carried from save (or load) to check and restore */
    guint32 version;
    guint timeout_ms;
    gsize max_state;
    gboolean keep_going;
    gboolean failed;
    json_t *steps;
} Check;

typedef struct {
    GMainLoop *loop;
    const CheckDevice *device;
    const char *call;
    json_t *step;               /* the report of the call */
    GBytes *state;              /* what save_state returned */
    guint32 state_version;
} CheckCall;

static const struct {
    const char *word;
    PluginCallKind kind;
} check_calls[] = {
    { "probe", PLUGIN_CALL_PROBE }, { "save", PLUGIN_CALL_SAVE_STATE },
    { "check", PLUGIN_CALL_CHECK_STATE }, { "restore", PLUGIN_CALL_RESTORE_STATE },
    { "pre", PLUGIN_CALL_PRE_SWITCHOVER }, { "post", PLUGIN_CALL_POST_SWITCHOVER },
    { "abort", PLUGIN_CALL_ABORT },
};

static CheckDevice *
check_find_device(Check *c, const char *name)
{
    for (guint i = 0; i < c->devices->len; i++) {
        CheckDevice *d = c->devices->pdata[i];

        if (strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}

static void
check_step_done(Check *c, json_t *step)
{
    check_report_say(step);
    if (!json_is_true(json_object_get(step, "ok")) && !json_object_get(step, "skipped"))
        c->failed = TRUE;
    json_array_append_new(c->steps, step);
}

/* The carried state, through migd's frame: encoded as the source sends it,
 * decoded (and so checked) as the destination reads it. */
static gboolean
check_carry(Check *c, GBytes *state, guint32 version, const char *alias, GError **error)
{
    PluginFrame out = { .plugin = (char *)plugin_name(c->plugin),
                        .abi_major = MIGD_PLUGIN_ABI_MAJOR,
                        .abi_minor = plugin_abi_minor(c->plugin), .state_version = version,
                        .alias = (char *)alias, .state = state };
    g_auto(PluginFrame) in = { 0 };
    g_autofree char *text = plugin_frame_encode(&out);

    if (!plugin_frame_decode(text, c->max_state, &in, error))
        return FALSE;
    g_clear_pointer(&c->state, g_bytes_unref);
    c->state = g_steal_pointer(&in.state);
    c->version = in.state_version;
    return TRUE;
}

static void
check_call_done(const PluginCallResult *result, gpointer data)
{
    CheckCall *cc = data;

    cc->step = check_report_call(cc->device, result, cc->call);
    if (result->rc == 0 && result->kind == PLUGIN_CALL_SAVE_STATE) {
        cc->state = g_bytes_ref(result->state);
        cc->state_version = result->state_version;
    }
    g_main_loop_quit(cc->loop);
}

/* One call, in a worker with the timeout, as migd makes it. */
static void
check_call(Check *c, PluginCallKind kind, CheckDevice *device)
{
    CheckCall cc = { .device = device, .call = plugin_call_kind_to_string(kind) };
    g_autoptr(GError) error = NULL;

    if (kind == PLUGIN_CALL_SAVE_STATE || kind == PLUGIN_CALL_PRE_SWITCHOVER)
        device->dev->side = MIGD_SIDE_SOURCE;
    else if (kind != PLUGIN_CALL_PROBE && kind != PLUGIN_CALL_ABORT)
        device->dev->side = MIGD_SIDE_DESTINATION;
    if ((kind == PLUGIN_CALL_CHECK_STATE || kind == PLUGIN_CALL_RESTORE_STATE) && !c->state) {
        check_step_done(c, check_report_skipped(cc.call, device->name,
                                                "no state was saved or loaded before it"));
        c->failed = TRUE;
        return;
    }
    cc.loop = g_main_loop_new(NULL, FALSE);
    plugin_call(c->plugin, kind, device->dev, c->state, c->version, c->max_state,
                c->timeout_ms, check_call_done, &cc);
    g_main_loop_run(cc.loop);
    g_main_loop_unref(cc.loop);
    if (kind == PLUGIN_CALL_PROBE && json_is_true(json_object_get(cc.step, "ok")))
        c->version = (guint32)json_integer_value(json_object_get(cc.step, "state_version"));
    if (cc.state) {
        if (!check_carry(c, cc.state, cc.state_version, device->dev->alias, &error)) {
            json_object_set_new(cc.step, "ok", json_false());
            json_object_set_new(cc.step, "error", json_string(error->message));
        }
        g_bytes_unref(cc.state);
    }
    check_step_done(c, cc.step);
}

/* load FILE: the state for the next check or restore, in the version the
 * last probe or save gave. */
static void
check_load(Check *c, const char *file)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) state = NULL;
    json_t *step = json_pack("{s:s, s:s, s:b}", "step", "load", "file", file, "ok", 1);
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(file, &data, &len, &error)) {
        json_object_set_new(step, "ok", json_false());
        json_object_set_new(step, "error", json_string(error->message));
        check_step_done(c, step);
        return;
    }
    state = g_bytes_new_take(data, len);
    if (!check_carry(c, state, c->version, "loaded-state", &error)) {
        json_object_set_new(step, "ok", json_false());
        json_object_set_new(step, "error", json_string(error->message));
    } else
        check_report_state(step, c->state, c->version);
    check_step_done(c, step);
}

/* write FILE: the carried state's bytes, as the plugin wrote them. */
static void
check_write(Check *c, const char *file)
{
    g_autoptr(GError) error = NULL;
    json_t *step = json_pack("{s:s, s:s, s:b}", "step", "write", "file", file, "ok", 1);
    gsize len = 0;
    const char *data = c->state ? g_bytes_get_data(c->state, &len) : NULL;

    if (!data)
        g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "No state was saved or loaded before 'write %s'.", file);
    else
        (void)g_file_set_contents(file, data, (gssize)len, &error);
    if (error) {
        json_object_set_new(step, "ok", json_false());
        json_object_set_new(step, "error", json_string(error->message));
    }
    check_step_done(c, step);
}

/* run CMD: a shell command between calls (its output goes to stderr, so
 * that stdout stays JSON); it fails the run when it exits non-zero. */
static void
check_run(Check *c, const char *cmd)
{
    g_autofree char *line = g_strdup_printf("exec 1>&2; %s", cmd);
    json_t *step = json_pack("{s:s, s:s}", "step", "run", "command", cmd);
    int status;

    fflush(stdout);
    status = system(line);
    if (status == -1 || !WIFEXITED(status))
        status = 127;
    else
        status = WEXITSTATUS(status);
    json_object_set_new(step, "exit", json_integer(status));
    json_object_set_new(step, "ok", json_boolean(status == 0));
    if (status != 0)
        json_object_set_new(step, "error", json_sprintf("'%s' exited with %d.", cmd, status));
    check_step_done(c, step);
}

static gboolean
check_is_call(const char *word, PluginCallKind *ret_kind)
{
    for (gsize i = 0; i < G_N_ELEMENTS(check_calls); i++) {
        if (strcmp(word, check_calls[i].word) == 0) {
            *ret_kind = check_calls[i].kind;
            return TRUE;
        }
    }
    return FALSE;
}

/* Every step is known and names a known device, before any runs: a bad
 * command line changes nothing. */
static gboolean
check_steps_valid(Check *c, int argc, char **argv, GError **error)
{
    PluginCallKind kind;
    CheckDevice *device;

    for (int i = 0; i < argc; i += 2) {
        gboolean call = check_is_call(argv[i], &kind);

        if (!call && strcmp(argv[i], "load") && strcmp(argv[i], "write") &&
            strcmp(argv[i], "run")) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "'%s' is not a step (probe, save, check, restore, pre, post, abort "
                        "DEVICE; load, write FILE; run COMMAND).", argv[i]);
            return FALSE;
        }
        if (i + 1 >= argc) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "The step '%s' needs %s after it.", argv[i],
                        call ? "a device" : strcmp(argv[i], "run") ? "a file" : "a command");
            return FALSE;
        }
        if (call && !(device = check_find_device(c, argv[i + 1]))) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "'%s %s': no device is named '%s' (give it with -d %s:KEY=VALUE,...).",
                        argv[i], argv[i + 1], argv[i + 1], argv[i + 1]);
            return FALSE;
        }
        /* A device saved from is the source, for its probe and abort too. */
        if (call && !device->side_given &&
            (kind == PLUGIN_CALL_SAVE_STATE || kind == PLUGIN_CALL_PRE_SWITCHOVER))
            device->dev->side = MIGD_SIDE_SOURCE;
    }
    return TRUE;
}

/* Runs one step (checked by check_steps_valid). After a failure only the
 * aborts run, unless --keep-going. */
static void
check_step(Check *c, const char *word, const char *arg)
{
    PluginCallKind kind;
    gboolean call = check_is_call(word, &kind);

    if (c->failed && !c->keep_going && !(call && kind == PLUGIN_CALL_ABORT))
        check_step_done(c, check_report_skipped(call ? plugin_call_kind_to_string(kind) : word,
                                                arg, "an earlier step failed"));
    else if (call)
        check_call(c, kind, check_find_device(c, arg));
    else if (strcmp(word, "load") == 0)
        check_load(c, arg);
    else if (strcmp(word, "write") == 0)
        check_write(c, arg);
    else
        check_run(c, arg);
}

/* What a migration does with two devices, when no step is given. */
static GStrv
check_default_steps(Check *c)
{
    g_autofree char *line = NULL;
    const char *src, *dst;

    if (c->devices->len == 0)
        return g_new0(char *, 1);
    src = ((CheckDevice *)c->devices->pdata[0])->name;
    dst = c->devices->len > 1 ? ((CheckDevice *)c->devices->pdata[1])->name : NULL;
    line = dst ? g_strdup_printf("probe %s save %s probe %s check %s restore %s", src, src, dst,
                                 dst, dst)
               : g_strdup_printf("probe %s", src);
    return g_strsplit(line, " ", -1);
}

static json_t *
check_plugin_json(Plugin *p)
{
    g_autofree char *abi = g_strdup_printf("%u.%u", MIGD_PLUGIN_ABI_MAJOR, plugin_abi_minor(p));

    return json_pack("{s:s, s:s, s:s, s:s}", "name", plugin_name(p), "version",
                     plugin_version(p), "file", plugin_file(p), "abi", abi);
}

static void
check_print(json_t *report)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    printf("%s\n", text);
    free(text);
    fflush(stdout);
}

/* The plugin refused: why, as migd would log it. */
static int
check_refused(PluginSet *set, const char *file)
{
    GPtrArray *refused = plugin_set_refusals(set);
    PluginRefusal *r = refused->len ? refused->pdata[0] : NULL;
    g_autofree char *why = g_strdup(r ? r->reason : "it loaded no plugin");
    json_t *report = json_pack("{s:n, s:{s:s, s:s}, s:b}", "plugin", "refused", "file", file,
                               "reason", why, "ok", 0);

    check_print(report);
    json_decref(report);
    return 2;
}

typedef struct {
    char **devices;
    char **settings;
    int timeout_s;
    gint64 max_state;
    gboolean keep_going;
} CheckOptions;

static gboolean
check_parse(int *argc, char ***argv, CheckOptions *o, GError **error)
{
    const GOptionEntry entries[] = {
        { "device", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &o->devices,
          "A device: NAME:KEY=VALUE,... (kind, side, pci, pf, pf-netdev, vf, netdev, mac, "
          "vlan, pool, domain, alias, job)", "SPEC" },
        { "setting", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o->settings,
          "A [plugin.NAME] setting handed to init", "KEY=VALUE" },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &o->timeout_s,
          "Seconds per call, as [plugins] call_timeout_s (10)", "SECONDS" },
        { "max-state", 'm', 0, G_OPTION_ARG_INT64, &o->max_state,
          "The largest state, as [plugins] max_state_bytes (65536)", "BYTES" },
        { "keep-going", 'k', 0, G_OPTION_ARG_NONE, &o->keep_going,
          "Run every step, also after one failed", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("PLUGIN.so [STEP]...");

    g_option_context_set_summary(ctx,
        "Loads a migd plugin as migd does and calls it on the devices given.\n"
        "Steps: probe, save, check, restore, pre, post, abort DEVICE; load FILE (a state\n"
        "for the next check or restore); write FILE (the state saved); run COMMAND.\n"
        "Without steps: probe and save on the first device, probe, check and restore on\n"
        "the second. Prints what it did as JSON; exits 1 when a step failed, 2 when the\n"
        "plugin or the command line is refused.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, error))
        return FALSE;
    if (*argc < 2) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "No plugin given: migd-plugin-check " CHECK_USAGE);
        return FALSE;
    }
    if (o->timeout_s <= 0 || o->timeout_s > 3600 || o->max_state <= 0 ||
        o->max_state > G_MAXINT32) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--timeout must be 1-3600 seconds and --max-state 1-%d bytes.", G_MAXINT32);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_setup(Check *c, const CheckOptions *o, GPtrArray *settings, GError **error)
{
    for (guint i = 0; o->devices && o->devices[i]; i++) {
        CheckDevice *d = check_device_parse(o->devices[i], error);

        if (!d)
            return FALSE;
        if (check_find_device(c, d->name)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Two devices are named '%s'.", d->name);
            check_device_free(d);
            return FALSE;
        }
        g_ptr_array_add(c->devices, d);
    }
    for (guint i = 0; o->settings && o->settings[i]; i++) {
        const char *eq = strchr(o->settings[i], '=');

        if (!eq || eq == o->settings[i]) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "The setting '%s' is not KEY=VALUE.", o->settings[i]);
            return FALSE;
        }
        g_ptr_array_add(settings, g_strndup(o->settings[i], (gsize)(eq - o->settings[i])));
        g_ptr_array_add(settings, g_strdup(eq + 1));
    }
    c->timeout_ms = (guint)o->timeout_s * 1000;
    c->max_state = (gsize)o->max_state;
    c->keep_going = o->keep_going;
    return TRUE;
}

static int
check_main(Check *c, const char *file, GPtrArray *settings, char **steps, int nsteps)
{
    g_autoptr(PluginSet) set = plugin_set_load_file(file, settings);
    g_autoptr(GError) error = NULL;
    json_t *report;
    int rc;
    GPtrArray *loaded = plugin_set_plugins(set);

    if (loaded->len == 0)
        return check_refused(set, file);
    c->plugin = loaded->pdata[0];
    if (!check_steps_valid(c, nsteps, steps, &error)) {
        fprintf(stderr, "migd-plugin-check: %s\n", error->message);
        return 2;
    }
    for (int i = 0; i + 1 < nsteps; i += 2)
        check_step(c, steps[i], steps[i + 1]);
    report = json_pack("{s:o, s:O, s:b}", "plugin", check_plugin_json(c->plugin), "steps",
                       c->steps, "ok", !c->failed);
    check_print(report);
    json_decref(report);
    rc = c->failed ? 1 : 0;
    c->plugin = NULL;
    return rc;
}

/* migd's loader logs what it loads and refuses: one plain line each. */
static GLogWriterOutput
check_log(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0 && level <= G_LOG_LEVEL_MESSAGE)
            fprintf(stderr, "migd-plugin-check: %s\n", (const char *)fields[i].value);
    }
    return G_LOG_WRITER_HANDLED;
}

int
main(int argc, char **argv)
{
    CheckOptions o = { .timeout_s = 10, .max_state = 65536 };
    g_autoptr(GPtrArray) settings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) defaults = NULL;
    Check c = { .devices = g_ptr_array_new_with_free_func((GDestroyNotify)check_device_free),
                .steps = json_array(), .version = 1 };
    int rc = 2;

    g_log_set_writer_func(check_log, NULL, NULL);
    if (check_parse(&argc, &argv, &o, &error) && check_setup(&c, &o, settings, &error)) {
        if (argc > 2)
            rc = check_main(&c, argv[1], settings, argv + 2, argc - 2);
        else {
            defaults = check_default_steps(&c);
            rc = check_main(&c, argv[1], settings, defaults, (int)g_strv_length(defaults));
        }
    } else
        fprintf(stderr, "migd-plugin-check: %s\n", error->message);
    g_strfreev(o.devices);
    g_strfreev(o.settings);
    g_ptr_array_unref(c.devices);
    json_decref(c.steps);
    if (c.state)
        g_bytes_unref(c.state);
    return rc;
}
