/* The destination's reservations: what the source's migd holds here for
 * one job (an incoming slot and a lease per passthrough NIC), the incoming
 * limit and its queue, and their expiry. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "jsonutil.h"
#include "log.h"

/* How long a job that was told to wait keeps its place in the queue
 * without asking again. */
#define INCOMING_QUEUE_GRACE_US (15 * G_USEC_PER_SEC)
#define INCOMING_EXPIRE_INTERVAL_S 5

static const char *const res_state_names[] = { "reserved", "armed", "replugging", "done" };

static void
res_nic_free(gpointer data)
{
    ResNic *n = data;

    g_free(n->alias);
    g_free(n->mac);
    g_free(n->pool);
    g_free(n->address);
    g_free(n->driver);
    g_free(n->device_xml);
    g_free(n);
}

void
dest_res_free(gpointer data)
{
    Reservation *r = data;
    g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                                          "the reservation %s was released before its replug "
                                          "finished", r->id);

    dest_res_disarm(r);
    dest_res_answer_all(r, error);
    g_ptr_array_unref(r->answers);
    g_clear_object(&r->cancellable);
    g_ptr_array_unref(r->nics);
    if (r->detail)
        g_string_free(r->detail, TRUE);
    g_free(r->id);
    g_free(r->domain);
    g_free(r->source);
    g_free(r->strategy);
    g_free(r->detail_verify);
    g_free(r);
}

static void
waiter_free(gpointer data)
{
    Waiter *w = data;

    g_free(w->id);
    g_free(w);
}

json_t *
dest_res_to_json(const Reservation *r)
{
    json_t *nics = json_array();
    json_t *replug = json_null();

    for (guint i = 0; i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);

        json_array_append_new(nics, json_pack("{s:s,s:o,s:o,s:s,s:s,s:s}", "alias", n->alias,
                                              "mac", json_string_or_null(n->mac), "vlan",
                                              n->vlan ? json_integer(n->vlan) : json_null(),
                                              "pool", n->pool, "address", n->address,
                                              "device_xml", n->device_xml));
    }
    if (r->state == RES_DONE)
        replug = json_pack("{s:b,s:I,s:I,s:o,s:i,s:s}", "ok", r->ok, "replug_ms",
                           (json_int_t)r->replug_ms, "verify_ms", (json_int_t)r->verify_ms,
                           "guest_outage_ms",
                           r->guest_outage_ms >= 0 ? json_integer(r->guest_outage_ms)
                                                   : json_null(),
                           "attempts", (int)r->attempt, "detail",
                           r->detail ? r->detail->str : "");
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", r->id, "domain", r->domain,
                     "source", r->source, "strategy", r->strategy, "state",
                     res_state_names[r->state], "expires_at", json_time_ms(r->expires_us),
                     "nics", nics, "replug", replug);
}

/* --- reserving ------------------------------------------------------------ */

static Waiter *
incoming_find_waiter(Incoming *in, const char *id)
{
    for (GList *l = in->waiting.head; l; l = l->next) {
        Waiter *w = l->data;

        if (strcmp(w->id, id) == 0)
            return w;
    }
    return NULL;
}

/* Whether @id may take an incoming slot now; if not, it keeps (or takes)
 * its place in the queue and @ret_position says where. */
static gboolean
incoming_take_slot(Incoming *in, const char *id, guint *ret_position)
{
    gint64 now = g_get_monotonic_time();
    guint active = g_hash_table_size(in->reservations);
    Waiter *w;
    guint position = 0;

    /* Jobs that stopped asking lose their place. */
    for (GList *l = in->waiting.head; l;) {
        GList *next = l->next;

        w = l->data;
        if (now - w->asked_us > INCOMING_QUEUE_GRACE_US) {
            g_queue_delete_link(&in->waiting, l);
            waiter_free(w);
        }
        l = next;
    }
    w = incoming_find_waiter(in, id);
    if (!w) {
        w = g_new0(Waiter, 1);
        w->id = g_strdup(id);
        g_queue_push_tail(&in->waiting, w);
    }
    w->asked_us = now;
    position = (guint)g_queue_index(&in->waiting, w);
    if (active + position < in->conf->max_incoming) {
        g_queue_remove(&in->waiting, w);
        waiter_free(w);
        return TRUE;
    }
    *ret_position = position + 1;
    return FALSE;
}

