/* The source's NIC steps on the destination's migd before the migration:
 * reserving an incoming slot and a VF per NIC, arming the replug there, and
 * renewing the leases while the migration runs. */
#include <config.h>

#include "peer.h"
#include "src-nic-priv.h"

static void
nic_renewed(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;

    if (status == 200) {
        ns->lease_until_us = g_get_real_time() + (gint64)ns->lease_ttl_s * G_USEC_PER_SEC;
        return;
    }
    message = peer_error_message(ns->migd_url, status, body, error);
    (void)nic_note(ns, "warning", "could not renew the reservation on the destination: %s",
                   message);
}

static gboolean
nic_renew(gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/renew", ns->id);

    /* Not retried: the next renewal comes within a third of the TTL. */
    peer_call(ns->migd_url, ns->token, "POST", path, NULL, NIC_PEER_TIMEOUT_MS,
              ns->cancellable, nic_renewed, ns);
    return G_SOURCE_CONTINUE;
}

void
nic_renew_stop(NicSteps *ns)
{
    g_clear_handle_id(&ns->renew_source, g_source_remove);
}

/* Takes each NIC's leased VF from the 201's "nics". */
static void
nic_take_leases(NicSteps *ns, json_t *leased)
{
    size_t i;
    json_t *item;

    json_array_foreach(leased, i, item) {
        const char *alias = json_string_value(json_object_get(item, "alias"));

        for (guint j = 0; j < ns->nics->len; j++) {
            Nic *n = nic_at(ns, j);

            if (g_strcmp0(n->dom->alias, alias) != 0)
                continue;
            /* A peer that names one alias twice (found by tests/fuzz's
             * peer-answers) has its last entry taken, the earlier freed. */
            g_free(n->dest_address);
            g_free(n->dest_pool);
            g_free(n->dest_xml);
            n->dest_address = g_strdup(json_string_value(json_object_get(item, "address")));
            n->dest_pool = g_strdup(json_string_value(json_object_get(item, "pool")));
            n->dest_xml = g_strdup(json_string_value(json_object_get(item, "device_xml")));
        }
    }
}

/* Whether an answer other than 201 leaves a reservation there: only when
 * no answer came (the request may have arrived). */
static NicReservation
nic_refused_reservation(guint status)
{
    return status == 0 || status == 502 || status == 504 ? NIC_RES_ASKED : NIC_RES_RELEASED;
}

/* Whether the destination said it has no room: no free VF (409
 * no_free_vf), no incoming slot (503 busy), or a drain empties it (503
 * draining). */
static gboolean
nic_no_room(guint status, json_t *body)
{
    const char *code = nic_peer_code(body);

    return (status == 409 && g_strcmp0(code, "no_free_vf") == 0) ||
           (status == 503 && (g_strcmp0(code, "busy") == 0 || g_strcmp0(code, "draining") == 0));
}

static void
nic_reserved(NicSteps *ns, guint status, json_t *body, const char *why)
{
    ns->reserving = FALSE;
    if (status != 201) {
        ns->reservation = nic_refused_reservation(status);
        if (ns->rolling_back)
            nic_rollback_resume(ns);
        else if (nic_no_room(status, body))
            /* A destination chosen by "auto" gives way to the next. */
            (void)nic_feed(ns, JOB_EV_RESERVATION_REFUSED, why, NULL);
        else
            nic_step_failed(ns, why);
        return;
    }
    ns->reservation = NIC_RES_HELD;
    ns->lease_until_us = g_get_real_time() + (gint64)ns->lease_ttl_s * G_USEC_PER_SEC;
    nic_take_leases(ns, json_object_get(body, "nics"));
    if (ns->rolling_back) {
        /* A cancel came while the answer was on its way: the rollback
         * releases what the destination just granted. */
        nic_rollback_resume(ns);
        return;
    }
    ns->renew_source = g_timeout_add_seconds(MAX(ns->lease_ttl_s / 3, 1), nic_renew, ns);
    if (ns->nics->len)
        nic_step_done(ns, "the destination leased %u VF%s and an incoming slot", ns->nics->len,
                      ns->nics->len == 1 ? "" : "s");
    else
        nic_step_done(ns, "the destination granted an incoming slot");
}

