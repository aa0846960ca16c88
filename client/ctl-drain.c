/* migctl drain: POST /v1/drain, the plan or the drain as a table, and with
 * --wait each guest's state and the total as they change, until the drain
 * is done. migd has no event stream for a drain: --wait reads it again
 * every second. */
#include <config.h>

#include <string.h>

#include "ctl-drain.h"
#include "ctl-error.h"
#include "ctl-format.h"

#define DRAIN_POLL_US G_USEC_PER_SEC

static const char *const drain_strategies[] = { "auto", "unplug", "native", "pause", "none",
                                                NULL };

const CtlArgSpec ctl_drain_options[] = {
    { "to", "PEER", CTL_ARG_STRINGS, NULL, "to", 0, 0, NULL,
      "Send the guests only to this peer of migd.conf; repeat for several (default: every "
      "peer)." },
    { "dry-run", NULL, CTL_ARG_TRUE, NULL, "dry_run", 0, 0, NULL,
      "Print the plan (each guest and the peer it would go to, or why it would stay) and "
      "change nothing." },
    { "strategy", "STRATEGY", CTL_ARG_CHOICE, NULL, "strategy", 0, 0, drain_strategies,
      "How each guest's passthrough NICs travel, as for 'migctl migrate'." },
    { "bandwidth", "MIBPS", CTL_ARG_UINT, NULL, "bandwidth_mibps", 0, 1048576, NULL,
      "Limit each guest's migration to this many MiB/s (0: no limit), as for 'migctl "
      "migrate'." },
    { "wait", NULL, CTL_ARG_TRUE, NULL, "wait", 0, 0, NULL,
      "Show each guest's state and the total as they change until the drain is done; exit "
      "with 1 unless every guest left." },
    { NULL },
};

static const char *
drain_str(json_t *obj, const char *member)
{
    const char *s = json_string_value(json_object_get(obj, member));

    return s ? s : "-";
}

static char *
drain_total_line(json_t *drain)
{
    json_t *t = json_object_get(drain, "total");

#define N(m) (int)json_integer_value(json_object_get(t, m))
    return g_strdup_printf("total: %d guests, %d completed, %d migrating, %d queued, %d failed, "
                           "%d stay\n", N("guests"), N("completed"), N("migrating"), N("queued"),
                           N("failed"), N("stays"));
#undef N
}

static char *
drain_format(json_t *drain, GError **error)
{
    static const char *const header[] = { "DOMAIN", "STATE", "PEER", "JOB", "WHY" };
    json_t *guests = json_object_get(drain, "guests");
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *total = NULL;
    GString *out;
    size_t i;
    json_t *g;

    if (!json_is_array(guests) || !json_object_get(drain, "total")) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                            "migd's drain has no 'guests' array or no 'total'. migd and migctl "
                            "may come from different releases: compare 'migctl --version' with "
                            "the migd package version.");
        return NULL;
    }
    out = g_string_new(NULL);
    if (json_is_string(json_object_get(drain, "id")))
        g_string_append_printf(out, "drain %s: %s\n", drain_str(drain, "id"),
                               drain_str(drain, "state"));
    else
        g_string_append(out, "plan (dry run: nothing was started)\n");
    json_array_foreach(guests, i, g) {
        const char *job = json_string_value(json_object_get(g, "job"));

        g_ptr_array_add(cells, g_strdup(drain_str(g, "domain")));
        g_ptr_array_add(cells, g_strdup(drain_str(g, "state")));
        g_ptr_array_add(cells, g_strdup(drain_str(g, "peer")));
        g_ptr_array_add(cells, job ? g_strndup(job, 8) : g_strdup("-"));
        g_ptr_array_add(cells, g_strdup(drain_str(g, "why")));
    }
    if (json_array_size(guests))
        ctl_format_append_table(out, header, G_N_ELEMENTS(header),
                                (const char *const *)cells->pdata, json_array_size(guests));
    else
        g_string_append(out, "No guest runs on this host.\n");
    total = drain_total_line(drain);
    g_string_append(out, total);
    g_string_append_printf(out, "%s\n", drain_str(drain, "summary"));
    return g_string_free(out, FALSE);
}

static char *
drain_body(const CtlArgs *args)
{
    g_autoptr(json_t) body = json_deep_copy(args->options);
    char *text;

    (void)json_object_del(body, "wait");
    text = json_dumps(body, JSON_COMPACT);
    if (!text)
        g_error("Out of memory while formatting JSON.");
    return text;
}

/* Prints a line for each guest whose state changed since @before. */
static void
drain_print_changes(CtlContext *ctx, json_t *before, json_t *now)
{
    json_t *was = json_object_get(before, "guests");
    size_t i;
    json_t *g;

    json_array_foreach(json_object_get(now, "guests"), i, g) {
        json_t *old = json_array_get(was, i);
        g_autofree char *line = NULL;

        if (old && strcmp(drain_str(old, "state"), drain_str(g, "state")) == 0 &&
            strcmp(drain_str(old, "job_state"), drain_str(g, "job_state")) == 0)
            continue;
        line = g_strdup_printf("%s: %s (job %s)%s%s\n", drain_str(g, "domain"),
                               drain_str(g, "state"), drain_str(g, "job_state"),
                               json_is_string(json_object_get(g, "why")) ? ": " : "",
                               json_is_string(json_object_get(g, "why")) ? drain_str(g, "why")
                                                                         : "");
        ctl_context_print(ctx, line);
    }
}

static gboolean
drain_wait(CtlContext *ctx, json_t *started, GError **error)
{
    g_autofree char *escaped = g_uri_escape_string(drain_str(started, "id"), NULL, FALSE);
    g_autofree char *path = g_strconcat("/v1/drains/", escaped, NULL);
    json_t *last = json_incref(started);
    gboolean left;

    while (strcmp(drain_str(last, "state"), "done") != 0) {
        json_t *now;
        g_autofree char *total = NULL;

        g_usleep(DRAIN_POLL_US);
        now = ctl_command_call(ctx, "GET", path, NULL, error);
        if (!now) {
            json_decref(last);
            return FALSE;
        }
        if (ctx->options->output != CTL_OUTPUT_JSON) {
            drain_print_changes(ctx, last, now);
            if (!json_equal(json_object_get(last, "total"), json_object_get(now, "total"))) {
                total = drain_total_line(now);
                ctl_context_print(ctx, total);
            }
        }
        json_decref(last);
        last = now;
    }
    left = json_integer_value(json_object_get(json_object_get(last, "total"), "completed")) ==
           json_integer_value(json_object_get(json_object_get(last, "total"), "guests"));
    if (!ctl_command_show(ctx, last, drain_format, error)) {
        json_decref(last);
        return FALSE;
    }
    json_decref(last);
    if (!left)
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_MIGRATION,
                            "Not every guest left this host: the drain's summary above says "
                            "which stay and why.");
    return left;
}

gboolean
ctl_drain(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    gboolean wait = json_is_true(json_object_get(args->options, "wait"));
    gboolean dry_run = json_is_true(json_object_get(args->options, "dry_run"));
    g_autofree char *body = drain_body(args);
    g_autoptr(json_t) drain = ctl_command_call(ctx, "POST", "/v1/drain", body, error);
    g_autofree char *text = NULL;

    if (!drain)
        return FALSE;
    if (!wait || dry_run)
        return ctl_command_show(ctx, drain, drain_format, error);
    if (ctx->options->output != CTL_OUTPUT_JSON) {
        text = drain_format(drain, error);
        if (!text)
            return FALSE;
        ctl_context_print(ctx, text);
    }
    return drain_wait(ctx, drain, error);
}
