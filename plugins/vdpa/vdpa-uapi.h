/* The kernel uAPI the vdpa plugin uses, with the few constants Debian 12's
 * linux-libc-dev (6.1) does not have yet defined as the newer kernels
 * define them, so the plugin builds there and speaks to 6.12. */
#pragma once

#include <linux/vdpa.h>
#include <linux/vhost.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

/* include/uapi/linux/vhost_types.h, Linux 6.4 and 6.7. */
#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME 0x5
#endif
#ifndef VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK
#define VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK 0x6
#endif
#ifndef VHOST_BACKEND_F_DESC_ASID
#define VHOST_BACKEND_F_DESC_ASID 0x7
#endif
#ifndef VHOST_BACKEND_F_IOTLB_PERSIST
#define VHOST_BACKEND_F_IOTLB_PERSIST 0x8
#endif

/* include/uapi/linux/vhost.h, Linux 6.4. A 6.1 kernel does not know it: its
 * vhost_vdpa takes it for a vring ioctl and answers EFAULT. */
#ifndef VHOST_VDPA_RESUME
#define VHOST_VDPA_RESUME _IO(VHOST_VIRTIO, 0x7E)
#endif

/* include/uapi/linux/vdpa.h, Linux 6.0 and 6.1 (Debian 12's own kernel):
 * DEV_CONFIG_GET reports the device's own features in the attribute after
 * VDPA_ATTR_DEV_FEATURES (VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES). 6.2 moved
 * them into VDPA_ATTR_DEV_FEATURES and gave this number to the block
 * device's config (VDPA_ATTR_DEV_BLK_CFG_CAPACITY), which a net device's
 * answer never carries. */
#define VDPA_ATTR_DEV_FEATURES_6_1 (VDPA_ATTR_DEV_FEATURES + 1)
