/* Helpers shared by the unit tests. */
#include <config.h>

#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake-virt.h"
#include "testutil.h"

static GPtrArray *golden_names;
static GPtrArray *logged;

static int
compare_names(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

void
test_add_golden(const char *dir, const char *suffix, const char *prefix, GTestDataFunc func)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *entry;

    g_assert_nonnull(d);
    if (!golden_names)
        golden_names = g_ptr_array_new_with_free_func(g_free);
    while ((entry = g_dir_read_name(d))) {
        if (g_str_has_suffix(entry, suffix))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - strlen(suffix)));
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        char *name = g_ptr_array_index(names, i);
        g_autofree char *path = g_strdup_printf("%s/%s", prefix, name);

        g_ptr_array_add(golden_names, name);
        g_test_add_data_func(path, name, func);
    }
}

void
test_assert_golden(const char *path, const char *actual)
{
    g_autofree char *expected = NULL;

    if (g_getenv("MIGD_TEST_REGENERATE")) {
        g_assert_true(g_file_set_contents(path, actual, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(path, &expected, NULL, NULL));
    g_assert_cmpstr(actual, ==, expected);
}

static GLogWriterOutput
record_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
        for (gsize i = 0; i < n_fields; i++) {
            if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
                g_ptr_array_add(logged, g_strdup(fields[i].value));
        }
    }
    return g_log_writer_standard_streams(level, fields, n_fields, data);
}

void
test_log_capture(void)
{
    logged = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(record_log, NULL, NULL);
}

gboolean
test_log_has(const char *pattern)
{
    for (guint i = 0; i < logged->len; i++) {
        if (g_pattern_match_simple(pattern, g_ptr_array_index(logged, i)))
            return TRUE;
    }
    return FALSE;
}

guint
test_log_count(void)
{
    for (guint i = 0; i < logged->len; i++)
        g_test_message("logged: %s", (char *)g_ptr_array_index(logged, i));
    return logged->len;
}

void
test_log_clear(void)
{
    g_ptr_array_set_size(logged, 0);
}

void
test_remove_tree(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (g_file_test(path, G_FILE_TEST_IS_SYMLINK) || !g_file_test(path, G_FILE_TEST_IS_DIR)) {
        (void)g_unlink(path);
        return;
    }
    dir = g_dir_open(path, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        test_remove_tree(child);
    }
    (void)g_rmdir(path);
}

gboolean
test_timeline_has(const Job *job, const char *pattern)
{
    for (guint i = 0; i < job->timeline->len; i++) {
        const JobEntry *e = g_ptr_array_index(job->timeline, i);

        if (g_pattern_match_simple(pattern, e->message))
            return TRUE;
    }
    return FALSE;
}

void
test_sysfs_add_pf(const char *root, const char *pf, const char *pf_netdev,
                  const char *const *vfs)
{
    g_autofree char *pf_dir = g_build_filename(root, "bus", "pci", "devices", pf, NULL);
    g_autofree char *net = g_build_filename(pf_dir, "net", pf_netdev, NULL);

    g_assert_cmpint(g_mkdir_with_parents(net, 0755), ==, 0);
    for (guint i = 0; vfs[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(vfs[i], "=", 2);
        g_autofree char *link = g_strdup_printf("%s/virtfn%s", pf_dir, kv[0]);
        g_autofree char *target = g_strdup_printf("../%s", kv[1]);

        g_assert_cmpint(symlink(target, link), ==, 0);
    }
}

void
test_sysfs_add_vdpa(const char *root, const char *name, const char *driver, const char *node)
{
    g_autofree char *dev_dir = g_build_filename(root, "bus", "vdpa", "devices", name, NULL);
    g_autofree char *drivers = g_build_filename(root, "bus", "vdpa", "drivers", driver, NULL);
    g_autofree char *link = g_build_filename(dev_dir, "driver", NULL);
    g_autofree char *target = g_strdup_printf("../../drivers/%s", driver);

    g_assert_cmpint(g_mkdir_with_parents(dev_dir, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(drivers, 0755), ==, 0);
    g_assert_cmpint(symlink(target, link), ==, 0);
    if (node) {
        g_autofree char *node_dir = g_build_filename(dev_dir, node, NULL);

        g_assert_cmpint(g_mkdir_with_parents(node_dir, 0755), ==, 0);
    }
}

void
test_assert_calls(const char *path, const char *alias, const char *rest,
                  const char *const *steps)
{
    g_autoptr(GString) want = g_string_new(NULL);
    g_autofree char *have = NULL;

    for (guint i = 0; steps[i]; i++) {
        if (g_str_has_prefix(steps[i], "virt "))
            g_string_append_printf(want, "%s %s on " FAKE_VIRT_LOCAL "\n", steps[i], alias);
        else
            g_string_append_printf(want, "%s %s %s\n", steps[i], alias, rest);
    }
    if (!g_file_get_contents(path, &have, NULL, NULL))
        have = g_strdup("");
    g_assert_cmpstr(have, ==, want->str);
}

int
test_unix_listen(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    return fd;
}

static void
test_plugin_link(const char *fixture_dir, const char *plugins, const char *file)
{
    g_autofree char *target = g_build_filename(fixture_dir, file, NULL);
    g_autofree char *link = g_build_filename(plugins, file, NULL);

    g_assert_cmpint(symlink(target, link), ==, 0);
}

char *
test_plugins_make(const char *fixture_dir, const char *dir, const char *log,
                  const char *settings, char **ret_settings)
{
    static const char second[] = "[plugin.stateful2]\n";
    char *plugins = g_build_filename(dir, "plugins", NULL);
    const char *at = strstr(settings, second);

    g_assert_cmpint(g_mkdir(plugins, 0700), ==, 0);
    test_plugin_link(fixture_dir, plugins, "stateful.so");
    if (!at) {
        *ret_settings = g_strdup(settings);
        return plugins;
    }
    test_plugin_link(fixture_dir, plugins, "stateful2.so");
    *ret_settings = g_strdup_printf("%.*s%slog = %s\nlog_name = yes\n%s", (int)(at - settings),
                                    settings, second, log, at + strlen(second));
    return plugins;
}

void
test_assert_names(json_t *list, const char *key, const char *const *names)
{
    guint n = g_strv_length((char **)names);

    g_assert_cmpuint(json_array_size(list), ==, n);
    for (guint i = 0; i < n; i++)
        g_assert_cmpstr(json_string_value(json_object_get(json_array_get(list, i), key)), ==,
                        names[i]);
}
