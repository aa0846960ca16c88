/* The source's NIC steps from the inside: the object that the src-nic*.c
 * files share, one file per step. Only those files include this. */
#pragma once

#include <gio/gio.h>

#include "domxml.h"
#include "hotplug.h"
#include "nic-types.h"
#include "plugin-call.h"
#include "plugin-loader.h"
#include "src-nics.h"

/* Peer calls wait this long for an answer; the replug call for the whole
 * replug and its retries. */
#define NIC_PEER_TIMEOUT_MS 10000
/* A destination whose migd does not answer (or is stopping) is asked again
 * this often, for this long; a busy one (no incoming slot free) this often,
 * for this long: a slot frees when another migration there ends. */
#define NIC_RETRY_MS 2000
#define NIC_RETRY_FOR_MS 60000
#define NIC_BUSY_RETRY_MS 1000
#define NIC_BUSY_FOR_MS 600000

/* One plugin that claims a NIC's device on this host (src-nic-state.c). */
typedef struct {
    char *name;
    guint flags;            /* what its probe said (MIGD_PROBE_*) */
    guint64 stop_copy_bytes;    /* ... and what QEMU sends for the device at stop-and-copy */
    char *detail;               /* ... and why (this migd's life only) */
    /* A call past probe was made (save_state, pre_switchover): it is
     * called abort when the job is undone. */
    gboolean called;
    gboolean aborted;
    char *frame;            /* the frame of its state sent (this migd's life only) */
    gint64 state_bytes, save_ms, transfer_ms, check_ms, restore_ms;    /* -1: not measured */
} NicPlugin;

typedef struct {
    DomNic *dom;            /* as it was before the unplug; dom->xml plugs it back in */
    NicStrategy strategy;   /* UNPLUG, NATIVE or PAUSE */
    /* Strategy auto, and no pool vouches for it: the plugins of both
     * hosts settle the strategy while preparing (src-nic-state.c asks
     * this host's, the destination its own); until then @strategy is
     * unplug where it has a standby, else pause. @source_vouch is what
     * this host's plugins vouch for together (plugin_vouch(): MIGD_PROBE_
     * NATIVE, _PAUSE); @chosen
     * says why the destination chose what it did, for the record. */
    gboolean auto_pending;
    guint source_vouch;
    char *chosen;
    NicState state;
    char *dest_address;
    char *dest_pool;
    char *dest_xml;
    /* The guest was asked to release it and its answer is not known yet
     * (recorded before the request: after a restart it may still come). */
    gboolean detach_pending;
    gboolean detach_sent;   /* asked, in this migd's life or before a restart */
    /* Its device state (src-nic-state.c): every plugin that claims it
     * here, in loading order (NicPlugin*; empty: none does). */
    GPtrArray *plugins;
} Nic;

/* What this host knows of the destination's reservation for the job (its
 * id is the job's id). */
typedef enum {
    NIC_RES_NONE,           /* never asked for */
    NIC_RES_ASKED,          /* asked, and no answer says whether it is held */
    NIC_RES_HELD,
    NIC_RES_RELEASED,       /* released, or the destination held none */
} NicReservation;

typedef struct _NicCall NicCall;
typedef struct _NicRelease NicRelease;

