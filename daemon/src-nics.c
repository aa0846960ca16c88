/* The source's NIC steps: the object, its "nics" record, and which step
 * runs in which state of the job. The steps themselves are in
 * src-nic-{classify,reserve,unplug,replug,rollback,migrate}.c. */
#include <config.h>

#include <string.h>

#include "jsonutil.h"
#include "src-nic-priv.h"
#include "verify.h"

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
    ns->strategy = NIC_STRATEGY_NONE;
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
    g_free(ns->why);
    g_free(ns->xml_before);
    g_free(ns);
}

/* --- the record ---------------------------------------------------------------- */

static json_t *
json_ms(gint64 ms)
{
    return ms >= 0 ? json_integer(ms) : json_null();
}

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
                        n->dest_address ? json_pack("{s:s,s:s}", "address", n->dest_address,
                                                    "pool", n->dest_pool)
                                        : json_null());
    return device;
}

json_t *
nic_steps_to_json(NicSteps *ns)
{
    json_t *devices = json_array();

    for (guint i = 0; i < ns->nics->len; i++)
        json_array_append_new(devices, nic_to_json(nic_at(ns, i)));
    return json_pack("{s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "strategy",
                     nic_strategy_to_string(ns->strategy), "why", ns->why ? ns->why : "",
                     "reserved", ns->reserved, "devices", devices, "no_vf_window_ms",
                     json_ms(ns->no_vf_window_ms), "unplug_ack_ms", json_ms(ns->unplug_ack_ms),
                     "replug_ms", json_ms(ns->replug_ms), "verify_ms", json_ms(ns->verify_ms),
                     "guest_outage_ms", json_ms(ns->guest_outage_ms));
}

/* --- feeding the job -------------------------------------------------------- */

void
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

void
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

void
nic_noop(NicSteps *ns, const char *message)
{
    g_clear_handle_id(&ns->timer, g_source_remove);
    ns->noop_message = message;
    ns->timer = g_idle_add(nic_noop_idle, ns);
}

/* --- the steps ---------------------------------------------------------------- */

void
nic_steps_dest_resumed(NicSteps *ns)
{
    if (!ns->resumed_us)
        ns->resumed_us = g_get_monotonic_time();
}

void
nic_steps_run(NicSteps *ns, Job *job)
{
    gboolean handled = ns->strategy != NIC_STRATEGY_NONE;

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
        nic_unplug(ns);
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
        nic_rollback(ns);
        break;
    default:
        nic_noop(ns, NULL);
        break;
    }
}
