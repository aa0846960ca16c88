/* lab-tap's kernel side (see tap-kernel.h): one rtnetlink request per
 * read or write, parsed into plain structures. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "nl.h"
#include "tap-kernel.h"

/* The kernel keeps tbf's burst as time in psched ticks of 64 ns
 * (PSCHED_SHIFT in include/net/pkt_sched.h). */
#define TK_PSCHED_SHIFT 6
#define TK_NSEC_PER_SEC 1000000000ULL

/* Links */

struct tk_link_query {
    int ifindex;                /* 0: by name */
    struct tk_link *ret;
    int found;
};

static int
tk_link_answer(const struct nlmsghdr *h, void *data)
{
    struct tk_link_query *q = data;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct nlattr *tb[IFLA_MAX + 1];
    const void *attrs;
    size_t len;

    if (h->nlmsg_type != RTM_NEWLINK || (q->ifindex && ifi->ifi_index != q->ifindex))
        return 0;
    attrs = nl_attrs(h, sizeof(*ifi), &len);
    nl_parse(attrs, len, tb, IFLA_MAX);
    memset(q->ret, 0, sizeof(*q->ret));
    q->ret->ifindex = ifi->ifi_index;
    if (tb[IFLA_IFNAME])
        snprintf(q->ret->name, sizeof(q->ret->name), "%.*s", (int)nl_len(tb[IFLA_IFNAME]),
                 (const char *)nl_data(tb[IFLA_IFNAME]));
    q->ret->mtu = nl_get_u32(tb[IFLA_MTU]);
    q->ret->txqlen = nl_get_u32(tb[IFLA_TXQLEN]);
    q->ret->min_mtu = nl_get_u32(tb[IFLA_MIN_MTU]);
    q->ret->max_mtu = nl_get_u32(tb[IFLA_MAX_MTU]);
    q->ret->master = (int)nl_get_u32(tb[IFLA_MASTER]);
    q->found = 1;
    return 0;
}

static int
tk_link_query(int ifindex, const char *name, struct tk_link *ret, char *why, size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct tk_link link;
    struct tk_link_query q = { .ifindex = ifindex, .ret = &link };
    struct nl_msg m;
    int rc;

    nl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
    if (name)
        nl_put_str(&m, IFLA_IFNAME, name);
    nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    rc = nl_talk(&m, tk_link_answer, &q, why, whylen);
    if (rc == 0 && !q.found)
        rc = -ENODEV;
    if (rc == 0)
        *ret = link;
    return rc;
}

int
tk_link_get(const char *name, struct tk_link *ret, char *why, size_t whylen)
{
    return tk_link_query(0, name, ret, why, whylen);
}

int
tk_link_get_index(int ifindex, struct tk_link *ret, char *why, size_t whylen)
{
    return tk_link_query(ifindex, NULL, ret, why, whylen);
}

static int
tk_link_set_u32(int ifindex, uint16_t attr, uint32_t v, char *why, size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct nl_msg m;

    nl_msg_init(&m, RTM_SETLINK, 0, &ifi, sizeof(ifi));
    nl_put_u32(&m, attr, v);
    return nl_talk(&m, NULL, NULL, why, whylen);
}

int
tk_link_set_mtu(int ifindex, uint32_t mtu, char *why, size_t whylen)
{
    return tk_link_set_u32(ifindex, IFLA_MTU, mtu, why, whylen);
}

int
tk_link_set_txqlen(int ifindex, uint32_t txqlen, char *why, size_t whylen)
{
    return tk_link_set_u32(ifindex, IFLA_TXQLEN, txqlen, why, whylen);
}

/* Bridges */

struct tk_bridge_query {
    int ifindex;
    int is_bridge, vlan_filtering;
};

static int
tk_bridge_answer(const struct nlmsghdr *h, void *data)
{
    struct tk_bridge_query *q = data;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1], *br[IFLA_BR_MAX + 1];
    const void *attrs;
    size_t len;

    if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != q->ifindex)
        return 0;
    attrs = nl_attrs(h, sizeof(*ifi), &len);
    nl_parse(attrs, len, tb, IFLA_MAX);
    if (!tb[IFLA_LINKINFO])
        return 0;
    nl_parse(nl_data(tb[IFLA_LINKINFO]), nl_len(tb[IFLA_LINKINFO]), info, IFLA_INFO_MAX);
    q->is_bridge = nl_str_is(info[IFLA_INFO_KIND], "bridge");
    if (q->is_bridge && info[IFLA_INFO_DATA]) {
        nl_parse(nl_data(info[IFLA_INFO_DATA]), nl_len(info[IFLA_INFO_DATA]), br, IFLA_BR_MAX);
        q->vlan_filtering = nl_get_u8(br[IFLA_BR_VLAN_FILTERING]) != 0;
    }
    return 0;
}

