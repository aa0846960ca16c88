/* The destination's side of a migration. A reservation is what the source's
 * migd holds here for one job: an incoming slot and a lease per passthrough
 * NIC. Once prepared it is armed: when libvirt reports the guest resumed
 * here, the leased VFs are plugged in at once (no round trip to the source)
 * and the guest is asked whether it uses them. */
#include <config.h>

#include <libvirt/virterror.h>
#include <string.h>

#include "domxml.h"
#include "error.h"
#include "hotplug.h"
#include "incoming.h"
#include "jsonutil.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "verify.h"

/* How long a job that was told to wait keeps its place in the queue
 * without asking again. */
#define INCOMING_QUEUE_GRACE_US (15 * G_USEC_PER_SEC)
#define INCOMING_EXPIRE_INTERVAL_S 5

typedef enum {
    RES_RESERVED,
    RES_ARMED,          /* replugs as soon as the guest resumes here */
    RES_REPLUGGING,
    RES_DONE,
} ResState;

static const char *const res_state_names[] = { "reserved", "armed", "replugging", "done" };

typedef struct {
    char *alias;
    char *mac;
    guint vlan;
    char *pool;
    char *address;      /* the leased VF */
    char *driver;       /* what the guest's driver for it is called, when known */
    char *device_xml;   /* what is plugged */
} ResNic;

typedef struct {
    Incoming *in;
    char *id;           /* the source's job id */
    char *domain;
    char *source;
    char *strategy;     /* unplug, native or none */
    GPtrArray *nics;    /* ResNic* */
    ResState state;
    gint64 expires_us;  /* wall clock */

    int lifecycle_cb;
    virConnectPtr conn;
    gint64 resumed_us;  /* monotonic, when the guest resumed here */
    guint nic_index;    /* the NIC being plugged */
    guint attempt;
    guint retry_source;
    Hotplug *hp;
    GCancellable *cancellable;
    gint64 replug_ms, verify_ms;
    gint64 guest_outage_ms;     /* -1: the guest has no probe */
    char *detail_verify;        /* what the verification said, until the probe answers */
    gboolean ok;
    GString *detail;
    GPtrArray *answers; /* ResAnswer*: replug calls waiting for the outcome */
} Reservation;

typedef struct {
    IncomingAnswer answer;
    gpointer data;
} ResAnswer;

typedef struct {
    char *id;
    gint64 asked_us;    /* monotonic */
} Waiter;

struct _Incoming {
    Virt *virt;
    GCancellable *cancellable;  /* cancelled when migd stops */
    const MigdConf *conf;
    PoolSet *pools;
    LeaseTable *leases;
    GHashTable *reservations;   /* id -> Reservation */
    GQueue waiting;             /* Waiter*, in the order they first asked */
    guint expire_source;
};

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

static void
res_disarm(Reservation *r)
{
    g_clear_handle_id(&r->retry_source, g_source_remove);
    g_clear_pointer(&r->hp, hotplug_cancel);
    g_cancellable_cancel(r->cancellable);
    if (r->conn) {
        if (r->lifecycle_cb >= 0)
            (void)virConnectDomainEventDeregisterAny(r->conn, r->lifecycle_cb);
        (void)virConnectClose(r->conn);
        r->conn = NULL;
    }
    r->lifecycle_cb = -1;
}

static void res_answer_all(Reservation *r, const GError *error);

static void
res_free(gpointer data)
{
    Reservation *r = data;
    g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                                          "the reservation %s was released before its replug "
                                          "finished", r->id);

    res_disarm(r);
    res_answer_all(r, error);
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

static json_t *
res_to_json(const Reservation *r)
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

/* --- the host's VFs ------------------------------------------------------- */

static const char *
incoming_pool_lookup(DomNicKind kind, const char *address, const char *model, gpointer data)
{
    return pool_set_lookup(kind, address, model, data);
}

/* The running domains' live XML is read in a worker: libvirt holds a
 * domain while its qemu hook runs, and the hook asks this migd, so the loop
 * must never wait for one. What the XML says is worked out on the loop. */
typedef void (*IncomingScanned)(Incoming *in, GHashTable *in_use, gpointer data);

