/* The source's NIC steps. Everything the destination does goes through its
 * migd (peer.c); everything here goes through libvirt (hotplug.c). */
#include <config.h>

#include <libvirt/virterror.h>
#include <string.h>

#include "domxml.h"
#include "error.h"
#include "hotplug.h"
#include "jsonutil.h"
#include "nic-types.h"
#include "nicsteps.h"
#include "peer.h"
#include "pool.h"
#include "verify.h"

/* Peer calls wait this long for an answer; the replug call for the whole
 * replug and its retries. */
#define NIC_PEER_TIMEOUT_MS 10000
/* A busy destination is asked again this often. */
#define NIC_BUSY_RETRY_MS 1000

typedef struct {
    DomNic *dom;
    const char *strategy;   /* static: "unplug" or "native" */
    NicState state;
    char *dest_address;
    char *dest_pool;
    char *dest_xml;
} Nic;

struct _NicSteps {
    Engine *engine;
    Virt *virt;
    /* From migd.conf when the job started: a reload must not change a
     * running job's timeouts under it. */
    char *token;
    guint unplug_timeout_s, replug_timeout_s, replug_attempts, lease_ttl_s;
    char *verify;
    char *agent_dir;
    char *id;
    char *domain;
    char *migd_url;
    char *strategy;         /* unplug, native or none */
    char *why;
    GPtrArray *nics;        /* Nic* */
    char *xml_before;       /* the live XML before anything was unplugged */
    gboolean reserved;
    guint index;            /* the NIC being unplugged or restored */
    Hotplug *hp;
    guint timer;            /* a busy retry, or a step with nothing to do */
    const char *noop_message;   /* static */
    guint renew_source;
    gboolean busy_noted;
    GCancellable *cancellable;
    gint64 unplug_start_us, resumed_us;     /* monotonic; 0: not yet */
    gint64 unplug_ack_ms, replug_ms, verify_ms, no_vf_window_ms, guest_outage_ms;   /* -1: none */
};

static void
nic_free(gpointer data)
{
    Nic *n = data;

    dom_nic_free(n->dom);
    g_free(n->dest_address);
    g_free(n->dest_pool);
    g_free(n->dest_xml);
    g_free(n);
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
    ns->verify = g_strdup(conf->nic_verify);
    ns->agent_dir = g_strdup(conf->nic_agent_socket_dir);
    ns->id = g_strdup(job->id);
    ns->domain = g_strdup(job->domain);
    ns->migd_url = g_strdup(job->dest.migd_url);
    ns->strategy = g_strdup("none");
    ns->nics = g_ptr_array_new_with_free_func(nic_free);
    ns->cancellable = g_cancellable_new();
    ns->unplug_ack_ms = ns->replug_ms = ns->verify_ms = ns->no_vf_window_ms = -1;
    ns->guest_outage_ms = -1;
    return ns;
}

void
nic_steps_free(NicSteps *ns)
{
    if (!ns)
        return;
    g_cancellable_cancel(ns->cancellable);
    g_clear_object(&ns->cancellable);
    g_clear_pointer(&ns->hp, hotplug_cancel);
    g_clear_handle_id(&ns->timer, g_source_remove);
    g_clear_handle_id(&ns->renew_source, g_source_remove);
    g_ptr_array_unref(ns->nics);
    g_free(ns->token);
    g_free(ns->verify);
    g_free(ns->agent_dir);
    g_free(ns->id);
    g_free(ns->domain);
    g_free(ns->migd_url);
    g_free(ns->strategy);
    g_free(ns->why);
    g_free(ns->xml_before);
    g_free(ns);
}

static json_t *
json_ms(gint64 ms)
{
    return ms >= 0 ? json_integer(ms) : json_null();
}

