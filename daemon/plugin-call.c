/* Plugin calls in workers, with a deadline on the loop. Whichever comes
 * first, the worker's result or the deadline, answers; the other is
 * dropped. The call's record is shared by the two and freed by the last. */
#include <config.h>

#include <errno.h>

#include "log.h"
#include "metrics.h"
#include "plugin-call.h"

static const char *const call_names[PLUGIN_CALL_LAST] = {
    "probe", "save_state", "check_state", "restore_state",
    "pre_switchover", "post_switchover", "abort",
};

const char *
plugin_call_kind_to_string(PluginCallKind kind)
{
    return (unsigned int)kind < PLUGIN_CALL_LAST ? call_names[kind] : "unknown";
}

PluginDevice *
plugin_device_copy(const PluginDevice *dev)
{
    PluginDevice *d = g_new0(PluginDevice, 1);

    *d = *dev;
    d->pci_address = g_strdup(dev->pci_address);
    d->pf_address = g_strdup(dev->pf_address);
    d->pf_netdev = g_strdup(dev->pf_netdev);
    d->netdev = g_strdup(dev->netdev);
    d->mac = g_strdup(dev->mac);
    d->pool = g_strdup(dev->pool);
    d->domain = g_strdup(dev->domain);
    d->alias = g_strdup(dev->alias);
    d->job = g_strdup(dev->job);
    return d;
}

void
plugin_device_free(PluginDevice *dev)
{
    if (!dev)
        return;
    g_free(dev->pci_address);
    g_free(dev->pf_address);
    g_free(dev->pf_netdev);
    g_free(dev->netdev);
    g_free(dev->mac);
    g_free(dev->pool);
    g_free(dev->domain);
    g_free(dev->alias);
    g_free(dev->job);
    g_free(dev);
}

void
plugin_device_view(const PluginDevice *dev, struct migd_device *ret)
{
    *ret = (struct migd_device){
        .size = sizeof(*ret), .kind = dev->kind, .side = dev->side,
        .pci_address = dev->pci_address, .pf_address = dev->pf_address,
        .pf_netdev = dev->pf_netdev, .vf_index = dev->vf_index, .netdev = dev->netdev,
        .mac = dev->mac, .vlan = dev->vlan, .pool = dev->pool, .domain = dev->domain,
        .alias = dev->alias, .job = dev->job,
    };
}

typedef struct {
    Plugin *plugin;
    PluginDevice *dev;
    GBytes *state_in;
    guint32 version_in;
    gsize cap;
    gint64 start_us;
    PluginCallDone done;
    gpointer data;
    guint timer;
    gboolean answered;
    /* Filled by the worker. */
    PluginCallResult result;
    char *error;
} PluginCall;

static gint in_flight;

guint
plugin_call_in_flight(void)
{
    return (guint)g_atomic_int_get(&in_flight);
}

static void
call_free(gpointer data)
{
    PluginCall *c = data;

    /* The last reference may be the worker's, so this can run on its
     * thread: wake the loop, which may be waiting for calls to end. */
    if (g_atomic_int_dec_and_test(&in_flight))
        g_main_context_wakeup(NULL);
    plugin_unref(c->plugin);
    plugin_device_free(c->dev);
    if (c->state_in)
        g_bytes_unref(c->state_in);
    if (c->result.state)
        g_bytes_unref(c->result.state);
    g_free(c->error);
    g_free(c);
}

static void
call_answer(PluginCall *c)
{
    c->answered = TRUE;
    c->result.error = c->error;
    c->result.elapsed_ms = (g_get_monotonic_time() - c->start_us) / 1000;
    metrics_plugin_call(plugin_name(c->plugin), plugin_call_kind_to_string(c->result.kind),
                        c->result.rc == 0 ? "ok" : c->result.rc == -ETIMEDOUT ? "timeout"
                                                                               : "error");
    c->done(&c->result, c->data);
}

