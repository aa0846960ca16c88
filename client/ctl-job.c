/* Text renderings of migd's migration job records and of their parts. */
#include <config.h>

#include <string.h>

#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-job.h"

#define JOB_SHORT_ID 8
#define JOB_PHASE_WIDTH 11

/* Members are read leniently: a missing, null or mistyped one is "not
 * known", so that a newer migd's records still show. */
static const char *
job_string(json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static json_t *
job_object(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);

    return json_is_object(value) ? value : NULL;
}

/* A number, or -1 when not known. */
static double
job_number(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);

    return json_is_number(value) ? json_number_value(value) : -1;
}

/* A row value made by @format from one number, NULL when not known. */
static char *
job_figure(json_t *object, const char *key, char *(*format)(double value))
{
    double value = job_number(object, key);

    return value < 0 ? NULL : format(value);
}

static char *
job_format_ms(double ms)
{
    return g_strdup_printf("%.0f ms", ms);
}

static char *
job_format_count(double count)
{
    return g_strdup_printf("%.0f", count);
}

gboolean
ctl_job_check(json_t *record, GError **error)
{
    json_error_t json_error;
    const char *id = NULL;
    const char *domain;
    const char *state;

    if (json_unpack_ex(record, &json_error, 0, "{s:s, s:s, s:s}", "id", &id,
                       "domain", &domain, "state", &state) < 0 ||
        id[0] == '\0') {
        g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                    "the migration record migd sent is not in the form "
                    "migctl expects (%s). migd and migctl may come from "
                    "different releases: compare 'migctl --version' with the "
                    "migd package version.",
                    id && id[0] == '\0' ? "its id is empty" : json_error.text);
        return FALSE;
    }
    return TRUE;
}

/* The destination as people named it: its peer name, else its URI. */
static const char *
job_destination(json_t *record)
{
    json_t *destination = json_object_get(record, "destination");
    const char *name;

    if (json_is_string(destination))
        return json_string_value(destination);
    name = job_string(destination, "name");
    if (!name)
        name = job_string(destination, "libvirt_uri");
    return name ? name : "?";
}

/* "migration ID of DOMAIN to DEST", to add to. */
static GString *
job_describe(json_t *record)
{
    GString *text = g_string_new(NULL);

    g_string_printf(text, "migration %s of %s to %s", job_string(record, "id"),
                    job_string(record, "domain"), job_destination(record));
    return text;
}

/* @line, freed, as text safe to print. */
static char *
job_take_line(GString *line)
{
    g_autofree char *text = g_string_free(line, FALSE);

    return ctl_format_sanitize(text, -1);
}

/* @text, sanitized, with a newline. */
static char *
job_line(const char *text)
{
    g_autofree char *clean = ctl_format_sanitize(text, -1);

    return g_strconcat(clean, "\n", NULL);
}

static char *
job_format_accepted(json_t *record, gboolean hint, GError **error)
{
    GString *line;
    g_autofree char *text = NULL;
    g_autofree char *hint_line = NULL;
    g_autofree char *clean_hint = NULL;

    if (!ctl_job_check(record, error))
        return NULL;
    line = job_describe(record);
    g_string_append_printf(line, " accepted (state %s)",
                           job_string(record, "state"));
    text = job_take_line(line);
    if (!hint)
        return g_strconcat(text, "\n", NULL);
    hint_line = g_strdup_printf("follow it with: migctl watch %s",
                                job_string(record, "id"));
    clean_hint = ctl_format_sanitize(hint_line, -1);
    return g_strconcat(text, "\n", clean_hint, "\n", NULL);
}

char *
ctl_job_format_accepted(json_t *record, GError **error)
{
    return job_format_accepted(record, TRUE, error);
}

char *
ctl_job_format_accepted_waiting(json_t *record, GError **error)
{
    return job_format_accepted(record, FALSE, error);
}

