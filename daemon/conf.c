/* Loads and validates migd.conf against a table of the keys migd knows. */
#include <config.h>

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#include "conf.h"
#include "error.h"

typedef enum {
    CONF_STRING,        /* any text, possibly empty */
    CONF_URI,           /* non-empty, with a scheme */
    CONF_PATH,          /* absolute path, or empty where allowed */
    CONF_UINT,
    CONF_MODE,          /* octal permission bits */
    CONF_LOG_LEVEL,
    CONF_HOST_PORT,     /* numeric ADDRESS:PORT, or empty */
    CONF_BOOL,
    CONF_UINT_LIST,     /* comma-separated whole numbers, into the policy's downtime steps */
    CONF_URL,           /* http:// or https:// */
} ConfType;

typedef struct {
    const char *group;
    const char *key;
    ConfType type;
    gsize offset;
    guint min, max;     /* for CONF_UINT */
    gboolean may_be_empty;
} ConfKey;

#define FIELD(name) G_STRUCT_OFFSET(MigdConf, name)

static const ConfKey conf_keys[] = {
    { "daemon", "libvirt_uri", CONF_URI, FIELD(libvirt_uri), 0, 0, FALSE },
    { "daemon", "libvirt_keepalive_interval", CONF_UINT, FIELD(libvirt_keepalive_interval), 0, 3600, FALSE },
    { "daemon", "libvirt_keepalive_count", CONF_UINT, FIELD(libvirt_keepalive_count), 1, 100, FALSE },
    { "daemon", "libvirt_reconnect_max", CONF_UINT, FIELD(libvirt_reconnect_max), 1, 3600, FALSE },
    { "daemon", "unix_socket", CONF_PATH, FIELD(unix_socket), 0, 0, TRUE },
    { "daemon", "unix_socket_mode", CONF_MODE, FIELD(unix_socket_mode), 0, 0, FALSE },
    { "daemon", "unix_socket_group", CONF_STRING, FIELD(unix_socket_group), 0, 0, TRUE },
    { "daemon", "tcp_listen", CONF_HOST_PORT, FIELD(tcp_listen), 0, 0, TRUE },
    { "daemon", "state_dir", CONF_PATH, FIELD(state_dir), 0, 0, FALSE },
    { "daemon", "log_level", CONF_LOG_LEVEL, FIELD(log_level), 0, 0, FALSE },
    { "migration", "max_outgoing", CONF_UINT, FIELD(max_outgoing), 1, 64, FALSE },
    { "migration", "poll_interval_ms", CONF_UINT, FIELD(poll_interval_ms), 50, 60000, FALSE },
    { "migration", "retention_hours", CONF_UINT, FIELD(retention_hours), 1, 87600, FALSE },
    { "policy", "max_downtime_ms", CONF_UINT, FIELD(policy.max_downtime_ms), 1, 600000, FALSE },
    { "policy", "downtime_steps_ms", CONF_UINT_LIST, FIELD(policy), 1, 600000, TRUE },
    { "policy", "stall_iterations", CONF_UINT, FIELD(policy.stall_iterations), 1, 1000, FALSE },
    { "policy", "allow_auto_converge", CONF_BOOL, FIELD(policy.allow_auto_converge), 0, 0, FALSE },
    { "policy", "allow_postcopy", CONF_BOOL, FIELD(policy.allow_postcopy), 0, 0, FALSE },
    { "policy", "completion_timeout_per_gib_s", CONF_UINT,
      FIELD(policy.completion_timeout_per_gib_s), 1, 86400, FALSE },
    { "policy", "progress_timeout_s", CONF_UINT, FIELD(policy.progress_timeout_s), 1, 86400, FALSE },
};

/* [peer.NAME] groups: one per destination host, NAME chosen by the operator. */
#define PEER_PREFIX "peer."
static const ConfKey peer_keys[] = {
    { NULL, "libvirt_uri", CONF_URI, G_STRUCT_OFFSET(MigdPeer, libvirt_uri), 0, 0, FALSE },
    { NULL, "migd_url", CONF_URL, G_STRUCT_OFFSET(MigdPeer, migd_url), 0, 0, TRUE },
};

