/* The destination's side of a NIC's device state: the frames that come with
 * the prepare (one per NIC and plugin) are decoded and refused when
 * damaged, too large or for a plugin this host does not have; each plugin
 * checks its state (in a worker) before the prepare is answered, NIC after
 * NIC and, per NIC, in this host's loading order; accepted states are kept
 * with the reservation in reservations.json, restored in that order onto
 * the leased VFs (a VF of an sriov pool before it is plugged in, an
 * emulated stand-in once it is), and undone (abort, by every plugin that
 * checked or restored one) when the job fails. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "log.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "pool.h"

static void
res_state_free(gpointer data)
{
    ResState *st = data;

    g_free(st->plugin);
    g_free(st->frame);
    g_free(st);
}

static ResState *
res_state_new(const char *plugin, const char *frame)
{
    ResState *st = g_new0(ResState, 1);

    st->plugin = g_strdup(plugin);
    st->frame = g_strdup(frame);
    st->bytes = st->check_ms = st->restore_ms = -1;
    return st;
}

void
dest_state_clear(ResNic *n)
{
    if (n->states)
        g_ptr_array_set_size(n->states, 0);
    else
        n->states = g_ptr_array_new_with_free_func(res_state_free);
    n->restored = FALSE;
}

static ResState *
res_state_at(const ResNic *n, guint i)
{
    return g_ptr_array_index(n->states, i);
}

gboolean
dest_state_pending(const ResNic *n)
{
    for (guint i = 0; i < n->states->len; i++) {
        if (!res_state_at(n, i)->restored)
            return TRUE;
    }
    return FALSE;
}

static ResNic *
state_nic(Reservation *r, const char *alias)
{
    for (guint i = 0; i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);

        if (g_strcmp0(n->alias, alias) == 0)
            return n;
    }
    return NULL;
}

/* What the plugins are told of @n, the leased VF on this host: for an
 * sriov pool also its index on the PF and the PF's netdev, as sysfs shows
 * them now (-1 and none when the VF is gone from the PF). */
PluginDevice *
dest_state_device(Incoming *in, const Reservation *r, const ResNic *n)
{
    const MigdPoolConf *pc = conf_find_pool(in->conf, n->pool);
    gboolean sriov = pc && pc->type == POOL_SRIOV;
    g_autofree char *pf_netdev = NULL;
    int vf_index = -1;
    PluginDevice dev = {
        .kind = sriov ? MIGD_DEVICE_VF
                : pc && pc->type == POOL_VDPA ? MIGD_DEVICE_VDPA : MIGD_DEVICE_EMULATED,
        .side = MIGD_SIDE_DESTINATION,
        .pci_address = sriov ? n->address : NULL,
        .pf_address = sriov ? pc->pf : NULL,
        .netdev = sriov ? NULL : n->address,
        .mac = n->mac,
        .pool = n->pool,
        .domain = r->domain,
        .alias = n->alias,
        .job = r->id,
        .vf_index = -1,
        .vlan = (int)n->vlan,
    };

    if (sriov && pool_vf_place(pc->sysfs_root, pc->pf, n->address, &vf_index, &pf_netdev)) {
        dev.vf_index = vf_index;
        dev.pf_netdev = pf_netdev;
    }

    return plugin_device_copy(&dev);
}

static Plugin *
state_find_plugin(Incoming *in, const char *name)
{
    return in->plugins && name ? plugin_set_find(in->plugins, name) : NULL;
}

/* @name's place in this host's loading order. */
static guint
state_plugin_index(Incoming *in, const char *name)
{
    GPtrArray *plugins = in->plugins ? plugin_set_plugins(in->plugins) : NULL;

    for (guint i = 0; plugins && i < plugins->len; i++) {
        if (strcmp(plugin_name(g_ptr_array_index(plugins, i)), name) == 0)
            return i;
    }
    return G_MAXUINT;
}

static guint
state_nic_index(Reservation *r, const ResNic *n)
{
    guint i = 0;

    while (i < r->nics->len && g_ptr_array_index(r->nics, i) != n)
        i++;
    return i;
}

/* --- the prepare's frames ------------------------------------------------------ */

typedef struct {
    ResNic *nic;        /* borrowed from the reservation: looked up again after a call */
    char *alias;
    char *plugin;
    char *text;         /* the frame as it came */
    PluginFrame frame;
    guint nic_index, plugin_index;  /* where it is checked and restored: see state_order() */
    gint64 check_ms;
} StateIn;

