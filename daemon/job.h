/* A migration job: its record (what the API shows and the store keeps) and
 * its state machine. The machine is pure logic: job_handle() takes an event
 * that carries its own clock readings and returns the actions the engine must
 * carry out; it never does I/O. See DESIGN.md section 3 for the states. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "jsonutil.h"

#include "policy.h"

typedef enum {
    JOB_PENDING,        /* queued for an outgoing slot */
    JOB_CHECKING,
    JOB_RESERVING,
    JOB_PREPARING,
    JOB_UNPLUGGING,
    JOB_MIGRATING,
    JOB_SWITCHOVER,
    JOB_REPLUGGING,
    JOB_VERIFYING,
    JOB_COMPLETED,
    JOB_ROLLING_BACK,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB_STATE_LAST
} JobState;

const char *job_state_to_string(JobState state);
int job_state_from_string(const char *name);    /* -1 when unknown */
gboolean job_state_is_final(JobState state);

typedef struct {
    char *name;             /* the peer's name in migd.conf, or NULL for a bare URI */
    char *libvirt_uri;
    char *migd_url;         /* NULL when unknown */
    /* Destination "auto": how it was chosen (the record's
     * destination_choice: chosen, why, refused [{peer, why}], and the
     * next candidates, best first, each {name, libvirt_uri, migd_url, why});
     * NULL when the request named the destination. Borrowed by job_new(). */
    json_t *choice;
} JobDestination;

typedef struct {
    guint bandwidth_mibps;          /* 0: unlimited */
    guint parallel_connections;     /* 0: a single connection */
    GStrv compression;              /* NULL or empty: none */
    gboolean postcopy;              /* the caller allows post-copy */
    gboolean auto_converge;         /* throttle from the start */
    gboolean persistent;
    gboolean undefine_source;
} JobOptions;

typedef struct {
    gint64 elapsed_ms;
    guint64 data_total, data_processed, data_remaining;
    guint64 memory_bps;
    guint64 dirty_rate_pps;
    guint64 iteration;
    guint max_downtime_ms;
    gboolean postcopy;
} JobProgress;

typedef struct {
    gint64 downtime_ms;         /* -1: unknown */
    gint64 setup_time_ms;
    gint64 total_time_ms;       /* from the start of the migration to the resume on the destination */
    guint64 data_transferred;
} JobFigures;

typedef struct {
    gint64 at_us;               /* wall clock */
    gint64 t_ms;                /* since the job was created */
    char *kind;                 /* state, policy, info, warning, error */
    JobState state;
    char *message;
} JobEntry;

typedef struct {
    char *id;
    char *domain;
    JobDestination dest;
    char *strategy;
    JobOptions options;
    PolicyConfig policy;

    JobState state;
    char *reason;               /* why it ended; set in a final state */
    char *requested_by;         /* who asked for it (job_new's); NULL: not known */
    gint64 created_at_us, started_at_us, finished_at_us;   /* wall clock; 0: not yet */
    gint64 created_mono_ms, migration_start_mono_ms;
    gint64 migration_started_at_us;     /* wall clock; 0: not started */
    gboolean have_progress;
    JobProgress progress;
    gboolean have_figures;
    JobFigures figures;
    gint64 dest_resumed_at_us, migrate_returned_at_us;
    GPtrArray *timeline;        /* JobEntry* */
    /* The passthrough NICs: what the NIC steps found, chose, did and
     * measured (the record's "nics" object, documented in the README). The
     * machine keeps it as the steps report it. */
    json_t *nics;

    /* What the machine needs to remember between events. */
    guint64 guest_memory;
    gboolean postcopy_forbidden;
    gboolean cancel_requested;
    gboolean migrate_returned;
    gboolean verified;
    gboolean abort_sent;
    char *abort_reason;         /* why the policy aborted */
    /* The pause strategy (a NIC of the job's "nics" says "pause"): migd
     * asked for the switchover (pre_switchover, then the guest suspended
     * here), or why it failed. Whether the guest is suspended here is the
     * NIC steps' to say (nics.pause.source_paused). */
    gboolean switchover_sent;
    char *switchover_error;
    PolicyState *policy_state;
} Job;

typedef enum {
    JOB_EV_SLOT_GRANTED,    /* the scheduler lets it run */
    JOB_EV_CHECKS_PASSED,   /* guest_memory, postcopy_forbidden */
    JOB_EV_CHECKS_FAILED,   /* reason */
    JOB_EV_STEP_DONE,       /* the current NIC step finished (message says what it did) */
    JOB_EV_STEP_FAILED,     /* reason */
    JOB_EV_STATS,           /* sample */
    JOB_EV_DEST_RESUMED,    /* the destination reports the guest running */
    JOB_EV_MIGRATE_RETURNED,/* the migrate call returned success; figures, if known */
    JOB_EV_MIGRATE_FAILED,  /* the migrate call failed; reason */
    JOB_EV_CANCEL,          /* from the API */
    JOB_EV_FORCE_COMPLETE,  /* from the API */
    JOB_EV_RECONCILED,      /* after a restart: where the guest is (placement, source_job_active;
                             * reason: why the destination could not be asked) */
    JOB_EV_NOTE,            /* something worth the timeline: message, with reason as its kind */
    JOB_EV_SWITCHOVER_DONE, /* pause strategy: the guest is suspended here (message says how) */
    JOB_EV_SWITCHOVER_FAILED,   /* pause strategy: reason; the guest was not suspended, or was
                                 * resumed */
    JOB_EV_RESERVATION_REFUSED, /* the destination has no free VF or incoming slot (reason):
                                 * a destination chosen by "auto" gives way to the next
                                 * candidate, any other fails as STEP_FAILED does */
    JOB_EV_LAST
} JobEventKind;

