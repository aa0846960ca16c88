/* vfio-mig: migd's plugin that asks a VFIO device itself whether it can
 * migrate inside QEMU (VFIO migration v2), instead of `native = true` in
 * its pool: VFIO_DEVICE_FEATURE GET MIGRATION (STOP_COPY, P2P, PRE_COPY),
 * PROBE DMA_LOGGING_START (QEMU tracks the device's writes with it) and GET
 * MIG_DATA_SIZE (the device's stop-copy size, reported in the probe's
 * detail and, for a device it vouches native for, as stop_copy_bytes).
 * It vouches `native` for a device that migrates, and, when more than one
 * of a job's VFIO devices would stay attached, only if all of them support
 * P2P (QEMU's own rule). migd takes `native` only when the
 * source's and the destination's probes both vouch; the source's answer
 * travels as the state, and check_state on the destination refuses, before
 * anything is touched, a pair QEMU could not migrate (another device type
 * or driver, or P2P missing on either end).
 *
 * Why it never opens a device a guest owns: the answers come from the
 * device fd (VFIO_GROUP_GET_DEVICE_FD), and the kernel resets a PCI
 * function (FLR, or a bus or power-state reset) when its device fd is
 * first opened; a guest whose NIC is reset under it loses its link, its
 * queues and its DMA mappings. So the device is opened only when its
 * description says no guest owns it: `domain` is unset (a pool device), or
 * it is the destination's leased VF, asked at probe and check_state before
 * the guest arrives. On the source the guest owns the device: the plugin
 * reads what sysfs says (the driver bound: plain vfio-pci never migrates)
 * and the answer it kept in its cache directory when it last asked the
 * device while no guest owned it, in this boot, with the same driver. Even
 * where it may open a device, the VFIO group is opened first, and the
 * kernel gives a group to one process at a time: a group that is open
 * elsewhere (a guest's QEMU, a tool) answers EBUSY, which the plugin
 * reports without having opened, and so reset, the device.
 *
 * Settings ([plugin.vfio-mig]): cache_dir (default VFIO_MIG_CACHE_DIR),
 * sysfs (default /sys) and dev (default /dev), absolute paths. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migd/plugin.h>

#include "vfio-answer.h"
#include "vfio-cache.h"
#include "vfio-dev.h"
#include "vfio-record.h"
#include "say.h"
#include "vfio-sysfs.h"

/* How many probe answers it keeps for the P2P rule and check_state. */
#define VM_SEEN_MAX 64

/* A device probed here in a job, and whether it was vouched for. */
struct vm_seen {
    struct vm_seen *next;
    char *job;
    struct vfio_caps caps;
    int native;
};

struct vfio_mig {
    char sysfs[PATH_MAX];
    char dev[PATH_MAX];
    char cache[PATH_MAX];
    struct vm_seen *seen;       /* newest first */
};

static int
vm_init(const struct migd_setting *settings, size_t count, void **ret_ctx, char *err,
        size_t errlen)
{
    struct vfio_mig *m = calloc(1, sizeof(*m));

    if (!m)
        return -ENOMEM;
    snprintf(m->sysfs, sizeof(m->sysfs), "/sys");
    snprintf(m->dev, sizeof(m->dev), "/dev");
    snprintf(m->cache, sizeof(m->cache), "%s", VFIO_MIG_CACHE_DIR);
    for (size_t i = 0; i < count; i++) {
        const char *k = settings[i].key, *v = settings[i].value;
        char *into = strcmp(k, "sysfs") == 0 ? m->sysfs : strcmp(k, "dev") == 0 ? m->dev
                     : strcmp(k, "cache_dir") == 0 ? m->cache : NULL;

        if (!into || v[0] != '/' || strlen(v) >= PATH_MAX) {
            free(m);
            return plugin_say(err, errlen, -EINVAL, "[plugin.vfio-mig] %s = %s is not a setting it "
                            "knows (cache_dir, sysfs, dev: absolute paths)", k, v);
        }
        snprintf(into, PATH_MAX, "%s", v);
    }
    *ret_ctx = m;
    return 0;
}

static void
vm_seen_free(struct vm_seen *s)
{
    while (s) {
        struct vm_seen *next = s->next;

        free(s->job);
        free(s);
        s = next;
    }
}

static void
vm_fini(void *ctx)
{
    struct vfio_mig *m = ctx;

    vm_seen_free(m->seen);
    free(m);
}

