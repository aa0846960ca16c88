/* A VF's admin settings as its PF's driver keeps them, over rtnetlink
 * (RTM_GETLINK with RTEXT_FILTER_VF, RTM_SETLINK with IFLA_VFINFO_LIST), and
 * the PF's eswitch mode over devlink. Every call opens a socket of its own. */
#pragma once

#include <net/if.h>

#include "vf-state.h"

struct vk_pf {
    int ifindex;
    uint32_t num_vfs;           /* IFLA_NUM_VF: the VFs enabled */
};

/* Reads PF @pf_netdev and, when @vf < its VF count, VF @vf's settings into
 * @ret_cfg (ret_cfg->have is 0 when the VF is not there). 0 or the
 * kernel's -errno (-ENODEV: no such netdev), with its words in @why. */
int vk_read(const char *pf_netdev, uint32_t vf, struct vk_pf *ret_pf, struct vf_cfg *ret_cfg,
            char *why, size_t whylen);

/* Sets @cfg's setting @s on VF @vf of the PF at @ifindex, alone in its
 * message, so that a refusal names one setting and changes nothing else. */
int vk_set(int ifindex, uint32_t vf, const struct vf_cfg *cfg, enum vf_setting s, char *why,
           size_t whylen);

/* Whether @pf_netdev's devlink instance (found through @sysfs/class/net)
 * is in switchdev mode: 1, 0 (legacy, or no devlink or eswitch at all), or
 * a -errno with a sentence in @why. */
int vk_switchdev(const char *sysfs, const char *pf_netdev, char *why, size_t whylen);
