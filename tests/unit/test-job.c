/* Tests of the job state machine, transition by transition, with a fake
 * clock: each event carries the time the test chooses. */
#include <config.h>

#include <string.h>

#include "job.h"

typedef struct {
    Job *job;
    gint64 now_ms;          /* the fake monotonic clock */
    GArray *actions;        /* of the last event */
} Fixture;

#define WALL0 G_GINT64_CONSTANT(1795000000000000)   /* a fixed wall clock, µs */

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    JobDestination dest = { "B", "qemu+tcp://10.200.0.2/system", NULL, NULL };
    JobOptions options = { .persistent = TRUE, .undefine_source = TRUE };
    PolicyConfig policy;

    policy_config_init_defaults(&policy);
    f->now_ms = 1000;
    f->job = job_new("0b1c2d3e-0000-4000-8000-000000000001", "vm1", &dest, "auto", &options,
                     &policy, "unix socket", WALL0, f->now_ms);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_clear_pointer(&f->actions, g_array_unref);
    job_free(f->job);
}

/* Sends an event @ms after the previous one; returns the actions. */
static GArray *
send_full(Fixture *f, JobEvent *ev, gint64 ms)
{
    f->now_ms += ms;
    ev->wall_us = WALL0 + (f->now_ms - 1000) * 1000;
    ev->mono_ms = f->now_ms;
    g_clear_pointer(&f->actions, g_array_unref);
    f->actions = job_handle(f->job, ev);
    return f->actions;
}

static GArray *
send(Fixture *f, JobEventKind kind)
{
    JobEvent ev = { .kind = kind, .reason = "a reason from libvirt", .guest_memory = 1 << 30 };

    return send_full(f, &ev, 10);
}

/* @actions as "a,b,c". */
static char *
actions_to_string(const GArray *actions)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < actions->len; i++) {
        const JobAction *a = &g_array_index(actions, JobAction, i);

        g_string_append_printf(s, "%s%s", i ? "," : "", job_action_kind_to_string(a->kind));
        if (a->kind == JOB_ACT_SET_DOWNTIME)
            g_string_append_printf(s, "(%u)", a->downtime_ms);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The actions of the last event, as "a,b,c". */
static char *
actions_string(Fixture *f)
{
    return actions_to_string(f->actions);
}

#define assert_step(f, kind, expect_state, expect_actions)                       \
    G_STMT_START {                                                               \
        g_autofree char *got_ = NULL;                                            \
        send((f), (kind));                                                       \
        got_ = actions_string(f);                                                \
        g_assert_cmpstr(job_state_to_string((f)->job->state), ==, (expect_state)); \
        g_assert_cmpstr(got_, ==, (expect_actions));                             \
    } G_STMT_END

static void
to_migrating(Fixture *f)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "preparing", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "unplugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "migrating", "start-migration");
}

static void
send_stats(Fixture *f, guint64 remaining, guint64 iteration, gint64 ms)
{
    PolicySample sample = {
        .data_total = 200 << 20, .data_processed = 100 << 20, .data_remaining = remaining,
        .memory_bps = 100 << 20, .page_size = 4096, .iteration = iteration,
    };
    JobEvent ev = { .kind = JOB_EV_STATS, .sample = &sample };

    sample.now_ms = f->now_ms + ms;
    send_full(f, &ev, ms);
}

static char *
timeline_states(const Job *job)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < job->timeline->len; i++) {
        const JobEntry *e = g_ptr_array_index(job->timeline, i);

        if (strcmp(e->kind, "state") == 0)
            g_string_append_printf(s, "%s%s", s->len ? "," : "", job_state_to_string(e->state));
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean
timeline_has(const Job *job, const char *kind, const char *pattern)
{
    for (guint i = 0; i < job->timeline->len; i++) {
        const JobEntry *e = g_ptr_array_index(job->timeline, i);

        if (strcmp(e->kind, kind) == 0 && g_pattern_match_simple(pattern, e->message))
            return TRUE;
    }
    return FALSE;
}

static void
test_happy_path(Fixture *f, gconstpointer data)
{
    JobFigures figures = { .downtime_ms = 93, .setup_time_ms = 1, .total_time_ms = 566,
                           .data_transferred = 100 << 20 };
    JobEvent returned = { .kind = JOB_EV_MIGRATE_RETURNED, .figures = &figures };
    g_autofree char *states = NULL;
    g_autoptr(json_t) record = NULL;

    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "pending");
    to_migrating(f);
    g_assert_cmpuint(f->job->progress.max_downtime_ms, ==, 300);
    send_stats(f, 50 << 20, 1, 200);
    g_assert_cmpuint(f->actions->len, ==, 0);
    send_stats(f, 20 << 20, 2, 200);
    g_assert_cmpuint(f->actions->len, ==, 0);
    g_assert_cmpuint(f->job->progress.data_remaining, ==, 20 << 20);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    g_assert_cmpint(f->job->dest_resumed_at_us, >, 0);
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    /* Verified, but libvirt's call has not returned: not complete yet. */
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "");
    send_full(f, &returned, 1500);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "completed");
    g_autofree char *last = actions_string(f);
    g_assert_cmpstr(last, ==, "finished");
    g_assert_cmpstr(f->job->reason, ==, "vm1 runs on B");
    states = timeline_states(f->job);
    g_assert_cmpstr(states, ==, "pending,checking,reserving,preparing,unplugging,migrating,"
                                "switchover,replugging,verifying,completed");
    record = job_to_json(f->job);
    g_assert_cmpint(json_integer_value(json_object_get(json_object_get(record, "result"),
                                                       "downtime_ms")), ==, 93);
    /* Offsets come from the events' clock, not from the machine's. */
    g_assert_cmpint(((JobEntry *)g_ptr_array_index(f->job->timeline,
                                                   f->job->timeline->len - 1))->t_ms, ==,
                    f->now_ms - 1000);
}

