/* A VFIO device as sysfs shows it (see vfio-sysfs.h). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio-sysfs.h"

/* The last part of the symlink @dir/@name into @buf: 0 or -1. */
static int
link_name(const char *dir, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX], target[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
        return -1;
    target[n] = '\0';
    snprintf(buf, len, "%s", basename(target));
    return 0;
}

/* A sysfs attribute like "0x15b3\n" without its "0x" and newline. */
static int
read_id(const char *dir, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX], line[16];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "re")))
        return -1;
    ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (!ok || strncmp(line, "0x", 2) != 0)
        return -1;
    line[strcspn(line, "\n")] = '\0';
    if (strlen(line + 2) >= len)
        return -1;
    memcpy(buf, line + 2, strlen(line + 2) + 1);
    return 0;
}

/* Only names sysfs could hold, so that no path leaves bus/.../devices. */
static int
name_valid(const char *device)
{
    return *device && strlen(device) < 64 && !strchr(device, '/') && strcmp(device, ".") != 0 &&
           strcmp(device, "..") != 0;
}

int
vfio_sysfs_find(const char *sysfs, const char *device, struct vfio_place *ret, char *err,
                size_t errlen)
{
    char dir[PATH_MAX], vendor[16], product[16], group[16], mdev_type[48];
    struct vfio_place p = { .group = -1 };
    char *end;

    if (!name_valid(device)) {
        snprintf(err, errlen, "'%s' is not a PCI address or an mdev UUID", device);
        return -EINVAL;
    }
    snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s", sysfs, device);
    if (access(dir, F_OK) == 0) {
        if (read_id(dir, "vendor", vendor, sizeof(vendor)) < 0 ||
            read_id(dir, "device", product, sizeof(product)) < 0) {
            snprintf(err, errlen, "%s: %s does not tell its vendor and device IDs", device, dir);
            return -ENODEV;
        }
        snprintf(p.type, sizeof(p.type), "pci %s:%s", vendor, product);
    } else {
        snprintf(dir, sizeof(dir), "%s/bus/mdev/devices/%s", sysfs, device);
        if (access(dir, F_OK) != 0) {
            snprintf(err, errlen, "there is no device %s on this host (neither %s/bus/pci/devices/"
                     "%s nor %s/bus/mdev/devices/%s)", device, sysfs, device, sysfs, device);
            return -ENODEV;
        }
        if (link_name(dir, "mdev_type", mdev_type, sizeof(mdev_type)) < 0) {
            snprintf(err, errlen, "%s: the mdev has no mdev_type link in %s", device, dir);
            return -ENODEV;
        }
        snprintf(p.type, sizeof(p.type), "mdev %s", mdev_type);
    }
    if (link_name(dir, "driver", p.driver, sizeof(p.driver)) < 0)
        p.driver[0] = '\0';
    p.vfio = p.driver[0] && (strncmp(p.type, "mdev ", 5) == 0 || strstr(p.driver, "vfio"));
    if (link_name(dir, "iommu_group", group, sizeof(group)) == 0) {
        long g = strtol(group, &end, 10);

        p.group = *end || g < 0 || g > INT_MAX ? -1 : (int)g;
    }
    *ret = p;
    return 0;
}

void
vfio_sysfs_boot_id(char *buf, size_t len)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

    buf[0] = '\0';
    if (!f)
        return;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}
