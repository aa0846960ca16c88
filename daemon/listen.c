/* Creating, adopting and cleaning up listening sockets. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "listen.h"

/* Room for a burst of connections (the kernel caps it at somaxconn): a
 * flood waiting in a short queue would delay a peer's connect by a SYN
 * retransmission, a second. */
#define LISTEN_BACKLOG 1024

void
listener_free(Listener *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        (void)close(l->fd);
    if (l->unlink_path)
        (void)unlink(l->unlink_path);
    g_free(l->unlink_path);
    g_free(l->name);
    g_free(l);
}

static Listener *
listener_new(int fd, const char *name)
{
    Listener *l = g_new0(Listener, 1);

    l->fd = fd;
    l->name = g_strdup(name);
    return l;
}

/* TRUE when something accepts connections on @addr: a live daemon. */
static gboolean
listen_unix_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean in_use;

    if (fd < 0)
        return FALSE;
    in_use = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
    (void)close(fd);
    return in_use;
}

static gboolean
listen_unix_set_owner(const char *path, guint mode, const char *group, GError **error)
{
    if (chmod(path, mode) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot set mode %04o on %s: %s",
                    mode, path, g_strerror(errno));
        return FALSE;
    }
    if (group) {
        struct group *gr = getgrnam(group);

        if (!gr) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "unix_socket_group '%s' is not a group on this host", group);
            return FALSE;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "cannot give %s to group '%s': %s", path, group, g_strerror(errno));
            return FALSE;
        }
    }
    return TRUE;
}

Listener *
listen_unix(const char *path, guint mode, const char *group, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(Listener) l = NULL;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "unix_socket '%s' is longer than the %zu bytes a socket path may have",
                    path, sizeof(addr.sun_path) - 1);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot create %s: %s", dir,
                    g_strerror(errno));
        return NULL;
    }
    if (listen_unix_in_use(&addr)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "another process (most likely a running migd) already listens on %s", path);
        return NULL;
    }
    (void)unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot create a unix socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    l = listener_new(fd, path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot bind %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    l->unlink_path = g_strdup(path);
    if (!listen_unix_set_owner(path, mode, group, error))
        return NULL;
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot listen on %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&l);
}

Listener *
listen_tcp(const char *host_port, GError **error)
{
    g_autofree char *host = NULL;
    g_autoptr(GInetAddress) inet = NULL;
    g_autoptr(GSocketAddress) gaddr = NULL;
    g_autoptr(Listener) l = NULL;
    struct sockaddr_storage addr;
    guint16 port;
    int fd, one = 1;

    if (!conf_parse_host_port(host_port, &host, &port, error))
        return NULL;
    inet = g_inet_address_new_from_string(host);
    gaddr = g_inet_socket_address_new(inet, port);
    if (!g_socket_address_to_native(gaddr, &addr, sizeof(addr), error))
        return NULL;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot create a TCP socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    l = listener_new(fd, host_port);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, g_socket_address_get_native_size(gaddr)) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "cannot listen on tcp_listen %s: %s", host_port, g_strerror(errno));
        return NULL;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot listen on %s: %s",
                    host_port, g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&l);
}

GPtrArray *
listen_from_systemd(GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)listener_free);
    int n = sd_listen_fds(TRUE);

    if (n < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot read the sockets systemd passed: %s", g_strerror(-n));
        return NULL;
    }
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
        g_autofree char *name = g_strdup_printf("systemd socket fd %d", fd);

        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "%s is not a listening stream socket; check ListenStream= in "
                        "migd.socket", name);
            return NULL;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        g_ptr_array_add(out, listener_new(fd, name));
    }
    return g_steal_pointer(&out);
}
