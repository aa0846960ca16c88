/* The state sriov-vfcfg carries: a VF's admin settings on its PF, as a
 * small versioned text, one setting a line, in this order:
 *
 *   sriov-vfcfg 1
 *   mac 02:00:00:00:00:10
 *   vlan 100 qos 3 proto 802.1Q        (proto: 802.1Q, 802.1ad or 0xNNNN)
 *   rate min 100 max 1000              (Mbit/s; 0 is no limit)
 *   spoofchk on
 *   trust off
 *   link_state auto                    (auto, enable or disable)
 *   query_rss off
 *
 * A setting the source's driver does not report is left out, and is not
 * touched on the destination. Numbers are taken as written (any 32-bit
 * value): the destination's kernel, not this parser, says what it takes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VF_STATE_VERSION 1

enum vf_setting {
    VF_MAC, VF_VLAN, VF_RATE, VF_SPOOFCHK, VF_TRUST, VF_LINK_STATE, VF_QUERY_RSS, VF_LAST
};

struct vf_cfg {
    unsigned int have;          /* 1 << enum vf_setting */
    uint8_t mac[6];
    uint32_t vlan, qos;
    uint16_t proto;             /* host order: 0x8100, 0x88a8 */
    uint32_t min_rate, max_rate;
    uint32_t spoofchk, trust, query_rss;        /* 0 or 1 */
    uint32_t link_state;        /* IFLA_VF_LINK_STATE_* */
};

const char *vf_setting_name(enum vf_setting s);

/* Does @a's setting @s equal @b's? */
int vf_setting_equal(const struct vf_cfg *a, const struct vf_cfg *b, enum vf_setting s);

/* Setting @s of @cfg as the state writes it after its name ("100 qos 3
 * proto 802.1Q"), into @buf. */
void vf_setting_format(const struct vf_cfg *cfg, enum vf_setting s, char *buf, size_t len);

/* Writes @cfg into @buf: the length, or -ENOSPC. */
int vf_state_write(const struct vf_cfg *cfg, char *buf, size_t cap, size_t *ret_len);

/* Reads a state of @version: 0, or -EPROTO/-EINVAL with a sentence in @err
 * naming the line. */
int vf_state_read(const uint8_t *blob, size_t len, uint32_t version, struct vf_cfg *ret,
                  char *err, size_t errlen);
