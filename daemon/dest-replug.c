/* The destination's replug: once a reservation is prepared it is armed, and
 * when libvirt reports the guest resumed here the leased VFs of its
 * unplugged NICs are plugged in at once (no round trip to the source) and
 * the guest is asked whether it uses them. Each step is written to
 * reservations.json before the next starts, so a restarted migd goes on
 * from what the guest's live XML shows. Every libvirt call on a domain runs
 * in a worker (hotplug.c's, or the look at the guest below). */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "domxml.h"
#include "error.h"
#include "failpoint.h"
#include "jsonutil.h"
#include "log.h"
#include "verify.h"

void
dest_res_disarm(Reservation *r)
{
    g_clear_handle_id(&r->retry_source, g_source_remove);
    g_clear_pointer(&r->hp, hotplug_cancel);
    g_cancellable_cancel(r->cancellable);
    r->running = FALSE;
}

void
dest_res_answer_all(Reservation *r, const GError *error)
{
    g_autoptr(json_t) result = error ? NULL : dest_res_to_json(r);
    g_autoptr(GPtrArray) answers = g_steal_pointer(&r->answers);
    g_autoptr(GError) local = NULL;

    if (!error && !result)
        error = local = g_error_new(MIGD_ERROR, MIGD_ERROR_INTERNAL,
                                    "the reservation %s cannot be written as JSON (a bug in "
                                    "migd; its log has the details)", r->id);

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

    g_autofree char *text = NULL;
    g_autofree char *valid = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* It quotes libvirt, and must stay valid UTF-8 for the JSON record. */
    valid = g_utf8_make_valid(text, -1);
    if (!r->detail)
        r->detail = g_string_new(NULL);
    else if (r->detail->len)
        g_string_append(r->detail, "; ");
    g_string_append(r->detail, valid);
    r->ok = ok;
    r->state = ok ? REPLUG_DONE : REPLUG_FAILED;
    if (ok)
        r->verified_us = g_get_real_time();
    dest_res_disarm(r);
    dest_save_or_warn(r->in);
    log_structured(ok ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING,
                   LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   ok ? "Replugged %s's passthrough NICs: %s"
                      : "The replug of %s's passthrough NICs failed: %s",
                   r->domain, r->detail->str);
    dest_res_answer_all(r, NULL);
}

/* --- verifying ---------------------------------------------------------------- */

