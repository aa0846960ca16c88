/* Tests of migctl's pure logic (options, formatting, failure messages) and of
 * its commands against a fake migd: a thread that answers one request on a
 * unix socket with a canned HTTP response. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "ctl-args.h"
#include "ctl-commands.h"
#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-http.h"
#include "ctl-job.h"
#include "ctl-migration.h"
#include "ctl-options.h"
#include "ctl-sse.h"
#include "ctl-watch.h"

#define VERSION_BODY \
    "{\"version\":\"0.1.0\",\"api\":\"v1\",\"libvirt\":{\"library\":\"9.0.0\"," \
    "\"hypervisor\":\"QEMU 7.2.22\"}}"
#define HEALTH_OK_BODY \
    "{\"status\":\"ok\",\"uptime_seconds\":12,\"libvirt\":{\"uri\":" \
    "\"qemu:///system\",\"connected\":true,\"since\":\"2026-11-22T02:40:00Z\"," \
    "\"last_error\":null,\"reconnect_attempts\":0,\"hypervisor\":" \
    "\"QEMU 7.2.22\"}}"
#define HEALTH_DEGRADED_BODY \
    "{\"status\":\"degraded\",\"uptime_seconds\":3725,\"libvirt\":{\"uri\":" \
    "\"qemu:///system\",\"connected\":false,\"since\":" \
    "\"2026-11-22T03:10:00Z\",\"last_error\":\"Cannot recv data\"," \
    "\"reconnect_attempts\":1,\"hypervisor\":null},\"error\":{\"code\":" \
    "\"libvirt_disconnected\",\"message\":\"libvirt is gone.\"}}"
#define NOT_FOUND_BODY \
    "{\"error\":{\"code\":\"not_found\",\"message\":\"No such route.\"}}"

/* A migration job as migd describes it, with a member from the future. */
#define RECORD_ID "3f0c6a2e-5b7d-4c1e-9a0b-2d4e6f8a1c3e"
#define PROGRESS_BODY \
    "{\"elapsed_ms\":1234,\"data_total\":168820736,\"data_processed\":96000000," \
    "\"data_remaining\":72000000,\"memory_bps\":557842432," \
    "\"dirty_rate_pps\":120,\"iteration\":2,\"percent\":57.2,\"eta_ms\":400," \
    "\"max_downtime_ms\":300,\"postcopy\":false}"
#define TIMELINE_0 \
    "{\"at\":\"2026-11-22T02:40:00.123Z\",\"t_ms\":0,\"kind\":\"state\"," \
    "\"state\":\"pending\",\"message\":\"accepted: migrate labvm to B\"}"
#define TIMELINE_1 \
    "{\"at\":\"2026-11-22T02:40:01.000Z\",\"t_ms\":877,\"kind\":\"policy\"," \
    "\"state\":\"migrating\",\"message\":\"raised max downtime to 500 ms: " \
    "data remaining stayed near 70 MiB for 3 iterations\"}"
#define RECORD_BODY \
    "{\"id\":\"" RECORD_ID "\",\"domain\":\"labvm\"," \
    "\"destination\":{\"name\":\"B\",\"libvirt_uri\":" \
    "\"qemu+tcp://10.200.0.2/system\",\"migd_url\":" \
    "\"http://10.200.0.2:7480\"},\"strategy\":\"auto\"," \
    "\"options\":{\"bandwidth_mibps\":0,\"parallel_connections\":0," \
    "\"compression\":[],\"postcopy\":false,\"auto_converge\":false," \
    "\"persistent\":true,\"undefine_source\":true}," \
    "\"policy\":{\"max_downtime_ms\":300,\"downtime_steps_ms\":" \
    "[500,1000,2000],\"stall_iterations\":3,\"allow_auto_converge\":true," \
    "\"allow_postcopy\":false,\"completion_timeout_per_gib_s\":150," \
    "\"progress_timeout_s\":150}," \
    "\"state\":\"migrating\",\"outcome\":null," \
    "\"created_at\":\"2026-11-22T02:40:00.123Z\"," \
    "\"started_at\":\"2026-11-22T02:40:00.150Z\",\"finished_at\":null," \
    "\"progress\":" PROGRESS_BODY ",\"result\":null," \
    "\"timeline\":[" TIMELINE_0 "," TIMELINE_1 "],\"shard\":{\"x\":1}}"
/* Members that make RECORD_BODY a finished job. */
#define COMPLETED_CHANGES \
    "{\"state\":\"completed\",\"outcome\":{\"result\":\"completed\"," \
    "\"reason\":\"labvm runs on B\"},\"finished_at\":" \
    "\"2026-11-22T02:40:02.040Z\",\"progress\":null,\"result\":" \
    "{\"downtime_ms\":93,\"setup_time_ms\":1,\"total_time_ms\":1890," \
    "\"data_transferred\":100270080,\"dest_resumed_at\":" \
    "\"2026-11-22T02:40:01.990Z\",\"migrate_returned_at\":" \
    "\"2026-11-22T02:40:02.000Z\"}}"
#define FAILED_CHANGES \
    "{\"state\":\"failed\",\"outcome\":{\"result\":\"failed\",\"reason\":" \
    "\"the destination has no free VF for the NIC 'net0'\"},\"finished_at\":" \
    "\"2026-11-22T02:40:02.040Z\"}"

/* ---- options ---- */

/* Parses "migctl ARGS..."; the options borrow argv, which is static so that
 * it outlives them. */
static CtlOptions *
parse(GError **error, const char *const *args)
{
    static char *argv[16];
    int argc = 0;

    argv[argc++] = (char *)"migctl";
    for (; *args; args++) {
        g_assert_cmpint(argc, <, (int)G_N_ELEMENTS(argv) - 1);
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    return ctl_options_parse(argc, argv, error);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_options_defaults(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlOptions) options = parse(&error, ARGS("health"));

    g_assert_no_error(error);
    g_assert_null(options->socket_path);
    g_assert_null(options->url);
    g_assert_cmpuint(options->timeout_seconds, ==, CTL_DEFAULT_TIMEOUT_SECONDS);
    g_assert_cmpint(options->output, ==, CTL_OUTPUT_TEXT);
    g_assert_false(options->help);
    g_assert_false(options->version);
    g_assert_cmpint(options->command_argc, ==, 1);
    g_assert_cmpstr(options->command_argv[0], ==, "health");
}

static void
test_options_spellings(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlOptions) options = NULL;

    options = parse(&error, ARGS("--socket", "/a.sock", "--timeout=5", "-ojson",
                                 "version"));
    g_assert_no_error(error);
    g_assert_cmpstr(options->socket_path, ==, "/a.sock");
    g_assert_cmpuint(options->timeout_seconds, ==, 5);
    g_assert_cmpint(options->output, ==, CTL_OUTPUT_JSON);
    g_assert_cmpint(options->command_argc, ==, 1);
    g_clear_pointer(&options, ctl_options_free);

    /* Global options after the command are taken out of its arguments; -h,
     * the command's own options and what follows "--" stay the command's. */
    options = parse(&error, ARGS("--timeout=5", "list", "-o", "json", "--state", "failed",
                                 "--url=http://h:1", "--timeout", "7", "-h", "--", "-o"));
    g_assert_no_error(error);
    g_assert_cmpstr(options->url, ==, "http://h:1");
    g_assert_cmpuint(options->timeout_seconds, ==, 7);
    g_assert_cmpint(options->output, ==, CTL_OUTPUT_JSON);
    g_assert_false(options->help);
    g_assert_cmpint(options->command_argc, ==, 6);
    g_assert_cmpstr(options->command_argv[0], ==, "list");
    g_assert_cmpstr(options->command_argv[1], ==, "--state");
    g_assert_cmpstr(options->command_argv[2], ==, "failed");
    g_assert_cmpstr(options->command_argv[3], ==, "-h");
    g_assert_cmpstr(options->command_argv[4], ==, "--");
    g_assert_cmpstr(options->command_argv[5], ==, "-o");
    g_assert_null(options->command_argv[6]);
    g_clear_pointer(&options, ctl_options_free);

    options = parse(&error, ARGS("--url=http://h:1", "--timeout", "86400",
                                 "--output", "text", "-o", "json", "-h", "-V"));
    g_assert_no_error(error);
    g_assert_cmpstr(options->url, ==, "http://h:1");
    g_assert_cmpuint(options->timeout_seconds, ==, 86400);
    g_assert_cmpint(options->output, ==, CTL_OUTPUT_JSON);
    g_assert_true(options->help);
    g_assert_true(options->version);
    g_assert_cmpint(options->command_argc, ==, 0);
    g_clear_pointer(&options, ctl_options_free);

    options = parse(&error, ARGS("--output=json", "--", "-x"));
    g_assert_no_error(error);
    g_assert_cmpint(options->command_argc, ==, 1);
    g_assert_cmpstr(options->command_argv[0], ==, "-x");
}

static void
test_options_errors(void)
{
    static const struct {
        const char *args[4];    /* NULL-terminated */
        const char *message;
    } cases[] = {
        { { "--bogus" }, "unknown option '--bogus'." },
        { { "--bogus=1" }, "unknown option '--bogus'." },
        { { "-x" }, "unknown option '-x'." },
        { { "-hV" }, "unknown option '-hV'." },
        { { "--sock", "/a" }, "unknown option '--sock'." },
        { { "--socket" }, "option --socket needs a value (PATH)." },
        { { "-o" }, "option -o needs a value (FORMAT)." },
        { { "--help=yes" }, "option --help takes no value, but was given 'yes'." },
        { { "-o", "yaml" },
          "invalid output format 'yaml' for -o: use 'text' or 'json'." },
        { { "--timeout", "0" }, "invalid value '0' for --timeout: give a whole "
          "number of seconds from 1 to 86400." },
        { { "--timeout=86401" }, "invalid value '86401' for --timeout: give a "
          "whole number of seconds from 1 to 86400." },
        { { "--timeout", "5s" }, "invalid value '5s' for --timeout: give a "
          "whole number of seconds from 1 to 86400." },
        { { "--timeout", "" }, "invalid value '' for --timeout: give a whole "
          "number of seconds from 1 to 86400." },
        { { "--socket=/a", "--url=http://b" }, "both --socket and --url were "
          "given: pass only one, --socket for a local unix socket or --url "
          "for TCP." },
        { { "status", "--url=http://b", "--socket=/a" }, "both --socket and --url "
          "were given: pass only one, --socket for a local unix socket or --url "
          "for TCP." },
        { { "status", "-o" }, "option -o needs a value (FORMAT)." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CtlOptions) options = parse(&error, cases[i].args);

        g_assert_null(options);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
        g_assert_cmpstr(error->message, ==, cases[i].message);
        g_assert_cmpint(ctl_error_to_exit(error), ==, CTL_EXIT_USAGE);
    }
}

static void
test_output_names(void)
{
    CtlOutput output = CTL_OUTPUT_LAST;

    for (CtlOutput o = 0; o < CTL_OUTPUT_LAST; o++) {
        g_assert_true(ctl_output_from_string(ctl_output_to_string(o), &output));
        g_assert_cmpint(output, ==, o);
    }
    g_assert_false(ctl_output_from_string("JSON", &output));
    g_assert_cmpint(output, ==, CTL_OUTPUT_LAST - 1);
    g_assert_cmpstr(ctl_output_to_string(CTL_OUTPUT_LAST), ==, "unknown");
}

/* ---- where migd is ---- */

typedef struct {
    const char *socket_arg;
    const char *url_arg;
    const char *env_url;
    const char *env_socket;
    CtlTargetKind kind;
    const char *address;        /* NULL: a usage error is expected */
    const char *origin_or_message;
} TargetCase;

static const TargetCase target_cases[] = {
    { NULL, NULL, NULL, NULL,
      CTL_TARGET_SOCKET, CTL_DEFAULT_SOCKET, "default" },
    { NULL, NULL, "", "",
      CTL_TARGET_SOCKET, CTL_DEFAULT_SOCKET, "default" },
    { NULL, NULL, "http://10.200.0.2:7480/", NULL,
      CTL_TARGET_URL, "http://10.200.0.2:7480", "MIGCTL_URL" },
    { NULL, NULL, NULL, "/tmp/m.sock",
      CTL_TARGET_SOCKET, "/tmp/m.sock", "MIGCTL_SOCKET" },
    { "rel.sock", NULL, "http://x", "/tmp/m.sock",
      CTL_TARGET_SOCKET, "rel.sock", "--socket" },
    { NULL, "HTTPS://[fd00::1]:7480/migd//", NULL, "/tmp/m.sock",
      CTL_TARGET_URL, "HTTPS://[fd00::1]:7480/migd", "--url" },
    { NULL, NULL, "http://x", "/tmp/m.sock", 0, NULL,
      "both MIGCTL_URL and MIGCTL_SOCKET are set: unset one of them, or pass "
      "--socket or --url to choose." },
    { "", NULL, NULL, NULL, 0, NULL,
      "the socket path given by --socket is empty: give the path of migd's "
      "unix socket, e.g. /run/migd/migd.sock." },
    { NULL, "ftp://h/", NULL, NULL, 0, NULL,
      "the URL 'ftp://h/' given by --url is not a plain http:// or https:// "
      "URL such as http://10.200.0.2:7480." },
    { NULL, NULL, "10.200.0.2:7480", NULL, 0, NULL,
      "the URL '10.200.0.2:7480' given by MIGCTL_URL is not a plain http:// "
      "or https:// URL such as http://10.200.0.2:7480." },
    { NULL, "http:///v1", NULL, NULL, 0, NULL,
      "the URL 'http:///v1' given by --url is not a plain http:// or https:// "
      "URL such as http://10.200.0.2:7480." },
    { NULL, "http://h/?x=1", NULL, NULL, 0, NULL,
      "the URL 'http://h/?x=1' given by --url is not a plain http:// or "
      "https:// URL such as http://10.200.0.2:7480." },
};

