/* What a VFIO device answered about migration, and what vfio-mig vouches
 * for from it: pure decisions, no I/O, so that every rule is unit-tested
 * (tests/unit/test-vfio-answer.c). vfio-record.h writes and reads these
 * answers; vfio-dev.h asks the kernel for them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* uAPI values newer than some distributions' <linux/vfio.h> (6.2+). */
#define VFIO_ANSWER_STOP_COPY (1u << 0)         /* VFIO_MIGRATION_STOP_COPY */
#define VFIO_ANSWER_P2P (1u << 1)               /* VFIO_MIGRATION_P2P */
#define VFIO_ANSWER_PRE_COPY (1u << 2)          /* VFIO_MIGRATION_PRE_COPY */

/* migration_errno of a device that could not be asked (a guest owns it
 * and no kept answer is usable). */
#define VFIO_ANSWER_UNASKED (-1)

struct vfio_caps {
    char device[64];            /* "0000:3b:02.1", or an mdev's UUID */
    char driver[64];            /* the driver bound in sysfs: "vfio-pci", "mlx5_vfio_pci" */
    char type[64];              /* "pci 15b3:101e", or "mdev mtty-2" */
    char boot[40];              /* the kernel's boot_id when it was probed */
    int migration_errno;        /* 0: MIGRATION answered; else its errno (ENOTTY: none);
                                 * VFIO_ANSWER_UNASKED: the device was not asked */
    uint64_t flags;             /* VFIO_ANSWER_*, when it answered */
    int dma_logging;            /* 1: PROBE of DMA_LOGGING_START succeeded */
    int have_stop_copy;         /* 1: MIG_DATA_SIZE answered */
    uint64_t stop_copy;         /* its stop_copy_length, bytes */
};

/* Can @c migrate inside QEMU (VFIO migration v2 with device dirty
 * tracking)? 1 or 0, and in @reason a sentence why, for the job record. */
int vfio_answer_device(const struct vfio_caps *c, char *reason, size_t len);

/* QEMU's rule for more than one VFIO device that stays attached: all of
 * them support P2P (RUNNING_P2P, so that no device's DMA reaches another
 * that is already stopped). @others are the devices of the same job this
 * host already vouched for, @c the one asked about now. 1 when @c may be
 * vouched for too, else 0 with a sentence naming the device without P2P. */
int vfio_answer_together(const struct vfio_caps *c, const struct vfio_caps *const *others,
                         size_t n, char *reason, size_t len);

/* The destination's check: @src (what the source's device answered) and
 * @dst (the leased device here) both migrate, and QEMU can load one's
 * state into the other (the same device type). 1, or 0 with a sentence. */
int vfio_answer_pair(const struct vfio_caps *src, const struct vfio_caps *dst, char *reason,
                     size_t len);

/* A device a guest owns is never opened (opening a VFIO device resets
 * it): only one no domain owns, or the destination's leased device before
 * the guest arrives (probe and check_state). 1 when @side/@domain allow
 * opening. */
int vfio_answer_may_open(uint32_t side, const char *domain);

/* Why a device that may not be opened gets no vouch: its driver @driver
 * and whether a kept answer was found (@cache_why: why none is usable). */
void vfio_answer_unprobed(const char *device, const char *driver, const char *cache_why,
                          char *reason, size_t len);

/* "STOP_COPY, P2P, PRE_COPY" (or "none") for @flags, into @buf. */
void vfio_answer_flags(uint64_t flags, char *buf, size_t len);

/* Whether an answer kept in the cache still tells of the device as it is
 * now: the same boot (@boot), driver and type. 1, or 0 with why not. */
int vfio_answer_kept_usable(const struct vfio_caps *kept, const char *driver, const char *type,
                            const char *boot, char *why, size_t len);
