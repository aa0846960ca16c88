/* Device hot-plug: the libvirt call in a worker, the outcome from libvirt's
 * device events on the loop, and a deadline. */
#include <config.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>

#include "hotplug.h"

struct _Hotplug {
    gint refs;                  /* the loop's and the worker's */
    virConnectPtr conn;
    char *domain;
    char *alias;
    char *device_xml;           /* attach; NULL for a detach */
    int callbacks[2];
    guint timer;
    gint64 start_us;
    HotplugDone done;
    gpointer data;
    gboolean finished;          /* done has run, or the caller cancelled */
    gboolean call_returned;
    gboolean event_seen;
    char *call_error;
};

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
    (void)virConnectClose(hp->conn);
    g_free(hp->domain);
    g_free(hp->alias);
    g_free(hp->device_xml);
    g_free(hp->call_error);
    g_free(hp);
}

/* Stops listening; the callback runs at most once. */
static void
hotplug_stop(Hotplug *hp)
{
    if (hp->finished)
        return;
    hp->finished = TRUE;
    g_clear_handle_id(&hp->timer, g_source_remove);
    for (guint i = 0; i < G_N_ELEMENTS(hp->callbacks); i++) {
        if (hp->callbacks[i] >= 0)
            (void)virConnectDomainEventDeregisterAny(hp->conn, hp->callbacks[i]);
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

static gboolean
hotplug_matches(Hotplug *hp, virDomainPtr dom, const char *alias)
{
    return !hp->finished && g_strcmp0(virDomainGetName(dom), hp->domain) == 0 &&
           g_strcmp0(alias, hp->alias) == 0;
}

/* DEVICE_REMOVED for a detach, DEVICE_ADDED for an attach: the guest's answer. */
static void
on_device_event(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    Hotplug *hp = opaque;

    if (hotplug_matches(hp, dom, alias))
        hotplug_finish(hp, TRUE, NULL);
}

static void
on_device_removal_failed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    Hotplug *hp = opaque;
    g_autofree char *error = NULL;

    if (!hotplug_matches(hp, dom, alias))
        return;
    error = g_strdup_printf("the guest refused to release %s (DEVICE_REMOVAL_FAILED); it is "
                            "still attached", alias);
    hotplug_finish(hp, FALSE, error);
}

static gboolean
hotplug_timeout(gpointer data)
{
    Hotplug *hp = data;
    g_autofree char *error = NULL;

    hp->timer = 0;
    if (hp->device_xml)
        error = g_strdup_printf("libvirt did not report %s added to %s within %u ms", hp->alias,
                                hp->domain, (guint)((g_get_monotonic_time() - hp->start_us) / 1000));
    else
        error = g_strdup_printf("the guest did not release %s within %u ms (no DEVICE_REMOVED); "
                                "it is still attached", hp->alias,
                                (guint)((g_get_monotonic_time() - hp->start_us) / 1000));
    hotplug_finish(hp, FALSE, error);
    return G_SOURCE_REMOVE;
}

static void
hotplug_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Hotplug *hp = data;
    virDomainPtr dom = virDomainLookupByName(hp->conn, hp->domain);
    int rc = -1;

    if (dom && hp->device_xml)
        rc = virDomainAttachDeviceFlags(dom, hp->device_xml, VIR_DOMAIN_AFFECT_LIVE);
    else if (dom)
        rc = virDomainDetachDeviceAlias(dom, hp->alias, VIR_DOMAIN_AFFECT_LIVE);
    if (rc < 0)
        hp->call_error = g_strdup(virGetLastErrorMessage());
    if (dom)
        (void)virDomainFree(dom);
}

static void
hotplug_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Hotplug *hp = g_task_get_task_data(G_TASK(result));
    g_autofree char *error = NULL;

    hp->call_returned = TRUE;
    if (!hp->call_error || hp->finished)
        return;
    error = g_strdup_printf("libvirt could not %s %s on %s: %s",
                            hp->device_xml ? "attach" : "detach", hp->alias, hp->domain,
                            hp->call_error);
    hotplug_finish(hp, FALSE, error);
}

static Hotplug *
hotplug_start(virConnectPtr conn, const char *domain, const char *alias, const char *device_xml,
              guint timeout_ms, HotplugDone done, gpointer data)
{
    Hotplug *hp = g_new0(Hotplug, 1);
    g_autoptr(GTask) task = NULL;
    virDomainPtr dom;

    hp->refs = 1;
    hp->conn = conn;
    (void)virConnectRef(conn);
    hp->domain = g_strdup(domain);
    hp->alias = g_strdup(alias);
    hp->device_xml = g_strdup(device_xml);
    hp->done = done;
    hp->data = data;
    hp->callbacks[0] = hp->callbacks[1] = -1;
    hp->start_us = g_get_monotonic_time();
    dom = virDomainLookupByName(conn, domain);
    if (device_xml) {
        hp->callbacks[0] = virConnectDomainEventRegisterAny(
            conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
            VIR_DOMAIN_EVENT_CALLBACK(on_device_event), hp, NULL);
    } else {
        hp->callbacks[0] = virConnectDomainEventRegisterAny(
            conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
            VIR_DOMAIN_EVENT_CALLBACK(on_device_event), hp, NULL);
        hp->callbacks[1] = virConnectDomainEventRegisterAny(
            conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
            VIR_DOMAIN_EVENT_CALLBACK(on_device_removal_failed), hp, NULL);
    }
    if (dom)
        (void)virDomainFree(dom);
    hp->timer = g_timeout_add(timeout_ms, hotplug_timeout, hp);
    task = g_task_new(NULL, NULL, hotplug_call_done, NULL);
    g_task_set_task_data(task, hotplug_ref(hp), hotplug_unref);
    g_task_run_in_thread(task, hotplug_thread);
    return hp;
}

Hotplug *
hotplug_detach(virConnectPtr conn, const char *domain, const char *alias, guint timeout_ms,
               HotplugDone done, gpointer data)
{
    return hotplug_start(conn, domain, alias, NULL, timeout_ms, done, data);
}

Hotplug *
hotplug_attach(virConnectPtr conn, const char *domain, const char *device_xml, const char *alias,
               guint timeout_ms, HotplugDone done, gpointer data)
{
    return hotplug_start(conn, domain, alias, device_xml, timeout_ms, done, data);
}