static void
test_target_resolve(gconstpointer data)
{
    const TargetCase *c = data;
    CtlOptions options = { .socket_path = c->socket_arg, .url = c->url_arg };
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlTarget) target = ctl_target_resolve(&options, c->env_url,
                                                     c->env_socket, &error);

    if (!c->address) {
        g_assert_null(target);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
        g_assert_cmpstr(error->message, ==, c->origin_or_message);
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpint(target->kind, ==, c->kind);
    g_assert_cmpstr(target->address, ==, c->address);
    g_assert_cmpstr(target->origin, ==, c->origin_or_message);
}

static void
test_target_socket_too_long(void)
{
    g_autofree char *path = g_strnfill(108, 'a');
    CtlOptions options = { .socket_path = path };
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlTarget) target = NULL;

    target = ctl_target_resolve(&options, NULL, NULL, &error);
    g_assert_null(target);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
    g_assert_cmpstr(error->message, ==,
                    "the socket path given by --socket is 108 bytes long, but "
                    "unix socket paths are limited to 107 bytes: use a shorter "
                    "path or a symbolic link to the socket.");

    g_clear_error(&error);
    path[107] = '\0';
    target = ctl_target_resolve(&options, NULL, NULL, &error);
    g_assert_no_error(error);
}

/* ---- exit statuses ---- */

static void
test_exit_statuses(void)
{
    g_autoptr(GError) foreign = g_error_new_literal(G_IO_ERROR,
                                                    G_IO_ERROR_FAILED, "x");
    static const struct {
        CtlErrorCode code;
        CtlExit status;
    } cases[] = {
        { CTL_ERROR_USAGE, CTL_EXIT_USAGE },
        { CTL_ERROR_UNREACHABLE, CTL_EXIT_UNREACHABLE },
        { CTL_ERROR_DAEMON, CTL_EXIT_FAILURE },
        { CTL_ERROR_BAD_ANSWER, CTL_EXIT_FAILURE },
        { CTL_ERROR_LOCAL, CTL_EXIT_FAILURE },
        { CTL_ERROR_MIGRATION, CTL_EXIT_FAILURE },
    };

    G_STATIC_ASSERT(G_N_ELEMENTS(cases) == CTL_ERROR_LAST);
    /* Scripts depend on these numbers. */
    g_assert_cmpint(CTL_EXIT_OK, ==, 0);
    g_assert_cmpint(CTL_EXIT_FAILURE, ==, 1);
    g_assert_cmpint(CTL_EXIT_USAGE, ==, 2);
    g_assert_cmpint(CTL_EXIT_UNREACHABLE, ==, 3);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = g_error_new_literal(CTL_ERROR, cases[i].code,
                                                      "x");

        g_assert_cmpint(ctl_error_to_exit(error), ==, cases[i].status);
    }
    g_assert_cmpint(ctl_error_to_exit(NULL), ==, CTL_EXIT_OK);
    g_assert_cmpint(ctl_error_to_exit(foreign), ==, CTL_EXIT_FAILURE);
    for (CtlExit status = 0; status < CTL_EXIT_LAST; status++)
        g_assert_true(g_str_has_suffix(ctl_exit_to_string(status), "."));
}

/* ---- formatting ---- */

