/* The fake hypervisor: hosts and domains under one lock, an event queue
 * drained on the main loop, and libvirt's answers (fake-virt.h). */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "domxml.h"
#include "fake-virt.h"

typedef struct {
    char *name;
    char *xml;
    char *inactive_xml;             /* persistent domains only */
    int state, reason;
    gboolean persistent;
    GHashTable *unplug;             /* alias -> FakeUnplug + 1 */
    GHashTable *pending;            /* aliases whose detach awaits the guest */
    gboolean job_active, job_end, job_ok, job_aborted;
    char *job_error;
    VirtJobStats job;
    VirtJobStats completed;         /* type NONE until a migration completed here */
    struct _FakeRecord *record;     /* in its host's records: it outlives a migrated domain */
    gboolean dirty_started;
    gint64 dirty_mibps;             /* -1: QEMU never finishes measuring */
} FakeDomain;

typedef struct {
    char *uri;
    gboolean up;
    guint generation;               /* connections of older ones are dead */
    GHashTable *domains;
    GHashTable *records;            /* domain name -> FakeRecord */
    guint calls[FAKE_OP_LAST];
    GError *fail[FAKE_OP_LAST];
} FakeHost;

typedef struct {
    VirtConn base;
    FakeVirt *fv;
    char *uri;
    guint generation;
} FakeConn;

typedef struct {
    int id;
    char *uri;
    guint generation;
    char *domain;                   /* NULL: all */
    VirtEventKind kind;
    VirtEventFunc cb;
    gpointer data;
    GDestroyNotify notify;
    gboolean dead;                  /* deregistered during its own callback */
} FakeWatch;

typedef struct {
    char *uri;
    VirtEvent ev;                   /* ev.domain and ev.alias point at the strings below */
    char *domain, *alias;
    VirtJobStats stats;
    gboolean remove_device;         /* DEVICE_REMOVED: the device leaves the XML now */
    gboolean unpend;                /* the detach is answered */
} FakeEvent;

struct _FakeVirt {
    VirtOps ops;
    GMutex lock;
    GCond cond;
    GThread *main_thread;
    GHashTable *hosts;              /* uri -> FakeHost */
    GHashTable *watches;            /* id -> FakeWatch */
    int next_id;
    int dispatching;                /* the watch whose callback runs; -1 */
    GQueue events;
    guint idle;
    guint64 queued, delivered;
    guint unplug_delay_ms;
    GSList *timers;                 /* DelayedRemoval* waiting on the loop */
    char *journal;                  /* fake_virt_set_journal()'s file, or NULL */
};

/* A DEVICE_REMOVED that the guest sends @unplug_delay_ms after the detach. */
typedef struct {
    FakeVirt *fv;
    guint source;
    char *uri, *domain, *alias;
} DelayedRemoval;

static void delayed_free(DelayedRemoval *r);

static const VirtOps fake_ops_template;

/* --- the model ------------------------------------------------------------ */

static void
fake_domain_free(gpointer p)
{
    FakeDomain *d = p;

    g_free(d->name);
    g_free(d->xml);
    g_free(d->inactive_xml);
    g_hash_table_unref(d->unplug);
    g_hash_table_unref(d->pending);
    g_free(d->job_error);
    g_free(d);
}

static void
fake_host_free(gpointer p)
{
    FakeHost *h = p;

    g_free(h->uri);
    g_hash_table_unref(h->domains);
    g_hash_table_unref(h->records);
    for (guint i = 0; i < FAKE_OP_LAST; i++)
        g_clear_error(&h->fail[i]);
    g_free(h);
}

/* A domain's migrations from one host: how the next goes (the script),
 * and what the last asked for. Kept by name, so a test can script a
 * migration back before the domain arrived, and read the last one after
 * the domain left. */
typedef struct _FakeRecord {
    FakeMigrate how;
    VirtJobStats stats;
    char *error;
    FakeMigrateCall last;
} FakeRecord;

static void
record_free(gpointer p)
{
    FakeRecord *r = p;

    g_free(r->error);
    g_free((char *)r->last.dest_uri);
    g_free((char *)r->last.dest_xml);
    g_free((char *)r->last.persist_xml);
    g_free(r);
}

static FakeRecord *
record_get(FakeHost *h, const char *name)
{
    FakeRecord *r = g_hash_table_lookup(h->records, name);

    if (!r) {
        r = g_new0(FakeRecord, 1);
        g_hash_table_insert(h->records, g_strdup(name), r);
    }
    return r;
}

static void
fake_event_free(FakeEvent *e)
{
    g_free(e->uri);
    g_free(e->domain);
    g_free(e->alias);
    g_free(e);
}

static void
fake_watch_free(FakeWatch *w)
{
    if (w->notify)
        w->notify(w->data);
    g_free(w->uri);
    g_free(w->domain);
    g_free(w);
}

FakeVirt *
fake_virt_new(void)
{
    FakeVirt *fv = g_new0(FakeVirt, 1);

    /* The fake reads libvirt's typed parameters; libvirt's error storage
     * exists only once the library is initialised. */
    if (virInitialize() < 0)
        g_error("libvirt cannot be initialised");
    fv->ops = fake_ops_template;
    fv->ops.data = fv;
    g_mutex_init(&fv->lock);
    g_cond_init(&fv->cond);
    fv->main_thread = g_thread_self();
    fv->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, fake_host_free);
    fv->watches = g_hash_table_new(g_direct_hash, g_direct_equal);
    fv->dispatching = -1;
    g_queue_init(&fv->events);
    fake_virt_add_host(fv, FAKE_VIRT_LOCAL);
    return fv;
}

void
fake_virt_free(FakeVirt *fv)
{
    GHashTableIter it;
    gpointer w;

    if (!fv)
        return;
    g_clear_handle_id(&fv->idle, g_source_remove);
    g_slist_free_full(fv->timers, (GDestroyNotify)delayed_free);
    g_queue_clear_full(&fv->events, (GDestroyNotify)fake_event_free);
    g_hash_table_iter_init(&it, fv->watches);
    while (g_hash_table_iter_next(&it, NULL, &w))
        fake_watch_free(w);
    g_hash_table_unref(fv->watches);
    g_hash_table_unref(fv->hosts);
    g_cond_clear(&fv->cond);
    g_mutex_clear(&fv->lock);
    g_free(fv->journal);
    g_free(fv);
}

