/* The convergence policy: fed libvirt's job stats once per poll during a live
 * migration, it decides when to raise the max downtime, throttle the guest,
 * switch to post-copy or give up. Pure logic: the caller owns libvirt and the
 * clock, so every decision can be tested with made-up samples. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define POLICY_MAX_DOWNTIME_STEPS 8

/* QEMU refuses a downtime-limit above 2000 s. */
#define POLICY_DOWNTIME_LIMIT_MS 2000000

typedef struct {
    guint max_downtime_ms;          /* at the start; QEMU's own default is 300 */
    guint downtime_steps_ms[POLICY_MAX_DOWNTIME_STEPS];    /* raised to on stalls, in order */
    guint n_downtime_steps;
    guint stall_iterations;         /* iterations without progress that make a stall */
    gboolean allow_auto_converge;
    gboolean allow_postcopy;
    guint completion_timeout_per_gib_s;     /* times the guest's memory, at least 1 GiB */
    guint progress_timeout_s;       /* no new low of data remaining for this long */
} PolicyConfig;

void policy_config_init_defaults(PolicyConfig *cfg);

/* Checks that the steps rise above max_downtime_ms and stay within QEMU's
 * limit, that the timeouts and stall_iterations are at least 1; the message
 * (MIGD_ERROR_INVALID_ARGUMENT) names the field. */
gboolean policy_config_validate(const PolicyConfig *cfg, GError **error);

/* One reading of virDomainGetJobStats. */
typedef struct {
    gint64 now_ms;                  /* the caller's monotonic clock */
    guint64 data_total, data_processed, data_remaining;    /* bytes */
    guint64 memory_bps;             /* transfer rate, bytes/s; 0: unknown */
    guint64 dirty_rate_pps;         /* pages/s; 0: unknown */
    guint64 page_size;              /* bytes; 0 is taken as 4096 */
    guint64 iteration;              /* memory pass; 0: unknown */
} PolicySample;

typedef enum {
    POLICY_NONE,
    POLICY_SET_DOWNTIME,            /* virDomainMigrateSetMaxDowntime(downtime_ms) */
    POLICY_AUTO_CONVERGE,           /* throttle the guest's vCPUs */
    POLICY_POSTCOPY,                /* virDomainMigrateStartPostCopy() */
    POLICY_ABORT,                   /* virDomainAbortJob() */
    POLICY_ACTION_LAST
} PolicyActionKind;

/* "none", "set-downtime", "auto-converge", "postcopy", "abort". */
const char *policy_action_kind_to_string(PolicyActionKind kind);

/* What the policy asks for, with a sentence for the job's timeline that
 * names the figures behind it. A POLICY_NONE carries a reason only when the
 * policy has something to report but nothing it may do (a timeout passed
 * during post-copy, a force-complete with nothing left to force). */
typedef struct {
    PolicyActionKind kind;
    guint downtime_ms;              /* for POLICY_SET_DOWNTIME */
    char *reason;                   /* owned */
} PolicyAction;

void policy_action_clear(PolicyAction *action);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PolicyAction, policy_action_clear)

typedef struct _PolicyState PolicyState;

/* @cfg is copied and must have passed policy_config_validate(). @start_ms is
 * on the samples' clock. @postcopy_forbidden: a device (a passthrough NIC)
 * that stays attached makes post-copy unsafe. */
PolicyState *policy_state_new(const PolicyConfig *cfg, gint64 start_ms,
                              guint64 guest_memory_bytes, gboolean postcopy_forbidden);
void policy_state_free(PolicyState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PolicyState, policy_state_free)

/* Everything the policy counted and climbed, for the job record, so that a
 * restarted migd goes on where it stopped: times are kept as offsets from
 * the start, since the monotonic clock does not survive a restart. */
json_t *policy_state_to_json(const PolicyState *state);

/* The state policy_state_to_json() saved, under @cfg (which the caller
 * rebuilds from the record), with the start at @start_ms of this clock. On
 * error (MIGD_ERROR_INVALID_ARGUMENT) returns NULL. */
PolicyState *policy_state_from_json(const PolicyConfig *cfg, gint64 start_ms,
                                    guint64 guest_memory_bytes, gboolean postcopy_forbidden,
                                    json_t *saved, GError **error);

/* What the guest's devices that stay attached (native NICs) add to the
 * data QEMU sends at stop-and-copy, in bytes (their plugins' probe
 * stop_copy_bytes; 0: none known). libvirt's data remaining counts the
 * guest's memory only, so the downtime predictions add this. */
void policy_state_set_device_bytes(PolicyState *state, guint64 bytes);
guint64 policy_state_device_bytes(const PolicyState *state);

/* The downtime that stop-and-copy would take now: what remains of the
 * guest's memory and the devices' bytes, at the measured rate, in ms; -1
 * when no rate is known yet. */
gint64 policy_predict_downtime_ms(const PolicyState *state, const PolicySample *sample);

/* Moves @state to another clock, on which the migration started at @start_ms. */
void policy_state_rebase(PolicyState *state, gint64 start_ms);

/* Feeds one sample and overwrites @ret_action with at most one action,
 * POLICY_NONE most of the time. The policy assumes the caller carries out
 * what it asks for. After POLICY_ABORT it asks for nothing more; during
 * post-copy it only reports, once, that the completion timeout passed,
 * because aborting post-copy would lose the guest. */
void policy_evaluate(PolicyState *state, const PolicySample *sample, PolicyAction *ret_action);

/* The user asked to finish now: post-copy when allowed and no device forbids
 * it, else the largest downtime step (twice the current downtime once past
 * it, up to QEMU's limit). The ladder then continues from there. Returns
 * ret_action->kind. */
PolicyActionKind policy_force_complete(PolicyState *state, PolicyAction *ret_action);

/* Before starting: whether a guest that dirties @dirty_bytes_per_s can
 * converge over @bandwidth_bytes_per_s within @cfg. @ret_reason (if not
 * NULL) gets a sentence with the figures either way, for the timeline. */
gboolean policy_predict(const PolicyConfig *cfg, guint64 dirty_bytes_per_s,
                        guint64 bandwidth_bytes_per_s, gboolean postcopy_forbidden,
                        char **ret_reason);
