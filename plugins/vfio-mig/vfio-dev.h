/* The device's own answer, through the kernel's VFIO uAPI: its group
 * (/dev/vfio/N), a type1 container, the device fd, and three
 * VFIO_DEVICE_FEATURE calls (GET MIGRATION, PROBE DMA_LOGGING_START, GET
 * MIG_DATA_SIZE). Getting the device fd opens the device, and the kernel
 * resets a PCI function when it is first opened: vfio-mig.c calls this
 * only for a device no guest owns. */
#pragma once

#include <stddef.h>

#include "vfio-answer.h"

/* Fills @caps' migration_errno, flags, dma_logging and stop_copy (device,
 * driver, type and boot are the caller's). 0; or -EBUSY when the group is
 * open elsewhere (nothing was opened, so nothing was reset), or another
 * -errno, with a sentence naming @device and the step in @err. */
int vfio_dev_ask(const char *devroot, int group, const char *device, struct vfio_caps *caps,
                 char *err, size_t errlen);
