/* The source's NIC steps talking to the destination's migd: one call per
 * step, retried while that migd does not answer or has no incoming slot,
 * each retry loop with a deadline that the timeline states; and the release
 * of the reservation, which must say what really became of it. */
#include <config.h>

#include "peer.h"
#include "src-nic-priv.h"

struct _NicCall {
    NicSteps *ns;
    char *method;
    char *path;
    json_t *body;
    guint timeout_ms;
    char *what;
    gboolean wait_busy;
    NicAnswer answer;
    GCancellable *cancellable;
    gint64 down_deadline_us, busy_deadline_us;  /* monotonic; 0: no such answer yet */
    guint timer;                /* between attempts */
    gboolean settle;            /* the next answer is the last */
    guint last_status;
    char *last_why;
};

struct _NicRelease {
    NicSteps *ns;               /* NULL when the job is over: the outcome goes to the log */
    char *url, *token, *id, *domain;
    GCancellable *cancellable;
    gint64 deadline_us;
    guint every_ms;
    gint64 lease_until_us;
    guint timer;
    gboolean noted;
    NicReleased done;
};

/* The releases of jobs that are over, still asking the destination. */
static GQueue orphans = G_QUEUE_INIT;

typedef enum {
    NIC_PEER_ANSWERED,          /* an answer to act on, good or bad */
    NIC_PEER_DOWN,              /* no answer, or the migd there is stopping: ask again */
    NIC_PEER_BUSY,              /* 503 busy: no incoming slot free there yet */
} NicPeerAnswer;

const char *
nic_peer_code(json_t *body)
{
    const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));

    return code ? code : "";
}

static NicPeerAnswer
nic_peer_classify(guint status, json_t *body)
{
    const char *code = nic_peer_code(body);

    if (status == 0 || status == 502 || status == 504 ||
        (status == 503 && g_strcmp0(code, "shutting_down") == 0))
        return NIC_PEER_DOWN;
    if (status == 503 && g_strcmp0(code, "busy") == 0)
        return NIC_PEER_BUSY;
    /* Among them 503 libvirt_disconnected: that migd cannot lease while it
     * cannot see which VFs its guests hold, and waiting would only hide it. */
    return NIC_PEER_ANSWERED;
}

char *
nic_clock(gint64 wall_us)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(wall_us / G_USEC_PER_SEC);

    return t ? g_date_time_format(t, "%H:%M:%S UTC") : g_strdup("(unknown time)");
}

/* "until 21:40:07 UTC" for a deadline on the monotonic clock. */
static char *
nic_until(gint64 deadline_us)
{
    return nic_clock(g_get_real_time() + (deadline_us - g_get_monotonic_time()));
}

/* --- the step's call ------------------------------------------------------------ */

static void
nic_call_free(NicCall *call)
{
    g_clear_handle_id(&call->timer, g_source_remove);
    g_clear_object(&call->cancellable);
    g_free(call->method);
    g_free(call->path);
    json_decref(call->body);
    g_free(call->what);
    g_free(call->last_why);
    g_free(call);
}

static void nic_call_send(NicCall *call);

static gboolean
nic_call_retry(gpointer data)
{
    NicCall *call = data;

    call->timer = 0;
    nic_call_send(call);
    return G_SOURCE_REMOVE;
}

/* The call is over: its answer goes to the step. */
static void
nic_call_deliver(NicCall *call, guint status, json_t *body, const char *why)
{
    NicSteps *ns = call->ns;

    ns->call = NULL;
    call->answer(ns, status, body, why);
    nic_call_free(call);
}

/* Whether to ask again after @kind; notes in the timeline, once, what it
 * waits for and until when. */
static gboolean
nic_call_again(NicCall *call, NicPeerAnswer kind, const char *message)
{
    NicSteps *ns = call->ns;
    gboolean busy = kind == NIC_PEER_BUSY;
    gint64 *deadline = busy ? &call->busy_deadline_us : &call->down_deadline_us;
    guint every_ms = busy ? ns->busy_every_ms : ns->retry_every_ms;
    gint64 now = g_get_monotonic_time();
    g_autofree char *until = NULL;

    if (call->settle || (busy && !call->wait_busy))
        return FALSE;
    if (*deadline == 0) {
        *deadline = now + (gint64)(busy ? ns->busy_for_ms : ns->retry_for_ms) * 1000;
        until = nic_until(*deadline);
        if (!(busy ? nic_note(ns, "info", "waiting for an incoming slot on the destination for "
                              "%s (%s); asking again every %g s until %s", call->what, message,
                              every_ms / 1000.0, until)
                   : nic_note(ns, "warning", "the destination's migd did not answer %s (%s); "
                              "asking again every %g s until %s", call->what, message,
                              every_ms / 1000.0, until)))
            return TRUE;    /* the job ended, and @call with it */
    }
    if (now + every_ms * 1000LL >= *deadline)
        return FALSE;
    call->timer = g_timeout_add(every_ms, nic_call_retry, call);
    return TRUE;
}

