/* lease-rate STATE_DIR VFS SECONDS: how many changes of the lease table
 * (each one saves leases.json whole, flushed, before it returns) migd makes
 * in a second with a pool of VFS VFs, all but one leased: the last one
 * leased and released again (acquire, release), and one job's lease renewed
 * (renew), each for a third of SECONDS. Prints one line:
 * "vfs=N leases=N-1 file_bytes=B acquire_per_s=R release_per_s=R
 * renew_per_s=R". Linked with the daemon's own lease code (libmigd.a);
 * tests/bench/scale runs it. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lease.h"
#include "pool.h"

#define LEASE_RATE_TTL_S 600

static GPtrArray *
lease_rate_vfs(guint n)
{
    GPtrArray *vfs = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);

    for (guint i = 0; i < n; i++) {
        PoolVf *vf = g_new0(PoolVf, 1);

        vf->pool = g_strdup("bench");
        vf->address = g_strdup_printf("0000:%02x:%02x.%x", i / 256, i / 8 % 32, i % 8);
        vf->index = i;
        vf->driver = g_strdup("vfio-pci");
        g_ptr_array_add(vfs, vf);
    }
    return vfs;
}

static void
lease_rate_check(gboolean ok, GError *error)
{
    if (!ok) {
        fprintf(stderr, "lease-rate: %s\n", error ? error->message : "a change found nothing");
        exit(1);
    }
}

static const Lease *
lease_rate_acquire(LeaseTable *t, GPtrArray *vfs, const char *job)
{
    g_autoptr(GError) error = NULL;
    const Lease *lease = lease_acquire(t, vfs, NULL, "bench", job, "guest", "ua-vf0",
                                       g_get_real_time(), LEASE_RATE_TTL_S, &error);

    lease_rate_check(lease != NULL, error);
    return lease;
}

/* Changes per second, over @seconds: two thirds for cycles of acquire and
 * release (each timed on its own), a third for renewals. */
static void
lease_rate_measure(LeaseTable *t, GPtrArray *vfs, double seconds, double *ret_acquire,
                   double *ret_release, double *ret_renew)
{
    gint64 acquire_us = 0, release_us = 0, renew_us = 0, start, end;
    guint cycles = 0, renews = 0;

    end = g_get_monotonic_time() + (gint64)(seconds / 3 * 2 * G_USEC_PER_SEC);
    while ((start = g_get_monotonic_time()) < end) {
        g_autoptr(GError) error = NULL;
        gint64 mid;

        (void)lease_rate_acquire(t, vfs, "cycle");
        mid = g_get_monotonic_time();
        lease_rate_check(lease_release_job(t, "cycle", &error) == 1, error);
        acquire_us += mid - start;
        release_us += g_get_monotonic_time() - mid;
        cycles++;
    }
    end = g_get_monotonic_time() + (gint64)(seconds / 3 * G_USEC_PER_SEC);
    while ((start = g_get_monotonic_time()) < end) {
        g_autoptr(GError) error = NULL;

        lease_rate_check(lease_renew(t, "job-0", g_get_real_time(), LEASE_RATE_TTL_S, &error),
                         error);
        renew_us += g_get_monotonic_time() - start;
        renews++;
    }
    *ret_acquire = cycles * (double)G_USEC_PER_SEC / (double)MAX(acquire_us, 1);
    *ret_release = cycles * (double)G_USEC_PER_SEC / (double)MAX(release_us, 1);
    *ret_renew = renews * (double)G_USEC_PER_SEC / (double)MAX(renew_us, 1);
}

int
main(int argc, char **argv)
{
    g_autoptr(LeaseTable) table = NULL;
    g_autoptr(GPtrArray) vfs = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    double acquire, release, renew, seconds;
    guint64 n = 0;
    struct stat st;

    if (argc != 4 || !g_ascii_string_to_unsigned(argv[2], 10, 2, 100000, &n, NULL) ||
        (seconds = g_ascii_strtod(argv[3], NULL)) <= 0) {
        fprintf(stderr, "usage: lease-rate STATE_DIR VFS SECONDS (VFS at least 2)\n");
        return 2;
    }
    table = lease_table_open(argv[1], &error);
    lease_rate_check(table != NULL, error);
    vfs = lease_rate_vfs((guint)n);
    for (guint i = 0; i + 1 < n; i++) {
        g_autofree char *job = g_strdup_printf("job-%u", i);

        (void)lease_rate_acquire(table, vfs, job);
    }
    lease_rate_measure(table, vfs, seconds, &acquire, &release, &renew);
    path = g_build_filename(argv[1], "leases.json", NULL);
    printf("vfs=%" G_GUINT64_FORMAT " leases=%" G_GUINT64_FORMAT " file_bytes=%lld "
           "acquire_per_s=%.0f release_per_s=%.0f renew_per_s=%.0f\n", n, n - 1,
           stat(path, &st) == 0 ? (long long)st.st_size : -1LL, acquire, release, renew);
    return 0;
}
