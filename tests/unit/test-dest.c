/* The destination side's unit-test fixture (test-dest.h). */
#include <config.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "dest-priv.h"
#include "hotplug.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "test-dest.h"
#include "testutil.h"

static char *
td_conf_text(const char *dir)
{
    return g_strdup_printf("[daemon]\nlibvirt_uri = " FAKE_VIRT_LOCAL "\nstate_dir = %s\n"
                           "[migration]\nmax_incoming = 2\n"
                           "[nic]\nreplug_timeout_s = 1\nreplug_attempts = 2\n"
                           "[pool.lab]\ntype = emulated\nbridge = br0\nslots = tvf0, tvf1\n"
                           "[peer.A]\nlibvirt_uri = " TD_SOURCE_URI "\nmigd_url = "
                           TD_SOURCE_URL "\n", dir);
}

char *
td_calls_log(TdFixture *f)
{
    return g_build_filename(f->dir, "plugin-calls.log", NULL);
}

guint
td_calls(TdFixture *f, const char *pattern)
{
    g_autofree char *path = td_calls_log(f);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint n = 0;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        n += lines[i][0] && g_pattern_match_simple(pattern, lines[i]);
    return n;
}

/* The stateful fixture plugin in <dir>/plugins, and its settings. */
static char *
td_plugin_conf(TdFixture *f, const char *settings)
{
    g_autofree char *log = td_calls_log(f);
    g_autofree char *completed = NULL;
    g_autofree char *plugins = test_plugins_make(FIXTURE_DIR, f->dir, log, settings, &completed);

    return g_strdup_printf("[plugins]\ndir = %s\ncall_timeout_s = 1\nmax_state_bytes = 64\n"
                           "[plugin.stateful]\nlog = %s\n%s", plugins, log, completed);
}

/* The fixture in f->dir, made: the base configuration and @pools, and
 * the stateful plugin with @settings unless NULL. */
static void
td_start(TdFixture *f, const char *pools, const char *settings)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *base = NULL;
    g_autofree char *plugins = NULL;

    base = td_conf_text(f->dir);
    plugins = settings ? td_plugin_conf(f, settings) : g_strdup("");
    text = g_strconcat(base, pools, plugins, NULL);
    f->conf = conf_load_data("test.conf", text, &error);
    g_assert_no_error(error);
    f->fv = fake_virt_new();
    fake_virt_add_host(f->fv, TD_SOURCE_URI);
    f->fp = fake_peer_new();
    f->virt = fake_virt_new_virt(f->fv);
    f->in = incoming_new(f->virt, f->conf, &error);
    g_assert_no_error(error);
    if (settings) {
        f->plugins = plugin_set_load(f->conf->plugin_dir, f->conf->plugin_settings);
        g_assert_cmpuint(plugin_set_plugins(f->plugins)->len, ==,
                         strstr(settings, "[plugin.stateful2]") ? 2 : 1);
        incoming_set_plugins(f->in, f->plugins);
    }
}

static void
td_make_dir(TdFixture *f)
{
    g_autoptr(GError) error = NULL;

    test_log_clear();
    f->dir = g_dir_make_tmp("migd-test-dest-XXXXXX", &error);
    g_assert_no_error(error);
}

void
td_setup(TdFixture *f, gconstpointer data)
{
    td_make_dir(f);
    td_start(f, "", data);
}

/* td_start() with @pool and the plugin as @kind, [plugin.stateful] @data,
 * fake-virt's journal in the plugin's log. */
static void
td_start_kind(TdFixture *f, const char *pool, const char *kind, gconstpointer data)
{
    g_autofree char *settings = g_strdup_printf("kind = %s\n%s", kind, (const char *)data);
    g_autofree char *log = NULL;

    td_start(f, pool, settings);
    log = td_calls_log(f);
    fake_virt_set_journal(f->fv, log);
}

void
td_setup_sriov(TdFixture *f, gconstpointer data)
{
    g_autofree char *root = NULL;
    g_autofree char *pool = NULL;

    td_make_dir(f);
    root = g_build_filename(f->dir, "sys", NULL);
    test_sysfs_add_pf(root, TD_SR_PF, "ens2f0",
                      (const char *const[]){ "1=" TD_SR_VF1, "2=" TD_SR_VF2, NULL });
    pool = g_strdup_printf("[pool.sr]\ntype = sriov\npf = " TD_SR_PF "\nsysfs_root = %s\n"
                           "native = true\n", root);
    td_start_kind(f, pool, "vf", data);
}

