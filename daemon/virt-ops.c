/* The operations table over libvirt: each operation looks the domain up
 * by name, makes one libvirt call and turns libvirt's error into a GError. */
#include <config.h>

#include <libvirt/virterror.h>

#include "virt-ops.h"

G_DEFINE_QUARK(virt-ops-error-quark, virt_ops_error)

typedef struct {
    VirtConn base;
    virConnectPtr conn;
} LvConn;

static const char *const event_kind_names[] = {
    [VIRT_EVENT_LIFECYCLE] = "lifecycle",
    [VIRT_EVENT_DEVICE_REMOVED] = "device-removed",
    [VIRT_EVENT_DEVICE_REMOVAL_FAILED] = "device-removal-failed",
    [VIRT_EVENT_DEVICE_ADDED] = "device-added",
    [VIRT_EVENT_MIGRATION_ITERATION] = "migration-iteration",
    [VIRT_EVENT_JOB_COMPLETED] = "job-completed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(event_kind_names) == VIRT_EVENT_LAST);

const char *
virt_event_kind_to_string(VirtEventKind kind)
{
    return kind < VIRT_EVENT_LAST ? event_kind_names[kind] : "unknown";
}

VirtConn *
virt_conn_ref(VirtConn *conn)
{
    g_atomic_int_inc(&conn->refs);
    return conn;
}

void
virt_conn_unref(VirtConn *conn)
{
    if (conn && g_atomic_int_dec_and_test(&conn->refs))
        conn->ops->free(conn);
}

const VirtOps *
virt_conn_ops(VirtConn *conn)
{
    return conn->ops;
}

void
virt_domain_xml_free(VirtDomainXml *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->xml);
    g_free(d);
}

static virConnectPtr
lv(VirtConn *conn)
{
    return ((LvConn *)conn)->conn;
}

static VirtOpsErrorCode
lv_error_code(virConnectPtr conn, int code)
{
    switch (code) {
    case VIR_ERR_NO_DOMAIN:
        return VIRT_OPS_ERROR_NO_DOMAIN;
    case VIR_ERR_OPERATION_INVALID:
        return VIRT_OPS_ERROR_OPERATION_INVALID;
    case VIR_ERR_NO_SUPPORT:
        return VIRT_OPS_ERROR_NO_SUPPORT;
    case VIR_ERR_OPERATION_ABORTED:
        return VIRT_OPS_ERROR_ABORTED;
    case VIR_ERR_OPERATION_TIMEOUT:
        return VIRT_OPS_ERROR_TIMEOUT;
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
        return VIRT_OPS_ERROR_CONFIG;
    case VIR_ERR_INVALID_CONN:
        return VIRT_OPS_ERROR_DISCONNECTED;
    default:
        /* A dropped socket shows as a system or RPC error: ask the connection. */
        return conn && virConnectIsAlive(conn) == 0 ? VIRT_OPS_ERROR_DISCONNECTED
                                                     : VIRT_OPS_ERROR_FAILED;
    }
}

/* libvirt's last error of this thread as @error; always FALSE. */
static gboolean
lv_fail(virConnectPtr conn, GError **error)
{
    virErrorPtr err = virGetLastError();
    int code = err ? err->code : 0;
    /* Copied first: asking the connection below resets the last error. */
    g_autofree char *message = g_strdup(err && err->message ? err->message
                                                            : "libvirt gave no reason");

    g_set_error_literal(error, VIRT_OPS_ERROR, lv_error_code(conn, code), message);
    return FALSE;
}

static virDomainPtr
lv_lookup(VirtConn *conn, const char *domain, GError **error)
{
    virDomainPtr dom = virDomainLookupByName(lv(conn), domain);

    if (!dom)
        (void)lv_fail(lv(conn), error);
    return dom;
}

static VirtConn *
lv_wrap(const VirtOps *ops, virConnectPtr conn, const char *uri)
{
    LvConn *c = g_new0(LvConn, 1);

    c->base.ops = ops;
    c->base.refs = 1;
    c->conn = conn;
    (void)virConnectRef(conn);
    return &c->base;
}

static VirtConn *
lv_open(const VirtOps *ops, const char *uri, GError **error)
{
    virConnectPtr conn = virConnectOpen(uri);
    VirtConn *c;

    if (!conn) {
        (void)lv_fail(NULL, error);
        return NULL;
    }
    c = lv_wrap(ops, conn, uri);
    (void)virConnectClose(conn);
    return c;
}

static void
lv_free(VirtConn *conn)
{
    (void)virConnectClose(lv(conn));
    g_free(conn);
}

