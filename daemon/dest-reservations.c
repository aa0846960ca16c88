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
/* How often a prepared reservation whose guest has not arrived asks its
 * source whether the job still runs. */
#define DEST_ORPHAN_CHECK_US (30 * G_USEC_PER_SEC)

static void
waiter_free(gpointer data)
{
    Waiter *w = data;

    g_free(w->id);
    g_free(w);
}

/* The reservation's older "state" name, which sources before per-NIC
 * strategies read. */
static const char *
res_state_name(ReplugState state)
{
    switch (state) {
    case REPLUG_IDLE:
        return "reserved";
    case REPLUG_ARMED:
        return "armed";
    case REPLUG_PLUGGING:
    case REPLUG_VERIFYING:
        return "replugging";
    default:
        return "done";
    }
}

static json_t *
res_replug_to_json(const Reservation *r)
{
    return json_pack("{s:s,s:b,s:I,s:I,s:o,s:i,s:s,s:o,s:o}", "state",
                     dest_replug_state_to_string(r->state), "ok", r->ok, "replug_ms",
                     (json_int_t)r->replug_ms, "verify_ms", (json_int_t)r->verify_ms,
                     "guest_outage_ms",
                     r->guest_outage_ms >= 0 ? json_integer(r->guest_outage_ms) : json_null(),
                     "attempts", (int)r->attempts, "detail", r->detail ? r->detail->str : "",
                     "plugged_at", json_time_ms(r->plugged_us), "verified_at",
                     json_time_ms(r->verified_us));
}

json_t *
dest_res_to_json(const Reservation *r)
{
    json_t *nics = json_array();

    for (guint i = 0; i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);

        json_array_append_new(nics, json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:o,s:o}",
                                              "alias", n->alias, "mac",
                                              json_string_or_null(n->mac), "vlan",
                                              n->vlan ? json_integer(n->vlan) : json_null(),
                                              "pool", n->pool, "address", n->address,
                                              "device_xml", n->device_xml, "strategy",
                                              nic_strategy_to_string(n->strategy), "chosen",
                                              json_string_or_null(n->chosen), "states",
                                              dest_state_to_json(n)));
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o}", "id", r->id, "domain", r->domain,
                     "source", r->source, "source_url", json_string_or_null(r->source_url),
                     "strategy", nic_strategy_to_string(r->strategy), "state",
                     res_state_name(r->state), "expires_at", json_time_ms(r->expires_us),
                     "nics", nics, "replug", res_replug_to_json(r));
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

/* One NIC of the request, its strategy (its own, else the job's @strategy)
 * in @ret_strategy; FALSE with @error when it is not valid. */
static gboolean
res_parse_nic(json_t *item, size_t i, NicStrategy strategy, const char **ret_alias,
              const char **ret_mac, const char **ret_pool, int *ret_vlan,
              NicStrategy *ret_strategy, GError **error)
{
    const char *name = NULL;
    json_error_t jerr;
    int s;

    if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s?i,s?s}", "alias", ret_alias,
                       "mac", ret_mac, "pool", ret_pool, "vlan", ret_vlan, "strategy",
                       &name) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "nics[%zu] of the reservation is not valid: %s", i, jerr.text);
        return FALSE;
    }
    if (*ret_vlan < 0 || *ret_vlan > 4095) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "nics[%zu].vlan %d is not a VLAN id (0 for none, or 1-4095)", i, *ret_vlan);
        return FALSE;
    }
    s = name ? nic_strategy_from_string(name) : (int)strategy;
    if (name && s != NIC_STRATEGY_UNPLUG && !nic_strategy_stays(s)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "nics[%zu].strategy '%s' is not one of unplug, native, pause", i, name);
        return FALSE;
    }
    if (s == NIC_STRATEGY_MIXED) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "nics[%zu] (%s) has no strategy, which a mixed job must give each NIC "
                    "(unplug, native or pause)", i, *ret_alias);
        return FALSE;
    }
    *ret_strategy = s;
    return TRUE;
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
        NicStrategy strategy;
        const Lease *lease;
        ResNic *n;

        if (!res_parse_nic(item, i, r->strategy, &alias, &mac, &pool, &vlan, &strategy, error))
            return FALSE;
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
        dest_state_clear(n);
        n->alias = g_strdup(alias);
        n->mac = g_strdup(mac);
        n->vlan = (guint)vlan;
        n->pool = g_strdup(pool);
        n->address = g_strdup(lease->address);
        n->strategy = strategy;
        for (guint v = 0; v < vfs->len; v++) {
            const PoolVf *vf = g_ptr_array_index(vfs, v);

            if (strcmp(vf->address, lease->address) == 0) {
                n->device_xml = pool_device_xml(in->pools, vf, alias, mac, n->vlan);
                n->driver = g_strdup(conf_find_pool(in->conf, pool)->type == POOL_EMULATED
                                         ? vf->driver : NULL);
            }
        }
        if (!n->device_xml) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                        "cannot write the device XML of the VF %s for %s's NIC %s",
                        lease->address, r->domain, alias);
            g_free(n->alias);
            g_free(n->mac);
            g_free(n->pool);
            g_free(n->address);
            g_free(n->driver);
            g_free(n);
            return FALSE;
        }
        g_ptr_array_add(r->nics, n);
    }
    return TRUE;
}

