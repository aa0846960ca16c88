/* Parsing of migctl's global options, and the choice of where migd is. */
#include <config.h>

#include <string.h>
#include <sys/un.h>

#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-options.h"

typedef enum {
    OPT_SOCKET,
    OPT_URL,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_TIMEOUT,
    OPT_OUTPUT,
    OPT_HELP,
    OPT_VERSION,
    OPT_LAST
} OptionId;

/* One table drives both the parser and --help, so they cannot disagree. */
static const struct {
    const char *long_name;
    char short_name;            /* '\0' when there is none */
    const char *value_name;     /* NULL for an option without a value */
    const char *help;
} option_table[OPT_LAST] = {
    [OPT_SOCKET] = { "socket", '\0', "PATH",
        "Reach migd on this unix socket (default: $MIGCTL_SOCKET, else "
        CTL_DEFAULT_SOCKET ")." },
    [OPT_URL] = { "url", '\0', "URL",
        "Reach migd over TCP instead, e.g. http://10.200.0.2:7480 "
        "(default: $MIGCTL_URL); https:// for migd's TLS listener." },
    [OPT_CACERT] = { "cacert", '\0', "FILE",
        "Over https://, trust the CA certificate in FILE (PEM) to sign migd's "
        "(default: $MIGCTL_CACERT, else the system's CAs)." },
    [OPT_CERT] = { "cert", '\0', "FILE",
        "Over https://, present the client certificate in FILE (PEM), signed by "
        "migd's tls_ca (default: $MIGCTL_CERT)." },
    [OPT_KEY] = { "key", '\0', "FILE",
        "The private key of --cert (default: $MIGCTL_KEY)." },
    [OPT_TIMEOUT] = { "timeout", '\0', "SECONDS",
        "Give up on a request after this many seconds (default: "
        G_STRINGIFY(CTL_DEFAULT_TIMEOUT_SECONDS) ")." },
    [OPT_OUTPUT] = { "output", 'o', "FORMAT",
        "'text' (default) for people, or 'json' for scripts." },
    [OPT_HELP] = { "help", 'h', NULL, "Show this help and exit." },
    [OPT_VERSION] = { "version", 'V', NULL,
        "Show the version of migctl and exit." },
};

static const char *const output_names[CTL_OUTPUT_LAST] = {
    [CTL_OUTPUT_TEXT] = "text",
    [CTL_OUTPUT_JSON] = "json",
};

const char *
ctl_output_to_string(CtlOutput output)
{
    if ((unsigned int)output >= CTL_OUTPUT_LAST)
        return "unknown";
    return output_names[output];
}

gboolean
ctl_output_from_string(const char *name, CtlOutput *ret_output)
{
    for (CtlOutput output = 0; output < CTL_OUTPUT_LAST; output++) {
        if (g_strcmp0(name, output_names[output]) == 0) {
            *ret_output = output;
            return TRUE;
        }
    }
    return FALSE;
}

/* Finds the option @arg names. @ret_name gets the option as typed, without
 * any "=value", for messages; @ret_value the value glued to it, if any. */
static OptionId
options_match(const char *arg, char **ret_name, const char **ret_value)
{
    *ret_value = NULL;
    if (arg[1] == '-') {
        size_t len = strcspn(arg + 2, "=");

        *ret_name = g_strndup(arg, len + 2);
        for (OptionId id = 0; id < OPT_LAST; id++) {
            const char *long_name = option_table[id].long_name;

            if (strlen(long_name) == len && strncmp(arg + 2, long_name, len) == 0) {
                if (arg[len + 2] == '=')
                    *ret_value = arg + len + 3;
                return id;
            }
        }
        return OPT_LAST;
    }

    *ret_name = g_strndup(arg, 2);
    for (OptionId id = 0; id < OPT_LAST; id++) {
        if (option_table[id].short_name == '\0' ||
            option_table[id].short_name != arg[1])
            continue;
        /* "-ojson" is "-o json"; "-hV" is not supported, so it is unknown. */
        if (arg[2] != '\0') {
            if (!option_table[id].value_name)
                break;
            *ret_value = arg + 2;
        }
        return id;
    }
    g_free(*ret_name);
    *ret_name = g_strdup(arg);
    return OPT_LAST;
}