typedef enum {
    JOB_GUEST_ON_SOURCE,
    JOB_GUEST_ON_DESTINATION,
    JOB_GUEST_ON_BOTH,
    JOB_GUEST_NOWHERE,
} JobPlacement;

typedef struct {
    JobEventKind kind;
    gint64 wall_us;
    gint64 mono_ms;
    const char *reason;
    const char *message;
    const PolicySample *sample;
    const JobFigures *figures;
    guint64 guest_memory;
    gboolean postcopy_forbidden;
    JobPlacement placement;
    gboolean source_job_active;
    json_t *nics;               /* any event: when set, the job's new "nics" (borrowed) */
} JobEvent;

typedef enum {
    JOB_ACT_RUN_CHECKS,
    JOB_ACT_NIC_STEP,           /* reserve, prepare, unplug, replug or verify: as the state says */
    JOB_ACT_START_MIGRATION,   /* with the policy's first max downtime */
    JOB_ACT_SET_DOWNTIME,       /* downtime_ms */
    JOB_ACT_AUTO_CONVERGE,
    JOB_ACT_POSTCOPY,
    JOB_ACT_ABORT_MIGRATION,
    JOB_ACT_WATCH_LIBVIRT_JOB,  /* after a restart: follow the still-running libvirt job */
    JOB_ACT_SWITCHOVER,         /* pause strategy: have the destination restore the state,
                                 * quiesce the devices and suspend the guest here */
    JOB_ACT_FINISHED,           /* the job is final: release its slot and resources */
    JOB_ACT_LAST
} JobActionKind;

typedef struct {
    JobActionKind kind;
    guint downtime_ms;
} JobAction;

const char *job_action_kind_to_string(JobActionKind kind);

/* A new job in JOB_PENDING; @id is taken as is. @requested_by says who
 * asked (HttpRequest's client: "ADDRESS:PORT" or "unix socket"; NULL:
 * not known), for the record. */
Job *job_new(const char *id, const char *domain, const JobDestination *dest,
             const char *strategy, const JobOptions *options, const PolicyConfig *policy,
             const char *requested_by, gint64 wall_us, gint64 mono_ms);
void job_free(Job *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Job, job_free)

/* Runs one event through the machine. Returns the actions to carry out, in
 * order (a GArray of JobAction), after the engine has persisted the job. An
 * event that does not apply in the current state changes nothing and
 * returns no action. */
GArray *job_handle(Job *job, const JobEvent *event);

/* The job's record could not be written (@why) after an event moved it on
 * from @was: the job ends failed at once, saying so and what to check,
 * without the actions that event asked for. Returns the actions (FINISHED
 * only: the job's slot and resources are released). */
GArray *job_abandon(Job *job, const JobEvent *ev, JobState was, const char *why);

/* QEMU's max downtime in a pause job: as low as QEMU takes, so that it does
 * not switch over on its own before migd pauses the guest (libvirt takes 0
 * as "not set": QEMU kept its 300 ms and completed first, in the lab). */
#define JOB_PAUSE_QEMU_DOWNTIME_MS 1
/* The bandwidth cap (MiB/s, libvirt's smallest) that holds a pause job's
 * migration back while migd makes the switchover: QEMU switches over on
 * its own once what is left fits bandwidth x 1 ms, which at full speed
 * can happen within migd's round trip (src-nic-pause.c). */
#define JOB_PAUSE_HOLD_MIBPS 1
/* How often a pause job samples libvirt's job stats at most (ms): its
 * switchover must be decided before QEMU's pass ends. */
#define JOB_PAUSE_POLL_MS 25

/* Whether a NIC of the job's record crosses with @strategy ("unplug",
 * "native", "pause"); job_pauses() for "pause" (migd makes the switchover
 * itself). */
gboolean job_nics_use(const Job *job, const char *strategy);
gboolean job_pauses(const Job *job);

/* Whether the API may cancel or force-complete it now; if not, why. */
gboolean job_can_cancel(const Job *job, char **ret_reason);
gboolean job_can_force_complete(const Job *job, char **ret_reason);

/* The record the API serves and the store keeps. */
json_t *job_to_json(const Job *job);

/* Rebuilds a job from its record (after a restart). */
Job *job_from_json(json_t *record, GError **error);

/* After job_from_json(): ties the job's timeline to this boot's clocks. */
void job_resume_clock(Job *job, gint64 wall_us, gint64 mono_ms);

/* The progress member alone, for server-sent events. */
json_t *job_progress_to_json(const Job *job);
json_t *job_entry_to_json(const JobEntry *entry);
