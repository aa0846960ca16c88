/* Leases of VFs to incoming migrations, kept in memory and saved whole to
 * <state_dir>/leases.json after every change, before the change is
 * reported; a change that cannot be saved is undone. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "error.h"
#include "jsonutil.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "state-file.h"
#include "store.h"

#define LEASE_FILE "leases.json"
#define LEASE_FILE_VERSION 1

struct _LeaseTable {
    char *dir;
    char *path;
    GPtrArray *leases;      /* Lease*, oldest first */
};

static void
lease_free(gpointer data)
{
    Lease *lease = data;

    g_free(lease->address);
    g_free(lease->pool);
    g_free(lease->job);
    g_free(lease->domain);
    g_free(lease->alias);
    g_free(lease);
}

static int
lease_compare_age(gconstpointer a, gconstpointer b)
{
    const Lease *la = *(const Lease *const *)a;
    const Lease *lb = *(const Lease *const *)b;

    if (la->created_us != lb->created_us)
        return la->created_us < lb->created_us ? -1 : 1;
    return strcmp(la->address, lb->address);
}

static Lease *
lease_find_in(GPtrArray *leases, const char *address)
{
    for (guint i = 0; i < leases->len; i++) {
        Lease *lease = g_ptr_array_index(leases, i);

        if (g_str_equal(lease->address, address))
            return lease;
    }
    return NULL;
}

void
lease_table_free(LeaseTable *t)
{
    if (!t)
        return;
    g_free(t->dir);
    g_free(t->path);
    g_ptr_array_unref(t->leases);
    g_free(t);
}

/* --- the file ------------------------------------------------------------- */

static json_t *
lease_to_record(const Lease *lease)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "address", lease->address, "pool",
                     lease->pool, "job", lease->job, "domain", lease->domain, "alias",
                     lease->alias, "created_us", (json_int_t)lease->created_us, "expires_us",
                     (json_int_t)lease->expires_us);
}

static gboolean
lease_table_save(LeaseTable *t, GError **error)
{
    g_autoptr(json_t) doc = NULL;
    json_t *records = json_array();

    for (guint i = 0; i < t->leases->len; i++)
        json_array_append_new(records, lease_to_record(g_ptr_array_index(t->leases, i)));
    doc = json_pack("{s:i,s:o}", "version", LEASE_FILE_VERSION, "leases", records);
    return store_write_json(t->path, doc, error);
}

/* The lease in @record, or NULL with why it is none in @ret_why. */
static Lease *
lease_from_record(json_t *record, char **ret_why)
{
    const char *address, *pool, *job, *domain, *alias;
    json_int_t created, expires;
    json_error_t jerr;
    Lease *lease;

    if (json_unpack_ex(record, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "address",
                       &address, "pool", &pool, "job", &job, "domain", &domain, "alias", &alias,
                       "created_us", &created, "expires_us", &expires) < 0) {
        *ret_why = g_strdup_printf("holds a lease that is not valid (%s)", jerr.text);
        return NULL;
    }
    lease = g_new0(Lease, 1);
    lease->address = g_strdup(address);
    lease->pool = g_strdup(pool);
    lease->job = g_strdup(job);
    lease->domain = g_strdup(domain);
    lease->alias = g_strdup(alias);
    lease->created_us = created;
    lease->expires_us = expires;
    return lease;
}

/* Why @text is not a lease table, or NULL with its leases in @leases. */
static char *
lease_parse(const char *text, gsize len, GPtrArray *leases)
{
    g_autoptr(json_t) doc = NULL;
    json_t *records = NULL, *record;
    json_error_t jerr;
    int version = 0;
    size_t i;
    char *why = NULL;

    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return g_strdup_printf("is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    if (json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:i,s:o}", "version", &version, "leases",
                       &records) < 0 || !json_is_array(records))
        return g_strdup_printf("is not a lease table {\"version\": %d, \"leases\": [...]}",
                               LEASE_FILE_VERSION);
    if (version != LEASE_FILE_VERSION)
        return g_strdup_printf("is version %d of the lease table, which this migd does not "
                               "know", version);
    json_array_foreach(records, i, record) {
        Lease *lease = lease_from_record(record, &why);

        if (lease && lease_find_in(leases, lease->address)) {
            why = g_strdup_printf("leases the VF %s twice", lease->address);
            g_clear_pointer(&lease, lease_free);
        }
        if (!lease)
            return why;
        g_ptr_array_add(leases, lease);
    }
    g_ptr_array_sort(leases, lease_compare_age);
    return NULL;
}

static gboolean
lease_table_load(LeaseTable *t, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    gsize len;

    state_file_delete_temps(t->dir, LEASE_FILE);
    if (!g_file_get_contents(t->path, &text, &len, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot read the lease table: %s",
                    local->message);
        return FALSE;
    }
    why = lease_parse(text, len, t->leases);
    if (!why)
        return TRUE;
    g_ptr_array_set_size(t->leases, 0);
    return state_file_set_aside(t->path, why,
                                "migd starts with no leases, so a VF leased before may be leased "
                                "again: read the file and check the incoming migrations it names",
                                error);
}