static struct vm_seen *
vm_seen_find(struct vfio_mig *m, const char *job, const char *device)
{
    for (struct vm_seen *s = m->seen; s; s = s->next) {
        if (strcmp(s->job, job) == 0 && strcmp(s->caps.device, device) == 0)
            return s;
    }
    return NULL;
}

/* Keeps (or replaces) @caps' answer in @job; the oldest go past the cap. */
static void
vm_seen_note(struct vfio_mig *m, const char *job, const struct vfio_caps *caps, int native)
{
    struct vm_seen *s = vm_seen_find(m, job, caps->device), **at;
    int n = 0;

    if (!s) {
        if (!(s = calloc(1, sizeof(*s))) || !(s->job = strdup(job))) {
            free(s);
            return;     /* forgetting it only makes the P2P rule see one device fewer */
        }
        s->next = m->seen;
        m->seen = s;
    }
    s->caps = *caps;
    s->native = native;
    for (at = &m->seen; *at && ++n < VM_SEEN_MAX; at = &(*at)->next)
        ;
    if (*at) {
        vm_seen_free((*at)->next);
        (*at)->next = NULL;
    }
}

/* The devices of @job vouched for here, but @device: how many, into @ret. */
static size_t
vm_seen_others(struct vfio_mig *m, const char *job, const char *device,
               const struct vfio_caps *ret[VM_SEEN_MAX])
{
    size_t n = 0;

    for (struct vm_seen *s = m->seen; s && n < VM_SEEN_MAX; s = s->next) {
        if (s->native && strcmp(s->job, job) == 0 && strcmp(s->caps.device, device) != 0)
            ret[n++] = &s->caps;
    }
    return n;
}

/* The answer for @dev: asked of the device when no guest owns it (and
 * kept), else the kept one. 1 when the device is a VFIO device, 0 when it
 * is not this plugin's, or -errno with @err. @note says where a kept
 * answer came from, or why none is usable. */
static int
vm_answer(struct vfio_mig *m, const struct migd_device *dev, struct vfio_caps *ret, char *note,
          size_t notelen, char *err, size_t errlen)
{
    struct vfio_caps c = { .migration_errno = VFIO_ANSWER_UNASKED }, kept;
    struct vfio_place place;
    int rc;

    note[0] = '\0';
    if (!dev->pci_address)
        return 0;
    if ((rc = vfio_sysfs_find(m->sysfs, dev->pci_address, &place, err, errlen)) < 0)
        return rc;
    if (!place.vfio)
        return 0;       /* a host driver has it: not a VFIO device now */
    snprintf(c.device, sizeof(c.device), "%s", dev->pci_address);
    snprintf(c.driver, sizeof(c.driver), "%s", place.driver);
    snprintf(c.type, sizeof(c.type), "%s", place.type);
    vfio_sysfs_boot_id(c.boot, sizeof(c.boot));
    if (vfio_answer_may_open(dev->side, dev->domain)) {
        if (place.group < 0)
            return plugin_say(err, errlen, -ENODEV, "%s (driver %s) has no IOMMU group, so VFIO "
                            "cannot open it", c.device, c.driver);
        if ((rc = vfio_dev_ask(m->dev, place.group, c.device, &c, err, errlen)) < 0)
            return rc;
        if (vfio_cache_store(m->cache, &c, note, notelen) == 0)
            (void)plugin_say(note, notelen, 0, "asked now, kept in %s", m->cache);
    } else if (vfio_cache_load(m->cache, c.device, &kept, note, notelen) == 0 &&
               vfio_answer_kept_usable(&kept, c.driver, c.type, c.boot, note, notelen)) {
        c = kept;
        (void)plugin_say(note, notelen, 0, "%s owns it: the answer kept in %s/%s", dev->domain,
                       m->cache, c.device);
    }
    *ret = c;
    return 1;
}