const VirtOps *
fake_virt_ops(FakeVirt *fv)
{
    return &fv->ops;
}

void
fake_virt_add_host(FakeVirt *fv, const char *uri)
{
    FakeHost *h = g_new0(FakeHost, 1);

    h->uri = g_strdup(uri);
    h->up = TRUE;
    h->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, fake_domain_free);
    h->records = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, record_free);
    g_mutex_lock(&fv->lock);
    g_hash_table_replace(fv->hosts, h->uri, h);
    g_mutex_unlock(&fv->lock);
}

static FakeHost *
host_get(FakeVirt *fv, const char *uri)
{
    FakeHost *h = g_hash_table_lookup(fv->hosts, uri);

    g_assert(h);                /* a test names a host it did not add */
    return h;
}

static FakeDomain *
domain_new(const char *name, const char *xml, int state)
{
    FakeDomain *d = g_new0(FakeDomain, 1);

    d->name = g_strdup(name);
    d->xml = g_strdup(xml);
    d->state = state;
    d->reason = state == VIR_DOMAIN_RUNNING ? VIR_DOMAIN_RUNNING_BOOTED : 0;
    d->unplug = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->completed.type = VIR_DOMAIN_JOB_NONE;
    d->dirty_mibps = -1;
    return d;
}

/* Adds @d to @h, with the record of its migrations from there. */
static void
host_put(FakeHost *h, FakeDomain *d)
{
    d->record = record_get(h, d->name);
    g_hash_table_replace(h->domains, d->name, d);
}

void
fake_virt_add_domain(FakeVirt *fv, const char *uri, const char *name, const char *xml, int state)
{
    g_mutex_lock(&fv->lock);
    host_put(host_get(fv, uri), domain_new(name, xml, state));
    g_mutex_unlock(&fv->lock);
}

static FakeDomain *
domain_get(FakeVirt *fv, const char *uri, const char *name)
{
    FakeDomain *d = g_hash_table_lookup(host_get(fv, uri)->domains, name);

    g_assert(d);
    return d;
}

void
fake_virt_set_persistent(FakeVirt *fv, const char *uri, const char *name, const char *inactive_xml)
{
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = domain_get(fv, uri, name);
    d->persistent = TRUE;
    g_free(d->inactive_xml);
    d->inactive_xml = g_strdup(inactive_xml ? inactive_xml : d->xml);
    g_mutex_unlock(&fv->lock);
}

int
fake_virt_domain_state(FakeVirt *fv, const char *uri, const char *name)
{
    FakeDomain *d;
    int state;

    g_mutex_lock(&fv->lock);
    d = g_hash_table_lookup(host_get(fv, uri)->domains, name);
    state = d ? d->state : -1;
    g_mutex_unlock(&fv->lock);
    return state;
}

char *
fake_virt_domain_xml(FakeVirt *fv, const char *uri, const char *name)
{
    FakeDomain *d;
    char *xml;

    g_mutex_lock(&fv->lock);
    d = g_hash_table_lookup(host_get(fv, uri)->domains, name);
    xml = d ? g_strdup(d->xml) : NULL;
    g_mutex_unlock(&fv->lock);
    return xml;
}

static gboolean
xml_has_alias(const char *xml, const char *alias)
{
    g_autofree char *dev = domxml_device_xml(xml, alias, NULL);

    return dev != NULL;
}

gboolean
fake_virt_has_device(FakeVirt *fv, const char *uri, const char *name, const char *alias)
{
    g_autofree char *xml = fake_virt_domain_xml(fv, uri, name);

    return xml && xml_has_alias(xml, alias);
}

static void
xml_remove_alias(FakeDomain *d, const char *alias)
{
    const char *aliases[] = { alias, NULL };
    char *xml = domxml_remove_devices(d->xml, aliases, NULL);

    if (xml) {
        g_free(d->xml);
        d->xml = xml;
    }
}

/* --- events ------------------------------------------------------------- */

static gboolean watch_live(FakeVirt *fv, FakeWatch *w);
static guint64 event_device(FakeVirt *fv, const char *uri, const char *domain, VirtEventKind kind,
                            const char *alias);
static gboolean events_drain(gpointer data);

static void
delayed_free(DelayedRemoval *r)
{
    g_clear_handle_id(&r->source, g_source_remove);
    g_free(r->uri);
    g_free(r->domain);
    g_free(r->alias);
    g_free(r);
}

static gboolean
delayed_fire(gpointer data)
{
    DelayedRemoval *r = data;
    FakeVirt *fv = r->fv;

    g_mutex_lock(&fv->lock);
    (void)event_device(fv, r->uri, r->domain, VIRT_EVENT_DEVICE_REMOVED, r->alias);
    fv->timers = g_slist_remove(fv->timers, r);
    g_mutex_unlock(&fv->lock);
    r->source = 0;
    delayed_free(r);
    return G_SOURCE_REMOVE;
}

/* Queues DEVICE_REMOVED after the guest's delay (lock held). */
static void
event_removed_later(FakeVirt *fv, const char *uri, const char *domain, const char *alias)
{
    DelayedRemoval *r;

    if (fv->unplug_delay_ms == 0) {
        (void)event_device(fv, uri, domain, VIRT_EVENT_DEVICE_REMOVED, alias);
        return;
    }
    r = g_new0(DelayedRemoval, 1);
    r->fv = fv;
    r->uri = g_strdup(uri);
    r->domain = g_strdup(domain);
    r->alias = g_strdup(alias);
    r->source = g_timeout_add(fv->unplug_delay_ms, delayed_fire, r);
    fv->timers = g_slist_prepend(fv->timers, r);
}

