/* The destination's reservations on disk: <state_dir>/reservations.json,
 * rewritten whole (atomically, like leases.json) on every change, so that
 * a restarted migd still knows which replug it armed and how far it got. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "log.h"
#include "state-file.h"
#include "store.h"

#define DEST_FILE "reservations.json"
#define DEST_FILE_VERSION 1

static const char *const replug_state_names[REPLUG_STATE_LAST] = {
    [REPLUG_IDLE] = "idle",           [REPLUG_ARMED] = "armed",
    [REPLUG_PLUGGING] = "plugging",   [REPLUG_VERIFYING] = "verifying",
    [REPLUG_DONE] = "done",           [REPLUG_FAILED] = "failed",
};

const char *
dest_replug_state_to_string(ReplugState state)
{
    return state < REPLUG_STATE_LAST ? replug_state_names[state] : "unknown";
}

int
dest_replug_state_from_string(const char *name)
{
    for (int i = 0; i < REPLUG_STATE_LAST; i++) {
        if (g_strcmp0(replug_state_names[i], name) == 0)
            return i;
    }
    return -1;
}

static void
res_nic_free(gpointer data)
{
    ResNic *n = data;

    g_free(n->alias);
    g_free(n->mac);
    g_free(n->pool);
    g_free(n->address);
    g_free(n->driver);
    g_free(n->device_xml);
    g_free(n->chosen);
    g_clear_pointer(&n->states, g_ptr_array_unref);
    g_free(n);
}

Reservation *
dest_res_new(Incoming *in, const char *id, const char *domain, const char *source)
{
    Reservation *r = g_new0(Reservation, 1);

    r->in = in;
    r->id = g_strdup(id);
    r->domain = g_strdup(domain);
    r->source = g_strdup(source);
    r->nics = g_ptr_array_new_with_free_func(res_nic_free);
    r->answers = g_ptr_array_new();
    r->pause_answers = g_ptr_array_new_with_free_func(g_free);
    r->guest_outage_ms = -1;
    r->cancellable = g_cancellable_new();
    return r;
}

void
dest_res_free(gpointer data)
{
    Reservation *r = data;
    g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_NOT_FOUND,
                                          "the reservation %s was released before its replug "
                                          "finished", r->id);

    dest_res_disarm(r);
    dest_res_answer_all(r, error);
    for (guint i = 0; i < r->pause_answers->len; i++) {
        ResAnswer *a = g_ptr_array_index(r->pause_answers, i);

        a->answer(NULL, error, a->data);
    }
    g_ptr_array_unref(r->pause_answers);
    g_free(r->pause_post_error);
    g_free(r->post_switchover_error);
    g_ptr_array_unref(r->answers);
    g_clear_object(&r->cancellable);
    g_ptr_array_unref(r->nics);
    if (r->detail)
        g_string_free(r->detail, TRUE);
    g_free(r->id);
    g_free(r->domain);
    g_free(r->source);
    g_free(r->source_url);
    g_free(r->detail_verify);
    g_free(r);
}

/* --- records ---------------------------------------------------------------- */

static json_t *
res_nic_to_record(const ResNic *n)
{
    return json_pack("{s:s,s:o,s:I,s:s,s:s,s:o,s:s,s:s,s:o,s:o}", "alias", n->alias, "mac",
                     json_string_or_null(n->mac), "vlan", (json_int_t)n->vlan, "pool", n->pool,
                     "address", n->address, "driver", json_string_or_null(n->driver),
                     "device_xml", n->device_xml, "strategy",
                     nic_strategy_to_string(n->strategy), "chosen",
                     json_string_or_null(n->chosen), "states", dest_state_to_record(n));
}

