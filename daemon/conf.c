/* Loads and validates migd.conf against a table of the keys migd knows. */
#include <config.h>

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "http.h"

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
    CONF_NIC_VERIFY,    /* none | lab-agent */
    CONF_POOL_TYPE,
    CONF_PCI_ADDRESS,   /* DDDD:BB:SS.F, stored in lower case as sysfs names it */
    CONF_IFNAME,        /* a Linux network interface name */
    CONF_MODEL,         /* a libvirt NIC model name */
    CONF_TAP_LIST,      /* comma-separated tap names, into a GStrv */
    CONF_VDPA_LIST,     /* comma-separated vdpa device names, into a GStrv */
    CONF_TCP_READ,      /* authenticated | open */
    CONF_CERT_NAME,     /* a host name as a certificate's CN or DNS name gives it */
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
    { "daemon", "peer_token_file", CONF_PATH, FIELD(peer_token_file), 0, 0, TRUE },
    { "daemon", "tls_cert", CONF_PATH, FIELD(tls_cert), 0, 0, TRUE },
    { "daemon", "tls_key", CONF_PATH, FIELD(tls_key), 0, 0, TRUE },
    { "daemon", "tls_ca", CONF_PATH, FIELD(tls_ca), 0, 0, TRUE },
    { "daemon", "tcp_read", CONF_TCP_READ, FIELD(tcp_read), 0, 0, FALSE },
    { "daemon", "max_connections", CONF_UINT, FIELD(max_connections), 2, 10000, FALSE },
    { "daemon", "max_connections_per_address", CONF_UINT, FIELD(max_connections_per_address), 1, 10000, FALSE },
    { "daemon", "idle_timeout_s", CONF_UINT, FIELD(idle_timeout_s), 1, 3600, FALSE },
    { "migration", "max_outgoing", CONF_UINT, FIELD(max_outgoing), 1, 64, FALSE },
    { "migration", "max_incoming", CONF_UINT, FIELD(max_incoming), 1, 64, FALSE },
    { "migration", "poll_interval_ms", CONF_UINT, FIELD(poll_interval_ms), 50, 60000, FALSE },
    { "migration", "retention_hours", CONF_UINT, FIELD(retention_hours), 1, 87600, FALSE },
    { "migration", "allow_uri_destinations", CONF_BOOL, FIELD(allow_uri_destinations), 0, 0, FALSE },
    { "policy", "max_downtime_ms", CONF_UINT, FIELD(policy.max_downtime_ms), 1, 600000, FALSE },
    { "policy", "downtime_steps_ms", CONF_UINT_LIST, FIELD(policy), 1, 600000, TRUE },
    { "policy", "stall_iterations", CONF_UINT, FIELD(policy.stall_iterations), 1, 1000, FALSE },
    { "policy", "allow_auto_converge", CONF_BOOL, FIELD(policy.allow_auto_converge), 0, 0, FALSE },
    { "policy", "allow_postcopy", CONF_BOOL, FIELD(policy.allow_postcopy), 0, 0, FALSE },
    { "policy", "completion_timeout_per_gib_s", CONF_UINT,
      FIELD(policy.completion_timeout_per_gib_s), 1, 86400, FALSE },
    { "policy", "progress_timeout_s", CONF_UINT, FIELD(policy.progress_timeout_s), 1, 86400, FALSE },
    { "nic", "unplug_timeout_s", CONF_UINT, FIELD(nic_unplug_timeout_s), 1, 600, FALSE },
    { "nic", "replug_timeout_s", CONF_UINT, FIELD(nic_replug_timeout_s), 1, 600, FALSE },
    { "nic", "replug_attempts", CONF_UINT, FIELD(nic_replug_attempts), 1, 10, FALSE },
    { "nic", "lease_ttl_s", CONF_UINT, FIELD(nic_lease_ttl_s), 10, 3600, FALSE },
    { "nic", "verify", CONF_NIC_VERIFY, FIELD(nic_verify), 0, 0, FALSE },
    { "nic", "agent_socket_dir", CONF_PATH, FIELD(nic_agent_socket_dir), 0, 0, FALSE },
    { "plugins", "dir", CONF_PATH, FIELD(plugin_dir), 0, 0, FALSE },
    { "plugins", "call_timeout_s", CONF_UINT, FIELD(plugin_call_timeout_s), 1, 600, FALSE },
    { "plugins", "max_state_bytes", CONF_UINT, FIELD(plugin_max_state_bytes), 64, 16777216,
      FALSE },
};

