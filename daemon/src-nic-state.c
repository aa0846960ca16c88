/* The source's side of a NIC's device state: during the preparing step each
 * NIC is offered to the loaded plugins in order; the first that claims it
 * with state saves it (in a worker, with [plugins] call_timeout_s and
 * max_state_bytes), migd frames the blob, and the frames go to the
 * destination's migd with the prepare. A plugin whose save_state was called
 * is called abort when the job is undone. */
#include <config.h>

#include "jsonutil.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "src-nic-priv.h"

/* The steps to go on with, or NULL when they are gone or being undone
 * (a cancel came during the call: the rollback's end calls abort). */
static NicSteps *
state_call_end(gpointer guard)
{
    NicSteps *ns = nic_guard_end(guard);

    return ns && !ns->rolling_back ? ns : NULL;
}

static Plugin *
state_plugin(NicSteps *ns, guint i)
{
    GPtrArray *plugins = ns->plugins ? plugin_set_plugins(ns->plugins) : NULL;

    return plugins && i < plugins->len ? g_ptr_array_index(plugins, i) : NULL;
}

PluginDevice *
nic_state_device(NicSteps *ns, const Nic *n)
{
    const char *pf = n->dom->pool ? g_hash_table_lookup(ns->pool_pf, n->dom->pool) : NULL;
    gboolean sriov = pf && *pf;
    PluginDevice dev = {
        .kind = sriov ? MIGD_DEVICE_VF : MIGD_DEVICE_EMULATED,
        .side = MIGD_SIDE_SOURCE,
        .pci_address = sriov ? n->dom->address : NULL,
        .pf_address = sriov ? (char *)pf : NULL,
        .netdev = sriov ? NULL : n->dom->address,
        .mac = n->dom->mac,
        .pool = n->dom->pool,
        .domain = ns->domain,
        .alias = n->dom->alias,
        .job = ns->id,
        .vf_index = -1,
        .vlan = (int)n->dom->vlan,
    };

    return plugin_device_copy(&dev);
}

/* --- saving ------------------------------------------------------------------- */

static void state_next(NicSteps *ns);

static void
state_fail(NicSteps *ns, const char *reason)
{
    nic_state_abort(ns);
    ns->state_done(ns, reason);
}

/* @n's state in migd's frame, for the destination's migd. */
static void
state_frame(NicSteps *ns, Nic *n, const PluginCallResult *r)
{
    PluginFrame frame = {
        .plugin = n->plugin, .abi_major = MIGD_PLUGIN_ABI_MAJOR,
        .abi_minor = plugin_abi_minor(state_plugin(ns, ns->state_plugin)),
        .state_version = r->state_version, .alias = n->dom->alias, .state = r->state,
    };

    g_free(n->state_frame);
    n->state_frame = plugin_frame_encode(&frame);
    n->state_bytes = (gint64)g_bytes_get_size(r->state);
    n->save_ms = r->elapsed_ms;
}

static void
state_saved(const PluginCallResult *r, gpointer data)
{
    NicSteps *ns = state_call_end(data);
    Nic *n;
    g_autofree char *reason = NULL;

    if (!ns)
        return;
    n = nic_at(ns, ns->state_nic);
    if (r->rc != 0) {
        reason = g_strdup_printf("the device state of %s could not be saved, so nothing was "
                                 "unplugged: %s", n->dom->alias, r->error);
        state_fail(ns, reason);
        return;
    }
    state_frame(ns, n, r);
    ns->state_nic++;
    ns->state_plugin = 0;
    state_next(ns);
}

static void
state_probed(const PluginCallResult *r, gpointer data)
{
    NicSteps *ns = state_call_end(data);
    const guint want = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE;
    Plugin *p;
    Nic *n;
    g_autofree char *reason = NULL;
    g_autoptr(PluginDevice) dev = NULL;

    if (!ns)
        return;
    n = nic_at(ns, ns->state_nic);
    p = state_plugin(ns, ns->state_plugin);
    if (r->rc != 0) {
        reason = g_strdup_printf("no plugin could be asked about %s's device state, so nothing "
                                 "was unplugged: %s", n->dom->alias, r->error);
        state_fail(ns, reason);
        return;
    }
    if ((r->probe.flags & MIGD_PROBE_HANDLES) && n->strategy == NIC_STRATEGY_PAUSE &&
        !(r->probe.flags & MIGD_PROBE_PAUSE)) {
        reason = g_strdup_printf("strategy pause was asked for, but plugin %s, which handles "
                                 "%s, does not vouch that it can stay attached while migd "
                                 "pauses the guest%s%s; nothing was changed", plugin_name(p),
                                 n->dom->alias, r->probe.detail[0] ? ": " : "",
                                 r->probe.detail);
        state_fail(ns, reason);
        return;
    }
    if ((r->probe.flags & MIGD_PROBE_HANDLES) && !(r->probe.flags & MIGD_PROBE_STATE)) {
        /* Its plugin carries no state: nothing to save. A paused NIC's is
         * still the one called at switchover (and abort). */
        if (n->strategy == NIC_STRATEGY_PAUSE) {
            g_free(n->plugin);
            n->plugin = g_strdup(plugin_name(p));
            n->plugin_aborted = FALSE;
        }
        ns->state_nic++;
        ns->state_plugin = 0;
        state_next(ns);
        return;
    }
    if ((r->probe.flags & want) != want) {
        ns->state_plugin++;
        state_next(ns);
        return;
    }
    g_free(n->plugin);
    n->plugin = g_strdup(plugin_name(p));
    n->plugin_aborted = FALSE;
    dev = nic_state_device(ns, n);
    plugin_call(p, PLUGIN_CALL_SAVE_STATE, dev, NULL, 0, ns->max_state_bytes,
                ns->plugin_timeout_ms, state_saved, nic_guard_new(ns));
}