void
fake_virt_set_unplug_delay(FakeVirt *fv, guint ms)
{
    g_mutex_lock(&fv->lock);
    fv->unplug_delay_ms = ms;
    g_mutex_unlock(&fv->lock);
}

/* Removes the device a DEVICE_REMOVED is about, as QEMU's DEVICE_DELETED
 * does in libvirt just before it emits the event. */
static void
event_apply(FakeVirt *fv, FakeEvent *e)
{
    FakeHost *h = g_hash_table_lookup(fv->hosts, e->uri);
    FakeDomain *d = h ? g_hash_table_lookup(h->domains, e->domain) : NULL;

    if (!d)
        return;
    if (e->remove_device)
        xml_remove_alias(d, e->alias);
    if (e->unpend)
        (void)g_hash_table_remove(d->pending, e->alias);
}

static gboolean
watch_matches(FakeVirt *fv, FakeWatch *w, FakeEvent *e)
{
    return !w->dead && w->kind == e->ev.kind && strcmp(w->uri, e->uri) == 0 &&
           (!w->domain || strcmp(w->domain, e->domain) == 0) && watch_live(fv, w);
}

/* Calls every registration @e matches, outside the lock: a callback may
 * call the fake (deregister, or queue work). */
static void
event_deliver(FakeVirt *fv, FakeEvent *e)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    GHashTableIter it;
    gpointer w;

    g_hash_table_iter_init(&it, fv->watches);
    while (g_hash_table_iter_next(&it, NULL, &w))
        if (watch_matches(fv, w, e))
            g_array_append_val(ids, ((FakeWatch *)w)->id);
    for (guint i = 0; i < ids->len; i++) {
        int id = g_array_index(ids, int, i);
        FakeWatch *watch = g_hash_table_lookup(fv->watches, GINT_TO_POINTER(id));

        if (!watch || watch->dead)
            continue;
        fv->dispatching = id;
        g_mutex_unlock(&fv->lock);
        watch->cb(&e->ev, watch->data);
        g_mutex_lock(&fv->lock);
        fv->dispatching = -1;
        if (watch->dead) {
            (void)g_hash_table_remove(fv->watches, GINT_TO_POINTER(id));
            g_mutex_unlock(&fv->lock);
            fake_watch_free(watch);
            g_mutex_lock(&fv->lock);
        }
    }
}

static gboolean
events_drain(gpointer data)
{
    FakeVirt *fv = data;
    FakeEvent *e;

    g_mutex_lock(&fv->lock);
    fv->idle = 0;
    while ((e = g_queue_pop_head(&fv->events))) {
        event_apply(fv, e);
        event_deliver(fv, e);
        fake_event_free(e);
        fv->delivered++;
        g_cond_broadcast(&fv->cond);
    }
    g_mutex_unlock(&fv->lock);
    return G_SOURCE_REMOVE;
}

/* Queues an event (lock held); returns its sequence number. */
static guint64
event_queue(FakeVirt *fv, const char *uri, const char *domain, VirtEventKind kind,
            FakeEvent **ret_event)
{
    FakeEvent *e = g_new0(FakeEvent, 1);

    e->uri = g_strdup(uri);
    e->domain = g_strdup(domain);
    e->ev.kind = kind;
    e->ev.domain = e->domain;
    g_queue_push_tail(&fv->events, e);
    if (!fv->idle)
        fv->idle = g_idle_add(events_drain, fv);
    if (ret_event)
        *ret_event = e;
    return ++fv->queued;
}

static guint64
event_lifecycle(FakeVirt *fv, const char *uri, const char *domain, int event, int detail)
{
    FakeEvent *e;
    guint64 seq = event_queue(fv, uri, domain, VIRT_EVENT_LIFECYCLE, &e);

    e->ev.event = event;
    e->ev.detail = detail;
    return seq;
}

static guint64
event_device(FakeVirt *fv, const char *uri, const char *domain, VirtEventKind kind,
             const char *alias)
{
    FakeEvent *e;
    guint64 seq = event_queue(fv, uri, domain, kind, &e);

    e->alias = g_strdup(alias);
    e->ev.alias = e->alias;
    e->remove_device = kind == VIRT_EVENT_DEVICE_REMOVED;
    e->unpend = kind != VIRT_EVENT_DEVICE_ADDED;
    return seq;
}

/* Waits (lock held) until the loop delivered event @seq: the caller's
 * call returns after its callback ran. Not on the loop's own thread. */
static void
event_wait(FakeVirt *fv, guint64 seq)
{
    if (g_thread_self() == fv->main_thread)
        return;
    while (fv->delivered < seq)
        g_cond_wait(&fv->cond, &fv->lock);
}

void
fake_virt_flush(FakeVirt *fv)
{
    for (;;) {
        gboolean empty;

        g_mutex_lock(&fv->lock);
        empty = g_queue_is_empty(&fv->events) && !fv->timers;
        g_mutex_unlock(&fv->lock);
        if (empty)
            return;
        (void)g_main_context_iteration(NULL, TRUE);
    }
}

/* --- connections and failures ---------------------------------------------- */

static gboolean
watch_live(FakeVirt *fv, FakeWatch *w)
{
    FakeHost *h = g_hash_table_lookup(fv->hosts, w->uri);

    return h && h->up && h->generation == w->generation;
}

static FakeConn *
fc(VirtConn *conn)
{
    return (FakeConn *)conn;
}

static FakeVirt *
fake_of(VirtConn *conn)
{
    return fc(conn)->fv;
}

static VirtConn *
conn_new(FakeVirt *fv, FakeHost *h)
{
    FakeConn *c = g_new0(FakeConn, 1);

    c->base.ops = &fv->ops;
    c->base.refs = 1;
    c->fv = fv;
    c->uri = g_strdup(h->uri);
    /* A connection made while libvirtd is away is dead from the start. */
    c->generation = h->up ? h->generation : G_MAXUINT;
    return &c->base;
}

/* Counts @op and applies what a test scripted for it; the lock is held.
 * The host of @conn, or NULL with @error set. */