static gboolean
options_set(CtlOptions *options, OptionId id, const char *name,
            const char *value, GError **error)
{
    guint64 seconds;

    switch (id) {
    case OPT_SOCKET:
        options->socket_path = value;
        break;
    case OPT_URL:
        options->url = value;
        break;
    case OPT_CACERT:
        options->cacert = value;
        break;
    case OPT_CERT:
        options->cert = value;
        break;
    case OPT_KEY:
        options->key = value;
        break;
    case OPT_TIMEOUT:
        if (!g_ascii_string_to_unsigned(value, 10, 1, CTL_MAX_TIMEOUT_SECONDS,
                                        &seconds, NULL)) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "invalid value '%s' for %s: give a whole number of "
                        "seconds from 1 to %d.",
                        value, name, CTL_MAX_TIMEOUT_SECONDS);
            return FALSE;
        }
        options->timeout_seconds = (guint)seconds;
        break;
    case OPT_OUTPUT:
        if (!ctl_output_from_string(value, &options->output)) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "invalid output format '%s' for %s: use 'text' or "
                        "'json'.", value, name);
            return FALSE;
        }
        break;
    case OPT_HELP:
        options->help = TRUE;
        break;
    case OPT_VERSION:
        options->version = TRUE;
        break;
    case OPT_LAST:
    default:
        g_assert_not_reached();
    }
    return TRUE;
}

/* Consumes the option at argv[*index], and its value if that is the next
 * argument. */
static gboolean
options_parse_one(CtlOptions *options, int argc, char **argv, int *index,
                  GError **error)
{
    g_autofree char *name = NULL;
    const char *value = NULL;
    OptionId id = options_match(argv[*index], &name, &value);

    if (id == OPT_LAST) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "unknown option '%s'.", name);
        return FALSE;
    }
    if (!option_table[id].value_name && value) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "option %s takes no value, but was given '%s'.",
                    name, value);
        return FALSE;
    }
    if (option_table[id].value_name && !value) {
        if (*index + 1 >= argc) {
            g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                        "option %s needs a value (%s).",
                        name, option_table[id].value_name);
            return FALSE;
        }
        *index += 1;
        value = argv[*index];
    }
    return options_set(options, id, name, value, error);
}

static gboolean options_take_command(CtlOptions *options, int argc, char **argv, int first,
                                     GError **error);

CtlOptions *
ctl_options_parse(int argc, char **argv, GError **error)
{
    g_autoptr(CtlOptions) options = g_new0(CtlOptions, 1);
    int i;

    options->timeout_seconds = CTL_DEFAULT_TIMEOUT_SECONDS;
    options->output = CTL_OUTPUT_TEXT;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        /* The first word that is not an option is the command. */
        if (arg[0] != '-' || arg[1] == '\0')
            break;
        if (!options_parse_one(options, argc, argv, &i, error))
            return NULL;
    }

    if (i < argc && !options_take_command(options, argc, argv, i, error))
        return NULL;
    if (options->socket_path && options->url) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_USAGE,
                            "both --socket and --url were given: pass only "
                            "one, --socket for a local unix socket or --url "
                            "for TCP.");
        return NULL;
    }
    return g_steal_pointer(&options);
}

/* Whether @arg is a global option that may follow the command: the ones
 * that say where migd is and how to answer. -h and -V after a command are
 * the command's (migctl status -h). */
static gboolean
options_is_global_after_command(const char *arg)
{
    g_autofree char *name = NULL;
    const char *value;
    OptionId id;

    if (arg[0] != '-' || arg[1] == '\0')
        return FALSE;
    id = options_match(arg, &name, &value);
    return id == OPT_SOCKET || id == OPT_URL || id == OPT_CACERT || id == OPT_CERT ||
           id == OPT_KEY || id == OPT_TIMEOUT || id == OPT_OUTPUT;
}

/* The command is argv[@first]; the global options among its arguments are
 * parsed, the rest (and everything after "--") left to the command. */
static gboolean
options_take_command(CtlOptions *options, int argc, char **argv, int first, GError **error)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    gboolean options_end = FALSE;

    g_ptr_array_add(args, argv[first]);
    for (int i = first + 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            options_end = TRUE;
        if (!options_end && options_is_global_after_command(argv[i])) {
            if (!options_parse_one(options, argc, argv, &i, error))
                return FALSE;
            continue;
        }
        g_ptr_array_add(args, argv[i]);
    }
    options->command_argc = (int)args->len;
    g_ptr_array_add(args, NULL);
    options->command_argv = (char **)args->pdata;
    options->command_args = g_steal_pointer(&args);
    return TRUE;
}

void
ctl_options_free(CtlOptions *options)
{
    if (!options)
        return;
    g_clear_pointer(&options->command_args, g_ptr_array_unref);
    g_free(options);
}

void
ctl_target_free(CtlTarget *target)
{
    if (!target)
        return;
    g_free(target->address);
    g_free(target->cacert);
    g_free(target->cert);
    g_free(target->key);
    g_free(target);
}

