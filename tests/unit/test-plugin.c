/* Plugins: loading and refusing shared objects as the ABI says, calling
 * them in workers with a timeout, and the frame around their state. The
 * plugins are tests/unit/plugins/fixture.c built in several ways. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "plugin-loader.h"
#include "testutil.h"

/* A plugin directory holding the named fixtures (symlinks), and a file
 * that is not a shared object at all. */
static char *
make_dir(const char *const *fixtures)
{
    char *dir = g_dir_make_tmp("migd-plugins-XXXXXX", NULL);

    g_assert_nonnull(dir);
    for (guint i = 0; fixtures[i]; i++) {
        g_autofree char *from = g_strdup_printf("%s/%s.so", FIXTURE_DIR, fixtures[i]);
        g_autofree char *to = g_strdup_printf("%s/%s.so", dir, fixtures[i]);

        g_assert_cmpint(symlink(from, to), ==, 0);
    }
    return dir;
}

static PluginRefusal *
find_refusal(PluginSet *set, const char *file_suffix)
{
    GPtrArray *r = plugin_set_refusals(set);

    for (guint i = 0; i < r->len; i++) {
        PluginRefusal *x = r->pdata[i];

        if (g_str_has_suffix(x->file, file_suffix))
            return x;
    }
    return NULL;
}

static void
assert_refused(PluginSet *set, const char *file, const char *reason_glob)
{
    PluginRefusal *r = find_refusal(set, file);

    g_assert_nonnull(r);
    if (!g_pattern_match_simple(reason_glob, r->reason))
        g_error("%s was refused with '%s', not '%s'", file, r->reason, reason_glob);
    g_assert_true(test_log_has("*Plugin *"));
}

static void
test_load_refusals(void)
{
    const char *const fixtures[] = { "good", "twin", "wrong-major", "small-table", "bad-name",
                                     "init-fails", "no-entry", NULL };
    g_autofree char *dir = make_dir(fixtures);
    g_autofree char *junk = g_build_filename(dir, "junk.so", NULL);
    g_autofree char *other = g_build_filename(dir, "README", NULL);
    g_autoptr(PluginSet) set = NULL;
    Plugin *p;

    g_assert_true(g_file_set_contents(junk, "not a shared object\n", -1, NULL));
    g_assert_true(g_file_set_contents(other, "not a plugin at all\n", -1, NULL));
    test_log_clear();
    set = plugin_set_load(dir, NULL);

    g_assert_cmpuint(plugin_set_plugins(set)->len, ==, 1);
    p = plugin_set_find(set, "good");
    g_assert_nonnull(p);
    g_assert_cmpstr(plugin_version(p), ==, "0.1");
    g_assert_true(g_str_has_suffix(plugin_file(p), "/good.so"));
    g_assert_cmpuint(plugin_abi_minor(p), ==, MIGD_PLUGIN_ABI_MINOR);

    assert_refused(set, "/twin.so", "an earlier file already is plugin 'good'");
    assert_refused(set, "/wrong-major.so", "it was built for plugin ABI 2.0, and this migd speaks 1.x");
    assert_refused(set, "/small-table.so", "its table is 16 bytes, smaller than the * of ABI 1.0");
    assert_refused(set, "/bad-name.so", "its name is missing or not made of a-z*");
    assert_refused(set, "/init-fails.so", "its init failed: the fixture refuses to start (*)");
    assert_refused(set, "/no-entry.so", "it exports no migd_plugin_entry()");
    assert_refused(set, "/junk.so", "it does not load: *");
    g_assert_cmpuint(plugin_set_refusals(set)->len, ==, 7);     /* README is not looked at */
    g_assert_cmpuint(test_log_count(), ==, 7);
    test_remove_tree(dir);
}

static void
test_load_missing_dir(void)
{
    g_autoptr(PluginSet) set = plugin_set_load("/nonexistent/migd-plugins", NULL);

    g_assert_cmpuint(plugin_set_plugins(set)->len, ==, 0);
    g_assert_cmpuint(plugin_set_refusals(set)->len, ==, 0);
}

static PluginDevice *
device(const char *alias, const char *address)
{
    PluginDevice d = {
        .kind = MIGD_DEVICE_EMULATED, .side = MIGD_SIDE_SOURCE, .pci_address = (char *)address,
        .mac = (char *)"52:54:00:00:00:01", .pool = (char *)"lab", .domain = (char *)"vm",
        .alias = (char *)alias, .vf_index = -1, .vlan = 12,
    };

    return plugin_device_copy(&d);
}

