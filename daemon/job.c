/* The migration job's state machine and record. Pure logic: no I/O, no clock
 * reads; every event brings its own time. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "job.h"
#include "nic-types.h"

static const char *const state_names[JOB_STATE_LAST] = {
    [JOB_PENDING] = "pending",
    [JOB_CHECKING] = "checking",
    [JOB_RESERVING] = "reserving",
    [JOB_PREPARING] = "preparing",
    [JOB_UNPLUGGING] = "unplugging",
    [JOB_MIGRATING] = "migrating",
    [JOB_SWITCHOVER] = "switchover",
    [JOB_REPLUGGING] = "replugging",
    [JOB_VERIFYING] = "verifying",
    [JOB_COMPLETED] = "completed",
    [JOB_ROLLING_BACK] = "rolling-back",
    [JOB_FAILED] = "failed",
    [JOB_CANCELLED] = "cancelled",
};

static const char *const action_names[JOB_ACT_LAST] = {
    [JOB_ACT_RUN_CHECKS] = "run-checks",
    [JOB_ACT_NIC_STEP] = "nic-step",
    [JOB_ACT_START_MIGRATION] = "start-migration",
    [JOB_ACT_SET_DOWNTIME] = "set-downtime",
    [JOB_ACT_AUTO_CONVERGE] = "auto-converge",
    [JOB_ACT_POSTCOPY] = "postcopy",
    [JOB_ACT_ABORT_MIGRATION] = "abort-migration",
    [JOB_ACT_WATCH_LIBVIRT_JOB] = "watch-libvirt-job",
    [JOB_ACT_SWITCHOVER] = "switchover",
    [JOB_ACT_FINISHED] = "finished",
};

const char *
job_state_to_string(JobState state)
{
    return (unsigned int)state < JOB_STATE_LAST ? state_names[state] : "unknown";
}

int
job_state_from_string(const char *name)
{
    for (int i = 0; i < JOB_STATE_LAST; i++) {
        if (g_strcmp0(state_names[i], name) == 0)
            return i;
    }
    return -1;
}

gboolean
job_state_is_final(JobState state)
{
    return state == JOB_COMPLETED || state == JOB_FAILED || state == JOB_CANCELLED;
}

const char *
job_action_kind_to_string(JobActionKind kind)
{
    return (unsigned int)kind < JOB_ACT_LAST ? action_names[kind] : "unknown";
}

static void
job_entry_free(gpointer data)
{
    JobEntry *entry = data;

    g_free(entry->kind);
    g_free(entry->message);
    g_free(entry);
}

static void
job_note(Job *job, const JobEvent *ev, const char *kind, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
job_note(Job *job, const JobEvent *ev, const char *kind, const char *fmt, ...)
{
    JobEntry *entry = g_new0(JobEntry, 1);
    va_list ap;

    entry->at_us = ev->wall_us;
    entry->t_ms = ev->mono_ms - job->created_mono_ms;
    entry->kind = g_strdup(kind);
    entry->state = job->state;
    va_start(ap, fmt);
    entry->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(job->timeline, entry);
}

static void
job_act(GArray *actions, JobActionKind kind, guint downtime_ms)
{
    JobAction action = { kind, downtime_ms };

    g_array_append_val(actions, action);
}

/* Enters @state and notes it in the timeline. */
static void
job_enter(Job *job, const JobEvent *ev, JobState state, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
job_enter(Job *job, const JobEvent *ev, JobState state, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    job->state = state;
    job_note(job, ev, "state", "%s", message);
}

static void
job_finish(Job *job, const JobEvent *ev, JobState state, const char *reason, GArray *actions)
{
    char *copy = g_strdup(reason);  /* @reason may be job->reason itself: use only the copy */

    g_free(job->reason);
    job->reason = copy;
    job->finished_at_us = ev->wall_us;
    job_enter(job, ev, state, "%s", copy);
    job_act(actions, JOB_ACT_FINISHED, 0);
}

static const char *
job_dest_name(const Job *job)
{
    return job->dest.name ? job->dest.name : job->dest.libvirt_uri;
}

/* The NIC states are explicit steps; what each does is the engine's. */
static void
job_enter_step(Job *job, const JobEvent *ev, JobState state, GArray *actions)
{
    static const char *const what[JOB_STATE_LAST] = {
        [JOB_RESERVING] = "reserving passthrough NICs on the destination",
        [JOB_PREPARING] = "preparing device state",
        [JOB_UNPLUGGING] = "unplugging passthrough NICs that cannot migrate",
        [JOB_REPLUGGING] = "plugging passthrough NICs back in on the destination",
        [JOB_VERIFYING] = "verifying the guest's NICs on the destination",
    };

    job_enter(job, ev, state, "%s", what[state]);
    job_act(actions, JOB_ACT_NIC_STEP, 0);
}

/* The policy the migration runs under. QEMU takes auto-converge only when a
 * migration starts, and libvirt cannot turn it on later: the policy may
 * count on QEMU's throttling only when the migration was started with it. */
static PolicyConfig
job_effective_policy(const Job *job)
{
    PolicyConfig effective = job->policy;

    effective.allow_auto_converge &= job->options.auto_converge;
    return effective;
}

gboolean
job_nics_use(const Job *job, const char *strategy)
{
    json_t *devices = json_object_get(job->nics, "devices");
    size_t i;
    json_t *d;

    json_array_foreach(devices, i, d) {
        if (g_strcmp0(json_string_value(json_object_get(d, "strategy")), strategy) == 0)
            return TRUE;
    }
    return FALSE;
}

/* The policy's share of the NIC steps' record: what the native NICs'
 * devices add at stop-and-copy (nics.stop_copy_bytes). */
static void
job_policy_device_bytes(Job *job)
{
    json_t *bytes = json_object_get(job->nics, "stop_copy_bytes");

    if (job->policy_state)
        policy_state_set_device_bytes(job->policy_state,
                                      json_is_integer(bytes) && json_integer_value(bytes) > 0
                                          ? (guint64)json_integer_value(bytes)
                                          : 0);
}

static void
job_start_migration(Job *job, const JobEvent *ev, GArray *actions)
{
    PolicyConfig effective = job_effective_policy(job);

    job->migration_start_mono_ms = ev->mono_ms;
    job->migration_started_at_us = ev->wall_us;
    /* The engine sets the policy's first downtime with the migration; a
     * pause job's is JOB_PAUSE_QEMU_DOWNTIME_MS, so that QEMU does not switch
     * over on its own. */
    job->progress.max_downtime_ms =
        job_pauses(job) ? JOB_PAUSE_QEMU_DOWNTIME_MS : job->policy.max_downtime_ms;
    g_clear_pointer(&job->policy_state, policy_state_free);
    job->policy_state = policy_state_new(&effective, ev->mono_ms, job->guest_memory,
                                         job->postcopy_forbidden);
    job_policy_device_bytes(job);
    job_enter(job, ev, JOB_MIGRATING, "live migration to %s started", job_dest_name(job));
    job_act(actions, JOB_ACT_START_MIGRATION, 0);
}

/* Completed only when both halves agree: the guest runs on the destination
 * with its NICs verified, and libvirt's migrate call has returned. */
/* The passthrough NICs the guest lost on the way, as a phrase such as
 * "ua-vf0, hostdev1"; NULL when it has them all. */
static char *
job_missing_nics(const Job *job)
{
    g_autoptr(GString) missing = g_string_new(NULL);
    json_t *devices = json_object_get(job->nics, "devices");
    size_t i;
    json_t *d;

    json_array_foreach(devices, i, d) {
        int state = nic_state_from_string(json_string_value(json_object_get(d, "state")));

        if (state == NIC_UNPLUGGED || state == NIC_LOST)
            g_string_append_printf(missing, "%s%s", missing->len ? ", " : "",
                                   json_string_value(json_object_get(d, "alias")));
    }
    return missing->len ? g_string_free(g_steal_pointer(&missing), FALSE) : NULL;
}

/* How many of the guest's NICs the rollback plugged back in. */
static guint
job_restored_nics(const Job *job)
{
    json_t *devices = json_object_get(job->nics, "devices");
    guint restored = 0;
    size_t i;
    json_t *d;

    json_array_foreach(devices, i, d)
        restored += nic_state_from_string(json_string_value(json_object_get(d, "state"))) ==
                    NIC_RESTORED;
    return restored;
}

/* A rollback is over: the job ends with why it was undone, and what the
 * rollback did, or could not do, for the guest's NICs. */
static void
job_rolled_back(Job *job, const JobEvent *ev, const char *incomplete, GArray *actions)
{
    g_autofree char *reason = NULL;
    const char *why = job->reason ? job->reason : "rolled back";
    guint restored = job_restored_nics(job);

    if (incomplete)
        reason = g_strdup_printf("%s; rollback incomplete: %s", why, incomplete);
    else if (restored)
        reason = g_strdup_printf("%s; its passthrough NIC%s %s plugged back in", why,
                                 restored == 1 ? "" : "s",
                                 restored == 1 ? "is" : "are");
    else
        reason = g_strdup(why);
    job_finish(job, ev, job->cancel_requested ? JOB_CANCELLED : JOB_FAILED, reason, actions);
}

static void
job_maybe_complete(Job *job, const JobEvent *ev, GArray *actions)
{
    g_autofree char *reason = NULL;
    g_autofree char *missing = NULL;

    if (job->state != JOB_VERIFYING || !job->verified || !job->migrate_returned)
        return;
    missing = job_missing_nics(job);
    if (missing) {
        reason = g_strdup_printf("%s runs on %s WITHOUT its passthrough NIC (%s): it uses its "
                                 "standby NIC; plug a VF in by hand or migrate it again",
                                 job->domain, job_dest_name(job), missing);
        job_note(job, ev, "error", "%s", reason);
    } else {
        reason = g_strdup_printf("%s runs on %s", job->domain, job_dest_name(job));
    }
    job_finish(job, ev, JOB_COMPLETED, reason, actions);
}

/* Undoes what was done (the NIC steps do that) and ends failed or cancelled. */
static void
job_roll_back(Job *job, const JobEvent *ev, const char *reason, GArray *actions)
{
    g_free(job->reason);
    job->reason = g_strdup(reason);
    job_enter(job, ev, JOB_ROLLING_BACK, "rolling back: %s", reason);
    job_act(actions, JOB_ACT_NIC_STEP, 0);
}

/* The destination chosen by "auto" refused the reservation (no free VF or
 * incoming slot: another source was quicker than the capacity read): the
 * next candidate of the choice takes its place, and the job checks again
 * from there. FALSE when there is no candidate left. */
static gboolean
job_retarget(Job *job, const JobEvent *ev, GArray *actions)
{
    json_t *choice = job->dest.choice;
    json_t *remaining = json_object_get(choice, "remaining");
    json_t *next = json_array_get(remaining, 0);
    json_t *refused = json_object_get(choice, "refused");
    g_autofree char *was = NULL;

    if (job->state != JOB_RESERVING || !json_is_object(next))
        return FALSE;
    was = g_strdup(job_dest_name(job));
    if (!json_is_array(refused)) {
        refused = json_array();
        json_object_set_new(choice, "refused", refused);
    }
    json_array_append_new(refused, json_pack("{s:s,s:s+}", "peer", was, "why",
                                             "refused the reservation: ", ev->reason));
    g_free(job->dest.name);
    g_free(job->dest.libvirt_uri);
    g_free(job->dest.migd_url);
    job->dest.name = g_strdup(json_string_value(json_object_get(next, "name")));
    job->dest.libvirt_uri = g_strdup(json_string_value(json_object_get(next, "libvirt_uri")));
    job->dest.migd_url = g_strdup(json_string_value(json_object_get(next, "migd_url")));
    json_object_set(choice, "chosen", json_object_get(next, "name"));
    json_object_set_new(choice, "why",
                        json_pack("s+++", json_string_value(json_object_get(next, "why")),
                                  "; taken after ", was, " refused"));
    (void)json_array_remove(remaining, 0);
    /* The NICs are found again by the checks, for the new destination. */
    g_clear_pointer(&job->nics, json_decref);
    job_note(job, ev, "warning", "%s refused the reservation (%s); trying %s, the next choice",
             was, ev->reason, job_dest_name(job));
    job_enter(job, ev, JOB_CHECKING, "checking %s and %s", job->domain, job_dest_name(job));
    job_act(actions, JOB_ACT_RUN_CHECKS, 0);
    return TRUE;
}

/* The step after a NIC step that finished, in the order of DESIGN.md. */
static void
job_step_done(Job *job, const JobEvent *ev, GArray *actions)
{
    if (ev->message)
        job_note(job, ev, "info", "%s", ev->message);
    switch (job->state) {
    case JOB_RESERVING:
        job_enter_step(job, ev, JOB_PREPARING, actions);
        break;
    case JOB_PREPARING:
        job_enter_step(job, ev, JOB_UNPLUGGING, actions);
        break;
    case JOB_UNPLUGGING:
        job_start_migration(job, ev, actions);
        break;
    case JOB_SWITCHOVER:
        if (!job->dest_resumed_at_us)
            job->dest_resumed_at_us = ev->wall_us;
        job_enter_step(job, ev, JOB_REPLUGGING, actions);
        break;
    case JOB_REPLUGGING:
        job_enter_step(job, ev, JOB_VERIFYING, actions);
        break;
    case JOB_VERIFYING:
        job->verified = TRUE;
        job_maybe_complete(job, ev, actions);
        break;
    case JOB_ROLLING_BACK:
        job_rolled_back(job, ev, NULL, actions);
        break;
    default:
        break;
    }
}

static void
job_apply_sample(Job *job, const PolicySample *sample)
{
    job->have_progress = TRUE;
    job->progress.elapsed_ms = sample->now_ms - job->migration_start_mono_ms;
    job->progress.data_total = sample->data_total;
    job->progress.data_processed = sample->data_processed;
    job->progress.data_remaining = sample->data_remaining;
    job->progress.memory_bps = sample->memory_bps;
    job->progress.dirty_rate_pps = sample->dirty_rate_pps;
    job->progress.iteration = sample->iteration;
}

static void
job_policy_act(Job *job, const JobEvent *ev, const PolicyAction *pa, GArray *actions)
{
    switch (pa->kind) {
    case POLICY_SET_DOWNTIME:
        job->progress.max_downtime_ms = pa->downtime_ms;
        job_act(actions, JOB_ACT_SET_DOWNTIME, pa->downtime_ms);
        break;
    case POLICY_AUTO_CONVERGE:
        job_act(actions, JOB_ACT_AUTO_CONVERGE, 0);
        break;
    case POLICY_POSTCOPY:
        job->progress.postcopy = TRUE;
        job_act(actions, JOB_ACT_POSTCOPY, 0);
        break;
    case POLICY_ABORT:
        if (job->abort_sent)
            return;
        job->abort_sent = TRUE;
        g_free(job->abort_reason);
        job->abort_reason = g_strdup(pa->reason);
        job_act(actions, JOB_ACT_ABORT_MIGRATION, 0);
        break;
    default:
        /* The policy explains why it does nothing, now and then. */
        if (pa->reason)
            job_note(job, ev, "policy", "%s", pa->reason);
        return;
    }
    job_note(job, ev, "policy", "%s: %s", policy_action_kind_to_string(pa->kind), pa->reason);
}

/* Pause strategy: migd makes the switchover (pre_switchover, then the
 * guest suspended here; QEMU, whose max downtime is 1 ms, then completes). */
static void
job_switchover(Job *job, const JobEvent *ev, const char *why, GArray *actions)
{
    job->switchover_sent = TRUE;
    job_note(job, ev, "policy", "switchover: %s; migd quiesces the passthrough NICs and pauses "
             "%s here", why, job->domain);
    job_act(actions, JOB_ACT_SWITCHOVER, 0);
}

/* Whether what is left fits the downtime budget, said in @ret_why: the
 * prediction (policy_predict_downtime_ms()) runs already during the first
 * pass: with QEMU's max downtime at 1 ms a guest that dirties nothing
 * would be switched over by QEMU itself as soon as a pass finds no dirty
 * page (seen in the lab: an idle guest completed in 597 ms), so the pause
 * must come before the first pass ends. */
static gboolean
job_pause_fits(const Job *job, const PolicySample *s, char **ret_why)
{
    gint64 predicted = policy_predict_downtime_ms(job->policy_state, s);
    guint64 device = policy_state_device_bytes(job->policy_state);
    g_autofree char *with = NULL;

    if (predicted < 0 || predicted > job->policy.max_downtime_ms)
        return FALSE;
    if (device)
        with = g_strdup_printf(" (and %" G_GUINT64_FORMAT " KiB that the native NICs' devices "
                               "add at stop-and-copy)", device / 1024);
    *ret_why = g_strdup_printf("%" G_GUINT64_FORMAT " KiB are left%s, about %" G_GINT64_FORMAT
                               " ms at the measured rate, within the downtime budget of %u ms",
                               s->data_remaining / 1024, with ? with : "", predicted,
                               job->policy.max_downtime_ms);
    return TRUE;
}

static void
job_on_stats(Job *job, const JobEvent *ev, GArray *actions)
{
    PolicyAction pa = { 0 };
    gboolean pauses;
    g_autofree char *why = NULL;

    job_apply_sample(job, ev->sample);
    if (job->abort_sent || job->cancel_requested || job->switchover_sent)
        return;
    policy_evaluate(job->policy_state, ev->sample, &pa);
    pauses = job_pauses(job);
    if (pauses && job_pause_fits(job, ev->sample, &why)) {
        job_switchover(job, ev, why, actions);
    } else if (pauses && pa.kind == POLICY_SET_DOWNTIME) {
        /* Raising QEMU's downtime would let it switch over without the
         * plugins' pre_switchover: the pause comes now instead. */
        why = g_strdup_printf("the policy would raise the downtime to %u ms (%s)", pa.downtime_ms,
                              pa.reason);
        job_switchover(job, ev, why, actions);
    } else {
        job_policy_act(job, ev, &pa, actions);
    }
    policy_action_clear(&pa);
}

static void
job_on_dest_resumed(Job *job, const JobEvent *ev, GArray *actions)
{
    job->dest_resumed_at_us = ev->wall_us;
    if (job->cancel_requested)
        job_note(job, ev, "warning", "the cancel came too late: %s already runs on %s",
                 job->domain, job_dest_name(job));
    job_enter(job, ev, JOB_SWITCHOVER, "%s resumed on %s after %" G_GINT64_FORMAT " ms",
              job->domain, job_dest_name(job), ev->mono_ms - job->migration_start_mono_ms);
    job_act(actions, JOB_ACT_NIC_STEP, 0);
}

static void
job_on_migrate_returned(Job *job, const JobEvent *ev, GArray *actions)
{
    job->migrate_returned = TRUE;
    job->migrate_returned_at_us = ev->wall_us;
    if (ev->figures) {
        job->have_figures = TRUE;
        job->figures = *ev->figures;
    }
    job_note(job, ev, "info", "libvirt's migrate call returned");
    job_maybe_complete(job, ev, actions);
}

static void
job_on_migrate_failed(Job *job, const JobEvent *ev, GArray *actions)
{
    g_autofree char *reason = NULL;

    if (job->state != JOB_MIGRATING) {
        /* The guest already runs on the destination: the call's late error
         * does not undo that, but it must not go unseen. */
        job->migrate_returned = TRUE;
        job->migrate_returned_at_us = ev->wall_us;
        job_note(job, ev, "warning", "the migrate call failed after %s resumed on %s: %s",
                 job->domain, job_dest_name(job), ev->reason);
        job_maybe_complete(job, ev, actions);
        return;
    }
    if (job->cancel_requested)
        reason = g_strdup_printf("cancelled; %s keeps running on this host", job->domain);
    else if (job->switchover_error)
        reason = g_strdup_printf("the switchover failed: %s; %s keeps running on this host",
                                 job->switchover_error, job->domain);
    else if (job->abort_reason)
        reason = g_strdup_printf("the convergence policy aborted the migration: %s; %s keeps "
                                 "running on this host", job->abort_reason, job->domain);
    else
        reason = g_strdup_printf("the migration failed: %s", ev->reason);
    job_roll_back(job, ev, reason, actions);
}

gboolean
job_pauses(const Job *job)
{
    return job_nics_use(job, "pause");
}

/* Whether the NIC steps' record says the guest is suspended here by migd. */
static gboolean
job_source_paused(const Job *job)
{
    return json_is_true(json_object_get(json_object_get(job->nics, "pause"), "source_paused"));
}

/* The guest was not suspended here (or was resumed): the migration is
 * aborted and the rollback undoes the rest. */
static void
job_on_switchover_failed(Job *job, const JobEvent *ev, GArray *actions)
{
    job_note(job, ev, "error", "the switchover failed: %s", ev->reason);
    if (job->abort_sent)
        return;
    g_free(job->switchover_error);
    job->switchover_error = g_strdup(ev->reason);
    job->abort_sent = TRUE;
    job_act(actions, JOB_ACT_ABORT_MIGRATION, 0);
}

/* Pause strategy: the migration is over and the guest waits paused on the
 * destination, whose migd restores and resumes it (the NIC step of the
 * switchover state). */
static void
job_on_paused_arrival(Job *job, const JobEvent *ev, GArray *actions)
{
    if (!job_source_paused(job))
        job_note(job, ev, "warning", "QEMU completed the migration before migd paused %s: the "
                 "plugins' pre_switchover was not called", job->domain);
    job_on_migrate_returned(job, ev, actions);
    job_enter(job, ev, JOB_SWITCHOVER, "%s arrived paused on %s after %" G_GINT64_FORMAT " ms; "
              "resuming it there", job->domain, job_dest_name(job),
              ev->mono_ms - job->migration_start_mono_ms);
    job_act(actions, JOB_ACT_NIC_STEP, 0);
}

static void
job_on_cancel(Job *job, const JobEvent *ev, GArray *actions)
{
    job->cancel_requested = TRUE;
    job_note(job, ev, "info", "cancel requested");
    switch (job->state) {
    case JOB_PENDING:
    case JOB_CHECKING:
        /* Nothing has been touched yet. */
        job_finish(job, ev, JOB_CANCELLED, "cancelled before anything was changed", actions);
        break;
    case JOB_RESERVING:
    case JOB_PREPARING:
    case JOB_UNPLUGGING:
        job_roll_back(job, ev, "cancelled", actions);
        break;
    case JOB_MIGRATING:
        if (!job->abort_sent) {
            job->abort_sent = TRUE;
            job_act(actions, JOB_ACT_ABORT_MIGRATION, 0);
        }
        break;
    default:
        break;
    }
}

static void
job_on_force_complete(Job *job, const JobEvent *ev, GArray *actions)
{
    PolicyAction pa = { 0 };

    job_note(job, ev, "info", "force-complete requested");
    if (job_pauses(job)) {
        if (!job->switchover_sent && !job->abort_sent)
            job_switchover(job, ev, "force-complete was asked for", actions);
        return;
    }
    policy_force_complete(job->policy_state, &pa);
    job_policy_act(job, ev, &pa, actions);
    policy_action_clear(&pa);
}

/* After a restart, and when a libvirt job that migd followed ended without
 * a clear outcome: libvirt (and the destination) tell where the guest is,
 * and the job goes on from there as it would have without the restart
 * (CONTRACTS.md, "The machine after a restart"). These helpers serve
 * job_on_reconciled() alone. */

/* The guest runs here and libvirt migrates nothing: undo what was done (the
 * rollback plugs back what was unplugged and releases the reservation). */
static void
job_reconciled_here(Job *job, const JobEvent *ev, GArray *actions)
{
    g_autofree char *reason = NULL;
    const char *was = job_state_to_string(job->state);

    if (job->state == JOB_CHECKING) {
        reason = g_strdup_printf("migd restarted during the checks; %s was not touched and "
                                 "runs on this host", job->domain);
        job_finish(job, ev, JOB_FAILED, reason, actions);
        return;
    }
    /* What became of its NICs the rollback's end adds (job_rolled_back). */
    if (job->state == JOB_RESERVING || job->state == JOB_PREPARING || !job_nics_use(job, "unplug"))
        reason = g_strdup_printf("migd restarted while the job was %s; the migration did not "
                                 "happen and %s runs on this host as before", was, job->domain);
    else
        reason = g_strdup_printf("migd restarted while the job was %s; the migration did not "
                                 "happen and %s runs on this host", was, job->domain);
    job_roll_back(job, ev, reason, actions);
}

/* The guest runs on the destination and libvirt's job is over: the
 * migration happened. Whether the destination replugged is its to say. */
static void
job_reconciled_there(Job *job, const JobEvent *ev, GArray *actions)
{
    g_autofree char *reason = NULL;

    if (job->state < JOB_MIGRATING) {
        reason = g_strdup_printf("%s runs on %s, but this job had not started its migration: "
                                 "something else moved it; check its NICs there", job->domain,
                                 job_dest_name(job));
        job_note(job, ev, "error", "%s", reason);
        job_finish(job, ev, JOB_FAILED, reason, actions);
        return;
    }
    job->migrate_returned = TRUE;
    job->migrate_returned_at_us = ev->wall_us;
    if (ev->figures) {
        job->have_figures = TRUE;
        job->figures = *ev->figures;
    }
    job_note(job, ev, "info", "%s runs on %s: the migration completed%s", job->domain,
             job_dest_name(job), ev->figures ? "" : " (libvirt's figures cannot be read there)");
    job_enter_step(job, ev, job->state == JOB_VERIFYING ? JOB_VERIFYING : JOB_REPLUGGING,
                   actions);
}

/* libvirt's migration outlived the previous migd: follow it as a live job
 * (the policy, cancel and force-complete work again), and go on with the
 * NIC step if the guest already resumed on the destination. */
static void
job_reconciled_running(Job *job, const JobEvent *ev, GArray *actions)
{
    job_note(job, ev, "info", "libvirt's migration job is still running; following it");
    job_act(actions, JOB_ACT_WATCH_LIBVIRT_JOB, 0);
    if (job->state != JOB_MIGRATING) {
        job_enter_step(job, ev, job->state == JOB_VERIFYING ? JOB_VERIFYING : JOB_REPLUGGING,
                       actions);
        return;
    }
    if (job->cancel_requested || job->abort_sent) {
        /* The abort may have died with the previous migd, before libvirt
         * had it. */
        job_note(job, ev, "info", "the %s is carried out again: aborting the migration",
                 job->cancel_requested ? "cancel" : "policy's abort");
        job->abort_sent = TRUE;
        job_act(actions, JOB_ACT_ABORT_MIGRATION, 0);
    }
}

static void
job_on_reconciled(Job *job, const JobEvent *ev, GArray *actions)
{
    g_autofree char *reason = NULL;

    if (ev->message)
        job_note(job, ev, "warning", "%s", ev->message);
    else
        job_note(job, ev, "warning", "migd restarted while the job was %s",
                 job_state_to_string(job->state));
    if (job->state == JOB_PENDING) {
        job_note(job, ev, "info", "queued again");
        return;
    }
    if (ev->source_job_active && job->state >= JOB_MIGRATING && job->state <= JOB_VERIFYING) {
        job_reconciled_running(job, ev, actions);
        return;
    }
    switch (ev->placement) {
    case JOB_GUEST_ON_SOURCE:
        job_reconciled_here(job, ev, actions);
        return;
    case JOB_GUEST_ON_DESTINATION:
        job_reconciled_there(job, ev, actions);
        return;
    case JOB_GUEST_ON_BOTH:
        reason = g_strdup_printf("%s runs on this host AND on %s: check both before starting "
                                 "either again", job->domain, job_dest_name(job));
        break;
    case JOB_GUEST_NOWHERE:
        reason = ev->reason ? g_strdup_printf("%s does not run on this host, and %s; find it "
                                              "before starting it again", job->domain,
                                              ev->reason)
                            : g_strdup_printf("%s runs on neither this host nor %s",
                                              job->domain, job_dest_name(job));
        break;
    }
    job_note(job, ev, "error", "%s", reason);
    job_finish(job, ev, JOB_FAILED, reason, actions);
}

static void
job_dispatch(Job *job, const JobEvent *ev, GArray *actions)
{
    switch (ev->kind) {
    case JOB_EV_SLOT_GRANTED:
        if (job->state != JOB_PENDING)
            return;
        job->started_at_us = ev->wall_us;
        job_enter(job, ev, JOB_CHECKING, "checking %s and %s", job->domain, job_dest_name(job));
        job_act(actions, JOB_ACT_RUN_CHECKS, 0);
        break;
    case JOB_EV_CHECKS_PASSED:
        if (job->state != JOB_CHECKING)
            return;
        job->guest_memory = ev->guest_memory;
        job->postcopy_forbidden = ev->postcopy_forbidden;
        if (ev->message)
            job_note(job, ev, "info", "%s", ev->message);
        job_enter_step(job, ev, JOB_RESERVING, actions);
        break;
    case JOB_EV_CHECKS_FAILED:
        if (job->state == JOB_CHECKING)
            job_finish(job, ev, JOB_FAILED, ev->reason, actions);
        break;
    case JOB_EV_STEP_DONE:
        job_step_done(job, ev, actions);
        break;
    case JOB_EV_STEP_FAILED:
        if (job->state == JOB_ROLLING_BACK) {
            job_note(job, ev, "error", "rollback incomplete: %s", ev->reason);
            job_rolled_back(job, ev, ev->reason, actions);
        } else if (job->state >= JOB_RESERVING && job->state <= JOB_UNPLUGGING) {
            job_roll_back(job, ev, ev->reason, actions);
        } else if (job->state == JOB_SWITCHOVER && job_pauses(job) && !job->dest_resumed_at_us) {
            /* The guest is on the destination, paused, and migd there
             * could not resume it: nobody else will. */
            g_autofree char *reason = g_strdup_printf(
                "%s is PAUSED on %s: %s; resume it there by hand (virsh resume %s)", job->domain,
                job_dest_name(job), ev->reason, job->domain);

            job_note(job, ev, "error", "%s", reason);
            job_finish(job, ev, JOB_FAILED, reason, actions);
        } else if (job->state >= JOB_SWITCHOVER && job->state <= JOB_VERIFYING) {
            /* The guest runs on the destination; a NIC step there failing is
             * loud but does not bring it back. */
            job_note(job, ev, "error", "%s", ev->reason);
            job_step_done(job, ev, actions);
        }
        break;
    case JOB_EV_STATS:
        if (job->state == JOB_MIGRATING)
            job_on_stats(job, ev, actions);
        break;
    case JOB_EV_DEST_RESUMED:
        if (job->state == JOB_MIGRATING)
            job_on_dest_resumed(job, ev, actions);
        break;
    case JOB_EV_MIGRATE_RETURNED:
        if (job->state == JOB_MIGRATING && job_pauses(job)) {
            job_on_paused_arrival(job, ev, actions);
            break;
        }
        if (job->state == JOB_MIGRATING) {
            /* The destination's resume report never came; the call's
             * success says the same, only later. */
            job_note(job, ev, "warning", "the destination did not report the resume; using "
                                         "the migrate call's return instead");
            job_on_dest_resumed(job, ev, actions);
        }
        if (job->state > JOB_MIGRATING && job->state <= JOB_VERIFYING && !job->migrate_returned)
            job_on_migrate_returned(job, ev, actions);
        break;
    case JOB_EV_MIGRATE_FAILED:
        if (job->state >= JOB_MIGRATING && job->state <= JOB_VERIFYING && !job->migrate_returned)
            job_on_migrate_failed(job, ev, actions);
        break;
    case JOB_EV_CANCEL:
        if (job_can_cancel(job, NULL))
            job_on_cancel(job, ev, actions);
        break;
    case JOB_EV_FORCE_COMPLETE:
        if (job_can_force_complete(job, NULL))
            job_on_force_complete(job, ev, actions);
        break;
    case JOB_EV_RECONCILED:
        if (!job_state_is_final(job->state))
            job_on_reconciled(job, ev, actions);
        break;
    case JOB_EV_NOTE:
        job_note(job, ev, ev->reason ? ev->reason : "info", "%s", ev->message);
        break;
    case JOB_EV_SWITCHOVER_DONE:
        if (job->state == JOB_MIGRATING && job->switchover_sent)
            job_note(job, ev, "info", "%s", ev->message ? ev->message : "the guest is paused here");
        break;
    case JOB_EV_SWITCHOVER_FAILED:
        if (job->state == JOB_MIGRATING && job->switchover_sent)
            job_on_switchover_failed(job, ev, actions);
        break;
    case JOB_EV_RESERVATION_REFUSED:
        if (!job_retarget(job, ev, actions)) {
            JobEvent failed = *ev;

            failed.kind = JOB_EV_STEP_FAILED;
            job_dispatch(job, &failed, actions);
        }
        break;
    case JOB_EV_LAST:
        break;
    }
}

GArray *
job_handle(Job *job, const JobEvent *event)
{
    GArray *actions = g_array_new(FALSE, FALSE, sizeof(JobAction));

    if (event->nics) {
        json_decref(job->nics);
        job->nics = json_deep_copy(event->nics);
    }
    if (!job_state_is_final(job->state))
        job_dispatch(job, event, actions);
    return actions;
}

/* What a person must check when migd stopped following the job in @was. */
static const char *
job_abandoned_check(JobState was)
{
    if (was <= JOB_CHECKING)
        return "the guest was not touched";
    if (was <= JOB_UNPLUGGING || was == JOB_ROLLING_BACK)
        return "check that the guest has its passthrough NICs on this host";
    if (was <= JOB_SWITCHOVER)
        return "libvirt's migration may still be running or done: check on which host the "
               "guest runs and that it has its passthrough NICs";
    return "the guest runs on the destination: check that it has its passthrough NICs there";
}

GArray *
job_abandon(Job *job, const JobEvent *ev, JobState was, const char *why)
{
    GArray *actions = g_array_new(FALSE, FALSE, sizeof(JobAction));
    g_autofree char *reason = NULL;

    if (job_state_is_final(job->state)) {
        job_note(job, ev, "error", "migd could not record that the job ended (%s)", why);
        job_act(actions, JOB_ACT_FINISHED, 0);
        return actions;
    }
    if (job->state == was)
        reason = g_strdup_printf("migd could not record the job while it was %s (%s), so it "
                                 "stopped following it: %s; make the state directory writable "
                                 "(is its disk full?)", job_state_to_string(was), why,
                                 job_abandoned_check(was));
    else
        reason = g_strdup_printf("migd could not record the job as it went from %s to %s (%s), "
                                 "so it did nothing for %s and stopped following it: %s; make "
                                 "the state directory writable (is its disk full?)",
                                 job_state_to_string(was), job_state_to_string(job->state), why,
                                 job_state_to_string(job->state), job_abandoned_check(was));
    job_note(job, ev, "error", "%s", reason);
    job_finish(job, ev, JOB_FAILED, reason, actions);
    return actions;
}

gboolean
job_can_cancel(const Job *job, char **ret_reason)
{
    const char *why = NULL;

    if (job_state_is_final(job->state))
        why = "it has already ended";
    else if (job->state >= JOB_SWITCHOVER)
        why = "the guest already runs on the destination";
    else if (job->state == JOB_ROLLING_BACK)
        why = "it is already rolling back";
    else if (job->cancel_requested)
        why = "a cancel is already under way";
    if (why && ret_reason)
        *ret_reason = g_strdup_printf("migration %s cannot be cancelled: %s", job->id, why);
    return why == NULL;
}

gboolean
job_can_force_complete(const Job *job, char **ret_reason)
{
    const char *why = NULL;

    if (job->state != JOB_MIGRATING)
        why = "only a running live migration can be forced to complete";
    else if (job->abort_sent)
        why = "it is being aborted";
    else if (job->progress.postcopy)
        why = "it already runs in post-copy mode";
    else if (job->switchover_sent)
        why = "migd is making the switchover already";
    if (why && ret_reason)
        *ret_reason = g_strdup_printf("migration %s cannot be forced to complete now (state %s): %s",
                                      job->id, job_state_to_string(job->state), why);
    return why == NULL;
}

Job *
job_new(const char *id, const char *domain, const JobDestination *dest, const char *strategy,
        const JobOptions *options, const PolicyConfig *policy, const char *requested_by,
        gint64 wall_us, gint64 mono_ms)
{
    Job *job = g_new0(Job, 1);
    JobEvent ev = { .wall_us = wall_us, .mono_ms = mono_ms };

    job->id = g_strdup(id);
    job->domain = g_strdup(domain);
    job->dest.name = g_strdup(dest->name);
    job->dest.libvirt_uri = g_strdup(dest->libvirt_uri);
    job->dest.migd_url = g_strdup(dest->migd_url);
    job->dest.choice = dest->choice ? json_deep_copy(dest->choice) : NULL;
    job->strategy = g_strdup(strategy ? strategy : "auto");
    job->options = *options;
    job->options.compression = g_strdupv(options->compression);
    job->policy = *policy;
    job->created_at_us = wall_us;
    job->created_mono_ms = mono_ms;
    job->timeline = g_ptr_array_new_with_free_func(job_entry_free);
    job->state = JOB_PENDING;
    job->requested_by = g_strdup(requested_by);
    if (requested_by)
        job_note(job, &ev, "state", "accepted: migrate %s to %s (asked from %s)", domain,
                 job_dest_name(job), requested_by);
    else
        job_note(job, &ev, "state", "accepted: migrate %s to %s", domain, job_dest_name(job));
    return job;
}

void
job_free(Job *job)
{
    if (!job)
        return;
    g_free(job->id);
    g_free(job->domain);
    g_free(job->dest.name);
    g_free(job->dest.libvirt_uri);
    g_free(job->dest.migd_url);
    if (job->dest.choice)
        json_decref(job->dest.choice);
    g_free(job->strategy);
    g_strfreev(job->options.compression);
    g_free(job->reason);
    g_free(job->requested_by);
    g_free(job->switchover_error);
    g_free(job->abort_reason);
    g_clear_pointer(&job->policy_state, policy_state_free);
    g_ptr_array_unref(job->timeline);
    json_decref(job->nics);
    g_free(job);
}

/* --- the record ------------------------------------------------------------ */

static json_t *
job_strv_to_json(GStrv v)
{
    json_t *array = json_array();

    for (guint i = 0; v && v[i]; i++)
        json_array_append_new(array, json_string(v[i]));
    return array;
}

static json_t *
job_policy_to_json(const PolicyConfig *p)
{
    json_t *steps = json_array();

    for (guint i = 0; i < p->n_downtime_steps; i++)
        json_array_append_new(steps, json_integer(p->downtime_steps_ms[i]));
    return json_pack("{s:i,s:o,s:i,s:b,s:b,s:i,s:i}",
                     "max_downtime_ms", (int)p->max_downtime_ms,
                     "downtime_steps_ms", steps,
                     "stall_iterations", (int)p->stall_iterations,
                     "allow_auto_converge", p->allow_auto_converge,
                     "allow_postcopy", p->allow_postcopy,
                     "completion_timeout_per_gib_s", (int)p->completion_timeout_per_gib_s,
                     "progress_timeout_s", (int)p->progress_timeout_s);
}

json_t *
job_progress_to_json(const Job *job)
{
    const JobProgress *p = &job->progress;
    double percent = 0;
    json_t *eta = json_null();

    if (!job->have_progress)
        return json_null();
    if (p->data_total > 0)
        percent = 100.0 * (double)p->data_processed / (double)(p->data_processed + p->data_remaining);
    if (p->memory_bps > 0)
        eta = json_integer((json_int_t)(p->data_remaining * 1000 / p->memory_bps));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o,s:i,s:b}",
                     "elapsed_ms", (json_int_t)p->elapsed_ms,
                     "data_total", (json_int_t)p->data_total,
                     "data_processed", (json_int_t)p->data_processed,
                     "data_remaining", (json_int_t)p->data_remaining,
                     "memory_bps", (json_int_t)p->memory_bps,
                     "dirty_rate_pps", (json_int_t)p->dirty_rate_pps,
                     "iteration", (json_int_t)p->iteration,
                     "percent", MIN(percent, 100.0),
                     "eta_ms", eta,
                     "max_downtime_ms", (int)p->max_downtime_ms,
                     "postcopy", p->postcopy);
}

