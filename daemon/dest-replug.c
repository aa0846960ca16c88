/* The destination's replug: once a reservation is prepared it is armed, and
 * when libvirt reports the guest resumed here the leased VFs are plugged in
 * at once (no round trip to the source) and the guest is asked whether it
 * uses them. */
#include <config.h>

#include <libvirt/virterror.h>
#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "jsonutil.h"
#include "log.h"
#include "verify.h"

void
dest_res_disarm(Reservation *r)
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

void
dest_res_answer_all(Reservation *r, const GError *error)
{
    g_autoptr(json_t) result = error ? NULL : dest_res_to_json(r);
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
    dest_res_disarm(r);
    log_structured(ok ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                   LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   ok ? "Replugged %s's passthrough NICs: %s"
                      : "The replug of %s's passthrough NICs failed: %s",
                   r->domain, r->detail->str);
    dest_res_answer_all(r, NULL);
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
    Reservation *r = dest_lookup(in, id, error);
    virConnectPtr conn = virt_connection(in->virt);

    if (!r || !incoming_renew(in, id, error))
        return NULL;
    if (r->state != RES_RESERVED)
        return dest_res_to_json(r);
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
        dest_res_disarm(r);
        return NULL;
    }
    r->state = RES_ARMED;
    return dest_res_to_json(r);
}

void
incoming_replug(Incoming *in, const char *id, IncomingAnswer answer, gpointer data)
{
    g_autoptr(GError) error = NULL;
    Reservation *r = dest_lookup(in, id, &error);
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
        g_autoptr(json_t) result = dest_res_to_json(r);

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