typedef struct {
    Incoming *in;
    virConnectPtr conn;
    GPtrArray *names;           /* the domains ... */
    GPtrArray *xmls;            /* ... and their live XML */
    IncomingScanned scanned;
    IncomingAnswer answer;      /* for a shutdown in between */
    gpointer data;
} IncomingScan;

static void
incoming_scan_free(gpointer p)
{
    IncomingScan *scan = p;

    if (scan->conn)
        (void)virConnectClose(scan->conn);
    g_ptr_array_unref(scan->names);
    g_ptr_array_unref(scan->xmls);
    g_free(scan);
}

static void
incoming_scan_thread(GTask *task, gpointer source, gpointer p, GCancellable *cancellable)
{
    IncomingScan *scan = p;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(scan->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    for (int i = 0; i < n; i++) {
        char *xml = virDomainGetXMLDesc(doms[i], 0);

        if (xml) {
            g_ptr_array_add(scan->names, g_strdup(virDomainGetName(doms[i])));
            g_ptr_array_add(scan->xmls, xml);
        }
        (void)virDomainFree(doms[i]);
    }
    g_free(doms);
}

static void
incoming_scan_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    IncomingScan *scan = g_task_get_task_data(G_TASK(result));
    g_autoptr(GHashTable) in_use = NULL;
    Incoming *in = scan->in;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)))) {
        g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_BUSY,
                                              "migd is shutting down; ask again once it is back");

        scan->answer(NULL, error, scan->data);
        return;
    }
    /* address -> domain: every pool device that a domain here uses. */
    in_use = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < scan->xmls->len; i++) {
        g_autoptr(GPtrArray) nics = domxml_find_nics(g_ptr_array_index(scan->xmls, i),
                                                      incoming_pool_lookup, in->pools, NULL);

        for (guint j = 0; nics && j < nics->len; j++) {
            const DomNic *nic = g_ptr_array_index(nics, j);

            if (nic->pool && nic->address)
                g_hash_table_replace(in_use, g_strdup(nic->address),
                                     g_strdup(g_ptr_array_index(scan->names, i)));
        }
    }
    scan->scanned(in, in_use, scan->data);
}

/* Reads what the running domains use, then calls @scanned on the loop; if
 * migd shuts down meanwhile, @answer gets the error instead. */
static void
incoming_scan(Incoming *in, IncomingScanned scanned, IncomingAnswer answer, gpointer data)
{
    virConnectPtr conn = virt_connection(in->virt);
    g_autoptr(GTask) task = NULL;
    IncomingScan *scan;

    if (!conn) {
        /* Without libvirt nothing can be known to be in use; say so. */
        g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                                              "migd is not connected to libvirt at %s, so it "
                                              "cannot tell which VFs are in use",
                                              virt_uri(in->virt));

        answer(NULL, error, data);
        return;
    }
    scan = g_new0(IncomingScan, 1);
    scan->in = in;
    scan->conn = conn;
    (void)virConnectRef(conn);
    scan->names = g_ptr_array_new_with_free_func(g_free);
    scan->xmls = g_ptr_array_new_with_free_func(g_free);
    scan->scanned = scanned;
    scan->answer = answer;
    scan->data = data;
    task = g_task_new(NULL, in->cancellable, incoming_scan_done, NULL);
    g_task_set_task_data(task, scan, incoming_scan_free);
    g_task_run_in_thread(task, incoming_scan_thread);
}

typedef struct {
    IncomingAnswer answer;
    gpointer data;
    json_t *request;
} IncomingCall;

static IncomingCall *
incoming_call_new(IncomingAnswer answer, gpointer data, json_t *request)
{
    IncomingCall *call = g_new0(IncomingCall, 1);

    call->answer = answer;
    call->data = data;
    call->request = request ? json_incref(request) : NULL;
    return call;
}

static void
incoming_call_finish(IncomingCall *call, json_t *result, const GError *error)
{
    call->answer(result, error, call->data);
    json_decref(call->request);
    g_free(call);
}

/* After a shutdown cut a scan short: the caller still gets its answer. */
static void
incoming_call_failed(json_t *result, const GError *error, gpointer data)
{
    incoming_call_finish(data, result, error);
}

