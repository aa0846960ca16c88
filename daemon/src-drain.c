/* A drain's plan, its queue within max_outgoing and each peer's free
 * incoming slots, and its record. */
#include <config.h>

#include <string.h>

#include "jsonutil.h"
#include "src-drain.h"
#include "virt-ops.h"

struct _Drain {
    char *id;
    GPtrArray *guests;          /* DrainGuest* */
    json_t *skipped;            /* [{domain, job, why}] */
    GHashTable *peer_limit;     /* peer -> guests at once (its free incoming slots when read) */
    GHashTable *peer_running;   /* peer -> guests of the drain migrating there */
    guint max_outgoing;
    guint running;
    const DrainOps *ops;
    gpointer ctx;
    gint64 created_us, finished_us;     /* wall clock */
};

static const char *const guest_states[DRAIN_GUEST_STATE_LAST] = {
    [DRAIN_GUEST_QUEUED] = "queued",
    [DRAIN_GUEST_MIGRATING] = "migrating",
    [DRAIN_GUEST_COMPLETED] = "completed",
    [DRAIN_GUEST_FAILED] = "failed",
    [DRAIN_GUEST_STAYS] = "stays",
};

const char *
drain_guest_state_to_string(DrainGuestState state)
{
    return state < DRAIN_GUEST_STATE_LAST ? guest_states[state] : "unknown";
}

static void
drain_guest_free(gpointer data)
{
    DrainGuest *g = data;

    g_free(g->domain);
    if (g->needs)
        g_hash_table_unref(g->needs);
    g_free(g->peer);
    g_free(g->libvirt_uri);
    g_free(g->migd_url);
    if (g->choice)
        json_decref(g->choice);
    g_free(g->why);
    g_free(g->job);
    g_free(g->job_state);
    g_free(g);
}

void
drain_free(Drain *d)
{
    if (!d)
        return;
    g_free(d->id);
    g_ptr_array_unref(d->guests);
    json_decref(d->skipped);
    g_hash_table_unref(d->peer_limit);
    g_hash_table_unref(d->peer_running);
    g_free(d);
}

static gint
drain_domain_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(VirtDomainXml *const *)a)->name, (*(VirtDomainXml *const *)b)->name);
}

/* The peer for @g among @peers, or the reason it stays. */
static void
drain_plan_guest(DrainGuest *g, GPtrArray *peers)
{
    g_autoptr(GPtrArray) ranked = NULL;
    json_t *refused = json_array();
    ChoicePeer *best;

    ranked = choice_rank(peers, g->needs, refused);
    if (ranked->len == 0) {
        g->state = DRAIN_GUEST_STAYS;
        g->why = choice_refusal(g->domain, g->needs, refused);
        json_decref(refused);
        return;
    }
    best = g_ptr_array_index(ranked, 0);
    g->peer = g_strdup(best->peer);
    g->libvirt_uri = g_strdup(best->libvirt_uri);
    g->migd_url = g_strdup(best->migd_url);
    g->choice = choice_to_json(ranked, g->needs, refused);
    choice_take(best, g->needs);
}