json_t *
nic_steps_to_json(NicSteps *ns)
{
    json_t *devices = json_array();

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = g_ptr_array_index(ns->nics, i);
        g_autoptr(GPtrArray) one = g_ptr_array_new();
        g_autoptr(json_t) described = NULL;
        json_t *device;

        g_ptr_array_add(one, n->dom);
        described = domxml_nics_to_json(one);
        device = json_incref(json_array_get(described, 0));
        json_object_set_new(device, "strategy", json_string(n->strategy));
        json_object_set_new(device, "state", json_string(nic_state_to_string(n->state)));
        json_object_set_new(device, "destination",
                            n->dest_address ? json_pack("{s:s,s:s}", "address", n->dest_address,
                                                        "pool", n->dest_pool)
                                            : json_null());
        json_array_append_new(devices, device);
    }
    return json_pack("{s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "strategy", ns->strategy, "why",
                     ns->why ? ns->why : "", "reserved", ns->reserved, "devices", devices,
                     "no_vf_window_ms", json_ms(ns->no_vf_window_ms), "unplug_ack_ms",
                     json_ms(ns->unplug_ack_ms), "replug_ms", json_ms(ns->replug_ms), "verify_ms",
                     json_ms(ns->verify_ms), "guest_outage_ms", json_ms(ns->guest_outage_ms));
}

/* --- classifying ------------------------------------------------------------ */

static const char *
nic_pool_lookup(DomNicKind kind, const char *address, const char *model, gpointer data)
{
    return pool_set_lookup(kind, address, model, data);
}

/* The strategy for @nic under the job's request, or NULL with @ret_refusal. */
static const char *
nic_choose(const Job *job, PoolSet *pools, const DomNic *nic, char **ret_refusal)
{
    gboolean vouched = nic->pool && pool_set_is_native(pools, nic->pool);

    if (!nic->pool) {
        *ret_refusal = g_strdup_printf("%s's passthrough device %s (%s) belongs to no pool in "
                                       "migd.conf, so no VF can be found for it on the "
                                       "destination", job->domain, nic->alias,
                                       nic->address ? nic->address : "no address");
        return NULL;
    }
    if (strcmp(job->strategy, "native") == 0 && !vouched) {
        *ret_refusal = g_strdup_printf("strategy native was asked for, but %s (pool %s) is not "
                                       "vouched for as able to migrate (native = true in "
                                       "[pool.%s])", nic->alias, nic->pool, nic->pool);
        return NULL;
    }
    if (strcmp(job->strategy, "native") == 0 ||
        (strcmp(job->strategy, "auto") == 0 && vouched))
        return "native";
    if (!nic->standby_alias) {
        *ret_refusal = g_strdup_printf("%s has no standby NIC for %s (no virtio NIC with MAC %s "
                                       "and <teaming type='persistent'/>, and no bond pair in "
                                       "its metadata), so unplugging it would cut the guest off "
                                       "the network", job->domain, nic->alias,
                                       nic->mac ? nic->mac : "(none)");
        return NULL;
    }
    return "unplug";
}