/* The groups that conf_keys covers, in the order they are read. */
static const char *const conf_groups[] = { "daemon", "migration", "policy", "nic", "plugins" };

/* [plugin.NAME] groups: a plugin's own settings, NAME being the plugin's
 * name (a-z, 0-9, '-'), handed to its init as they are. */
#define PLUGIN_PREFIX "plugin."
#define PLUGIN_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

/* [peer.NAME] groups: one per destination host, NAME chosen by the operator. */
#define PEER_PREFIX "peer."
static const ConfKey peer_keys[] = {
    { NULL, "libvirt_uri", CONF_URI, G_STRUCT_OFFSET(MigdPeer, libvirt_uri), 0, 0, FALSE },
    { NULL, "migd_url", CONF_URL, G_STRUCT_OFFSET(MigdPeer, migd_url), 0, 0, TRUE },
    { NULL, "cert_name", CONF_CERT_NAME, G_STRUCT_OFFSET(MigdPeer, cert_name), 0, 0, TRUE },
};

/* [pool.NAME] groups: one per pool of devices to plug. */
#define POOL_PREFIX "pool."
#define POOL_FIELD(name) G_STRUCT_OFFSET(MigdPoolConf, name)
static const ConfKey pool_keys[] = {
    { NULL, "type", CONF_POOL_TYPE, POOL_FIELD(type), 0, 0, FALSE },
    { NULL, "pf", CONF_PCI_ADDRESS, POOL_FIELD(pf), 0, 0, FALSE },
    { NULL, "sysfs_root", CONF_PATH, POOL_FIELD(sysfs_root), 0, 0, FALSE },
    { NULL, "model", CONF_MODEL, POOL_FIELD(model), 0, 0, FALSE },
    { NULL, "bridge", CONF_IFNAME, POOL_FIELD(bridge), 0, 0, FALSE },
    { NULL, "slots", CONF_TAP_LIST, POOL_FIELD(slots), 0, 0, FALSE },
    { NULL, "devices", CONF_VDPA_LIST, POOL_FIELD(devices), 0, 0, FALSE },
    { NULL, "native", CONF_BOOL, POOL_FIELD(native), 0, 0, FALSE },
};

/* The keys that only some types of pool take (@types: 1 << PoolType);
 * @hint says what a required one is set to. */
#define POOL_TYPE_BIT(type) (1u << (type))
static const struct {
    const char *key;
    guint types;
    const char *hint;       /* NULL: optional */
} pool_type_keys[] = {
    { "pf", POOL_TYPE_BIT(POOL_SRIOV),
      "the PCI address of its physical function, such as 0000:3b:00.0" },
    { "sysfs_root", POOL_TYPE_BIT(POOL_SRIOV) | POOL_TYPE_BIT(POOL_VDPA), NULL },
    { "model", POOL_TYPE_BIT(POOL_EMULATED), NULL },
    { "bridge", POOL_TYPE_BIT(POOL_EMULATED), "the host bridge its NICs join, such as virbr0" },
    { "slots", POOL_TYPE_BIT(POOL_EMULATED),
      "the tap names of its NICs, such as migd-tap0, migd-tap1" },
    { "devices", POOL_TYPE_BIT(POOL_VDPA),
      "the vdpa names of its devices (vdpa dev show), such as vdpa0, vdpa1" },
};

static const char *const pool_type_names[POOL_TYPE_LAST] = {
    [POOL_SRIOV] = "sriov",
    [POOL_EMULATED] = "emulated",
    [POOL_VDPA] = "vdpa",
};

#define IFNAME_MAX 15     /* IFNAMSIZ - 1 */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* A token shorter than this is guessable. */
#define PEER_TOKEN_MIN 16
#define PEER_TOKEN_MAX 4096

const char *
conf_pool_type_to_string(PoolType type)
{
    return type < POOL_TYPE_LAST ? pool_type_names[type] : "unknown";
}

static void
conf_peer_free(gpointer data)
{
    MigdPeer *peer = data;

    g_free(peer->name);
    g_free(peer->libvirt_uri);
    g_free(peer->migd_url);
    g_free(peer->cert_name);
    g_free(peer);
}