static void
state_in_free(gpointer data)
{
    StateIn *s = data;

    g_free(s->alias);
    g_free(s->plugin);
    g_free(s->text);
    plugin_frame_clear(&s->frame);
    g_free(s);
}

static char *
state_loaded_names(Incoming *in)
{
    GPtrArray *plugins = in->plugins ? plugin_set_plugins(in->plugins) : NULL;
    g_autoptr(GString) names = g_string_new(NULL);

    for (guint i = 0; plugins && i < plugins->len; i++)
        g_string_append_printf(names, "%s%s", names->len ? ", " : "",
                               plugin_name(g_ptr_array_index(plugins, i)));
    return names->len ? g_string_free(g_steal_pointer(&names), FALSE) : g_strdup("none");
}

/* states[@i] of the body, decoded; NULL with @error naming what is wrong. */
static StateIn *
state_decode(Incoming *in, Reservation *r, json_t *item, size_t i, GError **error)
{
    g_autoptr(GError) local = NULL;
    const char *alias, *plugin, *frame;
    g_autofree char *loaded = NULL;
    json_error_t jerr;
    StateIn *s;

    if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s,s:s,s:s}", "alias", &alias, "plugin",
                       &plugin, "frame", &frame) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "states[%zu] of the prepare is not valid: %s", i, jerr.text);
        return NULL;
    }
    if (!state_nic(r, alias)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "states[%zu] is for NIC %s, which the reservation %s does not have", i,
                    alias, r->id);
        return NULL;
    }
    s = g_new0(StateIn, 1);
    s->nic = state_nic(r, alias);
    s->alias = g_strdup(alias);
    s->plugin = g_strdup(plugin);
    s->text = g_strdup(frame);
    if (!plugin_frame_decode(frame, in->conf->plugin_max_state_bytes, &s->frame, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the device state of NIC %s from plugin %s is refused: %s", alias, plugin,
                    local->message);
    } else if (strcmp(s->frame.alias, alias) != 0 || strcmp(s->frame.plugin, plugin) != 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the device state of NIC %s from plugin %s is refused: its frame says it "
                    "is plugin %s's state of NIC %s", alias, plugin, s->frame.plugin,
                    s->frame.alias);
    } else if (!state_find_plugin(in, plugin)) {
        loaded = state_loaded_names(in);
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "the device state of NIC %s is refused: this host has no plugin %s "
                    "(loaded: %s); install it here or migrate to a host that has it", alias,
                    plugin, loaded);
    } else if (s->frame.abi_major != MIGD_PLUGIN_ABI_MAJOR) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "the device state of NIC %s from plugin %s is refused: it was written for "
                    "plugin ABI %u, and this migd speaks %u", alias, plugin,
                    s->frame.abi_major, MIGD_PLUGIN_ABI_MAJOR);
    } else {
        s->nic_index = state_nic_index(r, s->nic);
        s->plugin_index = state_plugin_index(in, plugin);
        return s;
    }
    state_in_free(s);
    return NULL;
}

/* NIC after NIC as the reservation has them; a NIC's states in this
 * host's loading order. */
static gint
state_order(gconstpointer a, gconstpointer b)
{
    const StateIn *x = *(StateIn *const *)a, *y = *(StateIn *const *)b;

    if (x->nic_index != y->nic_index)
        return x->nic_index < y->nic_index ? -1 : 1;
    return x->plugin_index < y->plugin_index ? -1 : x->plugin_index > y->plugin_index;
}

/* --- strategy auto: the NICs whose strategy this host's plugins settle ----------- */

typedef struct {
    char *alias;
    guint source_vouch;     /* MIGD_PROBE_NATIVE, _PAUSE: what the source's plugins vouch for */
    gboolean unplug;        /* it has a standby on the source */
    NicStrategy strategy;   /* settled; applied once every state passed its check */
    char *chosen;
} StateChoice;

static void
state_choice_free(gpointer data)
{
    StateChoice *ch = data;

    g_free(ch->alias);
    g_free(ch->chosen);
    g_free(ch);
}

