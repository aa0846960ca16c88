/* The source's side of a NIC's device state: during the preparing step each
 * NIC is offered to every loaded plugin, in loading order; every one that
 * claims it takes part (what they vouch for together is plugin_vouch()),
 * each that carries state saves it (in a worker, with [plugins]
 * call_timeout_s and max_state_bytes) into a frame of its own, and the
 * frames go to the destination's migd with the prepare. A plugin called
 * past probe is called abort when the job is undone. */
#include <config.h>

#include <string.h>

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

void
nic_plugin_free(gpointer data)
{
    NicPlugin *np = data;

    g_free(np->name);
    g_free(np->detail);
    g_free(np->frame);
    g_free(np);
}

static NicPlugin *
nic_plugin_new(const char *name, guint flags)
{
    NicPlugin *np = g_new0(NicPlugin, 1);

    np->name = g_strdup(name);
    np->flags = flags;
    np->state_bytes = np->save_ms = np->transfer_ms = np->check_ms = np->restore_ms = -1;
    return np;
}

static NicPlugin *
nic_plugin_at(const Nic *n, guint i)
{
    return g_ptr_array_index(n->plugins, i);
}

guint
nic_state_frames(const Nic *n)
{
    guint count = 0;

    for (guint i = 0; i < n->plugins->len; i++)
        count += nic_plugin_at(n, i)->frame != NULL || nic_plugin_at(n, i)->state_bytes >= 0;
    return count;
}

guint64
nic_state_stop_copy_bytes(NicSteps *ns)
{
    guint64 sum = 0;

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);
        guint64 most = 0;

        for (guint j = 0; n->strategy == NIC_STRATEGY_NATIVE && j < n->plugins->len; j++)
            most = MAX(most, nic_plugin_at(n, j)->stop_copy_bytes);
        sum += most;
    }
    return sum;
}

/* The OR of the probe flags of @n's plugins. */
static guint
state_claims(const Nic *n)
{
    guint flags = 0;

    for (guint i = 0; i < n->plugins->len; i++)
        flags |= nic_plugin_at(n, i)->flags;
    return flags;
}

static void state_next(NicSteps *ns);

static void
state_fail(NicSteps *ns, const char *reason)
{
    nic_state_abort(ns);
    ns->state_done(ns, reason);
}

static void
state_next_nic(NicSteps *ns)
{
    ns->state_nic++;
    ns->state_plugin = 0;
    ns->state_saving = FALSE;
    state_next(ns);
}

/* @np's state of @n in migd's frame, for the destination's migd. */
static void
state_frame(NicSteps *ns, Nic *n, NicPlugin *np, const PluginCallResult *r)
{
    PluginFrame frame = {
        .plugin = np->name, .abi_major = MIGD_PLUGIN_ABI_MAJOR,
        .abi_minor = plugin_abi_minor(plugin_set_find(ns->plugins, np->name)),
        .state_version = r->state_version, .alias = n->dom->alias, .state = r->state,
    };

    g_free(np->frame);
    np->frame = plugin_frame_encode(&frame);
    np->state_bytes = (gint64)g_bytes_get_size(r->state);
    np->save_ms = r->elapsed_ms;
}

static void
state_saved(const PluginCallResult *r, gpointer data)
{
    NicSteps *ns = state_call_end(data);
    Nic *n;
    NicPlugin *np;
    g_autofree char *reason = NULL;

    if (!ns)
        return;
    n = nic_at(ns, ns->state_nic);
    np = nic_plugin_at(n, ns->state_plugin);
    if (r->rc != 0) {
        reason = g_strdup_printf("the device state of %s could not be saved, so nothing was "
                                 "unplugged: %s", n->dom->alias, r->error);
        state_fail(ns, reason);
        return;
    }
    state_frame(ns, n, np, r);
    ns->state_plugin++;
    state_next(ns);
}

/* "plugin a, plugin b" of @n's plugins whose flags have @flag (all of
 * them with 0), into @names, and what they said of it into @details. */
