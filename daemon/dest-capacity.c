/* What this host can take in now, for a source choosing where to send a
 * guest: free VFs per pool (neither leased nor held by a running guest, the
 * rule the reservation itself applies), free incoming slots, and the drain
 * that empties this host if one runs (it takes nothing in meanwhile). A read
 * only: the reservation is what guarantees a VF, this only ranks hosts. */
#include <config.h>

#include "dest-priv.h"
#include "jsonutil.h"

static json_t *
capacity_pools(Incoming *in, const GPtrArray *vfs, GHashTable *in_use)
{
    json_t *pools = json_object();

    for (guint i = 0; i < in->conf->pools->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(in->conf->pools, i);

        json_object_set_new(pools, pc->name, json_pack("{s:i,s:i}", "total", 0, "free", 0));
    }
    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);
        json_t *pool = json_object_get(pools, vf->pool);
        gboolean taken = lease_find(in->leases, vf->address) ||
                         (in_use && g_hash_table_contains(in_use, vf->address));

        if (!pool)
            continue;
        json_object_set_new(pool, "total",
                            json_integer(json_integer_value(json_object_get(pool, "total")) + 1));
        if (!taken)
            json_object_set_new(pool, "free",
                                json_integer(json_integer_value(json_object_get(pool, "free")) +
                                             1));
    }
    return pools;
}

static void
capacity_scanned(Incoming *in, GHashTable *in_use, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = pool_set_vfs(in->pools, &error);
    g_autoptr(json_t) result = NULL;
    guint active = g_hash_table_size(in->reservations);
    guint max = in->conf->max_incoming;

    if (vfs)
        result = json_pack("{s:s,s:i,s:i,s:i,s:i,s:o,s:o}", "host", g_get_host_name(),
                           "max_incoming", (int)max, "incoming_active", (int)active,
                           "incoming_queued", (int)g_queue_get_length(&in->waiting),
                           "incoming_free", (int)(active < max ? max - active : 0), "pools",
                           capacity_pools(in, vfs, in_use), "draining",
                           dest_draining(in) ? json_string(dest_draining(in)) : json_null());
    dest_call_finish(data, result, error);
}

void
incoming_capacity(Incoming *in, IncomingAnswer answer, gpointer data)
{
    dest_scan(in, capacity_scanned, dest_call_failed, dest_call_new(answer, data, NULL));
}