static gboolean
call_deadline(gpointer data)
{
    PluginCall *c = data;

    c->timer = 0;
    g_free(c->error);
    c->error = g_strdup_printf("plugin %s: %s did not answer within its timeout "
                               "([plugins] call_timeout_s)", plugin_name(c->plugin),
                               plugin_call_kind_to_string(c->result.kind));
    c->result.rc = -ETIMEDOUT;
    call_answer(c);
    return G_SOURCE_REMOVE;
}

static void
call_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PluginCall *c = data;
    struct migd_device dev;
    Plugin *p = c->plugin;

    plugin_device_view(c->dev, &dev);
    switch (c->result.kind) {
    case PLUGIN_CALL_PROBE:
        c->result.rc = plugin_probe(p, &dev, &c->result.probe, &c->error);
        break;
    case PLUGIN_CALL_SAVE_STATE:
        c->result.rc = plugin_save_state(p, &dev, c->cap, &c->result.state,
                                         &c->result.state_version, &c->error);
        break;
    case PLUGIN_CALL_CHECK_STATE:
        c->result.rc = plugin_check_state(p, &dev, c->state_in, c->version_in, &c->error);
        break;
    case PLUGIN_CALL_RESTORE_STATE:
        c->result.rc = plugin_restore_state(p, &dev, c->state_in, c->version_in, &c->error);
        break;
    case PLUGIN_CALL_PRE_SWITCHOVER:
        c->result.rc = plugin_pre_switchover(p, &dev, &c->error);
        break;
    case PLUGIN_CALL_POST_SWITCHOVER:
        c->result.rc = plugin_post_switchover(p, &dev, &c->error);
        break;
    case PLUGIN_CALL_ABORT:
        c->result.rc = plugin_abort(p, &dev, &c->error);
        break;
    case PLUGIN_CALL_LAST:
        c->result.rc = -EINVAL;
        break;
    }
    g_task_return_boolean(task, TRUE);
}

static void
call_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    PluginCall *c = g_task_get_task_data(G_TASK(res));

    if (c->answered)
        return;     /* the deadline answered already */
    g_clear_handle_id(&c->timer, g_source_remove);
    call_answer(c);
}

void
plugin_call(Plugin *p, PluginCallKind kind, const PluginDevice *dev, GBytes *state,
            guint32 version, gsize cap, guint timeout_ms, PluginCallDone done, gpointer data)
{
    PluginCall *c = g_new0(PluginCall, 1);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, call_done, NULL);

    c->plugin = plugin_ref(p);
    c->dev = plugin_device_copy(dev);
    c->state_in = state ? g_bytes_ref(state) : NULL;
    c->version_in = version;
    c->cap = cap;
    c->result.kind = kind;
    c->done = done;
    c->data = data;
    c->start_us = g_get_monotonic_time();
    g_atomic_int_inc(&in_flight);
    /* The timer does not own the call: the task does, and a task whose
     * worker overran finishes later and frees it then. */
    c->timer = g_timeout_add(timeout_ms, call_deadline, c);
    g_task_set_task_data(task, c, call_free);
    g_task_run_in_thread(task, call_thread);
}

typedef struct {
    char *job;
    char *alias;
} PluginAbort;

static void
plugin_aborted(const PluginCallResult *result, gpointer data)
{
    PluginAbort *a = data;

    if (result->rc != 0)
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_JOB", a->job),
                       "Job %s: undoing what a plugin did for %s on this host failed: %s",
                       a->job, a->alias, result->error);
    g_free(a->job);
    g_free(a->alias);
    g_free(a);
}

void
plugin_call_abort(Plugin *p, const PluginDevice *dev, guint timeout_ms)
{
    PluginAbort *a = g_new0(PluginAbort, 1);

    a->job = g_strdup(dev->job ? dev->job : "-");
    a->alias = g_strdup(dev->alias ? dev->alias : "a device");
    plugin_call(p, PLUGIN_CALL_ABORT, dev, NULL, 0, 0, timeout_ms, plugin_aborted, a);
}
