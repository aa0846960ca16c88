/* Choosing a destination: the peers' capacity reads and the ranking rule
 * of src-choose.h. */
#include <config.h>

#include <string.h>

#include "domxml.h"
#include "error.h"
#include "jsonutil.h"
#include "peer.h"
#include "pool.h"
#include "src-choose.h"

#define CHOICE_TIMEOUT_MS 5000

void
choice_peer_free(ChoicePeer *p)
{
    if (!p)
        return;
    g_free(p->peer);
    g_free(p->libvirt_uri);
    g_free(p->migd_url);
    g_free(p->error);
    g_free(p->draining);
    g_hash_table_unref(p->pool_free);
    g_free(p);
}

ChoicePeer *
choice_peer_new(const char *name, const char *libvirt_uri, const char *migd_url)
{
    ChoicePeer *p = g_new0(ChoicePeer, 1);

    p->peer = g_strdup(name);
    p->libvirt_uri = g_strdup(libvirt_uri);
    p->migd_url = g_strdup(migd_url);
    p->pool_free = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return p;
}

gboolean
choice_peer_take_capacity(ChoicePeer *p, json_t *capacity)
{
    json_t *pools = json_object_get(capacity, "pools");
    json_t *max = json_object_get(capacity, "max_incoming");
    json_t *free_slots = json_object_get(capacity, "incoming_free");
    const char *name;
    json_t *pool;

    if (!json_is_integer(max) || !json_is_integer(free_slots) || !json_is_object(pools)) {
        g_free(p->error);
        p->error = g_strdup("its answer to GET /v1/capacity is not a capacity (is its migd "
                            "older than this one?)");
        return FALSE;
    }
    p->max_incoming = (guint)json_integer_value(max);
    p->incoming_free = (guint)json_integer_value(free_slots);
    g_free(p->draining);
    p->draining = g_strdup(json_string_value(json_object_get(capacity, "draining")));
    json_object_foreach(pools, name, pool)
        g_hash_table_replace(p->pool_free, g_strdup(name),
                             GUINT_TO_POINTER(json_integer_value(json_object_get(pool, "free"))));
    return TRUE;
}

/* --- the guest's needs ------------------------------------------------------ */

GHashTable *
choice_needs_from_xml(const MigdConf *conf, const char *domain, const char *xml, GError **error)
{
    g_autoptr(PoolSet) pools = pool_set_new(conf->pools);
    g_autoptr(GPtrArray) nics = domxml_find_nics(xml, pool_set_lookup, pools, error);
    g_autoptr(GHashTable) needs = NULL;

    if (!nics)
        return NULL;
    needs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);

        if (!nic->pool) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                        "%s's passthrough device %s (%s) belongs to no pool of migd.conf, so "
                        "no host can be chosen for it", domain, nic->alias, nic->address);
            return NULL;
        }
        g_hash_table_replace(needs, g_strdup(nic->pool),
                             GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(needs,
                                                                                   nic->pool)) +
                                              1));
    }
    return g_steal_pointer(&needs);
}

/* The pool names of @needs, sorted, so that every message reads the same. */
static GList *
choice_needs_sorted(GHashTable *needs)
{
    return g_list_sort(g_hash_table_get_keys(needs), (GCompareFunc)strcmp);
}

char *
choice_needs_describe(GHashTable *needs)
{
    g_autoptr(GString) s = g_string_new(NULL);
    GList *names = choice_needs_sorted(needs);

    for (GList *l = names; l; l = l->next) {
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(needs, l->data));

        g_string_append_printf(s, "%s%u VF%s of pool '%s'", s->len ? ", " : "", n,
                               n == 1 ? "" : "s", (const char *)l->data);
    }
    g_list_free(names);
    return s->len ? g_string_free(g_steal_pointer(&s), FALSE) : g_strdup("no VF");
}

/* --- reading the peers -------------------------------------------------------- */

typedef struct {
    GPtrArray *peers;           /* ChoicePeer* */
    guint waiting;
    GCancellable *cancellable;
    ChoiceRead done;
    gpointer data;
} ChoiceReading;