static void
incoming_vfs_scanned(Incoming *in, GHashTable *in_use, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = pool_set_vfs(in->pools, &error);
    g_autoptr(json_t) result = vfs ? lease_vfs_to_json(in->leases, vfs, in_use) : NULL;

    incoming_call_finish(data, result, error);
}

void
incoming_vfs(Incoming *in, IncomingAnswer answer, gpointer data)
{
    incoming_scan(in, incoming_vfs_scanned, incoming_call_failed,
                  incoming_call_new(answer, data, NULL));
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
        return res_to_json(r);
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
        res_free(r);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    g_hash_table_insert(in->reservations, r->id, r);
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", id, "MIGD_DOMAIN", domain),
                   "Reserved an incoming slot%s for %s from %s (job %s)",
                   r->nics->len ? " and VFs" : "", domain, source, id);
    return res_to_json(r);
}

static void
incoming_reserve_scanned(Incoming *in, GHashTable *in_use, gpointer data)
{
    IncomingCall *call = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = incoming_reserve_now(in, call->request, in_use, &error);

    incoming_call_finish(call, result, error);
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
    incoming_scan(in, incoming_reserve_scanned, incoming_call_failed,
                  incoming_call_new(answer, data, request));
}

static Reservation *
incoming_lookup(Incoming *in, const char *id, GError **error)
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
    Reservation *r = incoming_lookup(in, id, error);
    gint64 now = g_get_real_time();

    if (!r)
        return FALSE;
    r->expires_us = now + (gint64)in->conf->nic_lease_ttl_s * G_USEC_PER_SEC;
    return r->nics->len == 0 || lease_renew(in->leases, id, now, in->conf->nic_lease_ttl_s, error);
}

gboolean
incoming_release(Incoming *in, const char *id, GError **error)
{
    Reservation *r = incoming_lookup(in, id, error);

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
        json_array_append_new(list, res_to_json(value));
    return json_pack("{s:o}", "reservations", list);
}

/* --- the replug ------------------------------------------------------------ */

static void
res_answer_all(Reservation *r, const GError *error)
{
    g_autoptr(json_t) result = error ? NULL : res_to_json(r);
    g_autoptr(GPtrArray) answers = g_steal_pointer(&r->answers);

    r->answers = g_ptr_array_new();
    for (guint i = 0; i < answers->len; i++) {
        ResAnswer *a = g_ptr_array_index(answers, i);

        a->answer(result, error, a->data);
        g_free(a);
    }
}

static void
res_done(Reservation *r, gboolean ok, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
res_done(Reservation *r, gboolean ok, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (!r->detail)
        r->detail = g_string_new(NULL);
    else if (r->detail->len)
        g_string_append(r->detail, "; ");
    g_string_append_vprintf(r->detail, fmt, ap);
    va_end(ap);
    r->ok = ok;
    r->state = RES_DONE;
    res_disarm(r);
    log_structured(ok ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                   LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   ok ? "Replugged %s's passthrough NICs: %s"
                      : "The replug of %s's passthrough NICs failed: %s",
                   r->domain, r->detail->str);
    res_answer_all(r, NULL);
}

static void res_plug_next(Reservation *r);

static void
res_on_probed(gint64 max_gap_ms, const char *detail, gpointer data)
{
    Reservation *r = data;

    r->guest_outage_ms = max_gap_ms;
    res_done(r, r->ok, "%s", r->detail_verify);
    g_clear_pointer(&r->detail_verify, g_free);
}

/* Once verified, the guest's own probe says what outage it saw. */
static void
res_on_verified(gboolean ok, gint64 elapsed_ms, const char *detail, gpointer data)
{
    Reservation *r = data;

    r->verify_ms = elapsed_ms;
    r->ok = ok;
    r->detail_verify = g_strdup(detail);
    verify_probe(r->in->conf->nic_verify, r->in->conf->nic_agent_socket_dir, r->domain, FALSE,
                 r->cancellable, res_on_probed, r);
}

static void
res_verify(Reservation *r)
{
    const ResNic *n = r->nics->len ? g_ptr_array_index(r->nics, 0) : NULL;

    verify_primary(r->in->conf->nic_verify, r->in->conf->nic_agent_socket_dir, r->domain,
                   n ? n->driver : NULL, r->in->conf->nic_replug_timeout_s * 1000,
                   r->cancellable, res_on_verified, r);
}

static gboolean
res_retry(gpointer data)
{
    Reservation *r = data;

    r->retry_source = 0;
    res_plug_next(r);
    return G_SOURCE_REMOVE;
}

static void
res_on_plugged(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    Reservation *r = data;
    ResNic *n = g_ptr_array_index(r->nics, r->nic_index);

    r->hp = NULL;
    if (!ok) {
        if (r->attempt >= r->in->conf->nic_replug_attempts) {
            res_done(r, FALSE, "%s was not plugged after %u attempts: %s", n->alias, r->attempt,
                     error);
            return;
        }
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "Plugging %s into %s failed (attempt %u of %u), trying again: %s", n->alias,
                       r->domain, r->attempt, r->in->conf->nic_replug_attempts, error);
        /* Backoff: 100 ms, 200 ms, 400 ms, ... */
        r->retry_source = g_timeout_add(100u << MIN(r->attempt - 1, 5u), res_retry, r);
        return;
    }
    r->nic_index++;
    r->attempt = 0;
    res_plug_next(r);
}

