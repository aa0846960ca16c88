/* Calls to another host's migd over its TCP API: JSON in and out, with the
 * shared peer token. Each call runs libcurl in a worker thread and answers
 * on the main loop. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>

/* @status is the HTTP status, or 0 when no answer came (then @error says
 * why, as a sentence). @body is the parsed answer, or NULL; both are
 * borrowed for the call. */
typedef void (*PeerReply)(guint status, json_t *body, const char *error, gpointer data);

/* Sends @method @path (with @body, may be NULL) to the migd at @base_url
 * (e.g. "http://10.0.0.2:7480"). @token may be NULL. @reply is not called
 * when @cancellable is cancelled by the time the answer is back. */
void peer_call(const char *base_url, const char *token, const char *method, const char *path,
               json_t *body, guint timeout_ms, GCancellable *cancellable, PeerReply reply,
               gpointer data);

/* A sentence for a failed call: the peer's own error message when it sent
 * one, else what the status or the transport said. */
char *peer_error_message(const char *base_url, guint status, json_t *body, const char *error);
