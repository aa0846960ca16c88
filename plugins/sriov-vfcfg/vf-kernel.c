/* rtnetlink and devlink for sriov-vfcfg (see vf-kernel.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/devlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "genl.h"
#include "nl.h"
#include "vf-kernel.h"

struct vk_read_ctx {
    uint32_t vf;
    struct vk_pf *pf;
    struct vf_cfg *cfg;
};

/* A driver that does not support spoofchk, trust or RSS query reports
 * (u32)-1 for it. */
static void
vk_flag(const struct nlattr *a, unsigned int bit, uint32_t *ret, struct vf_cfg *c)
{
    /* Every one of these is { u32 vf; u32 setting; }. */
    const struct ifla_vf_trust *t = a && nl_len(a) >= sizeof(*t) ? nl_data(a) : NULL;

    if (!t || t->setting == (uint32_t)-1)
        return;
    *ret = t->setting ? 1 : 0;
    c->have |= 1u << bit;
}

static void
vk_vlan(const struct nlattr *const *tb, struct vf_cfg *c)
{
    const struct nlattr *pos;
    int rem;

    if (tb[IFLA_VF_VLAN_LIST]) {
        nl_for_each_nested(pos, tb[IFLA_VF_VLAN_LIST], rem) {
            const struct ifla_vf_vlan_info *v = nl_data(pos);

            if ((pos->nla_type & NLA_TYPE_MASK) != IFLA_VF_VLAN_INFO || nl_len(pos) < sizeof(*v))
                continue;
            c->vlan = v->vlan;
            c->qos = v->qos;
            c->proto = ntohs(v->vlan_proto);
            c->have |= 1u << VF_VLAN;
            return;
        }
    }
    if (tb[IFLA_VF_VLAN] && nl_len(tb[IFLA_VF_VLAN]) >= sizeof(struct ifla_vf_vlan)) {
        const struct ifla_vf_vlan *v = nl_data(tb[IFLA_VF_VLAN]);

        c->vlan = v->vlan;
        c->qos = v->qos;
        c->proto = 0x8100;
        c->have |= 1u << VF_VLAN;
    }
}

static void
vk_parse_vf(const struct nlattr *info, struct vf_cfg *c)
{
    const struct nlattr *tb[IFLA_VF_MAX + 1];

    nl_parse(nl_data(info), nl_len(info), tb, IFLA_VF_MAX);
    if (tb[IFLA_VF_MAC] && nl_len(tb[IFLA_VF_MAC]) >= sizeof(struct ifla_vf_mac)) {
        memcpy(c->mac, ((const struct ifla_vf_mac *)nl_data(tb[IFLA_VF_MAC]))->mac, 6);
        c->have |= 1u << VF_MAC;
    }
    vk_vlan(tb, c);
    if (tb[IFLA_VF_RATE] && nl_len(tb[IFLA_VF_RATE]) >= sizeof(struct ifla_vf_rate)) {
        const struct ifla_vf_rate *r = nl_data(tb[IFLA_VF_RATE]);

        c->min_rate = r->min_tx_rate;
        c->max_rate = r->max_tx_rate;
        c->have |= 1u << VF_RATE;
    }
    vk_flag(tb[IFLA_VF_SPOOFCHK], VF_SPOOFCHK, &c->spoofchk, c);
    vk_flag(tb[IFLA_VF_TRUST], VF_TRUST, &c->trust, c);
    vk_flag(tb[IFLA_VF_RSS_QUERY_EN], VF_QUERY_RSS, &c->query_rss, c);
    if (tb[IFLA_VF_LINK_STATE] &&
        nl_len(tb[IFLA_VF_LINK_STATE]) >= sizeof(struct ifla_vf_link_state)) {
        c->link_state = ((const struct ifla_vf_link_state *)nl_data(tb[IFLA_VF_LINK_STATE]))
                            ->link_state;
        c->have |= 1u << VF_LINK_STATE;
    }
}

