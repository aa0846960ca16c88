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
#include "pool.h"
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
    const char *root = sriov ? g_hash_table_lookup(ns->pool_sysfs, n->dom->pool) : NULL;
    g_autofree char *pf_netdev = NULL;
    int vf_index = -1;
    PluginDevice dev = {
        .kind = sriov ? MIGD_DEVICE_VF
                : n->dom->kind == DOM_NIC_VDPA ? MIGD_DEVICE_VDPA : MIGD_DEVICE_EMULATED,
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

    /* The guest's VF on its PF, as sysfs shows it now: what a plugin needs
     * to reach the VF's settings over rtnetlink (sriov-vfcfg). */
    if (sriov && pool_vf_place(root, pf, n->dom->address, &vf_index, &pf_netdev)) {
        dev.vf_index = vf_index;
        dev.pf_netdev = pf_netdev;
    }

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

/* Strategy auto: what @p, which handles @n, vouches for; a pause
 * vouched for makes it the plugin called at switchover, should the
 * destination choose pause. */
static void
state_note_vouch(Nic *n, Plugin *p, guint flags)
{
    if (!n->auto_pending)
        return;
    n->source_vouch = flags & (MIGD_PROBE_NATIVE | MIGD_PROBE_PAUSE);
    if (n->source_vouch & MIGD_PROBE_PAUSE) {
        g_free(n->plugin);
        n->plugin = g_strdup(plugin_name(p));
        n->plugin_aborted = FALSE;
    }
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
    if (r->probe.flags & MIGD_PROBE_HANDLES)
        state_note_vouch(n, p, r->probe.flags);
    if ((r->probe.flags & MIGD_PROBE_HANDLES) && n->strategy == NIC_STRATEGY_PAUSE &&
        !n->auto_pending && !(r->probe.flags & MIGD_PROBE_PAUSE)) {
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
        nic_at(ns, ns->state_nic)->strategy == NIC_STRATEGY_PAUSE &&
        !nic_at(ns, ns->state_nic)->auto_pending) {
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
        n->source_vouch = 0;
    }
    ns->state_nic = 0;
    ns->state_plugin = 0;
    ns->state_done = done;
    state_next(ns);
}

/* --- strategy auto ------------------------------------------------------------- */

/* @n's strategy, settled: @chosen says why (NULL: no plugin vouched). */
static void
state_settle(Nic *n, NicStrategy strategy, const char *chosen)
{
    n->auto_pending = FALSE;
    n->strategy = strategy;
    g_free(n->chosen);
    n->chosen = g_strdup(chosen);
    /* A plugin noted for the switchover that will not come. */
    if (strategy != NIC_STRATEGY_PAUSE && !n->state_frame)
        g_clear_pointer(&n->plugin, g_free);
}

/* Where nothing stays attached: unplugged, or why it cannot be. */
static char *
state_settle_unplug(Nic *n, const char *who)
{
    g_autofree char *chosen = NULL;

    if (!n->dom->standby_alias)
        return g_strdup_printf("strategy auto: %s has no standby NIC, so it cannot be unplugged, "
                               "and %s that it can stay attached (native, or paused by migd); "
                               "nothing was changed", n->dom->alias, who);
    chosen = g_strdup_printf("%s that it can stay attached", who);
    state_settle(n, NIC_STRATEGY_UNPLUG, chosen);
    return NULL;
}

char *
nic_state_settle_here(NicSteps *ns)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);
        char *reason;

        if (!n->auto_pending || n->source_vouch)
            continue;
        reason = state_settle_unplug(n, "no plugin on this host vouches");
        if (reason)
            return reason;
    }
    nic_summarize(ns);
    return NULL;
}

static json_t *
state_vouches_json(guint vouch)
{
    json_t *list = json_array();

    if (vouch & MIGD_PROBE_NATIVE)
        json_array_append_new(list, json_string("native"));
    if (vouch & MIGD_PROBE_PAUSE)
        json_array_append_new(list, json_string("pause"));
    return list;
}

char *
nic_state_take_choices(NicSteps *ns, json_t *reservation)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);
        const char *chosen = NULL;
        int strategy = -1;
        size_t j;
        json_t *item;
        char *reason;

        if (!n->auto_pending)
            continue;
        json_array_foreach(json_object_get(reservation, "nics"), j, item) {
            if (g_strcmp0(json_string_value(json_object_get(item, "alias")), n->dom->alias))
                continue;
            chosen = json_string_value(json_object_get(item, "chosen"));
            strategy = nic_strategy_from_string(
                json_string_value(json_object_get(item, "strategy")));
        }
        if (chosen && (strategy == NIC_STRATEGY_UNPLUG || nic_strategy_stays(strategy)) &&
            (strategy != NIC_STRATEGY_UNPLUG || n->dom->standby_alias)) {
            state_settle(n, strategy, chosen);
            continue;
        }
        reason = state_settle_unplug(n, "the destination did not say");
        if (reason)
            return reason;
    }
    nic_summarize(ns);
    return NULL;
}

json_t *
nic_state_body(NicSteps *ns)
{
    g_autoptr(json_t) states = json_array();
    g_autoptr(json_t) choose = json_array();
    json_t *body;

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);

        if (n->state_frame)
            json_array_append_new(states, json_pack("{s:s,s:s,s:s}", "alias", n->dom->alias,
                                                    "plugin", n->plugin, "frame",
                                                    n->state_frame));
        if (n->auto_pending)
            json_array_append_new(choose, json_pack("{s:s,s:o,s:b}", "alias", n->dom->alias,
                                                    "vouches",
                                                    state_vouches_json(n->source_vouch),
                                                    "unplug", n->dom->standby_alias != NULL));
    }
    if (json_array_size(states) == 0 && json_array_size(choose) == 0)
        return NULL;
    body = json_object();
    if (json_array_size(states))
        json_object_set(body, "states", states);
    if (json_array_size(choose))
        json_object_set(body, "choose", choose);
    return body;
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
