/* The destination's side of the pause strategy (DESIGN.md section 6): the
 * source's migd makes the switchover, and asks this one twice. First,
 * while the guest still runs there, "switchover": the paused NICs' device
 * states are restored onto the leased VFs now, so a refusal still leaves
 * the guest where it was. Then, once the migration is over and the guest
 * waits here paused (VIR_MIGRATE_PAUSED), "resume": the guest is resumed
 * (in a worker) and each paused NIC's plugin is called post_switchover.
 * The resume starts the armed replug like any resume (dest-replug.c), which
 * plugs in what was unplugged and verifies. */
#include <config.h>

#include <libvirt/libvirt.h>
#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "log.h"
#include "plugin-call.h"

static gboolean
res_pauses(const Reservation *r)
{
    for (guint i = 0; i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);

        if (n->strategy == NIC_STRATEGY_PAUSE)
            return TRUE;
    }
    return FALSE;
}

/* The reservation for a pause call, or NULL with @error. */
static Reservation *
pause_lookup(Incoming *in, const char *id, const char *what, GError **error)
{
    Reservation *r = dest_lookup(in, id, error);

    if (!r)
        return NULL;
    if (!res_pauses(r)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "reservation %s holds no NIC with the pause strategy, so there is no %s to "
                    "make", id, what);
        return NULL;
    }
    if (r->state == REPLUG_IDLE) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "reservation %s is not prepared yet, so its %s cannot be made", id, what);
        return NULL;
    }
    return r;
}

/* A call waits for the switchover or resume under way (a source that
 * asks again, its first call timed out, hears the same outcome). */
static void
pause_wait(Reservation *r, IncomingAnswer answer, gpointer data)
{
    ResAnswer *a = g_new0(ResAnswer, 1);

    a->answer = answer;
    a->data = data;
    g_ptr_array_add(r->pause_answers, a);
}

/* Answers every call waiting, if any (a resume migd began on its own has
 * none until the source asks). */
static void
pause_answer(Reservation *r, json_t *result, const GError *error)
{
    g_autoptr(GPtrArray) answers = g_steal_pointer(&r->pause_answers);

    r->pause_answers = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < answers->len; i++) {
        ResAnswer *a = g_ptr_array_index(answers, i);

        a->answer(result, error, a->data);
    }
}

/* --- switchover: the states, restored before the pause ------------------------------ */

static void pause_restore_next(Reservation *r);

static void
pause_restored(Reservation *r, const char *why)
{
    g_autoptr(GError) error = NULL;

    if (why) {
        r->pause_switching = FALSE;
        error = g_error_new(MIGD_ERROR, MIGD_ERROR_CONFLICT, "%s", why);
        g_message("Reservation %s: the switchover is refused: %s", r->id, why);
        pause_answer(r, NULL, error);
        return;
    }
    pause_restore_next(r);
}

static void
pause_restore_next(Reservation *r)
{
    g_autoptr(json_t) result = NULL;

    for (guint i = 0; i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);

        if (n->strategy == NIC_STRATEGY_PAUSE && dest_state_pending(n)) {
            dest_state_restore(r, n, pause_restored);
            return;
        }
    }
    r->pause_switching = FALSE;
    r->pause_switched = TRUE;
    g_message("Reservation %s: the paused NICs' device states are restored; the guest may "
              "pause at the source", r->id);
    result = dest_res_to_json(r);
    pause_answer(r, result, NULL);
}

void
incoming_switchover(Incoming *in, const char *id, IncomingAnswer answer, gpointer data)
{
    g_autoptr(GError) error = NULL;
    Reservation *r = pause_lookup(in, id, "switchover", &error);

    if (!r) {
        answer(NULL, error, data);
        return;
    }
    if (r->resumed_wall_us || r->pause_resumed) {
        g_set_error(&error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "the guest of reservation %s already resumed here", id);
        answer(NULL, error, data);
        return;
    }
    pause_wait(r, answer, data);
    if (r->pause_switched) {
        g_autoptr(json_t) result = dest_res_to_json(r);

        pause_answer(r, result, NULL);
    } else if (!r->pause_switching) {
        r->pause_switching = TRUE;
        pause_restore_next(r);
    }
}

/* --- resume: the guest runs here, then post_switchover --------------------------------- */

typedef struct {
    Incoming *in;           /* not touched once @alive is cancelled */
    char *id;               /* the reservation, looked up again: it may go meanwhile */
    GCancellable *alive;
    VirtConn *conn;
    char *domain;
    gboolean ok;
    char *error;
    gint64 elapsed_ms;
    guint nic, state;       /* post_switchover: the NIC and its state's plugin being called */
    GString *post_errors;
    gint64 post_ms;
} PauseResume;

static void
pause_resume_free(PauseResume *p)
{
    g_object_unref(p->alive);
    if (p->conn)
        virt_conn_unref(p->conn);
    g_free(p->id);
    g_free(p->domain);
    g_free(p->error);
    g_string_free(p->post_errors, TRUE);
    g_free(p);
}

/* The reservation @p works for, or NULL (and @p freed) when migd stops or
 * the reservation went (its release answered the call). */
static Reservation *
pause_resume_target(PauseResume *p)
{
    Reservation *r = g_cancellable_is_cancelled(p->alive)
                         ? NULL
                         : g_hash_table_lookup(p->in->reservations, p->id);

    if (!r || !r->pause_resuming) {
        pause_resume_free(p);
        return NULL;
    }
    return r;
}