static gboolean
lv_get_info(VirtConn *conn, const char *domain, VirtDomainInfo *ret_info, GError **error)
{
    virDomainPtr dom = lv_lookup(conn, domain, error);
    virDomainInfo info;
    int state = 0, reason = 0, persistent = -1;
    gboolean ok;

    if (!dom)
        return FALSE;
    ok = virDomainGetState(dom, &state, &reason, 0) == 0 && virDomainGetInfo(dom, &info) == 0 &&
         (persistent = virDomainIsPersistent(dom)) >= 0;
    if (!ok)
        (void)lv_fail(lv(conn), error);
    (void)virDomainFree(dom);
    if (ok) {
        ret_info->state = state;
        ret_info->reason = reason;
        ret_info->max_memory_kib = info.maxMem;
        ret_info->persistent = persistent == 1;
    }
    return ok;
}

static char *
lv_get_xml(VirtConn *conn, const char *domain, guint flags, GError **error)
{
    virDomainPtr dom = lv_lookup(conn, domain, error);
    char *xml;

    if (!dom)
        return NULL;
    xml = virDomainGetXMLDesc(dom, flags);
    if (!xml)
        (void)lv_fail(lv(conn), error);
    (void)virDomainFree(dom);
    return xml;
}

static GPtrArray *
lv_list_running(VirtConn *conn, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)virt_domain_xml_free);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(lv(conn), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    gboolean ok = n >= 0;

    if (!ok) {
        (void)lv_fail(lv(conn), error);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        char *xml = ok ? virDomainGetXMLDesc(doms[i], 0) : NULL;

        if (xml) {
            VirtDomainXml *d = g_new0(VirtDomainXml, 1);

            d->name = g_strdup(virDomainGetName(doms[i]));
            d->xml = xml;
            g_ptr_array_add(out, d);
        } else if (ok && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
            /* A domain that stopped meanwhile is not running; any other
             * failure means the list is not whole. */
            ok = lv_fail(lv(conn), error);
        }
        (void)virDomainFree(doms[i]);
    }
    g_free(doms);
    return ok ? g_steal_pointer(&out) : NULL;
}

/* The shape of every call on one domain that returns 0 or -1. */
#define LV_DOMAIN_CALL(conn, domain, error, call)                                              \
    do {                                                                                       \
        virDomainPtr dom = lv_lookup((conn), (domain), (error));                               \
        gboolean ok;                                                                           \
                                                                                               \
        if (!dom)                                                                              \
            return FALSE;                                                                      \
        ok = (call) == 0;                                                                      \
        if (!ok)                                                                               \
            (void)lv_fail(lv(conn), (error));                                                  \
        (void)virDomainFree(dom);                                                              \
        return ok;                                                                             \
    } while (0)

static gboolean
lv_detach_alias(VirtConn *conn, const char *domain, const char *alias, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainDetachDeviceAlias(dom, alias,
                                                                   VIR_DOMAIN_AFFECT_LIVE));
}

static gboolean
lv_attach(VirtConn *conn, const char *domain, const char *device_xml, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainAttachDeviceFlags(dom, device_xml,
                                                                   VIR_DOMAIN_AFFECT_LIVE));
}

static gboolean
lv_migrate(VirtConn *conn, const char *domain, const char *dest_uri, virTypedParameterPtr params,
           int nparams, guint flags, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainMigrateToURI3(dom, dest_uri, params,
                                                               (unsigned int)nparams, flags));
}

static gboolean
lv_abort_job(VirtConn *conn, const char *domain, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainAbortJob(dom));
}

static gboolean
lv_set_max_downtime(VirtConn *conn, const char *domain, guint64 downtime_ms, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainMigrateSetMaxDowntime(dom, downtime_ms, 0));
}

static gboolean
lv_set_max_speed(VirtConn *conn, const char *domain, guint64 mibps, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainMigrateSetMaxSpeed(dom, (unsigned long)mibps, 0));
}

static gboolean
lv_start_postcopy(VirtConn *conn, const char *domain, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainMigrateStartPostCopy(dom, 0));
}

static gboolean
lv_suspend(VirtConn *conn, const char *domain, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainSuspend(dom));
}

static gboolean
lv_resume(VirtConn *conn, const char *domain, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainResume(dom));
}

static gboolean
lv_start_dirty_rate(VirtConn *conn, const char *domain, int seconds, GError **error)
{
    LV_DOMAIN_CALL(conn, domain, error, virDomainStartDirtyRateCalc(dom, seconds, 0));
}