static FakeHost *
op_begin(VirtConn *conn, FakeOp op, GError **error)
{
    FakeHost *h = host_get(fake_of(conn), fc(conn)->uri);

    h->calls[op]++;
    if (!h->up || h->generation != fc(conn)->generation) {
        /* assumed: what libvirt's remote driver says once the socket closed */
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED,
                            "internal error: client socket is closed");
        return NULL;
    }
    if (h->fail[op]) {
        g_propagate_error(error, g_steal_pointer(&h->fail[op]));
        return NULL;
    }
    return h;
}

/* The domain @name of @conn's host (lock held), or NULL with libvirt's
 * "no domain" error. */
static FakeDomain *
op_domain(VirtConn *conn, FakeOp op, const char *name, GError **error)
{
    FakeHost *h = op_begin(conn, op, error);
    FakeDomain *d = h ? g_hash_table_lookup(h->domains, name) : NULL;

    if (h && !d)            /* measured (test-virt-facts, lookup/unknown-domain) */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'", name);
    return d;
}

static gboolean
domain_active(const FakeDomain *d)
{
    return d->state != VIR_DOMAIN_SHUTOFF && d->state != VIR_DOMAIN_NOSTATE;
}

/* An active domain, or NULL with libvirt's "not running" error. */
static FakeDomain *
op_active_domain(VirtConn *conn, FakeOp op, const char *name, GError **error)
{
    FakeDomain *d = op_domain(conn, op, name, error);

    if (d && !domain_active(d)) {
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not running");
        return NULL;
    }
    return d;
}

void
fake_virt_fail_next(FakeVirt *fv, const char *uri, FakeOp op, VirtOpsErrorCode code,
                    const char *message)
{
    FakeHost *h;

    g_mutex_lock(&fv->lock);
    h = host_get(fv, uri);
    g_clear_error(&h->fail[op]);
    h->fail[op] = g_error_new_literal(VIRT_OPS_ERROR, code, message);
    g_mutex_unlock(&fv->lock);
}

guint
fake_virt_calls(FakeVirt *fv, const char *uri, FakeOp op)
{
    guint n;

    g_mutex_lock(&fv->lock);
    n = host_get(fv, uri)->calls[op];
    g_mutex_unlock(&fv->lock);
    return n;
}

void
fake_virt_drop(FakeVirt *fv, const char *uri)
{
    FakeHost *h;

    g_mutex_lock(&fv->lock);
    h = host_get(fv, uri);
    h->up = FALSE;
    h->generation++;
    g_cond_broadcast(&fv->cond);    /* a held migration notices */
    g_mutex_unlock(&fv->lock);
}

void
fake_virt_restore(FakeVirt *fv, const char *uri)
{
    g_mutex_lock(&fv->lock);
    host_get(fv, uri)->up = TRUE;
    g_mutex_unlock(&fv->lock);
}

/* HOST:PORT of a URI (libvirtd's TCP port by default), for libvirt's
 * connect error. */
static char *
uri_server(const char *uri)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    int port = parsed ? g_uri_get_port(parsed) : -1;

    return g_strdup_printf("%s:%d", parsed && g_uri_get_host(parsed) ? g_uri_get_host(parsed)
                                                                     : "localhost",
                           port > 0 ? port : 16509);
}

static VirtConn *
fake_open(const VirtOps *ops, const char *uri, GError **error)
{
    FakeVirt *fv = ops->data;
    FakeHost *h;
    VirtConn *conn = NULL;

    g_mutex_lock(&fv->lock);
    h = g_hash_table_lookup(fv->hosts, uri);
    if (h)
        h->calls[FAKE_OP_OPEN]++;
    if (h && h->fail[FAKE_OP_OPEN]) {
        g_propagate_error(error, g_steal_pointer(&h->fail[FAKE_OP_OPEN]));
    } else if (h && h->up) {
        conn = conn_new(fv, h);
    } else {
        g_autofree char *server = uri_server(uri);

        /* measured (test-virt-facts, open/refused) */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED,
                    "unable to connect to server at '%s': Connection refused", server);
    }
    g_mutex_unlock(&fv->lock);
    return conn;
}

/* virt_conn() of a Virt on host @uri: NULL while that host is dropped, as
 * once Virt saw its connection close. */
static VirtConn *
fake_wrap(const VirtOps *ops, virConnectPtr conn, const char *uri)
{
    FakeVirt *fv = ops->data;
    FakeHost *h;
    VirtConn *c = NULL;

    g_mutex_lock(&fv->lock);
    h = host_get(fv, uri);
    if (h->up)
        c = conn_new(fv, h);
    g_mutex_unlock(&fv->lock);
    return c;
}

static void
fake_free(VirtConn *conn)
{
    g_free(fc(conn)->uri);
    g_free(conn);
}

Virt *
fake_virt_new_virt(FakeVirt *fv)
{
    VirtOptions options = { .keepalive_interval = 0, .reconnect_max = 1 };
    Virt *virt = virt_new(FAKE_VIRT_LOCAL, &options, NULL, NULL);

    virt_set_ops(virt, &fv->ops);
    virt_start(virt);
    while (!virt_is_connected(virt))
        (void)g_main_context_iteration(NULL, TRUE);
    return virt;
}

/* --- domains -------------------------------------------------------------- */

static gboolean
fake_get_info(VirtConn *conn, const char *domain, VirtDomainInfo *ret_info, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_domain(conn, FAKE_OP_GET_INFO, domain, error);
    if (d)
        *ret_info = (VirtDomainInfo){ .state = d->state, .reason = d->reason,
                                      .max_memory_kib = 128 * 1024, .persistent = d->persistent };
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static char *
fake_get_xml(VirtConn *conn, const char *domain, guint flags, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;
    char *xml = NULL;

    g_mutex_lock(&fv->lock);
    d = op_domain(conn, FAKE_OP_GET_XML, domain, error);
    /* A transient domain's inactive XML is its live one. */
    if (d)
        xml = g_strdup((flags & VIR_DOMAIN_XML_INACTIVE) && d->inactive_xml ? d->inactive_xml
                                                                            : d->xml);
    g_mutex_unlock(&fv->lock);
    return xml;
}

static gint
domain_xml_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(VirtDomainXml *const *)a)->name, (*(VirtDomainXml *const *)b)->name);
}