char *
ctl_job_format_cancelling(json_t *record, GError **error)
{
    g_autofree char *line = NULL;

    if (!ctl_job_check(record, error))
        return NULL;
    line = g_strdup_printf("cancelling migration %s (state %s)",
                           job_string(record, "id"),
                           job_string(record, "state"));
    return job_line(line);
}

char *
ctl_job_format_forcing(json_t *record, GError **error)
{
    g_autofree char *line = NULL;

    if (!ctl_job_check(record, error))
        return NULL;
    line = g_strdup_printf("asked migd to force migration %s (state %s) to "
                           "complete; its timeline will say what migd did: "
                           "migctl status %s", job_string(record, "id"),
                           job_string(record, "state"),
                           job_string(record, "id"));
    return job_line(line);
}

/* What the final job came to: outcome.result, else a final state, else
 * NULL while it runs. */
static const char *
job_result(json_t *record)
{
    static const char *const final_states[] = {
        "completed", "failed", "cancelled", NULL
    };
    const char *result = job_string(job_object(record, "outcome"), "result");
    const char *state = job_string(record, "state");

    if (result)
        return result;
    if (state && g_strv_contains(final_states, state))
        return state;
    return NULL;
}

gboolean
ctl_job_completed(json_t *record)
{
    return g_strcmp0(job_result(record), "completed") == 0;
}

/* "failed: reason", "cancelled", ..., or NULL while the job runs. */
static char *
job_outcome_text(json_t *record)
{
    const char *result = job_result(record);
    const char *reason = job_string(job_object(record, "outcome"), "reason");

    if (!result)
        return NULL;
    if (!reason || reason[0] == '\0')
        return g_strdup(result);
    return g_strdup_printf("%s: %s", result, reason);
}

char *
ctl_job_outcome_line(json_t *record)
{
    json_t *result = job_object(record, "result");
    g_autofree char *outcome = job_outcome_text(record);
    GString *line = job_describe(record);

    if (ctl_job_completed(record)) {
        g_autofree char *total = job_figure(result, "total_time_ms",
                                            ctl_format_span);
        g_autofree char *downtime = job_figure(result, "downtime_ms",
                                               job_format_ms);

        g_string_append(line, " completed");
        if (total)
            g_string_append_printf(line, " in %s", total);
        if (downtime)
            g_string_append_printf(line, " with %s of downtime", downtime);
    } else {
        g_string_append_printf(line, " %s",
                               outcome ? outcome : "ended without an outcome");
    }
    return job_take_line(line);
}

char *
ctl_job_failure_message(json_t *record)
{
    const char *id = job_string(record, "id");
    g_autofree char *outcome = job_outcome_text(record);
    g_autofree char *message = NULL;

    message = g_strdup_printf("migration %s did not complete (%s). 'migctl "
                              "status %s' shows its whole timeline.",
                              id, outcome ? outcome : "no outcome", id);
    return ctl_format_sanitize(message, -1);
}

/* "+0.877 s" from the start of the job, or "?". */
static char *
job_offset(json_t *entry)
{
    double ms = job_number(entry, "t_ms");

    if (ms < 0 || ms >= 1e15)
        return g_strdup("?");
    return g_strdup_printf("+%" G_GUINT64_FORMAT ".%03u s",
                           (guint64)ms / 1000, (guint)((guint64)ms % 1000));
}

char *
ctl_job_timeline_line(json_t *entry)
{
    g_autofree char *offset = job_offset(entry);
    const char *kind = job_string(entry, "kind");
    const char *state = job_string(entry, "state");
    const char *message = job_string(entry, "message");
    g_autofree char *text = g_strdup(message ? message : "");
    g_autofree char *line = NULL;

    /* A state change says which state it entered. */
    if (g_strcmp0(kind, "state") == 0 && state) {
        g_free(text);
        text = g_strdup_printf("[%s]%s%s", state, message ? " " : "",
                               message ? message : "");
    }
    line = g_strdup_printf("%9s  %-7s  %s", offset, kind ? kind : "?", text);
    return ctl_format_sanitize(line, -1);
}

