/* migd's configuration: a GKeyFile whose every group and key is known, so a
 * typo is an error that names the line rather than a silently ignored key. */
#pragma once

#include <glib.h>

#include "log.h"
#include "policy.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/migd/migd.conf"

/* A destination host named in [peer.NAME]. */
typedef struct {
    char *name;
    char *libvirt_uri;
    char *migd_url;             /* NULL when not set */
    char *cert_name;            /* the name its client certificate must carry; NULL: none */
} MigdPeer;

/* How a pool's devices exist on this host. */
typedef enum {
    POOL_SRIOV,                 /* the VFs of a PF, read from sysfs */
    POOL_EMULATED,              /* emulated NICs on a bridge: the lab's and CI's stand-ins */
    POOL_VDPA,                  /* vDPA devices bound to vhost_vdpa, by their vdpa names */
    POOL_TYPE_LAST
} PoolType;

/* "sriov", "emulated", "vdpa". */
const char *conf_pool_type_to_string(PoolType type);

/* A pool of devices that migd may plug into guests, from [pool.NAME]. */
typedef struct {
    char *name;
    PoolType type;              /* key type = sriov | emulated | vdpa (required) */
    char *pf;                   /* sriov: the PF's PCI address, lower case ("0000:3b:00.0") */
    char *sysfs_root;           /* sriov, vdpa: "/sys" unless tests point it at a fixture tree */
    char *model;                /* emulated: the NIC model ("vmxnet3") */
    char *bridge;               /* emulated: the host bridge the NIC joins */
    GStrv slots;                /* emulated: tap names, unique across all pools */
    GStrv devices;              /* vdpa: vdpa device names ("vdpa0"), unique across all pools */
    gboolean native;            /* its devices are vouched for as able to migrate */
} MigdPoolConf;

typedef struct {
    char *path;                 /* the file it came from; NULL for defaults */
    char *libvirt_uri;
    guint libvirt_keepalive_interval;   /* seconds; 0 turns keepalive off */
    guint libvirt_keepalive_count;
    guint libvirt_reconnect_max;        /* seconds between reconnect attempts, at most */
    char *unix_socket;          /* NULL: no unix socket */
    guint unix_socket_mode;
    char *unix_socket_group;    /* NULL: leave the group as created */
    char *tcp_listen;           /* NULL: no TCP listener; else ADDRESS:PORT */
    char *state_dir;
    MigdLogLevel log_level;
    char *peer_token_file;      /* NULL: no token, so peers cannot ask for changes */
    char *peer_token;           /* its content without surrounding whitespace, read at load */
    char *tls_cert;             /* NULL: the TCP listener speaks plain HTTP */
    char *tls_key;              /* set exactly when tls_cert is */
    char *tls_ca;               /* NULL: no client certificates are asked for */
    char *tcp_read;             /* "authenticated" (a GET over TCP needs a credential) or "open" */
    guint max_connections;      /* HTTP connections at once, per listener (read at start) */
    guint max_connections_per_address;  /* of those, from one client address (TCP) */
    guint idle_timeout_s;       /* an HTTP connection quiet this long is closed */

    guint max_outgoing;         /* [migration] */
    guint max_incoming;
    guint poll_interval_ms;
    guint retention_hours;
    gboolean allow_uri_destinations;    /* a request may name a qemu+tcp/tls/ssh URI, not only a peer */
    PolicyConfig policy;        /* [policy]: the defaults a request may override */
    GPtrArray *peers;           /* MigdPeer*, in file order */

    guint nic_unplug_timeout_s; /* [nic] */
    guint nic_replug_timeout_s;
    guint nic_replug_attempts;
    guint nic_lease_ttl_s;
    char *nic_verify;           /* "none" or "lab-agent" */
    char *nic_agent_socket_dir;
    GPtrArray *pools;           /* MigdPoolConf*, in file order */

    char *plugin_dir;           /* [plugins] */
    guint plugin_call_timeout_s;
    guint plugin_max_state_bytes;
    /* [plugin.NAME] groups: NAME -> GPtrArray of "key", "value", ... (the
     * plugin checks its own keys when it starts, so migd takes any). */
    GHashTable *plugin_settings;
} MigdConf;

/* The peer called @name, or NULL. */
const MigdPeer *conf_find_peer(const MigdConf *conf, const char *name);

/* The pool called @name, or NULL. */
const MigdPoolConf *conf_find_pool(const MigdConf *conf, const char *name);

MigdConf *conf_new_defaults(void);

/* Reads and validates @path; on error, the message names the file, the line
 * and the key. A missing file is an error: a daemon that silently runs on
 * defaults hides a typo in --config. */
MigdConf *conf_load(const char *path, GError **error);

/* Same, from text in memory; @path only names it in messages. Files the
 * text names (peer_token_file) are still read. */
MigdConf *conf_load_data(const char *path, const char *text, GError **error);

void conf_free(MigdConf *conf);

/* Every key migd.conf takes, one a line with its default and range, for the
 * test that holds migd.conf(5) to the table conf_load validates against. */
char *conf_describe_keys(void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigdConf, conf_free)

/* Whether @value is a PCI address DDDD:BB:SS.F (hexadecimal, either case). */
gboolean conf_is_pci_address(const char *value);

/* Splits conf->tcp_listen into a numeric address and a port. */
gboolean conf_parse_host_port(const char *value, char **ret_host, guint16 *ret_port,
                              GError **error);