static GPtrArray *
fake_list_running(VirtConn *conn, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeHost *h;
    GPtrArray *out = NULL;
    GHashTableIter it;
    gpointer p;

    g_mutex_lock(&fv->lock);
    h = op_begin(conn, FAKE_OP_LIST_RUNNING, error);
    if (h) {
        out = g_ptr_array_new_with_free_func((GDestroyNotify)virt_domain_xml_free);
        g_hash_table_iter_init(&it, h->domains);
        while (g_hash_table_iter_next(&it, NULL, &p)) {
            FakeDomain *d = p;
            VirtDomainXml *x;

            if (!domain_active(d))
                continue;
            x = g_new0(VirtDomainXml, 1);
            x->name = g_strdup(d->name);
            x->xml = g_strdup(d->xml);
            g_ptr_array_add(out, x);
        }
        g_ptr_array_sort(out, domain_xml_cmp);    /* the same order in every run */
    }
    g_mutex_unlock(&fv->lock);
    return out;
}

/* --- hotplug -------------------------------------------------------------- */

void
fake_virt_script_unplug(FakeVirt *fv, const char *uri, const char *domain, const char *alias,
                        FakeUnplug how)
{
    g_mutex_lock(&fv->lock);
    g_hash_table_replace(domain_get(fv, uri, domain)->unplug, g_strdup(alias),
                         GINT_TO_POINTER(how + 1));
    g_mutex_unlock(&fv->lock);
}

void
fake_virt_remove_device(FakeVirt *fv, const char *uri, const char *domain, const char *alias)
{
    g_mutex_lock(&fv->lock);
    (void)domain_get(fv, uri, domain);
    (void)event_device(fv, uri, domain, VIRT_EVENT_DEVICE_REMOVED, alias);
    g_mutex_unlock(&fv->lock);
}

void
fake_virt_set_journal(FakeVirt *fv, const char *path)
{
    g_mutex_lock(&fv->lock);
    g_free(fv->journal);
    fv->journal = g_strdup(path);
    g_mutex_unlock(&fv->lock);
}

/* "detach ua-vf0 on test:///default" to the journal; the lock is held. */
static void
journal_note(FakeVirt *fv, const char *call, const char *alias, VirtConn *conn)
{
    FILE *out = fv->journal ? fopen(fv->journal, "a") : NULL;

    if (out) {
        fprintf(out, "virt %s %s on %s\n", call, alias ? alias : "-", fc(conn)->uri);
        fclose(out);
    }
}