static json_t *
job_result_to_json(const Job *job)
{
    const JobFigures *f = &job->figures;

    if (job->state != JOB_COMPLETED)
        return json_null();
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
                     "downtime_ms", job->have_figures && f->downtime_ms >= 0
                                        ? json_integer(f->downtime_ms) : json_null(),
                     "setup_time_ms", job->have_figures && f->setup_time_ms >= 0
                                          ? json_integer(f->setup_time_ms) : json_null(),
                     "total_time_ms", job->have_figures && f->total_time_ms >= 0
                                          ? json_integer(f->total_time_ms) : json_null(),
                     "data_transferred", job->have_figures
                                             ? json_integer((json_int_t)f->data_transferred)
                                             : json_null(),
                     "dest_resumed_at", json_time_ms(job->dest_resumed_at_us),
                     "migrate_returned_at", json_time_ms(job->migrate_returned_at_us));
}

json_t *
job_entry_to_json(const JobEntry *e)
{
    return json_pack("{s:o,s:I,s:s,s:s,s:s}", "at", json_time_ms(e->at_us), "t_ms",
                     (json_int_t)e->t_ms, "kind", e->kind, "state", job_state_to_string(e->state),
                     "message", e->message);
}

static json_t *
job_figures_to_json(const Job *job)
{
    const JobFigures *f = &job->figures;

    if (!job->have_figures)
        return json_null();
    return json_pack("{s:I,s:I,s:I,s:I}", "downtime_ms", (json_int_t)f->downtime_ms,
                     "setup_time_ms", (json_int_t)f->setup_time_ms,
                     "total_time_ms", (json_int_t)f->total_time_ms,
                     "data_transferred", (json_int_t)f->data_transferred);
}