typedef struct {
    const char *id, *domain, *source, *source_url;
    NicStrategy strategy;
    json_t *nics;
} ResRequest;

/* The request's members; FALSE with @error when it is not valid. */
static gboolean
incoming_parse_reservation(json_t *request, ResRequest *ret, GError **error)
{
    const char *strategy = NULL;
    json_error_t jerr;
    int s;

    ret->nics = NULL;
    ret->source_url = NULL;
    if (json_unpack_ex(request, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s?s,s:s,s:o}", "job", &ret->id,
                       "domain", &ret->domain, "source", &ret->source, "source_url",
                       &ret->source_url, "strategy", &strategy, "nics", &ret->nics) < 0 ||
        !json_is_array(ret->nics)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the reservation request is not valid: %s",
                    json_is_array(ret->nics) ? jerr.text : "'nics' must be an array");
        return FALSE;
    }
    s = nic_strategy_from_string(strategy);
    if (s < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "strategy '%s' is not one of unplug, native, pause, mixed, none", strategy);
        return FALSE;
    }
    ret->strategy = s;
    return TRUE;
}

/* A new reservation for a domain replaces what an earlier job from the same
 * source left here (its job failed, and its armed replug must not plug a VF
 * into the guest this job brings). FALSE, with @error, when that earlier
 * job's guest is here being replugged. */
static gboolean
incoming_supersede(Incoming *in, const ResRequest *req, GError **error)
{
    g_autoptr(GPtrArray) old = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        if (strcmp(r->domain, req->domain) != 0 || strcmp(r->source, req->source) != 0 ||
            strcmp(r->id, req->id) == 0)
            continue;
        if (r->state == REPLUG_PLUGGING || r->state == REPLUG_VERIFYING) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                        "%s runs on this host and is being given its VF for job %s; it cannot "
                        "come in again for job %s", r->domain, r->id, req->id);
            return FALSE;
        }
        g_ptr_array_add(old, r);
    }
    for (guint i = 0; i < old->len; i++) {
        Reservation *r = g_ptr_array_index(old, i);
        g_autofree char *why = g_strdup_printf(
            "job %s's reservation for %s from %s (%s) is superseded by job %s's: the source "
            "migrates the domain again, so the earlier job is over", r->id, r->domain,
            r->source, dest_replug_state_to_string(r->state), req->id);

        dest_release(in, r, why);
    }
    return TRUE;
}

void
incoming_set_drain_query(Incoming *in, IncomingDrainQuery query, gpointer data)
{
    in->draining = query;
    in->draining_data = data;
}

const char *
dest_draining(Incoming *in)
{
    return in->draining ? in->draining(in->draining_data) : NULL;
}