char *
ctl_job_progress_line(const char *state, json_t *progress)
{
    const char *phase = state ? state : "?";
    double percent = job_number(progress, "percent");
    g_autofree char *percent_text = NULL;
    g_autofree char *bar = NULL;
    g_autofree char *rate = NULL;
    g_autofree char *left = NULL;
    g_autofree char *eta = NULL;
    g_autofree char *line = NULL;

    if (!progress)
        return ctl_format_sanitize(phase, -1);
    if (json_is_true(json_object_get(progress, "postcopy")))
        phase = "post-copy";
    percent_text = ctl_format_percent(percent);
    bar = ctl_format_bar(percent, CTL_JOB_BAR_WIDTH);
    rate = ctl_format_rate(job_number(progress, "memory_bps"));
    left = ctl_format_size(job_number(progress, "data_remaining"));
    eta = ctl_format_span(job_number(progress, "eta_ms"));
    /* A phase too long for its column still needs a space after it. */
    line = g_strdup_printf("%-*s%s%4s %s  %s  %s left  ETA %s",
                           JOB_PHASE_WIDTH, phase,
                           strlen(phase) >= JOB_PHASE_WIDTH ? " " : "",
                           percent_text, bar, rate, left, eta);
    return ctl_format_sanitize(line, -1);
}

/* "B (qemu+tcp://10.200.0.2/system, migd at http://10.200.0.2:7480)". */
static char *
job_destination_text(json_t *record)
{
    json_t *destination = job_object(record, "destination");
    const char *uri = job_string(destination, "libvirt_uri");
    const char *url = job_string(destination, "migd_url");
    GString *text = g_string_new(job_destination(record));

    if (job_string(destination, "name") && (uri || url)) {
        g_string_append(text, " (");
        if (uri)
            g_string_append(text, uri);
        if (url)
            g_string_append_printf(text, "%smigd at %s", uri ? ", " : "", url);
        g_string_append_c(text, ')');
    }
    return g_string_free(text, FALSE);
}

/* "57%: 91.5 MiB of 161 MiB done, 68 MiB left". */
static char *
job_progress_text(json_t *progress)
{
    g_autofree char *percent = NULL;
    g_autofree char *done = NULL;
    g_autofree char *total = NULL;
    g_autofree char *left = NULL;

    if (!progress)
        return NULL;
    percent = ctl_format_percent(job_number(progress, "percent"));
    done = ctl_format_size(job_number(progress, "data_processed"));
    total = ctl_format_size(job_number(progress, "data_total"));
    left = ctl_format_size(job_number(progress, "data_remaining"));
    return g_strdup_printf("%s: %s of %s done, %s left",
                           percent, done, total, left);
}

/* "532 MiB/s, guest dirtying 120 pages/s". */
static char *
job_rate_text(json_t *progress)
{
    g_autofree char *rate = NULL;
    double dirty = job_number(progress, "dirty_rate_pps");

    if (!progress)
        return NULL;
    rate = ctl_format_rate(job_number(progress, "memory_bps"));
    if (dirty < 0)
        return g_steal_pointer(&rate);
    return g_strdup_printf("%s, guest dirtying %.0f pages/s", rate, dirty);
}

static void
job_append_timeline(GString *out, json_t *record)
{
    json_t *timeline = json_object_get(record, "timeline");
    size_t i;
    json_t *entry;

    if (!json_is_array(timeline) || json_array_size(timeline) == 0)
        return;
    g_string_append(out, "\ntimeline:\n");
    json_array_foreach(timeline, i, entry) {
        g_autofree char *line = ctl_job_timeline_line(entry);

        g_string_append_printf(out, "  %s\n", line);
    }
}

/* @text, kept in @owned until the rows that show it are printed. */
static const char *
job_keep(GPtrArray *owned, char *text)
{
    if (text)
        g_ptr_array_add(owned, text);
    return text;
}

