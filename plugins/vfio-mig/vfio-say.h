/* vfio-mig's sentences: printf into a caller's fixed buffer, where a
 * sentence cut at its end is still worth giving. */
#pragma once

#include <stddef.h>

/* Writes the sentence into @buf (@len bytes) and returns @rc. */
int vfio_say(char *buf, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