struct _NicSteps {
    Engine *engine;
    Virt *virt;
    /* From migd.conf when the job started: a reload must not change a
     * running job's timeouts under it. */
    char *token;
    guint unplug_timeout_s, replug_timeout_s, replug_attempts, lease_ttl_s;
    /* NIC_RETRY_* and NIC_BUSY_* (unit tests shorten them). */
    guint retry_every_ms, retry_for_ms, busy_every_ms, busy_for_ms;
    char *verify;
    char *agent_dir;
    char *source_url;       /* this migd for the destination; NULL when unknown */
    char *id;
    char *domain;
    char *migd_url;
    gboolean has_alternatives;  /* "auto" chose the destination and has other candidates */
    NicStrategy strategy;   /* the job's: none, unplug, native or mixed */
    char *why;
    GPtrArray *nics;        /* Nic* */
    char *xml_before;       /* the migratable live XML before anything was unplugged */
    NicReservation reservation;
    gint64 lease_until_us;  /* wall clock: when the leases there expire unless renewed */
    gboolean rebuilt;       /* from the record, after a restart */
    gboolean persistent;    /* the job's option: the destination gets a definition */
    gboolean rolling_back;
    gboolean rollback_started; /* the live XML is being read, or NICs restored */
    gboolean reserving;     /* the reservation's call is under way */
    gboolean replug_asked;  /* in this migd's life */
    gboolean unplug_busy;   /* an unplug's probe reset, detach or XML read is under way */
    guint index;            /* the NIC being unplugged or restored */
    char *restore_error;    /* why the last attach failed */
    Hotplug *hp;
    NicCall *call;          /* the step's call to the destination's migd */
    NicRelease *release;    /* the rollback's release of the reservation */
    guint timer;            /* a step with nothing to do */
    gboolean *alive;        /* set FALSE when freed during nic_feed() */
    const char *noop_message;   /* static */
    guint renew_source;
    GCancellable *cancellable;
    char *dest_xml_param;   /* VIR_MIGRATE_PARAM_DEST_XML, or NULL */
    char *persist_xml_param;    /* VIR_MIGRATE_PARAM_PERSIST_XML, or NULL */
    gint64 unplug_start_us; /* monotonic; 0: not yet */
    gint64 unplug_ack_ms, replug_ms, verify_ms, no_vf_window_ms, guest_outage_ms;   /* -1: none */
    /* Device state (src-nic-state.c): the loaded plugins (borrowed; NULL:
     * none), [plugins] as the job started, each pool's PF ("" for an
     * emulated pool) and sysfs root (sriov pools only), and the NIC and
     * plugin being asked. */
    PluginSet *plugins;
    guint plugin_timeout_ms;
    gsize max_state_bytes;
    GHashTable *pool_pf, *pool_sysfs;
    guint state_nic, state_plugin;
    gboolean state_saving;  /* the NIC's plugins are probed; now they save */
    void (*state_done)(NicSteps *ns, const char *reason);
    gint64 prepare_sent_us; /* monotonic */
    /* The pause strategy (src-nic-pause.c): a plugin call or the suspend is
     * under way (a rollback waits for it), the guest is suspended here by
     * migd, its resume is under way or was tried; the NIC being quiesced;
     * the figures (-1: not measured) and the moments (monotonic; 0: not
     * in this migd's life). */
    gboolean switchover_busy, source_paused, unpausing, unpause_tried;
    guint pause_nic, pause_plugin;
    gint64 pre_switchover_ms, suspend_ms, stop_copy_ms, resume_ms, post_switchover_ms, paused_ms;
    gint64 pause_start_us, suspended_us, resume_asked_us;
    /* The hold: while migd makes the switchover, the migration's bandwidth
     * cap is JOB_PAUSE_HOLD_MIBPS (held; held_mibps, the cap it goes back to), so
     * QEMU cannot switch over first; lifted with the suspend, or when the
     * switchover fails. hold_ms: how long setting it took (-1: not held). */
    gboolean held, lifting;
    guint64 held_mibps;
    gint64 hold_ms;
    char *hold_error;
};

static inline Nic *
nic_at(NicSteps *ns, guint i)
{
    return g_ptr_array_index(ns->nics, i);
}

/* An event for the job, carrying the "nics" record as it is now. A NOTE
 * is also how a step writes the record ahead of what it does next. Any
 * event may end the job (a write-ahead that fails does) and so free @ns:
 * FALSE says it did, and the caller must not touch @ns any more. */
