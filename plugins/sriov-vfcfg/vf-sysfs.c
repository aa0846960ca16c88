/* A device's PF netdev and VF index (see vf-sysfs.h). */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf-sysfs.h"

static int
vs_pf_netdev(const char *sysfs, const char *pf, char ret[IFNAMSIZ])
{
    char path[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int found = 0;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/net", sysfs, pf);
    if (!(d = opendir(path)))
        return -ENODEV;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
            continue;
        snprintf(ret, IFNAMSIZ, "%s", e->d_name);
        found++;
    }
    closedir(d);
    return found == 1 ? 0 : found ? -EINVAL : -ENODEV;
}

static int
vs_vf_index(const char *sysfs, const char *pf, const char *vf, uint32_t *ret)
{
    char path[PATH_MAX], target[PATH_MAX];

    for (uint32_t i = 0; i < 4096; i++) {
        ssize_t n;

        snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/virtfn%u", sysfs, pf, i);
        if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
            return -ENODEV;     /* virtfnN are numbered from 0 without gaps */
        target[n] = '\0';
        if (strcmp(basename(target), vf) == 0) {
            *ret = i;
            return 0;
        }
    }
    return -ENODEV;
}

int
vs_resolve(const char *sysfs, const struct migd_device *dev, char ret_pf[IFNAMSIZ],
           uint32_t *ret_vf, char *err, size_t errlen)
{
    const char *name = dev->alias ? dev->alias : dev->pci_address ? dev->pci_address : "the VF";
    int rc;

    if (dev->pf_netdev && dev->vf_index >= 0) {
        if (strlen(dev->pf_netdev) >= IFNAMSIZ) {
            snprintf(err, errlen, "%s: '%s' is too long for a netdev name", name, dev->pf_netdev);
            return -EINVAL;
        }
        snprintf(ret_pf, IFNAMSIZ, "%s", dev->pf_netdev);
        *ret_vf = (uint32_t)dev->vf_index;
        return 0;
    }
    if (!dev->pf_address) {
        snprintf(err, errlen, "%s: migd gave neither its PF's netdev and VF index nor its PF's "
                 "PCI address", name);
        return -EINVAL;
    }
    if (dev->pf_netdev)
        snprintf(ret_pf, IFNAMSIZ, "%s", dev->pf_netdev);
    else if ((rc = vs_pf_netdev(sysfs, dev->pf_address, ret_pf)) < 0) {
        snprintf(err, errlen, "%s: PF %s has %s netdev in %s/bus/pci/devices/%s/net", name,
                 dev->pf_address, rc == -EINVAL ? "more than one" : "no", sysfs, dev->pf_address);
        return rc;
    }
    if (dev->vf_index >= 0)
        *ret_vf = (uint32_t)dev->vf_index;
    else if (!dev->pci_address ||
             vs_vf_index(sysfs, dev->pf_address, dev->pci_address, ret_vf) < 0) {
        snprintf(err, errlen, "%s: %s is not a VF of PF %s (no virtfnN link in "
                 "%s/bus/pci/devices/%s points to it)", name,
                 dev->pci_address ? dev->pci_address : "its address (none given)",
                 dev->pf_address, sysfs, dev->pf_address);
        return -ENODEV;
    }
    return 0;
}