/* choose[@i] of the body; NULL with @error naming what is wrong. */
static StateChoice *
state_choice_decode(Reservation *r, GPtrArray *list, json_t *item, size_t i, GError **error)
{
    StateChoice *ch;
    const char *alias;
    json_t *vouches, *v;
    int unplug;
    json_error_t jerr;
    size_t j;

    if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s,s:o,s:b}", "alias", &alias, "vouches",
                       &vouches, "unplug", &unplug) < 0 || !json_is_array(vouches)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "choose[%zu] of the prepare is not valid: %s", i,
                    json_is_array(vouches) ? jerr.text : "'vouches' must be an array");
        return NULL;
    }
    if (!state_nic(r, alias)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "choose[%zu] is for NIC %s, which the reservation %s does not have", i,
                    alias, r->id);
        return NULL;
    }
    for (guint k = 0; k < list->len; k++) {
        if (strcmp(((StateChoice *)g_ptr_array_index(list, k))->alias, alias) == 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "choose[%zu] asks a second time about NIC %s", i, alias);
            return NULL;
        }
    }
    ch = g_new0(StateChoice, 1);
    ch->alias = g_strdup(alias);
    ch->unplug = unplug;
    json_array_foreach(vouches, j, v) {
        const char *name = json_string_value(v);

        if (g_strcmp0(name, "native") == 0) {
            ch->source_vouch |= MIGD_PROBE_NATIVE;
        } else if (g_strcmp0(name, "pause") == 0) {
            ch->source_vouch |= MIGD_PROBE_PAUSE;
        } else {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "choose[%zu].vouches[%zu] is not native or pause", i, j);
            state_choice_free(ch);
            return NULL;
        }
    }
    return ch;
}

static GPtrArray *
state_choices_decode(Reservation *r, json_t *choose, GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(state_choice_free);
    json_t *item;
    size_t i;

    json_array_foreach(choose, i, item) {
        StateChoice *ch = state_choice_decode(r, list, item, i, error);

        if (!ch)
            return NULL;
        g_ptr_array_add(list, ch);
    }
    return g_steal_pointer(&list);
}

static GPtrArray *
state_decode_all(Incoming *in, Reservation *r, json_t *body, GPtrArray **ret_choices,
                 GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(state_in_free);
    g_autoptr(GPtrArray) choices = NULL;
    json_t *states = NULL, *choose = NULL, *item;
    json_error_t jerr;
    size_t i;

    if (!body) {
        *ret_choices = g_ptr_array_new_with_free_func(state_choice_free);
        return g_steal_pointer(&list);
    }
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?o,s?o}", "states",
                       &states, "choose", &choose) < 0 ||
        (states && !json_is_array(states)) || (choose && !json_is_array(choose))) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the prepare's body is not valid: %s",
                    states && !json_is_array(states)   ? "'states' must be an array"
                    : choose && !json_is_array(choose) ? "'choose' must be an array"
                                                       : jerr.text);
        return NULL;
    }
    choices = state_choices_decode(r, choose, error);
    if (!choices)
        return NULL;
    json_array_foreach(states, i, item) {
        StateIn *s = state_decode(in, r, item, i, error);

        if (!s)
            return NULL;
        for (guint j = 0; j < list->len; j++) {
            StateIn *other = g_ptr_array_index(list, j);

            if (strcmp(other->alias, s->alias) == 0 && strcmp(other->plugin, s->plugin) == 0) {
                g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                            "states[%zu] is a second device state from plugin %s for NIC %s",
                            i, s->plugin, s->alias);
                state_in_free(s);
                return NULL;
            }
        }
        g_ptr_array_add(list, s);
    }
    g_ptr_array_sort(list, state_order);
    *ret_choices = g_steal_pointer(&choices);
    return g_steal_pointer(&list);
}

/* --- checking ------------------------------------------------------------------- */

typedef struct {
    Incoming *in;       /* not touched once @alive is cancelled */
    GCancellable *alive;
    char *id;
    GPtrArray *states;  /* StateIn* */
    GPtrArray *choices; /* StateChoice*: asked before the states are checked */
    guint choice, choice_plugin;
    guint choice_flags;     /* the OR of the probe flags of the plugins here that claim it */
    GString *choice_names;  /* "plugin a, plugin b": those plugins */
    guint index;
    IncomingAnswer answer;
    gpointer data;
} StateCheck;

static void
state_check_free(StateCheck *c)
{
    g_object_unref(c->alive);
    g_free(c->id);
    g_ptr_array_unref(c->states);
    g_ptr_array_unref(c->choices);
    g_string_free(c->choice_names, TRUE);
    g_free(c);
}