static void
res_on_probed(gint64 max_gap_ms, const char *detail, gpointer data)
{
    Reservation *r = data;
    g_autofree char *verified = g_steal_pointer(&r->detail_verify);

    r->guest_outage_ms = max_gap_ms;
    res_done(r, r->ok, "%s%s%s", verified,
             r->post_switchover_error ? "; after the switchover (post_switchover) " : "",
             r->post_switchover_error ? r->post_switchover_error : "");
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

/* The guest is asked about the first NIC it was given back (else its
 * first): that is the one whose driver its failover must now use. */
static void
res_verify(Reservation *r)
{
    const ResNic *n = r->nics->len ? g_ptr_array_index(r->nics, 0) : NULL;

    for (guint i = 0; i < r->nics->len; i++) {
        const ResNic *u = g_ptr_array_index(r->nics, i);

        if (u->strategy == NIC_STRATEGY_UNPLUG) {
            n = u;
            break;
        }
    }
    r->running = TRUE;
    verify_primary(r->in->conf->nic_verify, r->in->conf->nic_agent_socket_dir, r->domain,
                   n ? n->driver : NULL, r->in->conf->nic_replug_timeout_s * 1000,
                   r->cancellable, res_on_verified, r);
}

/* --- plugging ----------------------------------------------------------------- */

static void res_plug_next(Reservation *r);
static void res_look(Reservation *r);

/* The device states are on the VFs and the native NICs' plugins have
 * seen them run here: written down before the guest is asked. */
static void
res_posted(Reservation *r, const char *why)
{
    r->state = REPLUG_VERIFYING;
    dest_save_or_warn(r->in);
    failpoint("dst-after-replug-before-verify");
    res_verify(r);
}

static void
res_restored(Reservation *r, const char *why)
{
    if (why) {
        res_done(r, FALSE, "%s", why);
        return;
    }
    dest_state_post_switchover(r, res_posted);
}

/* Every unplugged NIC is in, its state restored: what is left is a native
 * NIC's state (its guest already runs here) or one a previous migd did not
 * restore. */
static void
res_plugged_all(Reservation *r)
{
    gint64 now = g_get_real_time();

    r->replug_ms = r->resumed_us ? (g_get_monotonic_time() - r->resumed_us) / 1000
                                 : (now - r->resumed_wall_us) / 1000;
    r->plugged_us = now;
    dest_state_restore(r, NULL, res_restored);
}

static gboolean
res_retry(gpointer data)
{
    Reservation *r = data;

    r->retry_source = 0;
    /* The failed attempt may have plugged it after all (libvirt's event
     * came late): look before attaching again. */
    res_look(r);
    return G_SOURCE_REMOVE;
}

static void
res_plug_failed(Reservation *r, const char *error)
{
    ResNic *n = g_ptr_array_index(r->nics, r->nic_index);

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
}

static void
res_nic_restored(Reservation *r, const char *why)
{
    if (why) {
        res_done(r, FALSE, "%s", why);
        return;
    }
    r->nic_index++;
    r->attempt = 0;
    res_plug_next(r);
}

/* The VF is in: a stand-in of an emulated pool exists only from
 * DEVICE_ADDED on, so its device state goes onto it now, before the next
 * NIC is plugged (a VF of an sriov pool has it already: res_plug_next). */
static void
res_on_plugged(gboolean ok, gint64 elapsed_ms, const char *error, gpointer data)
{
    Reservation *r = data;
    ResNic *n = g_ptr_array_index(r->nics, r->nic_index);

    r->hp = NULL;
    if (!ok) {
        res_plug_failed(r, error);
        return;
    }
    n->present = TRUE;
    dest_state_restore(r, n, res_nic_restored);
}

/* A VF of an sriov pool, or a device of a vdpa pool, is there before it is
 * plugged: its device state (the settings on its PF; the vDPA device's
 * config, which its driver reads once) goes onto it first, as DESIGN.md
 * section 6 has it, so the guest's driver never starts on it without them;
 * libvirt then sets the MAC and VLAN of the device XML, the same values. */
static gboolean
res_restores_before_plug(const Reservation *r, const ResNic *n)
{
    const MigdPoolConf *pc = n->pool ? conf_find_pool(r->in->conf, n->pool) : NULL;

    return pc && (pc->type == POOL_SRIOV || pc->type == POOL_VDPA) && dest_state_pending(n);
}

static void
res_restored_before_plug(Reservation *r, const char *why)
{
    if (why) {
        res_done(r, FALSE, "%s", why);
        return;
    }
    res_plug_next(r);
}

static void
res_plug_next(Reservation *r)
{
    g_autoptr(VirtConn) conn = NULL;
    ResNic *n;

    r->running = TRUE;
    while (r->nic_index < r->nics->len) {
        n = g_ptr_array_index(r->nics, r->nic_index);
        if (n->strategy == NIC_STRATEGY_UNPLUG && !n->present)
            break;
        r->nic_index++;
        r->attempt = 0;
    }
    if (r->nic_index >= r->nics->len) {
        res_plugged_all(r);
        return;
    }
    n = g_ptr_array_index(r->nics, r->nic_index);
    if (res_restores_before_plug(r, n)) {
        dest_state_restore(r, n, res_restored_before_plug);
        return;
    }
    r->attempt++;
    r->attempts++;
    conn = virt_conn(r->in->virt);
    if (!conn) {
        res_plug_failed(r, "migd is not connected to libvirt");
        return;
    }
    r->hp = hotplug_attach_conn(conn, r->domain, n->device_xml, n->alias,
                                r->in->conf->nic_replug_timeout_s * 1000, res_on_plugged, r);
}

/* The guest resumed here: written down, then plugged. */
static void
res_start_replug(Reservation *r)
{
    if (r->state != REPLUG_ARMED)
        return;
    r->state = REPLUG_PLUGGING;
    r->resumed_us = g_get_monotonic_time();
    r->resumed_wall_us = g_get_real_time();
    r->nic_index = 0;
    r->running = TRUE;
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   "%s resumed on this host; plugging in its VFs for job %s", r->domain, r->id);
    dest_save_or_warn(r->in);
    failpoint("dst-at-resume-before-replug");
    res_plug_next(r);
}

/* --- a look at the guest, in a worker ----------------------------------------- */

typedef struct {
    Reservation *r;     /* not touched once r->cancellable is cancelled */
    Incoming *in;       /* not touched once @alive is cancelled */
    GCancellable *alive;
    ReplugState state;  /* @r's when the look began */
    VirtConn *conn;
    char *domain;
    GStrv aliases;      /* the NICs to look for */
    gboolean found, running;
    gboolean *present;  /* per alias */
    char *error;        /* why libvirt could not be asked */
} ResLook;

