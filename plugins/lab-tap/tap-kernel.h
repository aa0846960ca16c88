/* What lab-tap reads from and writes to the kernel for one tap, through
 * rtnetlink: the link's MTU and txqueuelen (RTM_GETLINK/RTM_SETLINK), its
 * root qdisc (RTM_GETQDISC/RTM_NEWQDISC/RTM_DELQDISC, tbf), the bridge
 * port's VLANs (AF_BRIDGE RTM_GETLINK with RTEXT_FILTER_BRVLAN,
 * RTM_SETLINK/RTM_DELLINK with IFLA_BRIDGE_VLAN_INFO) and whether its bridge
 * filters VLANs (IFLA_BR_VLAN_FILTERING). Every function returns 0 or the
 * kernel's -errno with the kernel's own words, if any, in @why. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct tk_link {
    int ifindex;
    char name[16];              /* IFNAMSIZ */
    uint32_t mtu, txqlen;
    uint32_t min_mtu, max_mtu;  /* 0: the kernel did not say */
    int master;                 /* the bridge's ifindex, 0 when none */
};

/* -ENODEV when there is no link called @name. */
int tk_link_get(const char *name, struct tk_link *ret, char *why, size_t whylen);
int tk_link_get_index(int ifindex, struct tk_link *ret, char *why, size_t whylen);
int tk_link_set_mtu(int ifindex, uint32_t mtu, char *why, size_t whylen);
int tk_link_set_txqlen(int ifindex, uint32_t txqlen, char *why, size_t whylen);

/* Whether link @ifindex is a bridge, and whether it filters VLANs. */
int tk_bridge_get(int ifindex, int *ret_is_bridge, int *ret_vlan_filtering, char *why,
                  size_t whylen);

enum tk_qdisc_kind {
    TK_QDISC_DEFAULT,   /* the kernel's own (handle 0: pfifo_fast, noqueue, noop...) */
    TK_QDISC_TBF,       /* a tbf someone added */
    TK_QDISC_OTHER,     /* any other qdisc someone added */
};

struct tk_tbf {
    uint64_t rate;      /* bytes per second */
    uint32_t burst;     /* bytes */
    uint32_t limit;     /* bytes */
};

struct tk_qdisc {
    enum tk_qdisc_kind kind;
    char name[32];      /* its kind as the kernel names it ("tbf", "htb") */
    struct tk_tbf tbf;  /* TK_QDISC_TBF */
};

int tk_root_qdisc_get(int ifindex, struct tk_qdisc *ret, char *why, size_t whylen);
/* Adds a root tbf, or changes the one there (NLM_F_CREATE|NLM_F_REPLACE). */
int tk_root_tbf_set(int ifindex, const struct tk_tbf *tbf, char *why, size_t whylen);
/* Deletes the root qdisc: the kernel puts its default back. */
int tk_root_qdisc_del(int ifindex, char *why, size_t whylen);
/* How far apart two bursts at @rate may be and still be the same setting:
 * the kernel keeps a burst as time in 64 ns ticks, not in bytes. */
uint32_t tk_burst_slack(uint64_t rate);

/* One VLAN of a bridge port: vid 0 means none. */
struct tk_vlan {
    uint16_t vid;
    uint16_t flags;     /* BRIDGE_VLAN_INFO_PVID, _UNTAGGED */
};

/* The port's PVID (@vid 0) or its entry for @vid: ret->vid is 0 when it
 * has none. */
int tk_port_vlan_get(int ifindex, uint16_t vid, struct tk_vlan *ret, char *why, size_t whylen);
/* Adds @v to the port, or changes its flags when the port has it. */
int tk_port_vlan_add(int ifindex, const struct tk_vlan *v, char *why, size_t whylen);
int tk_port_vlan_del(int ifindex, uint16_t vid, char *why, size_t whylen);
