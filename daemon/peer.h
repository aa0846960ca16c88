/* Calls to another host's migd over its TCP API: JSON in and out, with the
 * shared peer token. Each call runs libcurl in a worker thread and answers
 * on the main loop. The calls go through a table (PeerOps) so that a unit
 * test can put a scripted destination in its place (tests/unit/fake-peer.h):
 *
 *     g_autoptr(FakePeer) fp = fake_peer_new();    // peer_call() now reaches it
 *     fake_peer_error(fp, "POST", "/v1/reservations", MIGD_ERROR_BUSY, "all slots taken");
 *     ... run the step; fake_peer_count(fp, "POST", "/v1/reservations") says how often it asked. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>

/* @status is the HTTP status, or 0 when no answer came (then @error says
 * why, as a sentence). @body is the parsed answer, or NULL; both are
 * borrowed for the call. */
typedef void (*PeerReply)(guint status, json_t *body, const char *error, gpointer data);

typedef struct _PeerOps PeerOps;
struct _PeerOps {
    const char *name;           /* "curl", "fake" */
    gpointer data;              /* the implementation's */
    /* peer_call() with the table's own @ops: the same contract. */
    void (*call)(const PeerOps *ops, const char *base_url, const char *token, const char *method,
                 const char *path, json_t *body, guint timeout_ms, GCancellable *cancellable,
                 PeerReply reply, gpointer data);
};

/* The PEM files the calls that follow use over https://: @ca verifies the
 * peer (NULL: the system's CAs), @cert and @key are this host's client
 * certificate (NULL: none). Copied; main loop only. */
void peer_set_tls(const char *ca, const char *cert, const char *key);

/* The implementation over libcurl. */
const PeerOps *peer_ops_curl(void);

/* The table peer_call() uses, process-wide: libcurl's unless a unit test
 * set another (NULL puts libcurl's back). */
const PeerOps *peer_ops(void);
void peer_set_ops(const PeerOps *ops);

/* Sends @method @path (with @body, may be NULL) to the migd at @base_url
 * (e.g. "https://10.0.0.2:7480"). @token may be NULL. @reply is not called
 * when @cancellable is cancelled by the time the answer is back. */
void peer_call(const char *base_url, const char *token, const char *method, const char *path,
               json_t *body, guint timeout_ms, GCancellable *cancellable, PeerReply reply,
               gpointer data);

/* A sentence for a failed call: the peer's own error message when it sent
 * one, else what the status or the transport said. */
char *peer_error_message(const char *base_url, guint status, json_t *body, const char *error);
