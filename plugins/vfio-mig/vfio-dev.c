/* A VFIO device's answers from the kernel (see vfio-dev.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio-dev.h"

/* Newer than Linux 6.1's <linux/vfio.h>. */
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

/* A feature call: the header, then up to 48 bytes of its data. */
union vd_feature {
    struct vfio_device_feature hdr;
    uint64_t words[8];
};

/* One VFIO_DEVICE_FEATURE call with @data_len bytes of data: 0 or the
 * errno; the answer's first 8 bytes into @ret_u64 when it is not NULL. */
static int
vd_feature(int dfd, uint32_t flags, size_t data_len, uint64_t *ret_u64)
{
    union vd_feature f = { 0 };

    f.hdr.argsz = (uint32_t)(sizeof(f.hdr) + data_len);
    f.hdr.flags = flags;
    if (ioctl(dfd, VFIO_DEVICE_FEATURE, &f) < 0)
        return errno;
    if (ret_u64)
        memcpy(ret_u64, f.hdr.data, sizeof(*ret_u64));
    return 0;
}

/* The three questions, on the device fd. */
static void
vd_questions(int dfd, struct vfio_caps *caps)
{
    uint64_t v = 0;

    caps->migration_errno = vd_feature(dfd, VFIO_DEVICE_FEATURE_GET |
                                       VFIO_DEVICE_FEATURE_MIGRATION,
                                       sizeof(struct vfio_device_feature_migration), &v);
    caps->flags = caps->migration_errno ? 0 : v;
    caps->dma_logging = vd_feature(dfd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                                   VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 0, NULL) == 0;
    caps->have_stop_copy = vd_feature(dfd, VFIO_DEVICE_FEATURE_GET |
                                      VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, sizeof(uint64_t),
                                      &v) == 0;
    caps->stop_copy = caps->have_stop_copy ? v : 0;
}

/* A container with @gfd in it and a type1 IOMMU, as GET_DEVICE_FD needs:
 * the container fd, or -errno with @err. */
static int
vd_container(const char *devroot, int group, int gfd, const char *device, char *err,
             size_t errlen)
{
    char path[PATH_MAX];
    struct vfio_group_status status = { .argsz = sizeof(status) };
    int cfd, type;

    if (ioctl(gfd, VFIO_GROUP_GET_STATUS, &status) < 0 ||
        !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        snprintf(err, errlen, "%s: VFIO group %d is not viable: another device in it is bound "
                 "to a host driver", device, group);
        return -EBUSY;
    }
    snprintf(path, sizeof(path), "%s/vfio/vfio", devroot);
    if ((cfd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        int e = errno;

        snprintf(err, errlen, "%s: cannot open the VFIO container %s: %s", device, path,
                 strerror(e));
        return -e;
    }
    type = ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU
                                                                     : VFIO_TYPE1_IOMMU;
    if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd) < 0 || ioctl(cfd, VFIO_SET_IOMMU, type) < 0) {
        int e = errno;

        snprintf(err, errlen, "%s: VFIO group %d could not be given a type1 IOMMU container: %s",
                 device, group, strerror(e));
        close(cfd);
        return -e;
    }
    return cfd;
}

int
vfio_dev_ask(const char *devroot, int group, const char *device, struct vfio_caps *caps,
             char *err, size_t errlen)
{
    char path[PATH_MAX];
    int gfd, cfd, dfd, e;

    snprintf(path, sizeof(path), "%s/vfio/%d", devroot, group);
    if ((gfd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        e = errno;
        if (e == EBUSY)
            snprintf(err, errlen, "%s: its VFIO group %s is open in another process (a guest's "
                     "QEMU, or a tool), so vfio-mig did not open the device, which would reset "
                     "it", device, path);
        else
            snprintf(err, errlen, "%s: cannot open its VFIO group %s: %s", device, path,
                     strerror(e));
        return -e;
    }
    if ((cfd = vd_container(devroot, group, gfd, device, err, errlen)) < 0) {
        close(gfd);
        return cfd;
    }
    if ((dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, device)) < 0) {
        e = errno;
        snprintf(err, errlen, "%s: VFIO group %d does not give the device: %s%s", device, group,
                 strerror(e), e == EBUSY ? " (it is open elsewhere, and was not reset)" : "");
        close(cfd);
        close(gfd);
        return -e;
    }
    vd_questions(dfd, caps);
    close(dfd);
    close(cfd);
    close(gfd);
    return 0;
}