char *
ctl_job_format_status(json_t *record, GError **error)
{
    g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
    json_t *progress = job_object(record, "progress");
    json_t *result = job_object(record, "result");
    gboolean postcopy = json_is_true(json_object_get(progress, "postcopy"));
    GString *out;

    if (!ctl_job_check(record, error))
        return NULL;

    const CtlRow rows[] = {
        { "migration", job_string(record, "id") },
        { "domain", job_string(record, "domain") },
        { "destination", job_keep(owned, job_destination_text(record)) },
        { "strategy", job_string(record, "strategy") },
        { "state", job_string(record, "state") },
        { "outcome", job_keep(owned, job_outcome_text(record)) },
        { "created", job_string(record, "created_at") },
        { "started", job_string(record, "started_at") },
        { "finished", job_string(record, "finished_at") },
        { "elapsed", job_keep(owned, job_figure(progress, "elapsed_ms",
                                                ctl_format_span)) },
        { "progress", job_keep(owned, job_progress_text(progress)) },
        { "rate", job_keep(owned, job_rate_text(progress)) },
        { "iteration", job_keep(owned, job_figure(progress, "iteration",
                                                  job_format_count)) },
        { "time left", job_keep(owned, job_figure(progress, "eta_ms",
                                                  ctl_format_span)) },
        { "max downtime", job_keep(owned, job_figure(progress,
                                                     "max_downtime_ms",
                                                     job_format_ms)) },
        { "post-copy", postcopy ? "yes" : NULL },
        { "downtime", job_keep(owned, job_figure(result, "downtime_ms",
                                                 job_format_ms)) },
        { "setup time", job_keep(owned, job_figure(result, "setup_time_ms",
                                                   job_format_ms)) },
        { "total time", job_keep(owned, job_figure(result, "total_time_ms",
                                                   ctl_format_span)) },
        { "transferred", job_keep(owned, job_figure(result,
                                                    "data_transferred",
                                                    ctl_format_size)) },
    };
    out = g_string_new(NULL);
    ctl_format_append_rows(out, rows, G_N_ELEMENTS(rows));
    job_append_timeline(out, record);
    return g_string_free(out, FALSE);
}

/* The cells of one row of `migctl list`, appended to @cells. */
static void
job_append_list_row(GPtrArray *cells, json_t *record)
{
    json_t *progress = job_object(record, "progress");

    g_ptr_array_add(cells, g_strndup(job_string(record, "id"), JOB_SHORT_ID));
    g_ptr_array_add(cells, g_strdup(job_string(record, "domain")));
    g_ptr_array_add(cells, g_strdup(job_destination(record)));
    g_ptr_array_add(cells, g_strdup(job_string(record, "state")));
    g_ptr_array_add(cells, job_figure(progress, "elapsed_ms",
                                      ctl_format_span));
    g_ptr_array_add(cells, job_figure(progress, "percent",
                                      ctl_format_percent));
    g_ptr_array_add(cells, g_strdup(job_string(record, "created_at")));
}

char *
ctl_job_format_list(json_t *answer, GError **error)
{
    static const char *const header[] = {
        "ID", "DOMAIN", "DEST", "STATE", "ELAPSED", "PROGRESS", "CREATED"
    };
    json_t *migrations = json_object_get(answer, "migrations");
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    GString *out;
    size_t i;
    json_t *record;

    if (!json_is_array(migrations)) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                            "migd's answer to GET /v1/migrations has no "
                            "'migrations' array. migd and migctl may come "
                            "from different releases: compare 'migctl "
                            "--version' with the migd package version.");
        return NULL;
    }
    if (json_array_size(migrations) == 0)
        return g_strdup("migd knows of no migrations that match.\n");
    json_array_foreach(migrations, i, record) {
        if (!ctl_job_check(record, error))
            return NULL;
        job_append_list_row(cells, record);
    }
    out = g_string_new(NULL);
    ctl_format_append_table(out, header, G_N_ELEMENTS(header),
                            (const char *const *)cells->pdata,
                            json_array_size(migrations));
    return g_string_free(out, FALSE);
}