static void
state_check_answer(StateCheck *c, Reservation *r, const GError *error)
{
    g_autoptr(json_t) result = NULL;
    g_autoptr(GError) local = NULL;

    if (!error) {
        result = incoming_prepare(c->in, r->id, &local);
        error = local;
    }
    c->answer(result, error, c->data);
    state_check_free(c);
}

/* A refusal: every plugin that checked a state, the refusing one too,
 * undoes whatever it did. */
static void
state_check_refused(StateCheck *c, Reservation *r, const GError *error)
{
    for (guint i = 0; i < r->nics->len; i++)
        dest_state_clear(g_ptr_array_index(r->nics, i));
    for (guint i = 0; i <= c->index && i < c->states->len; i++) {
        StateIn *s = g_ptr_array_index(c->states, i);

        g_ptr_array_add(s->nic->states, res_state_new(s->plugin, NULL));
    }
    dest_state_abort(r);
    for (guint i = 0; i < r->nics->len; i++)
        dest_state_clear(g_ptr_array_index(r->nics, i));
    state_check_answer(c, r, error);
}

/* The job's strategy, from its NICs' (strategy auto settled some). */
static void
state_summarize(Reservation *r)
{
    for (guint i = 0; i < r->nics->len; i++) {
        NicStrategy s = ((ResNic *)g_ptr_array_index(r->nics, i))->strategy;

        r->strategy = i == 0 || r->strategy == s ? s : NIC_STRATEGY_MIXED;
    }
}

/* Every state passed its check: kept with the reservation, and the
 * strategies this host's plugins chose with them. */
static void
state_keep(StateCheck *c, Reservation *r)
{
    for (guint i = 0; i < c->choices->len; i++) {
        StateChoice *ch = g_ptr_array_index(c->choices, i);
        ResNic *n = state_nic(r, ch->alias);

        n->strategy = ch->strategy;
        g_free(n->chosen);
        n->chosen = g_strdup(ch->chosen);
        log_structured(G_LOG_LEVEL_MESSAGE,
                       LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "Job %s: strategy auto gives %s's NIC %s the strategy %s: %s", r->id,
                       r->domain, n->alias, nic_strategy_to_string(n->strategy), n->chosen);
    }
    if (c->choices->len)
        state_summarize(r);
    for (guint i = 0; i < r->nics->len; i++)
        dest_state_clear(g_ptr_array_index(r->nics, i));
    for (guint i = 0; i < c->states->len; i++) {
        StateIn *s = g_ptr_array_index(c->states, i);
        ResState *st = res_state_new(s->plugin, s->text);

        st->bytes = (gint64)g_bytes_get_size(s->frame.state);
        st->check_ms = s->check_ms;
        g_ptr_array_add(s->nic->states, st);
    }
    if (c->states->len)
        log_structured(G_LOG_LEVEL_MESSAGE,
                       LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "Job %s: the plugins here accept the %u device state%s of %s's NICs",
                       r->id, c->states->len, c->states->len == 1 ? "" : "s", r->domain);
}

/* The states' NICs in @r, looked up again after a call (the reservation
 * may have been released and made again meanwhile); FALSE when one of
 * them is gone. */
static gboolean
state_check_rebind(StateCheck *c, Reservation *r)
{
    for (guint i = 0; i < c->states->len; i++) {
        StateIn *s = g_ptr_array_index(c->states, i);

        s->nic = state_nic(r, s->alias);
        if (!s->nic)
            return FALSE;
    }
    return TRUE;
}

static void state_check_next(StateCheck *c, Reservation *r);

static void
state_checked(const PluginCallResult *res, gpointer data)
{
    StateCheck *c = data;
    StateIn *s;
    Reservation *r;
    g_autoptr(GError) error = NULL;

    if (g_cancellable_is_cancelled(c->alive)) {
        state_check_free(c);    /* migd stops: nobody to answer */
        return;
    }
    r = dest_lookup(c->in, c->id, &error);
    if (r && !state_check_rebind(c, r))
        g_set_error(&error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                    "the reservation %s was released and made again while its device states "
                    "were checked", c->id);
    if (error) {
        state_check_answer(c, NULL, error);
        return;
    }
    s = g_ptr_array_index(c->states, c->index);
    s->check_ms = res->elapsed_ms;
    if (res->rc != 0) {
        g_set_error(&error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "the destination refuses the device state of NIC %s: %s", s->alias,
                    res->error);
        state_check_refused(c, r, error);
        return;
    }
    c->index++;
    state_check_next(c, r);
}

