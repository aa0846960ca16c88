/* The source's NIC steps from the inside: the object that the src-nic*.c
 * files share, one file per step. Only those files include this. */
#pragma once

#include <gio/gio.h>

#include "domxml.h"
#include "hotplug.h"
#include "nic-types.h"
#include "src-nics.h"

/* Peer calls wait this long for an answer; the replug call for the whole
 * replug and its retries. */
#define NIC_PEER_TIMEOUT_MS 10000
/* A busy destination is asked again this often. */
#define NIC_BUSY_RETRY_MS 1000

typedef struct {
    DomNic *dom;
    NicStrategy strategy;   /* NIC_STRATEGY_UNPLUG or NIC_STRATEGY_NATIVE */
    NicState state;
    char *dest_address;
    char *dest_pool;
    char *dest_xml;
} Nic;

struct _NicSteps {
    Engine *engine;
    Virt *virt;
    /* From migd.conf when the job started: a reload must not change a
     * running job's timeouts under it. */
    char *token;
    guint unplug_timeout_s, replug_timeout_s, replug_attempts, lease_ttl_s;
    char *verify;
    char *agent_dir;
    char *id;
    char *domain;
    char *migd_url;
    NicStrategy strategy;   /* the job's: none, unplug, native or mixed */
    char *why;
    GPtrArray *nics;        /* Nic* */
    char *xml_before;       /* the live XML before anything was unplugged */
    gboolean reserved;
    guint index;            /* the NIC being unplugged or restored */
    Hotplug *hp;
    guint timer;            /* a busy retry, or a step with nothing to do */
    const char *noop_message;   /* static */
    guint renew_source;
    gboolean busy_noted;
    GCancellable *cancellable;
    gint64 unplug_start_us, resumed_us;     /* monotonic; 0: not yet */
    gint64 unplug_ack_ms, replug_ms, verify_ms, no_vf_window_ms, guest_outage_ms;   /* -1: none */
};

static inline Nic *
nic_at(NicSteps *ns, guint i)
{
    return g_ptr_array_index(ns->nics, i);
}

/* An event for the job, carrying the "nics" record as it is now. */
void nic_feed(NicSteps *ns, JobEventKind kind, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
#define nic_step_done(ns, ...) nic_feed((ns), JOB_EV_STEP_DONE, NULL, __VA_ARGS__)
void nic_step_failed(NicSteps *ns, const char *reason);
/* Finishes a step that has nothing to do, from the loop, with @message
 * (static; NULL: nothing worth the timeline). */
void nic_noop(NicSteps *ns, const char *message);

/* src-nic-reserve.c: the destination's migd. */
void nic_reserve(NicSteps *ns);
void nic_prepare(NicSteps *ns);

/* src-nic-unplug.c */
void nic_unplug(NicSteps *ns);

/* src-nic-replug.c */
void nic_replug(NicSteps *ns);

/* src-nic-rollback.c */
void nic_rollback(NicSteps *ns);