json_t *
dest_res_to_record(const Reservation *r)
{
    json_t *nics = json_array();

    for (guint i = 0; i < r->nics->len; i++)
        json_array_append_new(nics, res_nic_to_record(g_ptr_array_index(r->nics, i)));
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:i,s:b,s:I,"
                     "s:I,s:I,s:s}}",
                     "id", r->id, "domain", r->domain, "source", r->source, "source_url",
                     json_string_or_null(r->source_url), "strategy",
                     nic_strategy_to_string(r->strategy), "state",
                     dest_replug_state_to_string(r->state), "created_us",
                     (json_int_t)r->created_us, "expires_us", (json_int_t)r->expires_us,
                     "armed_us", (json_int_t)r->armed_us, "nics", nics, "replug",
                     "resumed_us", (json_int_t)r->resumed_wall_us, "plugged_us",
                     (json_int_t)r->plugged_us, "verified_us", (json_int_t)r->verified_us,
                     "attempts", (int)r->attempts, "ok", r->ok, "replug_ms",
                     (json_int_t)r->replug_ms, "verify_ms", (json_int_t)r->verify_ms,
                     "guest_outage_ms", (json_int_t)r->guest_outage_ms, "detail",
                     r->detail ? r->detail->str : "");
}

static ResNic *
res_nic_from_record(json_t *record, char **ret_why)
{
    const char *alias, *pool, *address, *xml, *strategy;
    json_t *mac = NULL, *driver = NULL, *chosen = NULL, *states = NULL, *state = NULL;
    json_int_t vlan;
    json_error_t jerr;
    int s;
    ResNic *n;

    if (json_unpack_ex(record, &jerr, JSON_STRICT,
                       "{s:s,s:o,s:I,s:s,s:s,s:o,s:s,s:s,s?o,s?o,s?o}", "alias", &alias, "mac",
                       &mac, "vlan", &vlan, "pool", &pool, "address", &address, "driver",
                       &driver, "device_xml", &xml, "strategy", &strategy, "chosen", &chosen,
                       "states", &states, "state", &state) < 0) {
        *ret_why = g_strdup_printf("holds a NIC that is not valid (%s)", jerr.text);
        return NULL;
    }
    s = nic_strategy_from_string(strategy);
    if (s != NIC_STRATEGY_UNPLUG && !nic_strategy_stays(s) && s != NIC_STRATEGY_NONE) {
        *ret_why = g_strdup_printf("holds a NIC with the strategy '%s'", strategy);
        return NULL;
    }
    n = g_new0(ResNic, 1);
    n->alias = g_strdup(alias);
    n->mac = g_strdup(json_string_value(mac));
    n->vlan = (guint)vlan;
    n->pool = g_strdup(pool);
    n->address = g_strdup(address);
    n->driver = g_strdup(json_string_value(driver));
    n->device_xml = g_strdup(xml);
    n->strategy = s;
    n->chosen = g_strdup(json_string_value(chosen));
    if (!dest_state_from_record(n, states, state, ret_why)) {
        res_nic_free(n);
        return NULL;
    }
    return n;
}

/* The replug's durable part of @r from @replug. */
static gboolean
res_replug_from_record(Reservation *r, json_t *replug, char **ret_why)
{
    json_int_t resumed, plugged, verified, replug_ms, verify_ms, outage;
    const char *detail;
    int attempts, ok;
    json_error_t jerr;

    if (json_unpack_ex(replug, &jerr, JSON_STRICT, "{s:I,s:I,s:I,s:i,s:b,s:I,s:I,s:I,s:s}",
                       "resumed_us", &resumed, "plugged_us", &plugged, "verified_us", &verified,
                       "attempts", &attempts, "ok", &ok, "replug_ms", &replug_ms, "verify_ms",
                       &verify_ms, "guest_outage_ms", &outage, "detail", &detail) < 0) {
        *ret_why = g_strdup_printf("holds a replug that is not valid (%s)", jerr.text);
        return FALSE;
    }
    r->resumed_wall_us = resumed;
    r->plugged_us = plugged;
    r->verified_us = verified;
    r->attempts = (guint)attempts;
    r->ok = ok;
    r->replug_ms = replug_ms;
    r->verify_ms = verify_ms;
    r->guest_outage_ms = outage;
    if (detail[0])
        r->detail = g_string_new(detail);
    return TRUE;
}