static void
conf_pool_free(gpointer data)
{
    MigdPoolConf *pool = data;

    g_free(pool->name);
    g_free(pool->pf);
    g_free(pool->sysfs_root);
    g_free(pool->model);
    g_free(pool->bridge);
    g_strfreev(pool->slots);
    g_strfreev(pool->devices);
    g_free(pool);
}

static gboolean conf_check_peer(MigdConf *conf, const char *text, GKeyFile *kf,
                                const char *group, gpointer item, GError **error);
static gboolean conf_check_pool(MigdConf *conf, const char *text, GKeyFile *kf,
                                const char *group, gpointer item, GError **error);

/* Groups named PREFIX.NAME, one per thing the operator names; each becomes
 * a struct whose first member is its char *name, in a MigdConf array. */
typedef struct {
    const char *prefix;
    const char *what;
    const ConfKey *keys;
    gsize n_keys;
    gsize size;
    gsize array_offset;     /* of the GPtrArray * in MigdConf */
    gboolean (*check)(MigdConf *conf, const char *text, GKeyFile *kf, const char *group,
                      gpointer item, GError **error);
} ConfNamedGroup;

G_STATIC_ASSERT(G_STRUCT_OFFSET(MigdPeer, name) == 0);
G_STATIC_ASSERT(G_STRUCT_OFFSET(MigdPoolConf, name) == 0);

static const ConfNamedGroup named_groups[] = {
    { PEER_PREFIX, "peer", peer_keys, G_N_ELEMENTS(peer_keys), sizeof(MigdPeer),
      FIELD(peers), conf_check_peer },
    { POOL_PREFIX, "pool", pool_keys, G_N_ELEMENTS(pool_keys), sizeof(MigdPoolConf),
      FIELD(pools), conf_check_pool },
};

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
    conf->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    conf->max_connections_per_address = HTTP_DEFAULT_MAX_PER_ADDRESS;
    conf->idle_timeout_s = HTTP_DEFAULT_IDLE_TIMEOUT_S;
    conf->tcp_read = g_strdup("authenticated");
    conf->max_outgoing = 2;
    conf->poll_interval_ms = 500;
    conf->max_incoming = 2;
    conf->retention_hours = 168;
    policy_config_init_defaults(&conf->policy);
    conf->peers = g_ptr_array_new_with_free_func(conf_peer_free);
    conf->nic_unplug_timeout_s = 30;
    conf->nic_replug_timeout_s = 10;
    conf->nic_replug_attempts = 3;
    conf->nic_lease_ttl_s = 120;
    conf->nic_verify = g_strdup("none");
    conf->nic_agent_socket_dir = g_strdup("/var/lib/libvirt/qemu/channel");
    conf->pools = g_ptr_array_new_with_free_func(conf_pool_free);
    conf->plugin_dir = g_strdup(PLUGINDIR);
    conf->plugin_call_timeout_s = 10;
    conf->plugin_max_state_bytes = 65536;
    conf->plugin_settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                  (GDestroyNotify)g_ptr_array_unref);
    return conf;
}

/* The item of @array (of structs whose first member is their name) called
 * @name, or NULL. */
static gconstpointer
conf_find_named(const GPtrArray *array, const char *name)
{
    for (guint i = 0; i < array->len; i++) {
        gconstpointer item = g_ptr_array_index(array, i);

        if (g_strcmp0(*(char *const *)item, name) == 0)
            return item;
    }
    return NULL;
}

const MigdPeer *
conf_find_peer(const MigdConf *conf, const char *name)
{
    return conf_find_named(conf->peers, name);
}

