/* Sentences for migd's plugins: errors go back to migd as a -errno and a
 * sentence in its buffer. */
#pragma once

#include <stddef.h>

/* Writes @fmt into @err (at most @errlen bytes) and returns @rc. */
int plugin_say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ": the kernel's words" when @why has some, else "", in @buf. */
const char *plugin_words(const char *why, char *buf, size_t len);
