/* migd-hook: libvirt's qemu hook, installed as /etc/libvirt/hooks/qemu.d/migd.
 * It hands an incoming migration's domain XML to the local migd and prints
 * the XML migd rewrote, and tells migd when a domain stopped or was
 * released. It never calls libvirt: libvirt is waiting on it. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-http.h"
#include "ctl-options.h"

#define HOOK_PATH "/v1/hooks/qemu"
/* libvirt holds the incoming migration (or the domain's shutdown) until the
 * hook returns; migd answers this endpoint without waiting on anything. */
#define HOOK_TIMEOUT_SECONDS 30
/* libvirt runs "stopped" and "release" with the domain locked, so a migd
 * that is itself waiting on that domain in libvirt cannot answer until the
 * hook returns: the hook waits this long, then leaves the answer to a child.
 * Why this stays now that migd calls libvirt only in workers: README.md,
 * "The libvirt hook". */
#define HOOK_END_WAIT_MS 1000
/* migd takes no body over 1 MiB (daemon/http.h, HTTP_MAX_BODY): XML past
 * that is refused here, before anything is sent. */
#define HOOK_MAX_XML (1024 * 1024)

enum {
    HOOK_EXIT_OK = 0,
    HOOK_EXIT_FAILURE = 1,      /* libvirt refuses what it asked about */
    HOOK_EXIT_USAGE = 2,        /* not called the way libvirt calls hooks */
};

/* libvirt drops a hook's stderr when it exits 0 and only quotes it in its
 * error otherwise, so every message also goes to the system log. */
static void G_GNUC_PRINTF(2, 3)
hook_report(int priority, const char *format, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "migd-hook: %s\n", message);
    syslog(priority, "%s", message);
}

/* migd's socket: $MIGD_HOOK_SOCKET (for tests; libvirt passes the hook only
 * PATH and HOME), else the one migctl uses by default. */
static CtlTarget *
hook_target_new(void)
{
    const char *env = g_getenv("MIGD_HOOK_SOCKET");
    CtlTarget *target = g_new0(CtlTarget, 1);

    target->kind = CTL_TARGET_SOCKET;
    if (env && env[0] != '\0') {
        target->address = g_strdup(env);
        target->origin = "MIGD_HOOK_SOCKET";
    } else {
        target->address = g_strdup(CTL_DEFAULT_SOCKET);
        target->origin = "default";
    }
    return target;
}

/* The domain XML libvirt writes on stdin, as a NUL-terminated string. */
static char *
hook_read_stdin(GError **error)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    guint8 buf[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_LOCAL,
                        "cannot read the domain XML from stdin: %s.",
                        g_strerror(errno));
            return NULL;
        }
        if (data->len + (size_t)n > HOOK_MAX_XML) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_LOCAL,
                        "the domain XML on stdin is larger than %d MiB, "
                        "more than any domain needs.",
                        HOOK_MAX_XML / (1024 * 1024));
            return NULL;
        }
        g_byte_array_append(data, buf, (guint)n);
    }
    if (data->len == 0) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_LOCAL,
                            "libvirt gave no domain XML on stdin.");
        return NULL;
    }
    g_byte_array_append(data, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&data), FALSE);
}

/* The request body; @xml NULL leaves "xml" out. */
static char *
hook_request_body(const char *domain, const char *operation,
                  const char *sub_operation, const char *xml, GError **error)
{
    g_autoptr(json_t) body = json_pack("{s:s, s:s, s:s}", "domain", domain,
                                       "operation", operation,
                                       "sub_operation", sub_operation);

    if (body && xml &&
        json_object_set_new(body, "xml", json_string(xml)) < 0)
        g_clear_pointer(&body, json_decref);
    if (!body) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_LOCAL,
                            "the domain name or its XML is not valid UTF-8, "
                            "so it cannot be sent to migd.");
        return NULL;
    }
    return json_dumps(body, JSON_COMPACT);
}

/* POSTs @body to the hook endpoint; fails unless migd answered 200. */
static CtlResponse *
hook_post(const char *body, GError **error)
{
    g_autoptr(CtlHttp) http = NULL;
    g_autoptr(CtlResponse) response = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_LOCAL,
                            "libcurl failed to initialise, which usually "
                            "means memory is exhausted.");
        return NULL;
    }
    http = ctl_http_new(hook_target_new(), HOOK_TIMEOUT_SECONDS);
    response = ctl_http_request(http, "POST", HOOK_PATH, body, error);
    if (response && response->status != 200) {
        g_autofree char *why = ctl_format_error_answer(response->status,
                                                       response->body,
                                                       response->len);

        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_DAEMON, why);
        g_clear_pointer(&response, ctl_response_free);
    }
    g_clear_pointer(&http, ctl_http_free);
    curl_global_cleanup();
    return g_steal_pointer(&response);
}

/* The rewritten XML in a 200 answer, which must be {"xml": "<domain...>"}. */
static char *
hook_answer_xml(const CtlResponse *response, GError **error)
{
    g_autoptr(json_t) answer = NULL;
    json_error_t json_error;
    const char *xml = NULL;

    answer = json_loadb(response->body, response->len, 0, &json_error);
    if (answer && json_unpack_ex(answer, &json_error, 0, "{s:s}",
                                 "xml", &xml) == 0 && xml[0] == '\0')
        g_strlcpy(json_error.text, "its 'xml' is empty",
                  sizeof(json_error.text));
    if (!xml || xml[0] == '\0') {
        g_autofree char *why = ctl_format_sanitize(json_error.text, -1);

        g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                    "migd's answer to POST %s is not the {\"xml\": ...} the "
                    "hook expects (%s). migd and migd-hook may come from "
                    "different releases.", HOOK_PATH, why);
        return NULL;
    }
    return g_strdup(xml);
}