typedef struct {
    ChoiceReading *reading;
    ChoicePeer *peer;           /* borrowed from reading->peers */
} ChoiceAsk;

static void
choice_reading_end(ChoiceReading *r)
{
    if (--r->waiting > 0)
        return;
    if (!r->cancellable || !g_cancellable_is_cancelled(r->cancellable))
        r->done(r->peers, r->data);
    g_ptr_array_unref(r->peers);
    g_clear_object(&r->cancellable);
    g_free(r);
}

static void
choice_answered(guint status, json_t *body, const char *error, gpointer data)
{
    ChoiceAsk *ask = data;

    if (status != 200)
        ask->peer->error = peer_error_message(ask->peer->migd_url, status, body, error);
    else
        (void)choice_peer_take_capacity(ask->peer, body);
    choice_reading_end(ask->reading);
    g_free(ask);
}

/* The peer call's cancellable is not passed on: every answer must come
 * back for the reading to end (and be freed); a cancelled one answers no
 * one. */
void
choice_read(const GPtrArray *peers, const char *token, GCancellable *cancellable,
            ChoiceRead done, gpointer data)
{
    ChoiceReading *r = g_new0(ChoiceReading, 1);

    r->peers = g_ptr_array_new_with_free_func((GDestroyNotify)choice_peer_free);
    r->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    r->done = done;
    r->data = data;
    r->waiting = 1;             /* held until every call is sent */
    for (guint i = 0; i < peers->len; i++) {
        const MigdPeer *mp = g_ptr_array_index(peers, i);
        ChoicePeer *p = choice_peer_new(mp->name, mp->libvirt_uri, mp->migd_url);
        ChoiceAsk *ask;

        g_ptr_array_add(r->peers, p);
        if (!mp->migd_url) {
            p->error = g_strdup("it has no migd_url in migd.conf, so its capacity cannot be "
                                "asked");
            continue;
        }
        ask = g_new0(ChoiceAsk, 1);
        ask->reading = r;
        ask->peer = p;
        r->waiting++;
        peer_call(mp->migd_url, token, "GET", "/v1/capacity", NULL, CHOICE_TIMEOUT_MS, NULL,
                  choice_answered, ask);
    }
    choice_reading_end(r);
}

/* --- ranking ---------------------------------------------------------------- */

/* Why @p cannot take a guest needing @needs, or NULL when it can. */
static char *
choice_why_not(const ChoicePeer *p, GHashTable *needs)
{
    GList *names = choice_needs_sorted(needs);
    char *why = NULL;

    if (p->error) {
        why = g_strdup(p->error);
        goto out;
    }
    if (p->draining) {
        why = g_strdup_printf("it is being drained (drain %s) and takes no guest in", p->draining);
        goto out;
    }
    for (GList *l = names; l && !why; l = l->next) {
        const char *pool = l->data;
        guint need = GPOINTER_TO_UINT(g_hash_table_lookup(needs, pool));
        gpointer have;

        if (!g_hash_table_lookup_extended(p->pool_free, pool, NULL, &have))
            why = g_strdup_printf("it has no pool '%s'", pool);
        else if (GPOINTER_TO_UINT(have) < need)
            why = g_strdup_printf("it has %u free VF%s in pool '%s' and the guest needs %u",
                                  GPOINTER_TO_UINT(have), GPOINTER_TO_UINT(have) == 1 ? "" : "s",
                                  pool, need);
    }
    if (!why && p->incoming_free == 0)
        why = g_strdup_printf("it has no free incoming slot (max_incoming %u, all taken)",
                              p->max_incoming);
out:
    g_list_free(names);
    return why;
}

static guint
choice_free_vfs(const ChoicePeer *p, GHashTable *needs)
{
    GHashTableIter it;
    gpointer pool;
    guint sum = 0;

    g_hash_table_iter_init(&it, needs);
    while (g_hash_table_iter_next(&it, &pool, NULL))
        sum += GPOINTER_TO_UINT(g_hash_table_lookup(p->pool_free, pool));
    return sum;
}