static void
test_calls_direct(void)
{
    const char *const fixtures[] = { "good", NULL };
    g_autofree char *dir = make_dir(fixtures);
    /* [plugin.good] of migd.conf reaches the plugin's init as it is. */
    g_autoptr(MigdConf) conf = conf_load_data("t.conf", "[plugin.good]\ngreeting = hello\n"
                                              "[plugin.other]\ngreeting = not this\n", NULL);
    g_autoptr(PluginSet) set = plugin_set_load(dir, conf->plugin_settings);
    g_autoptr(PluginDevice) dev = device("ua-vf0", "0000:00:03.0");
    g_autoptr(PluginDevice) vf = device("ua-vf0", "0000:00:00.0");
    Plugin *p = plugin_set_find(set, "good");
    g_autoptr(GBytes) state = NULL;
    struct migd_device view;
    struct migd_probe probe;
    g_autofree char *err = NULL;
    guint32 version = 0;

    g_assert_nonnull(p);
    plugin_device_view(dev, &view);
    g_assert_cmpint(plugin_probe(p, &view, &probe, NULL), ==, 0);
    g_assert_cmpuint(probe.flags, ==, MIGD_PROBE_HANDLES | MIGD_PROBE_STATE | MIGD_PROBE_PAUSE);
    g_assert_cmpuint(probe.state_version, ==, 3);
    /* The settings of [plugin.good] reached its init. */
    g_assert_cmpstr(probe.detail, ==, "greeting=hello alias=ua-vf0 domain=vm side=source");

    g_assert_cmpint(plugin_save_state(p, &view, 64, &state, &version, NULL), ==, 0);
    g_assert_cmpuint(version, ==, 3);
    g_assert_cmpmem(g_bytes_get_data(state, NULL), g_bytes_get_size(state), "state of ua-vf0", 15);
    g_assert_cmpint(plugin_check_state(p, &view, state, 3, NULL), ==, 0);

    /* A refusal carries the plugin's sentence and its errno. */
    g_assert_cmpint(plugin_check_state(p, &view, state, 2, &err), ==, -EPROTO);
    g_assert_cmpstr(err, ==, "plugin good: check_state failed: state version 2 is not 3 "
                             "(Protocol error)");
    g_clear_pointer(&err, g_free);
    plugin_device_view(vf, &view);
    g_assert_cmpint(plugin_check_state(p, &view, state, 3, &err), ==, -EINVAL);
    g_assert_true(g_str_has_prefix(err, "plugin good: check_state failed: 0000:00:00.0 cannot"));
    g_clear_pointer(&err, g_free);

    /* What the plugin leaves out: restore is missing, switchovers are no-ops. */
    g_assert_cmpint(plugin_restore_state(p, &view, state, 3, &err), ==, -EOPNOTSUPP);
    g_assert_cmpstr(err, ==, "plugin good has no restore_state callback");
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(plugin_pre_switchover(p, &view, NULL), ==, 0);
    g_assert_cmpint(plugin_post_switchover(p, &view, NULL), ==, 0);
    g_assert_cmpint(plugin_abort(p, &view, NULL), ==, 0);

    /* A buffer too small is the plugin's error, not an overrun. */
    g_clear_pointer(&state, g_bytes_unref);
    g_assert_cmpint(plugin_save_state(p, &view, 4, &state, &version, &err), ==, -ENOSPC);
    g_assert_null(state);
    test_remove_tree(dir);
}

/* ABI 1.1's stop_copy_bytes comes from a plugin of minor 1; from one of
 * minor 0, which cannot know it, it is 0 whatever the structure holds. */
static void
test_probe_minor(void)
{
    const char *const fixtures[] = { "good", "old", NULL };
    g_autofree char *dir = make_dir(fixtures);
    g_autoptr(MigdConf) conf = conf_load_data("t.conf", "[plugin.good]\nstop_copy = 4096\n"
                                              "[plugin.old]\nstop_copy = 4096\n", NULL);
    g_autoptr(PluginSet) set = plugin_set_load(dir, conf->plugin_settings);
    g_autoptr(PluginDevice) dev = device("ua-vf0", "0000:00:03.0");
    struct migd_device view;
    struct migd_probe probe;
    Plugin *old = plugin_set_find(set, "old");

    plugin_device_view(dev, &view);
    g_assert_cmpuint(plugin_abi_minor(plugin_set_find(set, "good")), ==, 1);
    g_assert_cmpint(plugin_probe(plugin_set_find(set, "good"), &view, &probe, NULL), ==, 0);
    g_assert_cmpuint(probe.stop_copy_bytes, ==, 4096);
    g_assert_nonnull(old);
    g_assert_cmpuint(plugin_abi_minor(old), ==, 0);
    g_assert_cmpint(plugin_probe(old, &view, &probe, NULL), ==, 0);
    g_assert_cmpuint(probe.flags, ==, MIGD_PROBE_HANDLES | MIGD_PROBE_STATE | MIGD_PROBE_PAUSE);
    g_assert_cmpuint(probe.stop_copy_bytes, ==, 0);
    test_remove_tree(dir);
}

