/* Plugin state frames. The layout, all integers big-endian:
 *
 *   "MGDS"  u16 frame version (1)  u16 ABI major  u16 ABI minor
 *   u32 state version  u16 plugin name length  u16 alias length
 *   u32 state length  plugin name  alias  state  SHA-256 of all before it
 *
 * The checksum guards against a blob damaged on the way or on disk (the
 * destination keeps it with the reservation); authenticity is the peer
 * API's business, not the frame's. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "plugin-frame.h"

#define FRAME_MAGIC "MGDS"
#define FRAME_VERSION 1
#define FRAME_HEADER 22
#define FRAME_SUM 32

void
plugin_frame_clear(PluginFrame *frame)
{
    g_clear_pointer(&frame->plugin, g_free);
    g_clear_pointer(&frame->alias, g_free);
    g_clear_pointer(&frame->state, g_bytes_unref);
}

static void
put16(GByteArray *out, guint v)
{
    guint8 b[2] = { (guint8)(v >> 8), (guint8)v };

    g_byte_array_append(out, b, 2);
}

static void
put32(GByteArray *out, guint32 v)
{
    guint8 b[4] = { (guint8)(v >> 24), (guint8)(v >> 16), (guint8)(v >> 8), (guint8)v };

    g_byte_array_append(out, b, 4);
}

static guint
get16(const guint8 *p)
{
    return (guint)p[0] << 8 | p[1];
}

static guint32
get32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static void
frame_sum(const guint8 *data, gsize len, guint8 ret[FRAME_SUM])
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize n = FRAME_SUM;

    g_checksum_update(sum, data, len);
    g_checksum_get_digest(sum, ret, &n);
}

char *
plugin_frame_encode(const PluginFrame *frame)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    gsize state_len = 0;
    const guint8 *state = frame->state ? g_bytes_get_data(frame->state, &state_len) : NULL;
    guint8 sum[FRAME_SUM];

    g_byte_array_append(out, (const guint8 *)FRAME_MAGIC, 4);
    put16(out, FRAME_VERSION);
    put16(out, frame->abi_major);
    put16(out, frame->abi_minor);
    put32(out, frame->state_version);
    put16(out, (guint)strlen(frame->plugin));
    put16(out, (guint)strlen(frame->alias));
    put32(out, (guint32)state_len);
    g_byte_array_append(out, (const guint8 *)frame->plugin, (guint)strlen(frame->plugin));
    g_byte_array_append(out, (const guint8 *)frame->alias, (guint)strlen(frame->alias));
    if (state_len)
        g_byte_array_append(out, state, (guint)state_len);
    frame_sum(out->data, out->len, sum);
    g_byte_array_append(out, sum, FRAME_SUM);
    return g_base64_encode(out->data, out->len);
}

static gboolean
frame_refuse(GError **error, const char *why)
{
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                "The device state frame is refused: %s.", why);
    return FALSE;
}

/* A name in a frame: printable ASCII, as plugin names and aliases are. */
static char *
frame_name(const guint8 *p, guint len)
{
    for (guint i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e)
            return NULL;
    }
    return g_strndup((const char *)p, len);
}

static gboolean
frame_is_base64(const char *text)
{
    for (const char *c = text; *c; c++) {
        if (!g_ascii_isalnum(*c) && *c != '+' && *c != '/' && *c != '=')
            return FALSE;
    }
    return *text != '\0' && strlen(text) % 4 == 0;
}

gboolean
plugin_frame_decode(const char *text, gsize max_state, PluginFrame *ret, GError **error)
{
    g_autofree guint8 *data = NULL;
    g_autofree char *plugin = NULL;
    g_autofree char *alias = NULL;
    guint8 sum[FRAME_SUM];
    gsize len = 0;
    guint name_len, alias_len;
    guint32 state_len;

    if (!text || !frame_is_base64(text))
        return frame_refuse(error, "it is not base64");
    data = g_base64_decode(text, &len);
    if (len < FRAME_HEADER + FRAME_SUM)
        return frame_refuse(error, "it is shorter than a frame's header");
    if (memcmp(data, FRAME_MAGIC, 4) != 0)
        return frame_refuse(error, "it does not start with migd's magic");
    if (get16(data + 4) != FRAME_VERSION)
        return frame_refuse(error, "its frame version is not 1");
    name_len = get16(data + 14);
    alias_len = get16(data + 16);
    state_len = get32(data + 18);
    if (name_len == 0 || name_len > PLUGIN_FRAME_NAME_MAX)
        return frame_refuse(error, "its plugin name is empty or too long");
    if (alias_len == 0 || alias_len > PLUGIN_FRAME_ALIAS_MAX)
        return frame_refuse(error, "its device alias is empty or too long");
    if (state_len > max_state) {
        g_autofree char *why = g_strdup_printf("its state is %u bytes, over the limit of "
                                               "%" G_GSIZE_FORMAT " ([plugins] max_state_bytes)",
                                               state_len, max_state);
        return frame_refuse(error, why);
    }
    if ((guint64)len != (guint64)FRAME_HEADER + name_len + alias_len + state_len + FRAME_SUM)
        return frame_refuse(error, "its length does not match its header (truncated or padded)");
    frame_sum(data, len - FRAME_SUM, sum);
    if (memcmp(sum, data + len - FRAME_SUM, FRAME_SUM) != 0)
        return frame_refuse(error, "its checksum does not match: it was damaged on the way");
    plugin = frame_name(data + FRAME_HEADER, name_len);
    alias = frame_name(data + FRAME_HEADER + name_len, alias_len);
    if (!plugin || !alias)
        return frame_refuse(error, "its plugin name or alias is not printable ASCII");
    ret->plugin = g_steal_pointer(&plugin);
    ret->alias = g_steal_pointer(&alias);
    ret->abi_major = get16(data + 6);
    ret->abi_minor = get16(data + 8);
    ret->state_version = get32(data + 10);
    ret->state = g_bytes_new(data + FRAME_HEADER + name_len + alias_len, state_len);
    return TRUE;
}
