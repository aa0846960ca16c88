/* Guest-side verification of a replugged NIC. The lab's agent answers
 * "state" with one JSON line that describes the guest's net_failover pair;
 * it is asked from a worker, since it may take a while to answer. */
#include <config.h>

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "jsonutil.h"
#include "verify.h"

/* How often the agent is asked while the guest has not switched yet. */
#define VERIFY_RETRY_MS 25

typedef struct {
    char *method;
    char *path;
    char *driver;
    guint timeout_ms;
    gint64 start_us;
    VerifyDone done;
    VerifyProbeDone probe_done;
    gboolean reset;
    gint64 max_gap_ms;
    gpointer data;
    gboolean ok;
    char *detail;
} Verify;

static Verify *verify_new(const char *method, const char *socket_dir, const char *domain,
                          gpointer data);

static void
verify_free(gpointer data)
{
    Verify *v = data;

    g_free(v->method);
    g_free(v->path);
    g_free(v->driver);
    g_free(v->detail);
    g_free(v);
}

/* One request (@request ends with a newline): the answer line, or NULL
 * with @ret_error set. */
static char *
verify_ask(const char *path, const char *request, int timeout_ms, char **ret_error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    GString *line = g_string_new(NULL);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    (void)g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        *ret_error = g_strdup_printf("cannot talk to the guest agent at %s: %s", path,
                                     g_strerror(errno));
        goto fail;
    }
    while (!strchr(line->str, '\n')) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        char buf[4096];
        ssize_t n;

        if (left <= 0 || poll(&p, 1, left) <= 0 || (n = read(fd, buf, sizeof(buf))) <= 0) {
            *ret_error = g_strdup_printf("the guest agent at %s did not answer", path);
            goto fail;
        }
        g_string_append_len(line, buf, n);
    }
    close(fd);
    return g_string_free(line, FALSE);

fail:
    if (fd >= 0)
        close(fd);
    g_string_free(line, TRUE);
    return NULL;
}

/* Whether the agent's answer shows a @driver primary that carries the
 * traffic; @ret_detail describes what it shows. */
static gboolean
verify_answer(const char *answer, const char *driver, char **ret_detail)
{
    g_autoptr(json_t) state = json_loads(answer, 0, NULL);
    json_t *failover = json_object_get(state, "failover");
    const char *primary = json_string_value(json_object_get(failover, "primary"));
    const char *pdriver = json_string_value(json_object_get(failover, "primary_driver"));
    const char *active = json_string_value(json_object_get(failover, "active"));

    if (!json_is_object(failover)) {
        *ret_detail = g_strdup("the guest reports no net_failover device");
        return FALSE;
    }
    *ret_detail = g_strdup_printf("the guest's failover primary is %s (%s), active path: %s",
                                  primary ? primary : "absent", pdriver ? pdriver : "no driver",
                                  active ? active : "none");
    return primary && (!driver || g_strcmp0(pdriver, driver) == 0) &&
           g_strcmp0(active, "primary") == 0;
}

static void
verify_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Verify *v = data;
    gint64 deadline = v->start_us + v->timeout_ms * 1000LL;

    while (!g_cancellable_is_cancelled(cancellable)) {
        g_autofree char *error = NULL;
        g_autofree char *answer = verify_ask(v->path, "state\n", 1000, &error);

        g_free(v->detail);
        v->detail = NULL;
        v->ok = answer ? verify_answer(answer, v->driver, &v->detail) : FALSE;
        if (!answer)
            v->detail = g_steal_pointer(&error);
        if (v->ok || g_get_monotonic_time() + VERIFY_RETRY_MS * 1000 > deadline)
            return;
        /* The guest switches on its own time; nothing to wait on but it. */
        g_usleep(VERIFY_RETRY_MS * 1000);
    }
}

static void
verify_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Verify *v = g_task_get_task_data(G_TASK(result));
    GCancellable *cancellable = g_task_get_cancellable(G_TASK(result));

    if (cancellable && g_cancellable_is_cancelled(cancellable))
        return;
    v->done(v->ok, (g_get_monotonic_time() - v->start_us) / 1000, v->detail, v->data);
}

static void
verify_trust_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Verify *v = data;

    v->ok = TRUE;
    v->detail = g_strdup("not asked in the guest (verify = none): libvirt's DEVICE_ADDED is "
                         "taken as the proof");
}

void
verify_primary(const char *method, const char *socket_dir, const char *domain, const char *driver,
               guint timeout_ms, GCancellable *cancellable, VerifyDone done, gpointer data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, verify_done, NULL);
    Verify *v = verify_new(method, socket_dir, domain, data);

    v->driver = g_strdup(driver);
    v->timeout_ms = timeout_ms;
    v->done = done;
    g_task_set_task_data(task, v, verify_free);
    g_task_run_in_thread(task, g_strcmp0(method, "lab-agent") == 0 ? verify_thread
                                                                   : verify_trust_thread);
}

static Verify *
verify_new(const char *method, const char *socket_dir, const char *domain, gpointer data)
{
    Verify *v = g_new0(Verify, 1);
    g_autofree char *name = g_strdup_printf("%s.agent", domain);

    v->method = g_strdup(method);
    v->path = g_build_filename(socket_dir, name, NULL);
    v->start_us = g_get_monotonic_time();
    v->data = data;
    return v;
}

static void
verify_probe_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Verify *v = data;
    g_autofree char *error = NULL;
    g_autofree char *answer = NULL;
    g_autoptr(json_t) probe = NULL;

    v->max_gap_ms = -1;
    if (g_strcmp0(v->method, "lab-agent") != 0) {
        v->detail = g_strdup("the guest has no probe (verify = none)");
        return;
    }
    answer = verify_ask(v->path, v->reset ? "probe reset\n" : "probe\n", 1000, &error);
    probe = answer ? json_loads(answer, 0, NULL) : NULL;
    if (json_is_integer(json_object_get(probe, "max_gap_ms")))
        v->max_gap_ms = json_integer_value(json_object_get(probe, "max_gap_ms"));
    else
        v->detail = error ? g_steal_pointer(&error)
                          : g_strdup_printf("the guest agent at %s has no probe", v->path);
}

static void
verify_probe_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Verify *v = g_task_get_task_data(G_TASK(result));
    GCancellable *cancellable = g_task_get_cancellable(G_TASK(result));

    if (cancellable && g_cancellable_is_cancelled(cancellable))
        return;
    v->probe_done(v->max_gap_ms, v->detail, v->data);
}

void
verify_probe(const char *method, const char *socket_dir, const char *domain, gboolean reset,
             GCancellable *cancellable, VerifyProbeDone done, gpointer data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, verify_probe_done, NULL);
    Verify *v = verify_new(method, socket_dir, domain, data);

    v->reset = reset;
    v->probe_done = done;
    g_task_set_task_data(task, v, verify_free);
    g_task_run_in_thread(task, verify_probe_thread);
}