gboolean
nic_steps_classify(NicSteps *ns, const MigdConf *conf, virDomainPtr dom, const Job *job,
                   gboolean *ret_postcopy_forbidden, char **ret_refusal, char **ret_summary)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(PoolSet) pools = pool_set_new(conf->pools);
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GError) error = NULL;
    guint native = 0;

    *ret_postcopy_forbidden = FALSE;
    if (strcmp(job->strategy, "none") == 0) {
        ns->why = g_strdup("strategy none was asked for: passthrough NICs are not handled");
        *ret_summary = g_strdup(ns->why);
        return TRUE;
    }
    ns->xml_before = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
    found = xml ? domxml_find_nics(xml, nic_pool_lookup, pools, &error) : NULL;
    if (!found) {
        *ret_refusal = g_strdup_printf("cannot read %s's devices: %s", job->domain,
                                       error ? error->message : virGetLastErrorMessage());
        return FALSE;
    }
    for (guint i = 0; i < found->len; i++) {
        Nic *n = g_new0(Nic, 1);

        n->dom = g_ptr_array_steal_index(found, i--);
        g_ptr_array_add(ns->nics, n);
        n->strategy = nic_choose(job, pools, n->dom, ret_refusal);
        if (!n->strategy)
            return FALSE;
        native += strcmp(n->strategy, "native") == 0;
    }
    if (ns->nics->len == 0) {
        ns->why = g_strdup_printf("%s has no passthrough NICs", job->domain);
    } else if (!ns->migd_url) {
        *ret_refusal = g_strdup_printf("%s has passthrough NICs, and the destination has no "
                                       "migd_url in migd.conf, so no VF can be leased there",
                                       job->domain);
        return FALSE;
    } else {
        g_free(ns->strategy);
        ns->strategy = g_strdup(native == ns->nics->len ? "native"
                                : native == 0            ? "unplug"
                                                         : "mixed");
        ns->why = native ? g_strdup_printf("%u of %u passthrough NICs are vouched for as able "
                                           "to migrate (native = true in their pool); the others "
                                           "are unplugged", native, ns->nics->len)
                         : g_strdup_printf("no passthrough NIC is vouched for as able to "
                                           "migrate, so %s unplugged before the migration and "
                                           "plugged in again on the destination",
                                           ns->nics->len == 1 ? "it is" : "they are");
    }
    if (native && job->options.postcopy) {
        *ret_refusal = g_strdup_printf("post-copy was asked for, but %s keeps a passthrough "
                                       "device attached during the migration (strategy native), "
                                       "and its DMA would escape post-copy", job->domain);
        return FALSE;
    }
    *ret_postcopy_forbidden = native > 0;
    *ret_summary = g_strdup_printf("NICs: %s", ns->why);
    return TRUE;
}

/* --- feeding the job -------------------------------------------------------- */

static void
nic_feed(NicSteps *ns, JobEventKind kind, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
nic_feed(NicSteps *ns, JobEventKind kind, const char *reason, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    g_autoptr(json_t) nics = nic_steps_to_json(ns);
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
    engine_feed(ns->engine, ns->id, &ev);
}

#define nic_step_done(ns, ...) nic_feed((ns), JOB_EV_STEP_DONE, NULL, __VA_ARGS__)

static void
nic_step_failed(NicSteps *ns, const char *reason)
{
    nic_feed(ns, JOB_EV_STEP_FAILED, reason, NULL);
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
        nic_feed(ns, JOB_EV_STEP_DONE, NULL, NULL);
    return G_SOURCE_REMOVE;
}

/* Finishes the step with @message (NULL: nothing worth the timeline). */
static void
nic_noop(NicSteps *ns, const char *message)
{
    g_clear_handle_id(&ns->timer, g_source_remove);
    ns->noop_message = message;
    ns->timer = g_idle_add(nic_noop_idle, ns);
}

/* --- reserving on the destination ------------------------------------------ */

static gboolean nic_reserve_again(gpointer data);

static void
nic_renewed(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;

    if (status == 200)
        return;
    message = peer_error_message(ns->migd_url, status, body, error);
    nic_feed(ns, JOB_EV_NOTE, "warning", "could not renew the reservation on the destination: %s",
             message);
}

static gboolean
nic_renew(gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/renew", ns->id);

    peer_call(ns->migd_url, ns->token, "POST", path, NULL, NIC_PEER_TIMEOUT_MS,
              ns->cancellable, nic_renewed, ns);
    return G_SOURCE_CONTINUE;
}

static void
nic_reserved(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;
    json_t *nics = json_object_get(body, "nics");
    size_t i;
    json_t *item;

    if (status == 503) {
        message = peer_error_message(ns->migd_url, status, body, error);
        if (!ns->busy_noted)
            nic_feed(ns, JOB_EV_NOTE, "info", "waiting for an incoming slot: %s", message);
        ns->busy_noted = TRUE;
        ns->timer = g_timeout_add(NIC_BUSY_RETRY_MS, nic_reserve_again, ns);
        return;
    }
    if (status != 201) {
        message = peer_error_message(ns->migd_url, status, body, error);
        nic_step_failed(ns, message);
        return;
    }
    ns->reserved = TRUE;
    json_array_foreach(nics, i, item) {
        const char *alias = json_string_value(json_object_get(item, "alias"));

        for (guint j = 0; j < ns->nics->len; j++) {
            Nic *n = g_ptr_array_index(ns->nics, j);

            if (g_strcmp0(n->dom->alias, alias) != 0)
                continue;
            n->dest_address = g_strdup(json_string_value(json_object_get(item, "address")));
            n->dest_pool = g_strdup(json_string_value(json_object_get(item, "pool")));
            n->dest_xml = g_strdup(json_string_value(json_object_get(item, "device_xml")));
        }
    }
    ns->renew_source = g_timeout_add_seconds(MAX(ns->lease_ttl_s / 3, 1), nic_renew, ns);
    if (ns->nics->len)
        nic_step_done(ns, "the destination leased %u VF%s and an incoming slot", ns->nics->len,
                      ns->nics->len == 1 ? "" : "s");
    else
        nic_step_done(ns, "the destination granted an incoming slot");
}

static void
nic_reserve(NicSteps *ns)
{
    json_t *nics = json_array();
    g_autoptr(json_t) body = NULL;

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = g_ptr_array_index(ns->nics, i);
        json_t *item = json_pack("{s:s,s:s,s:s}", "alias", n->dom->alias, "mac",
                                 n->dom->mac ? n->dom->mac : "", "pool", n->dom->pool);

        if (n->dom->vlan)
            json_object_set_new(item, "vlan", json_integer(n->dom->vlan));
        json_array_append_new(nics, item);
    }
    body = json_pack("{s:s,s:s,s:s,s:s,s:o}", "job", ns->id, "domain", ns->domain, "source",
                     g_get_host_name(), "strategy",
                     strcmp(ns->strategy, "mixed") == 0 ? "unplug" : ns->strategy, "nics", nics);
    peer_call(ns->migd_url, ns->token, "POST", "/v1/reservations", body,
              NIC_PEER_TIMEOUT_MS, ns->cancellable, nic_reserved, ns);
}