static void
test_returned_before_verified(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "switchover", "");
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
}

static void
test_returned_without_resume_report(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "switchover", "nic-step");
    g_assert_true(timeline_has(f->job, "warning", "*did not report the resume*"));
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
}

static void
test_checks_failed(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_FAILED, "failed", "finished");
    g_assert_cmpstr(f->job->reason, ==, "a reason from libvirt");
    /* Final: nothing moves it any more. */
    assert_step(f, JOB_EV_SLOT_GRANTED, "failed", "");
    assert_step(f, JOB_EV_CANCEL, "failed", "");
}

static void
test_cancel_pending(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_CANCEL, "cancelled", "finished");
    g_assert_cmpstr(f->job->reason, ==, "cancelled before anything was changed");
}

static void
test_cancel_checking(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CANCEL, "cancelled", "finished");
    /* The checks' late answer changes nothing. */
    assert_step(f, JOB_EV_CHECKS_PASSED, "cancelled", "");
}

static void
test_cancel_reserving_rolls_back(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    assert_step(f, JOB_EV_CANCEL, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "cancelled", "finished");
}

static void
test_cancel_migrating(Fixture *f, gconstpointer data)
{
    g_autofree char *why = NULL;

    to_migrating(f);
    assert_step(f, JOB_EV_CANCEL, "migrating", "abort-migration");
    g_assert_false(job_can_cancel(f->job, &why));
    g_assert_nonnull(strstr(why, "already under way"));
    /* Stats keep coming until libvirt stops, but no policy acts. */
    send_stats(f, 50 << 20, 5, 200);
    g_assert_cmpuint(f->actions->len, ==, 0);
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "cancelled", "finished");
    g_assert_cmpstr(f->job->reason, ==, "cancelled; vm1 keeps running on this host");
}

static void
test_cancel_too_late(Fixture *f, gconstpointer data)
{
    g_autofree char *why = NULL;

    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    g_assert_false(job_can_cancel(f->job, &why));
    g_assert_nonnull(strstr(why, "already runs on the destination"));
    assert_step(f, JOB_EV_CANCEL, "switchover", "");
}

static void
test_cancel_races_resume(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_CANCEL, "migrating", "abort-migration");
    /* The abort came too late: the guest already resumed on B. */
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    g_assert_true(timeline_has(f->job, "warning", "the cancel came too late*"));
}

static void
test_migrate_failed(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    g_assert_cmpstr(f->job->reason, ==, "the migration failed: a reason from libvirt");
}

static void
test_migrate_failed_after_resume(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_MIGRATE_FAILED, "switchover", "");
    g_assert_true(timeline_has(f->job, "warning", "the migrate call failed after vm1 resumed*"));
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
}

static void
test_step_failed(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "preparing", "nic-step");
    assert_step(f, JOB_EV_STEP_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    g_assert_cmpstr(f->job->reason, ==, "a reason from libvirt");
}

/* The last timeline entry: the final state, saying why. */
static void
assert_final_entry(Fixture *f, const char *state, const char *message)
{
    const JobEntry *last = g_ptr_array_index(f->job->timeline, f->job->timeline->len - 1);

    g_assert_cmpstr(last->kind, ==, "state");
    g_assert_cmpstr(job_state_to_string(last->state), ==, state);
    g_assert_cmpstr(last->message, ==, message);
    g_assert_cmpstr(f->job->reason, ==, message);
}

/* Every way a rollback ends: the final entry carries the reason the rollback
 * began with (job_finish is handed job->reason itself), and what the
 * rollback could not undo. */
static void
test_rollback_final_entry(Fixture *f, gconstpointer data)
{
    JobEvent failed = { .kind = JOB_EV_STEP_FAILED, .reason = "the destination has no free VF" };
    JobEvent undo_failed = { .kind = JOB_EV_STEP_FAILED, .reason = "the VF did not come back" };

    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    send_full(f, &failed, 10);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "rolling-back");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    assert_final_entry(f, "failed", "the destination has no free VF");

    job_free(f->job);
    fixture_setup(f, NULL);
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    send_full(f, &failed, 10);
    send_full(f, &undo_failed, 10);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "failed");
    assert_final_entry(f, "failed", "the destination has no free VF; rollback incomplete: the "
                                    "VF did not come back");

    job_free(f->job);
    fixture_setup(f, NULL);
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    assert_step(f, JOB_EV_CANCEL, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "cancelled", "finished");
    assert_final_entry(f, "cancelled", "cancelled");
}

/* The record could not be written: the job ends failed saying what the
 * person on call must check, and asks only to be released. */
static void
test_abandon(Fixture *f, gconstpointer data)
{
    JobEvent ev = { .kind = JOB_EV_STATS, .wall_us = WALL0, .mono_ms = f->now_ms };
    g_autoptr(GArray) actions = NULL;
    g_autoptr(GArray) again = NULL;
    g_autofree char *acts = NULL;

    to_migrating(f);
    actions = job_abandon(f->job, &ev, JOB_MIGRATING, "cannot write jobs/x.json: No space left");
    acts = actions_to_string(actions);
    g_assert_cmpstr(acts, ==, "finished");
    assert_final_entry(f, "failed", "migd could not record the job while it was migrating "
                                    "(cannot write jobs/x.json: No space left), so it stopped "
                                    "following it: libvirt's migration may still be running or "
                                    "done: check on which host the guest runs and that it has "
                                    "its passthrough NICs; make the state directory writable "
                                    "(is its disk full?)");
    /* A job that had just ended is released too, and keeps its reason. */
    again = job_abandon(f->job, &ev, JOB_FAILED, "cannot write jobs/x.json: No space left");
    g_clear_pointer(&acts, g_free);
    acts = actions_to_string(again);
    g_assert_cmpstr(acts, ==, "finished");
    g_assert_true(g_str_has_prefix(f->job->reason, "migd could not record the job while it "
                                                   "was migrating"));
}

