/* Netlink requests for migd's plugins (see nl.h). One socket per request keeps
 * calls independent: migd may call the plugin from any worker thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nl.h"

void
nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *fam, size_t famlen)
{
    memset(m, 0, sizeof(*m));
    m->hdr.nlmsg_len = NLMSG_LENGTH(famlen);
    m->hdr.nlmsg_type = type;
    m->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    m->hdr.nlmsg_seq = 1;
    memcpy(NLMSG_DATA(&m->hdr), fam, famlen);
}

static void *
nl_tail(struct nl_msg *m)
{
    return m->buf + NLMSG_ALIGN(m->hdr.nlmsg_len);
}

void
nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
    struct nlattr *a = nl_tail(m);
    size_t need = NLMSG_ALIGN(m->hdr.nlmsg_len) + NLA_ALIGN(NLA_HDRLEN + len);

    if (need > sizeof(m->buf))
        abort();
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (len)
        memcpy((char *)a + NLA_HDRLEN, data, len);
    m->hdr.nlmsg_len = (uint32_t)need;
}

void
nl_put_u8(struct nl_msg *m, uint16_t type, uint8_t v)
{
    nl_put(m, type, &v, sizeof(v));
}

void
nl_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
    nl_put(m, type, &v, sizeof(v));
}

void
nl_put_u64(struct nl_msg *m, uint16_t type, uint64_t v)
{
    nl_put(m, type, &v, sizeof(v));
}

void
nl_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
    nl_put(m, type, s, strlen(s) + 1);
}

struct nlattr *
nl_nest_start(struct nl_msg *m, uint16_t type)
{
    struct nlattr *a = nl_tail(m);

    nl_put(m, type | NLA_F_NESTED, NULL, 0);
    return a;
}

void
nl_nest_end(struct nl_msg *m, struct nlattr *nest)
{
    nest->nla_len = (uint16_t)((char *)nl_tail(m) - (char *)nest);
}

void
nl_parse(const void *attrs, size_t len, const struct nlattr **tb, int max)
{
    const struct nlattr *a = attrs;
    int rem = (int)len;

    memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
    while (rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= rem) {
        int type = a->nla_type & NLA_TYPE_MASK;

        if (type <= max)
            tb[type] = a;
        rem -= NLA_ALIGN(a->nla_len);
        a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
    }
}

const void *
nl_attrs(const struct nlmsghdr *h, size_t famlen, size_t *ret_len)
{
    size_t off = NLMSG_ALIGN(famlen);

    if (h->nlmsg_len < NLMSG_LENGTH(off)) {
        *ret_len = 0;
        return NULL;
    }
    *ret_len = h->nlmsg_len - NLMSG_LENGTH(off);
    return (const char *)NLMSG_DATA(h) + off;
}

const void *
nl_data(const struct nlattr *a)
{
    return (const char *)a + NLA_HDRLEN;
}

size_t
nl_len(const struct nlattr *a)
{
    return a->nla_len - NLA_HDRLEN;
}

static int
nl_get(const struct nlattr *a, void *ret, size_t size)
{
    if (!a || nl_len(a) < size)
        return -1;
    memcpy(ret, nl_data(a), size);
    return 0;
}

uint8_t
nl_get_u8(const struct nlattr *a)
{
    uint8_t v = 0;

    (void)nl_get(a, &v, sizeof(v));
    return v;
}

uint32_t
nl_get_u32(const struct nlattr *a)
{
    uint32_t v = 0;

    (void)nl_get(a, &v, sizeof(v));
    return v;
}

uint64_t
nl_get_u64(const struct nlattr *a)
{
    uint64_t v = 0;

    (void)nl_get(a, &v, sizeof(v));
    return v;
}

int
nl_str_is(const struct nlattr *a, const char *s)
{
    return a && strnlen(nl_data(a), nl_len(a)) == strlen(s) &&
           memcmp(nl_data(a), s, strlen(s)) == 0;
}

/* The kernel's words in an error's extended ack (NLMSGERR_ATTR_MSG). */
static void
nl_extack(const struct nlmsghdr *h, char *why, size_t whylen)
{
    const struct nlmsgerr *e = NLMSG_DATA(h);
    size_t skip = sizeof(*e);
    const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
        return;
    if (!(h->nlmsg_flags & NLM_F_CAPPED))
        skip += e->msg.nlmsg_len - sizeof(e->msg);   /* the request is echoed */
    if (h->nlmsg_len < NLMSG_LENGTH(skip))
        return;
    nl_parse((const char *)e + skip, h->nlmsg_len - NLMSG_LENGTH(skip), tb, NLMSGERR_ATTR_MAX);
    if (tb[NLMSGERR_ATTR_MSG])
        snprintf(why, whylen, "%.*s", (int)nl_len(tb[NLMSGERR_ATTR_MSG]),
                 (const char *)nl_data(tb[NLMSGERR_ATTR_MSG]));
}

/* A dump's batch is as large as its largest message (a bridge port with
 * every VLAN), so the buffer is larger than a page. */
#define NL_RECV_MAX 65536

/* Reads answers until the ack, the dump's end, or an error: 1 when done,
 * 0 to read more, or a negative errno. */
static int
nl_read(int fd, char *buf, size_t size, nl_answer_fn answer, void *data, char *why,
        size_t whylen)
{
    ssize_t n = recv(fd, buf, size, MSG_TRUNC);
    int rc;

    if (n < 0)
        return -errno;
    if ((size_t)n > size)
        return -EMSGSIZE;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE)
            return 1;
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);

            if (e->error && why)
                nl_extack(h, why, whylen);
            return e->error ? e->error : 1;
        }
        if (answer && (rc = answer(h, data)) != 0)
            return rc;
    }
    return 0;
}

int
nl_talk(struct nl_msg *m, nl_answer_fn answer, void *data, char *why, size_t whylen)
{
    return nl_talk_on(NETLINK_ROUTE, m, answer, data, why, whylen);
}

int
nl_talk_on(int protocol, struct nl_msg *m, nl_answer_fn answer, void *data, char *why,
           size_t whylen)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    int one = 1;
    char *buf;
    int fd, rc;

    if (why && whylen)
        *why = '\0';
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    buf = malloc(NL_RECV_MAX);
    if (!buf)
        rc = -ENOMEM;
    else if (sendto(fd, m->buf, m->hdr.nlmsg_len, 0, (struct sockaddr *)&kernel,
                    sizeof(kernel)) < 0)
        rc = -errno;
    else
        while ((rc = nl_read(fd, buf, NL_RECV_MAX, answer, data, why, whylen)) == 0)
            ;
    free(buf);
    close(fd);
    return rc == 1 ? 0 : rc;
}