LeaseTable *
lease_table_open(const char *state_dir, GError **error)
{
    g_autoptr(LeaseTable) t = g_new0(LeaseTable, 1);
    int err;

    t->dir = g_strdup(state_dir);
    t->path = g_build_filename(state_dir, LEASE_FILE, NULL);
    t->leases = g_ptr_array_new_with_free_func(lease_free);
    if (g_mkdir_with_parents(state_dir, 0700) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "cannot create the state directory %s for the lease table: %s; check "
                    "state_dir in migd.conf", state_dir, g_strerror(err));
        return NULL;
    }
    if (!lease_table_load(t, error))
        return NULL;
    return g_steal_pointer(&t);
}

/* --- changes -------------------------------------------------------------- */

typedef gboolean (*LeaseMatch)(const Lease *lease, gconstpointer data);

static gboolean
lease_is_expired(const Lease *lease, gconstpointer data)
{
    return lease->expires_us <= *(const gint64 *)data;
}

static gboolean
lease_of_job(const Lease *lease, gconstpointer data)
{
    return g_str_equal(lease->job, data);
}

static gboolean
lease_of_domain(const Lease *lease, gconstpointer data)
{
    return g_str_equal(lease->domain, data);
}

/* Moves the leases that @match out of the table, into an array that owns
 * them; lease_put_back() undoes it. */
static GPtrArray *
lease_take(LeaseTable *t, LeaseMatch match, gconstpointer data)
{
    GPtrArray *taken = g_ptr_array_new_with_free_func(lease_free);

    for (guint i = 0; i < t->leases->len;) {
        Lease *lease = g_ptr_array_index(t->leases, i);

        if (match(lease, data))
            g_ptr_array_add(taken, g_ptr_array_steal_index(t->leases, i));
        else
            i++;
    }
    return taken;
}

static void
lease_put_back(LeaseTable *t, GPtrArray *taken)
{
    while (taken->len > 0)
        g_ptr_array_add(t->leases, g_ptr_array_steal_index(taken, taken->len - 1));
    g_ptr_array_sort(t->leases, lease_compare_age);
}

/* Drops the leases that @match for good, once the table without them is
 * saved; how many, or 0 with @error and the table unchanged. */
static guint
lease_drop(LeaseTable *t, LeaseMatch match, gconstpointer data, GError **error)
{
    g_autoptr(GPtrArray) taken = lease_take(t, match, data);

    if (taken->len == 0)
        return 0;
    if (!lease_table_save(t, error)) {
        lease_put_back(t, taken);
        return 0;
    }
    return taken->len;
}

guint
lease_release_job(LeaseTable *t, const char *job, GError **error)
{
    return lease_drop(t, lease_of_job, job, error);
}

guint
lease_release_domain(LeaseTable *t, const char *domain, GError **error)
{
    return lease_drop(t, lease_of_domain, domain, error);
}

guint
lease_expire(LeaseTable *t, gint64 now_us, GError **error)
{
    return lease_drop(t, lease_is_expired, &now_us, error);
}

const Lease *
lease_find(LeaseTable *t, const char *address)
{
    return lease_find_in(t->leases, address);
}

static Lease *
lease_find_alias(LeaseTable *t, const char *job, const char *alias)
{
    for (guint i = 0; i < t->leases->len; i++) {
        Lease *lease = g_ptr_array_index(t->leases, i);

        if (g_str_equal(lease->job, job) && g_str_equal(lease->alias, alias))
            return lease;
    }
    return NULL;
}

gboolean
lease_renew(LeaseTable *t, const char *job, gint64 now_us, guint ttl_s, GError **error)
{
    g_autoptr(GArray) before = g_array_new(FALSE, FALSE, sizeof(gint64));
    gint64 expires = now_us + (gint64)ttl_s * G_USEC_PER_SEC;
    guint renewed = 0;

    for (guint i = 0; i < t->leases->len; i++) {
        Lease *lease = g_ptr_array_index(t->leases, i);

        g_array_append_val(before, lease->expires_us);
        if (g_str_equal(lease->job, job) && !lease_is_expired(lease, &now_us)) {
            lease->expires_us = expires;
            renewed++;
        }
    }
    if (renewed == 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                    "job %s holds no lease on this host: it was released or it expired", job);
        return FALSE;
    }
    if (lease_table_save(t, error))
        return TRUE;
    for (guint i = 0; i < t->leases->len; i++)
        ((Lease *)g_ptr_array_index(t->leases, i))->expires_us = g_array_index(before, gint64, i);
    return FALSE;
}

/* The first VF of @pool (NULL: any) that is neither leased nor in use; when
 * there is none, @error says how many are which. */