static guint
state_plugins_with(const Nic *n, guint flag, GString *names, GString *details)
{
    guint count = 0;

    for (guint i = 0; i < n->plugins->len; i++) {
        const NicPlugin *np = nic_plugin_at(n, i);

        if (flag && !(np->flags & flag))
            continue;
        g_string_append_printf(names, "%splugin %s", count++ ? ", " : "", np->name);
        if (np->detail && *np->detail)
            g_string_append_printf(details, "%s%s", details->len ? "; " : ": ", np->detail);
    }
    return count;
}

/* Every plugin has been asked about @n: whether what they vouch for
 * together allows its strategy. NULL, or why the step fails. */
static char *
state_vouched(Nic *n)
{
    guint claims = state_claims(n);
    gboolean denied = (claims & MIGD_PROBE_DENY_PAUSE) != 0;
    g_autoptr(GString) names = g_string_new(NULL);
    g_autoptr(GString) details = g_string_new(NULL);
    guint count;

    if (n->auto_pending) {
        n->source_vouch = plugin_vouch(claims);
        return NULL;
    }
    if (n->strategy != NIC_STRATEGY_PAUSE || (plugin_vouch(claims) & MIGD_PROBE_PAUSE))
        return NULL;
    if (n->plugins->len == 0)
        return g_strdup_printf("strategy pause was asked for, but no plugin handles %s, so "
                               "none vouches that it can stay attached while migd pauses the "
                               "guest; nothing was changed", n->dom->alias);
    count = state_plugins_with(n, denied ? MIGD_PROBE_DENY_PAUSE : 0, names, details);
    return g_strdup_printf("strategy pause was asked for, but %s, which handle%s %s, %s that it "
                           "can stay attached while migd pauses the guest%s; nothing was "
                           "changed", names->str, count == 1 ? "s" : "", n->dom->alias,
                           denied ? (count == 1 ? "denies" : "deny")
                                  : (count == 1 ? "does not vouch" : "do not vouch"),
                           details->str);
}

static void
state_probed(const PluginCallResult *r, gpointer data)
{
    NicSteps *ns = state_call_end(data);
    Plugin *p;
    Nic *n;
    g_autofree char *reason = NULL;

    if (!ns)
        return;
    n = nic_at(ns, ns->state_nic);
    p = state_plugin(ns, ns->state_plugin);
    if (r->rc != 0) {
        reason = g_strdup_printf("plugin %s could not be asked about %s's device state, so "
                                 "nothing was unplugged: %s", plugin_name(p), n->dom->alias,
                                 r->error);
        state_fail(ns, reason);
        return;
    }
    if (r->probe.flags & MIGD_PROBE_HANDLES) {
        NicPlugin *np = nic_plugin_new(plugin_name(p), r->probe.flags);

        np->stop_copy_bytes = r->probe.stop_copy_bytes;
        np->detail = g_strdup(r->probe.detail);
        g_ptr_array_add(n->plugins, np);
    }
    ns->state_plugin++;
    state_next(ns);
}

/* The next of @n's plugins that carries state saves it; FALSE when none is left. */
static gboolean
state_save_next(NicSteps *ns, Nic *n)
{
    g_autoptr(PluginDevice) dev = NULL;
    NicPlugin *np;

    while (ns->state_plugin < n->plugins->len &&
           !(nic_plugin_at(n, ns->state_plugin)->flags & MIGD_PROBE_STATE))
        ns->state_plugin++;
    if (ns->state_plugin >= n->plugins->len)
        return FALSE;
    np = nic_plugin_at(n, ns->state_plugin);
    np->called = TRUE;
    np->aborted = FALSE;
    dev = nic_state_device(ns, n);
    plugin_call(plugin_set_find(ns->plugins, np->name), PLUGIN_CALL_SAVE_STATE, dev, NULL, 0,
                ns->max_state_bytes, ns->plugin_timeout_ms, state_saved, nic_guard_new(ns));
    return TRUE;
}