static gboolean
fake_detach_alias(VirtConn *conn, const char *domain, const char *alias, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;
    FakeUnplug how;

    g_mutex_lock(&fv->lock);
    journal_note(fv, "detach", alias, conn);
    d = op_active_domain(conn, FAKE_OP_DETACH_ALIAS, domain, error);
    if (d && !xml_has_alias(d->xml, alias)) {
        /* measured (test-virt-facts, detach/unknown-alias, detach/after-removed) */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED,
                    "internal error: no device found with alias %s", alias);
        d = NULL;
    }
    /* Measured (test-virt-facts, detach/twice; README: a guest with no OS):
     * a repeated detach while the guest has not answered returns
     * 0 and nothing more happens. */
    if (d && !g_hash_table_contains(d->pending, alias)) {
        how = GPOINTER_TO_INT(g_hash_table_lookup(d->unplug, alias));
        how = how ? how - 1 : FAKE_UNPLUG_REMOVED;
        g_hash_table_add(d->pending, g_strdup(alias));
        if (how == FAKE_UNPLUG_REMOVED) {
            event_removed_later(fv, fc(conn)->uri, domain, alias);
        } else if (how == FAKE_UNPLUG_REMOVED_EARLY) {
            event_wait(fv, event_device(fv, fc(conn)->uri, domain, VIRT_EVENT_DEVICE_REMOVED,
                                        alias));
        } else if (how == FAKE_UNPLUG_FAILED) {
            (void)event_device(fv, fc(conn)->uri, domain, VIRT_EVENT_DEVICE_REMOVAL_FAILED,
                               alias);
        }
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

/* The alias an attached device asks for, or NULL. */
static char *
device_alias(const char *device_xml)
{
    g_autoptr(GRegex) re = g_regex_new("<alias\\s+name=['\"]([^'\"]+)['\"]", 0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;

    return g_regex_match(re, device_xml, 0, &match) ? g_match_info_fetch(match, 1) : NULL;
}

static gboolean
fake_attach(VirtConn *conn, const char *domain, const char *device_xml, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    g_autofree char *alias = device_alias(device_xml);
    FakeDomain *d;
    const char *end;

    g_mutex_lock(&fv->lock);
    journal_note(fv, "attach", alias, conn);
    d = op_active_domain(conn, FAKE_OP_ATTACH, domain, error);
    if (d && !alias) {
        /* libvirt would name it ("net1"); the steps always give one. */
        alias = g_strdup_printf("net%u", g_hash_table_size(d->pending) + 100);
    }
    if (d && xml_has_alias(d->xml, alias)) {
        /* measured (test-virt-facts, attach/alias-in-use) */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_CONFIG,
                    "unsupported configuration: non unique alias detected: %s", alias);
        d = NULL;
    }
    if (d && (end = strstr(d->xml, "</devices>"))) {
        char *xml = g_strdup_printf("%.*s%s\n  %s", (int)(end - d->xml), d->xml, device_xml, end);

        g_free(d->xml);
        d->xml = xml;
        (void)event_device(fv, fc(conn)->uri, domain, VIRT_EVENT_DEVICE_ADDED, alias);
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

/* --- events ---------------------------------------------------------------- */

static int
fake_event_register(VirtConn *conn, const char *domain, VirtEventKind kind, VirtEventFunc cb,
                    gpointer data, GDestroyNotify notify, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeWatch *w;
    int id = -1;

    g_mutex_lock(&fv->lock);
    if (domain ? op_domain(conn, FAKE_OP_EVENT_REGISTER, domain, error) != NULL
               : op_begin(conn, FAKE_OP_EVENT_REGISTER, error) != NULL) {
        w = g_new0(FakeWatch, 1);
        w->id = id = fv->next_id++;
        w->uri = g_strdup(fc(conn)->uri);
        w->generation = fc(conn)->generation;
        w->domain = g_strdup(domain);
        w->kind = kind;
        w->cb = cb;
        w->data = data;
        w->notify = notify;
        g_hash_table_insert(fv->watches, GINT_TO_POINTER(id), w);
    }
    g_mutex_unlock(&fv->lock);
    return id;
}

static void
fake_event_deregister(VirtConn *conn, int id)
{
    FakeVirt *fv = fake_of(conn);
    FakeWatch *w;

    g_mutex_lock(&fv->lock);
    w = g_hash_table_lookup(fv->watches, GINT_TO_POINTER(id));
    if (w && id == fv->dispatching) {
        w->dead = TRUE;         /* freed once its callback returned */
        w = NULL;
    } else if (w) {
        (void)g_hash_table_remove(fv->watches, GINT_TO_POINTER(id));
    }
    g_mutex_unlock(&fv->lock);
    if (w)
        fake_watch_free(w);
}

/* --- jobs and migration ------------------------------------------------------ */

static gboolean
fake_job_stats(VirtConn *conn, const char *domain, gboolean completed, VirtJobStats *ret_stats,
               GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_domain(conn, FAKE_OP_JOB_STATS, domain, error);
    if (d && completed)
        *ret_stats = d->completed;
    else if (d && d->job_active)
        *ret_stats = d->job;
    else if (d)
        *ret_stats = (VirtJobStats){ .type = VIR_DOMAIN_JOB_NONE };
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

void
fake_virt_script_migration(FakeVirt *fv, const char *uri, const char *domain, FakeMigrate how,
                           const VirtJobStats *stats, const char *error)
{
    FakeRecord *r;

    g_mutex_lock(&fv->lock);
    r = record_get(host_get(fv, uri), domain);
    r->how = how;
    r->stats = stats ? *stats : (VirtJobStats){ 0 };
    g_free(r->error);
    r->error = g_strdup(error);
    g_mutex_unlock(&fv->lock);
}

void
fake_virt_end_migration(FakeVirt *fv, const char *uri, const char *domain, gboolean ok,
                        const char *error)
{
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = domain_get(fv, uri, domain);
    d->job_end = TRUE;
    d->job_ok = ok;
    g_free(d->job_error);
    d->job_error = g_strdup(error);
    g_cond_broadcast(&fv->cond);
    g_mutex_unlock(&fv->lock);
}

void
fake_virt_migration_iteration(FakeVirt *fv, const char *uri, const char *domain, int iteration)
{
    FakeDomain *d;
    FakeEvent *e;

    g_mutex_lock(&fv->lock);
    d = domain_get(fv, uri, domain);
    d->job.iteration = (guint64)iteration;
    (void)event_queue(fv, uri, domain, VIRT_EVENT_MIGRATION_ITERATION, &e);
    e->ev.iteration = iteration;
    g_mutex_unlock(&fv->lock);
}

gboolean
fake_virt_migrating(FakeVirt *fv, const char *uri, const char *domain)
{
    gboolean active;

    g_mutex_lock(&fv->lock);
    active = domain_get(fv, uri, domain)->job_active;
    g_mutex_unlock(&fv->lock);
    return active;
}

gboolean
fake_virt_last_migration(FakeVirt *fv, const char *uri, const char *domain,
                         FakeMigrateCall *ret_call)
{
    FakeRecord *r;
    gboolean have;

    g_mutex_lock(&fv->lock);
    r = g_hash_table_lookup(host_get(fv, uri)->records, domain);
    have = r && r->last.dest_uri;
    if (have)
        *ret_call = r->last;
    g_mutex_unlock(&fv->lock);
    return have;
}

gboolean
fake_virt_speed(FakeVirt *fv, const char *uri, const char *domain, FakeMigrateCall *ret_call)
{
    FakeRecord *r;

    g_mutex_lock(&fv->lock);
    r = g_hash_table_lookup(host_get(fv, uri)->records, domain);
    if (r)
        *ret_call = r->last;
    g_mutex_unlock(&fv->lock);
    if (r && !ret_call->max_speed_mibps)
        ret_call->max_speed_mibps = VIRT_SPEED_UNCAPPED_MIBPS;
    return r != NULL;
}

static void
migration_record(FakeDomain *d, const char *dest_uri, virTypedParameterPtr params, int n,
                 guint flags)
{
    const char *dest_xml = NULL, *persist_xml = NULL;
    unsigned long long bandwidth = 0;

    (void)virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_DEST_XML, &dest_xml);
    (void)virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_PERSIST_XML, &persist_xml);
    (void)virTypedParamsGetULLong(params, n, VIR_MIGRATE_PARAM_BANDWIDTH, &bandwidth);
    FakeMigrateCall *c = &d->record->last;

    g_free((char *)c->dest_uri);
    g_free((char *)c->dest_xml);
    g_free((char *)c->persist_xml);
    c->dest_uri = g_strdup(dest_uri);
    c->dest_xml = g_strdup(dest_xml);
    c->persist_xml = g_strdup(persist_xml);
    c->flags = flags;
    c->bandwidth_mibps = bandwidth;
    /* libvirt keeps a cap set outside a migration for the next one. */
    if (bandwidth || !c->max_speed_mibps)
        c->max_speed_mibps = bandwidth ? bandwidth : VIRT_SPEED_UNCAPPED_MIBPS;
    c->speed_changes = 0;
    c->speed_at_suspend = 0;
    c->postcopy_started = FALSE;
}

/* Why a migration of @d from @src to @dest cannot start (lock held). */
static gboolean
migration_check(FakeDomain *d, FakeHost *dest, const char *dest_uri, GError **error)
{
    FakeDomain *there = dest ? g_hash_table_lookup(dest->domains, d->name) : NULL;
    g_autofree char *server = NULL;

    if (d->job_active) {
        /* assumed: libvirt waits 30 s for the job lock, then says so */
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_TIMEOUT,
                            "Timed out during operation: cannot acquire state change lock "
                            "(held by monitor=remoteDispatchDomainMigratePerform3Params)");
        return FALSE;
    }
    if (!dest || !dest->up) {
        server = uri_server(dest_uri);
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED,
                    "unable to connect to server at '%s': Connection refused", server);
        return FALSE;
    }
    if (there && domain_active(there)) {
        /* assumed: libvirt's check on the destination */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is already active", d->name);
        return FALSE;
    }
    return TRUE;
}