static gint
choice_compare(gconstpointer a, gconstpointer b, gpointer needs)
{
    const ChoicePeer *pa = *(ChoicePeer *const *)a, *pb = *(ChoicePeer *const *)b;
    guint va = choice_free_vfs(pa, needs), vb = choice_free_vfs(pb, needs);

    if (va != vb)
        return va > vb ? -1 : 1;
    if ((gint64)pa->incoming_free - pa->planned != (gint64)pb->incoming_free - pb->planned)
        return (gint64)pa->incoming_free - pa->planned > (gint64)pb->incoming_free - pb->planned
                   ? -1 : 1;
    return strcmp(pa->peer, pb->peer);
}

GPtrArray *
choice_rank(const GPtrArray *peers, GHashTable *needs, json_t *refused)
{
    GPtrArray *ranked = g_ptr_array_new();

    for (guint i = 0; i < peers->len; i++) {
        ChoicePeer *p = g_ptr_array_index(peers, i);
        g_autofree char *why = choice_why_not(p, needs);

        if (why)
            json_array_append_new(refused, json_pack("{s:s,s:s}", "peer", p->peer, "why", why));
        else
            g_ptr_array_add(ranked, p);
    }
    g_ptr_array_sort_with_data(ranked, choice_compare, needs);
    return ranked;
}

static char *
choice_why(const ChoicePeer *p, GHashTable *needs, guint place, guint of)
{
    g_autofree char *need = choice_needs_describe(needs);

    return g_strdup_printf("%s of %u peer%s that can take the guest (it needs %s): %u free VF%s "
                           "in those pools, %u of %u incoming slots free", place == 0 ? "the best"
                           : place == 1 ? "the second" : "a later choice", of, of == 1 ? "" : "s",
                           need, choice_free_vfs(p, needs),
                           choice_free_vfs(p, needs) == 1 ? "" : "s", p->incoming_free,
                           p->max_incoming);
}

json_t *
choice_to_json(const GPtrArray *ranked, GHashTable *needs, json_t *refused)
{
    const ChoicePeer *best = g_ptr_array_index(ranked, 0);
    json_t *remaining = json_array();
    g_autofree char *why = choice_why(best, needs, 0, ranked->len);

    for (guint i = 1; i < ranked->len; i++) {
        const ChoicePeer *p = g_ptr_array_index(ranked, i);
        g_autofree char *next_why = choice_why(p, needs, i, ranked->len);

        json_array_append_new(remaining, json_pack("{s:s,s:s,s:o,s:s}", "name", p->peer,
                                                   "libvirt_uri", p->libvirt_uri, "migd_url",
                                                   json_string_or_null(p->migd_url), "why",
                                                   next_why));
    }
    return json_pack("{s:s,s:s,s:o,s:o}", "chosen", best->peer, "why", why, "refused", refused,
                     "remaining", remaining);
}

char *
choice_refusal(const char *domain, GHashTable *needs, json_t *refused)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *need = choice_needs_describe(needs);
    size_t i;
    json_t *item;

    g_string_printf(s, "no peer can take %s (it needs %s and an incoming slot)", domain, need);
    if (json_array_size(refused) == 0)
        g_string_append(s, ": migd.conf names no peer ([peer.NAME])");
    json_array_foreach(refused, i, item)
        g_string_append_printf(s, "%s %s: %s", i == 0 ? ":" : ";",
                               json_string_value(json_object_get(item, "peer")),
                               json_string_value(json_object_get(item, "why")));
    return g_string_free(g_steal_pointer(&s), FALSE);
}

void
choice_take(ChoicePeer *p, GHashTable *needs)
{
    GHashTableIter it;
    gpointer pool, n;

    g_hash_table_iter_init(&it, needs);
    while (g_hash_table_iter_next(&it, &pool, &n)) {
        guint have = GPOINTER_TO_UINT(g_hash_table_lookup(p->pool_free, pool));

        g_hash_table_replace(p->pool_free, g_strdup(pool),
                             GUINT_TO_POINTER(have - MIN(have, GPOINTER_TO_UINT(n))));
    }
    p->planned++;
}
