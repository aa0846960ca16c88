/* Tests of the lease table, each in a fresh state directory with a fake
 * clock: no VF is leased twice, leases survive a reopen, and what is on disk
 * always matches what the table said. */
#include <config.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "jsonutil.h"
#include "lease.h"
#include "pool.h"
#include "store.h"
#include "testutil.h"

/* 2024-05-01T10:00:00.123456Z */
#define T0 G_GINT64_CONSTANT(1714557600123456)
#define SECONDS(s) ((gint64)(s) * G_USEC_PER_SEC)
#define TTL 120

typedef struct {
    char *state_dir;
    char *path;         /* leases.json */
    LeaseTable *table;
    GPtrArray *vfs;     /* PoolVf*: pf0 has four VFs, pf1 two */
} Fixture;

static void
add_vf(GPtrArray *vfs, const char *pool, const char *address, guint index, const char *driver)
{
    PoolVf *vf = g_new0(PoolVf, 1);

    vf->pool = g_strdup(pool);
    vf->address = g_strdup(address);
    vf->index = index;
    vf->driver = g_strdup(driver);
    if (driver && g_str_equal(driver, "iavf"))
        vf->netdev = g_strdup_printf("ens1f0v%u", index);
    g_ptr_array_add(vfs, vf);
}

static void
open_table(Fixture *f)
{
    g_autoptr(GError) error = NULL;

    lease_table_free(f->table);
    f->table = lease_table_open(f->state_dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->table);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->state_dir = g_dir_make_tmp("migd-test-lease-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->state_dir, "leases.json", NULL);
    f->vfs = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);
    add_vf(f->vfs, "pf0", "0000:3b:02.0", 0, "iavf");
    add_vf(f->vfs, "pf0", "0000:3b:02.1", 1, "vfio-pci");
    add_vf(f->vfs, "pf0", "0000:3b:02.2", 2, NULL);
    add_vf(f->vfs, "pf0", "0000:3b:02.3", 3, "iavf");
    add_vf(f->vfs, "pf1", "0000:af:02.0", 0, "iavf");
    add_vf(f->vfs, "pf1", "0000:af:02.1", 1, "iavf");
    open_table(f);
    test_log_clear();
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    lease_table_free(f->table);
    g_ptr_array_unref(f->vfs);
    test_remove_tree(f->state_dir);
    g_free(f->path);
    g_free(f->state_dir);
    g_assert_cmpuint(test_log_count(), ==, 0);
}

