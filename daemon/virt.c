/* The libvirt connection lifecycle. virConnectOpen may block (a remote URI,
 * a libvirtd that is starting), so it runs in a worker thread; everything
 * else runs on the main loop. libvirt's close callback is the exception: it
 * comes from whichever thread notices the close (a worker in the middle of
 * a call as well as the event loop), so it only hands the news over. */
#include <config.h>

#include <gio/gio.h>
#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "virt.h"

/* How often an open connection is checked for a socket that closed. */
#define VIRT_ALIVE_CHECK_S 1

struct _Virt {
    char *uri;
    VirtOptions options;
    VirtStateFunc state_cb;
    gpointer user_data;

    virConnectPtr conn;
    virConnectPtr dead_conn;    /* lost, waiting to be released off its callback */
    guint release_source;
    GMutex close_lock;          /* guards the three below, set by virt_on_close */
    virConnectPtr closed;       /* the connection libvirt said closed, or NULL */
    int close_reason;
    guint close_source;         /* virt_closed on the main loop */
    guint alive_source;         /* checks that the connection is still open */
    GCancellable *connecting;   /* non-NULL while a worker is opening */
    guint retry_source;
    guint attempts;
    guint backoff;              /* seconds until the next attempt */
    GDateTime *since;
    char *last_error;
    char *hypervisor;
    const VirtOps *ops;
};

typedef struct {
    char *uri;
    virConnectPtr conn;
    char *error;
    char *hypervisor;
} VirtOpen;

static void virt_schedule_retry(Virt *virt);
static void virt_begin_connect(Virt *virt);
static void virt_on_close(virConnectPtr conn, int reason, void *opaque);

/* libvirt prints every error to stderr by default; migd reports them itself. */
static void
virt_silence_errors(void *user_data, virErrorPtr error)
{
}

void
virt_global_init(void)
{
    gvir_event_register();
    virSetErrorFunc(NULL, virt_silence_errors);
}

static void
virt_open_free(gpointer data)
{
    VirtOpen *op = data;

    if (op->conn)
        (void)virConnectClose(op->conn);
    g_free(op->uri);
    g_free(op->error);
    g_free(op->hypervisor);
    g_free(op);
}

static char *
virt_describe_hypervisor(virConnectPtr conn)
{
    const char *type = virConnectGetType(conn);
    unsigned long version = 0;

    if (!type || virConnectGetVersion(conn, &version) < 0)
        return NULL;
    return g_strdup_printf("%s %lu.%lu.%lu", type, version / 1000000, version / 1000 % 1000,
                           version % 1000);
}

static void
virt_open_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    VirtOpen *op = data;

    op->conn = virConnectOpen(op->uri);
    if (!op->conn) {
        op->error = g_strdup(virGetLastErrorMessage());
        return;
    }
    op->hypervisor = virt_describe_hypervisor(op->conn);
}

static void
virt_set_state(Virt *virt, gboolean connected)
{
    g_clear_pointer(&virt->since, g_date_time_unref);
    virt->since = g_date_time_new_now_utc();
    if (virt->state_cb)
        virt->state_cb(virt, connected, virt->user_data);
}

static void
virt_release(virConnectPtr conn)
{
    (void)virConnectUnregisterCloseCallback(conn, virt_on_close);
    (void)virConnectClose(conn);
}

static gboolean
virt_release_dead(gpointer data)
{
    Virt *virt = data;

    virt->release_source = 0;
    virt_release(g_steal_pointer(&virt->dead_conn));
    return G_SOURCE_REMOVE;
}

/* The connection is gone: released from the main loop later (see
 * virt_on_close), and a new one is opened with backoff. */
static void
virt_lost(Virt *virt, const char *why)
{
    g_free(virt->last_error);
    virt->last_error = g_strdup_printf("the connection to %s was lost: %s", virt->uri, why);
    log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_LIBVIRT_URI", virt->uri),
                   "%s; reconnecting", virt->last_error);
    g_clear_handle_id(&virt->alive_source, g_source_remove);
    if (virt->dead_conn)
        virt_release(virt->dead_conn);
    virt->dead_conn = g_steal_pointer(&virt->conn);
    if (!virt->release_source)
        virt->release_source = g_idle_add(virt_release_dead, virt);
    g_clear_pointer(&virt->hypervisor, g_free);
    virt->backoff = 1;
    virt_set_state(virt, FALSE);
    virt_schedule_retry(virt);
}

/* On the main loop: the connection libvirt said closed, if it is still
 * the current one (the alive check may have found it first). */