static void
res_look_free(gpointer data)
{
    ResLook *look = data;

    virt_conn_unref(look->conn);
    g_clear_object(&look->alive);
    g_free(look->domain);
    g_strfreev(look->aliases);
    g_free(look->present);
    g_free(look->error);
    g_free(look);
}

static void
res_look_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    ResLook *look = data;
    const VirtOps *ops = virt_conn_ops(look->conn);
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    VirtDomainInfo info;

    if (!ops->get_info(look->conn, look->domain, &info, &error)) {
        if (!g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN))
            look->error = g_strdup(error->message);
        return;
    }
    look->found = TRUE;
    look->running = info.state == VIR_DOMAIN_RUNNING;
    xml = ops->get_xml(look->conn, look->domain, 0, &error);
    if (!xml)
        look->error = g_strdup(error->message);
    for (guint i = 0; xml && look->aliases[i]; i++) {
        g_autofree char *device = domxml_device_xml(xml, look->aliases[i], NULL);

        look->present[i] = device != NULL;
    }
}

/* What the look found, applied to @r on the loop, unless @r moved on
 * meanwhile (the resume event came, or a plug is under way). */
static void
res_looked(Reservation *r, ResLook *look)
{
    if (r->state != look->state || r->hp || r->retry_source || r->restoring ||
        (r->state == REPLUG_VERIFYING && r->running))
        return;
    for (guint i = 0, j = 0; !look->error && i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);

        if (n->strategy == NIC_STRATEGY_UNPLUG)
            n->present = look->present[j++];
    }
    switch (r->state) {
    case REPLUG_ARMED:
        /* The resume came before the arming, or while migd was away. */
        if (look->running && !look->error)
            res_start_replug(r);
        break;
    case REPLUG_PLUGGING:
        if (look->error) {
            /* Counted as an attempt: libvirt may not come back. */
            r->attempt++;
            r->attempts++;
            r->nic_index = MIN(r->nic_index, r->nics->len - 1);
            res_plug_failed(r, look->error);
        } else if (!look->found) {
            res_done(r, FALSE, "%s no longer runs on this host, so its VF was not plugged in",
                     r->domain);
        } else {
            res_plug_next(r);
        }
        break;
    case REPLUG_VERIFYING:
        if (look->found || look->error)
            res_verify(r);
        else
            res_done(r, FALSE, "%s no longer runs on this host, so its VF cannot be verified",
                     r->domain);
        break;
    default:
        break;
    }
}

static void
res_look_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask *task = G_TASK(result);
    ResLook *look = g_task_get_task_data(task);

    /* Let go of libvirt here: the worker may drop the task a little later. */
    g_clear_pointer(&look->conn, virt_conn_unref);
    if (g_cancellable_is_cancelled(look->alive))
        return;
    look->in->looks--;
    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    res_looked(look->r, look);
}

/* Looks at @r's guest here (is it running, which of its unplugged NICs does
 * its live XML have), then goes on from @r's state. */
static void
res_look(Reservation *r)
{
    VirtConn *conn = virt_conn(r->in->virt);
    g_autoptr(GTask) task = NULL;
    g_autoptr(GPtrArray) aliases = g_ptr_array_new();
    ResLook *look;

    if (!conn) {
        ResLook none = { .r = r, .state = r->state,
                         .error = (char *)"migd is not connected to libvirt" };

        res_looked(r, &none);
        return;
    }
    for (guint i = 0; i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);

        if (n->strategy == NIC_STRATEGY_UNPLUG)
            g_ptr_array_add(aliases, g_strdup(n->alias));
    }
    g_ptr_array_add(aliases, NULL);
    look = g_new0(ResLook, 1);
    look->r = r;
    look->state = r->state;
    look->in = r->in;
    look->alive = g_object_ref(r->in->cancellable);
    r->in->looks++;
    look->conn = conn;
    look->domain = g_strdup(r->domain);
    look->present = g_new0(gboolean, aliases->len);
    look->aliases = (GStrv)g_ptr_array_free(g_steal_pointer(&aliases), FALSE);
    task = g_task_new(NULL, r->cancellable, res_look_done, NULL);
    g_task_set_task_data(task, look, res_look_free);
    g_task_run_in_thread(task, res_look_thread);
}

/* --- libvirt's lifecycle events ----------------------------------------------- */