static void
state_next(NicSteps *ns)
{
    g_autoptr(PluginDevice) dev = NULL;
    g_autofree char *reason = NULL;
    Plugin *p;
    Nic *n;

    while (ns->state_nic < ns->nics->len &&
           nic_at(ns, ns->state_nic)->strategy == NIC_STRATEGY_NONE)
        ns->state_nic++;
    if (ns->state_nic >= ns->nics->len) {
        ns->state_done(ns, NULL);
        return;
    }
    n = nic_at(ns, ns->state_nic);
    if (ns->state_saving) {
        if (!state_save_next(ns, n))
            state_next_nic(ns);
        return;
    }
    p = state_plugin(ns, ns->state_plugin);
    if (p) {
        dev = nic_state_device(ns, n);
        plugin_call(p, PLUGIN_CALL_PROBE, dev, NULL, 0, 0, ns->plugin_timeout_ms, state_probed,
                    nic_guard_new(ns));
        return;
    }
    /* Every plugin was asked: now the ones that carry state save it. */
    reason = state_vouched(n);
    if (reason) {
        state_fail(ns, reason);
        return;
    }
    ns->state_saving = TRUE;
    ns->state_plugin = 0;
    state_next(ns);
}

void
nic_state_save(NicSteps *ns, NicStateSaved done)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);

        g_ptr_array_set_size(n->plugins, 0);
        n->source_vouch = 0;
    }
    ns->state_nic = 0;
    ns->state_plugin = 0;
    ns->state_saving = FALSE;
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

        for (guint j = 0; j < n->plugins->len; j++) {
            const NicPlugin *np = nic_plugin_at(n, j);

            if (np->frame)
                json_array_append_new(states, json_pack("{s:s,s:s,s:s}", "alias", n->dom->alias,
                                                        "plugin", np->name, "frame",
                                                        np->frame));
        }
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

/* @n's plugin called @name, or NULL. */
static NicPlugin *
state_find(const Nic *n, const char *name)
{
    for (guint i = 0; name && i < n->plugins->len; i++) {
        if (strcmp(nic_plugin_at(n, i)->name, name) == 0)
            return nic_plugin_at(n, i);
    }
    return NULL;
}

/* The figures of @n's plugins from its "states" in the reservation. */
static void
state_take_figures(Nic *n, json_t *states, gint64 round_trip_ms)
{
    size_t i;
    json_t *state;

    json_array_foreach(states, i, state) {
        NicPlugin *np = state_find(n, json_string_value(json_object_get(state, "plugin")));

        if (!np)
            continue;
        np->check_ms = json_ms_or(state, "check_ms", np->check_ms);
        np->restore_ms = json_ms_or(state, "restore_ms", np->restore_ms);
        if (round_trip_ms >= 0 && np->frame)
            np->transfer_ms = MAX(round_trip_ms - MAX(np->check_ms, 0), 0);
    }
}

void
nic_state_take_answer(NicSteps *ns, json_t *reservation, gint64 sent_us)
{
    gint64 round_trip_ms = sent_us ? (g_get_monotonic_time() - sent_us) / 1000 : -1;
    size_t i;
    json_t *item;

    json_array_foreach(json_object_get(reservation, "nics"), i, item) {
        const char *alias = json_string_value(json_object_get(item, "alias"));

        for (guint j = 0; j < ns->nics->len; j++) {
            Nic *n = nic_at(ns, j);

            if (g_strcmp0(n->dom->alias, alias) == 0)
                state_take_figures(n, json_object_get(item, "states"), round_trip_ms);
        }
    }
}

/* --- abort -------------------------------------------------------------------- */

void
nic_state_abort(NicSteps *ns)
{
    for (guint i = 0; i < ns->nics->len; i++) {
        Nic *n = nic_at(ns, i);

        for (guint j = 0; j < n->plugins->len; j++) {
            NicPlugin *np = nic_plugin_at(n, j);
            Plugin *p = ns->plugins ? plugin_set_find(ns->plugins, np->name) : NULL;
            g_autoptr(PluginDevice) dev = NULL;

            if (!p || !np->called || np->aborted)
                continue;
            np->aborted = TRUE;
            dev = nic_state_device(ns, n);
            plugin_call_abort(p, dev, ns->plugin_timeout_ms);
        }
    }
}

