/* Which VF a migd device is: its PF's netdev and its index on the PF. The
 * device says so itself when it has pf_netdev and vf_index (as
 * migd-plugin-check passes them); migd's sriov pool passes the PF's and the
 * VF's PCI addresses, and sysfs knows the rest: the PF's one netdev under
 * bus/pci/devices/PF/net, and the virtfnN link that points to the VF. */
#pragma once

#include <net/if.h>
#include <stdint.h>

#include <migd/plugin.h>

/* 0, or -ENODEV/-EINVAL with a sentence naming the device in @err. */
int vs_resolve(const char *sysfs, const struct migd_device *dev, char ret_pf[IFNAMSIZ],
               uint32_t *ret_vf, char *err, size_t errlen);
