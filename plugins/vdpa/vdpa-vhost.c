/* /dev/vhost-vdpa-N for the vdpa plugin (see vdpa-vhost.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vdpa-uapi.h"
#include "vdpa-vhost.h"

#define VV_PREFIX "vhost-vdpa-"

int
vv_find(const char *sysfs, const char *name, char *ret, size_t len)
{
    char dir[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int rc = -ENOENT;

    if (strchr(name, '/') || name[0] == '.')
        return -ENODEV;
    snprintf(dir, sizeof(dir), "%s/bus/vdpa/devices/%s", sysfs, name);
    if (!(d = opendir(dir)))
        return errno == ENOENT ? -ENODEV : -errno;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, VV_PREFIX, strlen(VV_PREFIX)) == 0) {
            snprintf(ret, len, "/dev/%s", e->d_name);
            rc = 0;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* The fd number under which process @pid ("self" or digits) has @path
 * open, or -1. */
static int
vv_fd_of(const char *pid, const char *path)
{
    char dir[64], link[PATH_MAX], target[PATH_MAX];
    struct dirent *e;
    int found = -1;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
    if (!(d = opendir(dir)))
        return -1;
    while (found < 0 && (e = readdir(d))) {
        ssize_t n;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0)
            found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* Another process's file for @path, with pidfd_getfd (Linux 5.6). */
static int
vv_borrow(const char *path, struct vv_handle *ret)
{
    char self[32];
    struct dirent *e;
    int rc = -EBUSY;
    DIR *d;

    snprintf(self, sizeof(self), "%d", (int)getpid());
    if (!(d = opendir("/proc")))
        return -EBUSY;
    while ((e = readdir(d))) {
        int fd, pidfd, got;

        if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, self) == 0)
            continue;
        if ((fd = vv_fd_of(e->d_name, path)) < 0)
            continue;
        pidfd = (int)syscall(SYS_pidfd_open, atoi(e->d_name), 0);
        if (pidfd < 0)
            break;
        got = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        close(pidfd);
        if (got >= 0) {
            *ret = (struct vv_handle){ .fd = got, .how = VV_BORROWED, .holder = atoi(e->d_name) };
            rc = 0;
        }
        break;
    }
    closedir(d);
    return rc;
}

int
vv_open(const char *path, struct vv_handle *ret)
{
    int fd = vv_fd_of("self", path);

    if (fd >= 0) {
        if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
            return -errno;
        *ret = (struct vv_handle){ .fd = fd, .how = VV_OURS, .holder = getpid() };
        return 0;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        *ret = (struct vv_handle){ .fd = fd, .how = VV_OPENED, .holder = getpid() };
        return 0;
    }
    if (errno != EBUSY)
        return -errno;
    return vv_borrow(path, ret);
}

void
vv_close(struct vv_handle *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

static int
vv_ioctl(int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int
vv_backend_features(int fd, uint64_t *ret)
{
    return vv_ioctl(fd, VHOST_GET_BACKEND_FEATURES, ret);
}

int
vv_status(int fd, uint8_t *ret)
{
    return vv_ioctl(fd, VHOST_VDPA_GET_STATUS, ret);
}

int
vv_vqs_count(int fd, uint32_t *ret)
{
    return vv_ioctl(fd, VHOST_VDPA_GET_VQS_COUNT, ret);
}

int
vv_suspend(int fd)
{
    return vv_ioctl(fd, VHOST_VDPA_SUSPEND, NULL);
}

int
vv_resume(int fd)
{
    return vv_ioctl(fd, VHOST_VDPA_RESUME, NULL);
}

int
vv_vring_base(int fd, uint32_t index, uint16_t *ret)
{
    struct vhost_vring_state s = { .index = index };
    int rc = vv_ioctl(fd, VHOST_GET_VRING_BASE, &s);

    if (rc == 0)
        *ret = (uint16_t)s.num;
    return rc;
}

int
vv_set_vring_base(int fd, uint32_t index, uint16_t base)
{
    struct vhost_vring_state s = { .index = index, .num = base };

    return vv_ioctl(fd, VHOST_SET_VRING_BASE, &s);
}