static json_t *
nic_reservation_body(NicSteps *ns)
{
    json_t *nics = json_array();
    json_t *body;

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);
        json_t *item = json_pack("{s:s,s:s,s:s,s:s}", "alias", n->dom->alias, "mac",
                                 n->dom->mac ? n->dom->mac : "", "pool", n->dom->pool,
                                 "strategy", nic_strategy_to_string(n->strategy));

        if (n->dom->vlan)
            json_object_set_new(item, "vlan", json_integer(n->dom->vlan));
        json_array_append_new(nics, item);
    }
    /* Each NIC says its own strategy (a mixed job's differ); the source's
     * URL lets the destination ask whether the job is over. */
    body = json_pack("{s:s,s:s,s:s,s:s,s:o}", "job", ns->id, "domain", ns->domain, "source",
                     g_get_host_name(), "strategy", nic_strategy_to_string(ns->strategy),
                     "nics", nics);
    if (ns->source_url)
        json_object_set_new(body, "source_url", json_string(ns->source_url));
    return body;
}

void
nic_reserve(NicSteps *ns)
{
    g_autoptr(json_t) body = nic_reservation_body(ns);

    ns->reserving = TRUE;
    if (ns->reservation == NIC_RES_NONE)
        ns->reservation = NIC_RES_ASKED;
    /* With another candidate to try, a full destination is not waited for. */
    nic_call(ns, "POST", "/v1/reservations", body, NIC_PEER_TIMEOUT_MS, "the reservation",
             !ns->has_alternatives, nic_reserved);
}

/* --- preparing ----------------------------------------------------------- */

static void
nic_prepared(NicSteps *ns, guint status, json_t *body, const char *why)
{
    g_autofree char *refusal = NULL;
    guint states = 0;

    if (why) {
        nic_step_failed(ns, why);
        return;
    }
    ns->lease_until_us = g_get_real_time() + (gint64)ns->lease_ttl_s * G_USEC_PER_SEC;
    nic_state_take_answer(ns, body, ns->prepare_sent_us);
    refusal = nic_state_take_choices(ns, body);
    if (refusal) {
        nic_step_failed(ns, refusal);
        return;
    }
    for (guint i = 0; i < ns->nics->len; i++)
        states += nic_state_frames(nic_at(ns, i)) > 0;
    if (states)
        nic_step_done(ns, "the destination checked the device state of %u NIC%s and will plug "
                          "the leased VFs in as soon as the guest resumes there", states,
                      states == 1 ? "" : "s");
    else
        nic_step_done(ns, "the destination will plug the leased VFs in as soon as the guest "
                          "resumes there");
}

/* The device states are saved (or none is carried): the destination gets
 * them with the prepare, and checks them before it answers. */
static void
nic_prepare_send(NicSteps *ns, const char *reason)
{
    g_autofree char *path = NULL;
    g_autofree char *refusal = NULL;
    g_autoptr(json_t) body = NULL;

    if (reason) {
        nic_step_failed(ns, reason);
        return;
    }
    refusal = nic_state_settle_here(ns);
    if (refusal) {
        nic_step_failed(ns, refusal);
        return;
    }
    path = g_strdup_printf("/v1/reservations/%s/prepare", ns->id);
    body = nic_state_body(ns);
    ns->prepare_sent_us = g_get_monotonic_time();
    /* The destination answers once each state's plugin checked it there,
     * and its plugins said whether the NICs of strategy auto stay. */
    nic_call(ns, "POST", path, body,
             NIC_PEER_TIMEOUT_MS +
                 (guint)(json_array_size(json_object_get(body, "states")) +
                         json_array_size(json_object_get(body, "choose"))) *
                     ns->plugin_timeout_ms,
             "the replug's arming", FALSE, nic_prepared);
}

void
nic_prepare(NicSteps *ns)
{
    nic_state_save(ns, nic_prepare_send);
}