static const Lease *
acquire_ok(Fixture *f, GHashTable *in_use, const char *pool, const char *job,
           const char *domain, const char *alias, gint64 now)
{
    g_autoptr(GError) error = NULL;
    const Lease *lease = lease_acquire(f->table, f->vfs, in_use, pool, job, domain, alias, now,
                                       TTL, &error);

    g_assert_no_error(error);
    g_assert_nonnull(lease);
    return lease;
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of the state directory, sorted and joined by spaces. */
static char *
listing(Fixture *f)
{
    g_autoptr(GDir) dir = g_dir_open(f->state_dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (dir && (name = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static void
test_lease_acquire(Fixture *f, gconstpointer data)
{
    const Lease *lease = acquire_ok(f, NULL, "pf1", "job-1", "guest-1", "ua-vf0", T0);
    g_autoptr(GPtrArray) leases = NULL;

    g_assert_cmpstr(lease->address, ==, "0000:af:02.0");
    g_assert_cmpstr(lease->pool, ==, "pf1");
    g_assert_cmpstr(lease->job, ==, "job-1");
    g_assert_cmpstr(lease->domain, ==, "guest-1");
    g_assert_cmpstr(lease->alias, ==, "ua-vf0");
    g_assert_cmpint(lease->created_us, ==, T0);
    g_assert_cmpint(lease->expires_us, ==, T0 + SECONDS(TTL));
    g_assert_true(lease_find(f->table, "0000:af:02.0") == lease);
    g_assert_null(lease_find(f->table, "0000:af:02.1"));
    leases = lease_list_job(f->table, "job-1");
    g_assert_cmpuint(leases->len, ==, 1);
    g_assert_true(g_ptr_array_index(leases, 0) == lease);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
    /* NULL pool: the first free VF of any pool. */
    lease = acquire_ok(f, NULL, NULL, "job-2", "guest-2", "ua-vf0", T0);
    g_assert_cmpstr(lease->address, ==, "0000:3b:02.0");
    g_assert_cmpstr(lease->pool, ==, "pf0");
    g_assert_true(g_file_test(f->path, G_FILE_TEST_IS_REGULAR));
}

/* However the requests interleave, a VF goes to one lease; the pool runs
 * dry with an error that says why. */
static void
test_lease_never_twice(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) error = NULL;
    const Lease *lease;
    guint n = 0;

    for (;; n++) {
        g_autofree char *job = g_strdup_printf("job-%u", n % 3);
        g_autofree char *alias = g_strdup_printf("ua-vf%u", n);

        lease = lease_acquire(f->table, f->vfs, NULL, n % 2 ? "pf0" : NULL, job, "guest",
                              alias, T0 + n, TTL, &error);
        if (!lease)
            break;
        g_assert_false(g_hash_table_contains(seen, lease->address));
        g_hash_table_add(seen, lease->address);
    }
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpuint(g_hash_table_size(seen), >=, 4);
    g_clear_error(&error);
    /* Then any pool, until every one is dry. */
    for (n = 0;; n++) {
        g_autofree char *alias = g_strdup_printf("ua-x%u", n);

        lease = lease_acquire(f->table, f->vfs, NULL, NULL, "job-x", "guest", alias, T0, TTL,
                              &error);
        if (!lease)
            break;
        g_assert_false(g_hash_table_contains(seen, lease->address));
        g_hash_table_add(seen, lease->address);
    }
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpuint(g_hash_table_size(seen), ==, f->vfs->len);
    g_clear_error(&error);
    g_assert_null(lease_acquire(f->table, f->vfs, NULL, "pf0", "job-9", "guest", "ua-vf0", T0,
                                TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpstr(error->message, ==, "no free VF in pool 'pf0': 4 leased, 0 in use");
    g_clear_error(&error);
    g_assert_null(lease_acquire(f->table, f->vfs, NULL, NULL, "job-9", "guest", "ua-vf0", T0,
                                TTL, &error));
    g_assert_cmpstr(error->message, ==, "no free VF in any pool: 6 leased, 0 in use");
    g_clear_error(&error);
    g_assert_null(lease_acquire(f->table, f->vfs, NULL, "pf7", "job-9", "guest", "ua-vf0", T0,
                                TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpstr(error->message, ==, "no free VF in pool 'pf7': this host has no VF there");
}

/* Many jobs, each with two devices, until the VFs run out: the leases on
 * disk are exactly the ones handed out. */
static void
test_lease_many_jobs(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GError) error = NULL;
    guint handed = 0;

    for (guint job = 0; job < 5; job++) {
        for (guint dev = 0; dev < 2; dev++) {
            g_autofree char *id = g_strdup_printf("job-%u", job);
            g_autofree char *alias = g_strdup_printf("ua-vf%u", dev);
            const Lease *lease = lease_acquire(f->table, f->vfs, NULL, NULL, id, "guest", alias,
                                               T0, TTL, &error);

            if (!lease) {
                g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
                g_clear_error(&error);
                continue;
            }
            g_assert_true(g_hash_table_add(seen, g_strdup(lease->address)));
            handed++;
        }
    }
    g_assert_cmpuint(handed, ==, f->vfs->len);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 3);
    open_table(f);
    for (guint i = 0; i < f->vfs->len; i++)
        g_assert_nonnull(lease_find(f->table, ((PoolVf *)g_ptr_array_index(f->vfs, i))->address));
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 3);
}

static void
test_lease_in_use_skipped(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) in_use = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) error = NULL;
    const Lease *lease;

    g_hash_table_insert(in_use, "0000:3b:02.0", "running-1");
    g_hash_table_insert(in_use, "0000:3b:02.2", "running-2");
    lease = acquire_ok(f, in_use, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    g_assert_cmpstr(lease->address, ==, "0000:3b:02.1");
    lease = acquire_ok(f, in_use, "pf0", "job-1", "guest-1", "ua-vf1", T0);
    g_assert_cmpstr(lease->address, ==, "0000:3b:02.3");
    g_assert_null(lease_acquire(f->table, f->vfs, in_use, "pf0", "job-2", "guest-2", "ua-vf0",
                                T0, TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpstr(error->message, ==, "no free VF in pool 'pf0': 2 leased, 2 in use");
}

/* Asking again (a retried request) returns the same lease, renewed; asking
 * for it from another pool is a mistake. */
static void
test_lease_idempotent(Fixture *f, gconstpointer data)
{
    const Lease *first = acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    const Lease *again;
    g_autoptr(GError) error = NULL;

    again = acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0 + SECONDS(30));
    g_assert_true(again == first);
    g_assert_cmpstr(again->address, ==, "0000:3b:02.0");
    g_assert_cmpint(again->created_us, ==, T0);
    g_assert_cmpint(again->expires_us, ==, T0 + SECONDS(30 + TTL));
    again = acquire_ok(f, NULL, NULL, "job-1", "guest-1", "ua-vf0", T0 + SECONDS(40));
    g_assert_true(again == first);
    g_assert_null(lease_acquire(f->table, f->vfs, NULL, "pf1", "job-1", "guest-1", "ua-vf0",
                                T0, TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(error->message, ==,
                    "job job-1 already holds the VF 0000:3b:02.0 of pool 'pf0' for ua-vf0; "
                    "release it before asking for one of pool 'pf1'");
    /* Another device of the same job gets another VF. */
    again = acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf1", T0);
    g_assert_cmpstr(again->address, ==, "0000:3b:02.1");
    open_table(f);
    g_assert_cmpint(lease_find(f->table, "0000:3b:02.0")->expires_us, ==,
                    T0 + SECONDS(40 + TTL));
}

static void
test_lease_renew(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf1", "job-1", "guest-1", "ua-vf1", T0 + SECONDS(5));
    acquire_ok(f, NULL, "pf0", "job-2", "guest-2", "ua-vf0", T0);
    g_assert_true(lease_renew(f->table, "job-1", T0 + SECONDS(60), 300, &error));
    g_assert_no_error(error);
    g_assert_cmpint(lease_find(f->table, "0000:3b:02.0")->expires_us, ==, T0 + SECONDS(360));
    g_assert_cmpint(lease_find(f->table, "0000:af:02.0")->expires_us, ==, T0 + SECONDS(360));
    g_assert_cmpint(lease_find(f->table, "0000:3b:02.1")->expires_us, ==, T0 + SECONDS(TTL));
    open_table(f);
    g_assert_cmpint(lease_find(f->table, "0000:af:02.0")->expires_us, ==, T0 + SECONDS(360));

    g_assert_false(lease_renew(f->table, "job-3", T0, TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND);
    g_assert_cmpstr(error->message, ==,
                    "job job-3 holds no lease on this host: it was released or it expired");
    g_clear_error(&error);
    /* An expired lease is not brought back. */
    g_assert_false(lease_renew(f->table, "job-2", T0 + SECONDS(TTL), TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND);
}

static void
test_lease_expire(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    const Lease *lease;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf0", "job-2", "guest-2", "ua-vf0", T0 + SECONDS(10));
    acquire_ok(f, NULL, "pf0", "job-3", "guest-3", "ua-vf0", T0 + SECONDS(20));
    g_assert_cmpuint(lease_expire(f->table, T0 + SECONDS(TTL) - 1, &error), ==, 0);
    g_assert_cmpuint(lease_expire(f->table, T0 + SECONDS(TTL + 10), &error), ==, 2);
    g_assert_no_error(error);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
    g_assert_null(lease_find(f->table, "0000:3b:02.0"));
    open_table(f);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
    g_assert_cmpstr(lease_find(f->table, "0000:3b:02.2")->job, ==, "job-3");

    /* A lease past its TTL does not hold its VF against a new request. */
    acquire_ok(f, NULL, "pf0", "job-4", "guest-4", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf0", "job-5", "guest-5", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf0", "job-6", "guest-6", "ua-vf0", T0);
    lease = acquire_ok(f, NULL, "pf0", "job-7", "guest-7", "ua-vf0", T0 + SECONDS(TTL + 1));
    g_assert_cmpstr(lease->address, ==, "0000:3b:02.0");
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 2);
    g_assert_nonnull(lease_find(f->table, "0000:3b:02.2"));
}

static void
test_lease_release(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) none = NULL;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf1", T0);
    acquire_ok(f, NULL, "pf0", "job-2", "guest-2", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf1", "job-3", "guest-2", "ua-vf1", T0);
    acquire_ok(f, NULL, "pf1", "job-4", "guest-4", "ua-vf0", T0);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 4);
    g_assert_cmpuint(lease_release_job(f->table, "job-1", &error), ==, 2);
    g_assert_no_error(error);
    g_assert_cmpuint(lease_release_job(f->table, "job-1", &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpuint(lease_release_domain(f->table, "guest-2", &error), ==, 2);
    g_assert_no_error(error);
    g_assert_cmpuint(lease_release_domain(f->table, "guest-9", &error), ==, 0);
    g_assert_no_error(error);
    none = lease_list_job(f->table, "job-1");
    g_assert_cmpuint(none->len, ==, 0);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
    open_table(f);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
    g_assert_cmpstr(lease_find(f->table, "0000:af:02.1")->job, ==, "job-4");
    /* Released VFs are free again, first in order. */
    g_assert_cmpstr(acquire_ok(f, NULL, "pf0", "job-5", "guest-5", "ua-vf0", T0)->address, ==,
                    "0000:3b:02.0");
}

/* Every field comes back from disk as it was, in order. */
static void
test_lease_persist(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) leases = NULL;
    const Lease *lease;

    acquire_ok(f, NULL, "pf1", "job-1", "guest-1", "ua-vf0", T0 + SECONDS(2));
    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf1", T0 + SECONDS(1));
    open_table(f);
    leases = lease_list_job(f->table, "job-1");
    g_assert_cmpuint(leases->len, ==, 2);
    lease = g_ptr_array_index(leases, 0);
    g_assert_cmpstr(lease->address, ==, "0000:3b:02.0");
    g_assert_cmpstr(lease->pool, ==, "pf0");
    g_assert_cmpstr(lease->job, ==, "job-1");
    g_assert_cmpstr(lease->domain, ==, "guest-1");
    g_assert_cmpstr(lease->alias, ==, "ua-vf1");
    g_assert_cmpint(lease->created_us, ==, T0 + SECONDS(1));
    g_assert_cmpint(lease->expires_us, ==, T0 + SECONDS(1 + TTL));
    lease = g_ptr_array_index(leases, 1);
    g_assert_cmpstr(lease->address, ==, "0000:af:02.0");
    g_assert_cmpint(lease->created_us, ==, T0 + SECONDS(2));
}

/* An operator reads the file: indented, members in a fixed order. */
static void
test_lease_file_is_readable(Fixture *f, gconstpointer data)
{
    g_autofree char *text = NULL;
    g_autofree char *files = NULL;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==,
                    "{\n"
                    "  \"version\": 1,\n"
                    "  \"leases\": [\n"
                    "    {\n"
                    "      \"address\": \"0000:3b:02.0\",\n"
                    "      \"pool\": \"pf0\",\n"
                    "      \"job\": \"job-1\",\n"
                    "      \"domain\": \"guest-1\",\n"
                    "      \"alias\": \"ua-vf0\",\n"
                    "      \"created_us\": 1714557600123456,\n"
                    "      \"expires_us\": 1714557720123456\n"
                    "    }\n"
                    "  ]\n"
                    "}\n");
    files = listing(f);
    g_assert_cmpstr(files, ==, "leases.json");
}

/* A crash between writing the temp file and renaming it leaves the old
 * table whole; the next open reads it and deletes the leftover. */
static void
test_lease_crash_before_rename(Fixture *f, gconstpointer data)
{
    g_autofree char *tmp = g_build_filename(f->state_dir,
                                            STORE_TEMP_PREFIX "leases.json-XXXXXX", NULL);
    g_autofree char *other = g_build_filename(f->state_dir, "notes.txt", NULL);
    g_autofree char *files = NULL;
    const char *torn = "{\n  \"version\": 1,\n  \"leases\": [\n    {\n      \"addr";
    int fd;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    fd = g_mkstemp(tmp);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, torn, strlen(torn)), ==, (ssize_t)strlen(torn));
    g_assert_cmpint(close(fd), ==, 0);
    g_assert_true(g_file_set_contents(other, "mine\n", -1, NULL));
    open_table(f);
    g_assert_cmpstr(lease_find(f->table, "0000:3b:02.0")->job, ==, "job-1");
    files = listing(f);
    g_assert_cmpstr(files, ==, "leases.json notes.txt");
}

/* No state directory yet: it is made, and the table starts empty. */
static void
test_lease_open_fresh(Fixture *f, gconstpointer data)
{
    g_autofree char *nested = g_build_filename(f->state_dir, "a", "b", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(LeaseTable) t = lease_table_open(nested, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(lease_count_jobs(t), ==, 0);
    g_assert_true(g_file_test(nested, G_FILE_TEST_IS_DIR));
}

static void
test_lease_open_under_a_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(LeaseTable) t = lease_table_open("/etc/passwd/x", &error);
    g_autofree char *expected = NULL;

    g_assert_null(t);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    expected = g_strdup_printf("cannot create the state directory /etc/passwd/x for the lease "
                               "table: %s; check state_dir in migd.conf", g_strerror(ENOTDIR));
    g_assert_cmpstr(error->message, ==, expected);
}

/* A change that cannot be saved is not made: the table stays as the file
 * says. */
static void
test_lease_unsaved_change_undone(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    acquire_ok(f, NULL, "pf0", "job-2", "guest-2", "ua-vf0", T0 + SECONDS(100));
    /* A directory in the file's place makes every rename fail. */
    g_assert_cmpint(g_unlink(f->path), ==, 0);
    g_assert_cmpint(g_mkdir(f->path, 0700), ==, 0);

    /* job-1's lease has expired, so the new lease would take its VF. */
    g_assert_null(lease_acquire(f->table, f->vfs, NULL, "pf0", "job-3", "guest-3", "ua-vf0",
                                T0 + SECONDS(150), TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_assert_true(g_str_has_prefix(error->message, "cannot write "));
    g_clear_error(&error);
    g_assert_cmpstr(lease_find(f->table, "0000:3b:02.0")->job, ==, "job-1");
    g_assert_null(lease_find(f->table, "0000:3b:02.2"));

    g_assert_false(lease_renew(f->table, "job-2", T0 + SECONDS(160), TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_clear_error(&error);
    g_assert_cmpint(lease_find(f->table, "0000:3b:02.1")->expires_us, ==,
                    T0 + SECONDS(100 + TTL));
    g_assert_false(lease_acquire(f->table, f->vfs, NULL, "pf0", "job-2", "guest-2", "ua-vf0",
                                 T0 + SECONDS(160), TTL, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_clear_error(&error);
    g_assert_cmpint(lease_find(f->table, "0000:3b:02.1")->expires_us, ==,
                    T0 + SECONDS(100 + TTL));

    g_assert_cmpuint(lease_release_job(f->table, "job-2", &error), ==, 0);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_clear_error(&error);
    g_assert_cmpuint(lease_expire(f->table, T0 + SECONDS(150), &error), ==, 0);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 2);
    g_assert_cmpint(g_rmdir(f->path), ==, 0);
}

typedef struct {
    const char *name;
    const char *text;       /* what lies in leases.json */
    const char *why;        /* what the warning must say */
} CorruptCase;

#define LEASE_A "{\"address\": \"0000:3b:02.0\", \"pool\": \"pf0\", \"job\": \"j\", " \
                "\"domain\": \"d\", \"alias\": \"a\", \"created_us\": 1, \"expires_us\": 2}"

static const CorruptCase corrupt_cases[] = {
    { "truncated", "{\"version\": 1, \"leases\": [" LEASE_A, "is not valid JSON" },
    { "empty", "", "is not valid JSON" },
    { "array", "[]\n", "is not a lease table" },
    { "no-leases", "{\"version\": 1}\n", "is not a lease table" },
    { "extra-member", "{\"version\": 1, \"leases\": [], \"x\": 1}\n", "is not a lease table" },
    { "future-version", "{\"version\": 2, \"leases\": []}\n",
      "is version 2 of the lease table, which this migd does not know" },
    { "bad-lease", "{\"version\": 1, \"leases\": [{\"address\": \"0000:3b:02.0\"}]}\n",
      "holds a lease that is not valid" },
    { "string-time", "{\"version\": 1, \"leases\": [{\"address\": \"0000:3b:02.0\", \"pool\": "
      "\"pf0\", \"job\": \"j\", \"domain\": \"d\", \"alias\": \"a\", \"created_us\": \"1\", "
      "\"expires_us\": 2}]}\n", "holds a lease that is not valid" },
    { "twice", "{\"version\": 1, \"leases\": [" LEASE_A ", " LEASE_A "]}\n",
      "leases the VF 0000:3b:02.0 twice" },
};

/* A bad table is set aside whole for a person to read, said once, and migd
 * starts with no leases. */
static void
test_lease_corrupt(Fixture *f, gconstpointer data)
{
    const CorruptCase *c = data;
    g_autofree char *aside = g_strconcat(f->path, ".corrupt", NULL);
    g_autofree char *pattern = g_strdup_printf("%s %s*renamed to %s*", f->path, c->why, aside);
    g_autofree char *kept = NULL;
    g_autofree char *files = NULL;

    g_assert_true(g_file_set_contents(f->path, c->text, -1, NULL));
    open_table(f);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 0);
    g_assert_true(test_log_has(pattern));
    g_assert_cmpuint(test_log_count(), ==, 1);
    test_log_clear();
    g_assert_true(g_file_get_contents(aside, &kept, NULL, NULL));
    g_assert_cmpstr(kept, ==, c->text);
    files = listing(f);
    g_assert_cmpstr(files, ==, "leases.json.corrupt");
    /* The table works, and the next open is quiet. */
    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    open_table(f);
    g_assert_cmpuint(lease_count_jobs(f->table), ==, 1);
}

static void
test_lease_vfs_json(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) in_use = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(json_t) listed = NULL;
    g_autoptr(json_t) expected = NULL;
    g_autofree char *text = NULL;

    g_hash_table_insert(in_use, "0000:3b:02.1", "running-1");
    acquire_ok(f, in_use, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    acquire_ok(f, in_use, "pf1", "job-2", "guest-2", "ua-vf0", T0 + 999);
    listed = lease_vfs_to_json(f->table, f->vfs, in_use);
    text = json_dumps(listed, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    g_test_message("%s", text);
    expected = json_pack(
        "{s:[{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
        "{s:s,s:s,s:i,s:s,s:n,s:s,s:n,s:s,s:n,s:n},"
        "{s:s,s:s,s:i,s:n,s:n,s:s,s:n,s:n,s:n,s:n},"
        "{s:s,s:s,s:i,s:s,s:s,s:s,s:n,s:n,s:n,s:n},"
        "{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
        "{s:s,s:s,s:i,s:s,s:s,s:s,s:n,s:n,s:n,s:n}]}",
        "vfs",
        "pool", "pf0", "address", "0000:3b:02.0", "index", 0, "driver", "iavf", "netdev",
        "ens1f0v0", "state", "leased", "job", "job-1", "domain", "guest-1", "alias", "ua-vf0",
        "expires_at", "2024-05-01T10:02:00.123Z",
        "pool", "pf0", "address", "0000:3b:02.1", "index", 1, "driver", "vfio-pci", "netdev",
        "state", "in-use", "job", "domain", "running-1", "alias", "expires_at",
        "pool", "pf0", "address", "0000:3b:02.2", "index", 2, "driver", "netdev", "state",
        "free", "job", "domain", "alias", "expires_at",
        "pool", "pf0", "address", "0000:3b:02.3", "index", 3, "driver", "iavf", "netdev",
        "ens1f0v3", "state", "free", "job", "domain", "alias", "expires_at",
        "pool", "pf1", "address", "0000:af:02.0", "index", 0, "driver", "iavf", "netdev",
        "ens1f0v0", "state", "leased", "job", "job-2", "domain", "guest-2", "alias", "ua-vf0",
        "expires_at", "2024-05-01T10:02:00.124Z",
        "pool", "pf1", "address", "0000:af:02.1", "index", 1, "driver", "iavf", "netdev",
        "ens1f0v1", "state", "free", "job", "domain", "alias", "expires_at");
    g_assert_nonnull(expected);
    g_assert_true(json_equal(listed, expected));
}

/* A leased VF that a domain now uses (the guest arrived) shows the domain
 * and still the lease that holds it. */
static void
test_lease_vfs_json_leased_and_used(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) in_use = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(json_t) listed = NULL;
    json_t *first;

    acquire_ok(f, NULL, "pf0", "job-1", "guest-1", "ua-vf0", T0);
    g_hash_table_insert(in_use, "0000:3b:02.0", "guest-1");
    listed = lease_vfs_to_json(f->table, f->vfs, in_use);
    first = json_array_get(json_object_get(listed, "vfs"), 0);
    g_assert_cmpstr(json_string_value(json_object_get(first, "state")), ==, "in-use");
    g_assert_cmpstr(json_string_value(json_object_get(first, "domain")), ==, "guest-1");
    g_assert_cmpstr(json_string_value(json_object_get(first, "job")), ==, "job-1");
    json_decref(listed);
    listed = lease_vfs_to_json(f->table, f->vfs, NULL);
    first = json_array_get(json_object_get(listed, "vfs"), 0);
    g_assert_cmpstr(json_string_value(json_object_get(first, "state")), ==, "leased");
}

static void
add(const char *path, gconstpointer data, void (*func)(Fixture *, gconstpointer))
{
    g_test_add(path, Fixture, data, fixture_set_up, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
    add("/lease/acquire/first-free", NULL, test_lease_acquire);
    add("/lease/acquire/never-twice", NULL, test_lease_never_twice);
    add("/lease/acquire/many-jobs", NULL, test_lease_many_jobs);
    add("/lease/acquire/in-use-skipped", NULL, test_lease_in_use_skipped);
    add("/lease/acquire/idempotent", NULL, test_lease_idempotent);
    add("/lease/renew", NULL, test_lease_renew);
    add("/lease/expire", NULL, test_lease_expire);
    add("/lease/release", NULL, test_lease_release);
    add("/lease/unsaved-change-undone", NULL, test_lease_unsaved_change_undone);
    add("/lease/file/persist", NULL, test_lease_persist);
    add("/lease/file/readable", NULL, test_lease_file_is_readable);
    add("/lease/file/crash-before-rename", NULL, test_lease_crash_before_rename);
    add("/lease/file/open-fresh", NULL, test_lease_open_fresh);
    g_test_add_func("/lease/file/open-under-a-file", test_lease_open_under_a_file);
    for (gsize i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
        g_autofree char *path = g_strdup_printf("/lease/file/corrupt/%s", corrupt_cases[i].name);

        add(path, &corrupt_cases[i], test_lease_corrupt);
    }
    add("/lease/vfs-json/states", NULL, test_lease_vfs_json);
    add("/lease/vfs-json/leased-and-used", NULL, test_lease_vfs_json_leased_and_used);
    return g_test_run();
}