static void
test_rollback_failed(Fixture *f, gconstpointer data)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    assert_step(f, JOB_EV_STEP_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_FAILED, "failed", "finished");
    g_assert_true(timeline_has(f->job, "error", "rollback incomplete: *"));
}

static void
test_replug_failed_is_loud(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_STEP_FAILED, "replugging", "nic-step");
    g_assert_true(timeline_has(f->job, "error", "a reason from libvirt"));
}

/* A NIC step's event that reports the job's NICs with @alias in @state. */
static void
send_nics(Fixture *f, JobEventKind kind, const char *alias, const char *state)
{
    g_autoptr(json_t) nics = json_pack("{s:s,s:[{s:s,s:s}]}", "strategy", "unplug", "devices",
                                       "alias", alias, "state", state);
    JobEvent ev = { .kind = kind, .reason = "a reason from the destination", .nics = nics };

    send_full(f, &ev, 10);
}

static void
test_nics_recorded(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) record = NULL;
    g_autoptr(Job) back = NULL;

    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    send_nics(f, JOB_EV_CHECKS_PASSED, "ua-vf0", "attached");
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "reserving");
    record = job_to_json(f->job);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(record, "nics"), "strategy")),
                    ==, "unplug");
    back = job_from_json(record, NULL);
    g_assert_nonnull(back);
    g_assert_true(json_equal(back->nics, f->job->nics));
}

static void
test_completed_without_vf_says_so(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    send_nics(f, JOB_EV_STEP_FAILED, "ua-vf0", "unplugged");
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "verifying");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "completed", "finished");
    g_assert_true(g_pattern_match_simple("vm1 runs on B WITHOUT its passthrough NIC (ua-vf0)*",
                                         f->job->reason));
    g_assert_true(timeline_has(f->job, "error", "*WITHOUT its passthrough NIC*"));
}

static void
test_completed_with_vf(Fixture *f, gconstpointer data)
{
    to_migrating(f);
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    send_nics(f, JOB_EV_STEP_DONE, "ua-vf0", "replugged");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "completed", "finished");
    g_assert_cmpstr(f->job->reason, ==, "vm1 runs on B");
}

static void
test_events_out_of_place(Fixture *f, gconstpointer data)
{
    guint entries = f->job->timeline->len;

    assert_step(f, JOB_EV_DEST_RESUMED, "pending", "");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "pending", "");
    assert_step(f, JOB_EV_STEP_DONE, "pending", "");
    assert_step(f, JOB_EV_FORCE_COMPLETE, "pending", "");
    g_assert_cmpuint(f->job->timeline->len, ==, entries);
}

/* A migration whose data remaining never falls: the policy raises the
 * downtime, and in the end aborts with its reason. */
static void
test_policy_steps_then_abort(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) seen = g_string_new(NULL);

    to_migrating(f);
    for (guint64 it = 1; it <= 40 && f->job->state == JOB_MIGRATING && !f->job->abort_sent; it++) {
        g_autofree char *acts = NULL;

        send_stats(f, 80 << 20, it, 500);
        acts = actions_string(f);
        if (*acts)
            g_string_append_printf(seen, "%s%s", seen->len ? "," : "", acts);
    }
    g_assert_true(g_str_has_prefix(seen->str, "set-downtime(500),set-downtime(1000),"
                                              "set-downtime(2000)"));
    g_assert_true(g_str_has_suffix(seen->str, "abort-migration"));
    g_assert_true(timeline_has(f->job, "policy", "set-downtime: *"));
    g_assert_true(timeline_has(f->job, "policy", "abort: *"));
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    g_assert_true(g_str_has_prefix(f->job->reason, "the convergence policy aborted the migration: "));
}

static void
test_force_complete(Fixture *f, gconstpointer data)
{
    g_autofree char *why = NULL;

    g_assert_false(job_can_force_complete(f->job, &why));
    g_assert_nonnull(strstr(why, "only a running live migration"));
    to_migrating(f);
    send_stats(f, 80 << 20, 1, 200);
    send(f, JOB_EV_FORCE_COMPLETE);
    g_assert_cmpuint(f->actions->len, ==, 1);
    /* Post-copy is not allowed by default: the downtime goes up instead. */
    g_assert_cmpint(g_array_index(f->actions, JobAction, 0).kind, ==, JOB_ACT_SET_DOWNTIME);
    g_assert_true(timeline_has(f->job, "info", "force-complete requested"));
}

/* --- the pause strategy: migd makes the switchover ------------------------------ */

/* To migrating with one NIC that crosses with the pause strategy, and
 * native NICs whose devices add @stop_copy_bytes at stop-and-copy. */
static void
to_migrating_paused_with(Fixture *f, guint64 stop_copy_bytes)
{
    g_autoptr(json_t) nics = json_pack("{s:s,s:[{s:s,s:s,s:s}],s:I}", "strategy", "pause",
                                       "devices", "alias", "ua-vf0", "state", "attached",
                                       "strategy", "pause", "stop_copy_bytes",
                                       (json_int_t)stop_copy_bytes);
    JobEvent ev = { .kind = JOB_EV_CHECKS_PASSED, .guest_memory = 1 << 30, .nics = nics };

    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    send_full(f, &ev, 10);
    g_assert_true(job_pauses(f->job));
    assert_step(f, JOB_EV_STEP_DONE, "preparing", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "unplugging", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "migrating", "start-migration");
}

static void
to_migrating_paused(Fixture *f)
{
    to_migrating_paused_with(f, 0);
}

/* The NIC steps' word on the switchover, with their record: the guest
 * suspended here after DONE, not after FAILED. */