static gboolean
nic_reserve_again(gpointer data)
{
    NicSteps *ns = data;

    ns->timer = 0;
    nic_reserve(ns);
    return G_SOURCE_REMOVE;
}

/* --- preparing ----------------------------------------------------------- */

static void
nic_prepared(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;

    if (status != 200) {
        message = peer_error_message(ns->migd_url, status, body, error);
        nic_step_failed(ns, message);
        return;
    }
    nic_step_done(ns, "the destination will plug the leased VFs in as soon as the guest "
                      "resumes there");
}

static void
nic_prepare(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/prepare", ns->id);

    peer_call(ns->migd_url, ns->token, "POST", path, NULL, NIC_PEER_TIMEOUT_MS,
              ns->cancellable, nic_prepared, ns);
}

/* --- unplugging ------------------------------------------------------------ */

static void nic_unplug_next(NicSteps *ns);

static void
nic_unplugged(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = g_ptr_array_index(ns->nics, ns->index);

    ns->hp = NULL;
    if (!ok) {
        nic_step_failed(ns, error);
        return;
    }
    n->state = NIC_UNPLUGGED;
    /* The first acknowledgement is the one the guest's outage hangs on. */
    if (ns->unplug_ack_ms < 0)
        ns->unplug_ack_ms = elapsed_ms;
    ns->index++;
    nic_unplug_next(ns);
}

