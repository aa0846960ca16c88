/* A plugin's state frame as the destination receives it from a peer:
 * base64 text in the prepare's JSON. Each input is tried as that text, and
 * as the frame's bytes with their checksum made right (the fuzzer cannot
 * forge SHA-256, and the fields behind it are what the decoder trusts). A
 * frame that decodes must encode back to the same bytes. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "plugin-frame.h"

#define FUZZ_MAX_STATE 4096
#define FUZZ_SUM 32

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static void
fuzz_decode(const char *text)
{
    g_auto(PluginFrame) frame = { 0 };
    g_autoptr(GError) error = NULL;
    g_autofree char *again = NULL;
    g_autofree guint8 *was = NULL, *is = NULL;
    gsize was_len = 0, is_len = 0;

    if (!plugin_frame_decode(text, FUZZ_MAX_STATE, &frame, &error)) {
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_null(frame.plugin);
        return;
    }
    g_assert_cmpuint(strlen(frame.plugin), <=, PLUGIN_FRAME_NAME_MAX);
    g_assert_cmpuint(strlen(frame.alias), <=, PLUGIN_FRAME_ALIAS_MAX);
    g_assert_cmpuint(g_bytes_get_size(frame.state), <=, FUZZ_MAX_STATE);
    again = plugin_frame_encode(&frame);
    was = g_base64_decode(text, &was_len);
    is = g_base64_decode(again, &is_len);
    g_assert_cmpmem(was, was_len, is, is_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_text(data, size);
    g_autofree guint8 *bytes = g_memdup2(data, size);
    g_autofree char *encoded = NULL;

    fuzz_decode(text);
    if (size >= FUZZ_SUM) {
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        gsize n = FUZZ_SUM;

        g_checksum_update(sum, bytes, size - FUZZ_SUM);
        g_checksum_get_digest(sum, bytes + size - FUZZ_SUM, &n);
    }
    encoded = g_base64_encode(bytes, size);
    fuzz_decode(encoded);
    return 0;
}