/* What the machine remembers between events, beyond what the record shows:
 * a restarted migd rebuilds the job from it (job_from_json). */
static json_t *
job_internal_to_json(const Job *job)
{
    return json_pack("{s:I,s:b,s:b,s:b,s:b,s:b,s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "guest_memory", (json_int_t)job->guest_memory,
                     "postcopy_forbidden", job->postcopy_forbidden,
                     "cancel_requested", job->cancel_requested,
                     "migrate_returned", job->migrate_returned,
                     "verified", job->verified,
                     "abort_sent", job->abort_sent,
                     "abort_reason", json_string_or_null(job->abort_reason),
                     "switchover_sent", job->switchover_sent,
                     "switchover_error", json_string_or_null(job->switchover_error),
                     "migration_started_at", json_time_ms(job->migration_started_at_us),
                     "dest_resumed_at", json_time_ms(job->dest_resumed_at_us),
                     "migrate_returned_at", json_time_ms(job->migrate_returned_at_us),
                     "figures", job_figures_to_json(job),
                     "policy_state", job->policy_state ? policy_state_to_json(job->policy_state)
                                                       : json_null());
}

static json_t *
job_record_to_json(const Job *job)
{
    json_t *timeline = json_array();
    json_t *outcome = json_null();

    for (guint i = 0; i < job->timeline->len; i++)
        json_array_append_new(timeline, job_entry_to_json(g_ptr_array_index(job->timeline, i)));
    if (job_state_is_final(job->state))
        outcome = json_pack("{s:s,s:s}", "result", job_state_to_string(job->state), "reason",
                            job->reason ? job->reason : "");
    return json_pack("{s:s,s:s,s:{s:o,s:s,s:o},s:s,s:o,"
                     "s:{s:i,s:i,s:o,s:b,s:b,s:b,s:b},s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:O,s:o,"
                     "s:o}",
                     "id", job->id,
                     "domain", job->domain,
                     "destination",
                     "name", json_string_or_null(job->dest.name),
                     "libvirt_uri", job->dest.libvirt_uri,
                     "migd_url", json_string_or_null(job->dest.migd_url),
                     "strategy", job->strategy,
                     "requested_by", json_string_or_null(job->requested_by),
                     "options",
                     "bandwidth_mibps", (int)job->options.bandwidth_mibps,
                     "parallel_connections", (int)job->options.parallel_connections,
                     "compression", job_strv_to_json(job->options.compression),
                     "postcopy", job->options.postcopy,
                     "auto_converge", job->options.auto_converge,
                     "persistent", job->options.persistent,
                     "undefine_source", job->options.undefine_source,
                     "policy", job_policy_to_json(&job->policy),
                     "state", job_state_to_string(job->state),
                     "outcome", outcome,
                     "created_at", json_time_ms(job->created_at_us),
                     "started_at", json_time_ms(job->started_at_us),
                     "finished_at", json_time_ms(job->finished_at_us),
                     "progress", job_progress_to_json(job),
                     "result", job_result_to_json(job),
                     "nics", job->nics ? job->nics : json_null(),
                     "timeline", timeline,
                     "internal", job_internal_to_json(job));
}

