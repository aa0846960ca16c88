/* The source's NIC steps: the object, its "nics" record (and the object
 * rebuilt from it after a restart), the worker that reads the guest's XML,
 * and which step runs in which state of the job. The steps themselves are
 * in src-nic-{classify,reserve,unplug,migrate,replug,rollback}.c, the calls
 * to the destination's migd in src-nic-peer.c. */
#include <config.h>

#include <string.h>

#include "jsonutil.h"
#include "src-nic-priv.h"

static void
nic_free(gpointer data)
{
    Nic *n = data;

    dom_nic_free(n->dom);
    g_free(n->dest_address);
    g_free(n->dest_pool);
    g_free(n->dest_xml);
    g_ptr_array_unref(n->plugins);
    g_free(n->chosen);
    g_free(n);
}

/* This migd's URL as the destination may check it against its [peer.NAME]
 * entries: http(s)://ADDRESS:PORT of the TCP listener, when it names one
 * address (a wildcard names none). */
static char *
nic_source_url(const MigdConf *conf)
{
    const char *scheme = conf->tls_cert ? "https" : "http";
    g_autofree char *host = NULL;
    guint16 port = 0;

    if (!conf->tcp_listen || !conf_parse_host_port(conf->tcp_listen, &host, &port, NULL) ||
        strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        return NULL;
    return strchr(host, ':') ? g_strdup_printf("%s://[%s]:%u", scheme, host, port)
                             : g_strdup_printf("%s://%s:%u", scheme, host, port);
}

static void nic_steps_load(NicSteps *ns, const Job *job);

/* Each pool's PF, "" for an emulated pool, into @pfs, and each sriov
 * pool's sysfs root into @roots: what the plugins are told, and where a
 * VF's place on its PF is read. */
static void
nic_pool_pfs(const MigdConf *conf, GHashTable **pfs, GHashTable **roots)
{
    *pfs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    *roots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; conf->pools && i < conf->pools->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(conf->pools, i);
        gboolean sriov = pc->type == POOL_SRIOV && pc->pf;

        g_hash_table_replace(*pfs, g_strdup(pc->name), g_strdup(sriov ? pc->pf : ""));
        if (sriov && pc->sysfs_root)
            g_hash_table_replace(*roots, g_strdup(pc->name), g_strdup(pc->sysfs_root));
    }
}

NicSteps *
nic_steps_new(Engine *engine, Virt *virt, const MigdConf *conf, const Job *job)
{
    NicSteps *ns = g_new0(NicSteps, 1);

    ns->engine = engine;
    ns->virt = virt;
    ns->token = g_strdup(conf->peer_token);
    ns->unplug_timeout_s = conf->nic_unplug_timeout_s;
    ns->replug_timeout_s = conf->nic_replug_timeout_s;
    ns->replug_attempts = conf->nic_replug_attempts;
    ns->lease_ttl_s = conf->nic_lease_ttl_s;
    ns->retry_every_ms = NIC_RETRY_MS;
    ns->retry_for_ms = NIC_RETRY_FOR_MS;
    ns->busy_every_ms = NIC_BUSY_RETRY_MS;
    ns->busy_for_ms = NIC_BUSY_FOR_MS;
    ns->verify = g_strdup(conf->nic_verify);
    ns->agent_dir = g_strdup(conf->nic_agent_socket_dir);
    ns->source_url = nic_source_url(conf);
    ns->id = g_strdup(job->id);
    ns->domain = g_strdup(job->domain);
    ns->migd_url = g_strdup(job->dest.migd_url);
    ns->has_alternatives = json_array_size(json_object_get(job->dest.choice, "remaining")) > 0;
    ns->strategy = NIC_STRATEGY_NONE;
    ns->nics = g_ptr_array_new_with_free_func(nic_free);
    ns->cancellable = g_cancellable_new();
    ns->unplug_ack_ms = ns->replug_ms = ns->verify_ms = ns->no_vf_window_ms = -1;
    ns->guest_outage_ms = -1;
    ns->pre_switchover_ms = ns->suspend_ms = ns->stop_copy_ms = ns->resume_ms = -1;
    ns->post_switchover_ms = ns->paused_ms = ns->hold_ms = -1;
    ns->plugin_timeout_ms = conf->plugin_call_timeout_s * 1000;
    ns->max_state_bytes = conf->plugin_max_state_bytes;
    nic_pool_pfs(conf, &ns->pool_pf, &ns->pool_sysfs);
    if (json_is_object(job->nics))
        nic_steps_load(ns, job);
    return ns;
}

