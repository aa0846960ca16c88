/* What `migctl watch` prints for each event of a job's event stream. On a
 * terminal the last line is the job's progress, redrawn in place with '\r';
 * timeline entries (state changes, policy actions) go above it. */
#include <config.h>

#include <string.h>

#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-job.h"
#include "ctl-watch.h"

struct CtlWatch {
    CtlWatchMode mode;
    json_t *end;                /* the final record, once "end" came */
    char *state;                /* the job's latest state, or NULL */
    json_t *progress;           /* its latest progress, or NULL */
    size_t drawn;               /* columns of the progress line on screen */
    guint columns;              /* of the terminal, or 0 */
};

CtlWatch *
ctl_watch_new(CtlWatchMode mode)
{
    CtlWatch *watch = g_new0(CtlWatch, 1);

    watch->mode = mode;
    return watch;
}

void
ctl_watch_set_columns(CtlWatch *watch, guint columns)
{
    watch->columns = columns;
}

void
ctl_watch_free(CtlWatch *watch)
{
    if (!watch)
        return;
    json_decref(watch->end);
    json_decref(watch->progress);
    g_free(watch->state);
    g_free(watch);
}

json_t *
ctl_watch_get_end(const CtlWatch *watch)
{
    return watch->end;
}

/* The data of @event as JSON; an object unless @any. */
static json_t *
watch_parse(const CtlSseEvent *event, gboolean any, GError **error)
{
    json_error_t json_error;
    g_autoptr(json_t) data = json_loadb(event->data, event->len,
                                        JSON_DECODE_ANY, &json_error);
    g_autofree char *name = NULL;

    if (data && (any || json_is_object(data)))
        return g_steal_pointer(&data);
    name = ctl_format_sanitize(event->name, -1);
    g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                "the data of the '%s' event in migd's event stream is not a "
                "JSON object (%s). migd and migctl may come from different "
                "releases: compare 'migctl --version' with the migd package "
                "version.", name,
                data ? "it is another JSON value" : json_error.text);
    return NULL;
}

static void
watch_set_state(CtlWatch *watch, const char *state)
{
    if (!state)
        return;
    g_free(watch->state);
    watch->state = g_strdup(state);
}

static void
watch_set_progress(CtlWatch *watch, json_t *progress)
{
    json_decref(watch->progress);
    watch->progress = json_is_object(progress) ? json_incref(progress) : NULL;
}

/* Takes the progress line off the terminal. */
static void
watch_erase(CtlWatch *watch, GString *out)
{
    if (watch->drawn == 0)
        return;
    g_string_append_printf(out, "\r%*s\r", (int)watch->drawn, "");
    watch->drawn = 0;
}

/* Shows the job's progress: redrawn in place on a terminal, else as a line
 * of its own while there is progress to show. */
static void
watch_draw(CtlWatch *watch, GString *out)
{
    g_autofree char *line = NULL;
    size_t width;

    if (watch->mode == CTL_WATCH_PLAIN) {
        if (!watch->progress)
            return;
        line = ctl_job_progress_line(watch->state, watch->progress);
        g_string_append_printf(out, "%s\n", line);
        return;
    }
    if (!watch->state)
        return;
    line = ctl_job_progress_line(watch->state, watch->progress);
    width = g_utf8_strlen(line, -1);
    /* The last column stays free: writing there wraps on some terminals. */
    if (watch->columns > 1 && width >= watch->columns) {
        width = watch->columns - 1;
        *g_utf8_offset_to_pointer(line, width) = '\0';
    }
    /* Spaces wipe what is left of a longer line drawn before. */
    g_string_append_printf(out, "\r%s%*s", line,
                           (int)(watch->drawn > width ? watch->drawn - width : 0),
                           "");
    watch->drawn = MAX(width, watch->drawn);
}

void
ctl_watch_close(CtlWatch *watch, GString *out)
{
    if (watch->drawn == 0)
        return;
    g_string_append_c(out, '\n');
    watch->drawn = 0;
}

/* Prints @line above the progress line. */
static void
watch_print(CtlWatch *watch, GString *out, const char *line)
{
    gboolean redraw = watch->drawn > 0;

    watch_erase(watch, out);
    g_string_append_printf(out, "%s\n", line);
    if (redraw)
        watch_draw(watch, out);
}

static void
watch_print_entry(CtlWatch *watch, GString *out, json_t *entry)
{
    g_autofree char *line = ctl_job_timeline_line(entry);

    watch_set_state(watch, json_string_value(json_object_get(entry, "state")));
    watch_print(watch, out, line);
}

static gboolean
watch_snapshot(CtlWatch *watch, json_t *record, GString *out, GError **error)
{
    json_t *timeline = json_object_get(record, "timeline");
    size_t i;
    json_t *entry;

    if (!ctl_job_check(record, error))
        return FALSE;
    if (json_is_array(timeline)) {
        json_array_foreach(timeline, i, entry)
            watch_print_entry(watch, out, entry);
    }
    watch_set_state(watch, json_string_value(json_object_get(record, "state")));
    watch_set_progress(watch, json_object_get(record, "progress"));
    watch_draw(watch, out);
    return TRUE;
}

static void
watch_progress(CtlWatch *watch, json_t *data, GString *out)
{
    watch_set_state(watch, json_string_value(json_object_get(data, "state")));
    watch_set_progress(watch, json_object_get(data, "progress"));
    watch_draw(watch, out);
}

static gboolean
watch_end(CtlWatch *watch, json_t *record, GString *out, GError **error)
{
    g_autofree char *line = NULL;

    if (!ctl_job_check(record, error))
        return FALSE;
    watch_erase(watch, out);
    line = ctl_job_outcome_line(record);
    g_string_append_printf(out, "%s\n", line);
    watch->end = json_incref(record);
    return TRUE;
}

/* JSON Lines: the data of each event, one line each, as migd wrote it
 * (a newline between JSON tokens is as good as a space). */
static gboolean
watch_handle_json(CtlWatch *watch, const CtlSseEvent *event, GString *out,
                  GError **error)
{
    g_autoptr(json_t) data = watch_parse(event, TRUE, error);
    size_t start = out->len;

    if (!data)
        return FALSE;
    if (strcmp(event->name, "end") == 0) {
        if (!ctl_job_check(data, error))
            return FALSE;
        watch->end = json_incref(data);
    }
    g_string_append_len(out, event->data, event->len);
    for (size_t i = start; i < out->len; i++) {
        if (out->str[i] == '\n')
            out->str[i] = ' ';
    }
    g_string_append_c(out, '\n');
    return TRUE;
}

gboolean
ctl_watch_handle(CtlWatch *watch, const CtlSseEvent *event, GString *out,
                 GError **error)
{
    static const char *const known[] = {
        "snapshot", "timeline", "progress", "end", NULL
    };
    g_autoptr(json_t) data = NULL;

    if (watch->end)
        return TRUE;
    /* A newer migd may send more kinds of events; they are not for us. */
    if (!g_strv_contains(known, event->name))
        return TRUE;
    if (watch->mode == CTL_WATCH_JSON)
        return watch_handle_json(watch, event, out, error);
    data = watch_parse(event, FALSE, error);
    if (!data)
        return FALSE;
    if (strcmp(event->name, "snapshot") == 0)
        return watch_snapshot(watch, data, out, error);
    if (strcmp(event->name, "end") == 0)
        return watch_end(watch, data, out, error);
    if (strcmp(event->name, "timeline") == 0)
        watch_print_entry(watch, out, data);
    else
        watch_progress(watch, data, out);
    return TRUE;
}