static guint64
param_ull(virTypedParameterPtr params, int n, const char *name)
{
    unsigned long long value = 0;

    (void)virTypedParamsGetULLong(params, n, name, &value);
    return value;
}

static void
lv_stats_from_params(virTypedParameterPtr params, int n, int type, VirtJobStats *ret)
{
    *ret = (VirtJobStats){
        .type = type,
        .data_total = param_ull(params, n, VIR_DOMAIN_JOB_DATA_TOTAL),
        .data_processed = param_ull(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED),
        .data_remaining = param_ull(params, n, VIR_DOMAIN_JOB_DATA_REMAINING),
        .memory_bps = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_BPS),
        .dirty_rate_pps = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE),
        .page_size = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE),
        .iteration = param_ull(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION),
        .downtime_ms = param_ull(params, n, VIR_DOMAIN_JOB_DOWNTIME),
        .setup_time_ms = param_ull(params, n, VIR_DOMAIN_JOB_SETUP_TIME),
        .time_elapsed_ms = param_ull(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED),
    };
}

static gboolean
lv_job_stats(VirtConn *conn, const char *domain, gboolean completed, VirtJobStats *ret_stats,
             GError **error)
{
    virDomainPtr dom = lv_lookup(conn, domain, error);
    virTypedParameterPtr params = NULL;
    int type = VIR_DOMAIN_JOB_NONE, n = 0;
    gboolean ok;

    if (!dom)
        return FALSE;
    /* KEEP_COMPLETED: reading them must not take them from the operator. */
    ok = virDomainGetJobStats(dom, &type, &params, &n,
                              completed ? VIR_DOMAIN_JOB_STATS_COMPLETED |
                                              VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED
                                        : 0) == 0;
    if (ok)
        lv_stats_from_params(params, n, type, ret_stats);
    else
        (void)lv_fail(lv(conn), error);
    virTypedParamsFree(params, n);
    (void)virDomainFree(dom);
    return ok;
}

static gboolean
lv_get_dirty_rate(VirtConn *conn, const char *domain, gboolean *ret_measured, gint64 *ret_mibps,
                  GError **error)
{
    virDomainPtr dom = lv_lookup(conn, domain, error);
    virDomainPtr doms[] = { dom, NULL };
    virDomainStatsRecordPtr *records = NULL;
    int status = 0;
    long long mibps = 0;
    gboolean ok;

    if (!dom)
        return FALSE;
    ok = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0) >= 0;
    if (!ok) {
        (void)lv_fail(lv(conn), error);
    } else {
        /* calc_status 2 is VIR_DOMAIN_DIRTYRATE_MEASURED. */
        *ret_measured = records[0] &&
                        virTypedParamsGetInt(records[0]->params, records[0]->nparams,
                                             "dirtyrate.calc_status", &status) == 1 &&
                        status == 2 &&
                        virTypedParamsGetLLong(records[0]->params, records[0]->nparams,
                                               "dirtyrate.megabytes_per_second", &mibps) == 1;
        *ret_mibps = *ret_measured ? mibps : 0;
    }
    virDomainStatsRecordListFree(records);
    (void)virDomainFree(dom);
    return ok;
}

/* --- events ---------------------------------------------------------------- */

/* libvirt keeps one registration per (connection, event, callback,
 * domain): a second with the same callback fails "event callback already
 * tracked", and registering for one domain looks it up. So migd registers
 * each kind of event once per connection, for every domain, and hands each
 * event to every watch of that kind whose domain matches. */

typedef struct _LvHubs LvHubs;

typedef struct {
    gint refs;
    gint gone;                  /* deregistered: no more events */
    int id;
    VirtEventKind kind;
    char *domain;               /* NULL: every domain */
    VirtEventFunc cb;
    gpointer data;
    GDestroyNotify notify;
} LvWatch;

typedef struct {
    LvHubs *hubs;
    VirtEventKind kind;
    int lv_id;                  /* libvirt's registration; -1: none */
    GPtrArray *watches;         /* LvWatch*, the hub's references */
} LvHub;

/* Held by the table while any hub has a watch or a registration, and by
 * each of libvirt's registrations until libvirt lets go of it (an event
 * may still be on its way after the deregistration). No reference on the
 * connection: libvirt holds one for each registration. */
struct _LvHubs {
    gint refs;
    virConnectPtr conn;
    LvHub hub[VIRT_EVENT_LAST];
};

static GMutex lv_hubs_lock;
static GHashTable *lv_hubs_by_conn;     /* virConnectPtr -> LvHubs* */
static int lv_next_watch_id;

static void
lv_watch_unref(LvWatch *w)
{
    if (!g_atomic_int_dec_and_test(&w->refs))
        return;
    if (w->notify)
        w->notify(w->data);
    g_free(w->domain);
    g_free(w);
}