static void
state_check_next(StateCheck *c, Reservation *r)
{
    g_autoptr(PluginDevice) dev = NULL;
    StateIn *s;

    if (c->index >= c->states->len) {
        state_keep(c, r);
        state_check_answer(c, r, NULL);
        return;
    }
    s = g_ptr_array_index(c->states, c->index);
    dev = dest_state_device(c->in, r, s->nic);
    plugin_call(state_find_plugin(c->in, s->plugin), PLUGIN_CALL_CHECK_STATE, dev,
                s->frame.state, s->frame.state_version, 0,
                c->in->conf->plugin_call_timeout_s * 1000, state_checked, c);
}

/* --- strategy auto: choosing ------------------------------------------------------ */

static const char *
state_vouch_words(guint vouch)
{
    return (vouch & MIGD_PROBE_NATIVE) && (vouch & MIGD_PROBE_PAUSE) ? "native and pause"
           : vouch & MIGD_PROBE_NATIVE                               ? "native"
           : vouch & MIGD_PROBE_PAUSE                                ? "pause"
                                                                     : "nothing";
}

/* @ch settled from what @names here (empty: none handles the NIC)
 * vouch for together (@vouch, plugin_vouch()); FALSE with @error when no
 * strategy is left. */
static gboolean
state_choose(StateChoice *ch, const char *names, guint vouch, GError **error)
{
    guint both = ch->source_vouch & vouch;
    g_autofree char *here =
        !*names ? g_strdup("no plugin here handles it")
        : strchr(names, ',')
            ? g_strdup_printf("%s here vouch together for %s", names, state_vouch_words(vouch))
            : g_strdup_printf("%s here vouches for %s", names, state_vouch_words(vouch));

    if (both & MIGD_PROBE_NATIVE) {
        ch->strategy = NIC_STRATEGY_NATIVE;
        ch->chosen = g_strdup_printf("the plugins of both hosts vouch that it can stay attached "
                                     "and migrate inside QEMU (%s)", here);
    } else if (both & MIGD_PROBE_PAUSE) {
        ch->strategy = NIC_STRATEGY_PAUSE;
        ch->chosen = g_strdup_printf("the plugins of both hosts vouch that it can stay attached "
                                     "while migd pauses the guest at switchover (%s)", here);
    } else if (ch->unplug) {
        ch->strategy = NIC_STRATEGY_UNPLUG;
        ch->chosen = g_strdup_printf("the source's plugins vouch for %s and %s, so it cannot "
                                     "stay attached", state_vouch_words(ch->source_vouch),
                                     here);
    } else {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "strategy auto: NIC %s has no standby on the source, so it cannot be "
                    "unplugged, and it cannot stay attached either: the source's plugins "
                    "vouch for %s and %s; nothing was changed", ch->alias,
                    state_vouch_words(ch->source_vouch), here);
        return FALSE;
    }
    return TRUE;
}

static Plugin *
state_choice_plugin(StateCheck *c)
{
    GPtrArray *plugins = c->in->plugins ? plugin_set_plugins(c->in->plugins) : NULL;

    return plugins && c->choice_plugin < plugins->len
               ? g_ptr_array_index(plugins, c->choice_plugin)
               : NULL;
}

static void state_choose_next(StateCheck *c, Reservation *r);

/* Every plugin here was asked about the choice: the next choice, or the
 * checks once every choice is made; @error ends it. */
static void
state_chosen(StateCheck *c, Reservation *r)
{
    g_autoptr(GError) error = NULL;

    if (!state_choose(g_ptr_array_index(c->choices, c->choice), c->choice_names->str,
                      plugin_vouch(c->choice_flags), &error)) {
        state_check_answer(c, r, error);
        return;
    }
    c->choice++;
    c->choice_plugin = 0;
    c->choice_flags = 0;
    g_string_truncate(c->choice_names, 0);
    state_choose_next(c, r);
}