json_t *
job_to_json(const Job *job)
{
    json_t *record = job_record_to_json(job);

    json_object_set_new(record, "destination_choice",
                        job->dest.choice ? json_deep_copy(job->dest.choice) : json_null());
    return record;
}

static gboolean
job_policy_from_json(json_t *obj, PolicyConfig *p, GError **error)
{
    json_t *steps = NULL;
    json_error_t jerr;
    int max_dt, stall, per_gib, progress, auto_conv, postcopy;
    size_t i;
    json_t *step;

    if (json_unpack_ex(obj, &jerr, 0, "{s:i,s:o,s:i,s:b,s:b,s:i,s:i}",
                       "max_downtime_ms", &max_dt, "downtime_steps_ms", &steps,
                       "stall_iterations", &stall, "allow_auto_converge", &auto_conv,
                       "allow_postcopy", &postcopy, "completion_timeout_per_gib_s", &per_gib,
                       "progress_timeout_s", &progress) < 0 ||
        !json_is_array(steps) || json_array_size(steps) > G_N_ELEMENTS(p->downtime_steps_ms)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the job's policy is malformed: %s", jerr.text);
        return FALSE;
    }
    policy_config_init_defaults(p);
    p->max_downtime_ms = (guint)max_dt;
    p->stall_iterations = (guint)stall;
    p->allow_auto_converge = auto_conv;
    p->allow_postcopy = postcopy;
    p->completion_timeout_per_gib_s = (guint)per_gib;
    p->progress_timeout_s = (guint)progress;
    p->n_downtime_steps = 0;
    json_array_foreach(steps, i, step)
        p->downtime_steps_ms[p->n_downtime_steps++] = (guint)json_integer_value(step);
    return TRUE;
}