static void
nic_call_answered(guint status, json_t *body, const char *error, gpointer data)
{
    NicCall *call = data;
    NicSteps *ns = call->ns;
    NicPeerAnswer kind = nic_peer_classify(status, body);
    g_autofree char *message = NULL;
    g_autofree char *why = NULL;

    if (status >= 200 && status < 300) {
        nic_call_deliver(call, status, body, NULL);
        return;
    }
    message = peer_error_message(ns->migd_url, status, body, error);
    call->last_status = status;
    g_free(call->last_why);
    call->last_why = g_strdup(message);
    if (kind != NIC_PEER_ANSWERED && nic_call_again(call, kind, message))
        return;
    if (kind == NIC_PEER_BUSY && call->wait_busy)
        why = g_strdup_printf("the destination had no free incoming slot for %s within %g s: "
                              "%s", call->what, ns->busy_for_ms / 1000.0, message);
    else if (kind == NIC_PEER_DOWN && !call->settle)
        why = g_strdup_printf("the destination's migd did not answer %s within %g s: %s",
                              call->what, ns->retry_for_ms / 1000.0, message);
    else if (g_strcmp0(nic_peer_code(body), "libvirt_disconnected") == 0)
        why = g_strdup_printf("the destination's migd cannot reach its libvirt "
                              "(libvirt_disconnected), so it leases nothing and takes no "
                              "migration: %s", message);
    nic_call_deliver(call, status, body, why ? why : message);
}

static void
nic_call_send(NicCall *call)
{
    NicSteps *ns = call->ns;

    peer_call(ns->migd_url, ns->token, call->method, call->path, call->body, call->timeout_ms,
              call->cancellable, nic_call_answered, call);
}

void
nic_call(NicSteps *ns, const char *method, const char *path, json_t *body, guint timeout_ms,
         const char *what, gboolean wait_busy, NicAnswer answer)
{
    NicCall *call = g_new0(NicCall, 1);

    nic_call_abandon(ns);
    call->ns = ns;
    call->method = g_strdup(method);
    call->path = g_strdup(path);
    call->body = body ? json_incref(body) : NULL;
    call->timeout_ms = timeout_ms;
    call->what = g_strdup(what);
    call->wait_busy = wait_busy;
    call->answer = answer;
    call->cancellable = g_cancellable_new();
    ns->call = call;
    nic_call_send(call);
}

void
nic_call_abandon(NicSteps *ns)
{
    if (!ns->call)
        return;
    /* peer_call() does not answer a cancelled call, so it is ours to free. */
    g_cancellable_cancel(ns->call->cancellable);
    g_clear_pointer(&ns->call, nic_call_free);
}

void
nic_call_settle(NicSteps *ns)
{
    NicCall *call = ns->call;
    g_autofree char *why = NULL;

    if (!call)
        return;
    call->settle = TRUE;
    if (!call->timer)
        return;     /* an attempt is under way: its answer is the last */
    why = g_strdup_printf("the job stopped waiting for %s: %s", call->what, call->last_why);
    nic_call_deliver(call, call->last_status, NULL, why);
}

/* --- releasing the reservation ------------------------------------------------ */

void
nic_release_free(NicRelease *rel)
{
    if (!rel)
        return;
    if (rel->cancellable)
        g_cancellable_cancel(rel->cancellable);
    g_clear_object(&rel->cancellable);
    g_clear_handle_id(&rel->timer, g_source_remove);
    g_free(rel->url);
    g_free(rel->token);
    g_free(rel->id);
    g_free(rel->domain);
    g_free(rel);
}

/* The release is over, with @phrase saying how. */
static void
nic_release_end(NicRelease *rel, gboolean released, const char *phrase)
{
    NicSteps *ns = rel->ns;

    if (!ns) {
        if (released)
            g_message("Job %s (%s): %s", rel->id, rel->domain, phrase);
        else
            g_warning("Job %s (%s): %s", rel->id, rel->domain, phrase);
        g_queue_remove(&orphans, rel);
        nic_release_free(rel);
        return;
    }
    ns->release = NULL;
    if (released)
        ns->reservation = NIC_RES_RELEASED;
    rel->done(ns, released, phrase);
    nic_release_free(rel);
}