static void
test_save_overflow(void)
{
    const char *const fixtures[] = { "overflow", NULL };
    g_autofree char *dir = make_dir(fixtures);
    g_autoptr(PluginSet) set = plugin_set_load(dir, NULL);
    g_autoptr(PluginDevice) dev = device("ua-vf0", NULL);
    g_autoptr(GBytes) state = NULL;
    g_autofree char *err = NULL;
    struct migd_device view;
    guint32 version = 0;

    plugin_device_view(dev, &view);
    g_assert_cmpint(plugin_save_state(plugin_set_find(set, "overflow"), &view, 32, &state,
                                      &version, &err), ==, -EOVERFLOW);
    g_assert_null(state);
    g_assert_true(strstr(err, "it reported 33 bytes of state in a 32-byte buffer"));
    test_remove_tree(dir);
}

typedef struct {
    GMainLoop *loop;
    int rc;
    char *error;
    GBytes *state;
    guint answers;
} Answer;

static void
on_answer(const PluginCallResult *result, gpointer data)
{
    Answer *a = data;

    a->answers++;
    a->rc = result->rc;
    a->error = g_strdup(result->error);
    if (result->state)
        a->state = g_bytes_ref(result->state);
    g_main_loop_quit(a->loop);
}

static void
test_call_async(void)
{
    const char *const fixtures[] = { "good", NULL };
    g_autofree char *dir = make_dir(fixtures);
    g_autoptr(PluginSet) set = plugin_set_load(dir, NULL);
    g_autoptr(PluginDevice) dev = device("ua-vf1", NULL);
    Answer a = { .loop = g_main_loop_new(NULL, FALSE) };

    plugin_call(plugin_set_find(set, "good"), PLUGIN_CALL_SAVE_STATE, dev, NULL, 0, 128, 5000,
                on_answer, &a);
    g_main_loop_run(a.loop);
    g_assert_cmpuint(a.answers, ==, 1);
    g_assert_cmpint(a.rc, ==, 0);
    g_assert_null(a.error);
    g_assert_cmpmem(g_bytes_get_data(a.state, NULL), g_bytes_get_size(a.state), "state of ua-vf1", 15);
    g_bytes_unref(a.state);
    g_main_loop_unref(a.loop);
    test_remove_tree(dir);
}

/* A plugin stuck in a call: the deadline answers -ETIMEDOUT, the loop goes
 * on, and the call's late end (once the gate opens) answers nothing more. */
static void
test_call_timeout(void)
{
    const char *const fixtures[] = { "slow", NULL };
    g_autofree char *dir = make_dir(fixtures);
    const char *gate = g_getenv("FIXTURE_GATE");
    g_autoptr(PluginSet) set = NULL;
    g_autoptr(PluginDevice) dev = device("ua-vf0", NULL);
    Answer a = { .loop = g_main_loop_new(NULL, FALSE) };
    Plugin *p;
    int fd;

    g_assert_cmpint(mkfifo(gate, 0600), ==, 0);
    set = plugin_set_load(dir, NULL);
    p = plugin_set_find(set, "slow");
    plugin_call(p, PLUGIN_CALL_SAVE_STATE, dev, NULL, 0, 64, 50, on_answer, &a);
    g_main_loop_run(a.loop);
    g_assert_cmpuint(a.answers, ==, 1);
    g_assert_cmpint(a.rc, ==, -ETIMEDOUT);
    g_assert_cmpstr(a.error, ==, "plugin slow: save_state did not answer within its timeout "
                                 "([plugins] call_timeout_s)");
    g_clear_pointer(&a.error, g_free);

    /* The set may go while the call is stuck: the call keeps the plugin. */
    g_clear_pointer(&set, plugin_set_free);
    fd = open(gate, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "x", 1), ==, 1);
    close(fd);
    /* Drain until the worker's end has run on the loop and freed the call. */
    while (plugin_call_in_flight() > 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(a.answers, ==, 1);
    g_assert_cmpint(unlink(gate), ==, 0);
    g_main_loop_unref(a.loop);
    test_remove_tree(dir);
}

/* --- frames --------------------------------------------------------------- */