static void
state_choice_probed(const PluginCallResult *res, gpointer data)
{
    StateCheck *c = data;
    StateChoice *ch;
    Reservation *r;
    g_autoptr(GError) error = NULL;

    if (g_cancellable_is_cancelled(c->alive)) {
        state_check_free(c);
        return;
    }
    r = dest_lookup(c->in, c->id, &error);
    ch = g_ptr_array_index(c->choices, c->choice);
    if (r && (!state_nic(r, ch->alias) || !state_check_rebind(c, r)))
        g_set_error(&error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                    "the reservation %s was released and made again while its NICs' "
                    "strategies were chosen", c->id);
    if (!error && res->rc != 0)
        g_set_error(&error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                    "strategy auto: plugin %s here could not be asked about NIC %s: %s",
                    plugin_name(state_choice_plugin(c)), ch->alias, res->error);
    if (error) {
        state_check_answer(c, r, error);
        return;
    }
    if (res->probe.flags & MIGD_PROBE_HANDLES) {
        c->choice_flags |= res->probe.flags;
        g_string_append_printf(c->choice_names, "%splugin %s", c->choice_names->len ? ", " : "",
                               plugin_name(state_choice_plugin(c)));
    }
    c->choice_plugin++;
    state_choose_next(c, r);
}

static void
state_choose_next(StateCheck *c, Reservation *r)
{
    g_autoptr(PluginDevice) dev = NULL;
    Plugin *p;

    if (c->choice >= c->choices->len) {
        state_check_next(c, r);
        return;
    }
    p = state_choice_plugin(c);
    if (!p) {
        state_chosen(c, r);
        return;
    }
    dev = dest_state_device(c->in, r,
                            state_nic(r, ((StateChoice *)g_ptr_array_index(c->choices,
                                                                            c->choice))->alias));
    plugin_call(p, PLUGIN_CALL_PROBE, dev, NULL, 0, 0, c->in->conf->plugin_call_timeout_s * 1000,
                state_choice_probed, c);
}

void
dest_state_prepare(Incoming *in, Reservation *r, json_t *body, IncomingAnswer answer,
                   gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) choices = NULL;
    g_autoptr(GPtrArray) states = state_decode_all(in, r, body, &choices, &error);
    StateCheck *c;

    if (!states) {
        answer(NULL, error, data);
        return;
    }
    c = g_new0(StateCheck, 1);
    c->in = in;
    c->alive = g_object_ref(in->cancellable);
    c->id = g_strdup(r->id);
    c->states = g_steal_pointer(&states);
    c->choices = g_steal_pointer(&choices);
    c->choice_names = g_string_new(NULL);
    c->answer = answer;
    c->data = data;
    state_choose_next(c, r);
}

/* --- restoring ------------------------------------------------------------------ */

typedef struct {
    Reservation *r;     /* not touched once @alive is cancelled */
    GCancellable *alive;
    ResNic *nic;
    ResState *state;
    ResNic *only;
    DestRestored done;
} StateRestore;

static void state_restore_next(Reservation *r, ResNic *only, DestRestored done);

static void
state_restore_fail(Reservation *r, DestRestored done, const char *why)
{
    r->restoring = FALSE;
    dest_state_abort(r);
    done(r, why);
}

static void
state_restored(const PluginCallResult *res, gpointer data)
{
    StateRestore *s = data;
    Reservation *r = s->r;
    ResNic *n = s->nic;
    ResState *st = s->state;
    ResNic *only = s->only;
    DestRestored done = s->done;
    g_autofree char *why = NULL;
    gboolean gone = g_cancellable_is_cancelled(s->alive);

    g_object_unref(s->alive);
    g_free(s);
    if (gone)
        return;
    st->restore_ms = res->elapsed_ms;
    if (res->rc != 0) {
        why = g_strdup_printf("the device state of %s was not restored onto the VF %s: %s; its "
                              "plugins were asked to undo what they did", n->alias, n->address,
                              res->error);
        state_restore_fail(r, done, why);
        return;
    }
    st->restored = TRUE;
    n->restored = !dest_state_pending(n);
    dest_save_or_warn(r->in);
    state_restore_next(r, only, done);
}

/* The next state to restore, NIC after NIC, in each NIC's order. */
static ResState *
state_restore_pick(Reservation *r, ResNic *only, ResNic **ret_nic)
{
    for (guint i = 0; i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);

        for (guint j = 0; (!only || n == only) && j < n->states->len; j++) {
            if (!res_state_at(n, j)->restored) {
                *ret_nic = n;
                return res_state_at(n, j);
            }
        }
    }
    return NULL;
}

