/* Following a migration job through the events migd streams about it: what
 * to print for each event, and when and how the job ended. Pure: events go
 * in, text comes out, so that the unit tests can replay a whole stream. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "ctl-sse.h"

typedef enum {
    CTL_WATCH_PLAIN,            /* one line per event, for logs and pipes */
    CTL_WATCH_TTY,              /* a progress line redrawn in place */
    CTL_WATCH_JSON,             /* each event's data as one JSON line */
    CTL_WATCH_LAST
} CtlWatchMode;

typedef struct CtlWatch CtlWatch;

CtlWatch *ctl_watch_new(CtlWatchMode mode);

/* The terminal's width (0: not known): a progress line that would wrap
 * could not be redrawn in place, so it is cut short. */
void ctl_watch_set_columns(CtlWatch *watch, guint columns);

void ctl_watch_free(CtlWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlWatch, ctl_watch_free)

/* Handles one event of the stream, appending what to print to @out. Events
 * of names this migctl does not know are skipped, and so is anything after
 * "end". Fails with CTL_ERROR_BAD_ANSWER when an event's data is not what
 * the API promises. */
gboolean ctl_watch_handle(CtlWatch *watch, const CtlSseEvent *event,
                          GString *out, GError **error);

/* Ends the progress line on a terminal, if one is drawn, so that what is
 * printed next (an error) starts a line of its own. */
void ctl_watch_close(CtlWatch *watch, GString *out);

/* The final job record once the "end" event came, else NULL. */
json_t *ctl_watch_get_end(const CtlWatch *watch);
