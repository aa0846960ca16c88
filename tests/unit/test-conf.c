/* Tests of the configuration loader. Each tests/data/conf/NAME.conf is loaded
 * and what migd says of it must equal NAME.out; adding a case is adding two
 * files. conf.c is included to reach its key table. */
#include <config.h>

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
    g_autoptr(GRegex) commented = g_regex_new("^#([a-z_]+ =|\\[peer\\.[A-Za-z]+\\])",
                                              G_REGEX_MULTILINE, 0, NULL);
    g_autofree char *uncommented = NULL;
    g_autoptr(MigdConf) conf = NULL, defaults = conf_new_defaults();
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(TOP_SRCDIR "/conf/migd.conf", &text, NULL, NULL));
    uncommented = g_regex_replace(commented, text, -1, 0, "\\1", 0, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(conf_keys) + G_N_ELEMENTS(peer_keys); i++) {
        const ConfKey *ck = i < G_N_ELEMENTS(conf_keys) ? &conf_keys[i]
                                                        : &peer_keys[i - G_N_ELEMENTS(conf_keys)];
        g_autofree char *line = g_strdup_printf("\n%s =", ck->key);

        if (!strstr(uncommented, line))
            g_test_message("conf/migd.conf does not document '%s'", ck->key);
        g_assert_nonnull(strstr(uncommented, line));
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
    g_assert_cmpuint(conf->poll_interval_ms, ==, defaults->poll_interval_ms);
    g_assert_cmpuint(conf->retention_hours, ==, defaults->retention_hours);
    g_assert_cmpmem(&conf->policy, sizeof(conf->policy), &defaults->policy, sizeof(defaults->policy));
    g_assert_cmpuint(conf->peers->len, ==, 1);
    g_assert_cmpstr(conf_find_peer(conf, "B")->libvirt_uri, ==, "qemu+tcp://10.0.0.2/system");
    /* Paths depend on configure's prefix; the shipped file shows the FHS ones. */
    g_assert_cmpstr(conf->unix_socket, ==, "/run/migd/migd.sock");
    g_assert_cmpstr(conf->state_dir, ==, "/var/lib/migd");
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
    return g_test_run();
}