static void
conf_peer_free(gpointer data)
{
    MigdPeer *peer = data;

    g_free(peer->name);
    g_free(peer->libvirt_uri);
    g_free(peer->migd_url);
    g_free(peer);
}

MigdConf *
conf_new_defaults(void)
{
    MigdConf *conf = g_new0(MigdConf, 1);

    conf->libvirt_uri = g_strdup("qemu:///system");
    conf->libvirt_keepalive_interval = 5;
    conf->libvirt_keepalive_count = 3;
    conf->libvirt_reconnect_max = 30;
    conf->unix_socket = g_strdup(RUNSTATEDIR "/migd/migd.sock");
    conf->unix_socket_mode = 0660;
    conf->state_dir = g_strdup(LOCALSTATEDIR "/lib/migd");
    conf->log_level = MIGD_LOG_INFO;
    conf->max_outgoing = 2;
    conf->poll_interval_ms = 500;
    conf->retention_hours = 168;
    policy_config_init_defaults(&conf->policy);
    conf->peers = g_ptr_array_new_with_free_func(conf_peer_free);
    return conf;
}

const MigdPeer *
conf_find_peer(const MigdConf *conf, const char *name)
{
    for (guint i = 0; i < conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(conf->peers, i);

        if (g_strcmp0(peer->name, name) == 0)
            return peer;
    }
    return NULL;
}

void
conf_free(MigdConf *conf)
{
    if (!conf)
        return;
    g_free(conf->path);
    g_free(conf->libvirt_uri);
    g_free(conf->unix_socket);
    g_free(conf->unix_socket_group);
    g_free(conf->tcp_listen);
    g_free(conf->state_dir);
    g_clear_pointer(&conf->peers, g_ptr_array_unref);
    g_free(conf);
}

/* The 1-based line where [group] (key == NULL) or key=... inside [group]
 * stands, for messages; 0 when it cannot be found. */
static guint
conf_find_line(const char *text, const char *group, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *header = g_strdup_printf("[%s]", group);
    gboolean in_group = FALSE;

    for (guint i = 0; lines[i]; i++) {
        const char *line = g_strstrip(lines[i]);

        if (line[0] == '[') {
            in_group = g_strcmp0(line, header) == 0;
            if (in_group && !key)
                return i + 1;
            continue;
        }
        if (in_group && key && g_str_has_prefix(line, key)) {
            const char *rest = line + strlen(key);

            while (*rest == ' ' || *rest == '\t')
                rest++;
            if (*rest == '=')
                return i + 1;
        }
    }
    return 0;
}

/* GKeyFile's own parse errors do not say where; this pass does, for the
 * mistakes people make by hand. */
static gboolean
conf_check_syntax(const char *path, const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gboolean seen_group = FALSE;

    for (guint i = 0; lines[i]; i++) {
        const char *line = g_strstrip(lines[i]);

        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            if (line[strlen(line) - 1] != ']') {
                g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                            "%s:%u: the group header '%s' is missing its closing ']'",
                            path, i + 1, line);
                return FALSE;
            }
            seen_group = TRUE;
            continue;
        }
        if (!strchr(line, '=')) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: '%s' is neither a [group] header nor a key = value line",
                        path, i + 1, line);
            return FALSE;
        }
        if (!seen_group) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: '%s' stands before any [group] header; keys belong in [daemon]",
                        path, i + 1, line);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
conf_is_peer_group(const char *group)
{
    return g_str_has_prefix(group, PEER_PREFIX);
}

static const ConfKey *
conf_key_lookup(const char *group, const char *key)
{
    const ConfKey *table = conf_keys;
    gsize n = G_N_ELEMENTS(conf_keys);

    if (conf_is_peer_group(group)) {
        if (!key)
            return peer_keys;
        table = peer_keys;
        n = G_N_ELEMENTS(peer_keys);
        group = NULL;
    }
    for (gsize i = 0; i < n; i++) {
        if (g_strcmp0(table[i].group, group) == 0 && (!key || g_strcmp0(table[i].key, key) == 0))
            return &table[i];
    }
    return NULL;
}

static gboolean
conf_check_peer_name(const char *path, const char *text, const char *group, GError **error)
{
    const char *name = group + strlen(PEER_PREFIX);

    if (name[0] != '\0' && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789_-") == strlen(name))
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: [%s] does not name a peer: use [peer.NAME] with letters, digits, '-' "
                "or '_'", path, conf_find_line(text, group, NULL), group);
    return FALSE;
}

