/* Strict validation of a migration request, field by field, so that each
 * message names the field a person has to fix. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "request.h"

typedef enum { FIELD_STRING, FIELD_UINT, FIELD_BOOL, FIELD_UINT_ARRAY, FIELD_STRING_ARRAY, FIELD_OBJECT } FieldType;

typedef struct {
    const char *name;
    FieldType type;
    guint64 min, max;               /* for numbers, and array lengths */
    const char *const *choices;     /* for strings: NULL means any */
} Field;

static const char *const strategies[] = { "auto", "unplug", "native", "pause", "none", NULL };
static const char *const compressions[] = { "zlib", "zstd", "xbzrle", "mt", NULL };

static const Field top_fields[] = {
    { "domain", FIELD_STRING, 1, 255, NULL },
    { "destination", FIELD_STRING, 1, 1024, NULL },
    { "strategy", FIELD_STRING, 1, 16, strategies },
    { "options", FIELD_OBJECT, 0, 0, NULL },
    { "policy", FIELD_OBJECT, 0, 0, NULL },
    { NULL },
};

static const Field option_fields[] = {
    { "bandwidth_mibps", FIELD_UINT, 0, 1048576, NULL },
    { "parallel_connections", FIELD_UINT, 0, 255, NULL },
    { "compression", FIELD_STRING_ARRAY, 0, 4, compressions },
    { "postcopy", FIELD_BOOL, 0, 0, NULL },
    { "auto_converge", FIELD_BOOL, 0, 0, NULL },
    { "persistent", FIELD_BOOL, 0, 0, NULL },
    { "undefine_source", FIELD_BOOL, 0, 0, NULL },
    { NULL },
};

static const Field policy_fields[] = {
    { "max_downtime_ms", FIELD_UINT, 1, 600000, NULL },
    { "downtime_steps_ms", FIELD_UINT_ARRAY, 1, 600000, NULL },
    { "stall_iterations", FIELD_UINT, 1, 1000, NULL },
    { "allow_auto_converge", FIELD_BOOL, 0, 0, NULL },
    { "allow_postcopy", FIELD_BOOL, 0, 0, NULL },
    { "completion_timeout_per_gib_s", FIELD_UINT, 1, 86400, NULL },
    { "progress_timeout_s", FIELD_UINT, 1, 86400, NULL },
    { NULL },
};

void
migration_request_clear(MigrationRequest *req)
{
    g_clear_pointer(&req->domain, g_free);
    g_clear_pointer(&req->destination, g_free);
    g_clear_pointer(&req->strategy, g_free);
    g_clear_pointer(&req->options.compression, g_strfreev);
}

static gboolean
fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail(GError **error, const char *fmt, ...)
{
    va_list ap;

    g_autofree char *message = NULL;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT, message);
    return FALSE;
}

static const char *
json_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "a number";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static gboolean
check_choice(const char *path, const Field *f, const char *value, GError **error)
{
    g_autofree char *list = NULL;

    if (!f->choices || g_strv_contains(f->choices, value))
        return TRUE;
    list = g_strjoinv(", ", (char **)f->choices);
    return fail(error, "field '%s' must be one of %s, not '%s'", path, list, value);
}

static gboolean
check_uint(const char *path, const Field *f, json_t *v, GError **error)
{
    g_autofree char *got = NULL;

    if (json_is_integer(v) && json_integer_value(v) >= (json_int_t)f->min &&
        json_integer_value(v) <= (json_int_t)f->max)
        return TRUE;
    got = json_is_integer(v) ? g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v))
                             : g_strdup(json_type_name(v));
    return fail(error, "field '%s' must be a whole number from %" G_GUINT64_FORMAT " to %"
                G_GUINT64_FORMAT ", not %s", path, f->min, f->max, got);
}

/* Checks one value against its field; arrays are checked item by item. */
static gboolean
check_field(const char *path, const Field *f, json_t *v, GError **error)
{
    size_t i;
    json_t *item;

    switch (f->type) {
    case FIELD_STRING:
        if (!json_is_string(v))
            return fail(error, "field '%s' must be a string, not %s", path, json_type_name(v));
        if (json_string_length(v) < f->min || json_string_length(v) > f->max)
            return fail(error, "field '%s' must have %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                        " characters", path, f->min, f->max);
        return check_choice(path, f, json_string_value(v), error);
    case FIELD_UINT:
        return check_uint(path, f, v, error);
    case FIELD_BOOL:
        if (!json_is_boolean(v))
            return fail(error, "field '%s' must be true or false, not %s", path,
                        json_type_name(v));
        return TRUE;
    case FIELD_OBJECT:
        if (!json_is_object(v))
            return fail(error, "field '%s' must be an object, not %s", path, json_type_name(v));
        return TRUE;
    case FIELD_UINT_ARRAY:
    case FIELD_STRING_ARRAY:
        if (!json_is_array(v))
            return fail(error, "field '%s' must be an array, not %s", path, json_type_name(v));
        if (json_array_size(v) > 8)
            return fail(error, "field '%s' has more than 8 items", path);
        json_array_foreach(v, i, item) {
            g_autofree char *item_path = g_strdup_printf("%s[%zu]", path, i);
            Field each = *f;

            each.type = f->type == FIELD_UINT_ARRAY ? FIELD_UINT : FIELD_STRING;
            if (each.type == FIELD_STRING)
                each.min = 1, each.max = 64;
            if (!check_field(item_path, &each, item, error))
                return FALSE;
        }
        return TRUE;
    }
    return TRUE;
}

/* Every member of @obj must be a known field of the right type. */
static gboolean
check_object(const char *prefix, json_t *obj, const Field *fields, GError **error)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        g_autofree char *path = prefix ? g_strdup_printf("%s.%s", prefix, key) : g_strdup(key);
        const Field *f = fields;

        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name)
            return fail(error, "unknown field '%s'", path);
        if (!check_field(path, f, v, error))
            return FALSE;
    }
    return TRUE;
}

