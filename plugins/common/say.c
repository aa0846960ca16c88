/* Sentences for migd's plugins (see say.h). */
#include <stdarg.h>
#include <stdio.h>

#include "say.h"

int
plugin_say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

const char *
plugin_words(const char *why, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", *why ? ": " : "", why);
    return buf;
}