gboolean nic_feed(NicSteps *ns, JobEventKind kind, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
#define nic_step_done(ns, ...) (void)nic_feed((ns), JOB_EV_STEP_DONE, NULL, __VA_ARGS__)
#define nic_note(ns, kind, ...) nic_feed((ns), JOB_EV_NOTE, (kind), __VA_ARGS__)
void nic_step_failed(NicSteps *ns, const char *reason);
/* Finishes a step that has nothing to do, from the loop, with @message
 * (static; NULL: nothing worth the timeline). */
void nic_noop(NicSteps *ns, const char *message);
/* A plugin call's or a worker's way back to the steps: nic_guard_end()
 * frees the guard and gives the steps, or NULL once they were freed. */
typedef struct {
    NicSteps *ns;
    GCancellable *alive;
} NicGuard;
NicGuard *nic_guard_new(NicSteps *ns);
NicSteps *nic_guard_end(NicGuard *g);
/* "21:40:07 UTC" for the timeline. */
char *nic_clock(gint64 wall_us);

/* The guest's XML, read in a worker (no libvirt call on the loop): the
 * live XML with @live_flags, and its persistent definition (NULL for a
 * transient guest) when @inactive. @error is set when the read failed. */
typedef struct {
    char *live;
    gboolean persistent;
    char *inactive;
    char *error;
} NicXml;
typedef void (*NicXmlDone)(NicSteps *ns, const NicXml *xml);
void nic_read_xml(NicSteps *ns, unsigned int live_flags, gboolean inactive, NicXmlDone done);
/* Reads whose worker has not ended (for tests, before they free the fake). */
guint nic_xml_reads_outstanding(void);

/* src-nic-peer.c: the step's calls to the destination's migd. @why is
 * NULL on a 2xx, else a sentence (the peer's own message, or why no
 * answer came before the deadline). */
typedef void (*NicAnswer)(NicSteps *ns, guint status, json_t *body, const char *why);
/* Sends a call that is retried while the destination's migd does not
 * answer (for NIC_RETRY_FOR_MS, noting it once in the timeline as @what),
 * and, when @wait_busy, while it answers 503 busy (for NIC_BUSY_FOR_MS). */
void nic_call(NicSteps *ns, const char *method, const char *path, json_t *body,
              guint timeout_ms, const char *what, gboolean wait_busy, NicAnswer answer);
/* Forgets the step's call: its answer will not be heard. */
void nic_call_abandon(NicSteps *ns);
/* Asks no more: an attempt under way still answers, else the last answer
 * is delivered now (with no body). */
void nic_call_settle(NicSteps *ns);
/* The error code of a migd error body, or "". */
const char *nic_peer_code(json_t *body);

/* Releases the reservation, retried for NIC_RETRY_FOR_MS while the
 * destination's migd does not answer; @done gets a phrase that says what
 * became of it (the truth, the lease's TTL when the release failed). With
 * no @done (the job is over) the outcome goes to the log only. */
typedef void (*NicReleased)(NicSteps *ns, gboolean released, const char *phrase);
void nic_release(NicSteps *ns, NicReleased done);
void nic_release_free(NicRelease *rel);

/* src-nic-classify.c: the job's strategy and its reason from its NICs'
 * (again once strategy auto is settled). */
void nic_summarize(NicSteps *ns);

/* src-nic-reserve.c */
void nic_reserve(NicSteps *ns);
void nic_prepare(NicSteps *ns);
void nic_renew_stop(NicSteps *ns);

/* src-nic-state.c: each NIC is probed by every loaded plugin, in loading
 * order; each one that claims it with state saves it, in that order, into
 * a frame of its own; @done gets NULL, or the reason the step fails (a
 * sentence that names the plugin and what it said). */
typedef void (*NicStateSaved)(NicSteps *ns, const char *reason);
void nic_state_save(NicSteps *ns, NicStateSaved done);
/* Strategy auto, after the save: a NIC no plugin here vouches for is
 * unplugged; NULL, or why the step fails (it has no standby either). */
char *nic_state_settle_here(NicSteps *ns);
/* The prepare request's body: {"states": [{alias, plugin, frame}...],
 * "choose": [{alias, vouches, unplug}...]} (the NICs whose strategy the
 * destination's plugins settle), or NULL when there is neither. */
json_t *nic_state_body(NicSteps *ns);
/* The figures the destination's answer (a reservation) carries per NIC:
 * check_ms and restore_ms; with @sent_us, transfer_ms too (the prepare's
 * round trip less the check). */
void nic_state_take_answer(NicSteps *ns, json_t *reservation, gint64 sent_us);
/* Strategy auto, from the prepare's answer: the strategy the destination
 * chose for each NIC it was asked to (unplug where it said nothing);
 * NULL, or why the step fails. */
char *nic_state_take_choices(NicSteps *ns, json_t *reservation);
/* Calls abort on every plugin called past probe for the job (once per
 * NIC and plugin); the outcome goes to the log. */
void nic_state_abort(NicSteps *ns);
/* How many of @n's plugins carry a state (a frame was sent this life, or
 * the record says one was saved). */
guint nic_state_frames(const Nic *n);
void nic_plugin_free(gpointer data);
/* What the native NICs' devices add at stop-and-copy, by their plugins'
 * probes: per NIC the largest any of its plugins reports (they speak of
 * one device), summed. */
guint64 nic_state_stop_copy_bytes(NicSteps *ns);
/* What the plugins are told of @n on this host. */
PluginDevice *nic_state_device(NicSteps *ns, const Nic *n);
/* The NIC's "plugins" member of the record, and back. */
json_t *nic_state_to_json(const Nic *n);
void nic_state_from_json(Nic *n, json_t *device);

/* src-nic-unplug.c */
void nic_unplug(NicSteps *ns, const Job *job);

/* src-nic-migrate.c: the migrate call's XML, from the XML read once the
 * NICs are unplugged. FALSE when a note about it ended the job. */
gboolean nic_migrate_xml(NicSteps *ns, const NicXml *xml, gboolean persistent);

/* src-nic-pause.c (nic_steps_switchover() is in src-nics.h): whether any
 * NIC pauses; the switchover state's step (the destination resumes the
 * guest); the rollback's first move, TRUE while it resumes the guest here
 * (nic_rollback_resume() is called again once it has); the record's
 * "pause" member, and back. */
gboolean nic_pause_any(NicSteps *ns);
void nic_pause_resume_there(NicSteps *ns);
gboolean nic_pause_undo(NicSteps *ns);
json_t *nic_pause_to_json(NicSteps *ns);
void nic_pause_from_json(NicSteps *ns, json_t *pause);

/* src-nic-replug.c */
void nic_replug(NicSteps *ns);

/* src-nic-rollback.c: the rollback starts, or goes on once an unplug
 * under way has ended. */
void nic_rollback(NicSteps *ns);
void nic_rollback_resume(NicSteps *ns);