static gboolean
target_check_socket(const char *path, const char *origin, GError **error)
{
    size_t limit = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;

    if (path[0] == '\0') {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "the socket path given by %s is empty: give the path of "
                    "migd's unix socket, e.g. %s.", origin, CTL_DEFAULT_SOCKET);
        return FALSE;
    }
    if (strlen(path) > limit) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "the socket path given by %s is %zu bytes long, but unix "
                    "socket paths are limited to %zu bytes: use a shorter "
                    "path or a symbolic link to the socket.",
                    origin, strlen(path), limit);
        return FALSE;
    }
    return TRUE;
}

/* Only a scheme, a host, a port and a path prefix (for a reverse proxy) make
 * sense here: migctl appends the API paths itself. */
static gboolean
target_check_url(const char *url, const char *origin, GError **error)
{
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);

    if (!uri ||
        (g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") != 0 &&
         g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") != 0) ||
        !g_uri_get_host(uri) || g_uri_get_host(uri)[0] == '\0' ||
        g_uri_get_query(uri) || g_uri_get_fragment(uri)) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "the URL '%s' given by %s is not a plain http:// or "
                    "https:// URL such as http://10.200.0.2:7480.",
                    url, origin);
        return FALSE;
    }
    return TRUE;
}

static CtlTarget *
target_new(CtlTargetKind kind, const char *address, const char *origin,
           GError **error)
{
    g_autoptr(CtlTarget) target = g_new0(CtlTarget, 1);

    if (kind == CTL_TARGET_SOCKET) {
        if (!target_check_socket(address, origin, error))
            return NULL;
        target->address = g_strdup(address);
    } else {
        size_t len = strlen(address);

        if (!target_check_url(address, origin, error))
            return NULL;
        while (len > 0 && address[len - 1] == '/')
            len--;
        target->address = g_strndup(address, len);
    }
    target->kind = kind;
    target->origin = origin;
    return g_steal_pointer(&target);
}

CtlTarget *
ctl_target_resolve(const CtlOptions *options,
                   const char *env_url, const char *env_socket,
                   GError **error)
{
    if (options->socket_path)
        return target_new(CTL_TARGET_SOCKET, options->socket_path, "--socket",
                          error);
    if (options->url)
        return target_new(CTL_TARGET_URL, options->url, "--url", error);

    if (env_url && env_url[0] == '\0')
        env_url = NULL;
    if (env_socket && env_socket[0] == '\0')
        env_socket = NULL;
    if (env_url && env_socket) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_USAGE,
                            "both MIGCTL_URL and MIGCTL_SOCKET are set: unset "
                            "one of them, or pass --socket or --url to "
                            "choose.");
        return NULL;
    }
    if (env_url)
        return target_new(CTL_TARGET_URL, env_url, "MIGCTL_URL", error);
    if (env_socket)
        return target_new(CTL_TARGET_SOCKET, env_socket, "MIGCTL_SOCKET",
                          error);
    return target_new(CTL_TARGET_SOCKET, CTL_DEFAULT_SOCKET, "default", error);
}

/* @option, else @env when it is set and not empty; copied. */
static char *
target_pick(const char *option, const char *env)
{
    if (option)
        return g_strdup(option);
    return env && env[0] ? g_strdup(env) : NULL;
}

gboolean
ctl_target_resolve_tls(CtlTarget *target, const CtlOptions *options,
                       const char *env_cacert, const char *env_cert,
                       const char *env_key, GError **error)
{
    g_autofree char *cert = target_pick(options->cert, env_cert);
    g_autofree char *key = target_pick(options->key, env_key);

    if ((cert != NULL) != (key != NULL)) {
        g_set_error(error, CTL_ERROR, CTL_ERROR_USAGE,
                    "a client certificate needs its key: pass both --cert and "
                    "--key (or MIGCTL_CERT and MIGCTL_KEY), not only %s.",
                    cert ? "--cert" : "--key");
        return FALSE;
    }
    target->cacert = target_pick(options->cacert, env_cacert);
    target->cert = g_steal_pointer(&cert);
    target->key = g_steal_pointer(&key);
    return TRUE;
}

void
ctl_options_append_help(GString *out)
{
    for (OptionId id = 0; id < OPT_LAST; id++) {
        g_autofree char *term = NULL;
        const char *value_name = option_table[id].value_name;

        term = g_strdup_printf("%c%c%c --%s%s%s",
                               option_table[id].short_name ? '-' : ' ',
                               option_table[id].short_name ?
                                   option_table[id].short_name : ' ',
                               option_table[id].short_name ? ',' : ' ',
                               option_table[id].long_name,
                               value_name ? " " : "",
                               value_name ? value_name : "");
        ctl_format_append_entry(out, term, option_table[id].help);
    }
}
