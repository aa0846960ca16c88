/* What sysfs says of a VFIO device without opening it: a PCI function
 * (bus/pci/devices/ADDR) or an mdev (bus/mdev/devices/UUID), the driver
 * bound to it, its type, its IOMMU group; and the kernel's boot_id, which
 * tells a kept answer from before a reboot. */
#pragma once

#include <stddef.h>

struct vfio_place {
    char driver[64];            /* "" when no driver is bound */
    char type[64];              /* "pci 15b3:101e", "mdev mtty-2" */
    int group;                  /* N of /dev/vfio/N; -1 when it has no IOMMU group */
    int vfio;                   /* 1: a VFIO driver has it (vfio-pci, a vendor's *_vfio_pci,
                                 * or any mdev driver: those are all VFIO drivers) */
};

/* 0, or -ENODEV/-EINVAL with a sentence naming @device in @err. */
int vfio_sysfs_find(const char *sysfs, const char *device, struct vfio_place *ret, char *err,
                    size_t errlen);

/* The boot_id into @buf ("" when the kernel does not tell it). */
void vfio_sysfs_boot_id(char *buf, size_t len);