static Reservation *
dest_find_armed(Incoming *in, const char *domain)
{
    Reservation *r = dest_find_domain(in, domain);

    return r && r->state == REPLUG_ARMED ? r : NULL;
}

static void
dest_on_lifecycle(const VirtEvent *event, gpointer data)
{
    Incoming *in = data;
    Reservation *r;

    if (event->event == VIR_DOMAIN_EVENT_SUSPENDED &&
        event->detail == VIR_DOMAIN_EVENT_SUSPENDED_PAUSED) {
        dest_pause_on_suspended(in, event->domain);
        return;
    }
    if (event->event != VIR_DOMAIN_EVENT_RESUMED)
        return;
    r = dest_find_armed(in, event->domain);
    /* A guest that arrived paused (the pause strategy) is resumed by this
     * migd (dest-pause.c): UNPAUSED. */
    if (r && (event->detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ||
              event->detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY ||
              (event->detail == VIR_DOMAIN_EVENT_RESUMED_UNPAUSED && r->pause_switched)))
        res_start_replug(r);
}

void
dest_events_stop(Incoming *in)
{
    if (!in->events_conn)
        return;
    if (in->lifecycle_cb >= 0)
        virt_conn_ops(in->events_conn)->event_deregister(in->events_conn, in->lifecycle_cb);
    g_clear_pointer(&in->events_conn, virt_conn_unref);
    in->events_raw = NULL;
    in->lifecycle_cb = -1;
}

/* After a restart or a reconnect: a guest whose replug is armed may have
 * resumed meanwhile, and one that a previous migd was plugging is here. */
static void
dest_look_at_all(Incoming *in)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Reservation *r = value;

        if (r->state == REPLUG_ARMED ||
            ((r->state == REPLUG_PLUGGING || r->state == REPLUG_VERIFYING) && !r->running))
            res_look(r);
    }
}

void
dest_events_ensure(Incoming *in)
{
    virConnectPtr raw = virt_connection(in->virt);
    g_autoptr(VirtConn) conn = NULL;
    g_autoptr(GError) error = NULL;

    /* events_conn's reference to the old connection keeps its address from
     * being reused by a new one. */
    if (raw == in->events_raw && (!raw || in->lifecycle_cb >= 0))
        return;
    dest_events_stop(in);
    conn = virt_conn(in->virt);
    if (!conn)
        return;
    in->lifecycle_cb = virt_conn_ops(conn)->event_register(conn, NULL, VIRT_EVENT_LIFECYCLE,
                                                           dest_on_lifecycle, in, NULL, &error);
    if (in->lifecycle_cb < 0) {
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_URI", virt_uri(in->virt)),
                       "Cannot watch libvirt for incoming guests' resume: %s; trying again in "
                       "a second", error->message);
        return;
    }
    in->events_conn = g_steal_pointer(&conn);
    in->events_raw = raw;
    dest_look_at_all(in);
}

/* --- the peer endpoints ------------------------------------------------------- */

json_t *
incoming_prepare(Incoming *in, const char *id, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    if (!r || !dest_renew(in, r, error))
        return NULL;
    if (r->state != REPLUG_IDLE)
        return dest_res_to_json(r);
    if (!virt_connection(in->virt)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd on the destination is not connected to libvirt, so it cannot watch "
                    "for %s's resume", r->domain);
        return NULL;
    }
    dest_events_ensure(in);
    if (in->lifecycle_cb < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd on the destination cannot watch libvirt for %s's resume (its log "
                    "says why)", r->domain);
        return NULL;
    }
    r->state = REPLUG_ARMED;
    r->armed_us = g_get_real_time();
    if (!dest_save(in, error)) {
        r->state = REPLUG_IDLE;
        return NULL;
    }
    failpoint("dst-after-prepare");
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
    if (r->state == REPLUG_IDLE) {
        g_autoptr(json_t) prepared = incoming_prepare(in, id, &error);

        if (!prepared) {
            answer(NULL, error, data);
            return;
        }
    }
    if (r->state == REPLUG_DONE || r->state == REPLUG_FAILED) {
        g_autoptr(json_t) result = dest_res_to_json(r);

        answer(result, NULL, data);
        return;
    }
    a = g_new0(ResAnswer, 1);
    a->answer = answer;
    a->data = data;
    g_ptr_array_add(r->answers, a);
    /* The source saw the resume; a missed event must not leave it waiting. */
    if (r->state == REPLUG_ARMED || !r->running)
        res_look(r);
}