const MigdPoolConf *
conf_find_pool(const MigdConf *conf, const char *name)
{
    return conf_find_named(conf->pools, name);
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
    g_free(conf->peer_token_file);
    g_free(conf->peer_token);
    g_free(conf->tls_cert);
    g_free(conf->tls_key);
    g_free(conf->tls_ca);
    g_free(conf->tcp_read);
    g_clear_pointer(&conf->peers, g_ptr_array_unref);
    g_free(conf->nic_verify);
    g_free(conf->nic_agent_socket_dir);
    g_clear_pointer(&conf->pools, g_ptr_array_unref);
    g_free(conf->plugin_dir);
    g_clear_pointer(&conf->plugin_settings, g_hash_table_unref);
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

static const ConfNamedGroup *
conf_named_group(const char *group)
{
    for (gsize i = 0; i < G_N_ELEMENTS(named_groups); i++) {
        if (g_str_has_prefix(group, named_groups[i].prefix))
            return &named_groups[i];
    }
    return NULL;
}

static const ConfKey *
conf_key_lookup(const char *group, const char *key)
{
    const ConfNamedGroup *named = conf_named_group(group);
    const ConfKey *table = conf_keys;
    gsize n = G_N_ELEMENTS(conf_keys);

    if (named) {
        if (!key)
            return named->keys;
        table = named->keys;
        n = named->n_keys;
        group = NULL;
    }
    for (gsize i = 0; i < n; i++) {
        if (g_strcmp0(table[i].group, group) == 0 && (!key || g_strcmp0(table[i].key, key) == 0))
            return &table[i];
    }
    return NULL;
}

static gboolean
conf_check_group_name(const char *path, const char *text, const char *group,
                      const ConfNamedGroup *named, GError **error)
{
    const char *name = group + strlen(named->prefix);

    if (name[0] != '\0' && strspn(name, NAME_CHARS) == strlen(name))
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: [%s] does not name a %s: use [%sNAME] with letters, digits, '-' "
                "or '_'", path, conf_find_line(text, group, NULL), group, named->what,
                named->prefix);
    return FALSE;
}

static gboolean
conf_check_plugin_group(const char *path, const char *text, const char *group, GError **error)
{
    const char *name = group + strlen(PLUGIN_PREFIX);

    if (name[0] != '\0' && strspn(name, PLUGIN_NAME_CHARS) == strlen(name))
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: [%s] does not name a plugin: use [" PLUGIN_PREFIX "NAME] with NAME "
                "the plugin's name (a-z, 0-9 and '-')", path,
                conf_find_line(text, group, NULL), group);
    return FALSE;
}

static gboolean
conf_check_names(const char *path, const char *text, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (guint g = 0; groups[g]; g++) {
        const ConfNamedGroup *named = conf_named_group(groups[g]);
        g_auto(GStrv) keys = NULL;

        if (g_str_has_prefix(groups[g], PLUGIN_PREFIX)) {
            if (!conf_check_plugin_group(path, text, groups[g], error))
                return FALSE;
            continue;
        }
        if (!conf_key_lookup(groups[g], NULL)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: unknown group [%s]; migd knows [daemon], [migration], [policy], "
                        "[nic], [plugins], [peer.NAME], [pool.NAME] and [plugin.NAME]", path,
                        conf_find_line(text, groups[g], NULL), groups[g]);
            return FALSE;
        }
        if (named && !conf_check_group_name(path, text, groups[g], named, error))
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

gboolean
conf_is_pci_address(const char *value)
{
    static const char shape[] = "xxxx:xx:xx.x";

    for (gsize i = 0; i < sizeof(shape); i++) {
        if (shape[i] == 'x' ? !g_ascii_isxdigit(value[i]) : value[i] != shape[i])
            return FALSE;
    }
    return g_ascii_strtoull(value + 8, NULL, 16) <= 0x1f &&
           g_ascii_strtoull(value + 11, NULL, 16) <= 7;
}

/* What the kernel takes as a network interface name (dev_valid_name()). */
static gboolean
conf_is_ifname(const char *value)
{
    gsize len = strlen(value);

    if (len == 0 || len > IFNAME_MAX || g_str_equal(value, ".") || g_str_equal(value, ".."))
        return FALSE;
    for (const char *c = value; *c; c++) {
        if (*c == '/' || *c == ':' || g_ascii_isspace(*c) || g_ascii_iscntrl(*c))
            return FALSE;
    }
    return TRUE;
}

/* The longest vdpa device name the kernel keeps (a netlink string that
 * the vdpa tool prints; a name is also a sysfs directory). */
#define VDPA_NAME_MAX 63

/* A comma-separated list of plain names (tap names migd creates, vdpa
 * device names), so that nothing needs quoting; @what names one ("tap
 * name", "vdpa device name"), @item what a listed one is called. */
static GStrv
conf_parse_name_list(const char *value, const char *what, const char *item, gsize max,
                     GError **error)
{
    g_auto(GStrv) names = g_strsplit(value, ",", -1);

    for (guint i = 0; names[i]; i++) {
        const char *name = g_strstrip(names[i]);
        gsize len = strlen(name);

        if (len == 0 || len > max || strspn(name, NAME_CHARS) != len) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a %s: use 1 to %zu letters, digits, '-' or '_', "
                        "and commas between names", name, what, max);
            return NULL;
        }
        for (guint j = 0; j < i; j++) {
            if (g_str_equal(names[j], name)) {
                g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                            "the %s '%s' is listed twice", item, name);
                return NULL;
            }
        }
    }
    return g_steal_pointer(&names);
}

