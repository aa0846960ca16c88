/* The source's NIC steps after the guest resumed on the destination:
 * asking the destination's migd for the replug and its verification (after
 * a restart, first whether it already happened), and recording what was
 * measured. */
#include <config.h>

#include "src-nic-priv.h"

/* The destination's "replug" object: the NICs' states and the figures. */
static void
nic_replug_result(NicSteps *ns, json_t *replug, gint64 answered_us)
{
    const char *detail = json_string_value(json_object_get(replug, "detail"));
    g_autofree char *reason = NULL;

    ns->replug_ms = json_integer_value(json_object_get(replug, "replug_ms"));
    ns->verify_ms = json_integer_value(json_object_get(replug, "verify_ms"));
    if (json_is_integer(json_object_get(replug, "guest_outage_ms")))
        ns->guest_outage_ms = json_integer_value(json_object_get(replug, "guest_outage_ms"));
    if (!json_is_true(json_object_get(replug, "ok"))) {
        reason = g_strdup_printf("the destination could not give %s its VF back: %s; the guest "
                                 "runs there on its standby NIC", ns->domain,
                                 detail ? detail : "no detail");
        nic_step_failed(ns, reason);
        return;
    }
    for (guint i = 0; i < ns->nics->len; i++) {
        if (nic_at(ns, i)->state == NIC_UNPLUGGED)
            nic_at(ns, i)->state = NIC_REPLUGGED;
    }
    /* Measured on this host's clock alone, from the unplug request to the
     * replug's answer, which the destination sends once the guest uses the
     * VF: it can only be longer than the truth (by the answer's way back, or
     * by a late question). The destination's own figures start when its
     * migd sees the resume, so a destination migd that is stalled then
     * (SIGSTOP, a busy loop) would shorten the window by as long as it
     * stalled. After a restart the unplug's moment is gone: no window. */
    if (ns->unplug_start_us && answered_us)
        ns->no_vf_window_ms = (answered_us - ns->unplug_start_us) / 1000;
    nic_step_done(ns, "the destination plugged the VF in %" G_GINT64_FORMAT " ms after the "
                  "resume and verified it in %" G_GINT64_FORMAT " ms: %s", ns->replug_ms,
                  ns->verify_ms, detail ? detail : "");
}

static void
nic_replugged(NicSteps *ns, guint status, json_t *body, const char *why)
{
    gint64 answered_us = g_get_monotonic_time();
    json_t *replug = json_object_get(body, "replug");

    if (why || !json_is_object(replug)) {
        nic_step_failed(ns, why ? why : "the destination's answer to the replug has no replug "
                                        "outcome");
        return;
    }
    nic_state_take_answer(ns, body, 0);
    nic_replug_result(ns, replug, answered_us);
}

static void
nic_replug_ask(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/replug", ns->id);
    guint timeout = (ns->replug_timeout_s * 2 + 1) * ns->replug_attempts * 1000;

    nic_call(ns, "POST", path, NULL, timeout, "the replug", FALSE, nic_replugged);
}

/* After a restart: done there already, or ask for it now. */
static void
nic_replug_looked_up(NicSteps *ns, guint status, json_t *body, const char *why)
{
    json_t *replug = json_object_get(body, "replug");

    if (!why && g_strcmp0(json_string_value(json_object_get(replug, "state")), "done") == 0) {
        nic_state_take_answer(ns, body, 0);
        nic_replug_result(ns, replug, 0);
        return;
    }
    nic_replug_ask(ns);
}

void
nic_replug(NicSteps *ns)
{
    g_autofree char *path = NULL;

    ns->replug_asked = TRUE;
    if (!ns->rebuilt) {
        nic_replug_ask(ns);
        return;
    }
    path = g_strdup_printf("/v1/reservations/%s", ns->id);
    nic_call(ns, "GET", path, NULL, NIC_PEER_TIMEOUT_MS, "the replug's state", FALSE,
             nic_replug_looked_up);
}
