/* The source's NIC steps for the pause strategy: the NICs stay attached and
 * migd makes the switchover itself (DESIGN.md section 6). When the job says
 * so (job.c: what is left fits the downtime budget), the destination's migd
 * restores the paused NICs' device state onto its VFs while the guest still
 * runs here, each NIC's plugin quiesces it (pre_switchover), and the guest
 * is suspended here; QEMU, whose max downtime is 1 ms, then completes, and the
 * guest arrives paused on the destination (VIR_MIGRATE_PAUSED). The
 * switchover state's step asks the destination's migd to resume it there
 * and call post_switchover. Whatever fails before that resume leaves the
 * guest running here: a rollback resumes what migd suspended, and the
 * plugins are called abort. */
#include <config.h>

#include "jsonutil.h"
#include "plugin-call.h"
#include "src-nic-priv.h"

/* A call to libvirt in a worker; @guard leads back to the steps. */
typedef enum {
    PAUSE_HOLD,     /* the cap set to JOB_PAUSE_HOLD_MIBPS */
    PAUSE_SUSPEND,  /* the suspend, then (lift) the cap it had */
    PAUSE_RESUME,
    PAUSE_LIFT,     /* the cap it had, alone */
} PauseWhat;

typedef struct {
    NicGuard *guard;
    VirtConn *conn;
    char *domain;
    PauseWhat what;
    gboolean lift;          /* PAUSE_SUSPEND: put @mibps back after it */
    guint64 mibps;          /* the cap it had, put back by a lift */
    gboolean ok;
    char *error, *lift_error;
    gint64 elapsed_ms;
} PauseCall;

static void
pause_call_free(gpointer data)
{
    PauseCall *c = data;

    if (c->guard)
        (void)nic_guard_end(c->guard);
    if (c->conn)
        virt_conn_unref(c->conn);
    g_free(c->domain);
    g_free(c->error);
    g_free(c->lift_error);
    g_free(c);
}

static gboolean
nic_pauses(const Nic *n)
{
    return n->strategy == NIC_STRATEGY_PAUSE;
}

static void nic_release_hold(NicSteps *ns);

static void
nic_switchover_failed(NicSteps *ns, const char *reason)
{
    ns->switchover_busy = FALSE;
    nic_release_hold(ns);
    if (ns->rolling_back) {
        /* A cancel came meanwhile: the rollback goes on now. */
        nic_rollback_resume(ns);
        return;
    }
    (void)nic_feed(ns, JOB_EV_SWITCHOVER_FAILED, reason, NULL);
}

/* --- suspending or resuming the guest here, in a worker ------------------------- */

static void
pause_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PauseCall *c = data;
    const VirtOps *ops = c->conn ? virt_conn_ops(c->conn) : NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) lift_error = NULL;
    gint64 start = g_get_monotonic_time();

    if (!ops) {
        c->error = g_strdup("migd is not connected to libvirt");
        return;
    }
    switch (c->what) {
    case PAUSE_HOLD:
        c->ok = ops->set_max_speed(c->conn, c->domain, JOB_PAUSE_HOLD_MIBPS, &error);
        break;
    case PAUSE_SUSPEND:
        c->ok = ops->suspend(c->conn, c->domain, &error);
        break;
    case PAUSE_RESUME:
        c->ok = ops->resume(c->conn, c->domain, &error);
        break;
    case PAUSE_LIFT:
        c->ok = ops->set_max_speed(c->conn, c->domain, c->mibps, &error);
        break;
    }
    c->elapsed_ms = (g_get_monotonic_time() - start) / 1000;
    if (!c->ok)
        c->error = g_strdup(error->message);
    /* Straight after the suspend, so QEMU sends the rest at full speed. */
    if (c->lift && !ops->set_max_speed(c->conn, c->domain, c->mibps, &lift_error))
        c->lift_error = g_strdup(lift_error->message);
}

typedef void (*PauseDone)(NicSteps *ns, PauseCall *c);

static void
pause_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PauseCall *c = g_task_get_task_data(G_TASK(result));
    PauseDone done = (PauseDone)user_data;
    NicSteps *ns = nic_guard_end(g_steal_pointer(&c->guard));

    if (ns)
        done(ns, c);
}

