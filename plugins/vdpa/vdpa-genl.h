/* The vdpa generic-netlink family for the vdpa plugin: a device's
 * management device, its config and features, the management device's
 * supported features; making and removing a device. Every call opens a
 * socket of its own (plugins/common/genl.c). Each returns 0 or the
 * kernel's -errno (-ENOENT: no vdpa family, the module is not loaded;
 * -ENODEV: no such device), with the kernel's own words in @why. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vdpa-state.h"

/* What VDPA_CMD_DEV_GET says of a device. */
struct vg_dev {
    char mgmtdev[VDPA_NAMELEN];         /* "vdpasim_net", or "pci/0000:3b:00.2" */
    uint32_t max_vqs;
};

int vg_dev_get(const char *name, struct vg_dev *ret, char *why, size_t whylen);

/* VDPA_CMD_DEV_CONFIG_GET: sets MAC, MTU, max_vqp, negotiated (once a
 * driver set FEATURES_OK) and device features in @cfg and their bits in
 * cfg->have; max_vqp is 1 where the device has no MQ. */
int vg_config_get(const char *name, struct vdpa_cfg *cfg, char *why, size_t whylen);

/* VDPA_CMD_MGMTDEV_GET: @mgmtdev's supported features into *ret. */
int vg_mgmtdev_features(const char *mgmtdev, uint64_t *ret, char *why, size_t whylen);

/* VDPA_CMD_DEV_NEW: device @name on @mgmtdev with @src's MAC and MTU (and
 * its queue pairs when more than one), as far as @src has them. */
int vg_dev_new(const char *name, const char *mgmtdev, const struct vdpa_cfg *src, char *why,
               size_t whylen);

/* VDPA_CMD_DEV_DEL. */
int vg_dev_del(const char *name, char *why, size_t whylen);
