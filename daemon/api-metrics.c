/* GET /metrics: metrics.h's counters and histograms, and gauges of what
 * this host holds now (jobs by state, its VFs by pool and state, the
 * reservations and incoming slots, the libvirt connection), in the
 * Prometheus text format. The VFs need the running domains, which are
 * read in a worker, so the answer is deferred. */
#include <config.h>

#include "api-priv.h"
#include "metrics.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct {
    Api *api;
    HttpDeferred *deferred;
} Scrape;

static void
write_jobs(GString *out, Engine *engine)
{
    g_autoptr(GPtrArray) jobs = engine_list(engine, -1, NULL);
    guint by_state[JOB_STATE_LAST] = { 0 };

    for (guint i = 0; i < jobs->len; i++) {
        const Job *job = g_ptr_array_index(jobs, i);

        if (job->state < JOB_STATE_LAST)
            by_state[job->state]++;
    }
    for (guint s = 0; s < JOB_STATE_LAST; s++)
        metrics_write_gauge(out, "migd_jobs",
                            s == 0 ? "Outgoing migrations this migd holds, by state (finished "
                                     "ones until their retention ends)."
                                   : NULL,
                            (const char *const[]){ "state", job_state_to_string(s), NULL },
                            by_state[s]);
}

static void
write_reservations(GString *out, Api *api)
{
    g_autoptr(json_t) list = incoming_list(api->incoming);
    json_t *reservations = json_object_get(list, "reservations");
    g_autoptr(GHashTable) by_state = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer key, value;
    gboolean first = TRUE;
    size_t i;
    json_t *r;

    json_array_foreach(reservations, i, r) {
        const char *state = json_string_value(json_object_get(r, "state"));

        if (state)
            g_hash_table_insert(by_state, (gpointer)state,
                                GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(by_state,
                                                                                      state)) + 1));
    }
    metrics_write_gauge(out, "migd_incoming_slots",
                        "Incoming migrations this host takes at once ([migration] max_incoming).",
                        NULL, api->conf->max_incoming);
    metrics_write_gauge(out, "migd_reservations_held",
                        "Reservations that sources hold on this host now.", NULL,
                        (double)json_array_size(reservations));
    g_hash_table_iter_init(&iter, by_state);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        metrics_write_gauge(out, "migd_reservations",
                            first ? "Reservations held on this host, by state." : NULL,
                            (const char *const[]){ "state", key, NULL },
                            GPOINTER_TO_UINT(value));
        first = FALSE;
    }
}

/* @vfs: incoming_vfs()'s answer, or NULL when the VFs could not be read. */
static void
write_vfs(GString *out, json_t *vfs)
{
    static const char *const states[] = { "free", "leased", "in-use" };
    g_autoptr(GHashTable) pools = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    g_autoptr(GList) names = NULL;
    gboolean first = TRUE;
    size_t i;
    json_t *vf;

    metrics_write_gauge(out, "migd_vfs_readable",
                        "1 when this host's VFs and the domains using them could be read.",
                        NULL, vfs != NULL);
    json_array_foreach(json_object_get(vfs, "vfs"), i, vf) {
        const char *pool = json_string_value(json_object_get(vf, "pool"));
        const char *state = json_string_value(json_object_get(vf, "state"));
        guint *counts;

        if (!pool || !state)
            continue;
        counts = g_hash_table_lookup(pools, pool);
        if (!counts) {
            counts = g_new0(guint, G_N_ELEMENTS(states));
            g_hash_table_insert(pools, (gpointer)pool, counts);
        }
        for (guint s = 0; s < G_N_ELEMENTS(states); s++)
            counts[s] += strcmp(state, states[s]) == 0;
    }
    names = g_list_sort(g_hash_table_get_keys(pools), (GCompareFunc)strcmp);
    for (GList *l = names; l; l = l->next) {
        const guint *counts = g_hash_table_lookup(pools, l->data);

        for (guint s = 0; s < G_N_ELEMENTS(states); s++) {
            metrics_write_gauge(out, "migd_vfs",
                                first ? "This host's VFs, by pool and state (free, leased to "
                                        "an incoming migration, in use by a running domain)."
                                      : NULL,
                                (const char *const[]){ "pool", l->data, "state", states[s], NULL },
                                counts[s]);
            first = FALSE;
        }
    }
}

static void
scrape_answer(json_t *vfs, const GError *error, gpointer data)
{
    Scrape *sc = data;
    HttpResponse resp = { 0 };
    GString *out = g_string_new(NULL);

    metrics_write_counters(out);
    write_jobs(out, sc->api->engine);
    write_reservations(out, sc->api);
    write_vfs(out, vfs);
    metrics_write_gauge(out, "migd_libvirt_connected",
                        "1 while migd is connected to this host's libvirt.", NULL,
                        virt_connection(sc->api->virt) != NULL);
    resp.status = 200;
    resp.text = g_string_free(out, FALSE);
    resp.content_type = METRICS_CONTENT_TYPE;
    http_deferred_finish(sc->deferred, &resp);
    g_free(sc);
}

void
api_get_metrics(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    Scrape *sc = g_new0(Scrape, 1);

    sc->api = api;
    sc->deferred = http_request_defer(req->http);
    incoming_vfs(api->incoming, scrape_answer, sc);
}