void
nic_steps_free(NicSteps *ns)
{
    if (!ns)
        return;
    if (ns->alive)
        *ns->alive = FALSE;
    g_cancellable_cancel(ns->cancellable);
    g_clear_object(&ns->cancellable);
    g_clear_pointer(&ns->hp, hotplug_cancel);
    nic_call_abandon(ns);
    g_clear_pointer(&ns->release, nic_release_free);
    g_clear_handle_id(&ns->timer, g_source_remove);
    g_clear_handle_id(&ns->renew_source, g_source_remove);
    g_ptr_array_unref(ns->nics);
    g_free(ns->token);
    g_free(ns->hold_error);
    g_free(ns->verify);
    g_free(ns->agent_dir);
    g_free(ns->source_url);
    g_free(ns->id);
    g_free(ns->domain);
    g_free(ns->migd_url);
    g_free(ns->why);
    g_free(ns->xml_before);
    g_free(ns->restore_error);
    g_free(ns->dest_xml_param);
    g_free(ns->persist_xml_param);
    g_hash_table_unref(ns->pool_pf);
    g_hash_table_unref(ns->pool_sysfs);
    g_free(ns);
}

void
nic_steps_set_plugins(NicSteps *ns, PluginSet *plugins)
{
    ns->plugins = plugins;
}

/* --- the record ---------------------------------------------------------------- */

static json_t *
nic_to_json(const Nic *n)
{
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    g_autoptr(json_t) described = NULL;
    json_t *device;

    g_ptr_array_add(one, n->dom);
    described = domxml_nics_to_json(one);
    device = json_incref(json_array_get(described, 0));
    json_object_set_new(device, "strategy", json_string(nic_strategy_to_string(n->strategy)));
    json_object_set_new(device, "state", json_string(nic_state_to_string(n->state)));
    json_object_set_new(device, "destination",
                        n->dest_address ? json_pack("{s:s,s:s?}", "address", n->dest_address,
                                                    "pool", n->dest_pool)
                                        : json_null());
    json_object_set_new(device, "xml", json_string_or_null(n->dom->xml));
    json_object_set_new(device, "chosen", json_string_or_null(n->chosen));
    if (n->detach_pending)
        json_object_set_new(device, "detach_pending", json_true());
    json_object_set_new(device, "plugins", nic_state_to_json(n));
    return device;
}

json_t *
nic_steps_to_json(NicSteps *ns)
{
    json_t *devices = json_array();
    gboolean held = ns->reservation == NIC_RES_HELD;

    for (guint i = 0; i < ns->nics->len; i++)
        json_array_append_new(devices, nic_to_json(nic_at(ns, i)));
    return json_pack("{s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "strategy",
                     nic_strategy_to_string(ns->strategy), "why", ns->why ? ns->why : "",
                     "reserved", held, "reservation",
                     held ? json_pack("{s:s,s:s}", "id", ns->id, "migd_url", ns->migd_url)
                          : json_null(),
                     "devices", devices, "no_vf_window_ms",
                     json_count_or_null(ns->no_vf_window_ms), "unplug_ack_ms",
                     json_count_or_null(ns->unplug_ack_ms), "replug_ms",
                     json_count_or_null(ns->replug_ms), "verify_ms",
                     json_count_or_null(ns->verify_ms), "guest_outage_ms",
                     json_count_or_null(ns->guest_outage_ms), "paused_ms",
                     json_count_or_null(ns->paused_ms), "pause", nic_pause_to_json(ns),
                     "stop_copy_bytes", (json_int_t)nic_state_stop_copy_bytes(ns));
}