static GStrv
job_strv_from_json(json_t *array)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v) {
        if (json_is_string(v))
            g_strv_builder_add(b, json_string_value(v));
    }
    return g_strv_builder_end(b);
}

static void
job_timeline_from_json(Job *job, json_t *timeline)
{
    size_t i;
    json_t *e;

    json_array_foreach(timeline, i, e) {
        JobEntry *entry = g_new0(JobEntry, 1);
        int state = job_state_from_string(json_string_value(json_object_get(e, "state")));

        entry->at_us = json_time_parse(json_object_get(e, "at"));
        entry->t_ms = json_integer_value(json_object_get(e, "t_ms"));
        entry->kind = g_strdup(json_string_value(json_object_get(e, "kind")) ?: "info");
        entry->state = state < 0 ? JOB_PENDING : (JobState)state;
        entry->message = g_strdup(json_string_value(json_object_get(e, "message")) ?: "");
        g_ptr_array_add(job->timeline, entry);
    }
}

static void
job_progress_from_json(Job *job, json_t *progress)
{
    JobProgress *p = &job->progress;

    if (!json_is_object(progress))
        return;
    job->have_progress = TRUE;
    p->elapsed_ms = json_integer_value(json_object_get(progress, "elapsed_ms"));
    p->data_total = json_integer_value(json_object_get(progress, "data_total"));
    p->data_processed = json_integer_value(json_object_get(progress, "data_processed"));
    p->data_remaining = json_integer_value(json_object_get(progress, "data_remaining"));
    p->memory_bps = json_integer_value(json_object_get(progress, "memory_bps"));
    p->dirty_rate_pps = json_integer_value(json_object_get(progress, "dirty_rate_pps"));
    p->iteration = json_integer_value(json_object_get(progress, "iteration"));
    p->max_downtime_ms = json_integer_value(json_object_get(progress, "max_downtime_ms"));
    p->postcopy = json_is_true(json_object_get(progress, "postcopy"));
}

