/* lab-tap's state: the host-side settings of a stand-in VF's tap, and the
 * text they travel as.
 *
 * Format, version 1 (TAP_STATE_VERSION, also the state version migd frames
 * it with): ASCII lines "KEY VALUE...", each of the five below exactly
 * once, in this order when lab-tap writes them, in any order when it reads
 * them; numbers are decimal; the last line ends with a newline.
 *
 *   lab-tap 1                  the format and its version
 *   mtu 9000                   the tap's MTU (68-65535)
 *   txqueuelen 321             its transmit queue length (0-4294967295)
 *   rate 1250000 32768 65536   its root tbf: rate in bytes/s (>0), burst and
 *                              limit in bytes (>0); "rate none": no tbf
 *   vlan 42 untagged           its PVID on its bridge (1-4094), "untagged"
 *                              when that VLAN leaves the port untagged,
 *                              "tagged" when not; "vlan none": no PVID, or a
 *                              bridge that does not filter VLANs
 *
 * Only the PVID is carried: other VLANs the port is a member of are not,
 * and "vlan none" leaves the destination port's VLANs as they are. A newer
 * version that changes or adds a line gets a new number. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TAP_STATE_VERSION 1

struct tap_state {
    uint32_t mtu;
    uint32_t txqlen;
    int has_rate;
    uint64_t rate;      /* bytes per second */
    uint32_t burst;     /* bytes */
    uint32_t limit;     /* bytes */
    int has_vlan;
    uint16_t vid;
    int untagged;
};

/* Writes @s into @buf (@cap bytes); the length, or -ENOSPC. */
int tap_state_format(const struct tap_state *s, char *buf, size_t cap);

/* Reads @len bytes; 0, or -EINVAL/-EPROTO with a sentence in @err that
 * names the line or the setting. */
int tap_state_parse(const uint8_t *blob, size_t len, uint32_t version, struct tap_state *ret,
                    char *err, size_t errlen);
