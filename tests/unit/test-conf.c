/* Tests of the configuration loader. Each tests/data/conf/NAME.conf is loaded
 * and what migd says of it must equal NAME.out; adding a case is adding two
 * files. conf.c is included to reach its key table. */
#include <config.h>

#include <glib/gstdio.h>

#include "conf.c"
#include "testutil.h"

#define DATA_DIR SRCDIR "/data/conf"

static void
test_conf_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *conf_path = g_strdup_printf("%s/%s.conf", DATA_DIR, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out", DATA_DIR, name);
    g_autofree char *shown = g_strdup_printf("%s.conf", name);
    g_autofree char *text = NULL, *actual = NULL;
    g_autoptr(MigdConf) conf = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(conf_path, &text, NULL, NULL));
    conf = conf_load_data(shown, text, &error);
    if (conf)
        g_assert_no_error(error);
    else
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    actual = g_strdup_printf("%s\n", conf ? "configuration OK" : error->message);
    test_assert_golden(out_path, actual);
}

static void
test_conf_full_values(void)
{
    g_autofree char *text = NULL;
    g_autoptr(MigdConf) conf = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(DATA_DIR "/ok-full.conf", &text, NULL, NULL));
    conf = conf_load_data("ok-full.conf", text, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(conf->libvirt_uri, ==, "qemu+tcp://10.0.0.2/system");
    g_assert_cmpuint(conf->libvirt_keepalive_interval, ==, 0);
    g_assert_cmpuint(conf->libvirt_keepalive_count, ==, 10);
    g_assert_cmpuint(conf->libvirt_reconnect_max, ==, 120);
    g_assert_cmpstr(conf->unix_socket, ==, "/run/migd-test/api.sock");
    g_assert_cmpuint(conf->unix_socket_mode, ==, 0600);
    g_assert_cmpstr(conf->unix_socket_group, ==, "libvirt");
    g_assert_cmpstr(conf->tcp_listen, ==, "[fd00::1]:7480");
    g_assert_cmpstr(conf->state_dir, ==, "/srv/migd");
    g_assert_cmpint(conf->log_level, ==, MIGD_LOG_DEBUG);
}

static void
test_conf_empty_disables_socket(void)
{
    g_autoptr(MigdConf) conf = NULL;
    g_autoptr(GError) error = NULL;

    conf = conf_load_data("x.conf", "[daemon]\nunix_socket =\n", &error);
    g_assert_no_error(error);
    g_assert_null(conf->unix_socket);
    g_assert_null(conf->tcp_listen);
}

/* The shipped migd.conf documents every key with its true default: with
 * every "#key = value" line uncommented it must load to the defaults. */