static void
job_figures_from_json(Job *job, json_t *figures)
{
    JobFigures *f = &job->figures;

    if (!json_is_object(figures))
        return;
    job->have_figures = TRUE;
    f->downtime_ms = json_integer_value(json_object_get(figures, "downtime_ms"));
    f->setup_time_ms = json_integer_value(json_object_get(figures, "setup_time_ms"));
    f->total_time_ms = json_integer_value(json_object_get(figures, "total_time_ms"));
    f->data_transferred = json_integer_value(json_object_get(figures, "data_transferred"));
}

/* The policy of a migration that was under way: as saved, or, from a record
 * written before migd saved it, from the start of the ladder. Its clock is
 * set by job_resume_clock(). */
static gboolean
job_policy_state_from_json(Job *job, json_t *saved, GError **error)
{
    PolicyConfig effective = job_effective_policy(job);
    g_autoptr(GError) local = NULL;

    if (json_is_object(saved)) {
        job->policy_state = policy_state_from_json(&effective, job->migration_start_mono_ms,
                                                   job->guest_memory, job->postcopy_forbidden,
                                                   saved, &local);
        if (!job->policy_state) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "the job record is malformed: %s", local->message);
            return FALSE;
        }
    } else if (job->state >= JOB_MIGRATING && !job_state_is_final(job->state)) {
        job->policy_state = policy_state_new(&effective, job->migration_start_mono_ms,
                                             job->guest_memory, job->postcopy_forbidden);
    }
    return TRUE;
}