int
tk_bridge_get(int ifindex, int *ret_is_bridge, int *ret_vlan_filtering, char *why,
              size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    struct tk_bridge_query q = { .ifindex = ifindex };
    struct nl_msg m;
    int rc;

    nl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
    nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    rc = nl_talk(&m, tk_bridge_answer, &q, why, whylen);
    if (rc == 0) {
        *ret_is_bridge = q.is_bridge;
        *ret_vlan_filtering = q.vlan_filtering;
    }
    return rc;
}

/* The root qdisc */

uint32_t
tk_burst_slack(uint64_t rate)
{
    /* Two ticks' worth of bytes (one each way of the conversion), and one
     * for the rounding. */
    return (uint32_t)((rate * (2u << TK_PSCHED_SHIFT)) / TK_NSEC_PER_SEC + 1);
}

static uint32_t
tk_ticks_to_bytes(uint64_t rate, uint32_t ticks)
{
    unsigned __int128 ns = (unsigned __int128)ticks << TK_PSCHED_SHIFT;
    unsigned __int128 bytes = (rate * ns + TK_NSEC_PER_SEC / 2) / TK_NSEC_PER_SEC;

    return bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
}

static uint32_t
tk_bytes_to_ticks(uint64_t rate, uint32_t bytes)
{
    unsigned __int128 ns = (unsigned __int128)bytes * TK_NSEC_PER_SEC / (rate ? rate : 1);
    unsigned __int128 ticks = ns >> TK_PSCHED_SHIFT;

    return ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks;
}

static void
tk_tbf_parse(const struct nlattr *options, struct tk_tbf *ret)
{
    const struct nlattr *tb[TCA_TBF_MAX + 1];
    struct tc_tbf_qopt qopt;

    memset(ret, 0, sizeof(*ret));
    if (!options)
        return;
    nl_parse(nl_data(options), nl_len(options), tb, TCA_TBF_MAX);
    if (!tb[TCA_TBF_PARMS] || nl_len(tb[TCA_TBF_PARMS]) < sizeof(qopt))
        return;
    memcpy(&qopt, nl_data(tb[TCA_TBF_PARMS]), sizeof(qopt));
    ret->rate = tb[TCA_TBF_RATE64] ? nl_get_u64(tb[TCA_TBF_RATE64]) : qopt.rate.rate;
    ret->burst = tk_ticks_to_bytes(ret->rate, qopt.buffer);
    ret->limit = qopt.limit;
}

struct tk_qdisc_query {
    int ifindex;
    struct tk_qdisc *ret;
};

static int
tk_qdisc_answer(const struct nlmsghdr *h, void *data)
{
    struct tk_qdisc_query *q = data;
    const struct tcmsg *tcm = NLMSG_DATA(h);
    const struct nlattr *tb[TCA_MAX + 1];
    const void *attrs;
    size_t len;

    if (h->nlmsg_type != RTM_NEWQDISC || tcm->tcm_ifindex != q->ifindex ||
        tcm->tcm_parent != TC_H_ROOT)
        return 0;
    attrs = nl_attrs(h, sizeof(*tcm), &len);
    nl_parse(attrs, len, tb, TCA_MAX);
    if (tb[TCA_KIND])
        snprintf(q->ret->name, sizeof(q->ret->name), "%.*s", (int)nl_len(tb[TCA_KIND]),
                 (const char *)nl_data(tb[TCA_KIND]));
    /* libvirt gives its taps a root noqueue of their own (measured in the
     * lab: "qdisc noqueue 817d: root"), which limits no rate either. */
    if (tcm->tcm_handle == 0 || nl_str_is(tb[TCA_KIND], "noqueue"))
        q->ret->kind = TK_QDISC_DEFAULT;
    else if (nl_str_is(tb[TCA_KIND], "tbf")) {
        q->ret->kind = TK_QDISC_TBF;
        tk_tbf_parse(tb[TCA_OPTIONS], &q->ret->tbf);
    } else
        q->ret->kind = TK_QDISC_OTHER;
    return 0;
}

int
tk_root_qdisc_get(int ifindex, struct tk_qdisc *ret, char *why, size_t whylen)
{
    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex };
    struct tk_qdisc qdisc = { .kind = TK_QDISC_DEFAULT };
    struct tk_qdisc_query q = { .ifindex = ifindex, .ret = &qdisc };
    struct nl_msg m;
    int rc;

    /* A device's built-in qdisc (noop while it is down) is not dumped:
     * no answer for the root is the default too. */
    nl_msg_init(&m, RTM_GETQDISC, NLM_F_DUMP, &tcm, sizeof(tcm));
    rc = nl_talk(&m, tk_qdisc_answer, &q, why, whylen);
    if (rc == 0)
        *ret = qdisc;
    return rc;
}