static void
nic_unplug_next(NicSteps *ns)
{
    virConnectPtr conn = virt_connection(ns->virt);

    while (ns->index < ns->nics->len &&
           strcmp(((Nic *)g_ptr_array_index(ns->nics, ns->index))->strategy, "unplug") != 0)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        if (ns->unplug_start_us)
            nic_step_done(ns, "the guest released its VF%s after %" G_GINT64_FORMAT " ms "
                          "(DEVICE_REMOVED) and runs on its standby NIC",
                          ns->nics->len == 1 ? "" : "s", ns->unplug_ack_ms);
        else
            nic_step_done(ns, "no NIC needs unplugging");
        return;
    }
    if (!conn) {
        nic_step_failed(ns, "migd lost libvirt before it could unplug the VF");
        return;
    }
    if (!ns->unplug_start_us)
        ns->unplug_start_us = g_get_monotonic_time();
    ns->hp = hotplug_detach(conn, ns->domain,
                            ((Nic *)g_ptr_array_index(ns->nics, ns->index))->dom->alias,
                            ns->unplug_timeout_s * 1000, nic_unplugged, ns);
}

static void
nic_probe_reset(gint64 max_gap_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;

    if (max_gap_ms < 0 && strcmp(ns->verify, "none") != 0)
        nic_feed(ns, JOB_EV_NOTE, "warning", "the guest's probe could not be reset, so its "
                 "outage will not be measured: %s", detail);
    nic_unplug_next(ns);
}

/* --- after the resume: the destination's replug ----------------------------- */

void
nic_steps_dest_resumed(NicSteps *ns)
{
    if (!ns->resumed_us)
        ns->resumed_us = g_get_monotonic_time();
}

static void
nic_replugged(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;
    json_t *replug = json_object_get(body, "replug");
    const char *detail = json_string_value(json_object_get(replug, "detail"));
    gboolean ok = json_is_true(json_object_get(replug, "ok"));

    if (status != 200 || !json_is_object(replug)) {
        message = peer_error_message(ns->migd_url, status, body, error);
        nic_step_failed(ns, message);
        return;
    }
    ns->replug_ms = json_integer_value(json_object_get(replug, "replug_ms"));
    ns->verify_ms = json_integer_value(json_object_get(replug, "verify_ms"));
    if (json_is_integer(json_object_get(replug, "guest_outage_ms")))
        ns->guest_outage_ms = json_integer_value(json_object_get(replug, "guest_outage_ms"));
    for (guint i = 0; ok && i < ns->nics->len; i++) {
        Nic *n = g_ptr_array_index(ns->nics, i);

        if (n->state == NIC_UNPLUGGED)
            n->state = NIC_REPLUGGED;
    }
    /* Each host measures its own part: here from the unplug to the resume,
     * there from the resume to the verified VF. */
    if (ok && ns->unplug_start_us && ns->resumed_us)
        ns->no_vf_window_ms = (ns->resumed_us - ns->unplug_start_us) / 1000 + ns->replug_ms +
                              ns->verify_ms;
    if (!ok) {
        g_autofree char *reason = g_strdup_printf("the destination could not give %s its VF "
                                                  "back: %s; the guest runs there on its standby "
                                                  "NIC", ns->domain, detail ? detail : "no detail");
        nic_step_failed(ns, reason);
        return;
    }
    nic_step_done(ns, "the destination plugged the VF in %" G_GINT64_FORMAT " ms after the "
                  "resume and verified it in %" G_GINT64_FORMAT " ms: %s", ns->replug_ms,
                  ns->verify_ms, detail ? detail : "");
}

static void
nic_replug(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/replug", ns->id);
    guint timeout = (ns->replug_timeout_s * 2 + 1) * ns->replug_attempts *
                    1000;

    peer_call(ns->migd_url, ns->token, "POST", path, NULL, timeout, ns->cancellable,
              nic_replugged, ns);
}

/* --- rolling back ------------------------------------------------------------ */

static void nic_restore_next(NicSteps *ns);

static void
nic_restore_verified(gboolean ok, gint64 elapsed_ms, const char *detail, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = g_ptr_array_index(ns->nics, ns->index);

    if (!ok) {
        n->state = NIC_LOST;
        nic_feed(ns, JOB_EV_NOTE, "error", "%s is plugged in again but the guest does not use "
                 "it: %s", n->dom->alias, detail);
    } else {
        n->state = NIC_RESTORED;
    }
    ns->index++;
    nic_restore_next(ns);
}