static void
res_plug_next(Reservation *r)
{
    ResNic *n;

    if (r->nic_index >= r->nics->len || strcmp(r->strategy, "unplug") != 0) {
        r->replug_ms = (g_get_monotonic_time() - r->resumed_us) / 1000;
        res_verify(r);
        return;
    }
    n = g_ptr_array_index(r->nics, r->nic_index);
    r->attempt++;
    if (!r->conn) {
        res_done(r, FALSE, "migd is not connected to libvirt, so %s was not plugged", n->alias);
        return;
    }
    r->hp = hotplug_attach(r->conn, r->domain, n->device_xml, n->alias,
                           r->in->conf->nic_replug_timeout_s * 1000, res_on_plugged, r);
}

static void
res_start_replug(Reservation *r)
{
    if (r->state != RES_ARMED)
        return;
    r->state = RES_REPLUGGING;
    r->resumed_us = g_get_monotonic_time();
    res_plug_next(r);
}

static int
res_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Reservation *r = opaque;

    if (g_strcmp0(virDomainGetName(dom), r->domain) == 0 && event == VIR_DOMAIN_EVENT_RESUMED &&
        (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ||
         detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY))
        res_start_replug(r);
    return 0;
}

/* Whether the guest already runs here (the resume came before the arming). */
static gboolean
res_guest_runs_here(Reservation *r)
{
    virDomainPtr dom = virDomainLookupByName(r->conn, r->domain);
    int state = 0;
    gboolean running;

    if (!dom)
        return FALSE;
    running = virDomainGetState(dom, &state, NULL, 0) == 0 && state == VIR_DOMAIN_RUNNING;
    (void)virDomainFree(dom);
    return running;
}

json_t *
incoming_prepare(Incoming *in, const char *id, GError **error)
{
    Reservation *r = incoming_lookup(in, id, error);
    virConnectPtr conn = virt_connection(in->virt);

    if (!r || !incoming_renew(in, id, error))
        return NULL;
    if (r->state != RES_RESERVED)
        return res_to_json(r);
    if (!conn) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd on the destination is not connected to libvirt, so it cannot watch "
                    "for %s's resume", r->domain);
        return NULL;
    }
    r->conn = conn;
    (void)virConnectRef(conn);
    r->lifecycle_cb = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                       VIR_DOMAIN_EVENT_CALLBACK(res_on_lifecycle),
                                                       r, NULL);
    if (r->lifecycle_cb < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot watch libvirt for %s's resume: %s", r->domain,
                    virGetLastErrorMessage());
        res_disarm(r);
        return NULL;
    }
    r->state = RES_ARMED;
    return res_to_json(r);
}

void
incoming_replug(Incoming *in, const char *id, IncomingAnswer answer, gpointer data)
{
    g_autoptr(GError) error = NULL;
    Reservation *r = incoming_lookup(in, id, &error);
    ResAnswer *a;

    if (!r) {
        answer(NULL, error, data);
        return;
    }
    if (r->state == RES_RESERVED) {
        g_autoptr(json_t) prepared = incoming_prepare(in, id, &error);

        if (!prepared) {
            answer(NULL, error, data);
            return;
        }
    }
    if (r->state == RES_DONE) {
        g_autoptr(json_t) result = res_to_json(r);

        answer(result, NULL, data);
        return;
    }
    a = g_new0(ResAnswer, 1);
    a->answer = answer;
    a->data = data;
    g_ptr_array_add(r->answers, a);
    /* The source saw the resume; a missed event must not leave it waiting. */
    if (r->state == RES_ARMED && res_guest_runs_here(r))
        res_start_replug(r);
}

