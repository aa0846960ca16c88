/* The per-host lease table: which VF of which pool is set aside for which
 * incoming migration, until when. Durable in <state_dir>/leases.json, so a
 * restarted migd never hands out a VF it leased before. */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct {
    char *address;      /* the VF (PoolVf.address) */
    char *pool;
    char *job;          /* the source's job id */
    char *domain;
    char *alias;        /* the guest device it is for */
    gint64 created_us;  /* wall clock */
    gint64 expires_us;
} Lease;

typedef struct _LeaseTable LeaseTable;

/* Loads <state_dir>/leases.json, creating @state_dir (mode 0700) when it is
 * missing; no file is an empty table. A file that does not parse as a lease
 * table is renamed to leases.json.corrupt and a warning logged, and the
 * table starts empty; temp files left by a crash while saving are deleted.
 * Fails (MIGD_ERROR_CONFIG) only when the directory cannot be created or
 * the file cannot be read or set aside. */
LeaseTable *lease_table_open(const char *state_dir, GError **error);

void lease_table_free(LeaseTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LeaseTable, lease_table_free)

/* Every change below is saved (atomically and durably) before the call
 * returns; when saving fails (MIGD_ERROR_INTERNAL) the table is left as it
 * was, and the calls that return a count return 0. */

/* Leases to @job, for the guest device @alias of @domain, one VF of @vfs
 * (PoolVf*) in @pool (NULL: any pool) that is neither leased nor in @in_use
 * (a set of addresses that domains on this host use; NULL: none), the first
 * in @vfs order, until @now_us + @ttl_s. The same @job and @alias asking
 * again get their lease back with its TTL renewed (a different @pool then
 * is MIGD_ERROR_CONFLICT). Expired leases are dropped first. When no VF is
 * free: MIGD_ERROR_NO_FREE_VF, saying how many are leased and in use. The
 * lease is borrowed from the table. */
const Lease *lease_acquire(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use,
                           const char *pool, const char *job, const char *domain,
                           const char *alias, gint64 now_us, guint ttl_s, GError **error);

/* Extends every unexpired lease of @job to @now_us + @ttl_s;
 * MIGD_ERROR_NOT_FOUND when it holds none. */
gboolean lease_renew(LeaseTable *t, const char *job, gint64 now_us, guint ttl_s,
                     GError **error);

/* Drops the leases of @job, of @domain, or those expired at @now_us; how
 * many were dropped. */
guint lease_release_job(LeaseTable *t, const char *job, GError **error);
guint lease_release_domain(LeaseTable *t, const char *domain, GError **error);
guint lease_expire(LeaseTable *t, gint64 now_us, GError **error);

/* @job's leases (borrowed Lease*), oldest first; an empty array when none. */
GPtrArray *lease_list_job(LeaseTable *t, const char *job);

/* How many distinct jobs hold leases. */
guint lease_count_jobs(LeaseTable *t);

/* The distinct jobs that hold leases (owned strings), oldest lease first. */
GPtrArray *lease_list_jobs(LeaseTable *t);

/* The lease on the VF @address, or NULL. */
const Lease *lease_find(LeaseTable *t, const char *address);

/* The body of GET /v1/vfs: {"vfs":[{"pool","address","index","driver",
 * "netdev","state","job","domain","alias","expires_at"}]}, one per VF of
 * @vfs in order; state is "in-use" when @in_use (address -> domain name;
 * NULL: none) has it, else "leased" or "free"; absent values are null and
 * expires_at is ISO 8601 UTC with milliseconds. A new reference. */
json_t *lease_vfs_to_json(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use);