Drain *
drain_plan(const char *id, const MigdConf *conf, const GPtrArray *running, GHashTable *in_flight,
           GPtrArray *peers)
{
    Drain *d = g_new0(Drain, 1);
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();

    d->id = g_strdup(id);
    d->guests = g_ptr_array_new_with_free_func(drain_guest_free);
    d->skipped = json_array();
    d->peer_limit = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->peer_running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->created_us = g_get_real_time();
    for (guint i = 0; i < peers->len; i++) {
        const ChoicePeer *p = g_ptr_array_index(peers, i);

        g_hash_table_replace(d->peer_limit, g_strdup(p->peer),
                             GUINT_TO_POINTER(p->incoming_free));
    }
    for (guint i = 0; i < running->len; i++)
        g_ptr_array_add(sorted, g_ptr_array_index(running, i));
    g_ptr_array_sort(sorted, drain_domain_cmp);
    for (guint i = 0; i < sorted->len; i++) {
        const VirtDomainXml *x = g_ptr_array_index(sorted, i);
        const char *job = in_flight ? g_hash_table_lookup(in_flight, x->name) : NULL;
        g_autoptr(GError) error = NULL;
        DrainGuest *g;

        if (job) {
            json_array_append_new(d->skipped,
                                  json_pack("{s:s,s:s,s:s}", "domain", x->name, "job", job, "why",
                                            "a migration job of it is in flight already"));
            continue;
        }
        g = g_new0(DrainGuest, 1);
        g->domain = g_strdup(x->name);
        g_ptr_array_add(d->guests, g);
        g->needs = choice_needs_from_xml(conf, x->name, x->xml, &error);
        if (!g->needs) {
            g->state = DRAIN_GUEST_STAYS;
            g->why = g_strdup(error->message);
            continue;
        }
        drain_plan_guest(g, peers);
    }
    return d;
}

const char *
drain_id(const Drain *d)
{
    return d->id;
}

GPtrArray *
drain_guests(Drain *d)
{
    return d->guests;
}

static guint
drain_peer_count(GHashTable *t, const char *peer)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(t, peer));
}

static void
drain_peer_add(Drain *d, const char *peer, int delta)
{
    guint n = drain_peer_count(d->peer_running, peer);

    g_hash_table_replace(d->peer_running, g_strdup(peer),
                         GUINT_TO_POINTER(delta < 0 && n == 0 ? 0 : n + delta));
}

static void
drain_submit(Drain *d, DrainGuest *g)
{
    g_autofree char *job = NULL;
    g_autofree char *error = NULL;

    if (!d->ops->submit(d->ctx, g, &job, &error)) {
        g->state = DRAIN_GUEST_FAILED;
        g->why = g_steal_pointer(&error);
        return;
    }
    g->state = DRAIN_GUEST_MIGRATING;
    g->job = g_steal_pointer(&job);
    g->job_state = g_strdup("pending");
    d->running++;
    drain_peer_add(d, g->peer, 1);
}

void
drain_pump(Drain *d)
{
    for (guint i = 0; i < d->guests->len && d->running < d->max_outgoing; i++) {
        DrainGuest *g = g_ptr_array_index(d->guests, i);

        if (g->state != DRAIN_GUEST_QUEUED ||
            drain_peer_count(d->peer_running, g->peer) >= drain_peer_count(d->peer_limit,
                                                                           g->peer))
            continue;
        drain_submit(d, g);
    }
    if (!d->finished_us && drain_is_done(d))
        d->finished_us = g_get_real_time();
}

void
drain_start(Drain *d, guint max_outgoing, const DrainOps *ops, gpointer ctx)
{
    d->max_outgoing = MAX(max_outgoing, 1);
    d->ops = ops;
    d->ctx = ctx;
    drain_pump(d);
}

void
drain_job_changed(Drain *d, const char *job, const char *state, gboolean final,
                  gboolean completed, const char *reason)
{
    for (guint i = 0; i < d->guests->len; i++) {
        DrainGuest *g = g_ptr_array_index(d->guests, i);

        if (g_strcmp0(g->job, job) != 0 || g->state != DRAIN_GUEST_MIGRATING)
            continue;
        g_free(g->job_state);
        g->job_state = g_strdup(state);
        if (!final)
            return;
        g->state = completed ? DRAIN_GUEST_COMPLETED : DRAIN_GUEST_FAILED;
        g_free(g->why);
        g->why = g_strdup(reason);
        d->running--;
        drain_peer_add(d, g->peer, -1);
        return;
    }
}

gboolean
drain_is_done(const Drain *d)
{
    for (guint i = 0; i < d->guests->len; i++) {
        const DrainGuest *g = g_ptr_array_index(d->guests, i);

        if (g->state == DRAIN_GUEST_QUEUED || g->state == DRAIN_GUEST_MIGRATING)
            return FALSE;
    }
    return TRUE;
}

