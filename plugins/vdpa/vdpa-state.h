/* The state the vdpa plugin carries, and whether a destination device can
 * take it: pure logic, no I/O. The state is a small versioned text, one
 * value a line, in this order:
 *
 *   vdpa 1
 *   mgmtdev vdpasim_net                  (the source's management device)
 *   mac 02:00:00:aa:bb:cc
 *   mtu 1400
 *   max_vqp 1                            (queue pairs)
 *   negotiated 0x300000028               (what the guest's driver negotiated)
 *   device 0x308830028                   (the features the device offers)
 *   supported 0x308830028                (what its management device supports)
 *   backend 0x17e                        (/dev/vhost-vdpa-N's backend features)
 *   vring 0 3                            (a virtqueue's base, one line each)
 *
 * A value the source's kernel does not report is left out: negotiated is
 * there only once a driver set FEATURES_OK, vring lines only for a device
 * migd owns (QEMU owns a guest's). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VDPA_STATE_VERSION 1
#define VDPA_MAX_VQS 64
#define VDPA_NAMELEN 64

enum vdpa_value {
    VDPA_MGMTDEV, VDPA_MAC, VDPA_MTU, VDPA_MAX_VQP, VDPA_NEGOTIATED, VDPA_DEVICE_FEATURES,
    VDPA_SUPPORTED, VDPA_BACKEND, VDPA_VRINGS, VDPA_VALUE_LAST
};

struct vdpa_cfg {
    unsigned int have;                  /* 1 << enum vdpa_value */
    char mgmtdev[VDPA_NAMELEN];
    uint8_t mac[6];
    uint16_t mtu, max_vqp;
    uint64_t negotiated, device_features, supported, backend;
    uint32_t nvrings;                   /* vring[0..nvrings) */
    uint16_t vring[VDPA_MAX_VQS];
};

#define VDPA_HAS(c, v) (((c)->have & (1u << (v))) != 0)

/* The names of @features' bits (virtio-net's, or vhost backend features
 * when @backend), space-separated, "bit N" for one it does not know. */
void vdpa_features_format(uint64_t features, int backend, char *buf, size_t len);

/* Writes @cfg into @buf: 0 and the length, or -ENOSPC. */
int vdpa_state_write(const struct vdpa_cfg *cfg, char *buf, size_t cap, size_t *ret_len);

/* Reads a state of @version: 0, or -EPROTO/-EINVAL with a sentence in @err
 * naming the line. */
int vdpa_state_read(const uint8_t *blob, size_t len, uint32_t version, struct vdpa_cfg *ret,
                    char *err, size_t errlen);

/* Can the destination device @dst take the source's @src? @dst holds what
 * the destination's kernel says of its device (MAC, MTU, queue pairs, the
 * features it offers) and of its management device (supported). With
 * @provisioning, @dst is only the management device a new device would be
 * made on with @src's MAC and MTU. 0, or -EOPNOTSUPP (a feature the guest
 * negotiated is not supported) or -EINVAL (the config differs) with a
 * sentence in @why naming every difference. */
int vdpa_state_fit(const struct vdpa_cfg *src, const struct vdpa_cfg *dst, int provisioning,
                   char *why, size_t whylen);

/* probe's answer from a device's backend features: 1 when QEMU's vhost-vdpa
 * migration can keep it attached (SUSPEND), else 0; @detail says which
 * backend features are there and what they change. */
int vdpa_vouch_native(uint64_t backend, char *detail, size_t len);
