/* A small netlink client for migd's plugins (lab-tap, sriov-vfcfg): builds
 * one request, sends it on a socket of its own, and hands each answer to a
 * callback. Plain C, no library: what a plugin asks of the kernel fits in
 * a page, and a plugin links nothing it does not need. */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

#define NL_MSG_MAX 4096

struct nl_msg {
    union {
        struct nlmsghdr hdr;
        char buf[NL_MSG_MAX];
    };
};

/* Starts a request of @type (RTM_*) with NLM_F_REQUEST|NLM_F_ACK|@flags and
 * the family header @fam of @famlen bytes (struct ifinfomsg, tcmsg...). */
void nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *fam, size_t famlen);

/* Appends attributes; they never overflow the page for what a plugin asks,
 * and abort() if they would (a bug, not a runtime condition). */
void nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);
void nl_put_u8(struct nl_msg *m, uint16_t type, uint8_t v);
void nl_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
void nl_put_u64(struct nl_msg *m, uint16_t type, uint64_t v);
void nl_put_str(struct nl_msg *m, uint16_t type, const char *s);
struct nlattr *nl_nest_start(struct nl_msg *m, uint16_t type);
void nl_nest_end(struct nl_msg *m, struct nlattr *nest);

/* Called for each answer that is neither the ack nor an error; a non-zero
 * return stops reading and is nl_talk's result. */
typedef int (*nl_answer_fn)(const struct nlmsghdr *h, void *data);

/* Sends @m and reads until the ack or the end of the dump. Returns 0 or
 * the kernel's -errno; on an error @why (at most @whylen bytes; may be
 * NULL) gets the kernel's own words (its extended ack) or "". */
int nl_talk(struct nl_msg *m, nl_answer_fn answer, void *data, char *why, size_t whylen);
/* The same on a socket of another netlink @protocol (NETLINK_GENERIC). */
int nl_talk_on(int protocol, struct nl_msg *m, nl_answer_fn answer, void *data, char *why,
               size_t whylen);

/* Indexes the attributes of [@attrs, @attrs + @len) by type into
 * @tb[0..@max] (absent: NULL; the last of a repeated type wins). */
void nl_parse(const void *attrs, size_t len, const struct nlattr **tb, int max);
/* The attributes after a message's family header of @famlen bytes. */
const void *nl_attrs(const struct nlmsghdr *h, size_t famlen, size_t *ret_len);

const void *nl_data(const struct nlattr *a);
size_t nl_len(const struct nlattr *a);
/* 0 when @a is NULL or shorter than the value. */
uint8_t nl_get_u8(const struct nlattr *a);
uint32_t nl_get_u32(const struct nlattr *a);
uint64_t nl_get_u64(const struct nlattr *a);
/* A string attribute compared with @s; FALSE when absent. */
int nl_str_is(const struct nlattr *a, const char *s);

/* Iterates the attributes nested in @nest. */
#define nl_for_each_nested(pos, nest, rem)                                              \
    for (pos = (const struct nlattr *)nl_data(nest), rem = (int)nl_len(nest);           \
         rem >= (int)sizeof(struct nlattr) && pos->nla_len >= sizeof(struct nlattr) &&   \
         pos->nla_len <= rem;                                                            \
         rem -= NLA_ALIGN(pos->nla_len),                                                 \
         pos = (const struct nlattr *)((const char *)pos + NLA_ALIGN(pos->nla_len)))