static void
send_switchover(Fixture *f, JobEventKind kind)
{
    g_autoptr(json_t) nics = json_pack("{s:s,s:[{s:s,s:s,s:s}],s:{s:b}}", "strategy", "pause",
                                       "devices", "alias", "ua-vf0", "state", "attached",
                                       "strategy", "pause", "pause", "source_paused",
                                       kind == JOB_EV_SWITCHOVER_DONE);
    JobEvent ev = { .kind = kind, .reason = "plugin lab-tap could not quiesce ua-vf0",
                    .message = "vm1 is paused here", .nics = nics };

    send_full(f, &ev, 10);
}

static gboolean
record_says_paused(const Job *job)
{
    return json_is_true(json_object_get(json_object_get(job->nics, "pause"), "source_paused"));
}

/* QEMU's downtime is 1 ms (it must not switch over first); the switchover
 * comes once what is left fits the budget, and the guest resumes there
 * through the switchover state's NIC step. */
static void
test_pause_happy_path(Fixture *f, gconstpointer data)
{
    g_autofree char *acts = NULL;

    to_migrating_paused(f);
    g_assert_cmpuint(f->job->progress.max_downtime_ms, ==, JOB_PAUSE_QEMU_DOWNTIME_MS);
    /* 80 MiB at 100 MiB/s: 800 ms, over the 300 ms budget. */
    send_stats(f, 80 << 20, 1, 500);
    g_assert_cmpuint(f->actions->len, ==, 0);
    /* 20 MiB: 200 ms, still in the first pass (QEMU would end it on its
     * own once a pass found nothing dirty). */
    send_stats(f, 20 << 20, 1, 500);
    acts = actions_string(f);
    g_assert_cmpstr(acts, ==, "switchover");
    g_assert_true(timeline_has(f->job, "policy", "switchover: 20480 KiB are left, about 200 ms*"
                                                 "budget of 300 ms*"));
    /* No second switchover, no policy action while it is made. */
    send_stats(f, 20 << 20, 4, 500);
    g_assert_cmpuint(f->actions->len, ==, 0);
    g_assert_false(job_can_force_complete(f->job, NULL));
    send_switchover(f, JOB_EV_SWITCHOVER_DONE);
    g_assert_true(record_says_paused(f->job));
    g_assert_true(timeline_has(f->job, "info", "vm1 is paused here"));
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "switchover", "nic-step");
    g_assert_true(timeline_has(f->job, "state", "vm1 arrived paused on B*resuming it there"));
    g_assert_false(timeline_has(f->job, "warning", "*pre_switchover was not called*"));
    /* The resume there: the replug and the verification follow. */
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "");
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    g_assert_cmpint(f->job->dest_resumed_at_us, >, 0);
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
    g_assert_cmpstr(f->job->reason, ==, "vm1 runs on B");
}

/* A native NIC's device adds 15 MiB at stop-and-copy (its plugin's
 * stop_copy_bytes): 20 MiB of memory left is then 350 ms, over the
 * budget; 10 MiB is 250 ms, and the reason counts the device. */
static void
test_pause_counts_device_bytes(Fixture *f, gconstpointer data)
{
    g_autofree char *acts = NULL;

    to_migrating_paused_with(f, 15 << 20);
    send_stats(f, 20 << 20, 1, 500);
    g_assert_cmpuint(f->actions->len, ==, 0);
    send_stats(f, 10 << 20, 1, 500);
    acts = actions_string(f);
    g_assert_cmpstr(acts, ==, "switchover");
    g_assert_true(timeline_has(f->job, "policy", "switchover: 10240 KiB are left (and 15360 KiB "
                                                 "that the native NICs' devices add at "
                                                 "stop-and-copy), about 250 ms*"));
}

/* Where the policy would raise the downtime, the pause comes instead. */
static void
test_pause_instead_of_raising(Fixture *f, gconstpointer data)
{
    g_autofree char *acts = NULL;

    to_migrating_paused(f);
    for (guint64 it = 2; it <= 40; it++) {
        send_stats(f, 80 << 20, it, 500);
        if (f->actions->len)
            break;
    }
    acts = actions_string(f);
    g_assert_cmpstr(acts, ==, "switchover");
    g_assert_true(timeline_has(f->job, "policy", "switchover: the policy would raise the "
                                                 "downtime to 500 ms*"));
}

static void
test_pause_force_complete(Fixture *f, gconstpointer data)
{
    to_migrating_paused(f);
    send_stats(f, 80 << 20, 2, 200);
    assert_step(f, JOB_EV_FORCE_COMPLETE, "migrating", "switchover");
    g_assert_true(timeline_has(f->job, "policy", "switchover: force-complete was asked for*"));
}

/* A failed switchover aborts the migration; the rollback resumes the
 * guest here and ends saying why. */
static void
test_pause_switchover_failed(Fixture *f, gconstpointer data)
{
    to_migrating_paused(f);
    send_stats(f, 1 << 20, 2, 500);
    send_switchover(f, JOB_EV_SWITCHOVER_FAILED);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "migrating");
    {
        g_autofree char *acts = actions_string(f);

        g_assert_cmpstr(acts, ==, "abort-migration");
    }
    g_assert_true(timeline_has(f->job, "error", "the switchover failed: plugin lab-tap*"));
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    g_assert_true(g_str_has_prefix(f->job->reason, "the switchover failed: plugin lab-tap could "
                                                   "not quiesce ua-vf0; vm1 keeps running on "
                                                   "this host"));
}

/* QEMU finished before migd paused the guest: said, and it goes on. */
static void
test_pause_qemu_first(Fixture *f, gconstpointer data)
{
    to_migrating_paused(f);
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "switchover", "nic-step");
    g_assert_true(timeline_has(f->job, "warning", "QEMU completed the migration before migd "
                                                  "paused vm1*"));
}

/* The destination cannot resume it: the job fails saying where the guest
 * waits, paused. */