/* The VF number an IFLA_VF_INFO is about: every member starts with it. */
static int
vk_info_vf(const struct nlattr *info, uint32_t *ret)
{
    const struct nlattr *tb[IFLA_VF_MAX + 1];

    nl_parse(nl_data(info), nl_len(info), tb, IFLA_VF_MAX);
    if (!tb[IFLA_VF_MAC] || nl_len(tb[IFLA_VF_MAC]) < sizeof(uint32_t))
        return -1;
    memcpy(ret, nl_data(tb[IFLA_VF_MAC]), sizeof(*ret));
    return 0;
}

static int
vk_read_answer(const struct nlmsghdr *h, void *data)
{
    struct vk_read_ctx *x = data;
    const struct nlattr *tb[IFLA_MAX + 1], *pos;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    size_t len;
    const void *attrs;
    int rem;

    if (h->nlmsg_type != RTM_NEWLINK)
        return 0;
    attrs = nl_attrs(h, sizeof(*ifi), &len);
    nl_parse(attrs, len, tb, IFLA_MAX);
    x->pf->ifindex = ifi->ifi_index;
    x->pf->num_vfs = nl_get_u32(tb[IFLA_NUM_VF]);
    if (!tb[IFLA_VFINFO_LIST])
        return 0;
    nl_for_each_nested(pos, tb[IFLA_VFINFO_LIST], rem) {
        uint32_t vf;

        if ((pos->nla_type & NLA_TYPE_MASK) == IFLA_VF_INFO && vk_info_vf(pos, &vf) == 0 &&
            vf == x->vf) {
            vk_parse_vf(pos, x->cfg);
            break;
        }
    }
    return 0;
}

int
vk_read(const char *pf_netdev, uint32_t vf, struct vk_pf *ret_pf, struct vf_cfg *ret_cfg,
        char *why, size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    struct vk_pf pf = { 0 };
    struct vf_cfg cfg = { 0 };
    struct vk_read_ctx x = { .vf = vf, .pf = &pf, .cfg = &cfg };
    struct nl_msg m;
    int rc;

    if (strlen(pf_netdev) >= IFNAMSIZ) {
        snprintf(why, whylen, "the name is longer than a netdev's");
        return -ENODEV;
    }
    nl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
    nl_put_str(&m, IFLA_IFNAME, pf_netdev);
    nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
    rc = nl_talk(&m, vk_read_answer, &x, why, whylen);
    if (rc == 0 && pf.ifindex == 0)
        rc = -ENODEV;
    if (rc == 0) {
        *ret_pf = pf;
        *ret_cfg = cfg;
    }
    return rc;
}

int
vk_set(int ifindex, uint32_t vf, const struct vf_cfg *c, enum vf_setting s, char *why,
       size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct nlattr *list, *info, *vlans;
    struct nl_msg m;

    nl_msg_init(&m, RTM_SETLINK, 0, &ifi, sizeof(ifi));
    list = nl_nest_start(&m, IFLA_VFINFO_LIST);
    info = nl_nest_start(&m, IFLA_VF_INFO);
    switch (s) {
    case VF_MAC: {
        struct ifla_vf_mac v = { .vf = vf };

        memcpy(v.mac, c->mac, sizeof(c->mac));
        nl_put(&m, IFLA_VF_MAC, &v, sizeof(v));
        break;
    }
    case VF_VLAN: {
        struct ifla_vf_vlan_info v = { .vf = vf, .vlan = c->vlan, .qos = c->qos,
                                       .vlan_proto = htons(c->proto ? c->proto : 0x8100) };

        vlans = nl_nest_start(&m, IFLA_VF_VLAN_LIST);
        nl_put(&m, IFLA_VF_VLAN_INFO, &v, sizeof(v));
        nl_nest_end(&m, vlans);
        break;
    }
    case VF_RATE: {
        struct ifla_vf_rate v = { .vf = vf, .min_tx_rate = c->min_rate,
                                  .max_tx_rate = c->max_rate };

        nl_put(&m, IFLA_VF_RATE, &v, sizeof(v));
        break;
    }
    case VF_SPOOFCHK: {
        struct ifla_vf_spoofchk v = { .vf = vf, .setting = c->spoofchk };

        nl_put(&m, IFLA_VF_SPOOFCHK, &v, sizeof(v));
        break;
    }
    case VF_TRUST: {
        struct ifla_vf_trust v = { .vf = vf, .setting = c->trust };

        nl_put(&m, IFLA_VF_TRUST, &v, sizeof(v));
        break;
    }
    case VF_LINK_STATE: {
        struct ifla_vf_link_state v = { .vf = vf, .link_state = c->link_state };

        nl_put(&m, IFLA_VF_LINK_STATE, &v, sizeof(v));
        break;
    }
    case VF_QUERY_RSS: {
        struct ifla_vf_rss_query_en v = { .vf = vf, .setting = c->query_rss };

        nl_put(&m, IFLA_VF_RSS_QUERY_EN, &v, sizeof(v));
        break;
    }
    case VF_LAST:
        return -EINVAL;
    }
    nl_nest_end(&m, info);
    nl_nest_end(&m, list);
    return nl_talk(&m, NULL, NULL, why, whylen);
}

