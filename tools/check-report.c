/* migd-plugin-check's report (see check-report.h). */
/* strerrorname_np() */
#define _GNU_SOURCE
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check-report.h"

static json_t *
probe_flags(guint32 flags)
{
    static const struct { guint32 flag; const char *name; } names[] = {
        { MIGD_PROBE_HANDLES, "handles" }, { MIGD_PROBE_STATE, "state" },
        { MIGD_PROBE_NATIVE, "native" }, { MIGD_PROBE_PAUSE, "pause" },
        { MIGD_PROBE_DENY_NATIVE, "deny-native" }, { MIGD_PROBE_DENY_PAUSE, "deny-pause" },
    };
    json_t *list = json_array();

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (flags & names[i].flag)
            json_array_append_new(list, json_string(names[i].name));
    }
    return list;
}

static gboolean
state_is_text(const char *data, gsize len)
{
    if (!g_utf8_validate(data, (gssize)len, NULL))
        return FALSE;
    for (gsize i = 0; i < len; i++) {
        if ((guchar)data[i] < 0x20 && data[i] != '\n' && data[i] != '\t')
            return FALSE;
    }
    return TRUE;
}

void
check_report_state(json_t *step, GBytes *state, guint32 version)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(state, &len);
    g_autofree char *b64 = g_base64_encode((const guchar *)data, len);

    json_object_set_new(step, "state_version", json_integer(version));
    json_object_set_new(step, "state_bytes", json_integer((json_int_t)len));
    if (state_is_text(data, len))
        json_object_set_new(step, "state_text", json_stringn(data, len));
    json_object_set_new(step, "state_base64", json_string(b64));
}

json_t *
check_report_call(const CheckDevice *device, const PluginCallResult *result, const char *call)
{
    json_t *step = json_pack("{s:s, s:s, s:s, s:b, s:i, s:I}", "step", call,
                             "device", device->name,
                             "side", check_device_side_to_string(device->dev->side),
                             "ok", result->rc == 0, "rc", result->rc,
                             "elapsed_ms", (json_int_t)result->elapsed_ms);

    if (result->rc != 0) {
        const char *name = strerrorname_np(-result->rc);

        json_object_set_new(step, "errno", json_string(name ? name : "unknown"));
        json_object_set_new(step, "error", json_string(result->error ? result->error
                                                                     : "no reason given"));
        return step;
    }
    if (result->kind == PLUGIN_CALL_PROBE) {
        json_object_set_new(step, "flags", probe_flags(result->probe.flags));
        json_object_set_new(step, "state_version", json_integer(result->probe.state_version));
        json_object_set_new(step, "detail", json_string(result->probe.detail));
        json_object_set_new(step, "stop_copy_bytes",
                            json_integer((json_int_t)result->probe.stop_copy_bytes));
    } else if (result->kind == PLUGIN_CALL_SAVE_STATE)
        check_report_state(step, result->state, result->state_version);
    return step;
}

json_t *
check_report_skipped(const char *step, const char *target, const char *why)
{
    return json_pack("{s:s, s:s, s:b, s:s}", "step", step, "device", target, "ok", 0,
                     "skipped", why);
}

void
check_report_say(const json_t *step)
{
    const char *name = json_string_value(json_object_get(step, "step"));
    const char *device = json_string_value(json_object_get(step, "device"));
    const char *file = json_string_value(json_object_get(step, "file"));
    const char *target = device ? device : file;
    const char *skipped = json_string_value(json_object_get(step, "skipped"));
    const char *error = json_string_value(json_object_get(step, "error"));
    json_t *flags = json_object_get(step, "flags");
    json_t *bytes = json_object_get(step, "state_bytes");

    fprintf(stderr, "migd-plugin-check: %s %s: ", name, target ? target : "");
    if (skipped)
        fprintf(stderr, "skipped: %s\n", skipped);
    else if (error)
        fprintf(stderr, "failed: %s\n", error);
    else if (flags) {
        g_autofree char *list = json_dumps(flags, JSON_COMPACT);

        fprintf(stderr, "ok, flags %s, state version %" JSON_INTEGER_FORMAT "\n", list,
                json_integer_value(json_object_get(step, "state_version")));
    } else if (bytes)
        fprintf(stderr, "ok, %" JSON_INTEGER_FORMAT " bytes of state, version %"
                JSON_INTEGER_FORMAT "\n", json_integer_value(bytes),
                json_integer_value(json_object_get(step, "state_version")));
    else
        fprintf(stderr, "ok\n");
}
