/* The helpers of fuzz.h. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        (void)g_log_writer_standard_streams(level, fields, n_fields, data);
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

void
fuzz_init(void)
{
    g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
}

char *
fuzz_text(const uint8_t *data, size_t size)
{
    return g_strndup((const char *)data, size);
}

char *
fuzz_split(const uint8_t *data, size_t size, const uint8_t **ret_rest, size_t *ret_rest_len)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t head = nul ? (size_t)(nul - data) : size;

    *ret_rest = nul ? nul + 1 : data + size;
    *ret_rest_len = nul ? size - head - 1 : 0;
    return g_strndup((const char *)data, head);
}