/* Waits for a held migration's end (lock held). FALSE with @error when it
 * failed, was aborted or lost its connection. */
static gboolean
migration_wait(FakeVirt *fv, VirtConn *conn, FakeDomain *d, FakeHost *src, const char *dest_uri,
               GError **error)
{
    FakeHost *dest;

    for (;;) {
        dest = g_hash_table_lookup(fv->hosts, dest_uri);
        if (d->job_aborted) {
            /* measured (tests/lab/test-virt-facts) */
            g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_ABORTED,
                                "operation aborted: job 'migration out' canceled by client");
            return FALSE;
        }
        if (!src->up || src->generation != fc(conn)->generation) {
            g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED,
                                "internal error: client socket is closed");
            return FALSE;
        }
        if (!dest->up || (d->job_end && !d->job_ok)) {
            g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED,
                                /* assumed: worded like the measured abort */
                                d->job_error ? d->job_error
                                             : "operation failed: job 'migration out' "
                                               "unexpectedly failed");
            return FALSE;
        }
        if (d->job_end)
            return TRUE;
        g_cond_wait(&fv->cond, &fv->lock);
    }
}

/* The guest moves (lock held): paused there, suspended here, resumed there,
 * stopped here; the source's JOB_COMPLETED. Returns the last event's number.
 * Measured (test-virt-facts, migrate/events): this order, all delivered
 * before the migrate call returns. With VIR_MIGRATE_PAUSED it stays paused
 * there and says so (migrate/paused-events): SUSPENDED/PAUSED, not
 * RESUMED. */
static guint64
migration_move(FakeVirt *fv, FakeHost *src, FakeDomain *d, FakeHost *dest, guint flags)
{
    const FakeMigrateCall *call = &d->record->last;
    FakeDomain *moved = domain_new(d->name, call->dest_xml ? call->dest_xml : d->xml,
                                   VIR_DOMAIN_RUNNING);
    char *name = d->name;
    FakeEvent *e;
    guint64 seq;

    moved->reason = VIR_DOMAIN_RUNNING_MIGRATED;
    if (flags & VIR_MIGRATE_PAUSED) {
        moved->state = VIR_DOMAIN_PAUSED;
        moved->reason = VIR_DOMAIN_PAUSED_USER;
    }
    if (flags & VIR_MIGRATE_PERSIST_DEST) {
        moved->persistent = TRUE;
        moved->inactive_xml = g_strdup(call->persist_xml ? call->persist_xml
                                       : d->inactive_xml   ? d->inactive_xml
                                                           : moved->xml);
    }
    moved->completed = d->job;
    moved->completed.type = VIR_DOMAIN_JOB_COMPLETED;
    host_put(dest, moved);
    (void)event_lifecycle(fv, dest->uri, name, VIR_DOMAIN_EVENT_STARTED,
                          VIR_DOMAIN_EVENT_STARTED_MIGRATED);
    (void)event_lifecycle(fv, src->uri, name, VIR_DOMAIN_EVENT_SUSPENDED,
                          VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED);
    if (flags & VIR_MIGRATE_PAUSED)
        (void)event_lifecycle(fv, dest->uri, name, VIR_DOMAIN_EVENT_SUSPENDED,
                              VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    else
        (void)event_lifecycle(fv, dest->uri, name, VIR_DOMAIN_EVENT_RESUMED,
                              call->postcopy_started ? VIR_DOMAIN_EVENT_RESUMED_POSTCOPY
                                                     : VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    (void)event_lifecycle(fv, src->uri, name, VIR_DOMAIN_EVENT_STOPPED,
                          VIR_DOMAIN_EVENT_STOPPED_MIGRATED);
    seq = event_queue(fv, src->uri, name, VIRT_EVENT_JOB_COMPLETED, &e);
    e->stats = moved->completed;
    e->ev.stats = &e->stats;
    d->job_active = FALSE;
    if (d->persistent && !(flags & VIR_MIGRATE_UNDEFINE_SOURCE)) {
        d->state = VIR_DOMAIN_SHUTOFF;
        d->reason = VIR_DOMAIN_SHUTOFF_MIGRATED;
        d->completed = moved->completed;
    } else {
        (void)g_hash_table_remove(src->domains, name);
    }
    return seq;
}

static gboolean
fake_migrate(VirtConn *conn, const char *domain, const char *dest_uri, virTypedParameterPtr params,
             int nparams, guint flags, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeHost *src, *dest;
    FakeDomain *d;
    gboolean ok;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_MIGRATE, domain, error);
    src = host_get(fv, fc(conn)->uri);
    dest = g_hash_table_lookup(fv->hosts, dest_uri);
    ok = d && migration_check(d, dest, dest_uri, error);
    if (ok) {
        migration_record(d, dest_uri, params, nparams, flags);
        d->job = d->record->stats;
        d->job.type = VIR_DOMAIN_JOB_UNBOUNDED;
        d->job_active = TRUE;
        d->job_end = d->job_aborted = FALSE;
        if (d->record->how == FAKE_MIGRATE_FAIL) {
            d->job_end = TRUE;
            d->job_ok = FALSE;
            g_free(d->job_error);
            d->job_error = g_strdup(d->record->error);
        } else if (d->record->how == FAKE_MIGRATE_COMPLETE) {
            d->job_end = d->job_ok = TRUE;
        } else if (d->record->how == FAKE_MIGRATE_HOLD_ONCE) {
            d->record->how = FAKE_MIGRATE_COMPLETE;
        }
        ok = migration_wait(fv, conn, d, src, dest_uri, error);
        if (ok)
            event_wait(fv, migration_move(fv, src, d, host_get(fv, dest_uri), flags));
        else
            d->job_active = FALSE;
    }
    g_mutex_unlock(&fv->lock);
    return ok;
}

static gboolean
fake_abort_job(VirtConn *conn, const char *domain, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_ABORT_JOB, domain, error);
    if (d && !d->job_active) {  /* measured (test-virt-facts, job/abort-without-job) */
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                            "Requested operation is not valid: no job is active on the domain");
        d = NULL;
    }
    if (d) {
        d->job_aborted = TRUE;
        g_cond_broadcast(&fv->cond);
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static gboolean
fake_set_max_downtime(VirtConn *conn, const char *domain, guint64 downtime_ms, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_SET_MAX_DOWNTIME, domain, error);
    if (d)
        d->record->last.max_downtime_ms = downtime_ms;
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static gboolean
fake_start_postcopy(VirtConn *conn, const char *domain, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_START_POSTCOPY, domain, error);
    /* The second refusal is measured (test-virt-facts); the first assumed. */
    if (d && !d->job_active) {
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                            "Requested operation is not valid: post-copy can only be started "
                            "while outgoing migration is in progress");
        d = NULL;
    } else if (d && !(d->record->last.flags & VIR_MIGRATE_POSTCOPY)) {
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                            "Requested operation is not valid: switching to post-copy requires "
                            "migration to be started with VIR_MIGRATE_POSTCOPY flag");
        d = NULL;
    }
    if (d)
        d->record->last.postcopy_started = TRUE;
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