static char *
json_dup(json_t *object, const char *key)
{
    return g_strdup(json_string_value(json_object_get(object, key)));
}

static gint64
json_ms_value(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);

    return json_is_integer(value) ? json_integer_value(value) : -1;
}

static int
nic_kind_from_string(const char *name)
{
    for (int k = 0; k < DOM_NIC_KIND_LAST; k++) {
        if (g_strcmp0(dom_nic_kind_to_string(k), name) == 0)
            return k;
    }
    return -1;
}

/* One device of the record; NULL when it is not one this migd wrote. */
static Nic *
nic_from_json(json_t *device)
{
    g_autoptr(DomNic) dom = g_new0(DomNic, 1);
    json_t *dest = json_object_get(device, "destination");
    int kind = nic_kind_from_string(json_string_value(json_object_get(device, "kind")));
    int strategy = nic_strategy_from_string(json_string_value(json_object_get(device, "strategy")));
    int state = nic_state_from_string(json_string_value(json_object_get(device, "state")));
    Nic *n;

    dom->alias = json_dup(device, "alias");
    if (!dom->alias || kind < 0 || strategy < 0 || state < 0)
        return NULL;
    dom->kind = kind;
    dom->mac = json_dup(device, "mac");
    dom->address = json_dup(device, "address");
    dom->source_dev = json_dup(device, "source_dev");
    dom->model = json_dup(device, "model");
    dom->vlan = (guint)json_integer_value(json_object_get(device, "vlan"));
    dom->pool = json_dup(device, "pool");
    dom->standby_alias = json_dup(device, "standby_alias");
    dom->standby = json_dup(device, "standby");
    dom->xml = json_dup(device, "xml");
    n = g_new0(Nic, 1);
    n->plugins = g_ptr_array_new_with_free_func(nic_plugin_free);
    n->dom = g_steal_pointer(&dom);
    n->strategy = strategy;
    n->state = state;
    n->dest_address = json_dup(dest, "address");
    n->dest_pool = json_dup(dest, "pool");
    n->chosen = json_dup(device, "chosen");
    n->detach_sent = n->detach_pending = json_is_true(json_object_get(device, "detach_pending"));
    nic_state_from_json(n, device);
    return n;
}

/* After a restart: the NIC steps as the record left them. Whether the
 * destination holds a reservation is known only when its 201 was
 * recorded; from the reserving step on, it may hold one anyway (the
 * answer was lost with the old migd), and a release asks to be sure. */
static void
nic_steps_load(NicSteps *ns, const Job *job)
{
    json_t *record = job->nics;
    int strategy = nic_strategy_from_string(json_string_value(json_object_get(record, "strategy")));
    size_t i;
    json_t *device;

    ns->rebuilt = TRUE;
    ns->strategy = strategy < 0 ? NIC_STRATEGY_NONE : strategy;
    ns->why = json_dup(record, "why");
    json_array_foreach(json_object_get(record, "devices"), i, device) {
        Nic *n = nic_from_json(device);

        if (n)
            g_ptr_array_add(ns->nics, n);
        else
            g_warning("Job %s: device %zu of its nics record is not readable; the NIC steps "
                      "after the restart leave it alone", job->id, i);
    }
    if (json_is_true(json_object_get(record, "reserved")))
        ns->reservation = NIC_RES_HELD;
    else if (job->state >= JOB_RESERVING && ns->migd_url)
        ns->reservation = NIC_RES_ASKED;
    ns->no_vf_window_ms = json_ms_value(record, "no_vf_window_ms");
    ns->unplug_ack_ms = json_ms_value(record, "unplug_ack_ms");
    ns->replug_ms = json_ms_value(record, "replug_ms");
    ns->verify_ms = json_ms_value(record, "verify_ms");
    ns->guest_outage_ms = json_ms_value(record, "guest_outage_ms");
    ns->paused_ms = json_ms_value(record, "paused_ms");
    nic_pause_from_json(ns, json_object_get(record, "pause"));
}