static gboolean
job_internal_from_json(Job *job, json_t *internal, GError **error)
{
    job->guest_memory = json_integer_value(json_object_get(internal, "guest_memory"));
    job->postcopy_forbidden = json_is_true(json_object_get(internal, "postcopy_forbidden"));
    job->cancel_requested = json_is_true(json_object_get(internal, "cancel_requested"));
    job->migrate_returned = json_is_true(json_object_get(internal, "migrate_returned"));
    job->verified = json_is_true(json_object_get(internal, "verified"));
    job->abort_sent = json_is_true(json_object_get(internal, "abort_sent"));
    job->abort_reason = g_strdup(json_string_value(json_object_get(internal, "abort_reason")));
    job->switchover_sent = json_is_true(json_object_get(internal, "switchover_sent"));
    job->switchover_error =
        g_strdup(json_string_value(json_object_get(internal, "switchover_error")));
    job->migration_started_at_us =
        json_time_parse(json_object_get(internal, "migration_started_at"));
    job->dest_resumed_at_us = json_time_parse(json_object_get(internal, "dest_resumed_at"));
    job->migrate_returned_at_us =
        json_time_parse(json_object_get(internal, "migrate_returned_at"));
    job_figures_from_json(job, json_object_get(internal, "figures"));
    return job_policy_state_from_json(job, json_object_get(internal, "policy_state"), error);
}