static char *
sample_frame(gsize state_len)
{
    g_autofree guint8 *state = g_malloc0(MAX(state_len, 1));
    PluginFrame f = {
        .plugin = (char *)"lab-tap", .abi_major = 1, .abi_minor = 0, .state_version = 7,
        .alias = (char *)"ua-vf0",
    };
    char *text;

    for (gsize i = 0; i < state_len; i++)
        state[i] = (guint8)i;
    f.state = g_bytes_new(state, state_len);
    text = plugin_frame_encode(&f);
    g_bytes_unref(f.state);
    return text;
}

static void
test_frame_round_trip(void)
{
    g_autofree char *text = sample_frame(300);
    g_auto(PluginFrame) f = { 0 };
    const guint8 *state;

    g_assert_true(plugin_frame_decode(text, 4096, &f, NULL));
    g_assert_cmpstr(f.plugin, ==, "lab-tap");
    g_assert_cmpstr(f.alias, ==, "ua-vf0");
    g_assert_cmpuint(f.abi_major, ==, 1);
    g_assert_cmpuint(f.state_version, ==, 7);
    g_assert_cmpuint(g_bytes_get_size(f.state), ==, 300);
    state = g_bytes_get_data(f.state, NULL);
    g_assert_cmpuint(state[299], ==, 299 % 256);
}

static void
assert_frame_refused(const char *text, gsize max, const char *why)
{
    g_autoptr(GError) error = NULL;
    g_auto(PluginFrame) f = { 0 };

    g_assert_false(plugin_frame_decode(text, max, &f, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    if (!strstr(error->message, why))
        g_error("refused with '%s', expected '%s'", error->message, why);
    g_assert_null(f.plugin);
}

/* Re-encodes @text after @edit changed its bytes. */
static char *
frame_edit(const char *text, void (*edit)(guint8 *data, gsize *len))
{
    gsize len = 0;
    g_autofree guint8 *data = g_base64_decode(text, &len);

    data = g_realloc(data, len + 8);
    edit(data, &len);
    return g_base64_encode(data, len);
}

static void flip_state_byte(guint8 *d, gsize *len) { d[30] ^= 0x01; }
static void flip_magic(guint8 *d, gsize *len) { d[0] = 'X'; }
static void cut_tail(guint8 *d, gsize *len) { *len -= 5; }
static void pad_tail(guint8 *d, gsize *len) { d[(*len)++] = 0; }
static void bump_version(guint8 *d, gsize *len) { d[5] = 2; }

static void
test_frame_refusals(void)
{
    g_autofree char *good = sample_frame(40);
    g_autofree char *big = sample_frame(5000);
    g_autofree char *damaged = frame_edit(good, flip_state_byte);
    g_autofree char *magic = frame_edit(good, flip_magic);
    g_autofree char *cut = frame_edit(good, cut_tail);
    g_autofree char *padded = frame_edit(good, pad_tail);
    g_autofree char *version = frame_edit(good, bump_version);

    assert_frame_refused(damaged, 4096, "its checksum does not match");
    assert_frame_refused(magic, 4096, "does not start with migd's magic");
    assert_frame_refused(cut, 4096, "its length does not match its header");
    assert_frame_refused(padded, 4096, "its length does not match its header");
    assert_frame_refused(version, 4096, "its frame version is not 1");
    assert_frame_refused(big, 4096, "its state is 5000 bytes, over the limit of 4096");
    assert_frame_refused("not base64!", 4096, "it is not base64");
    assert_frame_refused("", 4096, "it is not base64");
    assert_frame_refused("TUdEUw==", 4096, "shorter than a frame's header");
}

int
main(int argc, char **argv)
{
    g_autofree char *gate_dir = g_dir_make_tmp("migd-plugin-gate-XXXXXX", NULL);
    g_autofree char *gate = g_build_filename(gate_dir, "gate", NULL);
    int rc;

    /* The slow fixture waits on this FIFO; set before any thread exists. */
    g_setenv("FIXTURE_GATE", gate, TRUE);
    g_test_init(&argc, &argv, NULL);
    /* Refusals are warnings by design: record them instead of aborting. */
    (void)g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    test_log_capture();
    g_test_add_func("/plugin/load/refusals", test_load_refusals);
    g_test_add_func("/plugin/load/missing-dir", test_load_missing_dir);
    g_test_add_func("/plugin/call/direct", test_calls_direct);
    g_test_add_func("/plugin/call/probe-minor", test_probe_minor);
    g_test_add_func("/plugin/call/save-overflow", test_save_overflow);
    g_test_add_func("/plugin/call/async", test_call_async);
    g_test_add_func("/plugin/call/timeout", test_call_timeout);
    g_test_add_func("/plugin/frame/round-trip", test_frame_round_trip);
    g_test_add_func("/plugin/frame/refusals", test_frame_refusals);
    rc = g_test_run();
    test_remove_tree(gate_dir);
    return rc;
}