static void
test_format_duration(void)
{
    static const struct {
        guint64 seconds;
        const char *text;
    } cases[] = {
        { 0, "0s" },
        { 59, "59s" },
        { 60, "1m 0s" },
        { 3599, "59m 59s" },
        { 3600, "1h 0m 0s" },
        { 7384, "2h 3m 4s" },
        { 86400, "1d 0h 0m 0s" },
        { 90061, "1d 1h 1m 1s" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = ctl_format_duration(cases[i].seconds);

        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

static void
test_format_sanitize(void)
{
    static const struct {
        const char *in;
        gssize len;
        const char *out;
    } cases[] = {
        { "plain", -1, "plain" },
        { "two\nlines\tand\r", -1, "two lines and " },
        { "\x1b[31mred", -1, "?[31mred" },
        { "del\x7f", -1, "del?" },
        { "csi \xc2\x9b" "2J", -1, "csi ?2J" },
        { "caf\xc3\xa9", -1, "caf\xc3\xa9" },
        { "bad \xff utf8", -1, "bad \xef\xbf\xbd utf8" },
        { "nul\0inside", 10, "nul\xef\xbf\xbd" "inside" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = ctl_format_sanitize(cases[i].in, cases[i].len);

        g_assert_cmpstr(out, ==, cases[i].out);
    }
}

static void
test_format_rows(void)
{
    g_autoptr(GString) out = g_string_new(NULL);
    const CtlRow rows[] = {
        { "status", "ok" },
        { "a much longer label", NULL },
        { "last error", "reset\nby peer" },
    };

    ctl_format_append_rows(out, rows, G_N_ELEMENTS(rows));
    g_assert_cmpstr(out->str, ==,
                    "status:      ok\n"
                    "last error:  reset by peer\n");
}

static void
test_format_entry(void)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;

    ctl_format_append_entry(out, "term", "short");
    g_assert_cmpstr(out->str, ==, "  term                    short\n");

    g_string_truncate(out, 0);
    ctl_format_append_entry(out, "a term longer than its column", "text");
    g_assert_cmpstr(out->str, ==,
                    "  a term longer than its column\n"
                    "                          text\n");

    g_string_truncate(out, 0);
    ctl_format_append_entry(out, "x", "one two three four five six seven "
                            "eight nine ten eleven twelve thirteen fourteen");
    lines = g_strsplit(out->str, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 3);
    g_assert_cmpstr(lines[0], ==, "  x                       one two three four "
                    "five six seven eight nine ten");
    g_assert_cmpstr(lines[1], ==, "                          eleven twelve "
                    "thirteen fourteen");
    g_assert_cmpstr(lines[2], ==, "");
}

static void
test_format_error_answer(void)
{
    static const struct {
        long status;
        const char *body;
        const char *message;
    } cases[] = {
        { 404, NOT_FOUND_BODY, "No such route. (not_found, HTTP 404)" },
        { 409, "{\"error\":{\"message\":\"Busy.\",\"code\":\"conflict\","
               "\"job\":\"j1\"},\"x\":1}", "Busy. (conflict, HTTP 409)" },
        { 400, "{\"error\":{\"code\":\"bad\",\"message\":\"\\u001b[2Jx\"}}",
          "?[2Jx (bad, HTTP 400)" },
        { 500, "", "migd answered HTTP 500 with an empty body instead of an "
          "error description. Check that the socket or URL is migd's, and see "
          "'journalctl -u migd' on its host." },
        { 502, "<html>\nBad Gateway</html>", "migd answered HTTP 502 without "
          "the usual error description; the body begins '<html> Bad "
          "Gateway</html>'. Check that the socket or URL is migd's, and see "
          "'journalctl -u migd' on its host." },
        { 400, "{\"error\":\"bad\"}", "migd answered HTTP 400 without the "
          "usual error description; the body begins '{\"error\":\"bad\"}'. "
          "Check that the socket or URL is migd's, and see 'journalctl -u "
          "migd' on its host." },
        { 503, "  0123456789012345678901234567890123456789012345678901234567"
               "89tail", "migd answered HTTP 503 without the usual error "
          "description; the body begins '012345678901234567890123456789012345"
          "678901234567890123456789...'. Check that the socket or URL is "
          "migd's, and see 'journalctl -u migd' on its host." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = ctl_format_error_answer(cases[i].status,
                                                           cases[i].body,
                                                           strlen(cases[i].body));

        g_assert_cmpstr(message, ==, cases[i].message);
    }
}

static json_t *
load(const char *text)
{
    json_error_t json_error;
    json_t *json = json_loads(text, 0, &json_error);

    if (!json)
        g_error("Test JSON does not parse: %s: %s", json_error.text, text);
    return json;
}

static void
test_format_version(void)
{
    static const struct {
        const char *body;
        const char *text;       /* NULL: a bad answer is expected */
    } cases[] = {
        { VERSION_BODY, "migd 0.1.0 (API v1), libvirt 9.0.0, hypervisor "
          "QEMU 7.2.22\nmigctl 9.9\n" },
        { "{\"version\":\"0.1.0\",\"api\":\"v1\",\"extra\":1,\"libvirt\":"
          "{\"library\":\"9.0.0\",\"hypervisor\":null}}",
          "migd 0.1.0 (API v1), libvirt 9.0.0, hypervisor not known while "
          "libvirt is disconnected\nmigctl 9.9\n" },
        { "{\"version\":\"0.1.0\",\"api\":\"v1\",\"libvirt\":"
          "{\"library\":\"9.0.0\"}}",
          "migd 0.1.0 (API v1), libvirt 9.0.0, hypervisor not known while "
          "libvirt is disconnected\nmigctl 9.9\n" },
        { "{\"version\":\"0.1.0\\n\",\"api\":\"v1\",\"libvirt\":"
          "{\"library\":\"9\",\"hypervisor\":\"Q\"}}",
          "migd 0.1.0  (API v1), libvirt 9, hypervisor Q\nmigctl 9.9\n" },
        { "{\"version\":\"0.1.0\",\"api\":\"v1\",\"libvirt\":"
          "{\"library\":\"9.0.0\",\"hypervisor\":7}}", NULL },
        { "{\"version\":1,\"api\":\"v1\",\"libvirt\":{\"library\":\"9\"}}",
          NULL },
        { "{\"api\":\"v1\",\"libvirt\":{\"library\":\"9\"}}", NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) answer = load(cases[i].body);
        g_autoptr(GError) error = NULL;
        g_autofree char *text = ctl_format_version(answer, "9.9", &error);

        g_assert_cmpstr(text, ==, cases[i].text);
        if (cases[i].text) {
            g_assert_no_error(error);
        } else {
            g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
            g_assert_true(g_str_has_prefix(error->message, "migd's answer to "
                                           "GET /v1/version is not in the "
                                           "form migctl expects ("));
        }
    }
}

static void
test_format_health(void)
{
    static const struct {
        const char *body;
        const char *text;       /* NULL: a bad answer is expected */
    } cases[] = {
        { HEALTH_OK_BODY,
          "status:      ok\n"
          "libvirt:     connected to qemu:///system since 2026-11-22T02:40:00Z\n"
          "hypervisor:  QEMU 7.2.22\n"
          "uptime:      12s\n" },
        { HEALTH_DEGRADED_BODY,
          "status:      degraded\n"
          "libvirt:     disconnected from qemu:///system since "
          "2026-11-22T03:10:00Z, 1 reconnect attempt so far\n"
          "last error:  Cannot recv data\n"
          "uptime:      1h 2m 5s\n" },
        { "{\"status\":\"degraded\",\"uptime_seconds\":-5,\"libvirt\":{\"uri\":"
          "\"qemu:///system\",\"connected\":false,\"reconnect_attempts\":4}}",
          "status:   degraded\n"
          "libvirt:  disconnected from qemu:///system, 4 reconnect attempts so "
          "far\n"
          "uptime:   0s\n" },
        { "{\"status\":\"ok\",\"uptime_seconds\":1,\"libvirt\":{\"uri\":\"q\","
          "\"connected\":true,\"since\":5}}", NULL },
        { "{\"status\":\"ok\",\"uptime_seconds\":\"1\",\"libvirt\":{\"uri\":"
          "\"q\",\"connected\":true}}", NULL },
        { "{\"status\":\"ok\",\"uptime_seconds\":1}", NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) answer = load(cases[i].body);
        g_autoptr(GError) error = NULL;
        g_autofree char *text = ctl_format_health(answer, &error);

        g_assert_cmpstr(text, ==, cases[i].text);
        if (cases[i].text)
            g_assert_no_error(error);
        else
            g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    }
}

static void
test_format_json(void)
{
    g_autoptr(json_t) answer = load("{\"b\":1,\"a\":[true,null]}");
    g_autofree char *text = ctl_format_json(answer);

    /* Members keep the order migd sent them in. */
    g_assert_cmpstr(text, ==,
                    "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}\n");
}

static void
test_format_sizes(void)
{
    static const struct {
        double bytes;
        const char *size;
        const char *rate;
    } cases[] = {
        { 0, "0 B", "0 B/s" },
        { 1023, "1023 B", "1023 B/s" },
        { 1024, "1.0 KiB", "1.0 KiB/s" },
        { 1536, "1.5 KiB", "1.5 KiB/s" },
        { 10239, "9.9 KiB", "9.9 KiB/s" },
        { 10240, "10 KiB", "10 KiB/s" },
        { 72000000, "68 MiB", "68 MiB/s" },
        { 557842432, "532 MiB", "532 MiB/s" },
        { 1073741824, "1.0 GiB", "1.0 GiB/s" },
        { 5e12, "4656 GiB", "4656 GiB/s" },
        { -1, "?", "?/s" },
        { NAN, "?", "?/s" },
        { 1e30, "?", "?/s" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *size = ctl_format_size(cases[i].bytes);
        g_autofree char *rate = ctl_format_rate(cases[i].bytes);

        g_assert_cmpstr(size, ==, cases[i].size);
        g_assert_cmpstr(rate, ==, cases[i].rate);
    }
}

static void
test_format_span(void)
{
    static const struct {
        double ms;
        const char *text;
    } cases[] = {
        { 0, "0.0 s" },
        { 49, "0.0 s" },
        { 50, "0.1 s" },
        { 400, "0.4 s" },
        { 1890, "1.9 s" },
        { 9949, "9.9 s" },
        { 9950, "10 s" },
        { 59449, "59 s" },
        { 59500, "1m 0s" },
        { 3723000, "1h 2m 3s" },
        { -1, "?" },
        { NAN, "?" },
        { 1e20, "?" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = ctl_format_span(cases[i].ms);

        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

static void
test_format_percent_bar(void)
{
    static const struct {
        double percent;
        const char *text;
        const char *bar;
    } cases[] = {
        { 0, "0%", "[....................]" },
        { 4.99, "4%", "[....................]" },
        { 5, "5%", "[#...................]" },
        { 57.2, "57%", "[###########.........]" },
        { 99.99, "99%", "[###################.]" },
        { 100, "100%", "[####################]" },
        { 150, "100%", "[####################]" },
        { -1, "?%", "[....................]" },
        { NAN, "?%", "[....................]" },
    };
    g_autofree char *empty = ctl_format_bar(50, 0);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = ctl_format_percent(cases[i].percent);
        g_autofree char *bar = ctl_format_bar(cases[i].percent, 20);

        g_assert_cmpstr(text, ==, cases[i].text);
        g_assert_cmpstr(bar, ==, cases[i].bar);
    }
    g_assert_cmpstr(empty, ==, "[]");
}

static void
test_format_table(void)
{
    static const char *const header[] = { "A", "LONG HEADER", "C" };
    static const char *const cells[] = {
        "caf\xc3\xa9", "1", "x",
        "wide cell", NULL, "\x1b[2J",
    };
    g_autoptr(GString) out = g_string_new(NULL);

    ctl_format_append_table(out, header, G_N_ELEMENTS(header), cells, 2);
    g_assert_cmpstr(out->str, ==,
                    "A          LONG HEADER  C\n"
                    "caf\xc3\xa9       1            x\n"
                    "wide cell  -            ?[2J\n");
}

/* ---- server-sent events ---- */

typedef struct {
    const char *name;
    const char *input;
    size_t len;                 /* 0: strlen(input) */
    const char *events;         /* "name=data|" each, see sse_describe() */
} SseCase;

static const SseCase sse_cases[] = {
    { "simple", "event: snapshot\ndata: {}\n\n", 0, "snapshot={}|" },
    { "crlf", "event: a\r\ndata: 1\r\n\r\n", 0, "a=1|" },
    { "cr", "event: a\rdata: 1\r\r", 0, "a=1|" },
    { "mixed-ends", "data: 1\r\n\rdata: 2\n\r\n", 0, "message=1|message=2|" },
    { "multi-line", "data: a\ndata:  b\ndata:\ndata\n\n", 0,
      "message=a\\n b\\n\\n|" },
    { "comments", ": keepalive\n\n:\nevent: x\n: between\ndata: y\n\n", 0,
      "x=y|" },
    { "no-data", "event: lonely\n\ndata: z\n\n", 0, "message=z|" },
    { "name-resets", "event: a\ndata: 1\n\ndata: 2\n\n", 0,
      "a=1|message=2|" },
    { "last-name-wins", "event: a\nevent: b\ndata: 1\n\n", 0, "b=1|" },
    { "other-fields", "id: 7\nretry: 10\nfoo: bar\ndata:x\n\n", 0,
      "message=x|" },
    { "colon-in-value", "data: {\"a\":\"b:c\"}\n\n", 0,
      "message={\"a\":\"b:c\"}|" },
    { "one-space-stripped", "data:  x \n\n", 0, "message= x |" },
    { "bom", "\xef\xbb\xbf" "data: 1\n\n", 0, "message=1|" },
    { "bom-only-first", "data: 1\n\n\xef\xbb\xbf" "data: 2\n\n", 0,
      "message=1|" },
    { "unterminated", "data: 1\n\ndata: 2\n", 0, "message=1|" },
    { "nul", "data: a\0b\n\n", 11, "message=a\\0b|" },
    { "empty", "", 0, "" },
    { "blank-lines", "\n\r\n\r\n", 0, "" },
};

/* The events @sse has ready, as "name=data|" each, with '\n', NUL and '\\'
 * in data escaped. */
static char *
sse_describe(CtlSse *sse)
{
    GString *text = g_string_new(NULL);
    CtlSseEvent *next;

    while ((next = ctl_sse_next(sse))) {
        g_autoptr(CtlSseEvent) event = next;

        g_string_append_printf(text, "%s=", event->name);
        for (size_t i = 0; i < event->len; i++) {
            if (event->data[i] == '\n')
                g_string_append(text, "\\n");
            else if (event->data[i] == '\0')
                g_string_append(text, "\\0");
            else if (event->data[i] == '\\')
                g_string_append(text, "\\\\");
            else
                g_string_append_c(text, event->data[i]);
        }
        g_string_append_c(text, '|');
    }
    return g_string_free(text, FALSE);
}

/* Feeds @input in pieces of @step bytes, after a first piece of @first. */
static char *
sse_parse(const char *input, size_t len, size_t first, size_t step)
{
    g_autoptr(CtlSse) sse = ctl_sse_new();
    g_autoptr(GError) error = NULL;
    size_t done = MIN(first, len);

    g_assert_true(ctl_sse_feed(sse, input, done, &error));
    while (done < len) {
        size_t piece = MIN(step, len - done);

        g_assert_true(ctl_sse_feed(sse, input + done, piece, &error));
        done += piece;
    }
    g_assert_no_error(error);
    return sse_describe(sse);
}

/* Every way the bytes may arrive gives the same events. */
static void
test_sse_case(gconstpointer data)
{
    const SseCase *c = data;
    size_t len = c->len ? c->len : strlen(c->input);
    g_autofree char *whole = sse_parse(c->input, len, len, len);
    g_autofree char *bytes = sse_parse(c->input, len, 0, 1);

    g_assert_cmpstr(whole, ==, c->events);
    g_assert_cmpstr(bytes, ==, c->events);
    for (size_t split = 1; split < len; split++) {
        g_autofree char *split_events = sse_parse(c->input, len, split, len);

        g_assert_cmpstr(split_events, ==, c->events);
    }
}

static void
test_sse_events_queue(void)
{
    g_autoptr(CtlSse) sse = ctl_sse_new();
    g_autoptr(CtlSseEvent) first = NULL;
    g_autoptr(CtlSseEvent) second = NULL;

    g_assert_true(ctl_sse_feed(sse, "data: 1\n\ndata: 2\n", 17, NULL));
    first = ctl_sse_next(sse);
    g_assert_cmpstr(first->data, ==, "1");
    g_assert_cmpuint(first->len, ==, 1);
    g_assert_null(ctl_sse_next(sse));
    g_assert_true(ctl_sse_feed(sse, "\n", 1, NULL));
    second = ctl_sse_next(sse);
    g_assert_cmpstr(second->name, ==, "message");
    g_assert_cmpstr(second->data, ==, "2");
    g_assert_null(ctl_sse_next(sse));
}

static void
test_sse_too_large(void)
{
    static const char message[] = "an event in migd's event stream is larger "
        "than 16 MiB, more than migd ever sends. Check that the socket or URL "
        "is migd's.";
    g_autofree char *line = g_strnfill(1024 * 1024, 'x');
    g_autoptr(CtlSse) long_line = ctl_sse_new();
    g_autoptr(CtlSse) many_lines = ctl_sse_new();
    g_autoptr(GError) error = NULL;
    gboolean ok = TRUE;

    /* One line without an end. */
    for (size_t i = 0; ok && i < 17; i++)
        ok = ctl_sse_feed(long_line, line, strlen(line), &error);
    g_assert_false(ok);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    g_assert_cmpstr(error->message, ==, message);
    g_clear_error(&error);
    g_assert_false(ctl_sse_feed(long_line, "\n\n", 2, &error));
    g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    g_clear_error(&error);

    /* An event of many lines. */
    ok = TRUE;
    for (size_t i = 0; ok && i < 17; i++) {
        ok = ctl_sse_feed(many_lines, "data: ", 6, &error) &&
             ctl_sse_feed(many_lines, line, strlen(line), &error) &&
             ctl_sse_feed(many_lines, "\n", 1, &error);
    }
    g_assert_false(ok);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    g_assert_null(ctl_sse_next(many_lines));
}

/* ---- a command's own arguments ---- */

static const CtlArgsSyntax migrate_syntax = {
    "migrate", "DOMAIN DEST", 2, 2, ctl_migration_migrate_options,
};
static const CtlArgsSyntax status_syntax = { "status", "ID", 1, 1, NULL };
static const CtlArgsSyntax list_syntax = {
    "list", "", 0, 0, ctl_migration_list_options,
};
static const CtlArgsSyntax help_syntax = { "help", "[COMMAND]", 0, 1, NULL };

static CtlArgs *
parse_args(const CtlArgsSyntax *syntax, const char *const *args,
           GError **error)
{
    return ctl_args_parse(syntax, (int)g_strv_length((char **)args),
                          (char **)args, error);
}

static void
test_args_migrate(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlArgs) args = NULL;
    g_autoptr(json_t) expected = NULL;

    args = parse_args(&migrate_syntax, ARGS(
        "--strategy", "unplug", "labvm", "--bandwidth=100", "--parallel", "4",
        "--compression", "zstd", "--compression=xbzrle", "--postcopy",
        "--auto-converge", "--no-persist", "--keep-source", "B",
        "--max-downtime", "300", "--downtime-steps", "500,1000,2000",
        "--completion-timeout-per-gib", "150", "--progress-timeout=60",
        "--wait"), &error);
    g_assert_no_error(error);
    g_assert_cmpint(args->n_args, ==, 2);
    g_assert_cmpstr(args->args[0], ==, "labvm");
    g_assert_cmpstr(args->args[1], ==, "B");
    g_assert_null(args->args[2]);
    expected = load("{\"strategy\":\"unplug\",\"options\":{\"bandwidth_mibps\":"
                    "100,\"parallel_connections\":4,\"compression\":[\"zstd\","
                    "\"xbzrle\"],\"postcopy\":true,\"auto_converge\":true,"
                    "\"persistent\":false,\"undefine_source\":false},"
                    "\"policy\":{\"max_downtime_ms\":300,\"downtime_steps_ms\":"
                    "[500,1000,2000],\"completion_timeout_per_gib_s\":150,"
                    "\"progress_timeout_s\":60},\"wait\":true}");
    g_assert_true(json_equal(args->options, expected));
}

static void
test_args_order(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlArgs) args = NULL;
    g_autoptr(json_t) expected = NULL;

    /* A later use overrides; after "--", what looks like an option is an
     * argument. */
    args = parse_args(&migrate_syntax, ARGS(
        "--bandwidth", "1", "labvm", "--bandwidth", "2", "--", "--B"), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(args->args[0], ==, "labvm");
    g_assert_cmpstr(args->args[1], ==, "--B");
    expected = load("{\"options\":{\"bandwidth_mibps\":2}}");
    g_assert_true(json_equal(args->options, expected));
    g_clear_pointer(&args, ctl_args_free);

    args = parse_args(&list_syntax, ARGS("--domain", "-", "--state=failed"),
                      &error);
    g_assert_no_error(error);
    g_assert_cmpint(args->n_args, ==, 0);
    g_clear_pointer(&expected, json_decref);
    expected = load("{\"domain\":\"-\",\"state\":\"failed\"}");
    g_assert_true(json_equal(args->options, expected));
    g_clear_pointer(&args, ctl_args_free);

    args = parse_args(&help_syntax, ARGS("-"), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(args->args[0], ==, "-");
    g_assert_cmpuint(json_object_size(args->options), ==, 0);
}

static void
test_args_errors(void)
{
    static const struct {
        const CtlArgsSyntax *syntax;
        const char *args[6];
        const char *message;
    } cases[] = {
        { &migrate_syntax, { "labvm" }, "'migctl migrate' needs 2 arguments "
          "(DOMAIN DEST), but was given 1." },
        { &migrate_syntax, { NULL }, "'migctl migrate' needs 2 arguments "
          "(DOMAIN DEST), but was given none." },
        { &migrate_syntax, { "a", "b", "c" }, "'migctl migrate' takes 2 "
          "arguments (DOMAIN DEST), but was also given 'c'." },
        { &migrate_syntax, { "a", "b", "--bogus" }, "'migctl migrate' has no "
          "option '--bogus'; 'migctl --help' lists the global options. "
          "'migctl help migrate' lists its own options." },
        { &migrate_syntax, { "a", "b", "-o", "json" }, "'migctl migrate' has "
          "no option '-o'; 'migctl --help' lists the global options. "
          "'migctl help migrate' lists its own options." },
        { &migrate_syntax, { "a", "b", "--wait=yes" }, "option --wait takes "
          "no value, but was given 'yes'." },
        { &migrate_syntax, { "a", "b", "--bandwidth" }, "option --bandwidth "
          "needs a value (MIBPS)." },
        { &migrate_syntax, { "a", "b", "--bandwidth", "fast" }, "invalid "
          "value 'fast' for --bandwidth: give a whole number from 0 to "
          "2147483647." },
        { &migrate_syntax, { "a", "b", "--parallel=0" }, "invalid value '0' "
          "for --parallel: give a whole number from 1 to 255." },
        { &migrate_syntax, { "a", "b", "--max-downtime", "-5" }, "invalid "
          "value '-5' for --max-downtime: give a whole number from 1 to "
          "2147483647." },
        { &migrate_syntax, { "a", "b", "--downtime-steps", "500,,1000" },
          "invalid value '500,,1000' for --downtime-steps: give whole numbers "
          "from 1 to 2147483647 separated by commas." },
        { &migrate_syntax, { "a", "b", "--downtime-steps=" }, "invalid value "
          "'' for --downtime-steps: give whole numbers from 1 to 2147483647 "
          "separated by commas." },
        { &migrate_syntax, { "a", "b", "--strategy", "fast" }, "invalid value "
          "'fast' for --strategy: use one of auto, unplug, native, pause, none." },
        { &migrate_syntax, { "a", "b", "--compression", "" }, "the value of "
          "--compression is empty: give a METHOD." },
        { &migrate_syntax, { "a", "b", "--compression", "z\xff" }, "the value "
          "of --compression is not valid UTF-8." },
        { &list_syntax, { "--state" }, "option --state needs a value "
          "(STATE)." },
        { &list_syntax, { "x" }, "'migctl list' takes no arguments, but was "
          "given 'x'." },
        { &status_syntax, { NULL }, "'migctl status' needs 1 argument (ID), "
          "but was given none." },
        { &status_syntax, { "a", "b" }, "'migctl status' takes 1 argument "
          "(ID), but was also given 'b'." },
        { &status_syntax, { "a", "--x=1" }, "'migctl status' has no option "
          "'--x'; 'migctl --help' lists the global options." },
        { &help_syntax, { "a", "b" }, "'migctl help' takes at most 1 argument "
          "([COMMAND]), but was also given 'b'." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CtlArgs) args = parse_args(cases[i].syntax, cases[i].args,
                                             &error);

        g_test_message("case %zu", i);
        g_assert_null(args);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
        g_assert_cmpstr(error->message, ==, cases[i].message);
    }
}

static void
test_args_help(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    ctl_args_append_help(out, ctl_migration_list_options);
    g_assert_cmpstr(out->str, ==,
                    "  --state STATE           Only the migrations in this "
                    "state, e.g. migrating or\n"
                    "                          failed.\n"
                    "  --domain NAME           Only the migrations of this "
                    "domain.\n");
    g_string_truncate(out, 0);
    ctl_args_append_help(out, NULL);
    g_assert_cmpstr(out->str, ==, "");
}

/* ---- migration job records ---- */

/* The sample record with the members of the JSON object @changes. */
static json_t *
record_with(const char *changes)
{
    json_t *record = load(RECORD_BODY);
    g_autoptr(json_t) update = load(changes);

    g_assert_cmpint(json_object_update(record, update), ==, 0);
    return record;
}

/* The same as JSON text, for a fake migd to send. */
static char *
record_text_with(const char *changes)
{
    g_autoptr(json_t) record = record_with(changes);

    return json_dumps(record, JSON_COMPACT);
}

static void
test_job_status(void)
{
    static const struct {
        const char *changes;
        const char *text;
    } cases[] = {
        { "{}",
          "migration:     " RECORD_ID "\n"
          "domain:        labvm\n"
          "destination:   B (qemu+tcp://10.200.0.2/system, migd at "
          "http://10.200.0.2:7480)\n"
          "strategy:      auto\n"
          "state:         migrating\n"
          "created:       2026-11-22T02:40:00.123Z\n"
          "started:       2026-11-22T02:40:00.150Z\n"
          "elapsed:       1.2 s\n"
          "progress:      57%: 91 MiB of 161 MiB done, 68 MiB left\n"
          "rate:          532 MiB/s, guest dirtying 120 pages/s\n"
          "iteration:     2\n"
          "time left:     0.4 s\n"
          "max downtime:  300 ms\n"
          "\n"
          "timeline:\n"
          "   +0.000 s  state    [pending] accepted: migrate labvm to B\n"
          "   +0.877 s  policy   raised max downtime to 500 ms: data "
          "remaining stayed near 70 MiB for 3 iterations\n" },
        { COMPLETED_CHANGES,
          "migration:    " RECORD_ID "\n"
          "domain:       labvm\n"
          "destination:  B (qemu+tcp://10.200.0.2/system, migd at "
          "http://10.200.0.2:7480)\n"
          "strategy:     auto\n"
          "state:        completed\n"
          "outcome:      completed: labvm runs on B\n"
          "created:      2026-11-22T02:40:00.123Z\n"
          "started:      2026-11-22T02:40:00.150Z\n"
          "finished:     2026-11-22T02:40:02.040Z\n"
          "downtime:     93 ms\n"
          "setup time:   1 ms\n"
          "total time:   1.9 s\n"
          "transferred:  95 MiB\n"
          "\n"
          "timeline:\n"
          "   +0.000 s  state    [pending] accepted: migrate labvm to B\n"
          "   +0.877 s  policy   raised max downtime to 500 ms: data "
          "remaining stayed near 70 MiB for 3 iterations\n" },
        /* Nulls, wrong types and missing members are not known. */
        { "{\"destination\":\"qemu+ssh://c/system\",\"strategy\":null,"
          "\"created_at\":7,\"started_at\":null,\"timeline\":[],\"progress\":"
          "{\"percent\":\"57\",\"postcopy\":true},\"result\":[]}",
          "migration:    " RECORD_ID "\n"
          "domain:       labvm\n"
          "destination:  qemu+ssh://c/system\n"
          "state:        migrating\n"
          "progress:     ?%: ? of ? done, ? left\n"
          "rate:         ?/s\n"
          "post-copy:    yes\n" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) record = record_with(cases[i].changes);
        g_autoptr(GError) error = NULL;
        g_autofree char *text = ctl_job_format_status(record, &error);

        g_test_message("case %zu", i);
        g_assert_no_error(error);
        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

static void
test_job_minimal(void)
{
    g_autoptr(json_t) record = load("{\"id\":\"j\\u001b1\",\"domain\":\"d\","
                                    "\"state\":\"pending\"}");
    g_autoptr(GError) error = NULL;
    g_autofree char *status = ctl_job_format_status(record, &error);
    g_autofree char *accepted = ctl_job_format_accepted(record, &error);
    g_autofree char *waiting = ctl_job_format_accepted_waiting(record, &error);
    g_autofree char *cancelling = ctl_job_format_cancelling(record, &error);
    g_autofree char *forcing = ctl_job_format_forcing(record, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(status, ==,
                    "migration:    j?1\n"
                    "domain:       d\n"
                    "destination:  ?\n"
                    "state:        pending\n");
    g_assert_cmpstr(accepted, ==,
                    "migration j?1 of d to ? accepted (state pending)\n"
                    "follow it with: migctl watch j?1\n");
    g_assert_cmpstr(waiting, ==,
                    "migration j?1 of d to ? accepted (state pending)\n");
    g_assert_cmpstr(cancelling, ==, "cancelling migration j?1 (state "
                    "pending)\n");
    g_assert_cmpstr(forcing, ==, "asked migd to force migration j?1 (state "
                    "pending) to complete; its timeline will say what migd "
                    "did: migctl status j?1\n");
}

static void
test_job_bad_record(void)
{
    static const char prefix[] = "the migration record migd sent is not in "
        "the form migctl expects (";
    static const char suffix[] = "). migd and migctl may come from different "
        "releases: compare 'migctl --version' with the migd package version.";
    static const struct {
        const char *body;
        const char *reason;
    } cases[] = {
        { "{\"domain\":\"d\",\"state\":\"s\"}",
          "Object item not found: id" },
        { "{\"id\":\"\",\"domain\":\"d\",\"state\":\"s\"}", "its id is empty" },
        { "{\"id\":\"x\",\"domain\":null,\"state\":\"s\"}",
          "Expected string, got null" },
        { "{\"id\":\"x\",\"domain\":\"d\",\"state\":1}",
          "Expected string, got integer" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) record = load(cases[i].body);
        g_autoptr(GError) error = NULL;
        g_autofree char *expected = g_strconcat(prefix, cases[i].reason,
                                                suffix, NULL);
        g_autofree char *text = ctl_job_format_status(record, &error);

        g_assert_null(text);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
        g_assert_cmpstr(error->message, ==, expected);
    }
}

static void
test_job_list(void)
{
    g_autoptr(json_t) answer = load(
        "{\"migrations\":[" RECORD_BODY ",{\"id\":\"0a1b2c3d4e5f\",\"domain\":"
        "\"web\",\"destination\":{\"libvirt_uri\":\"qemu+tcp://h/system\"},"
        "\"state\":\"pending\",\"progress\":null,\"created_at\":null}]}");
    g_autoptr(json_t) empty = load("{\"migrations\":[]}");
    g_autoptr(json_t) bad = load("{\"migrations\":[" RECORD_BODY ",{}]}");
    g_autoptr(json_t) none = load("{\"jobs\":[]}");
    g_autoptr(GError) error = NULL;
    g_autofree char *text = ctl_job_format_list(answer, &error);
    g_autofree char *empty_text = ctl_job_format_list(empty, &error);
    g_autofree char *bad_text = NULL;
    g_autofree char *none_text = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(text, ==,
                    "ID        DOMAIN  DEST                 STATE      ELAPSED"
                    "  PROGRESS  CREATED\n"
                    "3f0c6a2e  labvm   B                    migrating  1.2 s  "
                    "  57%       2026-11-22T02:40:00.123Z\n"
                    "0a1b2c3d  web     qemu+tcp://h/system  pending    -      "
                    "  -         -\n");
    g_assert_cmpstr(empty_text, ==, "migd knows of no migrations that "
                    "match.\n");

    bad_text = ctl_job_format_list(bad, &error);
    g_assert_null(bad_text);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    g_clear_error(&error);
    none_text = ctl_job_format_list(none, &error);
    g_assert_null(none_text);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
    g_assert_cmpstr(error->message, ==, "migd's answer to GET /v1/migrations "
                    "has no 'migrations' array. migd and migctl may come from "
                    "different releases: compare 'migctl --version' with the "
                    "migd package version.");
}

static void
test_job_timeline_line(void)
{
    static const struct {
        const char *entry;
        const char *line;
    } cases[] = {
        { TIMELINE_1, " +0.877 s  policy   raised max downtime to 500 ms: "
          "data remaining stayed near 70 MiB for 3 iterations" },
        { TIMELINE_0, " +0.000 s  state    [pending] accepted: migrate labvm "
          "to B" },
        { "{\"t_ms\":123456,\"kind\":\"warning\",\"message\":\"slow\\nlink "
          "\\u001b[2J\"}", "+123.456 s  warning  slow link ?[2J" },
        { "{\"t_ms\":1.5,\"kind\":\"state\",\"state\":\"switchover\"}",
          " +0.001 s  state    [switchover]" },
        { "{\"t_ms\":\"5\",\"kind\":7,\"state\":\"x\",\"message\":\"m\"}",
          "        ?  ?        m" },
        { "{\"t_ms\":-1,\"kind\":\"error\",\"message\":\"no VF\"}",
          "        ?  error    no VF" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) entry = load(cases[i].entry);
        g_autofree char *line = ctl_job_timeline_line(entry);

        g_assert_cmpstr(line, ==, cases[i].line);
    }
}

static void
test_job_progress_line(void)
{
    static const struct {
        const char *state;
        const char *progress;   /* NULL: none yet */
        const char *line;
    } cases[] = {
        { "migrating", PROGRESS_BODY, "migrating   57% [###########.........]  "
          "532 MiB/s  68 MiB left  ETA 0.4 s" },
        { "migrating", "{\"postcopy\":true,\"percent\":99.5,\"memory_bps\":"
          "1073741824,\"data_remaining\":1048576,\"eta_ms\":61000}",
          "post-copy   99% [###################.]  1.0 GiB/s  1.0 MiB left  "
          "ETA 1m 1s" },
        { "switchover", "{\"percent\":100}", "switchover 100% "
          "[####################]  ?/s  ? left  ETA ?" },
        { "rolling-back", "{\"percent\":3}", "rolling-back   3% "
          "[....................]  ?/s  ? left  ETA ?" },
        { "migrating", "{\"percent\":null,\"memory_bps\":\"fast\"}",
          "migrating    ?% [....................]  ?/s  ? left  ETA ?" },
        { "checking", NULL, "checking" },
        { NULL, NULL, "?" },
        { "bad\x1b", NULL, "bad?" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) progress = cases[i].progress ?
            load(cases[i].progress) : NULL;
        g_autofree char *line = ctl_job_progress_line(cases[i].state,
                                                      progress);

        g_assert_cmpstr(line, ==, cases[i].line);
    }
}

static void
test_job_outcome(void)
{
    static const struct {
        const char *changes;
        gboolean completed;
        const char *line;       /* after "migration ID of labvm to B " */
        const char *failure;    /* in parentheses; NULL when completed */
    } cases[] = {
        { COMPLETED_CHANGES, TRUE,
          "completed in 1.9 s with 93 ms of downtime", NULL },
        { "{\"state\":\"completed\",\"outcome\":null,\"result\":null}", TRUE,
          "completed", NULL },
        { "{\"state\":\"completed\",\"result\":{\"total_time_ms\":61000}}",
          TRUE, "completed in 1m 1s", NULL },
        { FAILED_CHANGES, FALSE, "failed: the destination has no free VF for "
          "the NIC 'net0'", "failed: the destination has no free VF for the "
          "NIC 'net0'" },
        { "{\"state\":\"cancelled\",\"outcome\":{\"result\":\"cancelled\","
          "\"reason\":\"\"}}", FALSE, "cancelled", "cancelled" },
        { "{\"state\":\"failed\",\"outcome\":{\"result\":\"exploded\","
          "\"reason\":\"boom\\u0007\"}}", FALSE, "exploded: boom?",
          "exploded: boom?" },
        { "{\"state\":\"failed\",\"outcome\":null}", FALSE, "failed",
          "failed" },
        { "{}", FALSE, "ended without an outcome", "no outcome" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_t) record = record_with(cases[i].changes);
        g_autofree char *line = ctl_job_outcome_line(record);
        g_autofree char *failure = ctl_job_failure_message(record);
        g_autofree char *expected_line = g_strconcat(
            "migration " RECORD_ID " of labvm to B ", cases[i].line, NULL);
        g_autofree char *expected_failure = g_strdup_printf(
            "migration " RECORD_ID " did not complete (%s). 'migctl status "
            RECORD_ID "' shows its whole timeline.", cases[i].failure);

        g_test_message("case %zu", i);
        g_assert_cmpint(ctl_job_completed(record), ==, cases[i].completed);
        g_assert_cmpstr(line, ==, expected_line);
        if (cases[i].failure)
            g_assert_cmpstr(failure, ==, expected_failure);
    }
}

/* ---- following a job's events ---- */

#define PROGRESS_80_BODY \
    "{\"state\":\"migrating\",\"progress\":{\"elapsed_ms\":1500,\"data_total\":" \
    "168820736,\"data_processed\":140000000,\"data_remaining\":28000000," \
    "\"memory_bps\":557842432,\"percent\":80,\"eta_ms\":50,\"postcopy\":false}}"
#define SWITCHOVER_BODY \
    "{\"t_ms\":1700,\"kind\":\"state\",\"state\":\"switchover\",\"message\":" \
    "\"pausing labvm for the last 26 MiB\"}"

#define LINE_T0 " +0.000 s  state    [pending] accepted: migrate labvm to B\n"
#define LINE_T1 \
    " +0.877 s  policy   raised max downtime to 500 ms: data remaining " \
    "stayed near 70 MiB for 3 iterations\n"
#define LINE_57 \
    "migrating   57% [###########.........]  532 MiB/s  68 MiB left  ETA 0.4 s"
#define LINE_80 \
    "migrating   80% [################....]  532 MiB/s  26 MiB left  ETA 0.1 s"
#define LINE_SWITCHOVER_80 \
    "switchover  80% [################....]  532 MiB/s  26 MiB left  ETA 0.1 s"
#define LINE_SWITCHOVER \
    " +1.700 s  state    [switchover] pausing labvm for the last 26 MiB\n"
#define LINE_COMPLETED \
    "migration " RECORD_ID " of labvm to B completed in 1.9 s with 93 ms of " \
    "downtime\n"

/* The events of a migration that completes: name, data, name, data, ... */
static char **
watch_stream(void)
{
    g_autofree char *completed = record_text_with(COMPLETED_CHANGES);
    const char *const events[] = {
        "snapshot", RECORD_BODY,
        "progress", PROGRESS_80_BODY,
        "hello", "not JSON, not for this migctl",
        "timeline", SWITCHOVER_BODY,
        "end", completed,
        "progress", PROGRESS_80_BODY,
        NULL,
    };

    return g_strdupv((char **)events);
}

/* Feeds @events (name, data, ...) to a watch in @mode. */
static char *
watch_replay(CtlWatchMode mode, guint columns, char **events,
             json_t **ret_end, GError **error)
{
    g_autoptr(CtlWatch) watch = ctl_watch_new(mode);
    GString *out = g_string_new(NULL);

    ctl_watch_set_columns(watch, columns);
    for (size_t i = 0; events[i]; i += 2) {
        CtlSseEvent event = {
            .name = events[i], .data = events[i + 1],
            .len = strlen(events[i + 1]),
        };

        if (!ctl_watch_handle(watch, &event, out, error))
            break;
    }
    ctl_watch_close(watch, out);
    if (ret_end)
        *ret_end = json_incref(ctl_watch_get_end(watch));
    return g_string_free(out, FALSE);
}

static void
test_watch_plain(void)
{
    g_auto(GStrv) events = watch_stream();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) end = NULL;
    g_autofree char *out = watch_replay(CTL_WATCH_PLAIN, 0, events, &end,
                                        &error);

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==,
                    LINE_T0 LINE_T1 LINE_57 "\n" LINE_80 "\n"
                    LINE_SWITCHOVER LINE_COMPLETED);
    g_assert_true(ctl_job_completed(end));
}

static void
test_watch_tty(void)
{
    g_auto(GStrv) events = watch_stream();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) end = NULL;
    g_autofree char *out = watch_replay(CTL_WATCH_TTY, 80, events, &end,
                                        &error);
    g_autofree char *erase = g_strdup_printf("\r%*s\r",
                                             (int)strlen(LINE_57), "");
    g_autofree char *expected = g_strconcat(
        LINE_T0, LINE_T1, "\r" LINE_57, "\r" LINE_80,
        erase, LINE_SWITCHOVER, "\r" LINE_SWITCHOVER_80,
        erase, LINE_COMPLETED, NULL);

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, expected);
    g_assert_true(ctl_job_completed(end));
}

/* On a terminal, a shorter line wipes out what is left of a longer one,
 * state changes show before any progress, and a line never wraps. */
static void
test_watch_tty_lines(void)
{
    g_autoptr(json_t) pending = load("{\"id\":\"j\",\"domain\":\"d\","
                                     "\"state\":\"pending\",\"timeline\":[]}");
    g_autofree char *snapshot = json_dumps(pending, JSON_COMPACT);
    const char *const events[] = {
        "snapshot", snapshot,
        "timeline", "{\"t_ms\":5,\"kind\":\"state\",\"state\":\"checking\"}",
        "progress", PROGRESS_80_BODY,
        "progress", "{\"state\":\"verifying\"}",
        NULL,
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *out = watch_replay(CTL_WATCH_TTY, 0, (char **)events,
                                        NULL, &error);
    g_autofree char *narrow = watch_replay(CTL_WATCH_TTY, 30, (char **)events,
                                           NULL, &error);
    g_autofree char *expected = g_strdup_printf(
        "\rpending\r%7s\r%s\rchecking\r%s\rverifying%*s\n",
        "", " +0.005 s  state    [checking]\n", LINE_80,
        (int)(strlen(LINE_80) - strlen("verifying")), "");
    g_autofree char *expected_narrow = g_strdup_printf(
        "\rpending\r%7s\r%s\rchecking\r%.29s\rverifying%20s\n",
        "", " +0.005 s  state    [checking]\n", LINE_80, "");

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, expected);
    g_assert_cmpstr(narrow, ==, expected_narrow);
}

static void
test_watch_json(void)
{
    g_auto(GStrv) events = watch_stream();
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) end = NULL;
    g_autofree char *out = NULL;
    g_autofree char *expected = NULL;

    /* Data of several lines is one line of JSON all the same. */
    g_free(events[3]);
    events[3] = g_strdup("{\"state\":\"migrating\",\n\"progress\":null}");
    out = watch_replay(CTL_WATCH_JSON, 0, events, &end, &error);
    expected = g_strconcat(RECORD_BODY "\n",
                           "{\"state\":\"migrating\", \"progress\":null}\n",
                           SWITCHOVER_BODY "\n", events[9], "\n", NULL);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, expected);
    g_assert_true(ctl_job_completed(end));
}

static void
test_watch_errors(void)
{
    static const char releases[] = ". migd and migctl may come from "
        "different releases: compare 'migctl --version' with the migd "
        "package version.";
    static const struct {
        CtlWatchMode mode;
        const char *name;
        const char *data;
        const char *message;
    } cases[] = {
        { CTL_WATCH_PLAIN, "snapshot", "nope", "the data of the 'snapshot' "
          "event in migd's event stream is not a JSON object (invalid token "
          "near 'nope')" },
        { CTL_WATCH_TTY, "progress", "[1]", "the data of the 'progress' event "
          "in migd's event stream is not a JSON object (it is another JSON "
          "value)" },
        { CTL_WATCH_PLAIN, "timeline", "", "the data of the 'timeline' event "
          "in migd's event stream is not a JSON object (unexpected token near "
          "end of file)" },
        { CTL_WATCH_PLAIN, "end", "{\"id\":\"x\"}", "the migration record "
          "migd sent is not in the form migctl expects (Object item not "
          "found: domain)" },
        { CTL_WATCH_JSON, "end", "{}", "the migration record migd sent is not "
          "in the form migctl expects (Object item not found: id)" },
        { CTL_WATCH_JSON, "progress", "{", "the data of the 'progress' event "
          "in migd's event stream is not a JSON object (string or '}' expected "
          "near end of file)" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *events[] = { cases[i].name, cases[i].data, NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(json_t) end = NULL;
        g_autofree char *out = watch_replay(cases[i].mode, 0, (char **)events,
                                            &end, &error);
        g_autofree char *expected = g_strconcat(cases[i].message, releases,
                                                NULL);

        g_test_message("case %zu", i);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
        g_assert_cmpstr(error->message, ==, expected);
        g_assert_cmpstr(out, ==, "");
        g_assert_null(end);
    }
}

/* ---- failures to reach migd ---- */

static void
test_describe_failure(void)
{
    static const struct {
        CtlTargetKind kind;
        const char *origin;
        CURLcode code;
        int os_errno;
        const char *detail;
        guint timeout;
        const char *message;
    } cases[] = {
        { CTL_TARGET_SOCKET, "default", CURLE_COULDNT_CONNECT, ENOENT, "", 30,
          "cannot reach migd at /m.sock: No such file or directory. Is migd "
          "running? Check 'systemctl status migd' or pass --socket/--url." },
        { CTL_TARGET_SOCKET, "MIGCTL_SOCKET", CURLE_COULDNT_CONNECT,
          ECONNREFUSED, "", 30, "cannot reach migd at /m.sock (from "
          "MIGCTL_SOCKET): Connection refused. Is migd running? Check "
          "'systemctl status migd' or pass --socket/--url." },
        { CTL_TARGET_SOCKET, "--socket", CURLE_COULDNT_CONNECT, EACCES, "", 30,
          "cannot reach migd at /m.sock: Permission denied. Run migctl as "
          "root, or as a member of the group that owns the socket (see 'ls -l "
          "/m.sock')." },
        { CTL_TARGET_URL, "--url", CURLE_COULDNT_CONNECT, ECONNREFUSED, "", 30,
          "cannot reach migd at http://h:1: Connection refused. Is migd "
          "running on that host and listening on that port? Check 'systemctl "
          "status migd' there, or pass --socket/--url." },
        { CTL_TARGET_URL, "--url", CURLE_COULDNT_CONNECT, EHOSTUNREACH, "", 30,
          "cannot reach migd at http://h:1: No route to host. Check that the "
          "host is up and reachable from here and that migd runs there "
          "('systemctl status migd'), or pass --socket/--url." },
        { CTL_TARGET_URL, "MIGCTL_URL", CURLE_COULDNT_RESOLVE_HOST, 0,
          "Could not resolve host: h", 30, "cannot reach migd at http://h:1 "
          "(from MIGCTL_URL): the host name does not resolve. Check the host "
          "name given by MIGCTL_URL." },
        { CTL_TARGET_SOCKET, "default", CURLE_OPERATION_TIMEDOUT, 0, "", 1,
          "migd at /m.sock did not answer within 1 second. It may be "
          "overloaded or stuck: see 'journalctl -u migd', or retry with a "
          "longer --timeout." },
        { CTL_TARGET_URL, "--url", CURLE_OPERATION_TIMEDOUT, 0, "", 30,
          "migd at http://h:1 did not answer within 30 seconds. It may be "
          "overloaded or stuck: see 'journalctl -u migd' on its host and "
          "check that no firewall drops the connection, or retry with a "
          "longer --timeout." },
        { CTL_TARGET_SOCKET, "default", CURLE_GOT_NOTHING, 0, "", 30,
          "migd at /m.sock closed the connection without answering. It may "
          "have crashed or be restarting: check 'systemctl status migd' and "
          "'journalctl -u migd'." },
        { CTL_TARGET_URL, "--url", CURLE_SSL_CONNECT_ERROR, 0,
          "TLS handshake failed", 30, "cannot reach migd at http://h:1: TLS "
          "handshake failed. Check that the host is up and reachable from "
          "here and that migd runs there ('systemctl status migd'), or pass "
          "--socket/--url." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        CtlTarget target = {
            .kind = cases[i].kind,
            .address = (char *)(cases[i].kind == CTL_TARGET_SOCKET ?
                                "/m.sock" : "http://h:1"),
            .origin = cases[i].origin,
        };
        g_autofree char *message = NULL;

        message = ctl_http_describe_failure(&target, cases[i].code,
                                            cases[i].os_errno, cases[i].detail,
                                            cases[i].timeout);
        g_assert_cmpstr(message, ==, cases[i].message);
    }
}

/* ---- commands against a fake migd ---- */

typedef struct {
    char *dir;
    char *path;
    GSocket *listener;
    GThread *thread;
    GPtrArray *answers;         /* GStrv: the pieces of each answer */
    GPtrArray *requests;        /* char *: what migctl sent, in order */
} FakeMigd;

/* Between two pieces of an answer, so that they arrive apart; this one
 * stands for a peer that keeps the connection open for a while. */
#define FAKE_MIGD_STALL "(stall)"

#define STREAM_HEAD \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" \
    "Connection: close\r\n\r\n"

/* One request: its head, and its body if Content-Length announces one. */
static char *
fake_migd_receive(GSocket *client)
{
    GString *request = g_string_new(NULL);
    char buffer[4096];
    gssize n = 1;
    const char *end = NULL;
    size_t want = 0;

    while (n > 0 && !(end = strstr(request->str, "\r\n\r\n")) &&
           (n = g_socket_receive(client, buffer, sizeof(buffer), NULL,
                                 NULL)) > 0)
        g_string_append_len(request, buffer, n);
    if (end) {
        g_autofree char *head = g_ascii_strdown(request->str,
                                                end - request->str);
        const char *length = strstr(head, "\r\ncontent-length:");

        want = end - request->str + 4;
        if (length)
            want += strtoul(length + 17, NULL, 10);
    }
    while (request->len < want &&
           (n = g_socket_receive(client, buffer, sizeof(buffer), NULL,
                                 NULL)) > 0)
        g_string_append_len(request, buffer, n);
    return g_string_free(request, FALSE);
}

static void
fake_migd_send(GSocket *client, char **pieces)
{
    for (size_t i = 0; pieces[i]; i++) {
        if (i > 0)
            g_usleep(5 * 1000);
        if (strcmp(pieces[i], FAKE_MIGD_STALL) == 0) {
            g_usleep(1500 * 1000);
            continue;
        }
        /* migctl may have gone; GSocket does not raise SIGPIPE. */
        if (g_socket_send(client, pieces[i], strlen(pieces[i]), NULL,
                          NULL) < 0)
            return;
    }
}

static gpointer
fake_migd_serve(gpointer data)
{
    FakeMigd *fake = data;

    for (guint i = 0; i < fake->answers->len; i++) {
        /* Times out when migctl makes fewer requests, which tests see. */
        g_autoptr(GSocket) client = g_socket_accept(fake->listener, NULL,
                                                    NULL);

        if (!client)
            break;
        g_ptr_array_add(fake->requests, fake_migd_receive(client));
        fake_migd_send(client, g_ptr_array_index(fake->answers, i));
    }
    return NULL;
}

static FakeMigd *
fake_migd_new(void)
{
    FakeMigd *fake = g_new0(FakeMigd, 1);
    g_autoptr(GSocketAddress) address = NULL;
    g_autoptr(GError) error = NULL;

    fake->dir = g_dir_make_tmp("test-migctl-XXXXXX", &error);
    g_assert_no_error(error);
    fake->path = g_build_filename(fake->dir, "migd.sock", NULL);
    fake->answers = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    fake->requests = g_ptr_array_new_with_free_func(g_free);
    fake->listener = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);
    g_assert_no_error(error);
    g_socket_set_timeout(fake->listener, 10);
    address = g_unix_socket_address_new(fake->path);
    g_assert_true(g_socket_bind(fake->listener, address, FALSE, &error));
    g_assert_true(g_socket_listen(fake->listener, &error));
    return fake;
}

/* The next connection gets @pieces (NULL-terminated) one after the other,
 * then the fake closes it. */
static void
fake_migd_add(FakeMigd *fake, const char *const *pieces)
{
    g_ptr_array_add(fake->answers, g_strdupv((char **)pieces));
}

/* The next connection gets an answer of @status with the JSON @body. */
static void
fake_migd_add_json(FakeMigd *fake, long status, const char *body)
{
    g_autofree char *answer = g_strdup_printf(
        "HTTP/1.1 %ld Whatever\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
        status, strlen(body), body);

    fake_migd_add(fake, (const char *const[]){ answer, NULL });
}

static void
fake_migd_run(FakeMigd *fake)
{
    fake->thread = g_thread_new("fake-migd", fake_migd_serve, fake);
}

static FakeMigd *
fake_migd_start(long status, const char *body)
{
    FakeMigd *fake = fake_migd_new();

    fake_migd_add_json(fake, status, body);
    fake_migd_run(fake);
    return fake;
}

/* Waits until the fake has answered all it will; returns the request
 * @index it got. */
static const char *
fake_migd_request(FakeMigd *fake, guint index)
{
    if (fake->thread)
        g_thread_join(g_steal_pointer(&fake->thread));
    g_assert_cmpuint(index, <, fake->requests->len);
    return g_ptr_array_index(fake->requests, index);
}

static const char *
fake_migd_join(FakeMigd *fake)
{
    return fake_migd_request(fake, 0);
}

static void
fake_migd_free(FakeMigd *fake)
{
    if (fake->thread)
        g_thread_join(g_steal_pointer(&fake->thread));
    g_object_unref(fake->listener);
    g_assert_cmpint(g_unlink(fake->path), ==, 0);
    g_assert_cmpint(g_rmdir(fake->dir), ==, 0);
    g_ptr_array_unref(fake->answers);
    g_ptr_array_unref(fake->requests);
    g_free(fake->path);
    g_free(fake->dir);
    g_free(fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeMigd, fake_migd_free)

/* Runs `migctl --socket FAKE -o text|json ARGS...`, as on a terminal if
 * @tty; returns what it would print on stdout. */
static char *
run_args(FakeMigd *fake, gboolean json, gboolean tty, const char *const *args,
         GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(CtlOptions) options = NULL;
    g_autoptr(CtlContext) ctx = NULL;

    g_ptr_array_add(argv, (char *)"migctl");
    g_ptr_array_add(argv, (char *)"--socket");
    g_ptr_array_add(argv, fake->path);
    g_ptr_array_add(argv, (char *)(json ? "-ojson" : "-otext"));
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);

    options = ctl_options_parse(argv->len - 1, (char **)argv->pdata, error);
    g_assert_nonnull(options);
    ctx = ctl_context_new(options, NULL, NULL);
    ctx->tty = tty;
    if (ctl_commands_run(ctx, options->command_argc, options->command_argv,
                         error))
        g_assert_no_error(*error);
    else
        g_assert_nonnull(*error);
    return g_strdup(ctx->out->str);
}

/* Runs `migctl --socket FAKE [-o json] COMMAND`. */
static char *
run_command(FakeMigd *fake, gboolean json, const char *command,
            GError **error)
{
    return run_args(fake, json, FALSE, (const char *const[]){ command, NULL },
                    error);
}

/* The body of a request the fake got. */
static const char *
request_body(const char *request)
{
    const char *end = strstr(request, "\r\n\r\n");

    g_assert_nonnull(end);
    return end + 4;
}

static void
test_command_version(void)
{
    g_autoptr(FakeMigd) fake = fake_migd_start(200, VERSION_BODY);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = run_command(fake, FALSE, "version", &error);
    const char *request = fake_migd_join(fake);

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, "migd 0.1.0 (API v1), libvirt 9.0.0, hypervisor "
                    "QEMU 7.2.22\nmigctl " PACKAGE_VERSION "\n");
    g_assert_true(g_str_has_prefix(request, "GET /v1/version HTTP/1.1\r\n"));
    g_assert_nonnull(strstr(request, "\r\nAccept: application/json\r\n"));
    g_assert_nonnull(strstr(request, "\r\nUser-Agent: migctl/"));
}

static void
test_command_health(void)
{
    static const struct {
        long status;
        const char *body;
        gboolean json;
        gboolean ok;
        int code;               /* a CtlErrorCode */
        const char *out;        /* NULL: the body, indented */
        const char *message;
    } cases[] = {
        { 200, HEALTH_OK_BODY, FALSE, TRUE, 0,
          "status:      ok\n"
          "libvirt:     connected to qemu:///system since 2026-11-22T02:40:00Z\n"
          "hypervisor:  QEMU 7.2.22\n"
          "uptime:      12s\n", NULL },
        { 200, HEALTH_OK_BODY, TRUE, TRUE, 0, NULL, NULL },
        { 503, HEALTH_DEGRADED_BODY, FALSE, FALSE, CTL_ERROR_DAEMON,
          "status:      degraded\n"
          "libvirt:     disconnected from qemu:///system since "
          "2026-11-22T03:10:00Z, 1 reconnect attempt so far\n"
          "last error:  Cannot recv data\n"
          "uptime:      1h 2m 5s\n",
          "migd is degraded: libvirt is gone. (libvirt_disconnected, "
          "HTTP 503)" },
        { 503, HEALTH_DEGRADED_BODY, TRUE, FALSE, CTL_ERROR_DAEMON, NULL,
          "migd is degraded: libvirt is gone. (libvirt_disconnected, "
          "HTTP 503)" },
        { 200, "{\"status\":\"starting\",\"uptime_seconds\":1,\"libvirt\":"
               "{\"uri\":\"q\",\"connected\":false}}", FALSE, FALSE,
          CTL_ERROR_DAEMON,
          "status:   starting\nlibvirt:  disconnected from q\nuptime:   1s\n",
          "migd reports its status as 'starting' (HTTP 200); see the report "
          "for details." },
        { 503, NOT_FOUND_BODY, FALSE, FALSE, CTL_ERROR_DAEMON, "",
          "No such route. (not_found, HTTP 503)" },
        { 404, NOT_FOUND_BODY, FALSE, FALSE, CTL_ERROR_DAEMON, "",
          "No such route. (not_found, HTTP 404)" },
        { 404, NOT_FOUND_BODY, TRUE, FALSE, CTL_ERROR_DAEMON, NULL,
          "No such route. (not_found, HTTP 404)" },
        { 500, "oops", TRUE, FALSE, CTL_ERROR_DAEMON, "",
          "migd answered HTTP 500 without the usual error description; the "
          "body begins 'oops'. Check that the socket or URL is migd's, and "
          "see 'journalctl -u migd' on its host." },
        { 200, "oops", FALSE, FALSE, CTL_ERROR_BAD_ANSWER, "",
          "migd's answer to GET /v1/health (HTTP 200) is not a JSON object "
          "('[' or '{' expected near 'oops'). Check that the socket or URL "
          "is migd's." },
        { 200, "{\"version\":3}", TRUE, FALSE, CTL_ERROR_BAD_ANSWER, NULL,
          "migd's answer to GET /v1/health (HTTP 200) has no 'status' "
          "string, so migctl cannot tell whether migd is healthy. migd and "
          "migctl may come from different releases: compare 'migctl "
          "--version' with the migd package version." },
        { 200, "[1]", TRUE, FALSE, CTL_ERROR_BAD_ANSWER, "",
          "migd's answer to GET /v1/health (HTTP 200) is not a JSON object "
          "(it is another JSON value). Check that the socket or URL is "
          "migd's." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_start(cases[i].status,
                                                   cases[i].body);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = run_command(fake, cases[i].json, "health",
                                           &error);
        g_autofree char *expected = NULL;

        if (cases[i].out) {
            expected = g_strdup(cases[i].out);
        } else {
            g_autoptr(json_t) body = load(cases[i].body);

            expected = ctl_format_json(body);
        }
        g_test_message("case %zu", i);
        g_assert_cmpstr(out, ==, expected);
        if (cases[i].ok) {
            g_assert_no_error(error);
        } else {
            g_assert_error(error, CTL_ERROR, cases[i].code);
            g_assert_cmpstr(error->message, ==, cases[i].message);
        }
    }
}

static void
test_command_unreachable(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-migctl-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "none.sock", NULL);
    g_autofree char *expected = g_strdup_printf(
        "cannot reach migd at %s (from MIGCTL_SOCKET): No such file or "
        "directory. Is migd running? Check 'systemctl status migd' or pass "
        "--socket/--url.", path);
    char *argv[] = { (char *)"migctl", (char *)"health", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlOptions) options = ctl_options_parse(2, argv, &error);
    g_autoptr(CtlContext) ctx = ctl_context_new(options, "", path);

    g_assert_false(ctl_commands_run(ctx, options->command_argc,
                                    options->command_argv, &error));
    g_assert_error(error, CTL_ERROR, CTL_ERROR_UNREACHABLE);
    g_assert_cmpstr(error->message, ==, expected);
    g_assert_cmpstr(ctx->out->str, ==, "");
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void
test_command_migrate(void)
{
    g_autofree char *pending = record_text_with("{\"state\":\"pending\"}");
    static const struct {
        const char *args[12];
        const char *body;
    } cases[] = {
        { { "migrate", "labvm", "B" },
          "{\"domain\":\"labvm\",\"destination\":\"B\"}" },
        { { "migrate", "--compression", "zstd", "labvm", "--bandwidth", "100",
            "--wait=", "qemu+ssh://b/system", "--compression=zlib",
            "--max-downtime", "250", "--strategy=native" }, NULL },
        { { "migrate", "--compression", "zstd", "labvm", "--bandwidth", "100",
            "qemu+ssh://b/system", "--compression=zlib", "--max-downtime",
            "250", "--strategy=native" },
          "{\"domain\":\"labvm\",\"destination\":\"qemu+ssh://b/system\","
          "\"strategy\":\"native\",\"options\":{\"compression\":[\"zstd\","
          "\"zlib\"],\"bandwidth_mibps\":100},\"policy\":{\"max_downtime_ms\":"
          "250}}" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        const char *request;

        /* A usage error: migd never hears of it. */
        if (cases[i].body)
            fake_migd_add_json(fake, 202, pending);
        fake_migd_run(fake);
        out = run_args(fake, FALSE, FALSE, cases[i].args, &error);
        if (!cases[i].body) {
            g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
            g_assert_cmpstr(out, ==, "");
            continue;
        }
        g_assert_no_error(error);
        g_assert_cmpstr(out, ==, "migration " RECORD_ID " of labvm to B "
                        "accepted (state pending)\nfollow it with: migctl "
                        "watch " RECORD_ID "\n");
        request = fake_migd_join(fake);
        g_assert_true(g_str_has_prefix(request, "POST /v1/migrations "
                                       "HTTP/1.1\r\n"));
        g_assert_nonnull(strstr(request, "\r\nContent-Type: "
                                "application/json\r\n"));
        g_assert_null(strstr(request, "\r\nExpect:"));
        g_assert_cmpstr(request_body(request), ==, cases[i].body);
    }
}

/* migd's answers to a request, as the other commands report them. */
static void
test_command_migrate_refused(void)
{
    static const char body[] = "{\"error\":{\"code\":\"busy\",\"message\":"
        "\"labvm is already migrating.\"}}";
    g_autoptr(json_t) envelope = load(body);
    g_autofree char *expected_json = ctl_format_json(envelope);

    for (int json = 0; json <= 1; json++) {
        g_autoptr(FakeMigd) fake = fake_migd_start(409, body);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = run_args(fake, json, FALSE, ARGS(
            "migrate", "labvm", "B", "--wait"), &error);

        g_assert_error(error, CTL_ERROR, CTL_ERROR_DAEMON);
        g_assert_cmpstr(error->message, ==, "labvm is already migrating. "
                        "(busy, HTTP 409)");
        g_assert_cmpstr(out, ==, json ? expected_json : "");
    }
}

static void
test_command_status(void)
{
    g_autoptr(json_t) record = load(RECORD_BODY);
    g_autofree char *expected = ctl_job_format_status(record, NULL);
    g_autofree char *expected_json = ctl_format_json(record);

    for (int json = 0; json <= 1; json++) {
        g_autoptr(FakeMigd) fake = fake_migd_start(200, RECORD_BODY);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = run_args(fake, json, FALSE, ARGS(
            "status", RECORD_ID), &error);

        g_assert_no_error(error);
        g_assert_cmpstr(out, ==, json ? expected_json : expected);
        g_assert_true(g_str_has_prefix(fake_migd_join(fake),
                                       "GET /v1/migrations/" RECORD_ID
                                       " HTTP/1.1\r\n"));
    }
}

/* IDs as `migctl list` shows them, shortened. */
static void
test_command_short_id(void)
{
    static const char list[] = "{\"migrations\":[{\"id\":\"" RECORD_ID "\"},"
        "{\"id\":\"3f1\"},{\"id\":\"job/1 x\"},{\"id\":\"ab\"},"
        "{\"id\":\"abc\"},{\"id\":7},{}]}";
    static const struct {
        const char *id;
        const char *path;       /* NULL: an error is expected */
        int code;
        const char *message;
    } cases[] = {
        { "3f0c", "/v1/migrations/" RECORD_ID, 0, NULL },
        { "job/", "/v1/migrations/job%2F1%20x", 0, NULL },
        { "ab", "/v1/migrations/ab", 0, NULL },
        { "3f", NULL, CTL_ERROR_USAGE, "'3f' is the beginning of 2 migration "
          "IDs (" RECORD_ID ", 3f1): give more of it." },
        { "ffff", NULL, CTL_ERROR_DAEMON, "migd knows of no migration whose ID "
          "begins with 'ffff'. 'migctl list' shows those it knows of." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        g_autofree char *line = NULL;

        fake_migd_add_json(fake, 200, list);
        if (cases[i].path)
            fake_migd_add_json(fake, 200, RECORD_BODY);
        fake_migd_run(fake);
        out = run_args(fake, FALSE, FALSE, ARGS("status", cases[i].id),
                       &error);
        g_test_message("case %zu", i);
        g_assert_true(g_str_has_prefix(fake_migd_request(fake, 0),
                                       "GET /v1/migrations HTTP/1.1\r\n"));
        if (!cases[i].path) {
            g_assert_error(error, CTL_ERROR, cases[i].code);
            g_assert_cmpstr(error->message, ==, cases[i].message);
            g_assert_cmpuint(fake->requests->len, ==, 1);
            continue;
        }
        g_assert_no_error(error);
        line = g_strdup_printf("GET %s HTTP/1.1\r\n", cases[i].path);
        g_assert_true(g_str_has_prefix(fake_migd_request(fake, 1), line));
    }
}

static void
test_command_not_found(void)
{
    static const char *const commands[] = {
        "status", "cancel", "force-complete", "watch",
    };
    static const char body[] = "{\"error\":{\"code\":\"not_found\",\"message\":"
        "\"There is no migration " RECORD_ID ".\"}}";
    g_autoptr(json_t) envelope = load(body);
    g_autofree char *expected_json = ctl_format_json(envelope);

    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        for (int json = 0; json <= 1; json++) {
            g_autoptr(FakeMigd) fake = fake_migd_start(404, body);
            g_autoptr(GError) error = NULL;
            g_autofree char *out = run_args(fake, json, FALSE, ARGS(
                commands[i], RECORD_ID), &error);

            g_assert_error(error, CTL_ERROR, CTL_ERROR_DAEMON);
            g_assert_cmpstr(error->message, ==, "There is no migration "
                            RECORD_ID ". (not_found, HTTP 404)");
            g_assert_cmpstr(out, ==, json ? expected_json : "");
        }
    }
}

static void
test_command_list(void)
{
    g_autofree char *answer = g_strdup_printf("{\"migrations\":[%s]}",
                                              RECORD_BODY);
    g_autoptr(json_t) answer_json = load(answer);
    g_autofree char *expected = ctl_job_format_list(answer_json, NULL);
    static const struct {
        const char *args[6];
        const char *path;
    } cases[] = {
        { { "list" }, "/v1/migrations" },
        { { "list", "--state", "migrating", "--domain", "lab vm&x=1" },
          "/v1/migrations?state=migrating&domain=lab%20vm%26x%3D1" },
        { { "list", "--domain=caf\xc3\xa9" },
          "/v1/migrations?domain=caf%C3%A9" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_start(200, answer);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = run_args(fake, FALSE, FALSE, cases[i].args,
                                        &error);
        g_autofree char *line = g_strdup_printf("GET %s HTTP/1.1\r\n",
                                                cases[i].path);

        g_assert_no_error(error);
        g_assert_cmpstr(out, ==, expected);
        g_assert_true(g_str_has_prefix(fake_migd_join(fake), line));
    }
}

/* `migctl list` follows each page's next cursor, filters kept, until a
 * page says next null, and shows every record as one list. */
static void
test_command_list_pages(void)
{
    static const char first[] = "{\"migrations\":[" RECORD_BODY "],\"next\":\"c1/x\"}";
    static const char second[] = "{\"migrations\":[{\"id\":\"0a1b2c3d4e5f\","
        "\"domain\":\"other\",\"state\":\"failed\"}],\"next\":null}";
    g_autofree char *both = g_strdup_printf("{\"migrations\":[%s,{\"id\":\"0a1b2c3d4e5f\","
                                            "\"domain\":\"other\",\"state\":\"failed\"}]}",
                                            RECORD_BODY);
    g_autoptr(json_t) both_json = load(both);
    g_autofree char *expected = ctl_job_format_list(both_json, NULL);
    g_autoptr(FakeMigd) fake = fake_migd_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;

    fake_migd_add_json(fake, 200, first);
    fake_migd_add_json(fake, 200, second);
    fake_migd_run(fake);
    out = run_args(fake, FALSE, FALSE, ARGS("list", "--domain", "labvm"), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, expected);
    g_assert_true(g_str_has_prefix(fake_migd_request(fake, 0),
                                   "GET /v1/migrations?domain=labvm HTTP/1.1\r\n"));
    g_assert_true(g_str_has_prefix(fake_migd_request(fake, 1),
                                   "GET /v1/migrations?domain=labvm&cursor=c1%2Fx HTTP/1.1\r\n"));
}

/* A migd that answers the same cursor again would have migctl list
 * forever: it stops and says so. */
static void
test_command_list_stuck(void)
{
    static const char page[] = "{\"migrations\":[" RECORD_BODY "],\"next\":\"c1\"}";
    g_autoptr(FakeMigd) fake = fake_migd_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;

    fake_migd_add_json(fake, 200, page);
    fake_migd_add_json(fake, 200, page);
    fake_migd_run(fake);
    out = run_args(fake, FALSE, FALSE, ARGS("list"), &error);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_DAEMON);
    g_assert_nonnull(strstr(error->message, "the same next cursor"));
    g_assert_true(g_str_has_prefix(fake_migd_request(fake, 1),
                                   "GET /v1/migrations?cursor=c1 HTTP/1.1\r\n"));
}

static void
test_command_actions(void)
{
    static const struct {
        const char *command;
        const char *path;
        const char *out;
    } cases[] = {
        { "cancel", "/v1/migrations/" RECORD_ID "/cancel",
          "cancelling migration " RECORD_ID " (state migrating)\n" },
        { "force-complete", "/v1/migrations/" RECORD_ID "/force-complete",
          "asked migd to force migration " RECORD_ID " (state migrating) to "
          "complete; its timeline will say what migd did: migctl status "
          RECORD_ID "\n" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_start(202, RECORD_BODY);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = run_args(fake, FALSE, FALSE, ARGS(
            cases[i].command, RECORD_ID), &error);
        g_autofree char *line = g_strdup_printf("POST %s HTTP/1.1\r\n",
                                                cases[i].path);
        const char *request = fake_migd_join(fake);

        g_assert_no_error(error);
        g_assert_cmpstr(out, ==, cases[i].out);
        g_assert_true(g_str_has_prefix(request, line));
        /* No body, and none announced but an empty one. */
        g_assert_nonnull(strstr(request, "\r\nContent-Length: 0\r\n"));
        g_assert_null(strstr(request, "\r\nContent-Type:"));
        g_assert_cmpstr(request_body(request), ==, "");
    }
}

/* The pieces of an event stream: a head, then events as migd writes them,
 * split at awkward places, with keepalives. */
static char **
stream_pieces(const char *head, const char *end_changes)
{
    g_autofree char *end = end_changes ?
        record_text_with(end_changes) : NULL;
    g_autoptr(GPtrArray) pieces = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(pieces, g_strdup(head));
    g_ptr_array_add(pieces, g_strdup(": hello\r\n\r\nevent: snapshot\r\n"
                                     "data: " RECORD_BODY "\r\n\r\n"));
    g_ptr_array_add(pieces, g_strdup("event: progress\ndata: {\"state\":"));
    g_ptr_array_add(pieces, g_strdup("\"migrating\",\"progress\":"
                                     "{\"percent\":80}}\n"));
    g_ptr_array_add(pieces, g_strdup("\n:\n\n"));
    if (end)
        g_ptr_array_add(pieces, g_strdup_printf("event: end\ndata: %s\n\n",
                                                end));
    g_ptr_array_add(pieces, NULL);
    return g_strdupv((char **)pieces->pdata);
}

#define PLAIN_UNTIL_END \
    LINE_T0 LINE_T1 LINE_57 "\n" \
    "migrating   80% [################....]  ?/s  ? left  ETA ?\n"

static void
test_command_watch(void)
{
    static const struct {
        const char *end_changes;    /* NULL: the stream ends without "end" */
        int code;                   /* 0: success */
        const char *last_line;
    } cases[] = {
        { COMPLETED_CHANGES, 0, LINE_COMPLETED },
        { FAILED_CHANGES, CTL_ERROR_MIGRATION, "migration " RECORD_ID " of "
          "labvm to B failed: the destination has no free VF for the NIC "
          "'net0'\n" },
        { "{\"state\":\"cancelled\",\"outcome\":{\"result\":\"cancelled\","
          "\"reason\":\"cancelled by migctl\"}}", CTL_ERROR_MIGRATION,
          "migration " RECORD_ID " of labvm to B cancelled: cancelled by "
          "migctl\n" },
        { NULL, CTL_ERROR_UNREACHABLE, "" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_new();
        g_auto(GStrv) pieces = stream_pieces(STREAM_HEAD,
                                             cases[i].end_changes);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        g_autofree char *record = record_text_with(cases[i].end_changes ?
                                                   cases[i].end_changes :
                                                   "{}");
        g_autoptr(json_t) end = load(record);
        g_autofree char *failure = ctl_job_failure_message(end);
        const char *request;

        fake_migd_add(fake, (const char *const *)pieces);
        fake_migd_run(fake);
        out = run_args(fake, FALSE, FALSE, ARGS("watch", RECORD_ID), &error);
        request = fake_migd_join(fake);
        g_test_message("case %zu", i);
        g_assert_true(g_str_has_prefix(request, "GET /v1/migrations/"
                                       RECORD_ID "/events HTTP/1.1\r\n"));
        g_assert_nonnull(strstr(request, "\r\nAccept: text/event-stream\r\n"));
        g_assert_true(g_str_has_prefix(out, PLAIN_UNTIL_END));
        g_assert_cmpstr(out + strlen(PLAIN_UNTIL_END), ==,
                        cases[i].last_line);
        if (cases[i].code == 0) {
            g_assert_no_error(error);
        } else if (cases[i].code == CTL_ERROR_MIGRATION) {
            g_assert_error(error, CTL_ERROR, CTL_ERROR_MIGRATION);
            g_assert_cmpstr(error->message, ==, failure);
        } else {
            g_assert_error(error, CTL_ERROR, cases[i].code);
            g_assert_cmpstr(error->message, ==, "migd's event stream of "
                            "migration " RECORD_ID " ended before the "
                            "migration did. migd may have stopped or "
                            "restarted: check 'systemctl status migd', then "
                            "follow the migration again with 'migctl watch "
                            RECORD_ID "'.");
        }
    }
}

/* The connection breaks in the middle of the stream: exit status 3, and the
 * progress line on a terminal is ended before the message. */
static void
test_command_watch_broken(void)
{
    static const char line_80[] = "migrating   80% [################....]  "
        "?/s  ? left  ETA ?";
    g_autoptr(FakeMigd) fake = fake_migd_new();
    g_auto(GStrv) pieces = stream_pieces(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Content-Length: 100000\r\n\r\n", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *suffix = NULL;

    fake_migd_add(fake, (const char *const *)pieces);
    fake_migd_run(fake);
    out = run_args(fake, FALSE, TRUE, ARGS("watch", RECORD_ID), &error);
    prefix = g_strdup_printf("the connection to migd at %s broke in the "
                             "middle of its answer (", fake->path);
    g_assert_error(error, CTL_ERROR, CTL_ERROR_UNREACHABLE);
    g_assert_true(g_str_has_prefix(error->message, prefix));
    g_assert_true(g_str_has_suffix(error->message, "). migd may have stopped "
                                   "or restarted: check 'systemctl status "
                                   "migd' and 'journalctl -u migd'."));
    suffix = g_strdup_printf("\r%s%*s\n", line_80,
                             (int)(strlen(LINE_57) - strlen(line_80)), "");
    g_assert_true(g_str_has_suffix(out, suffix));
}

/* After "end", migctl is done, whether or not migd closes the stream. */
static void
test_command_watch_end_early(void)
{
    g_autoptr(FakeMigd) fake = fake_migd_new();
    g_autofree char *end = record_text_with(COMPLETED_CHANGES);
    g_autofree char *end_event = g_strdup_printf("event: end\ndata: %s\n\n",
                                                 end);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    gint64 start;

    fake_migd_add(fake, (const char *const[]){
        STREAM_HEAD, end_event, FAKE_MIGD_STALL, "event: end\n", NULL });
    fake_migd_run(fake);
    start = g_get_monotonic_time();
    out = run_args(fake, FALSE, FALSE, ARGS("watch", RECORD_ID), &error);
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, LINE_COMPLETED);
}

static void
test_command_watch_bad_answers(void)
{
    static const struct {
        const char *answer;
        const char *message;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: 2\r\n\r\n{}", "migd's answer to GET "
          "/v1/migrations/" RECORD_ID "/events (HTTP 200) is not an event "
          "stream but 'application/json'. Check that the socket or URL is "
          "migd's." },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "migd's answer to "
          "GET /v1/migrations/" RECORD_ID "/events (HTTP 200) is not an "
          "event stream but untyped. Check that the socket or URL is "
          "migd's." },
        { STREAM_HEAD "event: snapshot\ndata: {\"id\":3}\n\n", "the migration "
          "record migd sent is not in the form migctl expects (Expected "
          "string, got integer). migd and migctl may come from different "
          "releases: compare 'migctl --version' with the migd package "
          "version." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;

        fake_migd_add(fake, (const char *const[]){ cases[i].answer, NULL });
        fake_migd_run(fake);
        out = run_args(fake, FALSE, FALSE, ARGS("watch", RECORD_ID), &error);
        g_assert_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER);
        g_assert_cmpstr(error->message, ==, cases[i].message);
        g_assert_cmpstr(out, ==, "");
    }
}

static void
test_command_watch_tty(void)
{
    static const char line_80[] = "migrating   80% [################....]  "
        "?/s  ? left  ETA ?";
    g_autoptr(FakeMigd) fake = fake_migd_new();
    g_auto(GStrv) pieces = stream_pieces(STREAM_HEAD, COMPLETED_CHANGES);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *expected = g_strdup_printf(
        "%s\r%s%*s\r%*s\r%s", LINE_T0 LINE_T1 "\r" LINE_57,
        line_80, (int)(strlen(LINE_57) - strlen(line_80)), "",
        (int)strlen(LINE_57), "", LINE_COMPLETED);

    fake_migd_add(fake, (const char *const *)pieces);
    fake_migd_run(fake);
    out = run_args(fake, FALSE, TRUE, ARGS("watch", RECORD_ID), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, expected);
}

static void
test_command_migrate_wait(void)
{
    g_autofree char *pending = record_text_with("{\"state\":\"pending\"}");
    g_autofree char *completed = record_text_with(COMPLETED_CHANGES);
    g_autofree char *json_lines = g_strdup_printf(
        "%s\n{\"state\":\"migrating\",\"progress\":{\"percent\":80}}\n%s\n",
        RECORD_BODY, completed);
    static const struct {
        gboolean json;
        const char *end_changes;
        int code;
    } cases[] = {
        { FALSE, COMPLETED_CHANGES, 0 },
        { TRUE, COMPLETED_CHANGES, 0 },
        { FALSE, FAILED_CHANGES, CTL_ERROR_MIGRATION },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FakeMigd) fake = fake_migd_new();
        g_auto(GStrv) pieces = stream_pieces(STREAM_HEAD,
                                             cases[i].end_changes);
        g_autoptr(json_t) end = record_with(cases[i].end_changes);
        g_autofree char *end_line = ctl_job_outcome_line(end);
        g_autofree char *expected = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;

        fake_migd_add_json(fake, 202, pending);
        fake_migd_add(fake, (const char *const *)pieces);
        fake_migd_run(fake);
        out = run_args(fake, cases[i].json, FALSE, ARGS(
            "migrate", "labvm", "--wait", "B"), &error);
        if (cases[i].json)
            expected = g_strdup(json_lines);
        else
            expected = g_strconcat("migration " RECORD_ID " of labvm to B "
                                   "accepted (state pending)\n",
                                   PLAIN_UNTIL_END, end_line, "\n", NULL);
        g_test_message("case %zu", i);
        g_assert_cmpstr(out, ==, expected);
        if (cases[i].code)
            g_assert_error(error, CTL_ERROR, cases[i].code);
        else
            g_assert_no_error(error);
        g_assert_cmpstr(request_body(fake_migd_request(fake, 0)), ==,
                        "{\"domain\":\"labvm\",\"destination\":\"B\"}");
        g_assert_true(g_str_has_prefix(fake_migd_request(fake, 1),
                                       "GET /v1/migrations/" RECORD_ID
                                       "/events HTTP/1.1\r\n"));
    }
}

/* Commands that never reach migd: help, and every usage error. */
static void
test_command_usage(void)
{
    static const struct {
        const char *args[3];
        const char *out_prefix;     /* NULL: a usage error is expected */
        const char *message;
    } cases[] = {
        { { "help" }, "Usage: migctl [OPTION...] COMMAND [ARGUMENT...]\n",
          NULL },
        { { "help", "health" }, "Usage: migctl [OPTION...] health\n", NULL },
        { { "version", "--help" }, "Usage: migctl [OPTION...] version\n",
          NULL },
        { { "health", "-h" }, "Usage: migctl [OPTION...] health\n", NULL },
        { { "help", "nope" }, NULL,
          "there is no command 'nope' to show help for." },
        { { "help", "health", "more" }, NULL,
          "'migctl help' takes at most 1 argument ([COMMAND]), but was also "
          "given 'more'." },
        { { "frobnicate" }, NULL, "unknown command 'frobnicate'." },
        { { "version", "now" }, NULL,
          "'migctl version' takes no arguments, but was given 'now'." },
        { { "health", "--url", "http://h" }, NULL,
          "'migctl health' has no option '--url'; 'migctl --help' lists the "
          "global options." },
        { { "help", "migrate" }, "Usage: migctl [OPTION...] migrate DOMAIN "
          "DEST [COMMAND OPTION...]\n", NULL },
        { { "watch", "--help" }, "Usage: migctl [OPTION...] watch ID\n",
          NULL },
        { { "migrate", "labvm" }, NULL, "'migctl migrate' needs 2 arguments "
          "(DOMAIN DEST), but was given 1." },
        { { "migrate", "", "B" }, NULL,
          "'migctl migrate' was given an empty DOMAIN." },
        { { "migrate", "labvm", "\xff" }, NULL,
          "the DEST given to 'migctl migrate' is not valid UTF-8." },
        { { "status", "" }, NULL, "the migration ID is empty: give the ID "
          "that 'migctl migrate' or 'migctl list' showed." },
        { { "cancel" }, NULL,
          "'migctl cancel' needs 1 argument (ID), but was given none." },
        { { "list", "--state" }, NULL,
          "option --state needs a value (STATE)." },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        CtlOptions options = { .timeout_seconds = 1 };
        char *argv[4] = { (char *)cases[i].args[0], (char *)cases[i].args[1],
                          (char *)cases[i].args[2], NULL };
        g_autoptr(CtlContext) ctx = ctl_context_new(&options, NULL, NULL);
        g_autoptr(GError) error = NULL;
        gboolean ok = ctl_commands_run(ctx, g_strv_length(argv), argv, &error);

        if (cases[i].out_prefix) {
            g_assert_true(ok);
            g_assert_no_error(error);
            g_assert_true(g_str_has_prefix(ctx->out->str, cases[i].out_prefix));
        } else {
            g_assert_false(ok);
            g_assert_error(error, CTL_ERROR, CTL_ERROR_USAGE);
            g_assert_cmpstr(error->message, ==, cases[i].message);
            g_assert_cmpstr(ctx->out->str, ==, "");
        }
    }
}

/* --help is the documentation of the exit statuses and of every option. */
static void
test_usage_text(void)
{
    g_autoptr(GString) usage = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;

    ctl_commands_append_usage(usage);
    for (CtlExit status = 0; status < CTL_EXIT_LAST; status++) {
        g_autofree char *line = g_strdup_printf("\n  %d ", status);

        g_assert_nonnull(strstr(usage->str, line));
    }
    for (const char *const *word = (const char *const[]){
             "--socket PATH", "--url URL", "--timeout SECONDS",
             "-o, --output FORMAT", "-h, --help", "-V, --version",
             "MIGCTL_URL", "MIGCTL_SOCKET", "\n  version ", "\n  health ",
             "\n  help ", "\n  migrate ", "\n  status ", "\n  list ",
             "\n  watch ", "\n  cancel ", "\n  force-complete ", NULL };
         *word; word++)
        g_assert_nonnull(strstr(usage->str, *word));

    /* The help of each command too fits in 80 columns. */
    for (const char *const *name = (const char *const[]){
             "migrate", "status", "list", "watch", "cancel", "force-complete",
             "version", "health", "help", NULL };
         *name; name++) {
        CtlOptions options = { .timeout_seconds = 1 };
        char *argv[] = { (char *)"help", (char *)*name, NULL };
        g_autoptr(CtlContext) ctx = ctl_context_new(&options, NULL, NULL);

        g_assert_true(ctl_commands_run(ctx, 2, argv, NULL));
        g_string_append(usage, ctx->out->str);
    }
    lines = g_strsplit(usage->str, "\n", -1);
    for (size_t i = 0; lines[i]; i++)
        g_assert_cmpuint(strlen(lines[i]), <=, 79);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(curl_global_init(CURL_GLOBAL_DEFAULT), ==, CURLE_OK);

    g_test_add_func("/migctl/options/defaults", test_options_defaults);
    g_test_add_func("/migctl/options/spellings", test_options_spellings);
    g_test_add_func("/migctl/options/errors", test_options_errors);
    g_test_add_func("/migctl/options/output-names", test_output_names);
    for (size_t i = 0; i < G_N_ELEMENTS(target_cases); i++) {
        g_autofree char *name = g_strdup_printf("/migctl/target/%zu", i);

        g_test_add_data_func(name, &target_cases[i], test_target_resolve);
    }
    g_test_add_func("/migctl/target/socket-too-long",
                    test_target_socket_too_long);
    g_test_add_func("/migctl/exit-statuses", test_exit_statuses);
    g_test_add_func("/migctl/format/duration", test_format_duration);
    g_test_add_func("/migctl/format/sanitize", test_format_sanitize);
    g_test_add_func("/migctl/format/rows", test_format_rows);
    g_test_add_func("/migctl/format/entry", test_format_entry);
    g_test_add_func("/migctl/format/error-answer", test_format_error_answer);
    g_test_add_func("/migctl/format/version", test_format_version);
    g_test_add_func("/migctl/format/health", test_format_health);
    g_test_add_func("/migctl/format/json", test_format_json);
    g_test_add_func("/migctl/format/sizes", test_format_sizes);
    g_test_add_func("/migctl/format/span", test_format_span);
    g_test_add_func("/migctl/format/percent-bar", test_format_percent_bar);
    g_test_add_func("/migctl/format/table", test_format_table);
    for (size_t i = 0; i < G_N_ELEMENTS(sse_cases); i++) {
        g_autofree char *name = g_strdup_printf("/migctl/sse/%s",
                                                sse_cases[i].name);

        g_test_add_data_func(name, &sse_cases[i], test_sse_case);
    }
    g_test_add_func("/migctl/sse/queue", test_sse_events_queue);
    g_test_add_func("/migctl/sse/too-large", test_sse_too_large);
    g_test_add_func("/migctl/args/migrate", test_args_migrate);
    g_test_add_func("/migctl/args/order", test_args_order);
    g_test_add_func("/migctl/args/errors", test_args_errors);
    g_test_add_func("/migctl/args/help", test_args_help);
    g_test_add_func("/migctl/job/status", test_job_status);
    g_test_add_func("/migctl/job/minimal", test_job_minimal);
    g_test_add_func("/migctl/job/bad-record", test_job_bad_record);
    g_test_add_func("/migctl/job/list", test_job_list);
    g_test_add_func("/migctl/job/timeline-line", test_job_timeline_line);
    g_test_add_func("/migctl/job/progress-line", test_job_progress_line);
    g_test_add_func("/migctl/job/outcome", test_job_outcome);
    g_test_add_func("/migctl/watch/plain", test_watch_plain);
    g_test_add_func("/migctl/watch/tty", test_watch_tty);
    g_test_add_func("/migctl/watch/tty-lines", test_watch_tty_lines);
    g_test_add_func("/migctl/watch/json", test_watch_json);
    g_test_add_func("/migctl/watch/errors", test_watch_errors);
    g_test_add_func("/migctl/http/describe-failure", test_describe_failure);
    g_test_add_func("/migctl/command/version", test_command_version);
    g_test_add_func("/migctl/command/health", test_command_health);
    g_test_add_func("/migctl/command/unreachable", test_command_unreachable);
    g_test_add_func("/migctl/command/migrate", test_command_migrate);
    g_test_add_func("/migctl/command/migrate-refused",
                    test_command_migrate_refused);
    g_test_add_func("/migctl/command/migrate-wait", test_command_migrate_wait);
    g_test_add_func("/migctl/command/status", test_command_status);
    g_test_add_func("/migctl/command/short-id", test_command_short_id);
    g_test_add_func("/migctl/command/not-found", test_command_not_found);
    g_test_add_func("/migctl/command/list", test_command_list);
    g_test_add_func("/migctl/command/list-pages", test_command_list_pages);
    g_test_add_func("/migctl/command/list-stuck", test_command_list_stuck);
    g_test_add_func("/migctl/command/actions", test_command_actions);
    g_test_add_func("/migctl/command/watch", test_command_watch);
    g_test_add_func("/migctl/command/watch-tty", test_command_watch_tty);
    g_test_add_func("/migctl/command/watch-broken", test_command_watch_broken);
    g_test_add_func("/migctl/command/watch-end-early",
                    test_command_watch_end_early);
    g_test_add_func("/migctl/command/watch-bad-answers",
                    test_command_watch_bad_answers);
    g_test_add_func("/migctl/command/usage", test_command_usage);
    g_test_add_func("/migctl/usage-text", test_usage_text);

    ret = g_test_run();
    curl_global_cleanup();
    return ret;
}