static guint
get_uint(json_t *obj, const char *key, guint fallback)
{
    json_t *v = json_object_get(obj, key);

    return v ? (guint)json_integer_value(v) : fallback;
}

static gboolean
get_bool(json_t *obj, const char *key, gboolean fallback)
{
    json_t *v = json_object_get(obj, key);

    return v ? json_is_true(v) : fallback;
}

static void
read_policy(json_t *p, PolicyConfig *policy)
{
    json_t *steps = json_object_get(p, "downtime_steps_ms");
    size_t i;
    json_t *item;

    policy->max_downtime_ms = get_uint(p, "max_downtime_ms", policy->max_downtime_ms);
    policy->stall_iterations = get_uint(p, "stall_iterations", policy->stall_iterations);
    policy->allow_auto_converge = get_bool(p, "allow_auto_converge", policy->allow_auto_converge);
    policy->allow_postcopy = get_bool(p, "allow_postcopy", policy->allow_postcopy);
    policy->completion_timeout_per_gib_s = get_uint(p, "completion_timeout_per_gib_s",
                                                    policy->completion_timeout_per_gib_s);
    policy->progress_timeout_s = get_uint(p, "progress_timeout_s", policy->progress_timeout_s);
    if (steps) {
        policy->n_downtime_steps = 0;
        json_array_foreach(steps, i, item)
            policy->downtime_steps_ms[policy->n_downtime_steps++] = (guint)json_integer_value(item);
    }
}

static GStrv
read_strings(json_t *array)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    size_t i;
    json_t *item;

    json_array_foreach(array, i, item)
        g_strv_builder_add(b, json_string_value(item));
    return g_strv_builder_end(b);
}

gboolean
migration_request_parse(json_t *body, const PolicyConfig *policy_defaults, MigrationRequest *ret,
                        GError **error)
{
    g_auto(MigrationRequest) req = { 0 };
    g_autoptr(GError) local = NULL;
    json_t *options, *policy;

    if (!json_is_object(body))
        return fail(error, "the request body must be a JSON object, not %s", json_type_name(body));
    if (!check_object(NULL, body, top_fields, error))
        return FALSE;
    if (!json_object_get(body, "domain"))
        return fail(error, "field 'domain' is required: the name of the guest to migrate");
    if (!json_object_get(body, "destination"))
        return fail(error, "field 'destination' is required: a peer named in migd.conf, "
                           "\"auto\" (migd chooses a peer), or a libvirt URI");
    options = json_object_get(body, "options");
    policy = json_object_get(body, "policy");
    if ((options && !check_object("options", options, option_fields, error)) ||
        (policy && !check_object("policy", policy, policy_fields, error)))
        return FALSE;

    req.domain = g_strdup(json_string_value(json_object_get(body, "domain")));
    req.destination = g_strdup(json_string_value(json_object_get(body, "destination")));
    req.strategy = g_strdup(json_string_value(json_object_get(body, "strategy")) ?: "auto");
    req.options = (JobOptions){
        .bandwidth_mibps = get_uint(options, "bandwidth_mibps", 0),
        .parallel_connections = get_uint(options, "parallel_connections", 0),
        .compression = read_strings(json_object_get(options, "compression")),
        .postcopy = get_bool(options, "postcopy", FALSE),
        .auto_converge = get_bool(options, "auto_converge", FALSE),
        .persistent = get_bool(options, "persistent", TRUE),
        .undefine_source = get_bool(options, "undefine_source", TRUE),
    };
    req.policy = *policy_defaults;
    read_policy(policy, &req.policy);
    /* Asking for post-copy in the options allows the policy to use it. */
    if (req.options.postcopy)
        req.policy.allow_postcopy = TRUE;
    if (!policy_config_validate(&req.policy, &local))
        return fail(error, "policy: %s", local->message);
    *ret = req;
    memset(&req, 0, sizeof(req));
    return TRUE;
}
