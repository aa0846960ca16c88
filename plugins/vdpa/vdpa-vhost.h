/* A vDPA device's vhost char device, /dev/vhost-vdpa-N, for the vdpa
 * plugin: which one a device has, how the plugin gets at it without
 * disturbing whoever uses it, and the ioctls it needs. Each call returns 0
 * or a -errno. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The device's vhost char device, from @sysfs/bus/vdpa/devices/@name/:
 * "/dev/vhost-vdpa-N" into @ret (-ENOENT: not bound to vhost_vdpa,
 * -ENODEV: no such device). */
int vv_find(const char *sysfs, const char *name, char *ret, size_t len);

/* How the plugin holds a vhost char device. vhost_vdpa lets one open file
 * at a time, resets the device when it is opened and when it is closed,
 * and takes vring ioctls only from the process that set itself owner. */
enum vv_how {
    VV_OPENED = 1,      /* nobody had it: opened (and so reset) here */
    VV_OURS,            /* open in this very process (migd owns the device): its fd dup'ed */
    VV_BORROWED,        /* open in another process (QEMU): its file taken with
                           pidfd_getfd, for ioctls that do not need the owner */
};

struct vv_handle {
    int fd;
    enum vv_how how;
    pid_t holder;       /* VV_BORROWED: who has it */
};

/* Gets at @path as above; -EBUSY when another process has it and its file
 * cannot be borrowed (no pidfd_getfd, or not allowed). */
int vv_open(const char *path, struct vv_handle *ret);
void vv_close(struct vv_handle *h);

int vv_backend_features(int fd, uint64_t *ret);
int vv_status(int fd, uint8_t *ret);
int vv_vqs_count(int fd, uint32_t *ret);
int vv_suspend(int fd);
int vv_resume(int fd);
/* VHOST_GET_VRING_BASE / VHOST_SET_VRING_BASE of vq @index. */
int vv_vring_base(int fd, uint32_t index, uint16_t *ret);
int vv_set_vring_base(int fd, uint32_t index, uint16_t base);
