/* vfio-mig's cache: the last answer of each device it probed while no
 * guest owned it, one file a device (its name) in the cache directory, in
 * vfio-record's text. It is what the source's probe reads for a device
 * its guest owns, which it must not open. */
#pragma once

#include <stddef.h>

#include "vfio-answer.h"

/* The answer kept for @device: 0, or -ENOENT (none) / -EINVAL (damaged)
 * with a sentence in @why; @ret is untouched on failure. */
int vfio_cache_load(const char *dir, const char *device, struct vfio_caps *ret, char *why,
                    size_t len);

/* Keeps @caps for its device, replacing the file at once (a rename): 0 or
 * -errno with a sentence in @why. */
int vfio_cache_store(const char *dir, const struct vfio_caps *caps, char *why, size_t len);
