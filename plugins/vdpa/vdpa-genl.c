/* The vdpa generic-netlink family (see vdpa-genl.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "genl.h"
#include "vdpa-genl.h"
#include "vdpa-uapi.h"

static int
vg_u16(const struct nlattr *a, uint16_t *ret)
{
    if (!a || nl_len(a) < sizeof(*ret))
        return -1;
    memcpy(ret, nl_data(a), sizeof(*ret));
    return 0;
}

static int
vg_u64(const struct nlattr *a, uint64_t *ret)
{
    if (!a || nl_len(a) < sizeof(*ret))
        return -1;
    *ret = nl_get_u64(a);
    return 0;
}

/* A request of @cmd to the vdpa family. */
static int
vg_start(struct nl_msg *m, uint8_t cmd, char *why, size_t whylen)
{
    uint16_t family;
    int rc = genl_family(VDPA_GENL_NAME, &family, why, whylen);

    if (rc < 0)
        return rc;
    genl_msg_init(m, family, cmd, VDPA_GENL_VERSION, 0);
    return 0;
}

/* "bus/dev" or "dev", as iproute2's vdpa names a management device. */
static void
vg_put_mgmtdev(struct nl_msg *m, const char *mgmtdev)
{
    const char *slash = strchr(mgmtdev, '/');
    char bus[VDPA_NAMELEN];

    if (slash && (size_t)(slash - mgmtdev) < sizeof(bus)) {
        snprintf(bus, sizeof(bus), "%.*s", (int)(slash - mgmtdev), mgmtdev);
        nl_put_str(m, VDPA_ATTR_MGMTDEV_BUS_NAME, bus);
        mgmtdev = slash + 1;
    }
    nl_put_str(m, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmtdev);
}

static int
vg_dev_answer(const struct nlmsghdr *h, void *data)
{
    const struct nlattr *tb[VDPA_ATTR_MAX + 1];
    struct vg_dev *d = data;
    const struct nlattr *bus, *dev;
    size_t len;
    const void *attrs = genl_attrs(h, &len);

    nl_parse(attrs, len, tb, VDPA_ATTR_MAX);
    bus = tb[VDPA_ATTR_MGMTDEV_BUS_NAME];
    dev = tb[VDPA_ATTR_MGMTDEV_DEV_NAME];
    if (dev && bus)
        snprintf(d->mgmtdev, sizeof(d->mgmtdev), "%.*s/%.*s", (int)nl_len(bus),
                 (const char *)nl_data(bus), (int)nl_len(dev), (const char *)nl_data(dev));
    else if (dev)
        snprintf(d->mgmtdev, sizeof(d->mgmtdev), "%.*s", (int)nl_len(dev),
                 (const char *)nl_data(dev));
    d->max_vqs = nl_get_u32(tb[VDPA_ATTR_DEV_MAX_VQS]);
    return 0;
}

int
vg_dev_get(const char *name, struct vg_dev *ret, char *why, size_t whylen)
{
    struct vg_dev d = { .mgmtdev = "" };
    struct nl_msg m;
    int rc = vg_start(&m, VDPA_CMD_DEV_GET, why, whylen);

    if (rc < 0)
        return rc;
    nl_put_str(&m, VDPA_ATTR_DEV_NAME, name);
    if ((rc = genl_talk(&m, vg_dev_answer, &d, why, whylen)) < 0)
        return rc;
    if (!d.mgmtdev[0]) {
        snprintf(why, whylen, "the kernel named no management device");
        return -EPROTO;
    }
    *ret = d;
    return 0;
}