static void
nic_restored(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    NicSteps *ns = data;
    Nic *n = g_ptr_array_index(ns->nics, ns->index);

    ns->hp = NULL;
    if (!ok) {
        n->state = NIC_LOST;
        nic_feed(ns, JOB_EV_NOTE, "error", "%s could not be plugged back in here: %s; the guest "
                 "runs on its standby NIC only", n->dom->alias, error);
        ns->index++;
        nic_restore_next(ns);
        return;
    }
    verify_primary(ns->verify, ns->agent_dir, ns->domain,
                   n->dom->kind == DOM_NIC_EMULATED ? n->dom->model : NULL,
                   ns->replug_timeout_s * 1000, ns->cancellable, nic_restore_verified,
                   ns);
}

static void
nic_restore_next(NicSteps *ns)
{
    virConnectPtr conn = virt_connection(ns->virt);
    guint lost = 0, restored = 0;
    Nic *n;

    while (ns->index < ns->nics->len &&
           ((Nic *)g_ptr_array_index(ns->nics, ns->index))->state != NIC_UNPLUGGED)
        ns->index++;
    if (ns->index >= ns->nics->len) {
        for (guint i = 0; i < ns->nics->len; i++) {
            n = g_ptr_array_index(ns->nics, i);
            lost += n->state == NIC_LOST;
            restored += n->state == NIC_RESTORED;
        }
        nic_steps_finish(ns);
        if (lost) {
            g_autofree char *reason = g_strdup_printf(
                "%u VF%s could not be given back to %s, which runs on this host WITHOUT its "
                "passthrough NIC (on its standby NIC only)", lost, lost == 1 ? "" : "s",
                ns->domain);
            nic_step_failed(ns, reason);
        } else {
            nic_step_done(ns, restored ? "the VF is plugged back in here and the guest uses it "
                                         "again; the destination's lease is released"
                                       : "nothing was unplugged; the destination's lease is "
                                         "released");
        }
        return;
    }
    n = g_ptr_array_index(ns->nics, ns->index);
    if (!conn) {
        nic_restored(FALSE, 0, "migd is not connected to libvirt", ns);
        return;
    }
    ns->hp = hotplug_attach(conn, ns->domain, n->dom->xml, n->dom->alias,
                            ns->replug_timeout_s * 1000, nic_restored, ns);
}

/* --- the steps ---------------------------------------------------------------- */

void
nic_steps_run(NicSteps *ns, Job *job)
{
    gboolean handled = strcmp(ns->strategy, "none") != 0;

    switch (job->state) {
    case JOB_RESERVING:
        /* The incoming slot is the destination's to give, NICs or not. */
        if (ns->migd_url)
            nic_reserve(ns);
        else
            nic_noop(ns, "the destination has no migd_url, so no incoming slot was asked for");
        break;
    case JOB_PREPARING:
        if (handled && ns->reserved)
            nic_prepare(ns);
        else
            nic_noop(ns, NULL);
        break;
    case JOB_UNPLUGGING:
        /* The guest's probe counts the outage from here; then unplug. */
        ns->index = 0;
        verify_probe(ns->verify, ns->agent_dir, ns->domain, TRUE, ns->cancellable,
                     nic_probe_reset, ns);
        break;
    case JOB_REPLUGGING:
        if (handled && ns->reserved)
            nic_replug(ns);
        else
            nic_noop(ns, NULL);
        break;
    case JOB_SWITCHOVER:
        /* The destination saw the resume too and plugs in by itself. */
        nic_noop(ns, handled && ns->reserved && ns->nics->len
                         ? "the destination's migd plugs the leased VFs in on its own"
                         : NULL);
        break;
    case JOB_VERIFYING:
        /* The replug step's answer already carried the verification. */
        nic_noop(ns, NULL);
        break;
    case JOB_ROLLING_BACK:
        g_clear_pointer(&ns->hp, hotplug_cancel);
        ns->index = 0;
        nic_restore_next(ns);
        break;
    default:
        nic_noop(ns, NULL);
        break;
    }
}