/* --- feeding the job -------------------------------------------------------- */

gboolean
nic_feed(NicSteps *ns, JobEventKind kind, const char *reason, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    g_autoptr(json_t) nics = nic_steps_to_json(ns);
    gboolean *outer = ns->alive;
    gboolean alive = TRUE;
    JobEvent ev;
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    engine_event_init(&ev, kind);
    ev.reason = reason;
    ev.message = message;
    ev.nics = nics;
    ns->alive = &alive;
    engine_feed(ns->engine, ns->id, &ev);
    if (!alive) {
        if (outer)
            *outer = FALSE;
        return FALSE;
    }
    ns->alive = outer;
    return TRUE;
}

NicGuard *
nic_guard_new(NicSteps *ns)
{
    NicGuard *g = g_new0(NicGuard, 1);

    g->ns = ns;
    g->alive = g_object_ref(ns->cancellable);
    return g;
}

NicSteps *
nic_guard_end(NicGuard *g)
{
    NicSteps *ns = g_cancellable_is_cancelled(g->alive) ? NULL : g->ns;

    g_object_unref(g->alive);
    g_free(g);
    return ns;
}

void
nic_step_failed(NicSteps *ns, const char *reason)
{
    (void)nic_feed(ns, JOB_EV_STEP_FAILED, reason, NULL);
}

/* A step with nothing to do finishes from the loop, not inside the
 * engine's own call. */
static gboolean
nic_noop_idle(gpointer data)
{
    NicSteps *ns = data;

    ns->timer = 0;
    if (ns->noop_message)
        nic_step_done(ns, "%s", ns->noop_message);
    else
        (void)nic_feed(ns, JOB_EV_STEP_DONE, NULL, NULL);
    return G_SOURCE_REMOVE;
}

void
nic_noop(NicSteps *ns, const char *message)
{
    g_clear_handle_id(&ns->timer, g_source_remove);
    ns->noop_message = message;
    ns->timer = g_idle_add(nic_noop_idle, ns);
}

/* --- reading the guest's XML in a worker -------------------------------------- */

typedef struct {
    VirtConn *conn;
    char *domain;
    unsigned int live_flags;
    gboolean inactive;
    NicXmlDone done;
    NicSteps *ns;           /* valid unless the task's cancellable says otherwise */
    NicXml xml;
} NicXmlRead;

static gint nic_xml_reading;

guint
nic_xml_reads_outstanding(void)
{
    return (guint)g_atomic_int_get(&nic_xml_reading);
}

static void
nic_xml_read_free(gpointer data)
{
    NicXmlRead *r = data;

    g_atomic_int_dec_and_test(&nic_xml_reading);
    virt_conn_unref(r->conn);
    g_free(r->domain);
    g_free(r->xml.live);
    g_free(r->xml.inactive);
    g_free(r->xml.error);
    g_free(r);
}

static void
nic_xml_read_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    NicXmlRead *r = data;
    const VirtOps *ops = r->conn ? virt_conn_ops(r->conn) : NULL;
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info = { 0 };

    if (!ops) {
        r->xml.error = g_strdup("migd is not connected to libvirt");
        return;
    }
    r->xml.live = ops->get_xml(r->conn, r->domain, r->live_flags, &error);
    if (r->xml.live && r->inactive && ops->get_info(r->conn, r->domain, &info, &error))
        r->xml.persistent = info.persistent;
    if (r->xml.persistent)
        r->xml.inactive = ops->get_xml(r->conn, r->domain, VIR_DOMAIN_XML_INACTIVE |
                                                               VIR_DOMAIN_XML_SECURE |
                                                               VIR_DOMAIN_XML_MIGRATABLE,
                                       &error);
    if (error)
        r->xml.error = g_strdup(error->message);
}