/* --- the record --------------------------------------------------------------- */

static json_t *
state_plugin_to_json(const NicPlugin *np)
{
    return json_pack("{s:s,s:o,s:b,s:b,s:I,s:o,s:o,s:o,s:o,s:o,s:b}", "name", np->name,
                     "vouches", state_vouches_json(plugin_vouch(np->flags)), "state",
                     (np->flags & MIGD_PROBE_STATE) != 0, "called", np->called,
                     "stop_copy_bytes", (json_int_t)np->stop_copy_bytes, "state_bytes",
                     json_count_or_null(np->state_bytes), "save_ms",
                     json_count_or_null(np->save_ms), "transfer_ms",
                     json_count_or_null(np->transfer_ms), "check_ms",
                     json_count_or_null(np->check_ms), "restore_ms",
                     json_count_or_null(np->restore_ms), "aborted", np->aborted);
}

json_t *
nic_state_to_json(const Nic *n)
{
    json_t *list = json_array();

    for (guint i = 0; i < n->plugins->len; i++)
        json_array_append_new(list, state_plugin_to_json(nic_plugin_at(n, i)));
    return list;
}

static guint
state_flags_from_json(json_t *plugin)
{
    size_t i;
    json_t *v;
    guint flags = MIGD_PROBE_HANDLES;

    if (json_is_true(json_object_get(plugin, "state")))
        flags |= MIGD_PROBE_STATE;
    json_array_foreach(json_object_get(plugin, "vouches"), i, v) {
        flags |= g_strcmp0(json_string_value(v), "native") == 0  ? MIGD_PROBE_NATIVE
                 : g_strcmp0(json_string_value(v), "pause") == 0 ? MIGD_PROBE_PAUSE
                                                                 : 0;
    }
    return flags;
}

static NicPlugin *
state_plugin_from_json(json_t *plugin)
{
    const char *name = json_string_value(json_object_get(plugin, "name"));
    NicPlugin *np;

    if (!name)
        return NULL;
    np = nic_plugin_new(name, state_flags_from_json(plugin));
    np->stop_copy_bytes = (guint64)MAX(json_ms_or(plugin, "stop_copy_bytes", 0), 0);
    np->state_bytes = json_ms_or(plugin, "state_bytes", -1);
    np->save_ms = json_ms_or(plugin, "save_ms", -1);
    np->transfer_ms = json_ms_or(plugin, "transfer_ms", -1);
    np->check_ms = json_ms_or(plugin, "check_ms", -1);
    np->restore_ms = json_ms_or(plugin, "restore_ms", -1);
    np->aborted = json_is_true(json_object_get(plugin, "aborted"));
    np->called = json_is_boolean(json_object_get(plugin, "called"))
                     ? json_is_true(json_object_get(plugin, "called"))
                     : TRUE;
    return np;
}

void
nic_state_from_json(Nic *n, json_t *device)
{
    json_t *plugins = json_object_get(device, "plugins");
    json_t *one = json_object_get(device, "plugin");
    size_t i;
    json_t *item;

    g_ptr_array_set_size(n->plugins, 0);
    /* A record from a migd before several plugins per NIC: "plugin", the
     * one whose save_state (or pre_switchover) was called. */
    if (!plugins && json_is_object(one)) {
        NicPlugin *np = state_plugin_from_json(one);

        if (np) {
            np->flags |= np->state_bytes >= 0 ? MIGD_PROBE_STATE : 0;
            g_ptr_array_add(n->plugins, np);
        }
        return;
    }
    json_array_foreach(plugins, i, item) {
        NicPlugin *np = state_plugin_from_json(item);

        if (np)
            g_ptr_array_add(n->plugins, np);
    }
}
