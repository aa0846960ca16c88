/* The text/event-stream format as the HTML standard defines it: lines ended
 * by CRLF, LF or CR, "field: value" lines, comments, and an empty line that
 * ends an event. */
#include <config.h>

#include <string.h>

#include "ctl-error.h"
#include "ctl-sse.h"

#define SSE_BOM "\xef\xbb\xbf"

struct CtlSse {
    GString *line;              /* the line being read, without its end */
    gboolean after_cr;          /* an LF right now would end no new line */
    gboolean first_line;        /* only the first may start with a BOM */
    gboolean broken;            /* a limit was exceeded: stop */
    GString *name;              /* the "event" field of the open event */
    GString *data;              /* its "data" fields, each ending in '\n' */
    GQueue events;              /* CtlSseEvent, complete, oldest first */
};

CtlSse *
ctl_sse_new(void)
{
    CtlSse *sse = g_new0(CtlSse, 1);

    sse->line = g_string_new(NULL);
    sse->name = g_string_new(NULL);
    sse->data = g_string_new(NULL);
    sse->first_line = TRUE;
    g_queue_init(&sse->events);
    return sse;
}

void
ctl_sse_event_free(CtlSseEvent *event)
{
    if (!event)
        return;
    g_free(event->name);
    g_free(event->data);
    g_free(event);
}

void
ctl_sse_free(CtlSse *sse)
{
    if (!sse)
        return;
    g_queue_clear_full(&sse->events, (GDestroyNotify)ctl_sse_event_free);
    g_string_free(sse->line, TRUE);
    g_string_free(sse->name, TRUE);
    g_string_free(sse->data, TRUE);
    g_free(sse);
}

/* An empty line: the open event is complete, unless it has no data, which
 * the standard says to drop. */
static void
sse_dispatch(CtlSse *sse)
{
    CtlSseEvent *event;

    if (sse->data->len == 0) {
        g_string_truncate(sse->name, 0);
        return;
    }
    event = g_new0(CtlSseEvent, 1);
    event->name = g_strdup(sse->name->len > 0 ? sse->name->str : "message");
    event->len = sse->data->len - 1;
    /* Not g_strndup(), which stops at a NUL. */
    event->data = g_malloc(event->len + 1);
    memcpy(event->data, sse->data->str, event->len);
    event->data[event->len] = '\0';
    g_queue_push_tail(&sse->events, event);
    g_string_truncate(sse->name, 0);
    g_string_truncate(sse->data, 0);
}

static gboolean
sse_field_is(const char *field, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(field, name, len) == 0;
}

static void
sse_process_line(CtlSse *sse)
{
    const char *line = sse->line->str;
    size_t len = sse->line->len;
    const char *colon;
    const char *value = "";
    size_t field_len = len;
    size_t value_len = 0;

    if (sse->first_line && len >= 3 && memcmp(line, SSE_BOM, 3) == 0) {
        line += 3;
        len -= 3;
        field_len = len;
    }
    sse->first_line = FALSE;
    if (len == 0) {
        sse_dispatch(sse);
        return;
    }
    if (line[0] == ':')
        return;
    colon = memchr(line, ':', len);
    if (colon) {
        field_len = colon - line;
        value = colon + 1;
        value_len = len - field_len - 1;
        if (value_len > 0 && value[0] == ' ') {
            value++;
            value_len--;
        }
    }
    /* "id" and "retry" serve reconnection, which migctl does not do: a
     * broken watch is reported, not resumed. */
    if (sse_field_is(line, field_len, "event")) {
        g_string_truncate(sse->name, 0);
        g_string_append_len(sse->name, value, value_len);
    } else if (sse_field_is(line, field_len, "data")) {
        g_string_append_len(sse->data, value, value_len);
        g_string_append_c(sse->data, '\n');
    }
}

static gboolean
sse_check_size(CtlSse *sse, GError **error)
{
    if (sse->line->len + sse->data->len + sse->name->len <= CTL_SSE_MAX_EVENT)
        return TRUE;
    sse->broken = TRUE;
    g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                "an event in migd's event stream is larger than %d MiB, more "
                "than migd ever sends. Check that the socket or URL is "
                "migd's.", CTL_SSE_MAX_EVENT / (1024 * 1024));
    return FALSE;
}

gboolean
ctl_sse_feed(CtlSse *sse, const char *bytes, size_t len, GError **error)
{
    size_t i = 0;

    if (sse->broken)
        return sse_check_size(sse, error);
    while (i < len) {
        size_t run = 0;

        if (sse->after_cr) {
            sse->after_cr = FALSE;
            if (bytes[i] == '\n') {
                i++;
                continue;
            }
        }
        while (i + run < len && bytes[i + run] != '\r' && bytes[i + run] != '\n')
            run++;
        g_string_append_len(sse->line, bytes + i, run);
        i += run;
        if (!sse_check_size(sse, error))
            return FALSE;
        if (i == len)
            break;
        sse->after_cr = bytes[i] == '\r';
        i++;
        sse_process_line(sse);
        g_string_truncate(sse->line, 0);
    }
    return TRUE;
}

CtlSseEvent *
ctl_sse_next(CtlSse *sse)
{
    return g_queue_pop_head(&sse->events);
}
