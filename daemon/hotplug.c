/* Device hot-plug: the libvirt call in a worker, the outcome from libvirt's
 * device events on the loop, and a deadline. Everything goes through the
 * VirtOps seam; the events are watched for every domain (a watch on one
 * would look the domain up, which is a call on the loop) and sorted here. */
#include <config.h>

#include <gio/gio.h>

#include "failpoint.h"
#include "hotplug.h"

struct _Hotplug {
    gint refs;                  /* the loop's and the worker's */
    VirtConn *conn;
    char *domain;
    char *alias;
    char *device_xml;           /* attach; NULL for a detach */
    int callbacks[2];
    guint timer;
    guint idle;                 /* a failure to watch, reported from the loop */
    gint64 start_us;
    HotplugDone done;
    gpointer data;
    gboolean finished;          /* done has run, or the caller cancelled */
    char *call_error;
};

/* Hotplug objects not yet freed, a finished one whose worker still runs
 * included. */
static gint hotplug_alive;

guint
hotplug_outstanding(void)
{
    return (guint)g_atomic_int_get(&hotplug_alive);
}

static Hotplug *
hotplug_ref(Hotplug *hp)
{
    g_atomic_int_inc(&hp->refs);
    return hp;
}

static void
hotplug_unref(gpointer data)
{
    Hotplug *hp = data;

    if (!g_atomic_int_dec_and_test(&hp->refs))
        return;
    virt_conn_unref(hp->conn);
    g_free(hp->domain);
    g_free(hp->alias);
    g_free(hp->device_xml);
    g_free(hp->call_error);
    g_free(hp);
    g_atomic_int_dec_and_test(&hotplug_alive);
}

/* Stops listening; the callback runs at most once. */
static void
hotplug_stop(Hotplug *hp)
{
    const VirtOps *ops = virt_conn_ops(hp->conn);

    if (hp->finished)
        return;
    hp->finished = TRUE;
    g_clear_handle_id(&hp->timer, g_source_remove);
    g_clear_handle_id(&hp->idle, g_source_remove);
    for (guint i = 0; i < G_N_ELEMENTS(hp->callbacks); i++) {
        if (hp->callbacks[i] >= 0)
            ops->event_deregister(hp->conn, hp->callbacks[i]);
        hp->callbacks[i] = -1;
    }
}

static void
hotplug_finish(Hotplug *hp, gboolean ok, const char *error)
{
    gint64 elapsed_ms = (g_get_monotonic_time() - hp->start_us) / 1000;

    if (hp->finished)
        return;
    hotplug_stop(hp);
    hp->done(ok, elapsed_ms, error, hp->data);
    hotplug_unref(hp);          /* the loop's reference */
}

void
hotplug_cancel(Hotplug *hp)
{
    if (!hp || hp->finished)
        return;
    hotplug_stop(hp);
    hotplug_unref(hp);
}

/* DEVICE_REMOVED for a detach, DEVICE_ADDED for an attach: the guest's
 * answer; DEVICE_REMOVAL_FAILED its refusal. */
static void
on_device_event(const VirtEvent *ev, gpointer data)
{
    Hotplug *hp = data;
    g_autofree char *error = NULL;

    if (hp->finished || g_strcmp0(ev->domain, hp->domain) != 0 ||
        g_strcmp0(ev->alias, hp->alias) != 0)
        return;
    if (ev->kind != VIRT_EVENT_DEVICE_REMOVAL_FAILED) {
        hotplug_finish(hp, TRUE, NULL);
        return;
    }
    error = g_strdup_printf("the guest refused to release %s (DEVICE_REMOVAL_FAILED); it is "
                            "still attached", hp->alias);
    hotplug_finish(hp, FALSE, error);
}

static gboolean
hotplug_timeout(gpointer data)
{
    Hotplug *hp = data;
    g_autofree char *error = NULL;
    guint ms = (guint)((g_get_monotonic_time() - hp->start_us) / 1000);

    hp->timer = 0;
    /* Whether a detach that timed out left the device is for the caller to
     * read from the live XML: the guest may still let go of it later. */
    if (hp->device_xml)
        error = g_strdup_printf("libvirt did not report %s added to %s within %u ms", hp->alias,
                                hp->domain, ms);
    else
        error = g_strdup_printf("the guest did not release %s within %u ms (no DEVICE_REMOVED)",
                                hp->alias, ms);
    hotplug_finish(hp, FALSE, error);
    return G_SOURCE_REMOVE;
}

static gboolean
hotplug_watch_failed(gpointer data)
{
    Hotplug *hp = data;

    hp->idle = 0;
    hotplug_finish(hp, FALSE, hp->call_error);
    return G_SOURCE_REMOVE;
}