static void
test_conf_shipped_documents_defaults(void)
{
    g_autofree char *text = NULL;
    g_autoptr(GRegex) commented = g_regex_new("^#([a-z_]+ =|\\[(?:peer|pool)\\.[A-Za-z0-9]+\\])",
                                              G_REGEX_MULTILINE, 0, NULL);
    const ConfKey *tables[] = { conf_keys, peer_keys, pool_keys };
    const gsize sizes[] = { G_N_ELEMENTS(conf_keys), G_N_ELEMENTS(peer_keys),
                            G_N_ELEMENTS(pool_keys) };
    const MigdPoolConf *pool;
    g_autofree char *uncommented = NULL;
    g_autoptr(MigdConf) conf = NULL, defaults = conf_new_defaults();
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(TOP_SRCDIR "/conf/migd.conf", &text, NULL, NULL));
    uncommented = g_regex_replace(commented, text, -1, 0, "\\1", 0, NULL);
    for (gsize t = 0; t < G_N_ELEMENTS(tables); t++) {
        for (gsize i = 0; i < sizes[t]; i++) {
            g_autofree char *line = g_strdup_printf("\n%s =", tables[t][i].key);

            if (!strstr(uncommented, line))
                g_test_message("conf/migd.conf does not document '%s'", tables[t][i].key);
            g_assert_nonnull(strstr(uncommented, line));
        }
    }
    conf = conf_load_data("migd.conf", uncommented, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(conf->libvirt_uri, ==, defaults->libvirt_uri);
    g_assert_cmpuint(conf->libvirt_keepalive_interval, ==, defaults->libvirt_keepalive_interval);
    g_assert_cmpuint(conf->libvirt_keepalive_count, ==, defaults->libvirt_keepalive_count);
    g_assert_cmpuint(conf->libvirt_reconnect_max, ==, defaults->libvirt_reconnect_max);
    g_assert_cmpuint(conf->unix_socket_mode, ==, defaults->unix_socket_mode);
    g_assert_cmpstr(conf->unix_socket_group, ==, defaults->unix_socket_group);
    g_assert_cmpstr(conf->tcp_listen, ==, defaults->tcp_listen);
    g_assert_cmpint(conf->log_level, ==, defaults->log_level);
    g_assert_cmpuint(conf->max_outgoing, ==, defaults->max_outgoing);
    g_assert_cmpuint(conf->max_incoming, ==, defaults->max_incoming);
    g_assert_null(conf->peer_token_file);
    g_assert_cmpuint(conf->nic_unplug_timeout_s, ==, defaults->nic_unplug_timeout_s);
    g_assert_cmpuint(conf->nic_replug_timeout_s, ==, defaults->nic_replug_timeout_s);
    g_assert_cmpuint(conf->nic_replug_attempts, ==, defaults->nic_replug_attempts);
    g_assert_cmpuint(conf->nic_lease_ttl_s, ==, defaults->nic_lease_ttl_s);
    g_assert_cmpstr(conf->nic_verify, ==, defaults->nic_verify);
    g_assert_cmpstr(conf->nic_agent_socket_dir, ==, defaults->nic_agent_socket_dir);
    g_assert_cmpuint(conf->poll_interval_ms, ==, defaults->poll_interval_ms);
    g_assert_cmpuint(conf->retention_hours, ==, defaults->retention_hours);
    g_assert_false(conf->allow_uri_destinations);
    g_assert_cmpmem(&conf->policy, sizeof(conf->policy), &defaults->policy, sizeof(defaults->policy));
    g_assert_cmpuint(conf->peers->len, ==, 1);
    g_assert_cmpstr(conf_find_peer(conf, "B")->libvirt_uri, ==, "qemu+tcp://10.0.0.2/system");
    /* The examples show each pool type's defaults. */
    g_assert_cmpuint(conf->pools->len, ==, 3);
    pool = conf_find_pool(conf, "nic0");
    g_assert_cmpstr(pool->sysfs_root, ==, "/sys");
    g_assert_false(pool->native);
    pool = conf_find_pool(conf, "pf0");
    g_assert_cmpstr(pool->sysfs_root, ==, "/sys");
    g_assert_false(pool->native);
    pool = conf_find_pool(conf, "lab");
    g_assert_cmpstr(pool->model, ==, "vmxnet3");
    g_assert_false(pool->native);
    /* Paths depend on configure's prefix; the shipped file shows the FHS ones. */
    g_assert_cmpstr(conf->unix_socket, ==, "/run/migd/migd.sock");
    g_assert_cmpstr(conf->state_dir, ==, "/var/lib/migd");
}

static void
test_conf_defaults(void)
{
    g_autoptr(MigdConf) conf = conf_new_defaults();

    g_assert_cmpuint(conf->max_incoming, ==, 2);
    g_assert_false(conf->allow_uri_destinations);
    g_assert_cmpuint(conf->nic_unplug_timeout_s, ==, 30);
    g_assert_cmpuint(conf->nic_replug_timeout_s, ==, 10);
    g_assert_cmpuint(conf->nic_replug_attempts, ==, 3);
    g_assert_cmpuint(conf->nic_lease_ttl_s, ==, 120);
    g_assert_cmpstr(conf->nic_verify, ==, "none");
    g_assert_cmpstr(conf->nic_agent_socket_dir, ==, "/var/lib/libvirt/qemu/channel");
    g_assert_null(conf->peer_token_file);
    g_assert_null(conf->peer_token);
    g_assert_cmpuint(conf->pools->len, ==, 0);
    g_assert_null(conf_find_pool(conf, "pf0"));
}

