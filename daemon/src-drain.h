/* A drain: every running guest of this host migrated off it, each to the
 * peer its plan chose, at most max_outgoing at once and at most as many at
 * once to each peer as that peer had free incoming slots when the drain
 * read it; the rest wait, and start as jobs end. A guest no peer can take
 * stays, with the reason. The object is pure logic: it is told what its
 * jobs do (drain_job_changed) and starts jobs through DrainOps. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "conf.h"
#include "src-choose.h"

typedef enum {
    DRAIN_GUEST_QUEUED,         /* planned; waits for a slot */
    DRAIN_GUEST_MIGRATING,      /* its job runs */
    DRAIN_GUEST_COMPLETED,
    DRAIN_GUEST_FAILED,         /* its job failed or was cancelled: it is still here */
    DRAIN_GUEST_STAYS,          /* no peer can take it: left running here */
    DRAIN_GUEST_STATE_LAST
} DrainGuestState;

const char *drain_guest_state_to_string(DrainGuestState state);

typedef struct {
    char *domain;
    GHashTable *needs;          /* pool -> VFs (src-choose.h) */
    char *peer;                 /* planned; NULL when it stays */
    char *libvirt_uri, *migd_url;
    json_t *choice;             /* its job's destination_choice */
    char *why;                  /* why it stays, or why its job failed */
    char *job;                  /* its job's id, once started */
    char *job_state;            /* the job's state, as the job says it */
    DrainGuestState state;
} DrainGuest;

typedef struct _Drain Drain;

typedef struct {
    /* Starts @g's migration; its job id in @ret_job, or FALSE with
     * @ret_error (a sentence). */
    gboolean (*submit)(gpointer ctx, const DrainGuest *g, char **ret_job, char **ret_error);
} DrainOps;

/* A plan for the guests @running (VirtDomainXml*: name and live XML)
 * among @peers (ChoicePeer*, their capacities read; taken from as guests
 * are planned), in the guests' name order. @in_flight: domains that have a
 * job already (domain -> job id), skipped. A guest whose needs cannot be
 * read, or that no peer can take, stays, with the reason. */
Drain *drain_plan(const char *id, const MigdConf *conf, const GPtrArray *running,
                  GHashTable *in_flight, GPtrArray *peers);
void drain_free(Drain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Drain, drain_free)

const char *drain_id(const Drain *d);
/* The guests, in order (DrainGuest*, borrowed). */
GPtrArray *drain_guests(Drain *d);

/* Starts what the limits allow now (@max_outgoing: this host's). */
void drain_start(Drain *d, guint max_outgoing, const DrainOps *ops, gpointer ctx);
/* Starts the guests that may start now, after jobs ended; not from inside
 * the engine's own call (its caller defers it to the loop). */
void drain_pump(Drain *d);
/* A job of the drain changed state (@state its name; @final with @reason
 * when it ended, @completed when the guest runs on the peer). Starts
 * nothing: drain_pump() does. */
void drain_job_changed(Drain *d, const char *job, const char *state, gboolean final,
                       gboolean completed, const char *reason);
gboolean drain_is_done(const Drain *d);

/* The drain object of GET /v1/drains/{id}; @dry_run: the plan only. */
json_t *drain_to_json(const Drain *d, gboolean dry_run);