static gboolean
incoming_lease_nics(Incoming *in, Reservation *r, json_t *nics, GHashTable *in_use,
                    GError **error)
{
    g_autoptr(GPtrArray) vfs = NULL;
    gint64 now = g_get_real_time();
    size_t i;
    json_t *item;

    if (json_array_size(nics) == 0)
        return TRUE;
    vfs = pool_set_vfs(in->pools, error);
    if (!vfs)
        return FALSE;
    json_array_foreach(nics, i, item) {
        const char *alias = NULL, *mac = NULL, *pool = NULL;
        int vlan = 0;
        const Lease *lease;
        ResNic *n;
        json_error_t jerr;

        if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s?i}", "alias", &alias, "mac",
                           &mac, "pool", &pool, "vlan", &vlan) < 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "nics[%zu] of the reservation is not valid: %s", i, jerr.text);
            return FALSE;
        }
        if (!conf_find_pool(in->conf, pool)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF,
                        "this host has no pool '%s' for %s's NIC %s; configure [pool.%s] here "
                        "or migrate to a host that has it", pool, r->domain, alias, pool);
            return FALSE;
        }
        lease = lease_acquire(in->leases, vfs, in_use, pool, r->id, r->domain, alias, now,
                              in->conf->nic_lease_ttl_s, error);
        if (!lease)
            return FALSE;
        n = g_new0(ResNic, 1);
        n->alias = g_strdup(alias);
        n->mac = g_strdup(mac);
        n->vlan = (guint)vlan;
        n->pool = g_strdup(pool);
        n->address = g_strdup(lease->address);
        for (guint v = 0; v < vfs->len; v++) {
            const PoolVf *vf = g_ptr_array_index(vfs, v);

            if (strcmp(vf->address, lease->address) == 0) {
                n->device_xml = pool_device_xml(in->pools, vf, alias, mac, n->vlan);
                n->driver = g_strdup(conf_find_pool(in->conf, pool)->type == POOL_EMULATED
                                         ? vf->driver : NULL);
            }
        }
        g_ptr_array_add(r->nics, n);
    }
    return TRUE;
}

/* The request's members; FALSE with @error when it is not valid. */
static gboolean
incoming_parse_reservation(json_t *request, const char **ret_id, const char **ret_domain,
                           const char **ret_source, const char **ret_strategy, json_t **ret_nics,
                           GError **error)
{
    json_error_t jerr;

    *ret_nics = NULL;
    if (json_unpack_ex(request, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s:s,s:o}", "job", ret_id,
                       "domain", ret_domain, "source", ret_source, "strategy", ret_strategy,
                       "nics", ret_nics) < 0 || !json_is_array(*ret_nics)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the reservation request is not valid: %s",
                    json_is_array(*ret_nics) ? jerr.text : "'nics' must be an array");
        return FALSE;
    }
    if (!g_strv_contains((const char *const[]){ "unplug", "native", "none", NULL },
                         *ret_strategy)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "strategy '%s' is not one of unplug, native, none", *ret_strategy);
        return FALSE;
    }
    return TRUE;
}

static json_t *
incoming_reserve_now(Incoming *in, json_t *request, GHashTable *in_use, GError **error)
{
    const char *id = NULL, *domain = NULL, *source = NULL, *strategy = NULL;
    json_t *nics = NULL;
    Reservation *r;
    guint position = 0;
    g_autoptr(GError) local = NULL;

    if (!incoming_parse_reservation(request, &id, &domain, &source, &strategy, &nics, error))
        return NULL;
    r = g_hash_table_lookup(in->reservations, id);
    if (r) {
        /* The source asked again (its answer was lost): same answer. */
        return dest_res_to_json(r);
    }
    if (!incoming_take_slot(in, id, &position)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_BUSY,
                    "this host takes at most %u incoming migrations at once (max_incoming) and "
                    "has %u; job %s is number %u in the queue", in->conf->max_incoming,
                    g_hash_table_size(in->reservations), id, position);
        return NULL;
    }
    r = g_new0(Reservation, 1);
    r->in = in;
    r->id = g_strdup(id);
    r->domain = g_strdup(domain);
    r->source = g_strdup(source);
    r->strategy = g_strdup(strategy);
    r->nics = g_ptr_array_new_with_free_func(res_nic_free);
    r->answers = g_ptr_array_new();
    r->lifecycle_cb = -1;
    r->guest_outage_ms = -1;
    r->cancellable = g_cancellable_new();
    r->expires_us = g_get_real_time() + (gint64)in->conf->nic_lease_ttl_s * G_USEC_PER_SEC;
    if (!incoming_lease_nics(in, r, nics, in_use, &local)) {
        (void)lease_release_job(in->leases, id, NULL);
        dest_res_free(r);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    g_hash_table_insert(in->reservations, r->id, r);
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", id, "MIGD_DOMAIN", domain),
                   "Reserved an incoming slot%s for %s from %s (job %s)",
                   r->nics->len ? " and VFs" : "", domain, source, id);
    return dest_res_to_json(r);
}