static void
lv_hubs_unref(void *opaque)
{
    LvHubs *hubs = opaque;

    if (!g_atomic_int_dec_and_test(&hubs->refs))
        return;
    for (guint k = 0; k < VIRT_EVENT_LAST; k++)
        g_ptr_array_unref(hubs->hub[k].watches);
    g_free(hubs);
}

/* libvirt lets go of a registration, whose opaque is its hub. */
static void
lv_hub_released(void *opaque)
{
    lv_hubs_unref(((LvHub *)opaque)->hubs);
}

static void
lv_deliver(LvHub *hub, VirtEvent *ev, virDomainPtr dom)
{
    g_autoptr(GPtrArray) now = g_ptr_array_new();

    ev->domain = virDomainGetName(dom);
    g_mutex_lock(&lv_hubs_lock);
    for (guint i = 0; i < hub->watches->len; i++) {
        LvWatch *w = g_ptr_array_index(hub->watches, i);

        if (w->domain && g_strcmp0(w->domain, ev->domain) != 0)
            continue;
        g_atomic_int_inc(&w->refs);
        g_ptr_array_add(now, w);
    }
    g_mutex_unlock(&lv_hubs_lock);
    /* A callback may end its own watch or another's: those hear no more. */
    for (guint i = 0; i < now->len; i++) {
        LvWatch *w = g_ptr_array_index(now, i);

        if (!g_atomic_int_get(&w->gone))
            w->cb(ev, w->data);
        lv_watch_unref(w);
    }
}

static int
lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    VirtEvent ev = { .kind = VIRT_EVENT_LIFECYCLE, .event = event, .detail = detail };

    lv_deliver(opaque, &ev, dom);
    return 0;
}

static void
lv_on_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    VirtEvent ev = { .kind = VIRT_EVENT_DEVICE_REMOVED, .alias = alias };

    lv_deliver(opaque, &ev, dom);
}

static void
lv_on_removal_failed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    VirtEvent ev = { .kind = VIRT_EVENT_DEVICE_REMOVAL_FAILED, .alias = alias };

    lv_deliver(opaque, &ev, dom);
}

static void
lv_on_added(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    VirtEvent ev = { .kind = VIRT_EVENT_DEVICE_ADDED, .alias = alias };

    lv_deliver(opaque, &ev, dom);
}

static void
lv_on_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    VirtEvent ev = { .kind = VIRT_EVENT_MIGRATION_ITERATION, .iteration = iteration };

    lv_deliver(opaque, &ev, dom);
}

static void
lv_on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                    int nparams, void *opaque)
{
    VirtJobStats stats;
    VirtEvent ev = { .kind = VIRT_EVENT_JOB_COMPLETED, .stats = &stats };

    lv_stats_from_params(params, nparams, VIR_DOMAIN_JOB_COMPLETED, &stats);
    lv_deliver(opaque, &ev, dom);
}

static const struct {
    int id;
    virConnectDomainEventGenericCallback cb;
} lv_events[] = {
    [VIRT_EVENT_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                               VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle) },
    [VIRT_EVENT_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                    VIR_DOMAIN_EVENT_CALLBACK(lv_on_removed) },
    [VIRT_EVENT_DEVICE_REMOVAL_FAILED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                           VIR_DOMAIN_EVENT_CALLBACK(lv_on_removal_failed) },
    [VIRT_EVENT_DEVICE_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                  VIR_DOMAIN_EVENT_CALLBACK(lv_on_added) },
    [VIRT_EVENT_MIGRATION_ITERATION] = { VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                         VIR_DOMAIN_EVENT_CALLBACK(lv_on_iteration) },
    [VIRT_EVENT_JOB_COMPLETED] = { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                   VIR_DOMAIN_EVENT_CALLBACK(lv_on_job_completed) },
};
G_STATIC_ASSERT(G_N_ELEMENTS(lv_events) == VIRT_EVENT_LAST);

/* With lv_hubs_lock held: @conn's hubs, made when @create. */
static LvHubs *
lv_hubs_get(virConnectPtr conn, gboolean create)
{
    LvHubs *hubs;

    if (!lv_hubs_by_conn)
        lv_hubs_by_conn = g_hash_table_new(NULL, NULL);
    hubs = g_hash_table_lookup(lv_hubs_by_conn, conn);
    if (hubs || !create)
        return hubs;
    hubs = g_new0(LvHubs, 1);
    hubs->refs = 1;
    hubs->conn = conn;
    for (guint k = 0; k < VIRT_EVENT_LAST; k++) {
        hubs->hub[k].hubs = hubs;
        hubs->hub[k].kind = k;
        hubs->hub[k].lv_id = -1;
        hubs->hub[k].watches = g_ptr_array_new();
    }
    g_hash_table_insert(lv_hubs_by_conn, conn, hubs);
    return hubs;
}

