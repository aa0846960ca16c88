/* Generic netlink requests (see genl.h). */
#include <errno.h>
#include <string.h>

#include "genl.h"

void
genl_msg_init(struct nl_msg *m, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags)
{
    struct genlmsghdr g = { .cmd = cmd, .version = version };

    nl_msg_init(m, family, flags, &g, sizeof(g));
}

int
genl_talk(struct nl_msg *m, nl_answer_fn answer, void *data, char *why, size_t whylen)
{
    return nl_talk_on(NETLINK_GENERIC, m, answer, data, why, whylen);
}

const void *
genl_attrs(const struct nlmsghdr *h, size_t *ret_len)
{
    return nl_attrs(h, GENL_HDRLEN, ret_len);
}

static int
genl_family_answer(const struct nlmsghdr *h, void *data)
{
    const struct nlattr *tb[CTRL_ATTR_MAX + 1];
    size_t len;
    const void *attrs = genl_attrs(h, &len);

    nl_parse(attrs, len, tb, CTRL_ATTR_MAX);
    if (tb[CTRL_ATTR_FAMILY_ID] && nl_len(tb[CTRL_ATTR_FAMILY_ID]) >= sizeof(uint16_t))
        memcpy(data, nl_data(tb[CTRL_ATTR_FAMILY_ID]), sizeof(uint16_t));
    return 0;
}

int
genl_family(const char *name, uint16_t *ret_id, char *why, size_t whylen)
{
    struct nl_msg m;
    uint16_t id = 0;
    int rc;

    genl_msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
    nl_put_str(&m, CTRL_ATTR_FAMILY_NAME, name);
    rc = genl_talk(&m, genl_family_answer, &id, why, whylen);
    if (rc == 0 && id == 0)
        rc = -ENOENT;
    if (rc == 0)
        *ret_id = id;
    return rc;
}
