/* The destination's side of a NIC's device state: the frames that come with
 * the prepare are decoded and refused when damaged, too large or for a
 * plugin this host does not have; each plugin checks its state (in a
 * worker) before the prepare is answered; accepted states are kept with the
 * reservation in reservations.json, restored onto the leased VFs once they
 * are plugged in, and undone (abort) when the job fails. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "log.h"
#include "plugin-call.h"
#include "plugin-frame.h"

void
dest_state_clear(ResNic *n)
{
    g_clear_pointer(&n->state_plugin, g_free);
    g_clear_pointer(&n->state_frame, g_free);
    n->state_bytes = n->check_ms = n->restore_ms = -1;
    n->restored = n->state_aborted = FALSE;
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

/* What the plugins are told of @n, the leased VF on this host. */
PluginDevice *
dest_state_device(Incoming *in, const Reservation *r, const ResNic *n)
{
    const MigdPoolConf *pc = conf_find_pool(in->conf, n->pool);
    gboolean sriov = pc && pc->type == POOL_SRIOV;
    PluginDevice dev = {
        .kind = sriov ? MIGD_DEVICE_VF : MIGD_DEVICE_EMULATED,
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

    return plugin_device_copy(&dev);
}

static Plugin *
state_find_plugin(Incoming *in, const char *name)
{
    return in->plugins && name ? plugin_set_find(in->plugins, name) : NULL;
}

/* --- the prepare's frames ------------------------------------------------------ */

typedef struct {
    ResNic *nic;        /* borrowed from the reservation: looked up again after a call */
    char *alias;
    char *plugin;
    char *text;         /* the frame as it came */
    PluginFrame frame;
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
        return s;
    }
    state_in_free(s);
    return NULL;
}

static GPtrArray *
state_decode_all(Incoming *in, Reservation *r, json_t *body, GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(state_in_free);
    json_t *states = NULL, *item;
    json_error_t jerr;
    size_t i;

    if (!body)
        return g_steal_pointer(&list);
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s?o}", "states", &states) < 0 ||
        (states && !json_is_array(states))) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the prepare's body is not valid: %s",
                    states ? "'states' must be an array" : jerr.text);
        return NULL;
    }
    json_array_foreach(states, i, item) {
        StateIn *s = state_decode(in, r, item, i, error);

        if (!s)
            return NULL;
        for (guint j = 0; j < list->len; j++) {
            if (strcmp(((StateIn *)g_ptr_array_index(list, j))->alias, s->alias) == 0) {
                g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                            "states[%zu] is a second device state for NIC %s", i, s->alias);
                state_in_free(s);
                return NULL;
            }
        }
        g_ptr_array_add(list, s);
    }
    return g_steal_pointer(&list);
}

/* --- checking ------------------------------------------------------------------- */