/* With lv_hubs_lock held: @hub has no watch left, so libvirt's
 * registration goes, and the connection's hubs when none has any. */
static void
lv_hub_drop(LvHub *hub)
{
    LvHubs *hubs = hub->hubs;

    if (hub->lv_id >= 0)
        (void)virConnectDomainEventDeregisterAny(hubs->conn, hub->lv_id);
    hub->lv_id = -1;
    for (guint k = 0; k < VIRT_EVENT_LAST; k++) {
        if (hubs->hub[k].lv_id >= 0 || hubs->hub[k].watches->len)
            return;
    }
    g_hash_table_remove(lv_hubs_by_conn, hubs->conn);
    lv_hubs_unref(hubs);
}

static int
lv_event_register(VirtConn *conn, const char *domain, VirtEventKind kind, VirtEventFunc cb,
                  gpointer data, GDestroyNotify notify, GError **error)
{
    LvHubs *hubs;
    LvHub *hub;
    LvWatch *w;

    g_return_val_if_fail(kind < VIRT_EVENT_LAST, -1);
    if (domain) {
        virDomainPtr dom = lv_lookup(conn, domain, error);

        if (!dom)
            return -1;
        (void)virDomainFree(dom);
    }
    g_mutex_lock(&lv_hubs_lock);
    hubs = lv_hubs_get(lv(conn), TRUE);
    hub = &hubs->hub[kind];
    if (hub->lv_id < 0) {
        g_atomic_int_inc(&hubs->refs);
        hub->lv_id = virConnectDomainEventRegisterAny(lv(conn), NULL, lv_events[kind].id,
                                                      lv_events[kind].cb, hub, lv_hub_released);
        if (hub->lv_id < 0) {
            (void)lv_fail(lv(conn), error);
            lv_hubs_unref(hubs);    /* libvirt did not take it */
            lv_hub_drop(hub);
            g_mutex_unlock(&lv_hubs_lock);
            return -1;      /* @data stays the caller's */
        }
    }
    w = g_new0(LvWatch, 1);
    w->refs = 1;
    w->id = ++lv_next_watch_id;
    w->kind = kind;
    w->domain = g_strdup(domain);
    w->cb = cb;
    w->data = data;
    w->notify = notify;
    g_ptr_array_add(hub->watches, w);
    g_mutex_unlock(&lv_hubs_lock);
    return w->id;
}

static void
lv_event_deregister(VirtConn *conn, int id)
{
    LvWatch *w = NULL;
    LvHubs *hubs;

    if (id < 0)
        return;
    g_mutex_lock(&lv_hubs_lock);
    hubs = lv_hubs_get(lv(conn), FALSE);
    for (guint k = 0; hubs && !w && k < VIRT_EVENT_LAST; k++) {
        LvHub *hub = &hubs->hub[k];

        for (guint i = 0; i < hub->watches->len; i++) {
            if (((LvWatch *)g_ptr_array_index(hub->watches, i))->id != id)
                continue;
            w = g_ptr_array_steal_index(hub->watches, i);
            if (!hub->watches->len)
                lv_hub_drop(hub);
            break;
        }
    }
    g_mutex_unlock(&lv_hubs_lock);
    if (!w)
        return;
    g_atomic_int_set(&w->gone, 1);
    lv_watch_unref(w);
}

static const VirtOps lv_ops = {
    .name = "libvirt",
    .open = lv_open,
    .wrap = lv_wrap,
    .free = lv_free,
    .get_info = lv_get_info,
    .get_xml = lv_get_xml,
    .list_running = lv_list_running,
    .detach_alias = lv_detach_alias,
    .attach = lv_attach,
    .event_register = lv_event_register,
    .event_deregister = lv_event_deregister,
    .job_stats = lv_job_stats,
    .migrate = lv_migrate,
    .abort_job = lv_abort_job,
    .set_max_downtime = lv_set_max_downtime,
    .set_max_speed = lv_set_max_speed,
    .start_postcopy = lv_start_postcopy,
    .suspend = lv_suspend,
    .resume = lv_resume,
    .start_dirty_rate = lv_start_dirty_rate,
    .get_dirty_rate = lv_get_dirty_rate,
};

const VirtOps *
virt_ops_libvirt(void)
{
    return &lv_ops;
}