/* --- the migrate call's parameters ------------------------------------------- */

/* @xml with every NIC that has a destination VF pointed at it, and every
 * unplugged one dropped (@drop_unplugged) or pointed at it too. */
static char *
nic_rewrite(NicSteps *ns, const char *xml, gboolean native_only, GError **error)
{
    g_autofree char *out = g_strdup(xml);

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = g_ptr_array_index(ns->nics, i);
        g_autofree char *present = domxml_device_xml(out, n->dom->alias, NULL);
        char *next;

        if (!present || !n->dest_xml || (native_only && strcmp(n->strategy, "native") != 0))
            continue;
        next = domxml_replace_device(out, n->dom->alias, n->dest_xml, error);
        if (!next)
            return NULL;
        g_free(out);
        out = next;
    }
    return g_steal_pointer(&out);
}

void
nic_steps_migrate_params(NicSteps *ns, virDomainPtr dom, const Job *job,
                         virTypedParameterPtr *params, int *nparams, int *maxparams)
{
    g_autoptr(GError) error = NULL;
    gboolean native = FALSE;

    for (guint i = 0; i < ns->nics->len; i++)
        native |= strcmp(((Nic *)g_ptr_array_index(ns->nics, i))->strategy, "native") == 0;
    if (native) {
        g_autofree char *live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE |
                                                             VIR_DOMAIN_XML_MIGRATABLE);
        g_autofree char *dest = live ? nic_rewrite(ns, live, TRUE, &error) : NULL;

        if (dest)
            (void)virTypedParamsAddString(params, nparams, maxparams,
                                          VIR_MIGRATE_PARAM_DEST_XML, dest);
        else
            nic_feed(ns, JOB_EV_NOTE, "warning", "cannot point the destination XML at the "
                     "leased VF: %s", error ? error->message : virGetLastErrorMessage());
    }
    /* libvirt gives the destination the source's persistent definition
     * (or, for a transient guest, the live XML as sent), and the hook there
     * never sees it (tests/lab/README.md): it would name this host's VF, or
     * lack the unplugged one. The destination gets one naming its own. */
    if (job->options.persistent && ns->nics->len) {
        g_autofree char *base = virDomainIsPersistent(dom) == 1
                                    ? virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE |
                                                                   VIR_DOMAIN_XML_SECURE |
                                                                   VIR_DOMAIN_XML_MIGRATABLE)
                                    : g_strdup(ns->xml_before);
        g_autofree char *persist = base ? nic_rewrite(ns, base, FALSE, &error) : NULL;

        if (persist)
            (void)virTypedParamsAddString(params, nparams, maxparams,
                                          VIR_MIGRATE_PARAM_PERSIST_XML, persist);
        else
            nic_feed(ns, JOB_EV_NOTE, "warning", "cannot give the destination a persistent "
                     "definition that names its VF: %s",
                     error ? error->message : virGetLastErrorMessage());
    }
}

static void
nic_release_answered(guint status, json_t *body, const char *error, gpointer data)
{
    g_autofree char *url = data;
    g_autofree char *message = NULL;

    if (status == 200)
        return;
    message = peer_error_message(url, status, body, error);
    g_warning("Could not release a reservation on the destination (it will expire): %s", message);
}

void
nic_steps_finish(NicSteps *ns)
{
    g_autofree char *path = NULL;

    g_clear_handle_id(&ns->renew_source, g_source_remove);
    if (!ns->reserved)
        return;
    ns->reserved = FALSE;
    path = g_strdup_printf("/v1/reservations/%s", ns->id);
    /* Nobody waits for the answer: the job may be gone by then, and the
     * reservation expires there anyway. */
    peer_call(ns->migd_url, ns->token, "DELETE", path, NULL, NIC_PEER_TIMEOUT_MS, NULL,
              nic_release_answered, g_strdup(ns->migd_url));
}
