/* A device's VFIO answer as text: the state vfio-mig carries from the
 * source to the destination, and the answer it keeps in its cache
 * directory for a device a guest will own. One field a line, in order:
 *
 *   vfio-mig 1
 *   device 0000:3b:02.1                (or an mdev's UUID)
 *   driver mlx5_vfio_pci
 *   type pci 15b3:101e                 (or "mdev mtty-2")
 *   boot 3f0c...                       (/proc/sys/kernel/random/boot_id)
 *   migration 0x7                      (flags; "ENOTTY", "errno N", "unasked")
 *   dma_logging yes                    (yes or no)
 *   stop_copy 96                       (bytes; left out when not answered)
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vfio-answer.h"

#define VFIO_RECORD_VERSION 1

/* Writes @c into @buf: 0 and the length, or -ENOSPC. */
int vfio_record_write(const struct vfio_caps *c, char *buf, size_t cap, size_t *ret_len);

/* Reads a record of @version: 0, or -EPROTO/-EINVAL with a sentence in
 * @err naming the line; @ret is untouched on failure. */
int vfio_record_read(const uint8_t *blob, size_t len, uint32_t version, struct vfio_caps *ret,
                     char *err, size_t errlen);