static gboolean
hook_write_stdout(const char *xml, GError **error)
{
    if (fputs(xml, stdout) != EOF && fflush(stdout) == 0)
        return TRUE;
    g_set_error(error, CTL_ERROR, CTL_ERROR_LOCAL,
                "cannot write the rewritten XML to stdout: %s.",
                g_strerror(errno));
    return FALSE;
}

/* "migrate begin" on the destination: libvirt starts the incoming domain
 * with the XML printed here, or refuses the migration if this fails. */
static gboolean
hook_migrate_begin(const char *domain, GError **error)
{
    g_autofree char *xml = NULL;
    g_autofree char *body = NULL;
    g_autofree char *rewritten = NULL;
    g_autoptr(CtlResponse) response = NULL;

    if (!(xml = hook_read_stdin(error)) ||
        !(body = hook_request_body(domain, "migrate", "begin", xml, error)) ||
        !(response = hook_post(body, error)) ||
        !(rewritten = hook_answer_xml(response, error)))
        return FALSE;
    return hook_write_stdout(rewritten, error);
}

/* Tells migd that @domain stopped or was released; returns why that
 * failed, or NULL. */
static char *
hook_tell_ended(const char *domain, const char *operation)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *body = NULL;
    g_autoptr(CtlResponse) response = NULL;

    if ((body = hook_request_body(domain, operation, "end", NULL, &error)) &&
        (response = hook_post(body, &error)))
        return NULL;
    return g_strdup_printf("warning: could not tell migd that domain '%s' "
                           "%s: %s migd may hold its VF leases for it until "
                           "they expire.", domain,
                           strcmp(operation, "stopped") == 0 ? "stopped" :
                               "was released", error->message);
}

/* The child that tells migd: it lets go of libvirt's pipes, so libvirt
 * goes on once the hook itself exits, logs a failure and hands it to the
 * hook on @report_fd. */
static void G_GNUC_NORETURN
hook_ended_child(const char *domain, const char *operation, int report_fd)
{
    g_autofree char *why = NULL;
    int null_fd = open("/dev/null", O_RDWR);

    (void)setsid();
    if (null_fd >= 0) {
        (void)dup2(null_fd, STDIN_FILENO);
        (void)dup2(null_fd, STDOUT_FILENO);
        (void)dup2(null_fd, STDERR_FILENO);
    }
    why = hook_tell_ended(domain, operation);
    if (why) {
        syslog(LOG_WARNING, "%s", why);
        /* One write under PIPE_BUF arrives whole or not at all. It fails
         * when the parent stopped waiting; syslog has the message then. */
        if (write(report_fd, why, MIN(strlen(why), (size_t)PIPE_BUF - 1)) < 0)
            syslog(LOG_DEBUG, "The hook's parent stopped waiting for the report: %m");
    }
    _exit(HOOK_EXIT_OK);
}

/* What the child reported within HOOK_END_WAIT_MS ("" for success), or NULL
 * when it had not finished by then. */
static char *
hook_await_child(int fd)
{
    gint64 deadline = g_get_monotonic_time() + HOOK_END_WAIT_MS * 1000;
    g_autoptr(GString) report = g_string_new(NULL);
    char buf[PIPE_BUF];
    ssize_t n;

    for (;;) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) == 0)
            return NULL;
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return g_string_free(g_steal_pointer(&report), FALSE);
        g_string_append_len(report, buf, n);
    }
}

/* "stopped end" and "release end": migd lets go of what it held for the
 * domain. libvirt cannot undo either, so a failure is only reported: on
 * stderr when it comes within HOOK_END_WAIT_MS, and in the system log. */
static void
hook_domain_ended(const char *domain, const char *operation)
{
    g_autofree char *why = NULL;
    int fds[2];
    pid_t pid;

    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        /* No child to wait for in the background: tell migd from here. */
        why = hook_tell_ended(domain, operation);
        if (why)
            hook_report(LOG_WARNING, "%s", why);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        hook_ended_child(domain, operation, fds[1]);
    }
    close(fds[1]);
    why = hook_await_child(fds[0]);
    close(fds[0]);
    if (why) {
        (void)waitpid(pid, NULL, 0);
        if (why[0] != '\0')
            fprintf(stderr, "migd-hook: %s\n", why);
    }
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    const char *domain, *operation, *sub_operation;

    if (argc != 5) {
        fprintf(stderr, "migd-hook: libvirt runs this as its qemu hook, "
                "with DOMAIN OPERATION SUB-OPERATION EXTRA and the domain "
                "XML on stdin; it is not meant to be run by hand.\n");
        return HOOK_EXIT_USAGE;
    }
    domain = argv[1];
    operation = argv[2];
    sub_operation = argv[3];
    openlog("migd-hook", LOG_PID, LOG_DAEMON);

    if (strcmp(operation, "migrate") == 0 &&
        strcmp(sub_operation, "begin") == 0) {
        if (hook_migrate_begin(domain, &error))
            return HOOK_EXIT_OK;
        hook_report(LOG_ERR, "refusing the incoming migration of domain "
                    "'%s': %s", domain, error->message);
        return HOOK_EXIT_FAILURE;
    }
    if ((strcmp(operation, "stopped") == 0 ||
         strcmp(operation, "release") == 0) &&
        strcmp(sub_operation, "end") == 0)
        hook_domain_ended(domain, operation);
    return HOOK_EXIT_OK;
}