static void
test_pause_resume_failed(Fixture *f, gconstpointer data)
{
    to_migrating_paused(f);
    send_stats(f, 1 << 20, 2, 500);
    send_switchover(f, JOB_EV_SWITCHOVER_DONE);
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "switchover", "nic-step");
    assert_step(f, JOB_EV_STEP_FAILED, "failed", "finished");
    g_assert_true(g_pattern_match_simple("vm1 is PAUSED on B: a reason from libvirt; resume it "
                                         "there by hand (virsh resume vm1)", f->job->reason));
}

/* A restarted migd knows a switchover was made and the guest paused. */
static void
test_pause_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) record = NULL;
    g_autoptr(Job) back = NULL;

    to_migrating_paused(f);
    send_stats(f, 1 << 20, 2, 500);
    send_switchover(f, JOB_EV_SWITCHOVER_DONE);
    record = job_to_json(f->job);
    back = job_from_json(record, NULL);
    g_assert_nonnull(back);
    g_assert_true(back->switchover_sent);
    g_assert_true(record_says_paused(back));
    g_assert_true(job_pauses(back));
}

static void
test_json_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) first = NULL, second = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(Job) copy = NULL;

    to_migrating(f);
    send_stats(f, 80 << 20, 1, 200);
    first = job_to_json(f->job);
    copy = job_from_json(first, &error);
    g_assert_no_error(error);
    second = job_to_json(copy);
    g_assert_true(json_equal(first, second));
    g_assert_true(json_is_object(json_object_get(json_object_get(second, "internal"),
                                                 "policy_state")));
    /* Who asked is in the record and its first timeline entry. */
    g_assert_cmpstr(json_string_value(json_object_get(second, "requested_by")), ==,
                    "unix socket");
    g_assert_true(timeline_has(copy, "state", "accepted: migrate vm1 to * (asked from unix "
                                              "socket)"));
}

/* A job reloaded from its record while libvirt's migration runs on: its
 * clock is another boot's (the monotonic clock restarted), yet every event
 * must do what it does to the job that never restarted. */
typedef struct {
    Job *job;
    gint64 clock_offset_ms;     /* this job's monotonic clock minus the fixture's */
} Twin;

static char *
twin_send(const Twin *t, Fixture *f, JobEventKind kind, guint64 remaining, guint64 iteration)
{
    PolicySample sample = {
        .now_ms = f->now_ms + t->clock_offset_ms, .data_total = 200 << 20,
        .data_processed = 100 << 20, .data_remaining = remaining, .memory_bps = 100 << 20,
        .page_size = 4096, .iteration = iteration,
    };
    JobEvent ev = {
        .kind = kind, .wall_us = WALL0 + (f->now_ms - 1000) * 1000,
        .mono_ms = f->now_ms + t->clock_offset_ms, .reason = "a reason from libvirt",
        .sample = kind == JOB_EV_STATS ? &sample : NULL,
    };
    g_autoptr(GArray) actions = job_handle(t->job, &ev);

    return actions_to_string(actions);
}

/* Sends the same event to both, 500 ms after the last; asserts they do the
 * same, and returns what they did. */
static char *
twins_send(const Twin *a, const Twin *b, Fixture *f, JobEventKind kind, guint64 remaining,
           guint64 iteration)
{
    g_autofree char *done_a = NULL;
    g_autofree char *done_b = NULL;
    g_autoptr(json_t) record_a = NULL;
    g_autoptr(json_t) record_b = NULL;

    f->now_ms += 500;
    done_a = twin_send(a, f, kind, remaining, iteration);
    done_b = twin_send(b, f, kind, remaining, iteration);
    g_assert_cmpstr(done_b, ==, done_a);
    g_assert_cmpstr(job_state_to_string(b->job->state), ==, job_state_to_string(a->job->state));
    record_a = job_to_json(a->job);
    record_b = job_to_json(b->job);
    g_assert_true(json_equal(json_object_get(record_a, "internal"),
                             json_object_get(record_b, "internal")));
    g_assert_true(json_equal(json_object_get(record_a, "progress"),
                             json_object_get(record_b, "progress")));
    return g_steal_pointer(&done_a);
}

static void
test_restart_while_migrating(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) record = NULL;
    g_autoptr(GString) seen = g_string_new(NULL);
    g_autofree char *text = NULL;
    g_autofree char *forced = NULL;
    g_autofree char *cancelled = NULL;
    Twin original = { f->job, 0 };
    Twin reloaded = { NULL, 123456 };
    guint64 it;

    to_migrating(f);
    /* A stall before the restart: the policy is one rung up and counting. */
    for (it = 1; it <= 5; it++)
        send_stats(f, 80 << 20, it, 500);
    g_assert_true(timeline_has(f->job, "policy", "set-downtime: *"));

    /* What the store writes and reads back. */
    record = job_to_json(f->job);
    text = json_dumps(record, JSON_COMPACT);
    g_clear_pointer(&record, json_decref);
    record = json_loads(text, 0, NULL);
    reloaded.job = job_from_json(record, &error);
    g_assert_no_error(error);
    job_resume_clock(reloaded.job, WALL0 + (f->now_ms - 1000) * 1000,
                     f->now_ms + reloaded.clock_offset_ms);
    g_assert_cmpstr(job_state_to_string(reloaded.job->state), ==, "migrating");

    for (; it <= 20 && !strstr(seen->str, "(2000)"); it++) {
        g_autofree char *acts = twins_send(&original, &reloaded, f, JOB_EV_STATS, 80 << 20, it);

        if (*acts)
            g_string_append_printf(seen, "%s%s", seen->len ? "," : "", acts);
    }
    /* The stall went on counting across the restart: the next rungs came. */
    g_assert_cmpstr(seen->str, ==, "set-downtime(1000),set-downtime(2000)");
    forced = twins_send(&original, &reloaded, f, JOB_EV_FORCE_COMPLETE, 80 << 20, it);
    g_assert_cmpstr(forced, ==, "set-downtime(4000)");
    cancelled = twins_send(&original, &reloaded, f, JOB_EV_CANCEL, 80 << 20, it);
    g_assert_cmpstr(cancelled, ==, "abort-migration");
    job_free(reloaded.job);
}

