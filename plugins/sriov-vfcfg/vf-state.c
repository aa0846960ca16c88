/* sriov-vfcfg's state text (see vf-state.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_link.h>

#include "state-text.h"
#include "vf-state.h"

static const char *const setting_names[VF_LAST] = {
    "mac", "vlan", "rate", "spoofchk", "trust", "link_state", "query_rss",
};

static const char *const link_states[] = {
    [IFLA_VF_LINK_STATE_AUTO] = "auto",
    [IFLA_VF_LINK_STATE_ENABLE] = "enable",
    [IFLA_VF_LINK_STATE_DISABLE] = "disable",
};

const char *
vf_setting_name(enum vf_setting s)
{
    return (unsigned int)s < VF_LAST ? setting_names[s] : "unknown";
}

int
vf_setting_equal(const struct vf_cfg *a, const struct vf_cfg *b, enum vf_setting s)
{
    switch (s) {
    case VF_MAC:
        return memcmp(a->mac, b->mac, sizeof(a->mac)) == 0;
    case VF_VLAN:
        /* With no VLAN, QoS and protocol mean nothing. */
        return a->vlan == b->vlan && (a->vlan == 0 || (a->qos == b->qos && a->proto == b->proto));
    case VF_RATE:
        return a->min_rate == b->min_rate && a->max_rate == b->max_rate;
    case VF_SPOOFCHK:
        return a->spoofchk == b->spoofchk;
    case VF_TRUST:
        return a->trust == b->trust;
    case VF_LINK_STATE:
        return a->link_state == b->link_state;
    case VF_QUERY_RSS:
        return a->query_rss == b->query_rss;
    case VF_LAST:
        break;
    }
    return 0;
}

static const char *
proto_name(uint16_t proto, char *buf, size_t len)
{
    if (proto == 0x8100)
        return "802.1Q";
    if (proto == 0x88a8)
        return "802.1ad";
    snprintf(buf, len, "0x%04x", proto);
    return buf;
}

void
vf_setting_format(const struct vf_cfg *c, enum vf_setting s, char *buf, size_t len)
{
    char proto[8];

    switch (s) {
    case VF_MAC:
        snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1], c->mac[2],
                 c->mac[3], c->mac[4], c->mac[5]);
        break;
    case VF_VLAN:
        snprintf(buf, len, "%" PRIu32 " qos %" PRIu32 " proto %s", c->vlan, c->qos,
                 proto_name(c->proto, proto, sizeof(proto)));
        break;
    case VF_RATE:
        snprintf(buf, len, "min %" PRIu32 " max %" PRIu32, c->min_rate, c->max_rate);
        break;
    case VF_SPOOFCHK:
    case VF_TRUST:
    case VF_QUERY_RSS: {
        uint32_t v = s == VF_SPOOFCHK ? c->spoofchk : s == VF_TRUST ? c->trust : c->query_rss;

        snprintf(buf, len, "%s", v ? "on" : "off");
        break;
    }
    case VF_LINK_STATE:
        if (c->link_state <= IFLA_VF_LINK_STATE_DISABLE)
            snprintf(buf, len, "%s", link_states[c->link_state]);
        else
            snprintf(buf, len, "%" PRIu32, c->link_state);
        break;
    case VF_LAST:
        snprintf(buf, len, "?");
        break;
    }
}

int
vf_state_write(const struct vf_cfg *cfg, char *buf, size_t cap, size_t *ret_len)
{
    size_t at;
    int n = snprintf(buf, cap, "sriov-vfcfg %d\n", VF_STATE_VERSION);

    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    at = (size_t)n;
    for (int s = 0; s < VF_LAST; s++) {
        char value[64];

        if (!(cfg->have & (1u << s)))
            continue;
        vf_setting_format(cfg, s, value, sizeof(value));
        n = snprintf(buf + at, cap - at, "%s %s\n", setting_names[s], value);
        if (n < 0 || (size_t)n >= cap - at)
            return -ENOSPC;
        at += (size_t)n;
    }
    *ret_len = at;
    return 0;
}

static int
parse_u32(const char *word, uint32_t *ret)
{
    char *end;
    unsigned long long v;

    if (!word || *word < '0' || *word > '9')
        return -1;
    errno = 0;
    v = strtoull(word, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return -1;
    *ret = (uint32_t)v;
    return 0;
}

static int
parse_onoff(const char *word, uint32_t *ret)
{
    if (word && strcmp(word, "on") == 0)
        *ret = 1;
    else if (word && strcmp(word, "off") == 0)
        *ret = 0;
    else
        return -1;
    return 0;
}

static int
parse_proto(const char *word, uint16_t *ret)
{
    char *end;
    unsigned long v;

    if (word && strcmp(word, "802.1Q") == 0)
        *ret = 0x8100;
    else if (word && strcmp(word, "802.1ad") == 0)
        *ret = 0x88a8;
    else if (word && strncmp(word, "0x", 2) == 0) {
        v = strtoul(word + 2, &end, 16);
        if (*end || end == word + 2 || v > 0xffff)
            return -1;
        *ret = (uint16_t)v;
    } else
        return -1;
    return 0;
}

static int
parse_link_state(const char *word, uint32_t *ret)
{
    for (uint32_t i = 0; i < sizeof(link_states) / sizeof(link_states[0]); i++) {
        if (word && strcmp(word, link_states[i]) == 0) {
            *ret = i;
            return 0;
        }
    }
    return parse_u32(word, ret);
}

/* One line's words after the setting's name into @data: 0 or -1. */
static int
parse_setting(int s, char *const *w, int n, void *data)
{
    struct vf_cfg *c = data;

    switch (s) {
    case VF_MAC:
        return n == 1 ? st_parse_mac(w[0], c->mac) : -1;
    case VF_VLAN:
        if (n != 5 || strcmp(w[1], "qos") || strcmp(w[3], "proto"))
            return -1;
        return parse_u32(w[0], &c->vlan) || parse_u32(w[2], &c->qos) ||
               parse_proto(w[4], &c->proto) ? -1 : 0;
    case VF_RATE:
        if (n != 4 || strcmp(w[0], "min") || strcmp(w[2], "max"))
            return -1;
        return parse_u32(w[1], &c->min_rate) || parse_u32(w[3], &c->max_rate) ? -1 : 0;
    case VF_SPOOFCHK:
        return n == 1 ? parse_onoff(w[0], &c->spoofchk) : -1;
    case VF_TRUST:
        return n == 1 ? parse_onoff(w[0], &c->trust) : -1;
    case VF_QUERY_RSS:
        return n == 1 ? parse_onoff(w[0], &c->query_rss) : -1;
    case VF_LINK_STATE:
        return n == 1 ? parse_link_state(w[0], &c->link_state) : -1;
    case VF_LAST:
        break;
    }
    return -1;
}

static const struct st_keys state_keys = {
    .who = "sriov-vfcfg", .names = setting_names, .count = VF_LAST,
};

int
vf_state_read(const uint8_t *blob, size_t len, uint32_t version, struct vf_cfg *ret, char *err,
              size_t errlen)
{
    struct vf_cfg c = { 0 };
    unsigned int seen;
    int rc = st_read(blob, len, version, "sriov-vfcfg", VF_STATE_VERSION, &state_keys,
                     parse_setting, &c, &seen, err, errlen);

    if (rc < 0)
        return rc;
    c.have = seen;
    *ret = c;
    return 0;
}