static int
vg_config_answer(const struct nlmsghdr *h, void *data)
{
    const struct nlattr *tb[VDPA_ATTR_MAX + 1];
    struct vdpa_cfg *c = data;
    size_t len;
    const void *attrs = genl_attrs(h, &len);

    nl_parse(attrs, len, tb, VDPA_ATTR_MAX);
    if (tb[VDPA_ATTR_DEV_NET_CFG_MACADDR] && nl_len(tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]) >= 6) {
        memcpy(c->mac, nl_data(tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]), 6);
        c->have |= 1u << VDPA_MAC;
    }
    if (vg_u16(tb[VDPA_ATTR_DEV_NET_CFG_MTU], &c->mtu) == 0)
        c->have |= 1u << VDPA_MTU;
    /* Without VIRTIO_NET_F_MQ the kernel leaves it out: one queue pair. */
    if (vg_u16(tb[VDPA_ATTR_DEV_NET_CFG_MAX_VQP], &c->max_vqp) < 0)
        c->max_vqp = 1;
    c->have |= 1u << VDPA_MAX_VQP;
    if (vg_u64(tb[VDPA_ATTR_DEV_NEGOTIATED_FEATURES], &c->negotiated) == 0)
        c->have |= 1u << VDPA_NEGOTIATED;
    if (vg_u64(tb[VDPA_ATTR_DEV_FEATURES], &c->device_features) == 0 ||
        vg_u64(tb[VDPA_ATTR_DEV_FEATURES_6_1], &c->device_features) == 0)
        c->have |= 1u << VDPA_DEVICE_FEATURES;
    return 0;
}

int
vg_config_get(const char *name, struct vdpa_cfg *cfg, char *why, size_t whylen)
{
    struct nl_msg m;
    int rc = vg_start(&m, VDPA_CMD_DEV_CONFIG_GET, why, whylen);

    if (rc < 0)
        return rc;
    nl_put_str(&m, VDPA_ATTR_DEV_NAME, name);
    return genl_talk(&m, vg_config_answer, cfg, why, whylen);
}

struct vg_mgmt_ctx {
    uint64_t supported;
    int seen;
};

static int
vg_mgmt_answer(const struct nlmsghdr *h, void *data)
{
    const struct nlattr *tb[VDPA_ATTR_MAX + 1];
    struct vg_mgmt_ctx *x = data;
    size_t len;
    const void *attrs = genl_attrs(h, &len);

    nl_parse(attrs, len, tb, VDPA_ATTR_MAX);
    if (vg_u64(tb[VDPA_ATTR_DEV_SUPPORTED_FEATURES], &x->supported) == 0)
        x->seen = 1;
    return 0;
}

int
vg_mgmtdev_features(const char *mgmtdev, uint64_t *ret, char *why, size_t whylen)
{
    struct vg_mgmt_ctx x = { 0 };
    struct nl_msg m;
    int rc = vg_start(&m, VDPA_CMD_MGMTDEV_GET, why, whylen);

    if (rc < 0)
        return rc;
    vg_put_mgmtdev(&m, mgmtdev);
    if ((rc = genl_talk(&m, vg_mgmt_answer, &x, why, whylen)) < 0)
        return rc;
    if (!x.seen) {
        snprintf(why, whylen, "the kernel did not say which features it supports");
        return -EPROTO;
    }
    *ret = x.supported;
    return 0;
}

int
vg_dev_new(const char *name, const char *mgmtdev, const struct vdpa_cfg *src, char *why,
           size_t whylen)
{
    struct nl_msg m;
    int rc = vg_start(&m, VDPA_CMD_DEV_NEW, why, whylen);

    if (rc < 0)
        return rc;
    nl_put_str(&m, VDPA_ATTR_DEV_NAME, name);
    vg_put_mgmtdev(&m, mgmtdev);
    if (VDPA_HAS(src, VDPA_MAC))
        nl_put(&m, VDPA_ATTR_DEV_NET_CFG_MACADDR, src->mac, sizeof(src->mac));
    if (VDPA_HAS(src, VDPA_MTU))
        nl_put(&m, VDPA_ATTR_DEV_NET_CFG_MTU, &src->mtu, sizeof(src->mtu));
    if (VDPA_HAS(src, VDPA_MAX_VQP) && src->max_vqp > 1)
        nl_put(&m, VDPA_ATTR_DEV_NET_CFG_MAX_VQP, &src->max_vqp, sizeof(src->max_vqp));
    return genl_talk(&m, NULL, NULL, why, whylen);
}

int
vg_dev_del(const char *name, char *why, size_t whylen)
{
    struct nl_msg m;
    int rc = vg_start(&m, VDPA_CMD_DEV_DEL, why, whylen);

    if (rc < 0)
        return rc;
    nl_put_str(&m, VDPA_ATTR_DEV_NAME, name);
    return genl_talk(&m, NULL, NULL, why, whylen);
}