static void
incoming_reserve_scanned(Incoming *in, GHashTable *in_use, gpointer data)
{
    DestCall *call = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = incoming_reserve_now(in, call->request, in_use, &error);

    dest_call_finish(call, result, error);
}

void
incoming_reserve(Incoming *in, json_t *request, IncomingAnswer answer, gpointer data)
{
    const char *id, *domain, *source, *strategy;
    json_t *nics;
    g_autoptr(GError) error = NULL;

    /* A bad request is refused at once, without a look at libvirt. */
    if (!incoming_parse_reservation(request, &id, &domain, &source, &strategy, &nics, &error)) {
        answer(NULL, error, data);
        return;
    }
    dest_scan(in, incoming_reserve_scanned, dest_call_failed,
                  dest_call_new(answer, data, request));
}

Reservation *
dest_lookup(Incoming *in, const char *id, GError **error)
{
    Reservation *r = g_hash_table_lookup(in->reservations, id);

    if (!r)
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                    "there is no reservation %s on this host (released, expired, or this migd "
                    "restarted)", id);
    return r;
}

gboolean
incoming_renew(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);
    gint64 now = g_get_real_time();

    if (!r)
        return FALSE;
    r->expires_us = now + (gint64)in->conf->nic_lease_ttl_s * G_USEC_PER_SEC;
    return r->nics->len == 0 || lease_renew(in->leases, id, now, in->conf->nic_lease_ttl_s, error);
}

gboolean
incoming_release(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    if (!r)
        return FALSE;
    (void)lease_release_job(in->leases, id, NULL);
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", id, "MIGD_DOMAIN", r->domain),
                   "Released the reservation of job %s (%s)", id, r->domain);
    g_hash_table_remove(in->reservations, id);
    return TRUE;
}

json_t *
incoming_list(Incoming *in)
{
    json_t *list = json_array();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value))
        json_array_append_new(list, dest_res_to_json(value));
    return json_pack("{s:o}", "reservations", list);
}

Reservation *
dest_find_domain(Incoming *in, const char *domain)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        if (strcmp(r->domain, domain) == 0)
            return r;
    }
    return NULL;
}

/* --- life ------------------------------------------------------------------ */

static gboolean
incoming_expire(gpointer data)
{
    Incoming *in = data;
    gint64 now = g_get_real_time();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        if (r->expires_us < now && r->state != RES_REPLUGGING) {
            log_structured(G_LOG_LEVEL_WARNING,
                           LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                           "The reservation of job %s (%s from %s) expired: its source stopped "
                           "renewing it", r->id, r->domain, r->source);
            (void)lease_release_job(in->leases, r->id, NULL);
            g_hash_table_iter_remove(&it);
        }
    }
    (void)lease_expire(in->leases, now, NULL);
    return G_SOURCE_CONTINUE;
}

Incoming *
incoming_new(Virt *virt, const MigdConf *conf, GError **error)
{
    g_autoptr(Incoming) in = g_new0(Incoming, 1);

    in->virt = virt;
    in->conf = conf;
    in->cancellable = g_cancellable_new();
    in->reservations = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dest_res_free);
    g_queue_init(&in->waiting);
    in->pools = pool_set_new(conf->pools);
    in->leases = lease_table_open(conf->state_dir, error);
    if (!in->leases)
        return NULL;
    in->expire_source = g_timeout_add_seconds(INCOMING_EXPIRE_INTERVAL_S, incoming_expire, in);
    return g_steal_pointer(&in);
}

void
incoming_set_conf(Incoming *in, const MigdConf *conf)
{
    in->conf = conf;
    pool_set_free(in->pools);
    in->pools = pool_set_new(conf->pools);
}

void
incoming_free(Incoming *in)
{
    if (!in)
        return;
    g_clear_handle_id(&in->expire_source, g_source_remove);
    g_cancellable_cancel(in->cancellable);
    g_clear_object(&in->cancellable);
    if (in->reservations)
        g_hash_table_unref(in->reservations);
    g_queue_clear_full(&in->waiting, waiter_free);
    pool_set_free(in->pools);
    lease_table_free(in->leases);
    g_free(in);
}