/* Validates the values that are a choice or a name; the caller stores them. */
static gboolean
conf_check_word(const ConfKey *ck, const char *value, GError **error)
{
    switch (ck->type) {
    case CONF_NIC_VERIFY:
        if (g_str_equal(value, "none") || g_str_equal(value, "lab-agent"))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a way to verify a replugged NIC; use none or lab-agent", value);
        return FALSE;
    case CONF_TCP_READ:
        if (g_str_equal(value, "authenticated") || g_str_equal(value, "open"))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a tcp_read setting; use authenticated (reading over TCP needs "
                    "a client certificate or the peer token) or open", value);
        return FALSE;
    case CONF_CERT_NAME:
        if (g_ascii_isalnum(value[0]) && strspn(value, NAME_CHARS ".") == strlen(value))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a host name as a certificate names it, such as hostb or "
                    "hostb.example.org", value);
        return FALSE;
    case CONF_IFNAME:
        if (conf_is_ifname(value))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a network interface name: use 1 to %u characters other than "
                    "'/', ':' and white space", value, IFNAME_MAX);
        return FALSE;
    case CONF_MODEL:
        if (value[0] != '\0' && strspn(value, NAME_CHARS ".") == strlen(value))
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a NIC model such as vmxnet3, e1000e or virtio", value);
        return FALSE;
    default:
        return TRUE;
    }
}

/* The values that are not a plain string; FALSE with @error when @value is
 * not one. */
static gboolean
conf_store_special(gpointer field, const ConfKey *ck, const char *value, GError **error)
{
    GStrv names;

    switch (ck->type) {
    case CONF_POOL_TYPE:
        for (int t = 0; t < POOL_TYPE_LAST; t++) {
            if (g_str_equal(value, pool_type_names[t])) {
                *(PoolType *)field = (PoolType)t;
                return TRUE;
            }
        }
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "'%s' is not a pool type; use sriov, emulated or vdpa", value);
        return FALSE;
    case CONF_PCI_ADDRESS:
        if (!conf_is_pci_address(value)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "'%s' is not a PCI address such as 0000:3b:00.0 (domain:bus:slot.function "
                        "in hexadecimal, slot at most 1f, function at most 7)", value);
            return FALSE;
        }
        /* Lower case, as sysfs and libvirt write it. */
        g_free(*(char **)field);
        *(char **)field = g_ascii_strdown(value, -1);
        return TRUE;
    case CONF_TAP_LIST:
    case CONF_VDPA_LIST:
        names = ck->type == CONF_TAP_LIST
                    ? conf_parse_name_list(value, "tap name", "slot", IFNAME_MAX, error)
                    : conf_parse_name_list(value, "vdpa device name", "device", VDPA_NAME_MAX,
                                           error);
        if (!names)
            return FALSE;
        g_strfreev(*(GStrv *)field);
        *(GStrv *)field = names;
        return TRUE;
    default:
        g_assert_not_reached();
    }
}

/* Validates one value and stores it at @ck's offset in @base (a MigdConf or
 * the struct of a named group); the error says what a valid value looks
 * like, the caller adds where it stands. */
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
    case CONF_NIC_VERIFY:
    case CONF_IFNAME:
    case CONF_MODEL:
    case CONF_TCP_READ:
    case CONF_CERT_NAME:
        if (!conf_check_word(ck, value, error))
            return FALSE;
        break;
    case CONF_POOL_TYPE:
    case CONF_PCI_ADDRESS:
    case CONF_TAP_LIST:
    case CONF_VDPA_LIST:
        return conf_store_special(field, ck, value, error);
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
conf_check_peer(MigdConf *conf, const char *text, GKeyFile *kf, const char *group,
                gpointer item, GError **error)
{
    MigdPeer *peer = item;

    if (peer->libvirt_uri)
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: [%s] has no libvirt_uri; migd needs it to migrate there",
                conf->path, conf_find_line(text, group, NULL), group);
    return FALSE;
}