Reservation *
dest_res_from_record(Incoming *in, json_t *record, char **ret_why)
{
    const char *id, *domain, *source, *strategy, *state;
    json_int_t created, expires, armed;
    json_t *url = NULL, *nics = NULL, *replug = NULL, *item;
    json_error_t jerr;
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(res_nic_free);
    Reservation *r;
    int s, st;
    size_t i;

    if (json_unpack_ex(record, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:I,s:I,s:o,"
                       "s:o}", "id", &id, "domain", &domain, "source", &source, "source_url",
                       &url, "strategy", &strategy, "state", &state, "created_us", &created,
                       "expires_us", &expires, "armed_us", &armed, "nics", &nics, "replug",
                       &replug) < 0 || !json_is_array(nics)) {
        *ret_why = g_strdup_printf("holds a reservation that is not valid (%s)",
                                   json_is_array(nics) ? jerr.text : "'nics' is not an array");
        return NULL;
    }
    s = nic_strategy_from_string(strategy);
    st = dest_replug_state_from_string(state);
    if (s < 0 || st < 0) {
        *ret_why = g_strdup_printf("holds the reservation %s with the strategy '%s' and the "
                                   "state '%s'", id, strategy, state);
        return NULL;
    }
    json_array_foreach(nics, i, item) {
        ResNic *n = res_nic_from_record(item, ret_why);

        if (!n)
            return NULL;
        g_ptr_array_add(list, n);
    }
    r = dest_res_new(in, id, domain, source);
    r->source_url = g_strdup(json_string_value(url));
    r->strategy = s;
    r->state = st;
    r->created_us = created;
    r->expires_us = expires;
    r->armed_us = armed;
    while (list->len)
        g_ptr_array_add(r->nics, g_ptr_array_steal_index(list, 0));
    if (!res_replug_from_record(r, replug, ret_why)) {
        dest_res_free(r);
        return NULL;
    }
    return r;
}

/* --- the file --------------------------------------------------------------- */

gboolean
dest_save(Incoming *in, GError **error)
{
    g_autoptr(json_t) doc = NULL;
    json_t *records = json_array();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, in->reservations);
    while (g_hash_table_iter_next(&it, NULL, &value))
        json_array_append_new(records, dest_res_to_record(value));
    doc = json_pack("{s:i,s:o}", "version", DEST_FILE_VERSION, "reservations", records);
    return store_write_json(in->path, doc, error);
}

void
dest_save_or_warn(Incoming *in)
{
    g_autoptr(GError) error = NULL;

    if (!dest_save(in, &error))
        log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_FILE", in->path),
                       "Cannot save the reservations: %s; a migd restarted now would not know "
                       "the latest state of its replugs", error->message);
}

/* Why @text is not a reservation table, or NULL with them in @in. */
static char *
dest_parse(Incoming *in, const char *text, gsize len)
{
    g_autoptr(json_t) doc = NULL;
    json_t *records = NULL, *record;
    json_error_t jerr;
    int version = 0;
    size_t i;
    char *why = NULL;

    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return g_strdup_printf("is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    if (json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:i,s:o}", "version", &version,
                       "reservations", &records) < 0 || !json_is_array(records))
        return g_strdup_printf("is not a reservation table {\"version\": %d, "
                               "\"reservations\": [...]}", DEST_FILE_VERSION);
    if (version != DEST_FILE_VERSION)
        return g_strdup_printf("is version %d of the reservation table, which this migd does "
                               "not know", version);
    json_array_foreach(records, i, record) {
        Reservation *r = dest_res_from_record(in, record, &why);

        if (r && g_hash_table_contains(in->reservations, r->id)) {
            why = g_strdup_printf("holds the reservation %s twice", r->id);
            g_clear_pointer(&r, dest_res_free);
        }
        if (!r)
            return why;
        g_hash_table_insert(in->reservations, r->id, r);
    }
    return NULL;
}

gboolean
dest_load(Incoming *in, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    gsize len;

    state_file_delete_temps(in->conf->state_dir, DEST_FILE);
    if (!g_file_get_contents(in->path, &text, &len, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot read the reservations: %s",
                    local->message);
        return FALSE;
    }
    why = dest_parse(in, text, len);
    if (!why)
        return TRUE;
    g_hash_table_remove_all(in->reservations);
    return state_file_set_aside(in->path, why,
                                "migd starts with no reservations, so no replug is armed: read "
                                "the file and check the incoming migrations it names", error);
}