static json_t *
incoming_reserve_now(Incoming *in, json_t *request, GHashTable *in_use, GError **error)
{
    ResRequest req;
    Reservation *r;
    guint position = 0;
    g_autoptr(GError) local = NULL;

    if (!incoming_parse_reservation(request, &req, error))
        return NULL;
    r = g_hash_table_lookup(in->reservations, req.id);
    if (r) {
        /* The source asked again (its answer was lost): same answer. */
        return dest_res_to_json(r);
    }
    if (dest_draining(in)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_DRAINING,
                    "this host is being drained (drain %s) and takes no incoming migration "
                    "until the drain has ended; choose another destination",
                    dest_draining(in));
        return NULL;
    }
    if (!incoming_supersede(in, &req, error))
        return NULL;
    if (!incoming_take_slot(in, req.id, &position)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_BUSY,
                    "this host takes at most %u incoming migrations at once (max_incoming) and "
                    "has %u; job %s is number %u in the queue", in->conf->max_incoming,
                    g_hash_table_size(in->reservations), req.id, position);
        return NULL;
    }
    r = dest_res_new(in, req.id, req.domain, req.source);
    r->source_url = g_strdup(req.source_url);
    r->strategy = req.strategy;
    r->created_us = g_get_real_time();
    r->expires_us = r->created_us + (gint64)in->conf->nic_lease_ttl_s * G_USEC_PER_SEC;
    g_hash_table_insert(in->reservations, r->id, r);
    if (!incoming_lease_nics(in, r, req.nics, in_use, &local) || !dest_save(in, &local)) {
        (void)lease_release_job(in->leases, req.id, NULL);
        g_hash_table_remove(in->reservations, req.id);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   "Reserved an incoming slot%s for %s from %s (job %s)",
                   r->nics->len ? " and VFs" : "", r->domain, r->source, r->id);
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
    ResRequest req;
    g_autoptr(GError) error = NULL;

    /* A bad request is refused at once, without a look at libvirt. */
    if (!incoming_parse_reservation(request, &req, &error)) {
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
                    "there is no reservation %s on this host (released, or expired)", id);
    return r;
}

json_t *
incoming_get(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    return r ? dest_res_to_json(r) : NULL;
}

/* Renews @r's TTL and its leases, saved; FALSE with @error when it cannot. */
gboolean
dest_renew(Incoming *in, Reservation *r, GError **error)
{
    gint64 now = g_get_real_time();
    gint64 before = r->expires_us;

    r->expires_us = now + (gint64)in->conf->nic_lease_ttl_s * G_USEC_PER_SEC;
    if ((r->nics->len == 0 ||
         lease_renew(in->leases, r->id, now, in->conf->nic_lease_ttl_s, error)) &&
        dest_save(in, error))
        return TRUE;
    r->expires_us = before;
    return FALSE;
}

gboolean
incoming_renew(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    return r && dest_renew(in, r, error);
}

void
dest_release(Incoming *in, Reservation *r, const char *why)
{
    g_autofree char *id = g_strdup(r->id);

    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   "Released the reservation of job %s (%s): %s", r->id, r->domain, why);
    /* Plugins undo what they did here unless the guest got its VF. */
    if (r->state != REPLUG_DONE || !r->ok)
        dest_state_abort(r);
    /* The reservation goes first: a crash in between leaves leases without
     * one, which the next start releases. */
    g_hash_table_remove(in->reservations, id);
    dest_save_or_warn(in);
    (void)lease_release_job(in->leases, id, NULL);
}

gboolean
incoming_release(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    if (!r)
        return FALSE;
    dest_release(in, r, "its source released it");
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
    Reservation *any = NULL;
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        if (strcmp(r->domain, domain) != 0)
            continue;
        if (r->state != REPLUG_DONE && r->state != REPLUG_FAILED)
            return r;
        any = r;
    }
    return any;
}

/* --- life ------------------------------------------------------------------ */

/* What happens to @r now: released at its TTL (unless the source says its
 * job still runs), or asked about when its guest is overdue. */