static int
vm_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
         size_t errlen)
{
    struct vfio_mig *m = ctx;
    const struct vfio_caps *others[VM_SEEN_MAX];
    char reason[256], note[256];
    struct vfio_caps c;
    int rc = vm_answer(m, dev, &c, note, sizeof(note), err, errlen), native;

    if (rc <= 0)
        return rc;
    if (c.migration_errno == VFIO_ANSWER_UNASKED) {
        vfio_answer_unprobed(c.device, c.driver, note, reason, sizeof(reason));
        note[0] = '\0';        /* the reason says it */
        native = 0;
    } else {
        native = vfio_answer_device(&c, reason, sizeof(reason));
        if (native && dev->job)
            native = vfio_answer_together(&c, others,
                                          vm_seen_others(m, dev->job, c.device, others), reason,
                                          sizeof(reason));
    }
    if (dev->job)
        vm_seen_note(m, dev->job, &c, native);
    ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE | (native ? MIGD_PROBE_NATIVE : 0);
    ret->state_version = VFIO_RECORD_VERSION;
    /* What QEMU sends for the device at stop-and-copy, for migd's downtime
     * prediction: only for a device it migrates. */
    if (native && c.have_stop_copy && MIGD_PROBE_COVERS(ret, stop_copy_bytes))
        ret->stop_copy_bytes = c.stop_copy;
    (void)plugin_say(ret->detail, sizeof(ret->detail), 0, "%s%s%s%s", reason,
                   *note ? " (" : "", note, *note ? ")" : "");
    return 0;
}

static int
vm_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap, size_t *ret_len,
        uint32_t *ret_version, char *err, size_t errlen)
{
    char note[256];
    struct vfio_caps c;
    int rc = vm_answer(ctx, dev, &c, note, sizeof(note), err, errlen);

    if (rc < 0)
        return rc;
    if (rc == 0)
        return plugin_say(err, errlen, -ENODEV, "%s is not a VFIO device (no pci address, or a host "
                        "driver is bound to it)",
                        dev->pci_address ? dev->pci_address : "the device");
    if (vfio_record_write(&c, (char *)buf, cap, ret_len) < 0)
        return plugin_say(err, errlen, -ENOSPC, "%s: its answer does not fit in %zu bytes "
                        "([plugins] max_state_bytes)", c.device, cap);
    *ret_version = VFIO_RECORD_VERSION;
    return 0;
}

static int
vm_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
         uint32_t version, char *err, size_t errlen)
{
    struct vfio_mig *m = ctx;
    const struct vfio_caps *others[VM_SEEN_MAX];
    const char *name = dev->alias ? dev->alias : dev->pci_address ? dev->pci_address : "NIC";
    struct vfio_caps src, both;
    char why[256];
    struct vm_seen *here;
    int rc = vfio_record_read(blob, len, version, &src, why, sizeof(why));

    if (rc < 0)
        return plugin_say(err, errlen, rc, "%s: %s", name, why);
    here = dev->job && dev->pci_address ? vm_seen_find(m, dev->job, dev->pci_address) : NULL;
    /* Unless both ends vouched, the device does not stay attached, and
     * what it can do does not matter. */
    if (!here || !here->native || !vfio_answer_device(&src, why, sizeof(why)))
        return 0;
    if (!vfio_answer_pair(&src, &here->caps, why, sizeof(why)))
        return plugin_say(err, errlen, -EOPNOTSUPP, "%s cannot stay attached: %s", name, why);
    both = here->caps;
    both.flags &= src.flags;
    if (!vfio_answer_together(&both, others,
                              vm_seen_others(m, dev->job, here->caps.device, others), why,
                              sizeof(why)))
        return plugin_say(err, errlen, -EOPNOTSUPP, "%s cannot stay attached: %s (on the source or "
                        "here)", name, why);
    return 0;
}

/* QEMU carries the device's own state; nothing of it is the plugin's. */
static int
vm_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
           uint32_t version, char *err, size_t errlen)
{
    return 0;
}

/* It changed nothing; what it noted for the job goes. */
static int
vm_abort(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    struct vfio_mig *m = ctx;

    for (struct vm_seen **s = &m->seen; *s;) {
        if (dev->job && strcmp((*s)->job, dev->job) == 0) {
            struct vm_seen *gone = *s;

            *s = gone->next;
            gone->next = NULL;
            vm_seen_free(gone);
        } else
            s = &(*s)->next;
    }
    return 0;
}

static const struct migd_plugin table = {
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
    .size = sizeof(struct migd_plugin),
    .name = "vfio-mig",
    .version = VFIO_MIG_VERSION,
    .init = vm_init,
    .fini = vm_fini,
    .probe = vm_probe,
    .save_state = vm_save,
    .check_state = vm_check,
    .restore_state = vm_restore,
    .abort = vm_abort,
};

MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &table;
}
