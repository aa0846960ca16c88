/* Parsing of a command's own arguments and options, driven by its table. */
#include <config.h>

#include <string.h>

#include "ctl-args.h"
#include "ctl-error.h"
#include "ctl-format.h"

void
ctl_args_free(CtlArgs *args)
{
    if (!args)
        return;
    g_free(args->args);
    json_decref(args->options);
    g_free(args);
}

static const CtlArgSpec *
args_find(const CtlArgsSyntax *syntax, const char *name, size_t len)
{
    for (const CtlArgSpec *spec = syntax->options; spec && spec->name; spec++) {
        if (strlen(spec->name) == len && strncmp(spec->name, name, len) == 0)
            return spec;
    }
    return NULL;
}

/* The object @spec's member goes in, made on first use. */
static json_t *
args_target(json_t *options, const CtlArgSpec *spec)
{
    json_t *section;

    if (!spec->section)
        return options;
    section = json_object_get(options, spec->section);
    if (!section) {
        section = json_object();
        (void)json_object_set_new(options, spec->section, section);
    }
    return section;
}

static gboolean
args_parse_uint(const CtlArgSpec *spec, const char *name, const char *value,
                json_t **ret_json, GError **error)
{
    guint64 number;

    if (!g_ascii_string_to_unsigned(value, 10, spec->min, spec->max, &number,
                                    NULL)) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "invalid value '%s' for %s: give a whole number from %"
                    G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ".",
                    value, name, spec->min, spec->max);
        return FALSE;
    }
    *ret_json = json_integer((json_int_t)number);
    return TRUE;
}

static gboolean
args_parse_uints(const CtlArgSpec *spec, const char *name, const char *value,
                 json_t **ret_json, GError **error)
{
    g_auto(GStrv) items = g_strsplit(value, ",", -1);
    g_autoptr(json_t) array = json_array();
    guint64 number;
    gboolean valid = items[0] != NULL;

    for (size_t i = 0; valid && items[i]; i++) {
        valid = g_ascii_string_to_unsigned(items[i], 10, spec->min, spec->max,
                                           &number, NULL);
        if (valid)
            (void)json_array_append_new(array,
                                        json_integer((json_int_t)number));
    }
    if (!valid) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "invalid value '%s' for %s: give whole numbers from %"
                    G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT " separated by "
                    "commas.", value, name, spec->min, spec->max);
        return FALSE;
    }
    *ret_json = g_steal_pointer(&array);
    return TRUE;
}

static gboolean
args_parse_choice(const CtlArgSpec *spec, const char *name, const char *value,
                  json_t **ret_json, GError **error)
{
    g_autofree char *choices = NULL;

    if (g_strv_contains(spec->choices, value)) {
        *ret_json = json_string(value);
        return TRUE;
    }
    choices = g_strjoinv(", ", (char **)spec->choices);
    g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                "invalid value '%s' for %s: use one of %s.",
                value, name, choices);
    return FALSE;
}

/* The JSON @value stands for, as @spec wants it. */
static gboolean
args_parse_value(const CtlArgSpec *spec, const char *name, const char *value,
                 json_t **ret_json, GError **error)
{
    switch (spec->kind) {
    case CTL_ARG_TRUE:
    case CTL_ARG_FALSE:
        *ret_json = json_boolean(spec->kind == CTL_ARG_TRUE);
        return TRUE;
    case CTL_ARG_UINT:
        return args_parse_uint(spec, name, value, ret_json, error);
    case CTL_ARG_UINTS:
        return args_parse_uints(spec, name, value, ret_json, error);
    case CTL_ARG_CHOICE:
        return args_parse_choice(spec, name, value, ret_json, error);
    case CTL_ARG_STRING:
    case CTL_ARG_STRINGS:
        if (value[0] == '\0') {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "the value of %s is empty: give a %s.",
                        name, spec->value_name);
            return FALSE;
        }
        /* JSON strings are UTF-8. */
        if (!g_utf8_validate(value, -1, NULL)) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "the value of %s is not valid UTF-8.", name);
            return FALSE;
        }
        *ret_json = json_string(value);
        return TRUE;
    case CTL_ARG_LAST:
    default:
        g_assert_not_reached();
    }
}