static void
test_conf_nic_pools_values(void)
{
    g_autofree char *text = NULL;
    g_autoptr(MigdConf) conf = NULL;
    g_autoptr(GError) error = NULL;
    const MigdPoolConf *pool;
    const char *const lab_slots[] = { "migd-tap0", "migd-tap1", "migd_tap2", NULL };
    const char *const e1000_slots[] = { "lab0", NULL };
    const char *const vdpa_devices[] = { "vdpa0", "vdpa-1", NULL };

    g_assert_true(g_file_get_contents(DATA_DIR "/ok-nic-pools.conf", &text, NULL, NULL));
    conf = conf_load_data("ok-nic-pools.conf", text, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(conf->max_incoming, ==, 4);
    g_assert_cmpuint(conf->nic_unplug_timeout_s, ==, 45);
    g_assert_cmpuint(conf->nic_replug_timeout_s, ==, 20);
    g_assert_cmpuint(conf->nic_replug_attempts, ==, 5);
    g_assert_cmpuint(conf->nic_lease_ttl_s, ==, 300);
    g_assert_cmpstr(conf->nic_verify, ==, "lab-agent");
    g_assert_cmpstr(conf->nic_agent_socket_dir, ==, "/run/migd-test/channel");

    /* In file order, each type's defaults filled in and the other type's
     * fields left empty. */
    g_assert_cmpuint(conf->pools->len, ==, 6);
    pool = g_ptr_array_index(conf->pools, 0);
    g_assert_cmpstr(pool->name, ==, "pf0");
    g_assert_cmpint(pool->type, ==, POOL_SRIOV);
    g_assert_cmpstr(pool->pf, ==, "0000:3b:00.0");
    g_assert_cmpstr(pool->sysfs_root, ==, "/sys");
    g_assert_null(pool->model);
    g_assert_null(pool->bridge);
    g_assert_null(pool->slots);
    g_assert_false(pool->native);
    pool = g_ptr_array_index(conf->pools, 1);
    g_assert_cmpstr(pool->name, ==, "pf1");
    g_assert_cmpstr(pool->pf, ==, "0000:af:00.1");
    g_assert_cmpstr(pool->sysfs_root, ==, "/srv/sysfs-fixture");
    g_assert_true(pool->native);
    pool = g_ptr_array_index(conf->pools, 2);
    g_assert_cmpstr(pool->name, ==, "lab");
    g_assert_cmpint(pool->type, ==, POOL_EMULATED);
    g_assert_null(pool->pf);
    g_assert_null(pool->sysfs_root);
    g_assert_cmpstr(pool->model, ==, "vmxnet3");
    g_assert_cmpstr(pool->bridge, ==, "virbr0");
    g_assert_true(g_strv_equal((const char *const *)pool->slots, lab_slots));
    g_assert_false(pool->native);
    pool = conf_find_pool(conf, "lab-e1000");
    g_assert_true(pool == g_ptr_array_index(conf->pools, 3));
    g_assert_cmpstr(pool->model, ==, "e1000e");
    g_assert_cmpstr(pool->bridge, ==, "br-lab");
    g_assert_true(g_strv_equal((const char *const *)pool->slots, e1000_slots));
    g_assert_true(pool->native);
    g_assert_null(pool->devices);
    pool = conf_find_pool(conf, "vdpa");
    g_assert_cmpint(pool->type, ==, POOL_VDPA);
    g_assert_true(g_strv_equal((const char *const *)pool->devices, vdpa_devices));
    g_assert_cmpstr(pool->sysfs_root, ==, "/srv/vdpa-fixture");
    g_assert_null(pool->pf);
    g_assert_null(pool->model);
    g_assert_null(pool->slots);
    g_assert_true(pool->native);
    pool = conf_find_pool(conf, "vdpa-default");
    g_assert_cmpstr(pool->sysfs_root, ==, "/sys");
    g_assert_false(pool->native);
    g_assert_null(conf_find_pool(conf, "pf2"));
    g_assert_cmpstr(conf_pool_type_to_string(POOL_SRIOV), ==, "sriov");
    g_assert_cmpstr(conf_pool_type_to_string(POOL_EMULATED), ==, "emulated");
    g_assert_cmpstr(conf_pool_type_to_string(POOL_VDPA), ==, "vdpa");
}

/* The peer token is read from its file at load time; each case is the
 * file's content and mode, and what loading says (NULL: it loads). */
typedef struct {
    const char *name;
    const char *content;
    guint mode;
    const char *expected;       /* TOKEN stands for the file's path */
} TokenCase;

static const TokenCase token_cases[] = {
    { "ok", "  0123456789abcdef0123\n", 0600, NULL },
    { "ok-owner-read-only", "0123456789abcdef", 0400, NULL },
    { "empty", "", 0600, "TOKEN is not a peer token: it is empty" },
    { "blank", " \n\t\n", 0600, "TOKEN is not a peer token: it is empty" },
    { "short", "0123456789abcde\n", 0600,
      "TOKEN is not a peer token: it holds fewer than 16 characters, which is too easy to "
      "guess; write a longer token, such as the output of `openssl rand -hex 32`" },
    { "two-words", "0123456789 abcdef0123\n", 0600,
      "TOKEN is not a peer token: it holds a space, a control character or a non-ASCII "
      "character; a token is one word of printable ASCII" },
    { "group-readable", "0123456789abcdef0123\n", 0640,
      "TOKEN may be read or written by its group or others (mode 0640), and whoever reads it "
      "may ask this migd for changes; run chmod 600 TOKEN" },
    { "other-writable", "0123456789abcdef0123\n", 0602,
      "TOKEN may be read or written by its group or others (mode 0602), and whoever reads it "
      "may ask this migd for changes; run chmod 600 TOKEN" },
};

static void
test_conf_peer_token(gconstpointer data)
{
    const TokenCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("migd-test-conf-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "peer-token", NULL);
    g_autofree char *text = g_strdup_printf("[daemon]\npeer_token_file = %s\n", path);
    g_autoptr(MigdConf) conf = NULL;

    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(path, c->content, -1, NULL));
    g_assert_cmpint(g_chmod(path, c->mode), ==, 0);
    conf = conf_load_data("token.conf", text, &error);
    if (!c->expected) {
        g_autofree char *stripped = g_strstrip(g_strdup(c->content));

        g_assert_no_error(error);
        g_assert_cmpstr(conf->peer_token_file, ==, path);
        g_assert_cmpstr(conf->peer_token, ==, stripped);
    } else {
        g_auto(GStrv) parts = g_strsplit(c->expected, "TOKEN", -1);
        g_autofree char *reason = g_strjoinv(path, parts);
        g_autofree char *expected = g_strdup_printf(
            "token.conf:2: key 'peer_token_file' in [daemon]: %s", reason);

        g_assert_null(conf);
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
        g_assert_cmpstr(error->message, ==, expected);
    }
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A directory is no token file, and an empty value means none. */
static void
test_conf_peer_token_odd_files(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MigdConf) none = NULL;
    g_autoptr(MigdConf) conf = conf_load_data("token.conf", "[daemon]\npeer_token_file = /\n",
                                              &error);

    g_assert_null(conf);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==,
                    "token.conf:2: key 'peer_token_file' in [daemon]: / is not a regular file");
    g_clear_error(&error);
    none = conf_load_data("token.conf", "[daemon]\npeer_token_file =\n", &error);
    g_assert_no_error(error);
    g_assert_null(none->peer_token_file);
    g_assert_null(none->peer_token);
}

static void
test_conf_missing_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MigdConf) conf = conf_load(DATA_DIR "/no-such.conf", &error);

    g_assert_null(conf);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "no-such.conf"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_golden(DATA_DIR, ".conf", "/conf/golden", test_conf_golden);
    g_test_add_func("/conf/full-values", test_conf_full_values);
    g_test_add_func("/conf/empty-disables-socket", test_conf_empty_disables_socket);
    g_test_add_func("/conf/shipped-documents-defaults", test_conf_shipped_documents_defaults);
    g_test_add_func("/conf/missing-file", test_conf_missing_file);
    g_test_add_func("/conf/defaults", test_conf_defaults);
    g_test_add_func("/conf/nic-pools-values", test_conf_nic_pools_values);
    g_test_add_func("/conf/peer-token/odd-files", test_conf_peer_token_odd_files);
    for (gsize i = 0; i < G_N_ELEMENTS(token_cases); i++) {
        g_autofree char *path = g_strdup_printf("/conf/peer-token/%s", token_cases[i].name);

        g_test_add_data_func(path, &token_cases[i], test_conf_peer_token);
    }
    return g_test_run();
}