static void
incoming_check(Incoming *in, Reservation *r, gint64 now)
{
    gboolean busy = r->state == REPLUG_PLUGGING || r->state == REPLUG_VERIFYING;

    if (busy || r->asking)
        return;
    if (in->ask_after_start && r->expires_us >= now) {
        dest_ask_source(in, r, FALSE);
        return;
    }
    if (r->expires_us < now) {
        dest_ask_source(in, r, TRUE);
        return;
    }
    if (r->state == REPLUG_ARMED && now - MAX(r->armed_us, r->asked_us) > DEST_ORPHAN_CHECK_US) {
        r->asked_us = now;
        dest_ask_source(in, r, FALSE);
    }
}

void
dest_tick(Incoming *in)
{
    gint64 now = g_get_real_time();
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer key;

    /* Checking may release, so not while iterating. */
    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_ptr_array_add(ids, g_strdup(key));
    for (guint i = 0; i < ids->len; i++) {
        Reservation *r = g_hash_table_lookup(in->reservations, g_ptr_array_index(ids, i));

        if (r)
            incoming_check(in, r, now);
    }
    in->ask_after_start = FALSE;
    (void)lease_expire(in->leases, now, NULL);
}

static gboolean
incoming_expire(gpointer data)
{
    dest_tick(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
incoming_events_tick(gpointer data)
{
    dest_events_ensure(data);
    return G_SOURCE_CONTINUE;
}

/* Leases whose job has no reservation were left by a crash between the two
 * files; every reservation the previous migd left is asked about. */
static void
incoming_after_load(Incoming *in)
{
    GHashTableIter it;
    gpointer value;

    g_autoptr(GPtrArray) jobs = lease_list_jobs(in->leases);

    for (guint i = 0; i < jobs->len; i++) {
        const char *job = g_ptr_array_index(jobs, i);

        if (g_hash_table_contains(in->reservations, job))
            continue;
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_JOB", job),
                       "Releasing the leases of job %s, which has no reservation here (a migd "
                       "stopped between writing the two)", job);
        (void)lease_release_job(in->leases, job, NULL);
    }
    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "Kept the reservation of job %s for %s from %s across the restart (its "
                       "replug is %s)", r->id, r->domain, r->source,
                       dest_replug_state_to_string(r->state));
    }
    /* Asked on the first tick, once this migd (and maybe its network) is up. */
    in->ask_after_start = g_hash_table_size(in->reservations) > 0;
}

Incoming *
incoming_new(Virt *virt, const MigdConf *conf, GError **error)
{
    g_autoptr(Incoming) in = g_new0(Incoming, 1);

    in->virt = virt;
    in->conf = conf;
    in->lifecycle_cb = -1;
    in->cancellable = g_cancellable_new();
    in->reservations = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dest_res_free);
    g_queue_init(&in->waiting);
    in->pools = pool_set_new(conf->pools);
    in->leases = lease_table_open(conf->state_dir, error);
    if (!in->leases)
        return NULL;
    in->path = g_build_filename(conf->state_dir, "reservations.json", NULL);
    if (!dest_load(in, error))
        return NULL;
    incoming_after_load(in);
    in->expire_source = g_timeout_add_seconds(INCOMING_EXPIRE_INTERVAL_S, incoming_expire, in);
    /* A reconnect is noticed within a second; then every armed guest is
     * looked at, so a resume missed meanwhile is not lost. */
    in->events_source = g_timeout_add_seconds(1, incoming_events_tick, in);
    dest_events_ensure(in);
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
    g_clear_handle_id(&in->events_source, g_source_remove);
    g_cancellable_cancel(in->cancellable);
    if (in->reservations)
        g_hash_table_unref(in->reservations);
    dest_events_stop(in);
    g_clear_object(&in->cancellable);
    g_queue_clear_full(&in->waiting, waiter_free);
    pool_set_free(in->pools);
    lease_table_free(in->leases);
    g_free(in->path);
    g_free(in);
}