/* "sriov", "sriov or vdpa": the types of pool in @types. */
static char *
conf_pool_types_text(guint types)
{
    GString *out = g_string_new(NULL);
    guint left = types;

    for (int t = 0; t < POOL_TYPE_LAST; t++) {
        if (!(types & POOL_TYPE_BIT(t)))
            continue;
        left &= ~POOL_TYPE_BIT(t);
        g_string_append_printf(out, "%s%s", out->len ? (left ? ", " : " or ") : "",
                               pool_type_names[t]);
    }
    return g_string_free(out, FALSE);
}

/* The keys of the other types of pool are refused and the required ones of
 * this type demanded, before the defaults of this type are filled in. */
static gboolean
conf_check_pool_keys(MigdConf *conf, const char *text, GKeyFile *kf, const char *group,
                     MigdPoolConf *pool, GError **error)
{
    const char *type = pool_type_names[pool->type];

    if (!g_key_file_has_key(kf, group, "type", NULL)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "%s:%u: [%s] has no type; set type = sriov, type = emulated or type = vdpa",
                    conf->path, conf_find_line(text, group, NULL), group);
        return FALSE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(pool_type_keys); i++) {
        const char *key = pool_type_keys[i].key;
        gboolean has = g_key_file_has_key(kf, group, key, NULL);
        gboolean takes = (pool_type_keys[i].types & POOL_TYPE_BIT(pool->type)) != 0;

        if (has && !takes) {
            g_autofree char *types = conf_pool_types_text(pool_type_keys[i].types);

            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: key '%s' in [%s]: only %s pools take it, and this pool is %s",
                        conf->path, conf_find_line(text, group, key), key, group, types, type);
            return FALSE;
        }
        if (!has && takes && pool_type_keys[i].hint) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: [%s] is %s %s pool without %s; set %s to %s", conf->path,
                        conf_find_line(text, group, NULL), group,
                        pool->type == POOL_VDPA ? "a" : "an", type, key, key,
                        pool_type_keys[i].hint);
            return FALSE;
        }
    }
    return TRUE;
}

/* The first name of @names that @other also lists, or NULL. */
static const char *
conf_shared_name(GStrv names, GStrv other)
{
    for (guint i = 0; names && other && names[i]; i++) {
        if (g_strv_contains((const char *const *)other, names[i]))
            return names[i];
    }
    return NULL;
}

