/* The counters and histograms of metrics.h, and the text exposition
 * format they are written in (Prometheus 0.0.4: HELP and TYPE lines, then
 * one sample per line; label values escaped). */
#include <config.h>

#include <math.h>

#include "metrics.h"

typedef enum { KIND_COUNTER, KIND_HISTOGRAM } Kind;

static const double window_buckets[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
static const double duration_buckets[] = { 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800 };

typedef struct {
    const char *name;
    const char *help;
    Kind kind;
    const double *buckets;      /* histograms */
    guint n_buckets;
    GHashTable *series;         /* "a=\"x\",b=\"y\"" -> Series*, in a stable order below */
    GPtrArray *order;           /* the label strings, as first seen */
} Family;

typedef struct {
    double value;               /* counters */
    guint64 *counts;            /* histograms: per bucket, not cumulative */
    guint64 count;
    double sum;
} Series;

enum {
    F_STARTED,
    F_FINISHED,
    F_DURATION,
    F_DOWNTIME,
    F_NO_VF,
    F_PAUSED,
    F_PEER,
    F_PLUGIN,
    F_LAST
};

#define HIST(b) b, G_N_ELEMENTS(b)

static Family families[F_LAST] = {
    [F_STARTED] = { "migd_migrations_started_total",
                    "Migrations that left the queue for their checks, by the strategy asked for.",
                    KIND_COUNTER, NULL, 0, NULL, NULL },
    [F_FINISHED] = { "migd_migrations_finished_total",
                     "Migrations that ended, by result and by the strategy the checks chose.",
                     KIND_COUNTER, NULL, 0, NULL, NULL },
    [F_DURATION] = { "migd_migration_duration_seconds",
                     "From the request to the end of the job, by result.", KIND_HISTOGRAM,
                     HIST(duration_buckets), NULL, NULL },
    [F_DOWNTIME] = { "migd_migration_downtime_seconds",
                     "libvirt's downtime of completed migrations.", KIND_HISTOGRAM,
                     HIST(window_buckets), NULL, NULL },
    [F_NO_VF] = { "migd_migration_no_vf_window_seconds",
                  "How long guests ran without their passthrough NIC (unplugged to verified "
                  "on the destination).",
                  KIND_HISTOGRAM, HIST(window_buckets), NULL, NULL },
    [F_PAUSED] = { "migd_migration_paused_seconds",
                   "How long guests were paused by migd for the pause strategy.", KIND_HISTOGRAM,
                   HIST(window_buckets), NULL, NULL },
    [F_PEER] = { "migd_peer_requests_total",
                 "Requests to peer migds, by peer URL and HTTP status (0: no answer).",
                 KIND_COUNTER, NULL, 0, NULL, NULL },
    [F_PLUGIN] = { "migd_plugin_calls_total",
                   "Plugin callbacks, by plugin, callback and result (ok, error, timeout).",
                   KIND_COUNTER, NULL, 0, NULL, NULL },
};

static GMutex lock;

static void
series_free(gpointer data)
{
    Series *s = data;

    g_free(s->counts);
    g_free(s);
}

static void
label_value_append(GString *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

/* name="value",... from a NULL-terminated list of pairs ("" for none). */
static char *
labels_string(const char *const *labels)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        g_string_append_printf(out, "%s%s=\"", out->len ? "," : "", labels[i]);
        label_value_append(out, labels[i + 1]);
        g_string_append_c(out, '"');
    }
    return g_string_free(out, FALSE);
}

/* With @lock held. */
static Series *
series_get(Family *f, const char *const *labels)
{
    g_autofree char *key = labels_string(labels);
    Series *s;

    if (!f->series) {
        f->series = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, series_free);
        f->order = g_ptr_array_new();
    }
    s = g_hash_table_lookup(f->series, key);
    if (s)
        return s;
    s = g_new0(Series, 1);
    if (f->kind == KIND_HISTOGRAM)
        s->counts = g_new0(guint64, f->n_buckets);
    g_ptr_array_add(f->order, key);
    g_hash_table_insert(f->series, g_steal_pointer(&key), s);
    return s;
}

static void
count(guint family, const char *const *labels)
{
    g_mutex_lock(&lock);
    series_get(&families[family], labels)->value += 1;
    g_mutex_unlock(&lock);
}