int
tk_root_tbf_set(int ifindex, const struct tk_tbf *tbf, char *why, size_t whylen)
{
    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
                         .tcm_parent = TC_H_ROOT };
    struct tc_tbf_qopt qopt = {
        .rate = { .rate = tbf->rate > UINT32_MAX ? UINT32_MAX : (uint32_t)tbf->rate,
                  .linklayer = TC_LINKLAYER_ETHERNET },
        .limit = tbf->limit,
        .buffer = tk_bytes_to_ticks(tbf->rate, tbf->burst),
    };
    struct nlattr *options;
    struct nl_msg m;

    nl_msg_init(&m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, &tcm, sizeof(tcm));
    nl_put_str(&m, TCA_KIND, "tbf");
    options = nl_nest_start(&m, TCA_OPTIONS);
    nl_put(&m, TCA_TBF_PARMS, &qopt, sizeof(qopt));
    /* In bytes, so that the kernel need not take it back from ticks. */
    nl_put_u32(&m, TCA_TBF_BURST, tbf->burst);
    if (tbf->rate > UINT32_MAX)
        nl_put_u64(&m, TCA_TBF_RATE64, tbf->rate);
    nl_nest_end(&m, options);
    return nl_talk(&m, NULL, NULL, why, whylen);
}

int
tk_root_qdisc_del(int ifindex, char *why, size_t whylen)
{
    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
                         .tcm_parent = TC_H_ROOT };
    struct nl_msg m;

    nl_msg_init(&m, RTM_DELQDISC, 0, &tcm, sizeof(tcm));
    return nl_talk(&m, NULL, NULL, why, whylen);
}

/* Bridge port VLANs */

struct tk_vlan_query {
    int ifindex;
    uint16_t vid;               /* 0: the PVID */
    struct tk_vlan found;
};

static int
tk_vlan_answer(const struct nlmsghdr *h, void *data)
{
    struct tk_vlan_query *q = data;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct nlattr *tb[IFLA_MAX + 1], *a;
    const void *attrs;
    size_t len;
    int rem;

    if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != q->ifindex)
        return 0;
    attrs = nl_attrs(h, sizeof(*ifi), &len);
    nl_parse(attrs, len, tb, IFLA_MAX);
    if (!tb[IFLA_AF_SPEC])
        return 0;
    nl_for_each_nested(a, tb[IFLA_AF_SPEC], rem) {
        struct bridge_vlan_info info;

        if ((a->nla_type & NLA_TYPE_MASK) != IFLA_BRIDGE_VLAN_INFO || nl_len(a) < sizeof(info))
            continue;
        memcpy(&info, nl_data(a), sizeof(info));
        if (q->vid ? info.vid == q->vid : (info.flags & BRIDGE_VLAN_INFO_PVID) != 0) {
            q->found.vid = info.vid;
            q->found.flags = info.flags & (BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
        }
    }
    return 0;
}

int
tk_port_vlan_get(int ifindex, uint16_t vid, struct tk_vlan *ret, char *why, size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE };
    struct tk_vlan_query q = { .ifindex = ifindex, .vid = vid };
    struct nl_msg m;
    int rc;

    /* The bridge family answers only dumps; each port is one answer. */
    nl_msg_init(&m, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
    nl_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
    rc = nl_talk(&m, tk_vlan_answer, &q, why, whylen);
    if (rc == 0)
        *ret = q.found;
    return rc;
}

static int
tk_port_vlan_request(uint16_t type, int ifindex, uint16_t vid, uint16_t flags, char *why,
                     size_t whylen)
{
    struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
    struct bridge_vlan_info info = { .flags = flags, .vid = vid };
    struct nlattr *spec;
    struct nl_msg m;

    nl_msg_init(&m, type, 0, &ifi, sizeof(ifi));
    spec = nl_nest_start(&m, IFLA_AF_SPEC);
    nl_put(&m, IFLA_BRIDGE_VLAN_INFO, &info, sizeof(info));
    nl_nest_end(&m, spec);
    return nl_talk(&m, NULL, NULL, why, whylen);
}

int
tk_port_vlan_add(int ifindex, const struct tk_vlan *v, char *why, size_t whylen)
{
    return tk_port_vlan_request(RTM_SETLINK, ifindex, v->vid, v->flags, why, whylen);
}

int
tk_port_vlan_del(int ifindex, uint16_t vid, char *why, size_t whylen)
{
    return tk_port_vlan_request(RTM_DELLINK, ifindex, vid, 0, why, whylen);
}