/* A device belongs to one pool: no PF, slot or vdpa device is claimed twice. */
static gboolean
conf_check_pool_unique(MigdConf *conf, const char *text, const char *group,
                       const MigdPoolConf *pool, GError **error)
{
    for (guint i = 0; i + 1 < conf->pools->len; i++) {
        const MigdPoolConf *other = g_ptr_array_index(conf->pools, i);
        const char *slot = conf_shared_name(pool->slots, other->slots);
        const char *device = conf_shared_name(pool->devices, other->devices);

        if (pool->pf && g_strcmp0(pool->pf, other->pf) == 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: key 'pf' in [%s]: %s is already the PF of [" POOL_PREFIX "%s]; "
                        "a PF's VFs belong to one pool", conf->path,
                        conf_find_line(text, group, "pf"), group, pool->pf, other->name);
            return FALSE;
        }
        if (slot || device) {
            const char *key = slot ? "slots" : "devices";

            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s:%u: key '%s' in [%s]: the %s '%s' is already in [" POOL_PREFIX
                        "%s]; a %s belongs to one pool", conf->path,
                        conf_find_line(text, group, key), key, group,
                        slot ? "slot" : "vDPA device", slot ? slot : device, other->name,
                        slot ? "slot" : "vDPA device");
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
conf_check_pool(MigdConf *conf, const char *text, GKeyFile *kf, const char *group,
                gpointer item, GError **error)
{
    MigdPoolConf *pool = item;

    if (!conf_check_pool_keys(conf, text, kf, group, pool, error) ||
        !conf_check_pool_unique(conf, text, group, pool, error))
        return FALSE;
    if ((pool->type == POOL_SRIOV || pool->type == POOL_VDPA) && !pool->sysfs_root)
        pool->sysfs_root = g_strdup("/sys");
    if (pool->type == POOL_EMULATED && !pool->model)
        pool->model = g_strdup("vmxnet3");
    return TRUE;
}

/* Every [PREFIX.NAME] group of @named, in file order, into its array. */
static gboolean
conf_read_named(MigdConf *conf, const char *text, GKeyFile *kf, const ConfNamedGroup *named,
                GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    GPtrArray *items = G_STRUCT_MEMBER(GPtrArray *, conf, named->array_offset);

    for (guint g = 0; groups[g]; g++) {
        gpointer item;

        if (!g_str_has_prefix(groups[g], named->prefix))
            continue;
        item = g_malloc0(named->size);
        *(char **)item = g_strdup(groups[g] + strlen(named->prefix));
        g_ptr_array_add(items, item);
        if (!conf_read_group(conf->path, text, kf, groups[g], named->keys, named->n_keys, item,
                             error) ||
            !named->check(conf, text, kf, groups[g], item, error))
            return FALSE;
    }
    return TRUE;
}

/* Why the token file's content is no token, or NULL. */
static const char *
conf_check_token(const char *token)
{
    gsize len = strlen(token);

    if (len == 0)
        return "it is empty";
    if (len < PEER_TOKEN_MIN)
        return "it holds fewer than 16 characters, which is too easy to guess; write a longer "
               "token, such as the output of `openssl rand -hex 32`";
    for (const char *c = token; *c; c++) {
        if (*c < 0x21 || *c > 0x7e)
            return "it holds a space, a control character or a non-ASCII character; a token "
                   "is one word of printable ASCII";
    }
    return NULL;
}

/* The content of @path, refused unless it is a regular file of at most
 * PEER_TOKEN_MAX bytes that only its owner may read or write. */
static char *
conf_read_token_file(const char *path, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *content = NULL;
    struct stat st;
    int err;

    if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot read %s: %s", path,
                    g_strerror(err));
    } else if (!S_ISREG(st.st_mode)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s is not a regular file", path);
    } else if (st.st_mode & 077) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "%s may be read or written by its group or others (mode %04o), and whoever "
                    "reads it may ask this migd for changes; run chmod 600 %s", path,
                    (guint)(st.st_mode & 07777), path);
    } else if (st.st_size > PEER_TOKEN_MAX) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "%s holds more than %u bytes, too many for a token", path, PEER_TOKEN_MAX);
    } else if (!g_file_get_contents(path, &content, NULL, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s", local->message);
    }
    return content;
}

/* The shared secret that peers send with every change they ask for. */
static gboolean
conf_read_peer_token(MigdConf *conf, const char *text, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *content = NULL;
    const char *why;

    if (!conf->peer_token_file)
        return TRUE;
    content = conf_read_token_file(conf->peer_token_file, &local);
    if (content) {
        why = conf_check_token(g_strstrip(content));
        if (!why) {
            conf->peer_token = g_steal_pointer(&content);
            return TRUE;
        }
        local = g_error_new(MIGD_ERROR, MIGD_ERROR_CONFIG, "%s is not a peer token: %s",
                            conf->peer_token_file, why);
    }
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: key 'peer_token_file' in [daemon]: %s", conf->path,
                conf_find_line(text, "daemon", "peer_token_file"), local->message);
    return FALSE;
}

static void
conf_read_plugin_settings(MigdConf *conf, GKeyFile *kf)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (guint g = 0; groups[g]; g++) {
        g_auto(GStrv) keys = NULL;
        GPtrArray *kv;

        if (!g_str_has_prefix(groups[g], PLUGIN_PREFIX))
            continue;
        kv = g_ptr_array_new_with_free_func(g_free);
        keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (guint k = 0; keys && keys[k]; k++) {
            g_ptr_array_add(kv, g_strdup(keys[k]));
            g_ptr_array_add(kv, g_key_file_get_value(kf, groups[g], keys[k], NULL));
        }
        g_hash_table_replace(conf->plugin_settings,
                             g_strdup(groups[g] + strlen(PLUGIN_PREFIX)), kv);
    }
}

/* The TLS keys go together: a certificate needs its key, and client
 * certificates are checked only on a listener that speaks TLS. The files
 * themselves are read by tls.c when the listener starts or reloads. */