static void
state_next(NicSteps *ns)
{
    g_autoptr(PluginDevice) dev = NULL;
    Plugin *p;

    while (ns->state_nic < ns->nics->len &&
           nic_at(ns, ns->state_nic)->strategy == NIC_STRATEGY_NONE)
        ns->state_nic++;
    if (ns->state_nic < ns->nics->len && !state_plugin(ns, ns->state_plugin) &&
        nic_at(ns, ns->state_nic)->strategy == NIC_STRATEGY_PAUSE) {
        g_autofree char *reason = g_strdup_printf(
            "strategy pause was asked for, but no plugin handles %s, so none vouches that it "
            "can stay attached while migd pauses the guest; nothing was changed",
            nic_at(ns, ns->state_nic)->dom->alias);

        state_fail(ns, reason);
        return;
    }
    if (ns->state_nic < ns->nics->len && !state_plugin(ns, ns->state_plugin)) {
        /* No plugin claims it. */
        ns->state_nic++;
        ns->state_plugin = 0;
        state_next(ns);
        return;
    }
    if (ns->state_nic >= ns->nics->len) {
        ns->state_done(ns, NULL);
        return;
    }
    p = state_plugin(ns, ns->state_plugin);
    dev = nic_state_device(ns, nic_at(ns, ns->state_nic));
    plugin_call(p, PLUGIN_CALL_PROBE, dev, NULL, 0, 0, ns->plugin_timeout_ms, state_probed,
                nic_guard_new(ns));
}

void
nic_state_save(NicSteps *ns, NicStateSaved done)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);

        g_clear_pointer(&n->state_frame, g_free);
        n->state_bytes = n->save_ms = n->transfer_ms = n->check_ms = n->restore_ms = -1;
    }
    ns->state_nic = 0;
    ns->state_plugin = 0;
    ns->state_done = done;
    state_next(ns);
}

json_t *
nic_state_body(NicSteps *ns)
{
    g_autoptr(json_t) states = json_array();

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);

        if (n->state_frame)
            json_array_append_new(states, json_pack("{s:s,s:s,s:s}", "alias", n->dom->alias,
                                                    "plugin", n->plugin, "frame",
                                                    n->state_frame));
    }
    if (json_array_size(states) == 0)
        return NULL;
    return json_pack("{s:O}", "states", states);
}

static gint64
json_ms_or(json_t *object, const char *key, gint64 fallback)
{
    json_t *value = json_object_get(object, key);

    return json_is_integer(value) ? json_integer_value(value) : fallback;
}

void
nic_state_take_answer(NicSteps *ns, json_t *reservation, gint64 sent_us)
{
    gint64 round_trip_ms = sent_us ? (g_get_monotonic_time() - sent_us) / 1000 : -1;
    size_t i;
    json_t *item;

    json_array_foreach(json_object_get(reservation, "nics"), i, item) {
        const char *alias = json_string_value(json_object_get(item, "alias"));
        json_t *state = json_object_get(item, "state");

        for (guint j = 0; json_is_object(state) && j < ns->nics->len; j++) {
            Nic *n = nic_at(ns, j);

            if (g_strcmp0(n->dom->alias, alias) != 0 || !n->plugin)
                continue;
            n->check_ms = json_ms_or(state, "check_ms", n->check_ms);
            n->restore_ms = json_ms_or(state, "restore_ms", n->restore_ms);
            if (round_trip_ms >= 0 && n->state_frame)
                n->transfer_ms = MAX(round_trip_ms - MAX(n->check_ms, 0), 0);
        }
    }
}

/* --- abort -------------------------------------------------------------------- */

void
nic_state_abort(NicSteps *ns)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);
        Plugin *p = n->plugin && ns->plugins ? plugin_set_find(ns->plugins, n->plugin) : NULL;
        g_autoptr(PluginDevice) dev = NULL;

        if (!p || n->plugin_aborted)
            continue;
        n->plugin_aborted = TRUE;
        dev = nic_state_device(ns, n);
        plugin_call_abort(p, dev, ns->plugin_timeout_ms);
    }
}

/* --- the record --------------------------------------------------------------- */

json_t *
nic_state_to_json(const Nic *n)
{
    if (!n->plugin)
        return json_null();
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:b}", "name", n->plugin, "state_bytes",
                     json_count_or_null(n->state_bytes), "save_ms",
                     json_count_or_null(n->save_ms), "transfer_ms",
                     json_count_or_null(n->transfer_ms), "check_ms",
                     json_count_or_null(n->check_ms), "restore_ms",
                     json_count_or_null(n->restore_ms), "aborted", n->plugin_aborted);
}

void
nic_state_from_json(Nic *n, json_t *device)
{
    json_t *plugin = json_object_get(device, "plugin");

    n->state_bytes = n->save_ms = n->transfer_ms = n->check_ms = n->restore_ms = -1;
    if (!json_is_object(plugin))
        return;
    n->plugin = g_strdup(json_string_value(json_object_get(plugin, "name")));
    n->state_bytes = json_ms_or(plugin, "state_bytes", -1);
    n->save_ms = json_ms_or(plugin, "save_ms", -1);
    n->transfer_ms = json_ms_or(plugin, "transfer_ms", -1);
    n->check_ms = json_ms_or(plugin, "check_ms", -1);
    n->restore_ms = json_ms_or(plugin, "restore_ms", -1);
    n->plugin_aborted = json_is_true(json_object_get(plugin, "aborted"));
}
