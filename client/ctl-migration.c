/* The migration commands: requests to /v1/migrations and its jobs, and the
 * watch that follows a job's event stream until the job ends. */
#include <config.h>

#include <string.h>

#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-job.h"
#include "ctl-migration.h"
#include "ctl-sse.h"
#include "ctl-watch.h"

/* What migd's JSON integers hold without surprise on either side. */
#define MIGRATION_MAX_NUMBER G_MAXINT32
/* QEMU's multifd channels are counted in a byte. */
#define MIGRATION_MAX_CONNECTIONS 255

static const char *const migration_strategies[] = {
    "auto", "unplug", "native", "pause", "none", NULL
};

const CtlArgSpec ctl_migration_migrate_options[] = {
    { "strategy", "STRATEGY", CTL_ARG_CHOICE, NULL, "strategy",
      0, 0, migration_strategies,
      "How passthrough NICs travel: auto (each NIC native, pause or unplug, "
      "as its pool and the plugins of both hosts vouch), unplug (unplugged "
      "here, a VF plugged in on DEST), native (stays attached; QEMU carries "
      "its state), pause (stays attached; migd pauses the guest at the "
      "switchover and a plugin carries the state), or none." },
    { "bandwidth", "MIBPS", CTL_ARG_UINT, "options", "bandwidth_mibps",
      0, MIGRATION_MAX_NUMBER, NULL,
      "Limit the migration to this many MiB/s (0: no limit)." },
    { "parallel", "N", CTL_ARG_UINT, "options", "parallel_connections",
      1, MIGRATION_MAX_CONNECTIONS, NULL,
      "Send the guest's memory over N connections at once." },
    { "compression", "METHOD", CTL_ARG_STRINGS, "options", "compression",
      0, 0, NULL,
      "Compress with METHOD, e.g. zstd, zlib or xbzrle; repeat the option "
      "for several." },
    { "postcopy", NULL, CTL_ARG_TRUE, "options", "postcopy", 0, 0, NULL,
      "Allow switching to post-copy when the migration does not converge." },
    { "auto-converge", NULL, CTL_ARG_TRUE, "options", "auto_converge",
      0, 0, NULL,
      "Allow slowing the guest's vCPUs down so that the migration "
      "converges." },
    { "no-persist", NULL, CTL_ARG_FALSE, "options", "persistent", 0, 0, NULL,
      "Do not define the domain persistently on DEST." },
    { "keep-source", NULL, CTL_ARG_FALSE, "options", "undefine_source",
      0, 0, NULL,
      "Keep the domain's definition on this host once it runs on DEST." },
    { "max-downtime", "MS", CTL_ARG_UINT, "policy", "max_downtime_ms",
      1, MIGRATION_MAX_NUMBER, NULL,
      "The longest pause of the guest, in milliseconds, to start with." },
    { "downtime-steps", "MS,MS,...", CTL_ARG_UINTS, "policy",
      "downtime_steps_ms", 1, MIGRATION_MAX_NUMBER, NULL,
      "The longer pauses, in milliseconds, to allow one after the other "
      "while the migration stalls." },
    { "stall-iterations", "N", CTL_ARG_UINT, "policy", "stall_iterations",
      1, 1000, NULL,
      "Take the policy's next step after N memory passes without progress." },
    { "completion-timeout-per-gib", "S", CTL_ARG_UINT, "policy",
      "completion_timeout_per_gib_s", 1, MIGRATION_MAX_NUMBER, NULL,
      "Give up after this many seconds per GiB of guest memory." },
    { "progress-timeout", "S", CTL_ARG_UINT, "policy", "progress_timeout_s",
      1, MIGRATION_MAX_NUMBER, NULL,
      "Give up when the migration makes no progress for this many "
      "seconds." },
    { "wait", NULL, CTL_ARG_TRUE, NULL, "wait", 0, 0, NULL,
      "Follow the migration until it ends, as 'migctl watch' does, and exit "
      "with 0 only if it completed." },
    { NULL },
};