static void nic_release_send(NicRelease *rel);

static gboolean
nic_release_retry(gpointer data)
{
    NicRelease *rel = data;

    rel->timer = 0;
    nic_release_send(rel);
    return G_SOURCE_REMOVE;
}

static void
nic_release_answered(guint status, json_t *body, const char *error, gpointer data)
{
    NicRelease *rel = data;
    g_autofree char *message = NULL;
    g_autofree char *phrase = NULL;
    g_autofree char *until = NULL;

    if (status == 200) {
        nic_release_end(rel, TRUE, "the destination's reservation and its leases are released");
        return;
    }
    if (status == 404) {
        nic_release_end(rel, TRUE, "the destination holds no reservation for the job");
        return;
    }
    message = peer_error_message(rel->url, status, body, error);
    if (nic_peer_classify(status, body) == NIC_PEER_DOWN &&
        g_get_monotonic_time() + rel->every_ms * 1000LL < rel->deadline_us) {
        if (!rel->noted && rel->ns) {
            until = nic_until(rel->deadline_us);
            if (!nic_note(rel->ns, "warning", "the destination's migd did not answer the release "
                          "of its reservation (%s); asking again every %g s until %s", message,
                          rel->every_ms / 1000.0, until))
                return;     /* the job ended, and @rel with it */
        }
        rel->noted = TRUE;
        rel->timer = g_timeout_add(rel->every_ms, nic_release_retry, rel);
        return;
    }
    g_free(until);
    until = nic_clock(rel->lease_until_us);
    phrase = g_strdup_printf("the destination's reservation could NOT be released (%s): its "
                             "incoming slot and leases there end by themselves at their TTL, by "
                             "%s at the latest", message, until);
    nic_release_end(rel, FALSE, phrase);
}

static void
nic_release_send(NicRelease *rel)
{
    g_autofree char *path = g_strdup_printf("/v1/reservations/%s", rel->id);

    peer_call(rel->url, rel->token, "DELETE", path, NULL, NIC_PEER_TIMEOUT_MS, rel->cancellable,
              nic_release_answered, rel);
}

void
nic_release(NicSteps *ns, NicReleased done)
{
    NicRelease *rel;

    if (!ns->migd_url || ns->reservation == NIC_RES_NONE ||
        ns->reservation == NIC_RES_RELEASED) {
        if (done)
            done(ns, TRUE, ns->reservation == NIC_RES_NONE
                               ? "no reservation was asked of the destination"
                               : "the destination holds no reservation for the job");
        return;
    }
    rel = g_new0(NicRelease, 1);
    rel->url = g_strdup(ns->migd_url);
    rel->token = g_strdup(ns->token);
    rel->id = g_strdup(ns->id);
    rel->domain = g_strdup(ns->domain);
    rel->deadline_us = g_get_monotonic_time() + ns->retry_for_ms * 1000LL;
    rel->every_ms = ns->retry_every_ms;
    rel->lease_until_us = ns->lease_until_us ? ns->lease_until_us
                                             : g_get_real_time() +
                                                   (gint64)ns->lease_ttl_s * G_USEC_PER_SEC;
    rel->cancellable = g_cancellable_new();
    if (done) {
        /* The rollback waits for it; it goes with the job's NIC steps. */
        rel->ns = ns;
        rel->done = done;
        nic_release_free(ns->release);
        ns->release = rel;
    } else {
        /* The job is over and its NIC steps go: the release lives on. */
        ns->reservation = NIC_RES_RELEASED;
        g_queue_push_tail(&orphans, rel);
    }
    nic_release_send(rel);
}

guint
nic_steps_releases_pending(void)
{
    return g_queue_get_length(&orphans);
}

void
nic_steps_releases_drop(void)
{
    NicRelease *rel;

    while ((rel = g_queue_pop_head(&orphans))) {
        gint64 left_s = (rel->lease_until_us - g_get_real_time()) / G_USEC_PER_SEC;

        g_warning("Job %s (%s): migd stops before the destination answered the release of its "
                  "reservation: its incoming slot and leases there end by themselves at their "
                  "TTL, in %" G_GINT64_FORMAT " s at the latest", rel->id, rel->domain,
                  MAX(left_s, 0));
        nic_release_free(rel);
    }
}