static void
pause_run(NicSteps *ns, PauseWhat what, PauseDone done)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, pause_done, (gpointer)done);
    PauseCall *c = g_new0(PauseCall, 1);

    c->guard = nic_guard_new(ns);
    c->conn = virt_conn(ns->virt);
    c->domain = g_strdup(ns->domain);
    c->what = what;
    c->mibps = ns->held_mibps;
    if (what == PAUSE_SUSPEND && ns->held && !ns->lifting) {
        c->lift = TRUE;
        ns->lifting = TRUE;
    }
    g_task_set_task_data(task, c, pause_call_free);
    g_task_run_in_thread(task, pause_thread);
}

/* --- the hold ------------------------------------------------------------------- */

/* FALSE when the steps are gone (the note ended them). */
static gboolean
nic_lift_done(NicSteps *ns, const char *error)
{
    ns->held = ns->lifting = FALSE;
    return !error ||
           nic_note(ns, "warning", "cannot lift the %d MiB/s hold from the migration of %s: %s; "
                    "libvirt keeps it for the domain's next migration from this host ('virsh "
                    "migrate-setspeed %s %" G_GUINT64_FORMAT "' lifts it)", JOB_PAUSE_HOLD_MIBPS,
                    ns->domain, error, ns->domain, ns->held_mibps);
}

static void
nic_lifted(NicSteps *ns, PauseCall *c)
{
    (void)nic_lift_done(ns, c->ok ? NULL : c->error);
}

/* The switchover did not get to the suspend: the cap goes back. */
static void
nic_release_hold(NicSteps *ns)
{
    if (!ns->held || ns->lifting)
        return;
    ns->lifting = TRUE;
    pause_run(ns, PAUSE_LIFT, nic_lifted);
}

/* --- the switchover ------------------------------------------------------------- */

static void
nic_suspended(NicSteps *ns, PauseCall *c)
{
    ns->switchover_busy = FALSE;
    ns->suspend_ms = c->elapsed_ms;
    if (c->lift && !nic_lift_done(ns, c->lift_error))
        return;
    if (!c->ok) {
        g_autofree char *reason = g_strdup_printf("cannot pause %s here: %s", ns->domain,
                                                  c->error);

        nic_switchover_failed(ns, reason);
        return;
    }
    ns->source_paused = TRUE;
    ns->suspended_us = g_get_monotonic_time();
    if (ns->rolling_back) {
        nic_rollback_resume(ns);
        return;
    }
    (void)nic_feed(ns, JOB_EV_SWITCHOVER_DONE, NULL,
                   "%s is paused here (the suspend took %" G_GINT64_FORMAT " ms, the plugins' "
                   "pre_switchover %" G_GINT64_FORMAT " ms); QEMU completes the migration",
                   ns->domain, ns->suspend_ms, MAX(ns->pre_switchover_ms, 0));
}

static void nic_quiesce_next(NicSteps *ns);

static void
nic_quiesced(const PluginCallResult *r, gpointer data)
{
    NicSteps *ns = nic_guard_end(data);
    Nic *n;

    if (!ns)
        return;
    n = nic_at(ns, ns->pause_nic);
    ns->pre_switchover_ms = MAX(ns->pre_switchover_ms, 0) + r->elapsed_ms;
    if (r->rc != 0) {
        g_autofree char *reason = g_strdup_printf(
            "plugin %s could not quiesce %s (pre_switchover): %s",
            ((NicPlugin *)g_ptr_array_index(n->plugins, ns->pause_plugin))->name, n->dom->alias,
            r->error);

        nic_switchover_failed(ns, reason);
        return;
    }
    ns->pause_plugin++;
    nic_quiesce_next(ns);
}

/* The next plugin to quiesce a paused NIC: every plugin that claims it,
 * in loading order, NIC after NIC; NULL once all have. */