void
td_setup_vdpa(TdFixture *f, gconstpointer data)
{
    g_autofree char *root = NULL;
    g_autofree char *pool = NULL;

    td_make_dir(f);
    root = g_build_filename(f->dir, "sys", NULL);
    test_sysfs_add_vdpa(root, "vdpa0", "vhost_vdpa", "vhost-vdpa-0");
    test_sysfs_add_vdpa(root, "vdpa1", "vhost_vdpa", "vhost-vdpa-3");
    test_sysfs_add_vdpa(root, "stray", "vhost_vdpa", "vhost-vdpa-5");
    pool = g_strdup_printf("[pool.vn]\ntype = vdpa\ndevices = vdpa0, vdpa1\nsysfs_root = %s\n",
                           root);
    td_start_kind(f, pool, "vdpa", data);
}

/* The fake must outlive every worker that calls it: the looks at guests
 * are let finish before an Incoming goes, and the plugins' calls too. */
static void
td_settle(TdFixture *f)
{
    while ((f->in && ((Incoming *)f->in)->looks > 0) || hotplug_outstanding() > 0 ||
           plugin_call_in_flight() > 0)
        (void)g_main_context_iteration(NULL, TRUE);
}

void
td_teardown(TdFixture *f, gconstpointer data)
{
    td_settle(f);
    g_clear_pointer(&f->in, incoming_free);
    td_settle(f);
    fake_peer_flush(f->fp);
    fake_virt_flush(f->fv);
    g_clear_pointer(&f->virt, virt_free);
    fake_virt_flush(f->fv);
    g_clear_pointer(&f->fp, fake_peer_free);
    g_clear_pointer(&f->fv, fake_virt_free);
    g_clear_pointer(&f->plugins, plugin_set_free);
    g_clear_pointer(&f->conf, conf_free);
    test_remove_tree(f->dir);
    g_free(f->dir);
}

void
td_restart(TdFixture *f)
{
    g_autoptr(GError) error = NULL;

    td_settle(f);
    g_clear_pointer(&f->in, incoming_free);
    f->in = incoming_new(f->virt, f->conf, &error);
    g_assert_no_error(error);
    incoming_set_plugins(f->in, f->plugins);
}

char *
td_domain_xml(const char *name, const char *const *nics)
{
    g_autoptr(GString) xml = g_string_new(NULL);

    g_string_append_printf(xml, "<domain type='qemu'><name>%s</name><devices>", name);
    for (guint i = 0; nics && nics[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(nics[i], "=", 2);

        g_string_append_printf(xml, "<interface type='bridge'><mac address='52:54:00:00:00:0%u'/>"
                               "<source bridge='br0'/><target dev='%s'/><model type='vmxnet3'/>"
                               "<alias name='%s'/></interface>", i + 1, kv[1], kv[0]);
    }
    g_string_append(xml, "</devices></domain>");
    return g_string_free(g_steal_pointer(&xml), FALSE);
}

typedef struct {
    gboolean done;
    json_t *result;
    GError *error;
} TdAnswer;

static void
td_answered(json_t *result, const GError *error, gpointer data)
{
    TdAnswer *a = data;

    a->done = TRUE;
    a->result = result ? json_incref(result) : NULL;
    a->error = error ? g_error_copy(error) : NULL;
}

static json_t *
td_wait_answer(TdAnswer *a, GError **error)
{
    while (!a->done)
        (void)g_main_context_iteration(NULL, TRUE);
    if (a->error)
        g_propagate_error(error, a->error);
    return a->result;
}

json_t *
td_vfs(TdFixture *f, GError **error)
{
    TdAnswer a = { 0 };

    incoming_vfs(f->in, td_answered, &a);
    return td_wait_answer(&a, error);
}

json_t *
td_reserve(TdFixture *f, const char *job, const char *domain, const char *strategy,
           const char *nics_json, GError **error)
{
    return td_reserve_from(f, TD_SOURCE_URL, job, domain, strategy, nics_json, error);
}

json_t *
td_reserve_from(TdFixture *f, const char *source_url, const char *job, const char *domain,
                const char *strategy, const char *nics_json, GError **error)
{
    g_autoptr(json_t) request = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "job", job, "domain",
                                          domain, "source", "A", "source_url", source_url,
                                          "strategy", strategy, "nics",
                                          json_loads(nics_json, 0, NULL));
    TdAnswer a = { 0 };

    incoming_reserve(f->in, request, td_answered, &a);
    return td_wait_answer(&a, error);
}

json_t *
td_prepare(TdFixture *f, const char *job, json_t *body, GError **error)
{
    TdAnswer a = { 0 };

    incoming_prepare_states(f->in, job, body, td_answered, &a);
    return td_wait_answer(&a, error);
}