static void
state_restore_next(Reservation *r, ResNic *only, DestRestored done)
{
    g_autoptr(GError) error = NULL;
    g_auto(PluginFrame) frame = { 0 };
    g_autoptr(PluginDevice) dev = NULL;
    g_autofree char *why = NULL;
    StateRestore *s;
    ResNic *n = NULL;
    ResState *st = state_restore_pick(r, only, &n);
    Plugin *p;

    if (!st) {
        r->restoring = FALSE;
        done(r, NULL);
        return;
    }
    p = state_find_plugin(r->in, st->plugin);
    /* Decoded again: the checksum also guards what lay on disk. */
    if (!p || !plugin_frame_decode(st->frame, G_MAXSIZE, &frame, &error)) {
        why = g_strdup_printf("the device state of %s from plugin %s was not restored: %s",
                              n->alias, st->plugin,
                              p ? error->message : "the plugin is no longer loaded here");
        state_restore_fail(r, done, why);
        return;
    }
    s = g_new0(StateRestore, 1);
    s->r = r;
    s->alive = g_object_ref(r->cancellable);
    s->nic = n;
    s->state = st;
    s->only = only;
    s->done = done;
    dev = dest_state_device(r->in, r, n);
    plugin_call(p, PLUGIN_CALL_RESTORE_STATE, dev, frame.state, frame.state_version, 0,
                r->in->conf->plugin_call_timeout_s * 1000, state_restored, s);
}

void
dest_state_restore(Reservation *r, ResNic *only, DestRestored done)
{
    r->restoring = TRUE;
    state_restore_next(r, only, done);
}

/* --- after the switchover ---------------------------------------------------------- */

ResState *
dest_state_next_post(Reservation *r, NicStrategy strategy, guint *nic, guint *state,
                     Plugin **ret_plugin)
{
    for (; *nic < r->nics->len; (*nic)++, *state = 0) {
        ResNic *n = g_ptr_array_index(r->nics, *nic);

        for (; n->strategy == strategy && *state < n->states->len; (*state)++) {
            ResState *st = res_state_at(n, *state);
            Plugin *p = st->restored ? state_find_plugin(r->in, st->plugin) : NULL;

            if (p) {
                *ret_plugin = p;
                return st;
            }
        }
    }
    return NULL;
}

void
dest_state_post_failed(Reservation *r, GString *errors, const ResState *st, const ResNic *n,
                       const char *error)
{
    log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                   "Plugin %s says %s of %s is not right after the switchover "
                   "(post_switchover): %s", st->plugin, n->alias, r->domain, error);
    g_string_append_printf(errors, "%splugin %s for %s: %s", errors->len ? "; " : "",
                           st->plugin, n->alias, error);
}

typedef struct {
    Reservation *r;
    GCancellable *alive;        /* @r's: cancelled when it goes */
    guint nic, state;
    GString *errors;
    DestRestored done;
} StatePost;

static void state_post_next(StatePost *s);

static void
state_posted(const PluginCallResult *res, gpointer data)
{
    StatePost *s = data;
    ResNic *n;

    if (g_cancellable_is_cancelled(s->alive)) {
        g_object_unref(s->alive);
        g_string_free(s->errors, TRUE);
        g_free(s);
        return;
    }
    n = g_ptr_array_index(s->r->nics, s->nic);
    if (res->rc != 0)
        dest_state_post_failed(s->r, s->errors, res_state_at(n, s->state), n, res->error);
    s->state++;
    state_post_next(s);
}

static void
state_post_next(StatePost *s)
{
    Reservation *r = s->r;
    Plugin *p;
    g_autoptr(PluginDevice) dev = NULL;

    if (dest_state_next_post(r, NIC_STRATEGY_NATIVE, &s->nic, &s->state, &p)) {
        dev = dest_state_device(r->in, r, g_ptr_array_index(r->nics, s->nic));
        plugin_call(p, PLUGIN_CALL_POST_SWITCHOVER, dev, NULL, 0, 0,
                    r->in->conf->plugin_call_timeout_s * 1000, state_posted, s);
        return;
    }
    /* The device moved with the guest and runs: a plugin's doubt is told,
     * not undone (there is nothing left to undo it to). */
    g_free(r->post_switchover_error);
    r->post_switchover_error = s->errors->len ? g_strdup(s->errors->str) : NULL;
    g_object_unref(s->alive);
    g_string_free(s->errors, TRUE);
    s->done(r, NULL);
    g_free(s);
}

