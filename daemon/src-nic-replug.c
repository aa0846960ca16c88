/* The source's NIC steps after the guest resumed on the destination:
 * asking the destination's migd for the replug and its verification, and
 * recording what it measured. */
#include <config.h>

#include "peer.h"
#include "src-nic-priv.h"

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
        Nic *n = nic_at(ns, i);

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

void
nic_replug(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/replug", ns->id);
    guint timeout = (ns->replug_timeout_s * 2 + 1) * ns->replug_attempts * 1000;

    peer_call(ns->migd_url, ns->token, "POST", path, NULL, timeout, ns->cancellable,
              nic_replugged, ns);
}