const CtlArgSpec ctl_migration_list_options[] = {
    { "state", "STATE", CTL_ARG_STRING, NULL, "state", 0, 0, NULL,
      "Only the migrations in this state, e.g. migrating or failed." },
    { "domain", "NAME", CTL_ARG_STRING, NULL, "domain", 0, 0, NULL,
      "Only the migrations of this domain." },
    { NULL },
};

/* Following a job's event stream: bytes to events to lines. */
typedef struct {
    CtlContext *ctx;
    CtlSse *sse;
    CtlWatch *watch;
} MigrationFollow;

static gboolean
migration_is_success(long status)
{
    return status >= 200 && status < 300;
}

/* "/v1/migrations/ID" or "/v1/migrations/ID/ACTION". */
static char *
migration_path(const char *id, const char *action)
{
    g_autofree char *escaped = g_uri_escape_string(id, NULL, FALSE);

    if (!action)
        return g_strconcat("/v1/migrations/", escaped, NULL);
    return g_strconcat("/v1/migrations/", escaped, "/", action, NULL);
}

/* Says which migrations @id could mean, when not exactly one. */
static void
migration_set_no_match(const char *id, GPtrArray *matches, GError **error)
{
    g_autofree char *list = NULL;

    if (matches->len == 0) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_DAEMON,
                    "migd knows of no migration whose ID begins with '%s'. "
                    "'migctl list' shows those it knows of.", id);
        return;
    }
    g_ptr_array_add(matches, NULL);
    list = g_strjoinv(", ", (char **)matches->pdata);
    g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                "'%s' is the beginning of %u migration IDs (%s): give more of "
                "it.", id, matches->len - 1, list);
}

/* GET @path (/v1/migrations with its filters) page after page, following
 * each page's "next" cursor: one answer that holds every record. An answer
 * that is no page is returned as it is, for the caller to report. */
static json_t *
migration_list_all(CtlContext *ctx, const char *path, GError **error)
{
    g_autoptr(json_t) all = json_array();
    g_autofree char *cursor = NULL;

    for (;;) {
        g_autofree char *escaped = cursor ? g_uri_escape_string(cursor, NULL, FALSE) : NULL;
        g_autofree char *page_path = cursor ? g_strconcat(path, strchr(path, '?') ? "&" : "?",
                                                          "cursor=", escaped, NULL)
                                            : g_strdup(path);
        g_autoptr(json_t) answer = ctl_command_call(ctx, "GET", page_path, NULL, error);
        json_t *records = answer ? json_object_get(answer, "migrations") : NULL;
        const char *next = answer ? json_string_value(json_object_get(answer, "next")) : NULL;

        if (!answer)
            return NULL;
        if (!json_is_array(records))
            return g_steal_pointer(&answer);
        (void)json_array_extend(all, records);
        if (!next)
            break;
        if (g_strcmp0(next, cursor) == 0) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_DAEMON,
                        "migd answered GET %s with the same next cursor as the page before, "
                        "so the list would never end; migd and migctl may come from "
                        "different versions.", page_path);
            return NULL;
        }
        g_free(cursor);
        cursor = g_strdup(next);
    }
    return json_pack("{s:O,s:n}", "migrations", all, "next");
}

/* The whole ID of the migration @id stands for: itself, when it is whole,
 * else the one ID in migd's list that begins with it, as `migctl list`
 * shows IDs shortened. */