static gboolean
args_set(json_t *options, const CtlArgSpec *spec, const char *name,
         const char *value, GError **error)
{
    json_t *target = args_target(options, spec);
    json_t *json = NULL;
    json_t *array;

    if (!args_parse_value(spec, name, value, &json, error))
        return FALSE;
    if (spec->kind != CTL_ARG_STRINGS) {
        (void)json_object_set_new(target, spec->member, json);
        return TRUE;
    }
    array = json_object_get(target, spec->member);
    if (!array) {
        array = json_array();
        (void)json_object_set_new(target, spec->member, array);
    }
    (void)json_array_append_new(array, json);
    return TRUE;
}

static void
args_set_unknown(const CtlArgsSyntax *syntax, const char *name,
                 GError **error)
{
    g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                "'migctl %s' has no option '%s'; 'migctl --help' lists the global "
                "options.%s%s%s",
                syntax->command, name,
                syntax->options ? " 'migctl help " : "",
                syntax->options ? syntax->command : "",
                syntax->options ? "' lists its own options." : "");
}

/* Consumes the option at argv[*index], and its value if that is the next
 * argument. */
static gboolean
args_parse_option(const CtlArgsSyntax *syntax, json_t *options, int argc,
                  char **argv, int *index, GError **error)
{
    const char *arg = argv[*index];
    size_t len = strcspn(arg, "=");
    g_autofree char *name = g_strndup(arg, len);
    const CtlArgSpec *spec = NULL;
    const char *value = arg[len] == '=' ? arg + len + 1 : NULL;

    if (arg[1] == '-')
        spec = args_find(syntax, arg + 2, len - 2);
    if (!spec) {
        args_set_unknown(syntax, name, error);
        return FALSE;
    }
    if (!spec->value_name && value) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "option %s takes no value, but was given '%s'.",
                    name, value);
        return FALSE;
    }
    if (spec->value_name && !value) {
        if (*index + 1 >= argc) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "option %s needs a value (%s).",
                        name, spec->value_name);
            return FALSE;
        }
        *index += 1;
        value = argv[*index];
    }
    return args_set(options, spec, name, value, error);
}

static void
args_set_too_many(const CtlArgsSyntax *syntax, const char *extra,
                  GError **error)
{
    if (syntax->max_args == 0)
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl %s' takes no arguments, but was given '%s'.",
                    syntax->command, extra);
    else
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "'migctl %s' takes %s%d argument%s (%s), but was also "
                    "given '%s'.", syntax->command,
                    syntax->min_args == syntax->max_args ? "" : "at most ",
                    syntax->max_args, syntax->max_args == 1 ? "" : "s",
                    syntax->arguments, extra);
}

static void
args_set_too_few(const CtlArgsSyntax *syntax, int given, GError **error)
{
    g_autofree char *given_text = given == 0 ?
        g_strdup("none") : g_strdup_printf("%d", given);

    g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                "'migctl %s' needs %s%d argument%s (%s), but was given %s.",
                syntax->command,
                syntax->min_args == syntax->max_args ? "" : "at least ",
                syntax->min_args, syntax->min_args == 1 ? "" : "s",
                syntax->arguments, given_text);
}

CtlArgs *
ctl_args_parse(const CtlArgsSyntax *syntax, int argc, char **argv,
               GError **error)
{
    g_autoptr(CtlArgs) args = g_new0(CtlArgs, 1);
    gboolean options_over = FALSE;

    args->args = g_new0(char *, argc + 1);
    args->options = json_object();
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];

        if (!options_over && strcmp(arg, "--") == 0) {
            options_over = TRUE;
        } else if (!options_over && arg[0] == '-' && arg[1] != '\0') {
            if (!args_parse_option(syntax, args->options, argc, argv, &i,
                                   error))
                return NULL;
        } else if (args->n_args == syntax->max_args) {
            args_set_too_many(syntax, arg, error);
            return NULL;
        } else {
            args->args[args->n_args++] = argv[i];
        }
    }
    if (args->n_args < syntax->min_args) {
        args_set_too_few(syntax, args->n_args, error);
        return NULL;
    }
    return g_steal_pointer(&args);
}

void
ctl_args_append_help(GString *out, const CtlArgSpec *options)
{
    for (const CtlArgSpec *spec = options; spec && spec->name; spec++) {
        g_autofree char *term = g_strdup_printf("--%s%s%s", spec->name,
                                                spec->value_name ? " " : "",
                                                spec->value_name ?
                                                    spec->value_name : "");

        ctl_format_append_entry(out, term, spec->help);
    }
}