void
dest_state_post_switchover(Reservation *r, DestRestored done)
{
    StatePost *s = g_new0(StatePost, 1);

    s->r = r;
    s->alive = g_object_ref(r->cancellable);
    s->errors = g_string_new(NULL);
    s->done = done;
    state_post_next(s);
}

/* --- abort ---------------------------------------------------------------------- */

void
dest_state_abort(Reservation *r)
{
    for (guint i = 0; i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);

        for (guint j = 0; j < n->states->len; j++) {
            ResState *st = res_state_at(n, j);
            Plugin *p = state_find_plugin(r->in, st->plugin);
            g_autoptr(PluginDevice) dev = NULL;

            if (!p || st->aborted)
                continue;
            st->aborted = TRUE;
            dev = dest_state_device(r->in, r, n);
            plugin_call_abort(p, dev, r->in->conf->plugin_call_timeout_s * 1000);
        }
    }
}

/* --- JSON ----------------------------------------------------------------------- */

json_t *
dest_state_to_json(const ResNic *n)
{
    json_t *list = json_array();

    for (guint i = 0; i < n->states->len; i++) {
        const ResState *st = res_state_at(n, i);

        json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:o,s:b}", "plugin", st->plugin,
                                              "bytes", json_count_or_null(st->bytes),
                                              "check_ms", json_count_or_null(st->check_ms),
                                              "restore_ms", json_count_or_null(st->restore_ms),
                                              "restored", st->restored));
    }
    return list;
}

json_t *
dest_state_to_record(const ResNic *n)
{
    json_t *list = json_array();

    for (guint i = 0; i < n->states->len; i++) {
        const ResState *st = res_state_at(n, i);

        if (!st->frame)
            continue;
        json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "plugin",
                                              st->plugin, "frame", st->frame, "bytes",
                                              (json_int_t)st->bytes, "check_ms",
                                              (json_int_t)st->check_ms, "restore_ms",
                                              (json_int_t)st->restore_ms, "restored",
                                              st->restored, "aborted", st->aborted));
    }
    return list;
}

static gboolean
state_from_record(ResNic *n, json_t *state, char **ret_why)
{
    const char *plugin, *frame;
    json_int_t bytes, check_ms, restore_ms;
    int restored, aborted;
    json_error_t jerr;
    ResState *st;

    if (json_unpack_ex(state, &jerr, JSON_STRICT, "{s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "plugin",
                       &plugin, "frame", &frame, "bytes", &bytes, "check_ms", &check_ms,
                       "restore_ms", &restore_ms, "restored", &restored, "aborted",
                       &aborted) < 0) {
        *ret_why = g_strdup_printf("holds the device state of NIC %s that is not valid (%s)",
                                   n->alias, jerr.text);
        return FALSE;
    }
    st = res_state_new(plugin, frame);
    st->bytes = bytes;
    st->check_ms = check_ms;
    st->restore_ms = restore_ms;
    st->restored = restored;
    st->aborted = aborted;
    g_ptr_array_add(n->states, st);
    return TRUE;
}

gboolean
dest_state_from_record(ResNic *n, json_t *states, json_t *state, char **ret_why)
{
    size_t i;
    json_t *item;

    dest_state_clear(n);
    if (states && !json_is_array(states)) {
        *ret_why = g_strdup_printf("holds device states of NIC %s that are not a list",
                                   n->alias);
        return FALSE;
    }
    if (!states && state && !json_is_null(state) && !state_from_record(n, state, ret_why))
        return FALSE;
    json_array_foreach(states, i, item) {
        if (!state_from_record(n, item, ret_why))
            return FALSE;
    }
    n->restored = n->states->len > 0 && !dest_state_pending(n);
    return TRUE;
}

/* --- the endpoint --------------------------------------------------------------- */

void
incoming_set_plugins(Incoming *in, PluginSet *plugins)
{
    in->plugins = plugins;
}

void
incoming_prepare_states(Incoming *in, const char *id, json_t *body, IncomingAnswer answer,
                        gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = NULL;
    Reservation *r = dest_lookup(in, id, &error);

    if (r && r->state == REPLUG_IDLE) {
        dest_state_prepare(in, r, body, answer, data);
        return;
    }
    /* Armed already (the source asked again) or not there: the same answer. */
    if (r)
        result = incoming_prepare(in, id, &error);
    answer(result, error, data);
}
