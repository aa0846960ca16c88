/* Helpers shared by the unit tests: data-driven golden cases, and a log
 * writer that records warnings so a test can assert what was logged. */
#pragma once

#include <glib.h>

#include "job.h"

/* Adds one test per DIR/NAME.SUFFIX, named PREFIX/NAME, in name order; the
 * test gets NAME (owned by the harness) as its data. */
void test_add_golden(const char *dir, const char *suffix, const char *prefix,
                     GTestDataFunc func);

/* Compares @actual with the golden file @path, or rewrites the file when
 * MIGD_TEST_REGENERATE is set (read the diff before committing it). */
void test_assert_golden(const char *path, const char *actual);

/* Installs a writer that records warnings and worse (and prints all). */
void test_log_capture(void);

/* Whether a recorded warning matches the glob @pattern. */
gboolean test_log_has(const char *pattern);

/* How many warnings were recorded, and forgetting them. */
guint test_log_count(void);
void test_log_clear(void);

/* A listening, non-blocking unix stream socket bound at @path (for an
 * HttpServer under test). */
int test_unix_listen(const char *path);

/* Removes @path and everything below it; symlinks are removed, not followed. */
void test_remove_tree(const char *path);

/* Whether a timeline entry of @job matches the glob @pattern. */
gboolean test_timeline_has(const Job *job, const char *pattern);

/* Makes <@root>/bus/pci/devices/<@pf> as sysfs has an SR-IOV PF: its netdev
 * @pf_netdev under net/, and a link virtfnN -> ../VF for each "N=VF" of the
 * NULL-terminated @vfs ("3=0000:3b:02.3"). */
void test_sysfs_add_pf(const char *root, const char *pf, const char *pf_netdev,
                       const char *const *vfs);

/* Makes <@root>/bus/vdpa/devices/<@name> as sysfs has a vDPA device: a
 * driver link to bus/vdpa/drivers/<@driver> and, when @node is given
 * ("vhost-vdpa-0"), the directory vhost_vdpa makes for its char device. */
void test_sysfs_add_vdpa(const char *root, const char *name, const char *driver,
                         const char *node);

/* Asserts that the file @path (a fixture plugin's log with fake-virt's
 * journal) holds exactly the lines of @steps, in order: a step "virt
 * detach" or "virt attach" stands for "virt detach @alias on
 * test:///default", any other ("save_state") for "save_state @alias
 * @rest", @rest being what the plugin logs after the alias. */
void test_assert_calls(const char *path, const char *alias, const char *rest,
                       const char *const *steps);

/* Makes <@dir>/plugins with the fixture plugin stateful.so of @fixture_dir,
 * and stateful2.so too when @settings (lines of the [plugin.stateful]
 * group) opens a [plugin.stateful2] group: that group gets log = @log and
 * log_name = yes, so both log to one file and stateful2's lines end in
 * " by stateful2". Returns the plugins directory; @ret_settings gets
 * @settings so completed. */
char *test_plugins_make(const char *fixture_dir, const char *dir, const char *log,
                        const char *settings, char **ret_settings);

/* Asserts that the objects of the JSON array @list have the string @key
 * @names (NULL-terminated), in that order, and that there are no others. */
void test_assert_names(json_t *list, const char *key, const char *const *names);