static void
observe(guint family, const char *const *labels, gint64 ms)
{
    Family *f = &families[family];
    double seconds = ms / 1000.0;
    Series *s;

    if (ms < 0)
        return;
    g_mutex_lock(&lock);
    s = series_get(f, labels);
    for (guint i = 0; i < f->n_buckets; i++) {
        if (seconds <= f->buckets[i]) {
            s->counts[i]++;
            break;
        }
    }
    s->count++;
    s->sum += seconds;
    g_mutex_unlock(&lock);
}

void
metrics_migration_started(const char *strategy)
{
    count(F_STARTED, (const char *const[]){ "strategy", strategy ? strategy : "auto", NULL });
}

void
metrics_migration_finished(const char *result, const char *strategy, gint64 duration_ms,
                           gint64 downtime_ms, gint64 no_vf_window_ms, gint64 paused_ms)
{
    count(F_FINISHED, (const char *const[]){ "result", result, "strategy",
                                             strategy ? strategy : "none", NULL });
    observe(F_DURATION, (const char *const[]){ "result", result, NULL }, duration_ms);
    observe(F_DOWNTIME, NULL, downtime_ms);
    observe(F_NO_VF, NULL, no_vf_window_ms);
    observe(F_PAUSED, NULL, paused_ms);
}

void
metrics_peer_request(const char *peer, guint status)
{
    g_autofree char *code = g_strdup_printf("%u", status);

    count(F_PEER, (const char *const[]){ "peer", peer, "status", code, NULL });
}

void
metrics_plugin_call(const char *plugin, const char *call, const char *result)
{
    count(F_PLUGIN, (const char *const[]){ "plugin", plugin, "call", call, "result", result,
                                           NULL });
}

static void
number_append(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (isinf(v))
        g_string_append(out, v > 0 ? "+Inf" : "-Inf");
    else
        g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.15g", v));
}

static void
sample_append(GString *out, const char *name, const char *suffix, const char *labels,
              const char *le, double value)
{
    g_string_append_printf(out, "%s%s", name, suffix);
    if ((labels && *labels) || le) {
        g_string_append_c(out, '{');
        if (labels && *labels)
            g_string_append(out, labels);
        if (le) {
            g_string_append_printf(out, "%sle=\"%s\"", labels && *labels ? "," : "", le);
        }
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ' ');
    number_append(out, value);
    g_string_append_c(out, '\n');
}

static void
histogram_append(GString *out, const Family *f, const char *labels, const Series *s)
{
    guint64 cumulative = 0;
    char le[G_ASCII_DTOSTR_BUF_SIZE];

    for (guint i = 0; i < f->n_buckets; i++) {
        cumulative += s->counts[i];
        sample_append(out, f->name, "_bucket", labels,
                      g_ascii_formatd(le, sizeof(le), "%g", f->buckets[i]), (double)cumulative);
    }
    sample_append(out, f->name, "_bucket", labels, "+Inf", (double)s->count);
    sample_append(out, f->name, "_sum", labels, NULL, s->sum);
    sample_append(out, f->name, "_count", labels, NULL, (double)s->count);
}

void
metrics_write_counters(GString *out)
{
    g_mutex_lock(&lock);
    for (guint i = 0; i < F_LAST; i++) {
        const Family *f = &families[i];

        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                               f->kind == KIND_COUNTER ? "counter" : "histogram");
        /* A histogram without labels is there from the start, empty. */
        if (!f->order && f->kind == KIND_HISTOGRAM && i != F_DURATION) {
            g_autofree guint64 *none = g_new0(guint64, f->n_buckets);
            Series empty = { .counts = none };

            histogram_append(out, f, "", &empty);
        }
        for (guint j = 0; f->order && j < f->order->len; j++) {
            const char *labels = g_ptr_array_index(f->order, j);
            const Series *s = g_hash_table_lookup(f->series, labels);

            if (f->kind == KIND_COUNTER)
                sample_append(out, f->name, "", labels, NULL, s->value);
            else
                histogram_append(out, f, labels, s);
        }
    }
    g_mutex_unlock(&lock);
}

void
metrics_write_gauge(GString *out, const char *name, const char *help,
                    const char *const *labels, double value)
{
    g_autofree char *text = labels_string(labels);

    if (help)
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    sample_append(out, name, "", text, NULL, value);
}

void
metrics_reset(void)
{
    g_mutex_lock(&lock);
    for (guint i = 0; i < F_LAST; i++) {
        g_clear_pointer(&families[i].order, g_ptr_array_unref);
        g_clear_pointer(&families[i].series, g_hash_table_unref);
    }
    g_mutex_unlock(&lock);
}
