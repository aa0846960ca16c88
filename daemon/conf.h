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
} MigdPeer;

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

    guint max_outgoing;         /* [migration] */
    guint poll_interval_ms;
    guint retention_hours;
    PolicyConfig policy;        /* [policy]: the defaults a request may override */
    GPtrArray *peers;           /* MigdPeer*, in file order */
} MigdConf;

/* The peer called @name, or NULL. */
const MigdPeer *conf_find_peer(const MigdConf *conf, const char *name);

MigdConf *conf_new_defaults(void);

/* Reads and validates @path; on error, the message names the file, the line
 * and the key. A missing file is an error: a daemon that silently runs on
 * defaults hides a typo in --config. */
MigdConf *conf_load(const char *path, GError **error);

/* Same, from text in memory; @path only names it in messages. */
MigdConf *conf_load_data(const char *path, const char *text, GError **error);

void conf_free(MigdConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigdConf, conf_free)

/* Splits conf->tcp_listen into a numeric address and a port. */
gboolean conf_parse_host_port(const char *value, char **ret_host, guint16 *ret_port,
                              GError **error);