static gboolean
conf_check_tls(MigdConf *conf, const char *text, GError **error)
{
    const char *missing = NULL, *needs = NULL;

    if (conf->tls_cert && !conf->tls_key) {
        missing = "tls_key";
        needs = "tls_cert";
    } else if (conf->tls_key && !conf->tls_cert) {
        missing = "tls_cert";
        needs = "tls_key";
    } else if (conf->tls_ca && !conf->tls_cert) {
        missing = "tls_cert";
        needs = "tls_ca";
    }
    if (!missing)
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                "%s:%u: [daemon] %s is set but %s is not: the TCP listener speaks TLS with "
                "tls_cert and tls_key, and checks client certificates against tls_ca",
                conf->path, conf_find_line(text, "daemon", needs), needs, missing);
    return FALSE;
}

static gboolean
conf_read_values(MigdConf *conf, const char *text, GKeyFile *kf, GError **error)
{
    g_autoptr(GError) local = NULL;

    for (gsize g = 0; g < G_N_ELEMENTS(conf_groups); g++) {
        if (!conf_read_group(conf->path, text, kf, conf_groups[g], conf_keys,
                             G_N_ELEMENTS(conf_keys), conf, error))
            return FALSE;
    }
    if (conf->max_connections_per_address >= conf->max_connections) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "%s:%u: [daemon] max_connections_per_address (%u) must be smaller than "
                    "max_connections (%u), or one address could take every connection",
                    conf->path, conf_find_line(text, "daemon", "max_connections_per_address"),
                    conf->max_connections_per_address, conf->max_connections);
        return FALSE;
    }
    if (!conf_check_tls(conf, text, error))
        return FALSE;
    if (!policy_config_validate(&conf->policy, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s:%u: [policy]: %s", conf->path,
                    conf_find_line(text, "policy", NULL), local->message);
        return FALSE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(named_groups); i++) {
        if (!conf_read_named(conf, text, kf, &named_groups[i], error))
            return FALSE;
    }
    conf_read_plugin_settings(conf, kf);
    return conf_read_peer_token(conf, text, error);
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

/* @ck's default as migd.conf would write it, read from @defaults. */
static char *
conf_default_text(const MigdConf *defaults, const ConfKey *ck)
{
    gconstpointer field = G_STRUCT_MEMBER_P(defaults, ck->offset);
    const PolicyConfig *policy;
    const char *text;
    GString *steps;

    switch (ck->type) {
    case CONF_UINT:
        return g_strdup_printf("%u", *(const guint *)field);
    case CONF_MODE:
        return g_strdup_printf("%04o", *(const guint *)field);
    case CONF_BOOL:
        return g_strdup(*(const gboolean *)field ? "true" : "false");
    case CONF_LOG_LEVEL:
        return g_strdup(log_level_to_string(*(const MigdLogLevel *)field));
    case CONF_UINT_LIST:
        policy = field;
        steps = g_string_new(NULL);
        for (guint i = 0; i < policy->n_downtime_steps; i++)
            g_string_append_printf(steps, "%s%u", i ? "," : "", policy->downtime_steps_ms[i]);
        return g_string_free(steps, FALSE);
    default:
        text = *(char *const *)field;
        return g_strdup(text ? text : "");
    }
}

/* One line a key: "GROUP KEY = DEFAULT", the range after a number's,
 * "GROUP KEY" for the keys of named groups, which have no default. */
char *
conf_describe_keys(void)
{
    g_autoptr(MigdConf) defaults = conf_new_defaults();
    GString *out = g_string_new(NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(conf_keys); i++) {
        const ConfKey *ck = &conf_keys[i];
        g_autofree char *value = conf_default_text(defaults, ck);

        g_string_append_printf(out, "%s %s = %s", ck->group, ck->key, value[0] ? value : "(empty)");
        if (ck->type == CONF_UINT || ck->type == CONF_UINT_LIST)
            g_string_append_printf(out, " (%u to %u)", ck->min, ck->max);
        g_string_append_c(out, '\n');
    }
    for (gsize g = 0; g < G_N_ELEMENTS(named_groups); g++) {
        for (gsize i = 0; i < named_groups[g].n_keys; i++)
            g_string_append_printf(out, "%sNAME %s\n", named_groups[g].prefix,
                                   named_groups[g].keys[i].key);
    }
    return g_string_free(out, FALSE);
}