static Plugin *
nic_quiesce_plugin(NicSteps *ns)
{
    for (; ns->pause_nic < ns->nics->len; ns->pause_nic++, ns->pause_plugin = 0) {
        Nic *n = nic_at(ns, ns->pause_nic);

        for (; nic_pauses(n) && ns->plugins && ns->pause_plugin < n->plugins->len;
             ns->pause_plugin++) {
            NicPlugin *np = g_ptr_array_index(n->plugins, ns->pause_plugin);
            Plugin *p = plugin_set_find(ns->plugins, np->name);

            if (p) {
                np->called = TRUE;
                np->aborted = FALSE;
                return p;
            }
        }
    }
    return NULL;
}

static void
nic_quiesce_next(NicSteps *ns)
{
    Plugin *p;
    g_autoptr(PluginDevice) dev = NULL;

    if (ns->rolling_back) {
        ns->switchover_busy = FALSE;
        nic_release_hold(ns);
        nic_rollback_resume(ns);
        return;
    }
    p = nic_quiesce_plugin(ns);
    if (!p) {
        ns->pause_start_us = g_get_monotonic_time();
        pause_run(ns, PAUSE_SUSPEND, nic_suspended);
        return;
    }
    dev = nic_state_device(ns, nic_at(ns, ns->pause_nic));
    plugin_call(p, PLUGIN_CALL_PRE_SWITCHOVER, dev, NULL, 0, 0, ns->plugin_timeout_ms,
                nic_quiesced, nic_guard_new(ns));
}

static void
nic_restored_there(NicSteps *ns, guint status, json_t *body, const char *why)
{
    if (why) {
        g_autofree char *reason = g_strdup_printf("the destination could not restore the "
                                                  "device state before the pause: %s", why);

        nic_switchover_failed(ns, reason);
        return;
    }
    nic_state_take_answer(ns, body, 0);
    ns->pause_nic = ns->pause_plugin = 0;
    ns->switchover_busy = TRUE;
    nic_quiesce_next(ns);
}

/* The hold is set (or could not be: the switchover goes on, and QEMU may
 * make it first); the destination restores the paused NICs' state next. */
static void
nic_held(NicSteps *ns, PauseCall *c)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/switchover", ns->id);

    ns->switchover_busy = FALSE;
    if (c->ok) {
        ns->held = TRUE;
        ns->hold_ms = c->elapsed_ms;
    } else {
        g_free(ns->hold_error);
        ns->hold_error = g_strdup(c->error);
        if (!nic_note(ns, "warning", "cannot hold the migration of %s back while migd makes the "
                      "switchover (a %d MiB/s cap): %s; QEMU may switch over first", ns->domain,
                      JOB_PAUSE_HOLD_MIBPS, c->error))
            return;
    }
    if (ns->rolling_back) {
        nic_release_hold(ns);
        nic_rollback_resume(ns);
        return;
    }
    nic_call(ns, "POST", path, NULL, NIC_PEER_TIMEOUT_MS, "the switchover", FALSE,
             nic_restored_there);
}

void
nic_steps_switchover(NicSteps *ns, Job *job)
{
    /* One call to libvirt, not two: the cap it had is the job's own, or
     * none (libvirt's for none). */
    ns->held_mibps = job->options.bandwidth_mibps ? job->options.bandwidth_mibps
                                                  : VIRT_SPEED_UNCAPPED_MIBPS;
    ns->pre_switchover_ms = -1;
    ns->switchover_busy = TRUE;
    pause_run(ns, PAUSE_HOLD, nic_held);
}

/* --- the resume on the destination ------------------------------------------------ */

static void
nic_resumed_there(NicSteps *ns, guint status, json_t *body, const char *why)
{
    gint64 now = g_get_monotonic_time();
    json_t *resume = json_object_get(body, "resume");
    const char *post_error = json_string_value(json_object_get(resume, "post_switchover_error"));

    if (why || !json_is_object(resume)) {
        g_autofree char *reason = g_strdup_printf(
            "the destination's migd could not resume it: %s",
            why ? why : "its answer has no resume outcome");

        nic_step_failed(ns, reason);
        return;
    }
    ns->resume_ms = ns->resume_asked_us ? (now - ns->resume_asked_us) / 1000 : -1;
    ns->post_switchover_ms = json_is_integer(json_object_get(resume, "post_switchover_ms"))
                                 ? json_integer_value(json_object_get(resume, "post_switchover_ms"))
                                 : -1;
    /* On this host's clock alone: from just before the suspend to the
     * answer, which the destination sends once the guest runs there (so
     * longer than the truth by the answer's way back). */
    if (ns->pause_start_us)
        ns->paused_ms = (now - ns->pause_start_us) / 1000;
    if (ns->suspended_us && ns->resume_asked_us)
        ns->stop_copy_ms = (ns->resume_asked_us - ns->suspended_us) / 1000;
    nic_state_take_answer(ns, body, 0);
    if (post_error && !nic_note(ns, "error", "the guest runs on the destination, but a plugin "
                                "there could not resume its device: %s", post_error))
        return;
    if (ns->paused_ms >= 0)
        nic_step_done(ns, "the destination resumed the guest; it was paused for %" G_GINT64_FORMAT
                      " ms", ns->paused_ms);
    else
        nic_step_done(ns, "the destination resumed the guest");
}

