/* vfio-mig's sentences (see vfio-say.h). */
#include <stdarg.h>
#include <stdio.h>

#include "vfio-say.h"

int
vfio_say(char *buf, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return rc;
}