typedef struct {
    Incoming *in;       /* not touched once @alive is cancelled */
    GCancellable *alive;
    char *id;
    GPtrArray *states;  /* StateIn* */
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

/* A refusal: the plugins that checked a state undo whatever they did. */
static void
state_check_refused(StateCheck *c, Reservation *r, const GError *error)
{
    for (guint i = 0; i <= c->index && i < c->states->len; i++) {
        StateIn *s = g_ptr_array_index(c->states, i);

        g_free(s->nic->state_plugin);
        s->nic->state_plugin = g_strdup(s->plugin);
        s->nic->state_aborted = FALSE;
    }
    dest_state_abort(r);
    for (guint i = 0; i < r->nics->len; i++)
        dest_state_clear(g_ptr_array_index(r->nics, i));
    state_check_answer(c, r, error);
}

/* Every state passed its check: kept with the reservation. */
static void
state_keep(StateCheck *c, Reservation *r)
{
    for (guint i = 0; i < r->nics->len; i++)
        dest_state_clear(g_ptr_array_index(r->nics, i));
    for (guint i = 0; i < c->states->len; i++) {
        StateIn *s = g_ptr_array_index(c->states, i);
        ResNic *n = s->nic;

        n->state_plugin = g_strdup(s->plugin);
        n->state_frame = g_strdup(s->text);
        n->state_bytes = (gint64)g_bytes_get_size(s->frame.state);
        n->check_ms = s->check_ms;
    }
    if (c->states->len)
        log_structured(G_LOG_LEVEL_MESSAGE,
                       LOG_FIELDS("MIGD_JOB", r->id, "MIGD_DOMAIN", r->domain),
                       "Job %s: the plugins here accept the device state of %u of %s's NICs",
                       r->id, c->states->len, r->domain);
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

void
dest_state_prepare(Incoming *in, Reservation *r, json_t *body, IncomingAnswer answer,
                   gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) states = state_decode_all(in, r, body, &error);
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
    c->answer = answer;
    c->data = data;
    state_check_next(c, r);
}

/* --- restoring ------------------------------------------------------------------ */

typedef struct {
    Reservation *r;     /* not touched once @alive is cancelled */
    GCancellable *alive;
    ResNic *nic;
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
    ResNic *only = s->only;
    DestRestored done = s->done;
    g_autofree char *why = NULL;
    gboolean gone = g_cancellable_is_cancelled(s->alive);

    g_object_unref(s->alive);
    g_free(s);
    if (gone)
        return;
    n->restore_ms = res->elapsed_ms;
    if (res->rc != 0) {
        why = g_strdup_printf("the device state of %s was not restored onto the VF %s: %s; its "
                              "plugins were asked to undo what they did", n->alias, n->address,
                              res->error);
        state_restore_fail(r, done, why);
        return;
    }
    n->restored = TRUE;
    dest_save_or_warn(r->in);
    state_restore_next(r, only, done);
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
    Plugin *p;

    for (guint i = 0; i < r->nics->len && !n; i++) {
        ResNic *candidate = g_ptr_array_index(r->nics, i);

        if (candidate->state_frame && !candidate->restored && (!only || candidate == only))
            n = candidate;
    }
    if (!n) {
        r->restoring = FALSE;
        done(r, NULL);
        return;
    }
    p = state_find_plugin(r->in, n->state_plugin);
    /* Decoded again: the checksum also guards what lay on disk. */
    if (!p || !plugin_frame_decode(n->state_frame, G_MAXSIZE, &frame, &error)) {
        why = g_strdup_printf("the device state of %s was not restored: %s", n->alias,
                              p ? error->message : "its plugin is no longer loaded here");
        state_restore_fail(r, done, why);
        return;
    }
    s = g_new0(StateRestore, 1);
    s->r = r;
    s->alive = g_object_ref(r->cancellable);
    s->nic = n;
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

/* --- abort ---------------------------------------------------------------------- */

void
dest_state_abort(Reservation *r)
{
    for (guint i = 0; i < r->nics->len; i++) {
        ResNic *n = g_ptr_array_index(r->nics, i);
        Plugin *p = state_find_plugin(r->in, n->state_plugin);
        g_autoptr(PluginDevice) dev = NULL;

        if (!p || n->state_aborted)
            continue;
        n->state_aborted = TRUE;
        dev = dest_state_device(r->in, r, n);
        plugin_call_abort(p, dev, r->in->conf->plugin_call_timeout_s * 1000);
    }
}

/* --- JSON ----------------------------------------------------------------------- */

json_t *
dest_state_to_json(const ResNic *n)
{
    if (!n->state_plugin)
        return json_null();
    return json_pack("{s:s,s:o,s:o,s:o,s:b}", "plugin", n->state_plugin, "bytes",
                     json_count_or_null(n->state_bytes), "check_ms",
                     json_count_or_null(n->check_ms), "restore_ms",
                     json_count_or_null(n->restore_ms), "restored", n->restored);
}

json_t *
dest_state_to_record(const ResNic *n)
{
    if (!n->state_plugin || !n->state_frame)
        return json_null();
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "plugin", n->state_plugin, "frame",
                     n->state_frame, "bytes", (json_int_t)n->state_bytes, "check_ms",
                     (json_int_t)n->check_ms, "restore_ms", (json_int_t)n->restore_ms,
                     "restored", n->restored, "aborted", n->state_aborted);
}

gboolean
dest_state_from_record(ResNic *n, json_t *state, char **ret_why)
{
    const char *plugin, *frame;
    json_int_t bytes, check_ms, restore_ms;
    int restored, aborted;
    json_error_t jerr;

    dest_state_clear(n);
    if (!state || json_is_null(state))
        return TRUE;
    if (json_unpack_ex(state, &jerr, JSON_STRICT, "{s:s,s:s,s:I,s:I,s:I,s:b,s:b}", "plugin",
                       &plugin, "frame", &frame, "bytes", &bytes, "check_ms", &check_ms,
                       "restore_ms", &restore_ms, "restored", &restored, "aborted",
                       &aborted) < 0) {
        *ret_why = g_strdup_printf("holds the device state of NIC %s that is not valid (%s)",
                                   n->alias, jerr.text);
        return FALSE;
    }
    n->state_plugin = g_strdup(plugin);
    n->state_frame = g_strdup(frame);
    n->state_bytes = bytes;
    n->check_ms = check_ms;
    n->restore_ms = restore_ms;
    n->restored = restored;
    n->state_aborted = aborted;
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
