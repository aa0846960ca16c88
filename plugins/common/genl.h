/* Generic netlink on top of nl.h: a family's id by its name, and requests
 * to it (devlink for sriov-vfcfg). */
#pragma once

#include <linux/genetlink.h>

#include "nl.h"

/* The id of the family @name ("devlink"): 0, -ENOENT when the kernel does
 * not have it (the module is not loaded), or another -errno. */
int genl_family(const char *name, uint16_t *ret_id, char *why, size_t whylen);

/* Starts a request of @cmd to @family, as nl_msg_init does. */
void genl_msg_init(struct nl_msg *m, uint16_t family, uint8_t cmd, uint8_t version,
                   uint16_t flags);

/* nl_talk on a NETLINK_GENERIC socket. */
int genl_talk(struct nl_msg *m, nl_answer_fn answer, void *data, char *why, size_t whylen);

/* The attributes after an answer's generic netlink header. */
const void *genl_attrs(const struct nlmsghdr *h, size_t *ret_len);