json_t *
td_replug(TdFixture *f, const char *job, GError **error)
{
    TdAnswer a = { 0 };

    incoming_replug(f->in, job, td_answered, &a);
    return td_wait_answer(&a, error);
}

char *
td_state_frame(const char *plugin, const char *alias, const char *state)
{
    g_autoptr(GBytes) bytes = g_bytes_new(state, strlen(state));
    PluginFrame frame = { .plugin = (char *)plugin, .abi_major = 1, .state_version = 3,
                          .alias = (char *)alias, .state = bytes };

    return plugin_frame_encode(&frame);
}

json_t *
td_states_body(const char *alias, const char *plugin, const char *frame)
{
    return json_pack("{s:[{s:s,s:s,s:s}]}", "states", "alias", alias, "plugin", plugin, "frame",
                     frame);
}

json_t *
td_two_states_body(const char *alias0, const char *plugin0, const char *alias1,
                   const char *plugin1)
{
    g_autofree char *state0 = g_strdup_printf("state of %s", alias0);
    g_autofree char *state1 = g_strdup_printf("state of %s", alias1);
    g_autofree char *frame0 = td_state_frame(plugin0, alias0, state0);
    g_autofree char *frame1 = td_state_frame(plugin1, alias1, state1);

    return json_pack("{s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}", "states", "alias", alias0, "plugin",
                     plugin0, "frame", frame0, "alias", alias1, "plugin", plugin1, "frame",
                     frame1);
}

json_t *
td_prepare_saved(TdFixture *f, const char *job, GError **error)
{
    g_autofree char *frame = td_state_frame("stateful", "ua-vf0", "state of ua-vf0");
    g_autoptr(json_t) body = td_states_body("ua-vf0", "stateful", frame);

    return td_prepare(f, job, body, error);
}

void
td_reserve_prepared(TdFixture *f, const char *strategy, const char *nics)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) reserved = td_reserve(f, "job-1", "labvm", strategy, nics, &error);
    g_autoptr(json_t) prepared = NULL;

    g_assert_no_error(error);
    prepared = td_prepare_saved(f, "job-1", &error);
    g_assert_no_error(error);
}

json_t *
td_switchover(TdFixture *f, const char *job, GError **error)
{
    TdAnswer a = { 0 };

    incoming_switchover(f->in, job, td_answered, &a);
    return td_wait_answer(&a, error);
}

json_t *
td_resume(TdFixture *f, const char *job, GError **error)
{
    TdAnswer a = { 0 };

    incoming_resume(f->in, job, td_answered, &a);
    return td_wait_answer(&a, error);
}

const char *
td_replug_state(TdFixture *f, const char *job)
{
    static char state[32];
    g_autoptr(json_t) r = incoming_get(f->in, job, NULL);

    g_strlcpy(state, r ? json_string_value(json_object_get(json_object_get(r, "replug"),
                                                           "state"))
                       : "gone", sizeof(state));
    return state;
}

static gboolean
td_timeout(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean
td_wait_state(TdFixture *f, const char *job, const char *state)
{
    gboolean late = FALSE;
    guint timer = g_timeout_add(5000, td_timeout, &late);

    while (!late && g_strcmp0(td_replug_state(f, job), state) != 0)
        (void)g_main_context_iteration(NULL, TRUE);
    if (!late)
        g_source_remove(timer);
    return !late;
}

typedef struct {
    TdFixture *f;
    const char *domain;
    unsigned int flags;
    gboolean done, ok;
} TdMigration;

static gpointer
td_migrate_thread(gpointer data)
{
    TdMigration *m = data;
    const VirtOps *ops = fake_virt_ops(m->f->fv);
    g_autoptr(GError) error = NULL;
    g_autoptr(VirtConn) conn = ops->open(ops, TD_SOURCE_URI, &error);

    g_assert_no_error(error);
    m->ok = ops->migrate(conn, m->domain, FAKE_VIRT_LOCAL, NULL, 0, VIR_MIGRATE_LIVE | m->flags,
                         &error);
    g_assert_no_error(error);
    g_atomic_int_set(&m->done, TRUE);
    g_main_context_wakeup(NULL);
    return NULL;
}

void
td_migrate_in(TdFixture *f, const char *domain)
{
    td_migrate_in_flags(f, domain, 0);
}

void
td_migrate_in_flags(TdFixture *f, const char *domain, unsigned int flags)
{
    TdMigration m = { .f = f, .domain = domain, .flags = flags };
    GThread *thread = g_thread_new("td-migrate", td_migrate_thread, &m);

    while (!g_atomic_int_get(&m.done))
        (void)g_main_context_iteration(NULL, TRUE);
    g_thread_join(thread);
    g_assert_true(m.ok);
}
