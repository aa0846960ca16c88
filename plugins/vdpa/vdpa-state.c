/* The vdpa plugin's state text and its fitness checks (see vdpa-state.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state-text.h"
#include "vdpa-state.h"
#include "vdpa-uapi.h"

static const char *const value_names[VDPA_VALUE_LAST] = {
    "mgmtdev", "mac", "mtu", "max_vqp", "negotiated", "device", "supported", "backend", "vring",
};

/* virtio-net's feature bits (include/uapi/linux/virtio_net.h and
 * virtio_config.h), by bit number. */
static const char *const net_features[64] = {
    [0] = "CSUM", [1] = "GUEST_CSUM", [2] = "CTRL_GUEST_OFFLOADS", [3] = "MTU", [5] = "MAC",
    [7] = "GUEST_TSO4", [8] = "GUEST_TSO6", [9] = "GUEST_ECN", [10] = "GUEST_UFO",
    [11] = "HOST_TSO4", [12] = "HOST_TSO6", [13] = "HOST_ECN", [14] = "HOST_UFO",
    [15] = "MRG_RXBUF", [16] = "STATUS", [17] = "CTRL_VQ", [18] = "CTRL_RX",
    [19] = "CTRL_VLAN", [20] = "CTRL_RX_EXTRA", [21] = "GUEST_ANNOUNCE", [22] = "MQ",
    [23] = "CTRL_MAC_ADDR", [27] = "ANY_LAYOUT", [28] = "RING_INDIRECT_DESC",
    [29] = "RING_EVENT_IDX", [32] = "VERSION_1", [33] = "ACCESS_PLATFORM",
    [34] = "RING_PACKED", [35] = "IN_ORDER", [36] = "ORDER_PLATFORM", [37] = "SR_IOV",
    [38] = "NOTIFICATION_DATA", [40] = "RING_RESET", [52] = "VQ_NOTF_COAL",
    [53] = "NOTF_COAL", [54] = "GUEST_USO4", [55] = "GUEST_USO6", [56] = "HOST_USO",
    [57] = "HASH_REPORT", [59] = "GUEST_HDRLEN", [60] = "RSS", [61] = "RSC_EXT",
    [62] = "STANDBY", [63] = "SPEED_DUPLEX",
};

static const char *const backend_features[64] = {
    [VHOST_BACKEND_F_IOTLB_MSG_V2] = "IOTLB_MSG_V2", [VHOST_BACKEND_F_IOTLB_BATCH] = "IOTLB_BATCH",
    [VHOST_BACKEND_F_IOTLB_ASID] = "IOTLB_ASID", [VHOST_BACKEND_F_SUSPEND] = "SUSPEND",
    [VHOST_BACKEND_F_RESUME] = "RESUME",
    [VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK] = "ENABLE_AFTER_DRIVER_OK",
    [VHOST_BACKEND_F_DESC_ASID] = "DESC_ASID", [VHOST_BACKEND_F_IOTLB_PERSIST] = "IOTLB_PERSIST",
};

/* Appends to @buf (of @len, holding a string) what @fmt says; a full
 * buffer keeps what fitted. */
