/* A scripted destination migd behind the PeerOps table (daemon/peer.h) for
 * unit tests. While a FakePeer lives, every peer_call() reaches it instead
 * of libcurl. A test scripts answers per method and path: a queue per route
 * whose last answer stays (until a new one is scripted), so "503 busy twice,
 * then 201" is three calls of fake_peer_error()/fake_peer_answer(). Answers arrive on the main loop, as
 * peer_call()'s do, and not at all when the call's cancellable was
 * cancelled by then. The fake records every request it got.
 *
 * A path may end in a star to match every path it begins; an exact route
 * wins over such a pattern. A route scripted with the peer's whole URL
 * ("http://b:7480/v1/capacity") answers only that peer, before any route
 * by path alone: several peers, each with its own answers. A request no
 * route matches gets migd's 404 not_found.
 * Transport failures carry libcurl 7.88's own words (measured with curl). */
#pragma once

#include <jansson.h>

#include "error.h"
#include "jsonutil.h"
#include "peer.h"

typedef struct _FakePeer FakePeer;

/* A fake that peer_call() reaches until fake_peer_free(). */
FakePeer *fake_peer_new(void);
void fake_peer_free(FakePeer *fp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakePeer, fake_peer_free)

/* HTTP @status with @body (JSON text; NULL: no body). */
void fake_peer_answer(FakePeer *fp, const char *method, const char *path, guint status,
                      const char *body);
/* migd's error envelope for @code, with its HTTP status: MIGD_ERROR_BUSY
 * (503 busy), MIGD_ERROR_LIBVIRT_DISCONNECTED (503 libvirt_disconnected),
 * MIGD_ERROR_SHUTTING_DOWN (503 shutting_down), MIGD_ERROR_NO_FREE_VF
 * (409), MIGD_ERROR_UNAUTHENTICATED (401), MIGD_ERROR_NOT_FOUND (404), ... */
void fake_peer_error(FakePeer *fp, const char *method, const char *path, MigdErrorCode code,
                     const char *message);
/* No answer within the call's timeout: status 0 and libcurl's timeout error. */
void fake_peer_timeout(FakePeer *fp, const char *method, const char *path);
/* Nothing listens: status 0 and libcurl's "Couldn't connect to server". */
void fake_peer_refused(FakePeer *fp, const char *method, const char *path);
/* The call stays unanswered (a frozen destination) until fake_peer_release(). */
void fake_peer_hold(FakePeer *fp, const char *method, const char *path);
/* Held calls time out now (as after their timeout); returns how many. */
guint fake_peer_release(FakePeer *fp);
/* How many calls are held now. */
guint fake_peer_held(FakePeer *fp);

typedef struct {
    char *base_url;
    char *token;                /* NULL: none sent */
    char *method;
    char *path;
    json_t *body;               /* NULL: none sent */
    guint timeout_ms;
} FakePeerRequest;

/* Every request so far (FakePeerRequest*), in order. */
GPtrArray *fake_peer_requests(FakePeer *fp);
/* How many requests matched @method and @path (which may end in '*'). */
guint fake_peer_count(FakePeer *fp, const char *method, const char *path);
/* The last such request, or NULL. */
const FakePeerRequest *fake_peer_last(FakePeer *fp, const char *method, const char *path);

/* Runs the default main context until no answer is waiting to be delivered
 * (held calls do not count). */
void fake_peer_flush(FakePeer *fp);