static const PoolVf *
lease_pick(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use, const char *pool,
           GError **error)
{
    g_autofree char *where = NULL;
    guint leased = 0, used = 0;

    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);

        if (pool && g_strcmp0(vf->pool, pool) != 0)
            continue;
        if (lease_find(t, vf->address))
            leased++;
        else if (in_use && g_hash_table_contains(in_use, vf->address))
            used++;
        else
            return vf;
    }
    where = pool ? g_strdup_printf("in pool '%s'", pool) : g_strdup("in any pool");
    if (leased + used == 0)
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF,
                    "no free VF %s: this host has no VF there", where);
    else
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF,
                    "no free VF %s: %u leased, %u in use", where, leased, used);
    return NULL;
}

/* The lease @job already holds for @alias, its TTL renewed, or NULL. */
static const Lease *
lease_acquire_again(LeaseTable *t, Lease *lease, const char *pool, gint64 expires,
                    GError **error)
{
    gint64 before = lease->expires_us;

    if (pool && !g_str_equal(lease->pool, pool)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "job %s already holds the VF %s of pool '%s' for %s; release it before "
                    "asking for one of pool '%s'", lease->job, lease->address, lease->pool,
                    lease->alias, pool);
        return NULL;
    }
    lease->expires_us = expires;
    if (lease_table_save(t, error))
        return lease;
    lease->expires_us = before;
    return NULL;
}

static const Lease *
lease_acquire_new(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use, const char *pool,
                  const char *job, const char *domain, const char *alias, gint64 now_us,
                  gint64 expires, GError **error)
{
    const PoolVf *vf = lease_pick(t, vfs, in_use, pool, error);
    Lease *lease;

    if (!vf)
        return NULL;
    lease = g_new0(Lease, 1);
    lease->address = g_strdup(vf->address);
    lease->pool = g_strdup(vf->pool);
    lease->job = g_strdup(job);
    lease->domain = g_strdup(domain);
    lease->alias = g_strdup(alias);
    lease->created_us = now_us;
    lease->expires_us = expires;
    g_ptr_array_add(t->leases, lease);
    g_ptr_array_sort(t->leases, lease_compare_age);
    if (lease_table_save(t, error))
        return lease;
    g_ptr_array_remove(t->leases, lease);
    return NULL;
}

const Lease *
lease_acquire(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use, const char *pool,
              const char *job, const char *domain, const char *alias, gint64 now_us,
              guint ttl_s, GError **error)
{
    g_autoptr(GPtrArray) expired = lease_take(t, lease_is_expired, &now_us);
    gint64 expires = now_us + (gint64)ttl_s * G_USEC_PER_SEC;
    Lease *held = lease_find_alias(t, job, alias);
    const Lease *lease;

    if (held)
        lease = lease_acquire_again(t, held, pool, expires, error);
    else
        lease = lease_acquire_new(t, vfs, in_use, pool, job, domain, alias, now_us, expires,
                                  error);
    if (!lease)
        lease_put_back(t, expired);
    return lease;
}

/* --- reading -------------------------------------------------------------- */

GPtrArray *
lease_list_job(LeaseTable *t, const char *job)
{
    GPtrArray *leases = g_ptr_array_new();

    for (guint i = 0; i < t->leases->len; i++) {
        Lease *lease = g_ptr_array_index(t->leases, i);

        if (g_str_equal(lease->job, job))
            g_ptr_array_add(leases, lease);
    }
    return leases;
}

GPtrArray *
lease_list_jobs(LeaseTable *t)
{
    GPtrArray *jobs = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < t->leases->len; i++) {
        const char *job = ((Lease *)g_ptr_array_index(t->leases, i))->job;

        if (!g_ptr_array_find_with_equal_func(jobs, job, g_str_equal, NULL))
            g_ptr_array_add(jobs, g_strdup(job));
    }
    return jobs;
}

guint
lease_count_jobs(LeaseTable *t)
{
    g_autoptr(GPtrArray) jobs = lease_list_jobs(t);

    return jobs->len;
}

static json_t *
lease_vf_to_json(const PoolVf *vf, const Lease *lease, const char *user)
{
    const char *state = user ? "in-use" : lease ? "leased" : "free";
    json_t *item;

    item = json_pack("{s:s,s:s,s:I,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "pool", vf->pool, "address",
                     vf->address, "index", (json_int_t)vf->index, "driver",
                     json_string_or_null(vf->driver), "netdev", json_string_or_null(vf->netdev),
                     "state", state, "job", json_string_or_null(lease ? lease->job : NULL),
                     "domain", json_string_or_null(user ? user : lease ? lease->domain : NULL),
                     "alias", json_string_or_null(lease ? lease->alias : NULL), "expires_at",
                     lease ? json_time_ms(lease->expires_us) : json_null());
    /* Only a vDPA device has one; the other kinds' entries stay as they were. */
    if (vf->chardev)
        json_object_set_new(item, "chardev", json_string(vf->chardev));
    return item;
}

json_t *
lease_vfs_to_json(LeaseTable *t, const GPtrArray *vfs, GHashTable *in_use)
{
    json_t *list = json_array();

    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);
        const char *user = in_use ? g_hash_table_lookup(in_use, vf->address) : NULL;

        json_array_append_new(list, lease_vf_to_json(vf, lease_find(t, vf->address), user));
    }
    return json_pack("{s:o}", "vfs", list);
}