static char *
migration_resolve(CtlContext *ctx, const char *id, GError **error)
{
    g_autoptr(json_t) answer = NULL;
    g_autoptr(GPtrArray) matches = g_ptr_array_new();
    size_t i;
    json_t *record;

    if (id[0] == '\0') {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_USAGE,
                            "the migration ID is empty: give the ID that "
                            "'migctl migrate' or 'migctl list' showed.");
        return NULL;
    }
    if (g_uuid_string_is_valid(id))
        return g_strdup(id);
    answer = migration_list_all(ctx, "/v1/migrations", error);
    if (!answer)
        return NULL;
    json_array_foreach(json_object_get(answer, "migrations"), i, record) {
        const char *candidate = json_string_value(json_object_get(record,
                                                                  "id"));

        if (g_strcmp0(candidate, id) == 0)
            return g_strdup(id);
        if (candidate && g_str_has_prefix(candidate, id))
            g_ptr_array_add(matches, (char *)candidate);
    }
    if (matches->len == 1)
        return g_strdup(g_ptr_array_index(matches, 0));
    migration_set_no_match(id, matches, error);
    return NULL;
}

static gboolean
migration_follow_chunk(const char *data, size_t len, gpointer user_data,
                       GError **error)
{
    MigrationFollow *follow = user_data;
    g_autoptr(GString) text = g_string_new(NULL);
    CtlSseEvent *next;
    gboolean ok = ctl_sse_feed(follow->sse, data, len, error);

    while (ok && !ctl_watch_get_end(follow->watch) &&
           (next = ctl_sse_next(follow->sse))) {
        g_autoptr(CtlSseEvent) event = next;

        ok = ctl_watch_handle(follow->watch, event, text, error);
    }
    ctl_context_print(follow->ctx, text->str);
    /* After "end", migd closes the stream; no need to wait for it. */
    return ok && !ctl_watch_get_end(follow->watch);
}

/* What the end of the stream says about the migration, as the command's
 * outcome. */
static gboolean
migration_verdict(const char *id, json_t *end, GError **error)
{
    g_autofree char *message = NULL;

    if (!end) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_UNREACHABLE,
                    "migd's event stream of migration %s ended before the "
                    "migration did. migd may have stopped or restarted: "
                    "check 'systemctl status migd', then follow the "
                    "migration again with 'migctl watch %s'.", id, id);
        return FALSE;
    }
    if (ctl_job_completed(end))
        return TRUE;
    message = ctl_job_failure_message(end);
    g_set_error_literal(error, CTL_ERROR, CTL_ERROR_MIGRATION, message);
    return FALSE;
}

/* Prints the events of migration @id as they come, until it ends. */
static gboolean
migration_follow(CtlContext *ctx, const char *id, GError **error)
{
    g_autofree char *path = migration_path(id, "events");
    CtlHttp *http = ctl_context_get_http(ctx, error);
    g_autoptr(CtlSse) sse = ctl_sse_new();
    g_autoptr(CtlWatch) watch = NULL;
    g_autoptr(CtlResponse) response = NULL;
    g_autoptr(GString) tail = g_string_new(NULL);
    MigrationFollow follow;

    if (!http)
        return FALSE;
    if (ctx->options->output == CTL_OUTPUT_JSON)
        watch = ctl_watch_new(CTL_WATCH_JSON);
    else
        watch = ctl_watch_new(ctx->tty ? CTL_WATCH_TTY : CTL_WATCH_PLAIN);
    ctl_watch_set_columns(watch, ctx->columns);
    follow = (MigrationFollow){ .ctx = ctx, .sse = sse, .watch = watch };
    response = ctl_http_stream(http, path, migration_follow_chunk, &follow,
                               error);
    /* Whatever comes next, e.g. an error on stderr, starts a line. */
    ctl_watch_close(watch, tail);
    ctl_context_print(ctx, tail->str);
    if (!response)
        return FALSE;
    if (!migration_is_success(response->status))
        return ctl_command_fail(ctx, response, error);
    return migration_verdict(id, ctl_watch_get_end(watch), error);
}

/* A migration's DOMAIN or DEST: JSON strings must be UTF-8. */
static gboolean
migration_check_name(const char *value, const char *what, GError **error)
{
    if (value[0] == '\0') {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl migrate' was given an empty %s.", what);
        return FALSE;
    }
    if (!g_utf8_validate(value, -1, NULL)) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "the %s given to 'migctl migrate' is not valid UTF-8.",
                    what);
        return FALSE;
    }
    return TRUE;
}

