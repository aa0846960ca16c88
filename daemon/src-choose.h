/* Choosing a destination ("auto", and each guest of a drain): every peer is
 * asked what it can take (GET /v1/capacity), and the peers are ranked for
 * the guest's needs. The rule, documented in the README:
 *   a peer is refused when its capacity cannot be read, when a drain
 *   empties it, when it lacks a pool the guest needs or has fewer free VFs
 *   there than the guest needs, or when it has no free incoming slot; the
 *   others rank by the most free VFs in the pools the guest needs (summed),
 *   then the most free incoming slots (less the guests a drain's plan
 *   already sends there), then name.
 * The read ranks; the destination's reservation is what guarantees a VF. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>

#include "conf.h"

/* What one peer said it can take, or why it could not be asked. */
typedef struct {
    char *peer;                 /* its [peer.NAME] */
    char *libvirt_uri;
    char *migd_url;
    char *error;                /* its capacity is unknown: why; NULL when read */
    char *draining;             /* the drain that empties it; NULL: none */
    guint max_incoming;
    guint incoming_free;
    guint planned;              /* guests a drain's plan already sends here */
    GHashTable *pool_free;      /* pool name -> free VFs (GUINT_TO_POINTER) */
} ChoicePeer;

void choice_peer_free(ChoicePeer *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChoicePeer, choice_peer_free)

/* A peer whose capacity is not read yet. */
ChoicePeer *choice_peer_new(const char *name, const char *libvirt_uri, const char *migd_url);
/* Fills @p from its GET /v1/capacity answer; FALSE with @p->error set when
 * the answer is not one. */
gboolean choice_peer_take_capacity(ChoicePeer *p, json_t *capacity);

/* What a guest needs: pool name -> VFs (GUINT_TO_POINTER), one per
 * passthrough NIC of @xml (its live XML) in a pool of @conf; NULL with
 * @error when the XML cannot be read or a passthrough NIC is in no pool. */
GHashTable *choice_needs_from_xml(const MigdConf *conf, const char *domain, const char *xml,
                                  GError **error);
/* "1 VF of pool 'lab'", "2 VFs of pools 'a', 'b'", or "no VF". */
char *choice_needs_describe(GHashTable *needs);

/* The peers' capacities (ChoicePeer*, owned by the callee's array), in
 * the order of @peers. */
typedef void (*ChoiceRead)(GPtrArray *peers, gpointer data);

/* Asks each of @peers (MigdPeer*, borrowed until @done) for its capacity,
 * with @token; @done runs on the loop once all have answered or failed,
 * unless @cancellable is cancelled first. */
void choice_read(const GPtrArray *peers, const char *token, GCancellable *cancellable,
                 ChoiceRead done, gpointer data);

/* The peers of @peers (ChoicePeer*) that can take a guest needing @needs,
 * best first (borrowed from @peers); each other one is appended to
 * @refused as {peer, why}. */
GPtrArray *choice_rank(const GPtrArray *peers, GHashTable *needs, json_t *refused);

/* The job record's destination_choice for the first of @ranked (not
 * empty): {chosen, why, refused (@refused, taken), remaining [{name,
 * libvirt_uri, migd_url, why}]}. */
json_t *choice_to_json(const GPtrArray *ranked, GHashTable *needs, json_t *refused);

/* "no peer can take DOMAIN (it needs ...): B: why; C: why" */
char *choice_refusal(const char *domain, GHashTable *needs, json_t *refused);

/* Takes a guest needing @needs out of @p's free VFs, and counts it as
 * planned there (a drain's plan). */
void choice_take(ChoicePeer *p, GHashTable *needs);