void
nic_pause_resume_there(NicSteps *ns)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s/resume", ns->id);

    ns->resume_asked_us = g_get_monotonic_time();
    nic_call(ns, "POST", path, NULL, NIC_PEER_TIMEOUT_MS, "the resume", FALSE, nic_resumed_there);
}

gboolean
nic_pause_any(NicSteps *ns)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        if (nic_pauses(nic_at(ns, i)))
            return TRUE;
    }
    return FALSE;
}

/* --- the rollback: the guest runs here again ---------------------------------------- */

static void
nic_unpaused(NicSteps *ns, PauseCall *c)
{
    ns->unpausing = FALSE;
    ns->unpause_tried = TRUE;
    if (c->ok) {
        ns->source_paused = FALSE;
        if (!nic_note(ns, "info", "%s runs here again (resumed in %" G_GINT64_FORMAT " ms)",
                      ns->domain, c->elapsed_ms))
            return;
    } else if (!nic_note(ns, "error", "cannot resume %s here: %s; resume it by hand (virsh "
                         "resume %s)", ns->domain, c->error, ns->domain)) {
        return;
    }
    nic_rollback_resume(ns);
}

gboolean
nic_pause_undo(NicSteps *ns)
{
    if (ns->unpausing)
        return TRUE;
    if (!ns->source_paused || ns->unpause_tried)
        return FALSE;
    ns->unpausing = TRUE;
    /* The plugins undo their quiesce first (their abort), then the guest
     * runs again. */
    nic_state_abort(ns);
    pause_run(ns, PAUSE_RESUME, nic_unpaused);
    return TRUE;
}

/* --- the record ------------------------------------------------------------------- */

json_t *
nic_pause_to_json(NicSteps *ns)
{
    if (!nic_pause_any(ns))
        return json_null();
    return json_pack("{s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "source_paused", ns->source_paused,
                     "hold_ms", json_count_or_null(ns->hold_ms), "hold_error",
                     json_string_or_null(ns->hold_error), "pre_switchover_ms",
                     json_count_or_null(ns->pre_switchover_ms), "suspend_ms",
                     json_count_or_null(ns->suspend_ms), "stop_copy_ms",
                     json_count_or_null(ns->stop_copy_ms), "resume_ms",
                     json_count_or_null(ns->resume_ms), "post_switchover_ms",
                     json_count_or_null(ns->post_switchover_ms));
}

static gint64
pause_ms(json_t *pause, const char *key)
{
    json_t *value = json_object_get(pause, key);

    return json_is_integer(value) ? json_integer_value(value) : -1;
}

void
nic_pause_from_json(NicSteps *ns, json_t *pause)
{
    ns->source_paused = json_is_true(json_object_get(pause, "source_paused"));
    ns->hold_ms = pause_ms(pause, "hold_ms");
    g_free(ns->hold_error);
    ns->hold_error = g_strdup(json_string_value(json_object_get(pause, "hold_error")));
    ns->pre_switchover_ms = pause_ms(pause, "pre_switchover_ms");
    ns->suspend_ms = pause_ms(pause, "suspend_ms");
    ns->stop_copy_ms = pause_ms(pause, "stop_copy_ms");
    ns->resume_ms = pause_ms(pause, "resume_ms");
    ns->post_switchover_ms = pause_ms(pause, "post_switchover_ms");
}