/* --- the qemu hook --------------------------------------------------------- */

static Reservation *
incoming_find_domain(Incoming *in, const char *domain)
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

/* For the hook: a stand-in of another host's emulated pool has a tap name
 * this host does not know, so any NIC of an emulated pool's model counts. */
static const char *
incoming_foreign_lookup(DomNicKind kind, const char *address, const char *model, gpointer data)
{
    Incoming *in = data;
    const char *pool = pool_set_lookup(kind, address, model, in->pools);

    for (guint i = 0; !pool && kind == DOM_NIC_EMULATED && i < in->conf->pools->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(in->conf->pools, i);

        if (pc->type == POOL_EMULATED && g_strcmp0(pc->model, model) == 0)
            pool = pc->name;
    }
    return pool;
}

/* The incoming XML as this host must run it: a NIC the reservation knows
 * is dropped when it was unplugged and pointed at the leased VF when it
 * migrates natively; any other passthrough device is refused, since it
 * names a VF of another host. */
static char *
incoming_rewrite(Incoming *in, const char *domain, const char *xml, GError **error)
{
    Reservation *r = incoming_find_domain(in, domain);
    g_autofree char *out = g_strdup(xml);
    g_autoptr(GPtrArray) nics = NULL;

    for (guint i = 0; r && i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);
        g_autofree char *found = domxml_device_xml(out, n->alias, NULL);
        char *next;

        if (!found)
            continue;
        if (strcmp(r->strategy, "native") == 0) {
            next = domxml_replace_device(out, n->alias, n->device_xml, error);
        } else {
            const char *const aliases[] = { n->alias, NULL };

            next = domxml_remove_devices(out, aliases, error);
        }
        if (!next)
            return NULL;
        g_free(out);
        out = next;
    }
    nics = domxml_find_nics(out, incoming_foreign_lookup, in, error);
    if (!nics)
        return NULL;
    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);
        const Lease *lease = nic->address ? lease_find(in->leases, nic->address) : NULL;

        if (!lease || g_strcmp0(lease->domain, domain) != 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                        "the incoming XML of %s has the passthrough device %s (%s) that is not "
                        "leased to it on this host; migrate it with migd so that a VF is leased "
                        "here", domain, nic->alias, nic->address ? nic->address : "no address");
            return NULL;
        }
    }
    return g_steal_pointer(&out);
}

json_t *
incoming_hook(Incoming *in, json_t *request, GError **error)
{
    const char *domain = NULL, *op = NULL, *sub_op = NULL, *xml = NULL;
    json_error_t jerr;
    g_autofree char *out = NULL;
    guint released;

    if (json_unpack_ex(request, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s?s}", "domain", &domain,
                       "operation", &op, "sub_operation", &sub_op, "xml", &xml) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the hook request is not valid: %s", jerr.text);
        return NULL;
    }
    if (strcmp(op, "migrate") == 0) {
        if (!xml) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "the migrate hook request for %s has no 'xml'", domain);
            return NULL;
        }
        out = incoming_rewrite(in, domain, xml, error);
        return out ? json_pack("{s:s}", "xml", out) : NULL;
    }
    if (strcmp(op, "stopped") == 0 || strcmp(op, "release") == 0) {
        Reservation *r = incoming_find_domain(in, domain);

        released = lease_release_domain(in->leases, domain, NULL);
        /* A guest that stopped here before its replug is not coming back. */
        if (r && r->state != RES_DONE) {
            log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", domain),
                           "%s stopped on this host; releasing job %s's reservation", domain, r->id);
            g_hash_table_remove(in->reservations, r->id);
        }
        return json_pack("{s:i}", "released", (int)released);
    }
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                "the hook operation '%s' is not one migd handles (migrate, stopped, release)", op);
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
    in->reservations = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, res_free);
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