static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t len, const char *fmt, ...)
{
    size_t at = strlen(buf);
    va_list ap;

    if (at + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
}

void
vdpa_features_format(uint64_t features, int backend, char *buf, size_t len)
{
    const char *const *names = backend ? backend_features : net_features;

    buf[0] = '\0';
    for (int bit = 0; bit < 64; bit++) {
        if (!(features & (UINT64_C(1) << bit)))
            continue;
        if (names[bit])
            append(buf, len, "%s%s", buf[0] ? " " : "", names[bit]);
        else
            append(buf, len, "%sbit %d", buf[0] ? " " : "", bit);
    }
    if (!buf[0])
        snprintf(buf, len, "none");
}

static int
write_value(const struct vdpa_cfg *c, enum vdpa_value v, char *buf, size_t cap)
{
    switch (v) {
    case VDPA_MGMTDEV:
        return snprintf(buf, cap, "mgmtdev %s\n", c->mgmtdev);
    case VDPA_MAC:
        return snprintf(buf, cap, "mac %02x:%02x:%02x:%02x:%02x:%02x\n", c->mac[0], c->mac[1],
                        c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
    case VDPA_MTU:
        return snprintf(buf, cap, "mtu %u\n", c->mtu);
    case VDPA_MAX_VQP:
        return snprintf(buf, cap, "max_vqp %u\n", c->max_vqp);
    case VDPA_NEGOTIATED:
        return snprintf(buf, cap, "negotiated 0x%" PRIx64 "\n", c->negotiated);
    case VDPA_DEVICE_FEATURES:
        return snprintf(buf, cap, "device 0x%" PRIx64 "\n", c->device_features);
    case VDPA_SUPPORTED:
        return snprintf(buf, cap, "supported 0x%" PRIx64 "\n", c->supported);
    case VDPA_BACKEND:
        return snprintf(buf, cap, "backend 0x%" PRIx64 "\n", c->backend);
    case VDPA_VRINGS: {
        size_t at = 0;

        for (uint32_t i = 0; i < c->nvrings; i++) {
            int n = snprintf(buf + at, cap - at, "vring %u %u\n", i, c->vring[i]);

            if (n < 0 || (size_t)n >= cap - at)
                return (int)cap;
            at += (size_t)n;
        }
        return (int)at;
    }
    case VDPA_VALUE_LAST:
        break;
    }
    return 0;
}

int
vdpa_state_write(const struct vdpa_cfg *cfg, char *buf, size_t cap, size_t *ret_len)
{
    int n = snprintf(buf, cap, "vdpa %d\n", VDPA_STATE_VERSION);
    size_t at;

    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    at = (size_t)n;
    for (int v = 0; v < VDPA_VALUE_LAST; v++) {
        if (!VDPA_HAS(cfg, v))
            continue;
        n = write_value(cfg, v, buf + at, cap - at);
        if (n < 0 || (size_t)n >= cap - at)
            return -ENOSPC;
        at += (size_t)n;
    }
    *ret_len = at;
    return 0;
}

static int
parse_u64(const char *word, uint64_t max, uint64_t *ret)
{
    unsigned long long v;
    char *end;

    if (!word || *word < '0' || *word > '9')
        return -1;
    errno = 0;
    v = strtoull(word, &end, 0);
    if (errno || *end || v > max)
        return -1;
    *ret = v;
    return 0;
}

static int
parse_u16(const char *word, uint16_t *ret)
{
    uint64_t v;

    if (parse_u64(word, UINT16_MAX, &v) < 0)
        return -1;
    *ret = (uint16_t)v;
    return 0;
}

/* A vring line: its index must be the next one. */
static int
parse_vring(char *const *w, int n, struct vdpa_cfg *c)
{
    uint64_t index;
    uint16_t base;

    if (n != 2 || parse_u64(w[0], VDPA_MAX_VQS - 1, &index) < 0 || index != c->nvrings ||
        parse_u16(w[1], &base) < 0)
        return -1;
    c->vring[c->nvrings++] = base;
    return 0;
}

/* One line's words after its name into @data: 0 or -1. */
static int
parse_value(int v, char *const *w, int n, void *data)
{
    struct vdpa_cfg *c = data;

    if (v == VDPA_VRINGS)
        return parse_vring(w, n, c);
    if (n != 1)
        return -1;
    switch (v) {
    case VDPA_MGMTDEV:
        if (strlen(w[0]) >= sizeof(c->mgmtdev))
            return -1;
        strcpy(c->mgmtdev, w[0]);
        return 0;
    case VDPA_MAC:
        return st_parse_mac(w[0], c->mac);
    case VDPA_MTU:
        return parse_u16(w[0], &c->mtu);
    case VDPA_MAX_VQP:
        return parse_u16(w[0], &c->max_vqp) < 0 || c->max_vqp == 0 ? -1 : 0;
    case VDPA_NEGOTIATED:
        return parse_u64(w[0], UINT64_MAX, &c->negotiated);
    case VDPA_DEVICE_FEATURES:
        return parse_u64(w[0], UINT64_MAX, &c->device_features);
    case VDPA_SUPPORTED:
        return parse_u64(w[0], UINT64_MAX, &c->supported);
    case VDPA_BACKEND:
        return parse_u64(w[0], UINT64_MAX, &c->backend);
    case VDPA_VRINGS:
    case VDPA_VALUE_LAST:
        break;
    }
    return -1;
}

static const char *const value_hints[VDPA_VALUE_LAST] = {
    [VDPA_VRINGS] = "vring INDEX BASE, indices from 0 in order",
};

static const struct st_keys state_keys = {
    .who = "the vdpa plugin", .names = value_names, .count = VDPA_VALUE_LAST,
    .repeatable = 1u << VDPA_VRINGS, .hints = value_hints,
};

int
vdpa_state_read(const uint8_t *blob, size_t len, uint32_t version, struct vdpa_cfg *ret,
                char *err, size_t errlen)
{
    struct vdpa_cfg c = { 0 };
    unsigned int seen;
    int rc = st_read(blob, len, version, "vdpa", VDPA_STATE_VERSION, &state_keys, parse_value, &c,
                     &seen, err, errlen);

    if (rc < 0)
        return rc;
    c.have = seen;
    *ret = c;
    return 0;
}

/* Features in @want that @have lacks, named after @what, into @why. */
static int
fit_features(uint64_t want, uint64_t have, const char *what, char *why, size_t whylen)
{
    char names[256];

    if ((want & ~have) == 0)
        return 0;
    vdpa_features_format(want & ~have, 0, names, sizeof(names));
    append(why, whylen, "%s%s does not support %s, which the guest negotiated on the source",
           why[0] ? "; " : "", what, names);
    return -EOPNOTSUPP;
}

static void
fit_mac(const struct vdpa_cfg *src, const struct vdpa_cfg *dst, char *why, size_t whylen)
{
    const uint8_t *a = src->mac, *b = dst->mac;

    append(why, whylen, "%sits MAC is %02x:%02x:%02x:%02x:%02x:%02x, the source's "
           "%02x:%02x:%02x:%02x:%02x:%02x", why[0] ? "; " : "", b[0], b[1], b[2], b[3], b[4],
           b[5], a[0], a[1], a[2], a[3], a[4], a[5]);
}

int
vdpa_state_fit(const struct vdpa_cfg *src, const struct vdpa_cfg *dst, int provisioning,
               char *why, size_t whylen)
{
    uint16_t src_vqp = VDPA_HAS(src, VDPA_MAX_VQP) ? src->max_vqp : 1;
    uint16_t dst_vqp = VDPA_HAS(dst, VDPA_MAX_VQP) ? dst->max_vqp : 1;
    int rc = 0;

    why[0] = '\0';
    if (VDPA_HAS(src, VDPA_NEGOTIATED)) {
        if (VDPA_HAS(dst, VDPA_SUPPORTED))
            rc = fit_features(src->negotiated, dst->supported, "its management device", why,
                              whylen);
        if (!provisioning && VDPA_HAS(dst, VDPA_DEVICE_FEATURES) &&
            fit_features(src->negotiated, dst->device_features, "the device", why, whylen) < 0)
            rc = -EOPNOTSUPP;
    }
    if (provisioning)
        return rc;
    if (VDPA_HAS(src, VDPA_MAC) &&
        (!VDPA_HAS(dst, VDPA_MAC) || memcmp(src->mac, dst->mac, sizeof(src->mac)) != 0)) {
        if (VDPA_HAS(dst, VDPA_MAC))
            fit_mac(src, dst, why, whylen);
        else
            append(why, whylen, "%sit has no MAC (no VIRTIO_NET_F_MAC), the source's has one",
                   why[0] ? "; " : "");
        rc = rc ? rc : -EINVAL;
    }
    if (VDPA_HAS(src, VDPA_MTU) && (!VDPA_HAS(dst, VDPA_MTU) || src->mtu != dst->mtu)) {
        if (VDPA_HAS(dst, VDPA_MTU))
            append(why, whylen, "%sits MTU is %u, the source's %u", why[0] ? "; " : "",
                   dst->mtu, src->mtu);
        else
            append(why, whylen, "%sit has no MTU (no VIRTIO_NET_F_MTU), the source's is %u",
                   why[0] ? "; " : "", src->mtu);
        rc = rc ? rc : -EINVAL;
    }
    if (src_vqp != dst_vqp) {
        append(why, whylen, "%sit has %u queue pairs, the source %u", why[0] ? "; " : "",
               dst_vqp, src_vqp);
        rc = rc ? rc : -EINVAL;
    }
    return rc;
}

int
vdpa_vouch_native(uint64_t backend, char *detail, size_t len)
{
    char names[160];
    int native = (backend & (UINT64_C(1) << VHOST_BACKEND_F_SUSPEND)) != 0;

    vdpa_features_format(backend, 1, names, sizeof(names));
    detail[0] = '\0';
    if (!native) {
        append(detail, len, "not native: no SUSPEND among its backend features (%s), which "
               "QEMU's vhost-vdpa migration needs to stop the device", names);
        return 0;
    }
    append(detail, len, "native: SUSPEND; backend features %s", names);
    if (!(backend & (UINT64_C(1) << VHOST_BACKEND_F_RESUME)))
        append(detail, len, "; no RESUME: a failed migration resets the device to resume it");
    if (!(backend & (UINT64_C(1) << VHOST_BACKEND_F_IOTLB_PERSIST)))
        append(detail, len, "; no IOTLB_PERSIST: the destination maps the guest's memory again "
               "after reset");
    return 1;
}
