/* The daemon's listening sockets: handed over by systemd, or created from
 * the configuration (a unix socket with a mode and group, a TCP address). */
#pragma once

#include <glib.h>

typedef struct {
    int fd;
    char *name;         /* for messages: a path or ADDRESS:PORT */
    char *unlink_path;  /* a unix socket migd created and removes on exit */
} Listener;

void listener_free(Listener *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Listener, listener_free)

/* Binds @path, replacing a stale socket left by a crash but refusing to
 * steal one that a running migd still answers on. */
Listener *listen_unix(const char *path, guint mode, const char *group, GError **error);

/* Binds a numeric ADDRESS:PORT. */
Listener *listen_tcp(const char *host_port, GError **error);

/* The sockets systemd passed (socket activation); an empty array without. */
GPtrArray *listen_from_systemd(GError **error);