static gboolean
conf_check_names(const char *path, const char *text, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (guint g = 0; groups[g]; g++) {
        g_auto(GStrv) keys = NULL;

        if (!conf_key_lookup(groups[g], NULL)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: unknown group [%s]; migd knows [daemon], [migration], [policy] "
                        "and [peer.NAME]", path, conf_find_line(text, groups[g], NULL), groups[g]);
            return FALSE;
        }
        if (conf_is_peer_group(groups[g]) && !conf_check_peer_name(path, text, groups[g], error))
            return FALSE;
        keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (guint k = 0; keys && keys[k]; k++) {
            if (!conf_key_lookup(groups[g], keys[k])) {
                g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                            "%s:%u: unknown key '%s' in [%s]; the commented migd.conf "
                            "shipped with migd lists every key it knows",
                            path, conf_find_line(text, groups[g], keys[k]), keys[k],
                            groups[g]);
                return FALSE;
            }
        }
    }
    return TRUE;
}

gboolean
conf_parse_host_port(const char *value, char **ret_host, guint16 *ret_port, GError **error)
{
    g_autofree char *host = NULL;
    const char *colon = strrchr(value, ':');
    guint64 port;

    if (!colon || colon == value) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not ADDRESS:PORT (for example 10.0.0.1:7480 or [::1]:7480)", value);
        return FALSE;
    }
    if (value[0] == '[' && colon[-1] == ']')
        host = g_strndup(value + 1, colon - value - 2);
    else
        host = g_strndup(value, colon - value);
    if (!g_hostname_is_ip_address(host)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a numeric IP address; migd listens on an address, not a name",
                    host);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a port number from 1 to 65535", colon + 1);
        return FALSE;
    }
    if (ret_host)
        *ret_host = g_steal_pointer(&host);
    if (ret_port)
        *ret_port = (guint16)port;
    return TRUE;
}

static gboolean
conf_parse_list(const ConfKey *ck, const char *value, PolicyConfig *policy, GError **error)
{
    g_auto(GStrv) items = g_strsplit(value, ",", -1);
    guint n = 0;

    for (guint i = 0; items[i]; i++) {
        guint64 number;

        if (n == G_N_ELEMENTS(policy->downtime_steps_ms)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "more than %u values",
                        (guint)G_N_ELEMENTS(policy->downtime_steps_ms));
            return FALSE;
        }
        if (!g_ascii_string_to_unsigned(g_strstrip(items[i]), 10, ck->min, ck->max, &number,
                                        NULL)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a whole number from %u to %u", items[i], ck->min, ck->max);
            return FALSE;
        }
        policy->downtime_steps_ms[n++] = (guint)number;
    }
    policy->n_downtime_steps = n;
    return TRUE;
}

/* Validates one value and stores it at @ck's offset in @base (a MigdConf or
 * a MigdPeer); the error says what a valid value looks like, the caller
 * adds where it stands. */
