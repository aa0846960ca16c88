/* The destination asks a reservation's source whether its job still runs
 * (GET /v1/migrations/JOB on the source's migd), so that what a failed or
 * crashed job left here is released instead of waiting, armed, for a guest
 * that is not coming. Only a source_url that is one of this host's own
 * [peer.NAME] migd_url is asked: never a URL a request made up. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "log.h"
#include "peer.h"

#define DEST_SOURCE_TIMEOUT_MS 5000

typedef struct {
    Incoming *in;
    char *id;
    gboolean at_expiry;
} DestAsk;

static void
dest_ask_free(DestAsk *ask)
{
    g_free(ask->id);
    g_free(ask);
}

gboolean
dest_source_trusted(Incoming *in, const char *source_url)
{
    for (guint i = 0; source_url && i < in->conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(in->conf->peers, i);

        if (peer->migd_url && strcmp(peer->migd_url, source_url) == 0)
            return TRUE;
    }
    return FALSE;
}

static gboolean
dest_job_is_final(const char *state)
{
    return g_strv_contains((const char *const[]){ "completed", "failed", "cancelled", NULL },
                           state ? state : "");
}

/* The source's answer about @r's job: release, renew or keep. */
static void
dest_source_answered(Incoming *in, Reservation *r, gboolean at_expiry, guint status,
                     json_t *body, const char *error)
{
    const char *state = json_string_value(json_object_get(body, "state"));
    g_autofree char *why = NULL;

    if (r->state == REPLUG_PLUGGING || r->state == REPLUG_VERIFYING)
        return;     /* the guest arrived meanwhile: the replug goes on */
    if (status == 404)
        why = g_strdup_printf("its job is unknown on its source %s", r->source_url);
    else if (status == 200 && dest_job_is_final(state))
        why = g_strdup_printf("its job is %s on its source %s", state, r->source_url);
    else if (at_expiry && status == 200 && state)
        log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "The reservation of job %s (%s) reached its TTL, but the job is still %s "
                       "on its source %s: renewed", r->id, r->domain, state, r->source_url);
    else if (at_expiry)
        why = g_strdup_printf("it expired: its source stopped renewing it and cannot be asked "
                              "about the job (%s)", error ? error : "an unexpected answer");
    if (why)
        dest_release(in, r, why);
}

static void
dest_source_replied(guint status, json_t *body, const char *error, gpointer data)
{
    DestAsk *ask = data;
    Reservation *r = g_hash_table_lookup(ask->in->reservations, ask->id);

    if (r) {
        r->asking = FALSE;
        dest_source_answered(ask->in, r, ask->at_expiry, status, body, error);
    }
    dest_ask_free(ask);
}

void
dest_ask_source(Incoming *in, Reservation *r, gboolean at_expiry)
{
    g_autofree char *path = NULL;
    DestAsk *ask;

    g_autoptr(GError) error = NULL;

    if (!dest_source_trusted(in, r->source_url)) {
        if (at_expiry)
            dest_release(in, r, "it expired: its source stopped renewing it");
        return;
    }
    /* The leases expire with the reservation: they are kept while the
     * source is asked, and released with it when the answer says so. */
    if (at_expiry && !dest_renew(in, r, &error)) {
        dest_release(in, r, error->message);
        return;
    }
    ask = g_new0(DestAsk, 1);
    ask->in = in;
    ask->id = g_strdup(r->id);
    ask->at_expiry = at_expiry;
    r->asking = TRUE;
    path = g_strdup_printf("/v1/migrations/%s", r->id);
    peer_call(r->source_url, in->conf->peer_token, "GET", path, NULL, DEST_SOURCE_TIMEOUT_MS,
              in->cancellable, dest_source_replied, ask);
}