static gboolean
virt_closed(gpointer data)
{
    static const char *const reasons[] = {
        [VIR_CONNECT_CLOSE_REASON_ERROR] = "a socket error",
        [VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd closed the connection",
        [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "libvirtd stopped answering keepalives",
        [VIR_CONNECT_CLOSE_REASON_CLIENT] = "migd closed it",
    };
    Virt *virt = data;
    virConnectPtr conn;
    int reason;

    g_mutex_lock(&virt->close_lock);
    conn = g_steal_pointer(&virt->closed);
    reason = virt->close_reason;
    virt->close_source = 0;
    g_mutex_unlock(&virt->close_lock);
    if (conn && conn == virt->conn)
        virt_lost(virt, reason >= 0 && reason < (int)G_N_ELEMENTS(reasons) ? reasons[reason]
                                                                           : "an unknown reason");
    return G_SOURCE_REMOVE;
}

/* libvirt holds a lock of the connection while it runs this callback, in
 * any thread, so unregistering or closing here would deadlock and touching
 * the Virt would race the main loop (both were seen with libvirt 11.3: a
 * migd resumed after SIGSTOP hung there). The main loop takes it from here. */
static void
virt_on_close(virConnectPtr conn, int reason, void *opaque)
{
    Virt *virt = opaque;

    g_mutex_lock(&virt->close_lock);
    virt->closed = conn;
    virt->close_reason = reason;
    if (!virt->close_source)
        virt->close_source = g_idle_add(virt_closed, virt);
    g_mutex_unlock(&virt->close_lock);
}

/* A connection that died without its close callback (libvirt calls it
 * from its event loop, which a stopped migd did not run) is found here:
 * virConnectIsAlive() only looks at the client's own state. */
static gboolean
virt_check_alive(gpointer data)
{
    Virt *virt = data;

    if (virt->conn && virConnectIsAlive(virt->conn) == 0) {
        virt->alive_source = 0;
        virt_lost(virt, "its socket is closed");
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void
virt_enable_keepalive(Virt *virt)
{
    virErrorPtr err;

    if (virConnectSetKeepAlive(virt->conn, (int)virt->options.keepalive_interval,
                               virt->options.keepalive_count) >= 0)
        return;
    err = virGetLastError();
    /* In-process drivers (test:///) have no peer to hang. */
    if (err && err->code == VIR_ERR_NO_SUPPORT)
        g_debug("%s does not use keepalive: %s", virt->uri, err->message);
    else
        g_warning("Cannot enable keepalive on %s: %s; a hung libvirtd will go unnoticed",
                  virt->uri, virGetLastErrorMessage());
}

static void
virt_adopt(Virt *virt, VirtOpen *op)
{
    virt->conn = g_steal_pointer(&op->conn);
    g_free(virt->hypervisor);
    virt->hypervisor = g_steal_pointer(&op->hypervisor);
    g_clear_pointer(&virt->last_error, g_free);
    virt->attempts = 0;
    virt->backoff = 1;
    if (virt->options.keepalive_interval > 0)
        virt_enable_keepalive(virt);
    if (virConnectRegisterCloseCallback(virt->conn, virt_on_close, virt, NULL) < 0)
        g_warning("Cannot watch %s for disconnects: %s", virt->uri, virGetLastErrorMessage());
    virt->alive_source = g_timeout_add_seconds(VIRT_ALIVE_CHECK_S, virt_check_alive, virt);
    log_structured(G_LOG_LEVEL_MESSAGE, LOG_FIELDS("MIGD_LIBVIRT_URI", virt->uri),
                   "Connected to %s (%s)", virt->uri,
                   virt->hypervisor ? virt->hypervisor : "an unknown hypervisor");
    virt_set_state(virt, TRUE);
}

static void
virt_open_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask *task = G_TASK(result);
    VirtOpen *op = g_task_get_task_data(task);
    GCancellable *cancellable = g_task_get_cancellable(task);
    Virt *virt;

    /* A cancelled attempt belongs to a Virt that was freed or reconfigured. */
    if (g_cancellable_is_cancelled(cancellable))
        return;
    virt = user_data;
    g_clear_object(&virt->connecting);
    if (op->conn && g_strcmp0(op->uri, virt->uri) == 0) {
        virt_adopt(virt, op);
        return;
    }
    virt->attempts++;
    g_free(virt->last_error);
    virt->last_error = g_strdup_printf("cannot connect to %s: %s", op->uri,
                                       op->error ? op->error : "the URI changed meanwhile");
    /* The first failure is worth a warning; the following ones repeat it. */
    if (virt->attempts == 1)
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_LIBVIRT_URI", virt->uri),
                       "%s; retrying with backoff up to every %u s", virt->last_error,
                       virt->options.reconnect_max);
    else
        g_debug("%s (attempt %u)", virt->last_error, virt->attempts);
    if (!virt->since)
        virt_set_state(virt, FALSE);
    virt_schedule_retry(virt);
}

static void
virt_begin_connect(Virt *virt)
{
    g_autoptr(GTask) task = NULL;
    VirtOpen *op = g_new0(VirtOpen, 1);

    op->uri = g_strdup(virt->uri);
    virt->connecting = g_cancellable_new();
    task = g_task_new(NULL, virt->connecting, virt_open_done, virt);
    g_task_set_task_data(task, op, virt_open_free);
    g_task_run_in_thread(task, virt_open_thread);
}

static gboolean
virt_retry_cb(gpointer data)
{
    Virt *virt = data;

    virt->retry_source = 0;
    virt_begin_connect(virt);
    return G_SOURCE_REMOVE;
}

static void
virt_schedule_retry(Virt *virt)
{
    guint delay = MIN(virt->backoff, virt->options.reconnect_max);

    virt->backoff = MIN(virt->backoff * 2, virt->options.reconnect_max);
    virt->retry_source = g_timeout_add_seconds(delay, virt_retry_cb, virt);
}

Virt *
virt_new(const char *uri, const VirtOptions *options, VirtStateFunc state_cb, gpointer user_data)
{
    Virt *virt = g_new0(Virt, 1);

    virt->uri = g_strdup(uri);
    virt->options = *options;
    virt->state_cb = state_cb;
    virt->user_data = user_data;
    virt->backoff = 1;
    virt->ops = virt_ops_libvirt();
    g_mutex_init(&virt->close_lock);
    return virt;
}

void
virt_start(Virt *virt)
{
    if (!virt->conn && !virt->connecting && !virt->retry_source)
        virt_begin_connect(virt);
}

static void
virt_disconnect(Virt *virt)
{
    if (virt->connecting) {
        g_cancellable_cancel(virt->connecting);
        g_clear_object(&virt->connecting);
    }
    g_clear_handle_id(&virt->retry_source, g_source_remove);
    g_clear_handle_id(&virt->release_source, g_source_remove);
    g_clear_handle_id(&virt->alive_source, g_source_remove);
    g_clear_pointer(&virt->dead_conn, virt_release);
    g_clear_pointer(&virt->conn, virt_release);
    g_clear_pointer(&virt->hypervisor, g_free);
    /* Released: no callback of theirs can come any more. */
    g_mutex_lock(&virt->close_lock);
    g_clear_handle_id(&virt->close_source, g_source_remove);
    virt->closed = NULL;
    g_mutex_unlock(&virt->close_lock);
}

void
virt_reconfigure(Virt *virt, const char *uri, const VirtOptions *options)
{
    virt->options = *options;
    if (g_strcmp0(uri, virt->uri) == 0)
        return;
    g_message("libvirt URI changed from %s to %s; reconnecting", virt->uri, uri);
    virt_disconnect(virt);
    g_free(virt->uri);
    virt->uri = g_strdup(uri);
    virt->attempts = 0;
    virt->backoff = 1;
    virt_set_state(virt, FALSE);
    virt_begin_connect(virt);
}

void
virt_free(Virt *virt)
{
    if (!virt)
        return;
    virt_disconnect(virt);
    g_mutex_clear(&virt->close_lock);
    g_clear_pointer(&virt->since, g_date_time_unref);
    g_free(virt->last_error);
    g_free(virt->uri);
    g_free(virt);
}

gboolean
virt_is_connected(Virt *virt)
{
    return virt->conn != NULL;
}

const char *
virt_uri(Virt *virt)
{
    return virt->uri;
}

virConnectPtr
virt_connection(Virt *virt)
{
    return virt->conn;
}

GDateTime *
virt_state_since(Virt *virt)
{
    return virt->since;
}

const char *
virt_last_error(Virt *virt)
{
    return virt->last_error;
}

guint
virt_reconnect_attempts(Virt *virt)
{
    return virt->attempts;
}

const char *
virt_hypervisor(Virt *virt)
{
    return virt->hypervisor;
}

const VirtOps *
virt_ops(Virt *virt)
{
    return virt->ops;
}

void
virt_set_ops(Virt *virt, const VirtOps *ops)
{
    virt->ops = ops;
}

VirtConn *
virt_conn(Virt *virt)
{
    return virt->conn ? virt->ops->wrap(virt->ops, virt->conn, virt->uri) : NULL;
}