/* The last part of the path a sysfs link points to ("netdevsim1", "pci"). */
static int
vk_link_name(const char *path, char *ret, size_t len)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    if (n < 0)
        return -errno;
    target[n] = '\0';
    snprintf(ret, len, "%s", basename(target));
    return 0;
}

static int
vk_mode_answer(const struct nlmsghdr *h, void *data)
{
    const struct nlattr *tb[DEVLINK_ATTR_MAX + 1];
    size_t len;
    const void *attrs = genl_attrs(h, &len);
    const struct nlattr *mode;

    nl_parse(attrs, len, tb, DEVLINK_ATTR_MAX);
    mode = tb[DEVLINK_ATTR_ESWITCH_MODE];
    if (mode && nl_len(mode) >= sizeof(uint16_t))
        memcpy(data, nl_data(mode), sizeof(uint16_t));
    return 0;
}

int
vk_switchdev(const char *sysfs, const char *pf_netdev, char *why, size_t whylen)
{
    char path[PATH_MAX], bus[64], dev[128], kwhy[256] = "";
    uint16_t family, mode = DEVLINK_ESWITCH_MODE_LEGACY;
    struct nl_msg m;
    int rc;

    snprintf(path, sizeof(path), "%s/class/net/%s/device/subsystem", sysfs, pf_netdev);
    if (vk_link_name(path, bus, sizeof(bus)) < 0)
        return 0;       /* no device behind the netdev: no devlink either */
    snprintf(path, sizeof(path), "%s/class/net/%s/device", sysfs, pf_netdev);
    if (vk_link_name(path, dev, sizeof(dev)) < 0)
        return 0;
    rc = genl_family(DEVLINK_GENL_NAME, &family, kwhy, sizeof(kwhy));
    if (rc == -ENOENT)
        return 0;
    if (rc == 0) {
        genl_msg_init(&m, family, DEVLINK_CMD_ESWITCH_GET, DEVLINK_GENL_VERSION, 0);
        nl_put_str(&m, DEVLINK_ATTR_BUS_NAME, bus);
        nl_put_str(&m, DEVLINK_ATTR_DEV_NAME, dev);
        rc = genl_talk(&m, vk_mode_answer, &mode, kwhy, sizeof(kwhy));
    }
    if (rc == -EOPNOTSUPP || rc == -ENODEV)
        return 0;       /* a driver without an eswitch is in legacy mode */
    if (rc < 0) {
        snprintf(why, whylen, "devlink cannot tell the eswitch mode of %s/%s: %s%s%s", bus, dev,
                 strerror(-rc), *kwhy ? ": " : "", kwhy);
        return rc;
    }
    return mode == DEVLINK_ESWITCH_MODE_SWITCHDEV;
}
