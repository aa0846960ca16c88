/* A parser of server-sent events (text/event-stream), as migd streams a
 * job's events. Pure: bytes go in as they arrive, whole events come out. */
#pragma once

#include <glib.h>

/* No event of migd's comes near this; a stream that does is not migd's. */
#define CTL_SSE_MAX_EVENT (16 * 1024 * 1024)

typedef struct CtlSse CtlSse;

typedef struct {
    char *name;                 /* "message" when the event had no name */
    char *data;                 /* its data lines joined with '\n' */
    size_t len;                 /* of @data, which may hold NULs */
} CtlSseEvent;

CtlSse *ctl_sse_new(void);

void ctl_sse_free(CtlSse *sse);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlSse, ctl_sse_free)

void ctl_sse_event_free(CtlSseEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlSseEvent, ctl_sse_event_free)

/* Parses @len more bytes of the stream, wherever they split lines or
 * events. Fails with CTL_ERROR_BAD_ANSWER once a line or an event grows
 * beyond CTL_SSE_MAX_EVENT; the parser then refuses further bytes. */
gboolean ctl_sse_feed(CtlSse *sse, const char *bytes, size_t len,
                      GError **error);

/* The next event the bytes so far completed, or NULL. An event still open
 * when the stream ends is never returned, as the format demands. */
CtlSseEvent *ctl_sse_next(CtlSse *sse);