static void
hotplug_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Hotplug *hp = data;
    const VirtOps *ops = virt_conn_ops(hp->conn);
    g_autoptr(GError) error = NULL;
    gboolean ok;

    if (hp->device_xml) {
        ok = ops->attach(hp->conn, hp->domain, hp->device_xml, &error);
    } else {
        ok = ops->detach_alias(hp->conn, hp->domain, hp->alias, &error);
        if (ok)
            failpoint("src-after-unplug-request");
    }
    if (!ok)
        hp->call_error = g_strdup(error->message);
}

static void
hotplug_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Hotplug *hp = g_task_get_task_data(G_TASK(result));
    g_autofree char *error = NULL;

    /* DEVICE_REMOVED may have come before the call returned: then it is over. */
    if (!hp->call_error || hp->finished)
        return;
    error = g_strdup_printf("libvirt could not %s %s on %s: %s",
                            hp->device_xml ? "attach" : "detach", hp->alias, hp->domain,
                            hp->call_error);
    hotplug_finish(hp, FALSE, error);
}

/* Watches the device events the outcome comes from; FALSE with
 * hp->call_error when libvirt will not tell them. */
static gboolean
hotplug_watch(Hotplug *hp)
{
    const VirtOps *ops = virt_conn_ops(hp->conn);
    VirtEventKind kinds[2] = { VIRT_EVENT_DEVICE_ADDED, VIRT_EVENT_LAST };
    g_autoptr(GError) error = NULL;

    if (!hp->device_xml) {
        kinds[0] = VIRT_EVENT_DEVICE_REMOVED;
        kinds[1] = VIRT_EVENT_DEVICE_REMOVAL_FAILED;
    }
    for (guint i = 0; i < G_N_ELEMENTS(kinds) && kinds[i] != VIRT_EVENT_LAST; i++) {
        hp->callbacks[i] = ops->event_register(hp->conn, NULL, kinds[i], on_device_event, hp,
                                               NULL, &error);
        if (hp->callbacks[i] < 0) {
            hp->call_error = g_strdup_printf("cannot watch libvirt for %s's %s, so its %s "
                                             "could not be told: %s", hp->domain,
                                             virt_event_kind_to_string(kinds[i]),
                                             hp->device_xml ? "attach" : "detach",
                                             error->message);
            return FALSE;
        }
    }
    return TRUE;
}

static Hotplug *
hotplug_start(VirtConn *conn, const char *domain, const char *alias, const char *device_xml,
              guint timeout_ms, HotplugDone done, gpointer data)
{
    Hotplug *hp = g_new0(Hotplug, 1);
    g_autoptr(GTask) task = NULL;

    g_atomic_int_inc(&hotplug_alive);
    hp->refs = 1;
    hp->conn = virt_conn_ref(conn);
    hp->domain = g_strdup(domain);
    hp->alias = g_strdup(alias);
    hp->device_xml = g_strdup(device_xml);
    hp->done = done;
    hp->data = data;
    hp->callbacks[0] = hp->callbacks[1] = -1;
    hp->start_us = g_get_monotonic_time();
    if (!hotplug_watch(hp)) {
        /* Nothing was asked of the guest; the caller hears it from the loop. */
        hp->idle = g_idle_add(hotplug_watch_failed, hp);
        return hp;
    }
    hp->timer = g_timeout_add(timeout_ms, hotplug_timeout, hp);
    task = g_task_new(NULL, NULL, hotplug_call_done, NULL);
    g_task_set_task_data(task, hotplug_ref(hp), hotplug_unref);
    g_task_run_in_thread(task, hotplug_thread);
    return hp;
}

Hotplug *
hotplug_detach_conn(VirtConn *conn, const char *domain, const char *alias, guint timeout_ms,
                    HotplugDone done, gpointer data)
{
    return hotplug_start(conn, domain, alias, NULL, timeout_ms, done, data);
}

Hotplug *
hotplug_attach_conn(VirtConn *conn, const char *domain, const char *device_xml,
                    const char *alias, guint timeout_ms, HotplugDone done, gpointer data)
{
    return hotplug_start(conn, domain, alias, device_xml, timeout_ms, done, data);
}

Hotplug *
hotplug_attach(virConnectPtr conn, const char *domain, const char *device_xml, const char *alias,
               guint timeout_ms, HotplugDone done, gpointer data)
{
    const VirtOps *ops = virt_ops_libvirt();
    g_autoptr(VirtConn) vc = ops->wrap(ops, conn, NULL);

    return hotplug_start(vc, domain, alias, device_xml, timeout_ms, done, data);
}