static void
test_from_json_rejects(void)
{
    static const char *const bad[] = {
        "{}",
        "{\"id\":\"x\",\"domain\":\"vm\",\"destination\":{\"name\":null,\"libvirt_uri\":\"u\","
        "\"migd_url\":null},\"strategy\":\"auto\",\"options\":{},\"policy\":{},\"state\":\"x\"}",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(json_t) record = json_loads(bad[i], 0, NULL);
        g_autoptr(Job) job = job_from_json(record, &error);

        g_assert_null(job);
        g_assert_nonnull(error);
    }
}

/* --- after a restart (job_on_reconciled) ------------------------------------
 * The job is taken through its record as a restarted migd would read it,
 * then told where libvirt and the destination say the guest is. */

/* The NICs as the source's NIC steps record them: ua-vf0 unplugged for the
 * migration, in @state. */
static void
record_vf(Fixture *f, const char *state)
{
    g_autoptr(json_t) nics = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "strategy", "unplug", "devices",
                                       "alias", "ua-vf0", "strategy", "unplug", "state", state);
    JobEvent ev = { .kind = JOB_EV_NOTE, .reason = "info", .message = "NICs", .nics = nics };

    send_full(f, &ev, 10);
}

/* What a restarted migd has: the job rebuilt from its record. */
static void
restart(Fixture *f)
{
    g_autoptr(json_t) record = job_to_json(f->job);
    g_autoptr(GError) error = NULL;
    Job *back = job_from_json(record, &error);

    g_assert_no_error(error);
    job_free(f->job);
    f->job = back;
    f->now_ms += 5000;
    job_resume_clock(f->job, WALL0 + (f->now_ms - 1000) * 1000, f->now_ms);
}

static void
reconciled_full(Fixture *f, JobPlacement placement, gboolean active, const char *reason,
                const char *expect_state, const char *expect_actions)
{
    JobEvent ev = { .kind = JOB_EV_RECONCILED, .placement = placement,
                    .source_job_active = active, .reason = reason };
    g_autofree char *got = NULL;

    send_full(f, &ev, 10);
    got = actions_string(f);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, expect_state);
    g_assert_cmpstr(got, ==, expect_actions);
}

#define reconciled(f, placement, active, state, actions) \
    reconciled_full((f), (placement), (active), NULL, (state), (actions))

#define assert_reason(f, pattern) \
    g_assert_true(g_pattern_match_simple((pattern), (f)->job->reason ? (f)->job->reason : "(null)"))

/* Up to @state through the usual steps, with ua-vf0 unplugged from
 * unplugging on. */
static void
to_state(Fixture *f, JobState state)
{
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    if (state == JOB_CHECKING)
        return;
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    record_vf(f, "attached");
    for (JobState s = JOB_PREPARING; s <= state && s <= JOB_MIGRATING; s++)
        send(f, JOB_EV_STEP_DONE);
    if (state >= JOB_MIGRATING)
        record_vf(f, "unplugged");
    if (state >= JOB_SWITCHOVER)
        send(f, JOB_EV_DEST_RESUMED);
    if (state >= JOB_REPLUGGING)
        send(f, JOB_EV_STEP_DONE);
    if (state >= JOB_VERIFYING)
        send(f, JOB_EV_STEP_DONE);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, job_state_to_string(state));
}

static void
test_restart_pending(Fixture *f, gconstpointer data)
{
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "pending", "");
    g_assert_true(timeline_has(f->job, "info", "queued again"));
}

static void
test_restart_checking(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_CHECKING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "failed", "finished");
    assert_reason(f, "migd restarted during the checks; vm1 was not touched*");
}

/* Reserved on the destination, nothing unplugged: the rollback releases
 * the reservation and the guest runs here as it did. */
static void
test_restart_reserving(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_PREPARING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    assert_reason(f, "migd restarted while the job was preparing; the migration did not happen "
                     "and vm1 runs on this host as before");
}

/* The guest here without its VF, no libvirt job: the rollback plugs it
 * back, and the job says so. */
static void
test_restart_unplugged_here(Fixture *f, gconstpointer data)
{
    static const JobState states[] = { JOB_UNPLUGGING, JOB_MIGRATING };

    for (gsize i = 0; i < G_N_ELEMENTS(states); i++) {
        fixture_teardown(f, NULL);
        fixture_setup(f, NULL);
        to_state(f, states[i]);
        restart(f);
        reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "rolling-back", "nic-step");
        record_vf(f, "restored");
        assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
        assert_reason(f, "migd restarted while the job was *; the migration did not happen and "
                         "vm1 runs on this host; its passthrough NIC is plugged back in");
        g_assert_true(timeline_has(f->job, "warning", "migd restarted while the job was *"));
    }
}

/* A cancel that was under way ends cancelled, after the same rollback. */
static void
test_restart_cancelled_here(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    assert_step(f, JOB_EV_CANCEL, "migrating", "abort-migration");
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "cancelled", "finished");
}

static void
test_restart_mid_rollback(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "rolling-back", "nic-step");
    record_vf(f, "restored");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    assert_reason(f, "*was rolling-back*; its passthrough NIC is plugged back in");
}

/* The restore after a restart fails: the reason says so, and does not
 * claim the NIC came back (it once ended "plugged back in" regardless). */