/* Pauses (@pause) or resumes the domain, with libvirt's event. */
static gboolean
fake_pause(VirtConn *conn, const char *domain, gboolean pause, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, pause ? FAKE_OP_SUSPEND : FAKE_OP_RESUME, domain, error);
    if (d && !pause && d->state == VIR_DOMAIN_RUNNING) {
        /* measured (test-virt-facts, resume/running) */
        g_set_error_literal(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is already running");
        d = NULL;
    }
    if (d && pause)
        d->record->last.speed_at_suspend = d->record->last.max_speed_mibps;
    if (d && pause && d->state != VIR_DOMAIN_PAUSED) {
        d->state = VIR_DOMAIN_PAUSED;
        d->reason = VIR_DOMAIN_PAUSED_USER;
        (void)event_lifecycle(fv, fc(conn)->uri, domain, VIR_DOMAIN_EVENT_SUSPENDED,
                              VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    } else if (d && !pause) {
        d->state = VIR_DOMAIN_RUNNING;
        d->reason = VIR_DOMAIN_RUNNING_UNPAUSED;
        (void)event_lifecycle(fv, fc(conn)->uri, domain, VIR_DOMAIN_EVENT_RESUMED,
                              VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static gboolean
fake_set_max_speed(VirtConn *conn, const char *domain, guint64 mibps, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_SET_MAX_SPEED, domain, error);
    if (d && mibps > VIRT_SPEED_UNCAPPED_MIBPS) {
        /* measured (virsh migrate-setspeed, libvirt 9.0): VIR_ERR_OVERFLOW */
        g_set_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED,
                    "numerical overflow: bandwidth must be less than %llu",
                    VIRT_SPEED_UNCAPPED_MIBPS + 1);
        d = NULL;
    }
    if (d) {
        d->record->last.max_speed_mibps = mibps;
        d->record->last.speed_changes++;
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static gboolean
fake_suspend(VirtConn *conn, const char *domain, GError **error)
{
    return fake_pause(conn, domain, TRUE, error);
}

static gboolean
fake_resume(VirtConn *conn, const char *domain, GError **error)
{
    return fake_pause(conn, domain, FALSE, error);
}

void
fake_virt_set_dirty_rate(FakeVirt *fv, const char *uri, const char *domain, gint64 mibps)
{
    g_mutex_lock(&fv->lock);
    domain_get(fv, uri, domain)->dirty_mibps = mibps;
    g_mutex_unlock(&fv->lock);
}

static gboolean
fake_start_dirty_rate(VirtConn *conn, const char *domain, int seconds, GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_active_domain(conn, FAKE_OP_START_DIRTY_RATE, domain, error);
    if (d)
        d->dirty_started = TRUE;
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static gboolean
fake_get_dirty_rate(VirtConn *conn, const char *domain, gboolean *ret_measured, gint64 *ret_mibps,
                    GError **error)
{
    FakeVirt *fv = fake_of(conn);
    FakeDomain *d;

    g_mutex_lock(&fv->lock);
    d = op_domain(conn, FAKE_OP_GET_DIRTY_RATE, domain, error);
    if (d) {
        *ret_measured = d->dirty_started && d->dirty_mibps >= 0;
        *ret_mibps = *ret_measured ? d->dirty_mibps : 0;
    }
    g_mutex_unlock(&fv->lock);
    return d != NULL;
}

static const VirtOps fake_ops_template = {
    .name = "fake",
    .open = fake_open,
    .wrap = fake_wrap,
    .free = fake_free,
    .get_info = fake_get_info,
    .get_xml = fake_get_xml,
    .list_running = fake_list_running,
    .detach_alias = fake_detach_alias,
    .attach = fake_attach,
    .event_register = fake_event_register,
    .event_deregister = fake_event_deregister,
    .job_stats = fake_job_stats,
    .migrate = fake_migrate,
    .abort_job = fake_abort_job,
    .set_max_downtime = fake_set_max_downtime,
    .set_max_speed = fake_set_max_speed,
    .start_postcopy = fake_start_postcopy,
    .suspend = fake_suspend,
    .resume = fake_resume,
    .start_dirty_rate = fake_start_dirty_rate,
    .get_dirty_rate = fake_get_dirty_rate,
};