Job *
job_from_json(json_t *record, GError **error)
{
    g_autoptr(Job) job = g_new0(Job, 1);
    const char *id, *domain, *uri, *strategy, *state;
    json_t *dest_name = NULL, *migd_url = NULL, *options = NULL, *policy = NULL;
    json_t *outcome, *internal, *compression = NULL, *timeline;
    int bw = 0, par = 0, postcopy = 0, auto_conv = 0, persistent = 1, undefine = 1, st;
    json_error_t jerr;

    job->timeline = g_ptr_array_new_with_free_func(job_entry_free);
    if (json_unpack_ex(record, &jerr, 0, "{s:s,s:s,s:{s:o,s:s,s:o},s:s,s:o,s:o,s:s}",
                       "id", &id, "domain", &domain, "destination", "name", &dest_name,
                       "libvirt_uri", &uri, "migd_url", &migd_url, "strategy", &strategy,
                       "options", &options, "policy", &policy, "state", &state) < 0 ||
        json_unpack_ex(options, &jerr, 0, "{s:i,s:i,s:o,s:b,s:b,s:b,s:b}",
                       "bandwidth_mibps", &bw, "parallel_connections", &par,
                       "compression", &compression, "postcopy", &postcopy,
                       "auto_converge", &auto_conv, "persistent", &persistent,
                       "undefine_source", &undefine) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the job record is malformed: %s", jerr.text);
        return NULL;
    }
    st = job_state_from_string(state);
    if (st < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the job record has an unknown state '%s'", state);
        return NULL;
    }
    if (!job_policy_from_json(policy, &job->policy, error))
        return NULL;
    job->id = g_strdup(id);
    job->domain = g_strdup(domain);
    job->dest.name = g_strdup(json_string_value(dest_name));
    job->dest.libvirt_uri = g_strdup(uri);
    job->dest.migd_url = g_strdup(json_string_value(migd_url));
    job->strategy = g_strdup(strategy);
    job->requested_by = g_strdup(json_string_value(json_object_get(record, "requested_by")));
    job->options = (JobOptions){ (guint)bw, (guint)par, job_strv_from_json(compression), postcopy,
                                 auto_conv, persistent, undefine };
    job->state = (JobState)st;
    outcome = json_object_get(record, "outcome");
    job->reason = g_strdup(json_string_value(json_object_get(outcome, "reason")));
    job->created_at_us = json_time_parse(json_object_get(record, "created_at"));
    job->started_at_us = json_time_parse(json_object_get(record, "started_at"));
    job->finished_at_us = json_time_parse(json_object_get(record, "finished_at"));
    timeline = json_object_get(record, "timeline");
    job_timeline_from_json(job, timeline);
    if (json_is_object(json_object_get(record, "nics")))
        job->nics = json_incref(json_object_get(record, "nics"));
    if (json_is_object(json_object_get(record, "destination_choice")))
        job->dest.choice = json_deep_copy(json_object_get(record, "destination_choice"));
    job_progress_from_json(job, json_object_get(record, "progress"));
    internal = json_object_get(record, "internal");
    if (!job_internal_from_json(job, internal, error))
        return NULL;
    return g_steal_pointer(&job);
}

void
job_resume_clock(Job *job, gint64 wall_us, gint64 mono_ms)
{
    /* Offsets in the timeline keep counting from the job's creation, and the
     * policy's timeouts from the migration's start: the migration ran on
     * while migd was down. */
    job->created_mono_ms = mono_ms - (wall_us - job->created_at_us) / 1000;
    job->migration_start_mono_ms = job->migration_started_at_us
                                       ? mono_ms - (wall_us - job->migration_started_at_us) / 1000
                                       : job->created_mono_ms;
    if (job->policy_state)
        policy_state_rebase(job->policy_state, job->migration_start_mono_ms);
    job_policy_device_bytes(job);
}