static void
test_restart_restore_failed(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, FALSE, "rolling-back", "nic-step");
    record_vf(f, "lost");
    {
        JobEvent ev = { .kind = JOB_EV_STEP_FAILED,
                        .reason = "ua-vf0 could not be given back to vm1, which runs on this "
                                  "host WITHOUT its passthrough NIC" };

        send_full(f, &ev, 10);
    }
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "failed");
    assert_reason(f, "migd restarted while the job was migrating; the migration did not happen "
                     "and vm1 runs on this host; rollback incomplete: ua-vf0 could not be given "
                     "back to vm1, which runs on this host WITHOUT its passthrough NIC");
}

/* libvirt still migrates: the job follows it as if it had started it. Its
 * end comes as the migrate call's would: here the guest resumed there. */
static void
test_restart_still_migrating(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, TRUE, "migrating", "watch-libvirt-job");
    g_assert_true(timeline_has(f->job, "info", "libvirt's migration job is still running*"));
    assert_step(f, JOB_EV_DEST_RESUMED, "switchover", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "replugging", "nic-step");
    record_vf(f, "replugged");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "completed", "finished");
    assert_reason(f, "vm1 runs on B");
}

/* ... and here it ended with the guest still here: rolled back. */
static void
test_restart_followed_job_failed(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, TRUE, "migrating", "watch-libvirt-job");
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "failed", "finished");
    assert_reason(f, "the migration failed: a reason from libvirt");
}

/* A cancel the previous migd had accepted is carried out again. */
static void
test_restart_cancel_followed(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    assert_step(f, JOB_EV_CANCEL, "migrating", "abort-migration");
    restart(f);
    reconciled(f, JOB_GUEST_ON_SOURCE, TRUE, "migrating", "watch-libvirt-job,abort-migration");
    assert_step(f, JOB_EV_MIGRATE_FAILED, "rolling-back", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "cancelled", "finished");
}

/* The guest resumed there before the restart, libvirt's job not over yet
 * (post-copy, or the call still returning): ask the destination about the
 * replug, and wait for libvirt's job too. */
static void
test_restart_resumed_job_running(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_REPLUGGING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_DESTINATION, TRUE, "replugging", "watch-libvirt-job,nic-step");
    record_vf(f, "replugged");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "verifying", "");
    assert_step(f, JOB_EV_MIGRATE_RETURNED, "completed", "finished");
}

/* The guest runs on the destination: replugging (the destination says
 * whether it replugged), verifying, and the truth about the VF. */
static void
test_restart_on_destination(Fixture *f, gconstpointer data)
{
    static const JobState states[] = { JOB_MIGRATING, JOB_SWITCHOVER, JOB_REPLUGGING };

    for (gsize i = 0; i < G_N_ELEMENTS(states); i++) {
        fixture_teardown(f, NULL);
        fixture_setup(f, NULL);
        to_state(f, states[i]);
        restart(f);
        reconciled(f, JOB_GUEST_ON_DESTINATION, FALSE, "replugging", "nic-step");
        record_vf(f, "replugged");
        assert_step(f, JOB_EV_STEP_DONE, "verifying", "nic-step");
        assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
        assert_reason(f, "vm1 runs on B");
    }
}

static void
test_restart_on_destination_without_vf(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_DESTINATION, FALSE, "replugging", "nic-step");
    send(f, JOB_EV_STEP_FAILED);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "verifying");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
    assert_reason(f, "vm1 runs on B WITHOUT its passthrough NIC (ua-vf0)*");
}

static void
test_restart_verifying(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_VERIFYING);
    record_vf(f, "replugged");
    restart(f);
    reconciled(f, JOB_GUEST_ON_DESTINATION, FALSE, "verifying", "nic-step");
    assert_step(f, JOB_EV_STEP_DONE, "completed", "finished");
    assert_reason(f, "vm1 runs on B");
}

/* On the destination although this job never migrated it. */
static void
test_restart_moved_by_another(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_PREPARING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_DESTINATION, FALSE, "failed", "finished");
    assert_reason(f, "vm1 runs on B, but this job had not started its migration*");
}

static void
test_restart_both_or_nowhere(Fixture *f, gconstpointer data)
{
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_ON_BOTH, FALSE, "failed", "finished");
    assert_reason(f, "vm1 runs on this host AND on B*");
    g_assert_true(timeline_has(f->job, "error", "vm1 runs on this host AND on B*"));

    fixture_teardown(f, NULL);
    fixture_setup(f, NULL);
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled(f, JOB_GUEST_NOWHERE, FALSE, "failed", "finished");
    assert_reason(f, "vm1 runs on neither this host nor B");

    fixture_teardown(f, NULL);
    fixture_setup(f, NULL);
    to_state(f, JOB_MIGRATING);
    restart(f);
    reconciled_full(f, JOB_GUEST_NOWHERE, FALSE, "the destination B cannot be asked: timeout",
                    "failed", "finished");
    assert_reason(f, "vm1 does not run on this host, and the destination B cannot be asked: "
                     "timeout; find it before starting it again");
}

/* The end of a followed job that was not a restart says what it was. */
static void
test_followed_job_ended_nowhere(Fixture *f, gconstpointer data)
{
    JobEvent ev = { .kind = JOB_EV_RECONCILED, .placement = JOB_GUEST_NOWHERE,
                    .message = "libvirt's migration job that migd followed has ended" };

    to_state(f, JOB_MIGRATING);
    send_full(f, &ev, 10);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "failed");
    g_assert_true(timeline_has(f->job, "warning", "libvirt's migration job that migd followed*"));
    g_assert_false(timeline_has(f->job, "warning", "migd restarted*"));
}

/* "auto" chose B, then C: B's refusal of the reservation moves the job to
 * C, back to the checks; the choice is kept across a restart. C refusing
 * too, with no candidate left, rolls back as any failed reservation. */
