/* vfio-mig's decisions (see vfio-answer.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <migd/plugin.h>

#include "vfio-answer.h"
#include "say.h"

void
vfio_answer_flags(uint64_t flags, char *buf, size_t len)
{
    static const struct { uint64_t bit; const char *name; } names[] = {
        { VFIO_ANSWER_STOP_COPY, "STOP_COPY" }, { VFIO_ANSWER_P2P, "P2P" },
        { VFIO_ANSWER_PRE_COPY, "PRE_COPY" },
    };
    size_t at = 0;
    uint64_t rest = flags;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & names[i].bit))
            continue;
        rest &= ~names[i].bit;
        at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s", at ? ", " : "",
                               names[i].name);
    }
    if (rest)
        at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s0x%" PRIx64, at ? ", " : "",
                               rest);
    if (at == 0)
        snprintf(buf, len, "none");
}

/* "ENOTTY" for the errnos a VFIO feature call answers, else the words. */
static const char *
errno_words(int e)
{
    switch (e) {
    case ENOTTY:
        return "ENOTTY";
    case EOPNOTSUPP:
        return "EOPNOTSUPP";
    case EINVAL:
        return "EINVAL";
    default:
        return strerror(e);
    }
}

int
vfio_answer_device(const struct vfio_caps *c, char *reason, size_t len)
{
    char flags[64], size[64] = "";

    if (c->migration_errno == ENOTTY || c->migration_errno == EOPNOTSUPP) {
        (void)plugin_say(reason, len, 0, "%s (driver %s) has no VFIO migration (VFIO_DEVICE_FEATURE "
                       "MIGRATION: %s), so it cannot stay attached", c->device, c->driver,
                       errno_words(c->migration_errno));
        return 0;
    }
    if (c->migration_errno == VFIO_ANSWER_UNASKED) {
        (void)plugin_say(reason, len, 0, "%s (driver %s) was not asked whether it migrates",
                       c->device, c->driver);
        return 0;
    }
    if (c->migration_errno) {
        (void)plugin_say(reason, len, 0, "%s (driver %s) did not say whether it migrates "
                       "(VFIO_DEVICE_FEATURE MIGRATION: %s)", c->device, c->driver,
                       errno_words(c->migration_errno));
        return 0;
    }
    vfio_answer_flags(c->flags, flags, sizeof(flags));
    if (!(c->flags & VFIO_ANSWER_STOP_COPY)) {
        (void)plugin_say(reason, len, 0, "%s (driver %s) offers migration flags %s without "
                       "STOP_COPY, which every VFIO migration needs", c->device, c->driver, flags);
        return 0;
    }
    if (!c->dma_logging) {
        (void)plugin_say(reason, len, 0, "%s (driver %s) migrates (%s) but has no dirty page "
                       "logging (DMA_LOGGING_START), which QEMU needs to track its writes to "
                       "guest memory during pre-copy", c->device, c->driver, flags);
        return 0;
    }
    if (c->have_stop_copy)
        snprintf(size, sizeof(size), "; stop-copy size %" PRIu64 " bytes", c->stop_copy);
    (void)plugin_say(reason, len, 0, "%s (driver %s) migrates in QEMU: %s, dirty page logging%s",
                   c->device, c->driver, flags, size);
    return 1;
}

int
vfio_answer_together(const struct vfio_caps *c, const struct vfio_caps *const *others,
                     size_t n, char *reason, size_t len)
{
    const struct vfio_caps *without = NULL;
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(others[i]->device, c->device) == 0)
            continue;           /* asked again about the same device */
        count++;
        if (!without && !(others[i]->flags & VFIO_ANSWER_P2P))
            without = others[i];
    }
    if (count == 0)
        return 1;
    if (!without && !(c->flags & VFIO_ANSWER_P2P))
        without = c;
    if (!without)
        return 1;
    (void)plugin_say(reason, len, 0, "%s would be VFIO device %zu of this guest to stay attached, "
                   "and %s does not support P2P: QEMU migrates more than one VFIO device only "
                   "when all do", c->device, count + 1, without->device);
    return 0;
}

int
vfio_answer_pair(const struct vfio_caps *src, const struct vfio_caps *dst, char *reason,
                 size_t len)
{
    char why[256];

    if (!vfio_answer_device(src, why, sizeof(why))) {
        (void)plugin_say(reason, len, 0, "the source's device cannot migrate: %s", why);
        return 0;
    }
    if (!vfio_answer_device(dst, why, sizeof(why))) {
        (void)plugin_say(reason, len, 0, "this host's device cannot migrate: %s", why);
        return 0;
    }
    if (strcmp(src->type, dst->type) != 0 || strcmp(src->driver, dst->driver) != 0) {
        (void)plugin_say(reason, len, 0, "the source's device %s is %s with driver %s, and %s here "
                       "is %s with driver %s: QEMU cannot load one's device state into the other",
                       src->device, src->type, src->driver, dst->device, dst->type, dst->driver);
        return 0;
    }
    (void)plugin_say(reason, len, 0, "both ends migrate: %s and %s are %s with driver %s",
                   src->device, dst->device, dst->type, dst->driver);
    return 1;
}

int
vfio_answer_may_open(uint32_t side, const char *domain)
{
    return !domain || side == MIGD_SIDE_DESTINATION;
}

void
vfio_answer_unprobed(const char *device, const char *driver, const char *cache_why,
                     char *reason, size_t len)
{
    if (strcmp(driver, "vfio-pci") == 0) {
        (void)plugin_say(reason, len, 0, "%s is bound to vfio-pci, which has no VFIO migration "
                       "(only vendor variant drivers have it), so it cannot stay attached (read "
                       "from sysfs: a guest owns it)", device);
        return;
    }
    (void)plugin_say(reason, len, 0, "%s (driver %s) is in a guest's use, and opening it would "
                   "reset it; no answer kept from before the guest started is usable (%s)", device,
                   driver, cache_why);
}

int
vfio_answer_kept_usable(const struct vfio_caps *kept, const char *driver, const char *type,
                        const char *boot, char *why, size_t len)
{
    if (!*boot || strcmp(kept->boot, boot) != 0)
        (void)plugin_say(why, len, 0, "the answer kept for %s is from before the host's last boot",
                       kept->device);
    else if (strcmp(kept->driver, driver) != 0)
        (void)plugin_say(why, len, 0, "the answer kept for %s was given by driver %s, and %s is "
                       "bound now", kept->device, kept->driver, driver);
    else if (strcmp(kept->type, type) != 0)
        (void)plugin_say(why, len, 0, "the answer kept for %s is for a %s, and it is a %s now",
                       kept->device, kept->type, type);
    else
        return 1;
    return 0;
}
