/* The source's NIC steps on the destination's migd: reserving an incoming
 * slot and a VF per NIC, arming the replug there, renewing the leases while
 * the migration runs, and releasing the reservation at the end. */
#include <config.h>

#include "peer.h"
#include "src-nic-priv.h"

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
            n->dest_address = g_strdup(json_string_value(json_object_get(item, "address")));
            n->dest_pool = g_strdup(json_string_value(json_object_get(item, "pool")));
            n->dest_xml = g_strdup(json_string_value(json_object_get(item, "device_xml")));
        }
    }
}

static void
nic_reserved(guint status, json_t *body, const char *error, gpointer data)
{
    NicSteps *ns = data;
    g_autofree char *message = NULL;

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
    nic_take_leases(ns, json_object_get(body, "nics"));
    ns->renew_source = g_timeout_add_seconds(MAX(ns->lease_ttl_s / 3, 1), nic_renew, ns);
    if (ns->nics->len)
        nic_step_done(ns, "the destination leased %u VF%s and an incoming slot", ns->nics->len,
                      ns->nics->len == 1 ? "" : "s");
    else
        nic_step_done(ns, "the destination granted an incoming slot");
}

void
nic_reserve(NicSteps *ns)
{
    json_t *nics = json_array();
    g_autoptr(json_t) body = NULL;

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);
        json_t *item = json_pack("{s:s,s:s,s:s}", "alias", n->dom->alias, "mac",
                                 n->dom->mac ? n->dom->mac : "", "pool", n->dom->pool);

        if (n->dom->vlan)
            json_object_set_new(item, "vlan", json_integer(n->dom->vlan));
        json_array_append_new(nics, item);
    }
    body = json_pack("{s:s,s:s,s:s,s:s,s:o}", "job", ns->id, "domain", ns->domain, "source",
                     g_get_host_name(), "strategy",
                     nic_strategy_to_string(ns->strategy == NIC_STRATEGY_MIXED ? NIC_STRATEGY_UNPLUG
                                                                               : ns->strategy),
                     "nics", nics);
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

void
nic_prepare(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/prepare", ns->id);

    peer_call(ns->migd_url, ns->token, "POST", path, NULL, NIC_PEER_TIMEOUT_MS,
              ns->cancellable, nic_prepared, ns);
}

/* --- releasing ----------------------------------------------------------- */

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