static void
test_reservation_refused_moves_on(Fixture *f, gconstpointer data)
{
    JobEvent ev = { .kind = JOB_EV_RESERVATION_REFUSED, .reason = "no free VF in pool 'lab'" };
    g_autoptr(json_t) record = NULL;
    g_autoptr(Job) back = NULL;
    g_autofree char *actions = NULL;
    json_t *refused;

    f->job->dest.choice = json_pack("{s:s,s:s,s:[],s:[{s:s,s:s,s:s,s:s}]}", "chosen", "B", "why",
                                    "best", "refused", "remaining", "name", "C", "libvirt_uri",
                                    "qemu+tcp://10.200.0.3/system", "migd_url",
                                    "http://10.200.0.3:7480", "why", "second");
    assert_step(f, JOB_EV_SLOT_GRANTED, "checking", "run-checks");
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    send_full(f, &ev, 10);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "checking");
    actions = actions_string(f);
    g_assert_cmpstr(actions, ==, "run-checks");
    g_assert_cmpstr(f->job->dest.name, ==, "C");
    g_assert_cmpstr(f->job->dest.libvirt_uri, ==, "qemu+tcp://10.200.0.3/system");
    refused = json_array_get(json_object_get(f->job->dest.choice, "refused"), 0);
    g_assert_cmpstr(json_string_value(json_object_get(refused, "peer")), ==, "B");
    g_assert_cmpstr(json_string_value(json_object_get(refused, "why")), ==,
                    "refused the reservation: no free VF in pool 'lab'");
    g_assert_cmpstr(json_string_value(json_object_get(f->job->dest.choice, "why")), ==,
                    "second; taken after B refused");
    record = job_to_json(f->job);
    back = job_from_json(record, NULL);
    g_assert_nonnull(back);
    g_assert_true(json_equal(back->dest.choice, f->job->dest.choice));
    assert_step(f, JOB_EV_CHECKS_PASSED, "reserving", "nic-step");
    send_full(f, &ev, 10);
    g_assert_cmpstr(job_state_to_string(f->job->state), ==, "rolling-back");
    g_assert_cmpstr(f->job->dest.name, ==, "C");
}

static void
add_restart_tests(void)
{
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/job/restart/pending", test_restart_pending);
    ADD("/job/restart/checking", test_restart_checking);
    ADD("/job/restart/reserving", test_restart_reserving);
    ADD("/job/restart/unplugged-here", test_restart_unplugged_here);
    ADD("/job/restart/cancelled-here", test_restart_cancelled_here);
    ADD("/job/restart/mid-rollback", test_restart_mid_rollback);
    ADD("/job/restart/restore-failed", test_restart_restore_failed);
    ADD("/job/restart/still-migrating", test_restart_still_migrating);
    ADD("/job/restart/followed-job-failed", test_restart_followed_job_failed);
    ADD("/job/restart/cancel-followed", test_restart_cancel_followed);
    ADD("/job/restart/resumed-job-running", test_restart_resumed_job_running);
    ADD("/job/restart/on-destination", test_restart_on_destination);
    ADD("/job/restart/on-destination-without-vf", test_restart_on_destination_without_vf);
    ADD("/job/restart/verifying", test_restart_verifying);
    ADD("/job/restart/moved-by-another", test_restart_moved_by_another);
    ADD("/job/restart/both-or-nowhere", test_restart_both_or_nowhere);
    ADD("/job/restart/followed-job-ended-nowhere", test_followed_job_ended_nowhere);
#undef ADD
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/job/happy-path", test_happy_path);
    ADD("/job/reservation-refused-moves-on", test_reservation_refused_moves_on);
    ADD("/job/returned-before-verified", test_returned_before_verified);
    ADD("/job/returned-without-resume-report", test_returned_without_resume_report);
    ADD("/job/checks-failed", test_checks_failed);
    ADD("/job/cancel/pending", test_cancel_pending);
    ADD("/job/cancel/checking", test_cancel_checking);
    ADD("/job/cancel/reserving-rolls-back", test_cancel_reserving_rolls_back);
    ADD("/job/cancel/migrating", test_cancel_migrating);
    ADD("/job/cancel/too-late", test_cancel_too_late);
    ADD("/job/cancel/races-resume", test_cancel_races_resume);
    ADD("/job/migrate-failed", test_migrate_failed);
    ADD("/job/migrate-failed-after-resume", test_migrate_failed_after_resume);
    ADD("/job/step-failed", test_step_failed);
    ADD("/job/rollback-failed", test_rollback_failed);
    ADD("/job/rollback/final-entry", test_rollback_final_entry);
    ADD("/job/abandon", test_abandon);
    ADD("/job/replug-failed-is-loud", test_replug_failed_is_loud);
    ADD("/job/events-out-of-place", test_events_out_of_place);
    ADD("/job/policy/steps-then-abort", test_policy_steps_then_abort);
    ADD("/job/force-complete", test_force_complete);
    ADD("/job/json/round-trip", test_json_round_trip);
    ADD("/job/json/restart-while-migrating", test_restart_while_migrating);
    ADD("/job/nics/recorded", test_nics_recorded);
    ADD("/job/nics/completed-with-vf", test_completed_with_vf);
    ADD("/job/nics/completed-without-vf-says-so", test_completed_without_vf_says_so);
    ADD("/job/pause/happy-path", test_pause_happy_path);
    ADD("/job/pause/counts-device-bytes", test_pause_counts_device_bytes);
    ADD("/job/pause/instead-of-raising", test_pause_instead_of_raising);
    ADD("/job/pause/force-complete", test_pause_force_complete);
    ADD("/job/pause/switchover-failed", test_pause_switchover_failed);
    ADD("/job/pause/qemu-first", test_pause_qemu_first);
    ADD("/job/pause/resume-failed", test_pause_resume_failed);
    ADD("/job/pause/round-trip", test_pause_round_trip);
#undef ADD
    g_test_add_func("/job/json/rejects", test_from_json_rejects);
    add_restart_tests();
    return g_test_run();
}