static gboolean
conf_store_value(gpointer base, const ConfKey *ck, const char *value, GError **error)
{
    gpointer field = G_STRUCT_MEMBER_P(base, ck->offset);
    guint64 number;
    int level;

    if (value[0] == '\0' && ck->may_be_empty) {
        if (ck->type == CONF_UINT_LIST)
            ((PolicyConfig *)field)->n_downtime_steps = 0;
        else
            g_clear_pointer((char **)field, g_free);
        return TRUE;
    }
    switch (ck->type) {
    case CONF_STRING:
        break;
    case CONF_URI:
        if (value[0] == '\0' || !strstr(value, ":")) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a libvirt URI such as qemu:///system", value);
            return FALSE;
        }
        break;
    case CONF_URL:
        if (!g_str_has_prefix(value, "http://") && !g_str_has_prefix(value, "https://")) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a URL such as http://10.0.0.2:7480", value);
            return FALSE;
        }
        break;
    case CONF_PATH:
        if (!g_path_is_absolute(value)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not an absolute path", value);
            return FALSE;
        }
        break;
    case CONF_UINT:
        if (!g_ascii_string_to_unsigned(value, 10, ck->min, ck->max, &number, NULL)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a whole number from %u to %u", value, ck->min, ck->max);
            return FALSE;
        }
        *(guint *)field = (guint)number;
        return TRUE;
    case CONF_BOOL:
        if (g_strcmp0(value, "true") != 0 && g_strcmp0(value, "false") != 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "'%s' is neither true nor false",
                        value);
            return FALSE;
        }
        *(gboolean *)field = g_strcmp0(value, "true") == 0;
        return TRUE;
    case CONF_UINT_LIST:
        return conf_parse_list(ck, value, field, error);
    case CONF_MODE:
        if (!g_ascii_string_to_unsigned(value, 8, 0, 0777, &number, NULL)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not an octal file mode such as 0660", value);
            return FALSE;
        }
        *(guint *)field = (guint)number;
        return TRUE;
    case CONF_LOG_LEVEL:
        level = log_level_from_string(value);
        if (level < 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a log level; use error, warning, info or debug", value);
            return FALSE;
        }
        *(MigdLogLevel *)field = (MigdLogLevel)level;
        return TRUE;
    case CONF_HOST_PORT:
        if (!conf_parse_host_port(value, NULL, NULL, error))
            return FALSE;
        break;
    }
    g_free(*(char **)field);
    *(char **)field = g_strdup(value);
    return TRUE;
}

/* Reads the keys of @table that @group sets into @base. */
static gboolean
conf_read_group(const char *path, const char *text, GKeyFile *kf, const char *group,
                const ConfKey *table, gsize n, gpointer base, GError **error)
{
    for (gsize i = 0; i < n; i++) {
        const ConfKey *ck = &table[i];
        g_autoptr(GError) local = NULL;
        g_autofree char *value = NULL;

        if ((ck->group && g_strcmp0(ck->group, group) != 0) ||
            !g_key_file_has_key(kf, group, ck->key, NULL))
            continue;
        value = g_key_file_get_string(kf, group, ck->key, &local);
        if (value)
            g_strstrip(value);
        if (!value || !conf_store_value(base, ck, value, &local)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s:%u: key '%s' in [%s]: %s",
                        path, conf_find_line(text, group, ck->key), ck->key, group,
                        local->message);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
conf_read_peers(MigdConf *conf, const char *text, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (guint g = 0; groups[g]; g++) {
        MigdPeer *peer;

        if (!conf_is_peer_group(groups[g]))
            continue;
        peer = g_new0(MigdPeer, 1);
        peer->name = g_strdup(groups[g] + strlen(PEER_PREFIX));
        g_ptr_array_add(conf->peers, peer);
        if (!conf_read_group(conf->path, text, kf, groups[g], peer_keys,
                             G_N_ELEMENTS(peer_keys), peer, error))
            return FALSE;
        if (!peer->libvirt_uri) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: [%s] has no libvirt_uri; migd needs it to migrate there",
                        conf->path, conf_find_line(text, groups[g], NULL), groups[g]);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
conf_read_values(MigdConf *conf, const char *text, GKeyFile *kf, GError **error)
{
    static const char *const groups[] = { "daemon", "migration", "policy" };
    g_autoptr(GError) local = NULL;

    for (gsize g = 0; g < G_N_ELEMENTS(groups); g++) {
        if (!conf_read_group(conf->path, text, kf, groups[g], conf_keys,
                             G_N_ELEMENTS(conf_keys), conf, error))
            return FALSE;
    }
    if (!policy_config_validate(&conf->policy, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s:%u: [policy]: %s", conf->path,
                    conf_find_line(text, "policy", NULL), local->message);
        return FALSE;
    }
    return conf_read_peers(conf, text, kf, error);
}

MigdConf *
conf_load_data(const char *path, const char *text, GError **error)
{
    g_autoptr(MigdConf) conf = conf_new_defaults();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;

    conf->path = g_strdup(path);
    if (!conf_check_syntax(path, text, error))
        return NULL;
    if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s: %s", path, local->message);
        return NULL;
    }
    if (!conf_check_names(path, text, kf, error) || !conf_read_values(conf, text, kf, error))
        return NULL;
    return g_steal_pointer(&conf);
}

MigdConf *
conf_load(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "cannot read the configuration file: %s", local->message);
        return NULL;
    }
    return conf_load_data(path, text, error);
}