static void
pause_resumed_answer(PauseResume *p, Reservation *r)
{
    g_autoptr(json_t) result = NULL;

    r->pause_resuming = FALSE;
    r->pause_resumed = TRUE;
    r->pause_resume_ms = p->elapsed_ms;
    r->pause_post_ms = p->post_ms;
    g_free(r->pause_post_error);
    r->pause_post_error = p->post_errors->len ? g_strdup(p->post_errors->str) : NULL;
    result = dest_res_to_json(r);
    if (result)
        json_object_set_new(result, "resume", dest_pause_to_json(r));
    pause_answer(r, result, NULL);
    pause_resume_free(p);
}

static void pause_post_next(PauseResume *p, Reservation *r);

static void
pause_posted(const PluginCallResult *res, gpointer data)
{
    PauseResume *p = data;
    Reservation *r = pause_resume_target(p);
    ResNic *n;

    if (!r)
        return;
    n = g_ptr_array_index(r->nics, p->nic);
    p->post_ms += res->elapsed_ms;
    if (res->rc != 0)
        dest_state_post_failed(r, p->post_errors, g_ptr_array_index(n->states, p->state), n,
                               res->error);
    p->state++;
    pause_post_next(p, r);
}

static void
pause_post_next(PauseResume *p, Reservation *r)
{
    Plugin *plugin;
    g_autoptr(PluginDevice) dev = NULL;

    if (!dest_state_next_post(r, NIC_STRATEGY_PAUSE, &p->nic, &p->state, &plugin)) {
        pause_resumed_answer(p, r);
        return;
    }
    dev = dest_state_device(r->in, r, g_ptr_array_index(r->nics, p->nic));
    plugin_call(plugin, PLUGIN_CALL_POST_SWITCHOVER, dev, NULL, 0, 0,
                r->in->conf->plugin_call_timeout_s * 1000, pause_posted, p);
}

static void
pause_resume_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PauseResume *p = data;
    const VirtOps *ops = p->conn ? virt_conn_ops(p->conn) : NULL;
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info = { 0 };
    gint64 start = g_get_monotonic_time();

    if (!ops) {
        p->error = g_strdup("migd is not connected to libvirt");
        return;
    }
    if (!ops->get_info(p->conn, p->domain, &info, &error)) {
        p->error = g_strdup_printf("the guest is not here: %s", error->message);
        return;
    }
    /* Resumed already (by a call this migd did not see answered, or by
     * hand): the guest runs, which is what was asked. */
    p->ok = info.state == VIR_DOMAIN_RUNNING || ops->resume(p->conn, p->domain, &error);
    p->elapsed_ms = (g_get_monotonic_time() - start) / 1000;
    if (!p->ok)
        p->error = g_strdup(error->message);
}

static void
pause_resume_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PauseResume *p = user_data;
    Reservation *r = pause_resume_target(p);
    g_autoptr(GError) error = NULL;

    if (!r)
        return;
    if (!p->ok) {
        r->pause_resuming = FALSE;
        g_warning("Reservation %s: cannot resume %s here: %s", r->id, r->domain, p->error);
        error = g_error_new(MIGD_ERROR, MIGD_ERROR_CONFLICT, "cannot resume %s here: %s",
                            r->domain, p->error);
        pause_answer(r, NULL, error);
        pause_resume_free(p);
        return;
    }
    g_message("Reservation %s: %s resumed here in %" G_GINT64_FORMAT " ms", r->id, r->domain,
              p->elapsed_ms);
    pause_post_next(p, r);
}

/* Starts the resume; its outcome goes to the call waiting, if any. */
static void
pause_resume_start(Incoming *in, Reservation *r)
{
    g_autoptr(GTask) task = NULL;
    PauseResume *p = g_new0(PauseResume, 1);

    r->pause_resuming = TRUE;
    p->in = in;
    p->id = g_strdup(r->id);
    p->alive = g_object_ref(in->cancellable);
    p->conn = virt_conn(in->virt);
    p->domain = g_strdup(r->domain);
    p->post_errors = g_string_new(NULL);
    task = g_task_new(NULL, NULL, pause_resume_done, p);
    g_task_set_task_data(task, p, NULL);
    g_task_run_in_thread(task, pause_resume_thread);
}

void
incoming_resume(Incoming *in, const char *id, IncomingAnswer answer, gpointer data)
{
    g_autoptr(GError) error = NULL;
    Reservation *r = pause_lookup(in, id, "resume", &error);

    if (!r) {
        answer(NULL, error, data);
        return;
    }
    if (r->pause_resumed) {
        g_autoptr(json_t) result = dest_res_to_json(r);

        if (result)
            json_object_set_new(result, "resume", dest_pause_to_json(r));
        answer(result, NULL, data);
        return;
    }
    pause_wait(r, answer, data);
    if (!r->pause_resuming)
        pause_resume_start(in, r);
}

void
dest_pause_on_suspended(Incoming *in, const char *domain)
{
    Reservation *r = dest_find_domain(in, domain);

    /* libvirt's Finish leaves the guest paused here (VIR_MIGRATE_PAUSED)
     * and says so with SUSPENDED/PAUSED (measured: 1.4 s before the
     * source's migrate call returns); only after the switchover, whose
     * states are restored, does migd resume it at once. */
    if (!r || !r->pause_switched || r->pause_resumed || r->pause_resuming)
        return;
    g_message("Reservation %s: %s arrived here paused; resuming it", r->id, domain);
    pause_resume_start(in, r);
}

json_t *
dest_pause_to_json(const Reservation *r)
{
    return json_pack("{s:b,s:o,s:o,s:o}", "resumed", r->pause_resumed, "resume_ms",
                     json_count_or_null(r->pause_resumed ? r->pause_resume_ms : -1),
                     "post_switchover_ms",
                     json_count_or_null(r->pause_resumed ? r->pause_post_ms : -1),
                     "post_switchover_error", json_string_or_null(r->pause_post_error));
}