static json_t *
drain_guest_to_json(const DrainGuest *g)
{
    g_autofree char *needs = g->needs ? choice_needs_describe(g->needs) : NULL;

    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "domain", g->domain, "state",
                     drain_guest_state_to_string(g->state), "peer", json_string_or_null(g->peer),
                     "needs", json_string_or_null(needs), "job", json_string_or_null(g->job),
                     "job_state", json_string_or_null(g->job_state), "why",
                     json_string_or_null(g->why), "destination_choice",
                     g->choice ? json_deep_copy(g->choice) : json_null());
}

/* One sentence for the whole drain. */
static char *
drain_summary(const Drain *d, const guint *counts, gboolean dry_run)
{
    g_autoptr(GString) s = g_string_new(NULL);
    guint n = d->guests->len;

    if (dry_run)
        g_string_printf(s, "%u of %u guest%s would leave this host; %u would stay",
                        n - counts[DRAIN_GUEST_STAYS], n, n == 1 ? "" : "s",
                        counts[DRAIN_GUEST_STAYS]);
    else if (drain_is_done(d))
        g_string_printf(s, "%u of %u guest%s left this host; %u failed and %u stay%s",
                        counts[DRAIN_GUEST_COMPLETED], n, n == 1 ? "" : "s",
                        counts[DRAIN_GUEST_FAILED], counts[DRAIN_GUEST_STAYS],
                        counts[DRAIN_GUEST_STAYS] == 1 ? "s" : "");
    else
        g_string_printf(s, "%u of %u guest%s left this host so far; %u migrating, %u queued",
                        counts[DRAIN_GUEST_COMPLETED], n, n == 1 ? "" : "s",
                        counts[DRAIN_GUEST_MIGRATING], counts[DRAIN_GUEST_QUEUED]);
    for (guint i = 0; i < d->guests->len; i++) {
        const DrainGuest *g = g_ptr_array_index(d->guests, i);

        if (g->state == DRAIN_GUEST_STAYS || g->state == DRAIN_GUEST_FAILED)
            g_string_append_printf(s, "; %s %s: %s", g->domain,
                                   g->state == DRAIN_GUEST_STAYS ? "stays" : "failed",
                                   g->why ? g->why : "no reason given");
    }
    if (json_array_size(d->skipped))
        g_string_append_printf(s, "; %zu skipped (a job of theirs is in flight)",
                               json_array_size(d->skipped));
    return g_string_free(g_steal_pointer(&s), FALSE);
}

json_t *
drain_to_json(const Drain *d, gboolean dry_run)
{
    guint counts[DRAIN_GUEST_STATE_LAST] = { 0 };
    json_t *guests = json_array();
    json_t *total;
    g_autofree char *summary = NULL;

    for (guint i = 0; i < d->guests->len; i++) {
        const DrainGuest *g = g_ptr_array_index(d->guests, i);

        counts[g->state]++;
        json_array_append_new(guests, drain_guest_to_json(g));
    }
    total = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "guests", (int)d->guests->len, "queued",
                      (int)counts[DRAIN_GUEST_QUEUED], "migrating",
                      (int)counts[DRAIN_GUEST_MIGRATING], "completed",
                      (int)counts[DRAIN_GUEST_COMPLETED], "failed",
                      (int)counts[DRAIN_GUEST_FAILED], "stays", (int)counts[DRAIN_GUEST_STAYS]);
    summary = drain_summary(d, counts, dry_run);
    return json_pack("{s:o,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:s}", "id",
                     dry_run ? json_null() : json_string(d->id), "state",
                     dry_run ? "planned" : drain_is_done(d) ? "done" : "running", "dry_run",
                     dry_run, "created_at", json_time_ms(d->created_us), "finished_at",
                     json_time_ms(d->finished_us), "guests", guests, "skipped",
                     json_deep_copy(d->skipped), "total", total, "summary", summary);
}