static void
nic_xml_read_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    NicXmlRead *r;

    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
        return;     /* the NIC steps went away meanwhile */
    r = g_task_get_task_data(G_TASK(result));
    r->done(r->ns, &r->xml);
}

void
nic_read_xml(NicSteps *ns, unsigned int live_flags, gboolean inactive, NicXmlDone done)
{
    g_autoptr(GTask) task = g_task_new(NULL, ns->cancellable, nic_xml_read_done, NULL);
    NicXmlRead *r = g_new0(NicXmlRead, 1);

    g_atomic_int_inc(&nic_xml_reading);
    r->conn = virt_conn(ns->virt);
    r->domain = g_strdup(ns->domain);
    r->live_flags = live_flags;
    r->inactive = inactive;
    r->done = done;
    r->ns = ns;
    g_task_set_task_data(task, r, nic_xml_read_free);
    g_task_run_in_thread(task, nic_xml_read_thread);
}

/* --- the steps ---------------------------------------------------------------- */

void
nic_steps_dest_resumed(NicSteps *ns)
{
    /* The no-VF window is measured up to the replug's answer (src-nic-replug.c). */
    (void)ns;
}

/* After a restart in verifying, the replug's outcome may not be in the
 * record yet: a NIC still unplugged says so. */
static gboolean
nic_replug_unknown(NicSteps *ns)
{
    for (guint i = 0; ns->rebuilt && !ns->replug_asked && i < ns->nics->len; i++) {
        if (nic_at(ns, i)->state == NIC_UNPLUGGED)
            return TRUE;
    }
    return FALSE;
}

void
nic_steps_run(NicSteps *ns, Job *job)
{
    gboolean handled = ns->strategy != NIC_STRATEGY_NONE;
    gboolean held = ns->reservation == NIC_RES_HELD;

    switch (job->state) {
    case JOB_RESERVING:
        /* The incoming slot is the destination's to give, NICs or not. */
        if (ns->migd_url)
            nic_reserve(ns);
        else
            nic_noop(ns, "the destination has no migd_url, so no incoming slot was asked for");
        break;
    case JOB_PREPARING:
        if (handled && held)
            nic_prepare(ns);
        else
            nic_noop(ns, NULL);
        break;
    case JOB_UNPLUGGING:
        nic_unplug(ns, job);
        break;
    case JOB_REPLUGGING:
        if (handled && held)
            nic_replug(ns);
        else
            nic_noop(ns, NULL);
        break;
    case JOB_SWITCHOVER:
        /* A paused guest waits on the destination for its migd to resume
         * it; otherwise the destination saw the resume too and plugs in by
         * itself. */
        if (handled && held && nic_pause_any(ns)) {
            nic_pause_resume_there(ns);
            break;
        }
        nic_noop(ns, handled && held && ns->nics->len
                         ? "the destination's migd plugs the leased VFs in on its own"
                         : NULL);
        break;
    case JOB_VERIFYING:
        /* The replug step's answer carried the verification, unless migd
         * restarted before it was recorded. */
        if (handled && held && nic_replug_unknown(ns))
            nic_replug(ns);
        else
            nic_noop(ns, NULL);
        break;
    case JOB_ROLLING_BACK:
        nic_rollback(ns);
        break;
    default:
        nic_noop(ns, NULL);
        break;
    }
}

void
nic_steps_finish(NicSteps *ns)
{
    nic_renew_stop(ns);
    nic_call_abandon(ns);
    /* An undone job's plugins undo what they did here. */
    if (ns->rolling_back)
        nic_state_abort(ns);
    /* Nobody waits for the outcome: the job is over; the log tells it. */
    nic_release(ns, NULL);
}