/* The body of POST /v1/migrations: what migctl was asked for, no more,
 * its members in the order of the options' table. */
static char *
migration_request_body(const CtlArgs *args)
{
    g_autoptr(json_t) request = json_object();
    char *text;

    (void)json_object_set_new(request, "domain", json_string(args->args[0]));
    (void)json_object_set_new(request, "destination",
                              json_string(args->args[1]));
    for (const CtlArgSpec *spec = ctl_migration_migrate_options; spec->name;
         spec++) {
        const char *key = spec->section ? spec->section : spec->member;
        json_t *value = json_object_get(args->options, key);

        if (value && strcmp(key, "wait") != 0 &&
            !json_object_get(request, key))
            (void)json_object_set(request, key, value);
    }
    text = json_dumps(request, JSON_COMPACT);
    if (!text)
        g_error("Out of memory while formatting JSON.");
    return text;
}

gboolean
ctl_migration_migrate(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    gboolean wait = json_is_true(json_object_get(args->options, "wait"));
    g_autofree char *body = NULL;
    g_autofree char *text = NULL;
    g_autoptr(json_t) record = NULL;

    if (!migration_check_name(args->args[0], "DOMAIN", error) ||
        !migration_check_name(args->args[1], "DEST", error))
        return FALSE;
    body = migration_request_body(args);
    record = ctl_command_call(ctx, "POST", "/v1/migrations", body, error);
    if (!record)
        return FALSE;
    if (!wait)
        return ctl_command_show(ctx, record, ctl_job_format_accepted, error);

    /* With -o json, the events say it all, the first one this record. */
    if (!ctl_job_check(record, error))
        return FALSE;
    if (ctx->options->output != CTL_OUTPUT_JSON) {
        text = ctl_job_format_accepted_waiting(record, error);
        ctl_context_print(ctx, text);
    }
    return migration_follow(ctx, json_string_value(json_object_get(record,
                                                                   "id")),
                            error);
}

/* GET the migration args->args[0] names, or POST its @action, and show the
 * record migd answers with. */
static gboolean
migration_act(CtlContext *ctx, const CtlArgs *args, const char *action,
              CtlFormatFunc format, GError **error)
{
    g_autofree char *id = migration_resolve(ctx, args->args[0], error);
    g_autofree char *path = NULL;
    g_autoptr(json_t) record = NULL;

    if (!id)
        return FALSE;
    path = migration_path(id, action);
    record = ctl_command_call(ctx, action ? "POST" : "GET", path, NULL, error);
    if (!record)
        return FALSE;
    return ctl_command_show(ctx, record, format, error);
}

gboolean
ctl_migration_status(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    return migration_act(ctx, args, NULL, ctl_job_format_status, error);
}

gboolean
ctl_migration_cancel(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    return migration_act(ctx, args, "cancel", ctl_job_format_cancelling,
                         error);
}

gboolean
ctl_migration_force_complete(CtlContext *ctx, const CtlArgs *args,
                             GError **error)
{
    return migration_act(ctx, args, "force-complete", ctl_job_format_forcing,
                         error);
}

gboolean
ctl_migration_watch(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    g_autofree char *id = migration_resolve(ctx, args->args[0], error);

    if (!id)
        return FALSE;
    return migration_follow(ctx, id, error);
}

gboolean
ctl_migration_list(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    g_autoptr(GString) path = g_string_new("/v1/migrations");
    g_autoptr(json_t) answer = NULL;
    const char *key;
    json_t *value;

    json_object_foreach(args->options, key, value) {
        g_autofree char *escaped = g_uri_escape_string(json_string_value(value),
                                                       NULL, FALSE);

        g_string_append_printf(path, "%c%s=%s",
                               strchr(path->str, '?') ? '&' : '?',
                               key, escaped);
    }
    answer = migration_list_all(ctx, path->str, error);
    if (!answer)
        return FALSE;
    return ctl_command_show(ctx, answer, ctl_job_format_list, error);
}
