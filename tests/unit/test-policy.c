/* Tests of the convergence policy: scripted samples in, the list of actions
 * out. Times are made up; there is no clock and no libvirt. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "jsonutil.h"
#include "policy.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)
#define GIB (1024 * MIB)

/* A sample of a 4 GiB guest dirtying 180 MiB/s over a 120 MiB/s link. */
static PolicySample
sample_at(gint64 now_ms, guint64 remaining, guint64 iteration)
{
    return (PolicySample){
        .now_ms = now_ms,
        .data_total = 4 * GIB,
        .data_processed = 4 * GIB - MIN(remaining, 4 * GIB),
        .data_remaining = remaining,
        .memory_bps = 120 * MIB,
        .dirty_rate_pps = 180 * MIB / 4096,
        .page_size = 4096,
        .iteration = iteration,
    };
}

/* One migration under the policy. Every sample and force-complete is an
 * event; each action is written down as "EVENT:KIND[=MS]" with its reason. */
typedef struct {
    PolicyConfig cfg;           /* the defaults; a test changes them, then starts */
    PolicyState *state;
    guint events;
    guint polls;                /* samples fed by scenario_feed_stalled() */
    GString *summary;
    GPtrArray *reasons;
} Scenario;

static void
scenario_setup(Scenario *s, gconstpointer data)
{
    policy_config_init_defaults(&s->cfg);
    s->summary = g_string_new(NULL);
    s->reasons = g_ptr_array_new_with_free_func(g_free);
}

static void
scenario_teardown(Scenario *s, gconstpointer data)
{
    policy_state_free(s->state);
    g_string_free(s->summary, TRUE);
    g_ptr_array_unref(s->reasons);
}

static void
scenario_start(Scenario *s, guint64 guest_memory, gboolean postcopy_forbidden)
{
    g_assert_true(policy_config_validate(&s->cfg, NULL));
    s->state = policy_state_new(&s->cfg, 0, guest_memory, postcopy_forbidden);
}

static void
scenario_record(Scenario *s, const PolicyAction *action)
{
    guint event = s->events++;

    if (action->kind == POLICY_NONE && !action->reason)
        return;
    /* Only POLICY_NONE may come without a reason. */
    g_assert_nonnull(action->reason);
    if (s->summary->len > 0)
        g_string_append_c(s->summary, ' ');
    g_string_append_printf(s->summary, "%u:%s", event, policy_action_kind_to_string(action->kind));
    if (action->kind == POLICY_SET_DOWNTIME)
        g_string_append_printf(s->summary, "=%u", action->downtime_ms);
    else
        g_assert_cmpuint(action->downtime_ms, ==, 0);
    g_ptr_array_add(s->reasons, g_strdup(action->reason));
}

static void
scenario_feed(Scenario *s, const PolicySample *samples, guint n)
{
    for (guint i = 0; i < n; i++) {
        g_auto(PolicyAction) action = { 0 };

        policy_evaluate(s->state, &samples[i], &action);
        scenario_record(s, &action);
    }
}

/* Polls a second apart, one pass each, data remaining stuck at 512 MiB. */
static void
scenario_feed_stalled(Scenario *s, guint n)
{
    for (guint i = 0; i < n; i++, s->polls++) {
        PolicySample sample = sample_at(s->polls * 1000, 512 * MIB, s->polls + 1);

        scenario_feed(s, &sample, 1);
    }
}

/* Polls 10 s apart, each 50 MiB lower than the last, so that only the
 * completion timeout can act; the last one at @last_ms. */
static void
scenario_feed_progressing(Scenario *s, gint64 last_ms)
{
    guint n = last_ms / 10000 + 1;
    g_autofree PolicySample *samples = g_new(PolicySample, n);

    for (guint k = 0; k < n; k++)
        samples[k] = sample_at(k * 10000, (2048 - 50 * k) * MIB, k + 1);
    samples[n - 1].now_ms = last_ms;
    scenario_feed(s, samples, n);
}

/* Data remaining flat in one endless pass, so that only the progress
 * timeout can act; without @started, libvirt's zeros of before the start. */
static void
scenario_feed_flat_until(Scenario *s, gint64 last_ms, gboolean started)
{
    PolicySample samples[] = {
        sample_at(0, 512 * MIB, 1),
        sample_at(60000, 520 * MIB, 1),
        sample_at(120000, 515 * MIB, 1),
        sample_at(last_ms, 518 * MIB, 1),
    };

    for (guint i = 0; !started && i < G_N_ELEMENTS(samples); i++)
        samples[i] = (PolicySample){ .now_ms = samples[i].now_ms };
    scenario_feed(s, samples, G_N_ELEMENTS(samples));
}

static void
scenario_force_complete(Scenario *s)
{
    g_auto(PolicyAction) action = { 0 };
    PolicyActionKind kind = policy_force_complete(s->state, &action);

    g_assert_cmpint(kind, ==, action.kind);
    g_assert_nonnull(action.reason);
    scenario_record(s, &action);
}

/* The reason of the @i-th action written down. */
static const char *
scenario_reason(Scenario *s, guint i)
{
    g_assert_cmpuint(i, <, s->reasons->len);
    return g_ptr_array_index(s->reasons, i);
}

/* Sample @k of a migration polled every second; a profile sets what
 * remains and the iteration libvirt reports. */
typedef void (*Profile)(guint k, PolicySample *sample);

static void
profile_flat(guint k, PolicySample *sample)
{
    sample->data_remaining = 512 * MIB;
    sample->iteration = k + 1;
}

/* Up and down around the low, but never more than 1% below it. */
static void
profile_jitter(guint k, PolicySample *sample)
{
    sample->data_remaining = k % 2 ? 507 * MIB : 512 * MIB + (k > 0 ? 20 * MIB : 0);
    sample->iteration = k + 1;
}

/* Progress once, at sample 4. */
static void
profile_progress_at_4(guint k, PolicySample *sample)
{
    sample->data_remaining = k < 4 ? 512 * MIB : 400 * MIB;
    sample->iteration = k + 1;
}

/* 2% less each pass: slow but steady progress. */
static void
profile_shrinking(guint k, PolicySample *sample)
{
    double remaining = 512.0 * MIB;

    for (guint i = 0; i < k; i++)
        remaining *= 0.98;
    sample->data_remaining = (guint64)remaining;
    sample->iteration = k + 1;
}

/* What QEMU really shows: each pass starts with the pages dirtied during
 * the last one (60% of it here) and drains them; two polls a pass. */
static void
profile_sawtooth(guint k, PolicySample *sample)
{
    double pass = 1024.0 * MIB;

    for (guint i = 0; i < k / 2; i++)
        pass *= 0.6;
    sample->data_remaining = (guint64)(k % 2 ? pass / 2 : pass);
    sample->iteration = k / 2 + 1;
}

/* libvirt polled rarely: three passes between polls. */
static void
profile_iteration_jump(guint k, PolicySample *sample)
{
    sample->data_remaining = 512 * MIB;
    sample->iteration = 1 + 3 * k;
}

/* One long pass that never ends: no stall, only the progress timeout. */
static void
profile_one_pass(guint k, PolicySample *sample)
{
    sample->data_remaining = 512 * MIB;
    sample->iteration = 1;
}

/* Iterations reported from sample 6 on. */
static void
profile_iterations_late(guint k, PolicySample *sample)
{
    sample->data_remaining = 512 * MIB;
    sample->iteration = k < 6 ? 0 : k - 5;
}

/* libvirt's zeros before QEMU sends anything. */
static void
profile_not_started(guint k, PolicySample *sample)
{
    sample->data_total = sample->data_processed = sample->data_remaining = 0;
    sample->iteration = 0;
}

typedef struct {
    const char *name;
    Profile profile;
    guint n_samples;
    gboolean no_auto_converge;
    gboolean allow_postcopy;
    gboolean postcopy_forbidden;
    gboolean no_steps;
    guint stall_iterations;         /* 0: the default */
    gboolean iterations_unknown;    /* libvirt reports iteration 0 throughout */
    const char *expected;
} LadderCase;

static const LadderCase ladder_cases[] = {
    { "defaults", profile_flat, 20, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:auto-converge 15:abort" },
    { "no-auto-converge", profile_flat, 20, .no_auto_converge = TRUE, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:abort" },
    { "postcopy-last", profile_flat, 20, .allow_postcopy = TRUE, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:auto-converge 15:postcopy" },
    { "postcopy-forbidden-by-device", profile_flat, 20, .allow_postcopy = TRUE,
      .postcopy_forbidden = TRUE, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:auto-converge 15:abort" },
    { "postcopy-without-auto-converge", profile_flat, 20, .no_auto_converge = TRUE,
      .allow_postcopy = TRUE, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:postcopy" },
    { "no-steps", profile_flat, 20, .no_steps = TRUE, .expected =
      "3:auto-converge 6:abort" },
    { "nothing-allowed", profile_flat, 20, .no_steps = TRUE, .no_auto_converge = TRUE,
      .expected = "3:abort" },
    { "stall-of-one-iteration", profile_flat, 20, .stall_iterations = 1, .expected =
      "1:set-downtime=500 2:set-downtime=1000 3:set-downtime=2000 4:auto-converge 5:abort" },
    { "iterations-unknown", profile_flat, 50, .iterations_unknown = TRUE, .expected =
      "9:set-downtime=500 18:set-downtime=1000 27:set-downtime=2000 36:auto-converge 45:abort" },
    { "iterations-reported-late", profile_iterations_late, 12, .expected =
      "9:set-downtime=500" },
    { "iteration-jump", profile_iteration_jump, 20, .expected =
      "1:set-downtime=500 2:set-downtime=1000 3:set-downtime=2000 4:auto-converge 5:abort" },
    { "jitter-is-not-progress", profile_jitter, 20, .expected =
      "3:set-downtime=500 6:set-downtime=1000 9:set-downtime=2000 12:auto-converge 15:abort" },
    { "progress-restarts-stall", profile_progress_at_4, 20, .expected =
      "3:set-downtime=500 7:set-downtime=1000 10:set-downtime=2000 13:auto-converge 16:abort" },
    { "converging-steadily", profile_shrinking, 40, .expected = "" },
    { "converging-sawtooth", profile_sawtooth, 20, .expected = "" },
    { "one-long-pass", profile_one_pass, 20, .expected = "" },
    { "not-started", profile_not_started, 20, .expected = "" },
};

static void
test_policy_ladder(Scenario *s, gconstpointer data)
{
    const LadderCase *lc = data;
    g_autofree PolicySample *samples = g_new(PolicySample, lc->n_samples);

    s->cfg.allow_auto_converge = !lc->no_auto_converge;
    s->cfg.allow_postcopy = lc->allow_postcopy;
    if (lc->no_steps)
        s->cfg.n_downtime_steps = 0;
    if (lc->stall_iterations)
        s->cfg.stall_iterations = lc->stall_iterations;
    scenario_start(s, 4 * GIB, lc->postcopy_forbidden);
    for (guint k = 0; k < lc->n_samples; k++) {
        samples[k] = sample_at(k * 1000, 0, 0);
        lc->profile(k, &samples[k]);
        if (lc->iterations_unknown)
            samples[k].iteration = 0;
    }
    scenario_feed(s, samples, lc->n_samples);
    g_assert_cmpstr(s->summary->str, ==, lc->expected);
}

/* The timeline shows these sentences: every figure behind each rung. */
static void
test_policy_ladder_reasons(Scenario *s, gconstpointer data)
{
    static const char *const expected[] = {
        "data remaining has not gone below 512.0 MiB for 3 iterations (now 512.0 MiB "
        "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); sending what remains "
        "takes about 4267 ms: raising the max downtime from 300 ms to 500 ms",
        "data remaining has not gone below 512.0 MiB for 6 iterations (now 512.0 MiB "
        "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); sending what remains "
        "takes about 4267 ms: raising the max downtime from 500 ms to 1000 ms",
        "data remaining has not gone below 512.0 MiB for 9 iterations (now 512.0 MiB "
        "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); sending what remains "
        "takes about 4267 ms: raising the max downtime from 1000 ms to 2000 ms",
        "data remaining has not gone below 512.0 MiB for 12 iterations (now 512.0 MiB "
        "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); the max downtime cannot "
        "be raised past 2000 ms: turning on auto-converge to throttle the guest's vCPUs",
        "data remaining has not gone below 512.0 MiB for 15 iterations (now 512.0 MiB "
        "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); every step of the policy "
        "was tried (max downtime 2000 ms, auto-converge on, the policy does not allow "
        "post-copy): aborting the migration",
    };

    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_stalled(s, 16);
    g_assert_cmpuint(s->reasons->len, ==, G_N_ELEMENTS(expected));
    for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
        g_assert_cmpstr(scenario_reason(s, i), ==, expected[i]);
}

/* The native NICs' devices add 128 MiB at stop-and-copy: the rung's
 * reason counts them in what remains (640 MiB at 120 MiB/s). */
static void
test_policy_ladder_reasons_device(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    policy_state_set_device_bytes(s->state, 128 * MIB);
    scenario_feed_stalled(s, 4);
    g_assert_cmpstr(s->summary->str, ==, "3:set-downtime=500");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "data remaining has not gone below 512.0 MiB for 3 iterations (now 512.0 MiB "
                    "remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s); sending what "
                    "remains (with the 128.0 MiB the native NICs' devices add at stop-and-copy) "
                    "takes about 5333 ms: raising the max downtime from 300 ms to 500 ms");
}

/* The downtime stop-and-copy would take: memory left at the rate, plus
 * what the devices add when they are known; nothing without a rate. */
static void
test_policy_downtime_prediction(Scenario *s, gconstpointer data)
{
    PolicySample sample = sample_at(1000, 12 * MIB, 2);

    scenario_start(s, 4 * GIB, FALSE);
    g_assert_cmpuint(policy_state_device_bytes(s->state), ==, 0);
    g_assert_cmpint(policy_predict_downtime_ms(s->state, &sample), ==, 100);
    policy_state_set_device_bytes(s->state, 24 * MIB);
    g_assert_cmpint(policy_predict_downtime_ms(s->state, &sample), ==, 300);
    sample.memory_bps = 0;
    g_assert_cmpint(policy_predict_downtime_ms(s->state, &sample), ==, -1);
}

/* The reasons when libvirt reports neither iterations nor rates. */
static void
test_policy_ladder_reasons_without_figures(Scenario *s, gconstpointer data)
{
    PolicySample samples[10];

    scenario_start(s, 4 * GIB, FALSE);
    for (guint k = 0; k < G_N_ELEMENTS(samples); k++) {
        samples[k] = sample_at(k * 1000, 512 * MIB, 0);
        samples[k].memory_bps = samples[k].dirty_rate_pps = samples[k].page_size = 0;
    }
    scenario_feed(s, samples, G_N_ELEMENTS(samples));
    g_assert_cmpstr(s->summary->str, ==, "9:set-downtime=500");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "data remaining has not gone below 512.0 MiB for 9 polls, libvirt "
                    "reporting no iterations (now 512.0 MiB remaining, dirty rate unknown, "
                    "bandwidth unknown): raising the max downtime from 300 ms to 500 ms");
}

/* 2 GiB at 150 s per GiB: 300 s, and not a millisecond more. */
static void
test_policy_completion_timeout_at_limit(Scenario *s, gconstpointer data)
{
    scenario_start(s, 2 * GIB, FALSE);
    scenario_feed_progressing(s, 300000);
    g_assert_cmpstr(s->summary->str, ==, "");
}

static void
test_policy_completion_timeout_aborts(Scenario *s, gconstpointer data)
{
    scenario_start(s, 2 * GIB, FALSE);
    scenario_feed_progressing(s, 300500);
    g_assert_cmpstr(s->summary->str, ==, "30:abort");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "the migration has run for 300.5 s, past its completion timeout of 300 s "
                    "for 2.0 GiB of guest memory at 150 s per GiB (now 548.0 MiB remaining, "
                    "dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s): aborting the migration, "
                    "as the policy does not allow post-copy");
}

/* A guest under 1 GiB is given the time of 1 GiB. */
static void
test_policy_completion_timeout_small_guest(Scenario *s, gconstpointer data)
{
    s->cfg.progress_timeout_s = 1000;
    scenario_start(s, 512 * MIB, FALSE);
    scenario_feed_progressing(s, 150001);
    g_assert_cmpstr(s->summary->str, ==, "15:abort");
    g_assert_true(g_str_has_prefix(scenario_reason(s, 0),
                                   "the migration has run for 150.0 s, past its completion "
                                   "timeout of 150 s for 512.0 MiB of guest memory (counted "
                                   "as 1 GiB) at 150 s per GiB ("));
}

/* With post-copy allowed, the timeout switches to it, and post-copy is not
 * then told about the timeout a second time. */
static void
test_policy_completion_timeout_postcopy(Scenario *s, gconstpointer data)
{
    s->cfg.allow_postcopy = TRUE;
    scenario_start(s, 1 * GIB, FALSE);
    scenario_feed_progressing(s, 200000);
    g_assert_cmpstr(s->summary->str, ==, "16:postcopy");
    g_assert_true(g_str_has_suffix(scenario_reason(s, 0),
                                   "): switching to post-copy so that the migration finishes"));
}

static void
test_policy_progress_timeout_at_limit(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_flat_until(s, 150000, TRUE);
    g_assert_cmpstr(s->summary->str, ==, "");
}

static void
test_policy_progress_timeout_aborts(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_flat_until(s, 150001, TRUE);
    g_assert_cmpstr(s->summary->str, ==, "3:abort");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "data remaining has not gone below 512.0 MiB for 150.0 s, past the "
                    "progress timeout of 150 s (now 518.0 MiB remaining, dirty rate "
                    "180.0 MiB/s, bandwidth 120.0 MiB/s): aborting the migration, as the "
                    "policy does not allow post-copy");
}

static void
test_policy_progress_timeout_forbidden_postcopy(Scenario *s, gconstpointer data)
{
    s->cfg.allow_postcopy = TRUE;
    scenario_start(s, 4 * GIB, TRUE);
    scenario_feed_flat_until(s, 150001, TRUE);
    g_assert_cmpstr(s->summary->str, ==, "3:abort");
    g_assert_true(g_str_has_suffix(scenario_reason(s, 0),
                                   "aborting the migration, as a passthrough device forbids "
                                   "post-copy"));
}

/* No data at all from libvirt is no progress either. */
static void
test_policy_progress_timeout_no_data(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_flat_until(s, 150001, FALSE);
    g_assert_cmpstr(s->summary->str, ==, "3:abort");
    g_assert_true(g_str_has_prefix(scenario_reason(s, 0),
                                   "libvirt has reported no migration data for 150.0 s, past "
                                   "the progress timeout of 150 s (now 0 bytes remaining, "));
}

/* Once in post-copy, stalls and the progress timeout no longer matter; the
 * completion timeout is reported once and nothing is done about it. */
static void
test_policy_postcopy_only_reports(Scenario *s, gconstpointer data)
{
    PolicySample samples[] = {
        sample_at(0, 512 * MIB, 1),
        sample_at(150001, 512 * MIB, 1),    /* progress timeout: post-copy */
        sample_at(160000, 512 * MIB, 10),   /* a stall, were it pre-copy */
        sample_at(600000, 512 * MIB, 11),   /* at the completion timeout */
        sample_at(600001, 100 * MIB, 12),   /* past it */
        sample_at(700000, 50 * MIB, 13),
    };

    s->cfg.allow_postcopy = TRUE;
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed(s, samples, G_N_ELEMENTS(samples));
    g_assert_cmpstr(s->summary->str, ==, "1:postcopy 4:none");
    g_assert_cmpstr(scenario_reason(s, 1), ==,
                    "the migration has run for 600.0 s, past its completion timeout of 600 s "
                    "for 4.0 GiB of guest memory at 150 s per GiB, but the migration is in "
                    "post-copy: the guest already runs on the destination and aborting would "
                    "lose it, so post-copy is left to finish");
}

/* After an abort the policy asks for nothing, whatever follows. */
static void
test_policy_silent_after_abort(Scenario *s, gconstpointer data)
{
    PolicySample samples[] = {
        sample_at(0, 512 * MIB, 1),
        sample_at(150001, 512 * MIB, 1),
        sample_at(160000, 512 * MIB, 10),
        sample_at(999999, 512 * MIB, 20),
    };

    scenario_start(s, 1 * GIB, FALSE);
    scenario_feed(s, samples, G_N_ELEMENTS(samples));
    g_assert_cmpstr(s->summary->str, ==, "1:abort");
}

static void
test_policy_force_complete_postcopy(Scenario *s, gconstpointer data)
{
    s->cfg.allow_postcopy = TRUE;
    scenario_start(s, 4 * GIB, FALSE);
    scenario_force_complete(s);
    scenario_force_complete(s);
    scenario_feed_stalled(s, 5);
    g_assert_cmpstr(s->summary->str, ==, "0:postcopy 1:none");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "force-complete: switching to post-copy, which resumes the guest on the "
                    "destination at once and fetches the rest of its memory from here");
    g_assert_cmpstr(scenario_reason(s, 1), ==,
                    "post-copy is already running; it finishes as fast as the link allows");
}

/* Without post-copy: the largest step, then doubling; the ladder then goes
 * on from its top, so the next stall turns on auto-converge. */
static void
test_policy_force_complete_downtime(Scenario *s, gconstpointer data)
{
    s->cfg.allow_postcopy = TRUE;
    scenario_start(s, 4 * GIB, TRUE);
    scenario_force_complete(s);
    scenario_force_complete(s);
    scenario_feed_stalled(s, 8);
    g_assert_cmpstr(s->summary->str, ==,
                    "0:set-downtime=2000 1:set-downtime=4000 5:auto-converge 8:abort");
    g_assert_cmpstr(scenario_reason(s, 0), ==,
                    "force-complete: a passthrough device forbids post-copy, so raising the "
                    "max downtime from 300 ms to 2000 ms");
}

/* A force-complete in the middle of the ladder restarts the stall count. */
static void
test_policy_force_complete_mid_ladder(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_stalled(s, 5);
    scenario_force_complete(s);
    scenario_feed_stalled(s, 5);
    g_assert_cmpstr(s->summary->str, ==,
                    "3:set-downtime=500 5:set-downtime=2000 8:auto-converge");
}

/* No steps: twice the current downtime. */
static void
test_policy_force_complete_no_steps(Scenario *s, gconstpointer data)
{
    s->cfg.n_downtime_steps = 0;
    scenario_start(s, 4 * GIB, FALSE);
    scenario_force_complete(s);
    g_assert_cmpstr(s->summary->str, ==, "0:set-downtime=600");
}

/* Doubling stops at QEMU's limit, and then there is nothing to raise. */
static void
test_policy_force_complete_qemu_limit(Scenario *s, gconstpointer data)
{
    s->cfg.max_downtime_ms = 1500000;
    s->cfg.n_downtime_steps = 0;
    scenario_start(s, 4 * GIB, FALSE);
    scenario_force_complete(s);
    scenario_force_complete(s);
    g_assert_cmpstr(s->summary->str, ==, "0:set-downtime=2000000 1:none");
    g_assert_cmpstr(scenario_reason(s, 1), ==,
                    "force-complete cannot raise the max downtime past QEMU's limit of "
                    "2000000 ms, and the policy does not allow post-copy");
}

static void
test_policy_force_complete_after_abort(Scenario *s, gconstpointer data)
{
    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_flat_until(s, 150001, TRUE);
    scenario_force_complete(s);
    g_assert_cmpstr(s->summary->str, ==, "3:abort 4:none");
    g_assert_cmpstr(scenario_reason(s, 1), ==,
                    "the policy has already aborted this migration; there is nothing left "
                    "to complete");
}

typedef struct {
    const char *name;
    gboolean no_auto_converge;
    gboolean allow_postcopy;
    gboolean postcopy_forbidden;
    gboolean no_steps;
    guint64 dirty_mib, bandwidth_mib;     /* per second */
    gboolean expected;
    const char *reason;
} PredictCase;

static const PredictCase predict_cases[] = {
    { "slower-than-link", .dirty_mib = 50, .bandwidth_mib = 100, .expected = TRUE, .reason =
      "the guest dirties 50.0 MiB/s and 100.0 MiB/s can be sent, so each pre-copy pass leaves "
      "less behind and the migration should converge" },
    { "idle", .dirty_mib = 0, .bandwidth_mib = 100, .expected = TRUE, .reason =
      "the guest dirties 0 bytes/s and 100.0 MiB/s can be sent, so each pre-copy pass leaves "
      "less behind and the migration should converge" },
    { "as-fast-as-link", .no_auto_converge = TRUE, .dirty_mib = 100, .bandwidth_mib = 100,
      .expected = TRUE, .reason =
      "the guest dirties 100.0 MiB/s, more than the 100.0 MiB/s that can be sent, but a second "
      "of it is sent in 1000 ms, within the largest allowed downtime of 2000 ms" },
    { "just-within-downtime", .no_auto_converge = TRUE, .dirty_mib = 200, .bandwidth_mib = 100,
      .expected = TRUE, .reason =
      "the guest dirties 200.0 MiB/s, more than the 100.0 MiB/s that can be sent, but a second "
      "of it is sent in 2000 ms, within the largest allowed downtime of 2000 ms" },
    { "auto-converge-needed", .dirty_mib = 900, .bandwidth_mib = 100, .expected = TRUE,
      .reason = "the guest dirties 900.0 MiB/s but at most 100.0 MiB/s can be sent; even "
      "2000 ms of downtime cannot absorb it, so the policy will rely on auto-converge" },
    { "postcopy-needed", .no_auto_converge = TRUE, .allow_postcopy = TRUE, .dirty_mib = 900,
      .bandwidth_mib = 100, .expected = TRUE, .reason =
      "the guest dirties 900.0 MiB/s but at most 100.0 MiB/s can be sent; even 2000 ms of "
      "downtime cannot absorb it, so the policy will rely on post-copy" },
    { "nothing-allowed", .no_auto_converge = TRUE, .dirty_mib = 900, .bandwidth_mib = 100,
      .expected = FALSE, .reason =
      "the guest dirties 900.0 MiB/s but at most 100.0 MiB/s can be sent; even 2000 ms of "
      "downtime cannot absorb it, and the policy allows neither auto-converge nor post-copy" },
    { "postcopy-forbidden-by-device", .no_auto_converge = TRUE, .allow_postcopy = TRUE,
      .postcopy_forbidden = TRUE, .dirty_mib = 900, .bandwidth_mib = 100, .expected = FALSE,
      .reason = "the guest dirties 900.0 MiB/s but at most 100.0 MiB/s can be sent; even "
      "2000 ms of downtime cannot absorb it, and the policy does not allow auto-converge and "
      "a passthrough device forbids post-copy" },
    { "just-past-downtime", .no_auto_converge = TRUE, .dirty_mib = 201, .bandwidth_mib = 100,
      .expected = FALSE, .reason =
      "the guest dirties 201.0 MiB/s but at most 100.0 MiB/s can be sent; even 2000 ms of "
      "downtime cannot absorb it, and the policy allows neither auto-converge nor post-copy" },
    { "no-steps", .no_auto_converge = TRUE, .no_steps = TRUE, .dirty_mib = 150,
      .bandwidth_mib = 100, .expected = FALSE, .reason =
      "the guest dirties 150.0 MiB/s but at most 100.0 MiB/s can be sent; even 300 ms of "
      "downtime cannot absorb it, and the policy allows neither auto-converge nor post-copy" },
    { "bandwidth-unknown", .no_auto_converge = TRUE, .dirty_mib = 900, .bandwidth_mib = 0,
      .expected = TRUE, .reason =
      "no bandwidth figure is known, so convergence cannot be predicted; the policy will "
      "watch the migration instead" },
};

static void
test_policy_predict(gconstpointer data)
{
    const PredictCase *pc = data;
    PolicyConfig cfg;
    g_autofree char *reason = NULL;
    gboolean ok;

    policy_config_init_defaults(&cfg);
    cfg.allow_auto_converge = !pc->no_auto_converge;
    cfg.allow_postcopy = pc->allow_postcopy;
    if (pc->no_steps)
        cfg.n_downtime_steps = 0;
    ok = policy_predict(&cfg, pc->dirty_mib * MIB, pc->bandwidth_mib * MIB,
                        pc->postcopy_forbidden, &reason);
    g_assert_cmpstr(reason, ==, pc->reason);
    g_assert_cmpint(ok, ==, pc->expected);
    /* The reason is optional. */
    g_assert_cmpint(policy_predict(&cfg, pc->dirty_mib * MIB, pc->bandwidth_mib * MIB,
                                   pc->postcopy_forbidden, NULL), ==, pc->expected);
}

typedef struct {
    const char *name;
    gsize offset;           /* of a guint in PolicyConfig, set to @value */
    guint value;
    const char *message;
} InvalidCase;

#define CFG_FIELD(member) G_STRUCT_OFFSET(PolicyConfig, member)

static const InvalidCase invalid_cases[] = {
    { "max-downtime-zero", CFG_FIELD(max_downtime_ms), 0,
      "max_downtime_ms is 0; it must be from 1 to 2000000 ms, QEMU's limit" },
    { "max-downtime-above-qemu", CFG_FIELD(max_downtime_ms), 2000001,
      "max_downtime_ms is 2000001; it must be from 1 to 2000000 ms, QEMU's limit" },
    { "first-step-not-above-max", CFG_FIELD(downtime_steps_ms[0]), 300,
      "downtime_steps_ms: step 1 (300 ms) must be above max_downtime_ms (300 ms), since each "
      "step raises the downtime" },
    { "steps-not-rising", CFG_FIELD(downtime_steps_ms[2]), 1000,
      "downtime_steps_ms: step 3 (1000 ms) must be above step 2 (1000 ms), since each step "
      "raises the downtime" },
    { "step-above-qemu", CFG_FIELD(downtime_steps_ms[2]), 2000001,
      "downtime_steps_ms: step 3 (2000001 ms) is above QEMU's limit of 2000000 ms" },
    { "too-many-steps", CFG_FIELD(n_downtime_steps), 9,
      "downtime_steps_ms has 9 steps; migd takes at most 8" },
    { "stall-iterations-zero", CFG_FIELD(stall_iterations), 0,
      "stall_iterations is 0; it must be at least 1" },
    { "completion-timeout-zero", CFG_FIELD(completion_timeout_per_gib_s), 0,
      "completion_timeout_per_gib_s is 0; it must be at least 1 s" },
    { "progress-timeout-zero", CFG_FIELD(progress_timeout_s), 0,
      "progress_timeout_s is 0; it must be at least 1 s" },
};

static void
test_policy_config_invalid(gconstpointer data)
{
    const InvalidCase *ic = data;
    PolicyConfig cfg;
    g_autoptr(GError) error = NULL;

    policy_config_init_defaults(&cfg);
    G_STRUCT_MEMBER(guint, &cfg, ic->offset) = ic->value;
    g_assert_false(policy_config_validate(&cfg, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(error->message, ==, ic->message);
}

static void
test_policy_config_defaults(void)
{
    PolicyConfig cfg;
    g_autoptr(GError) error = NULL;

    policy_config_init_defaults(&cfg);
    g_assert_true(policy_config_validate(&cfg, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(cfg.max_downtime_ms, ==, 300);
    g_assert_cmpuint(cfg.n_downtime_steps, ==, 3);
    g_assert_cmpuint(cfg.downtime_steps_ms[0], ==, 500);
    g_assert_cmpuint(cfg.downtime_steps_ms[1], ==, 1000);
    g_assert_cmpuint(cfg.downtime_steps_ms[2], ==, 2000);
    g_assert_cmpuint(cfg.stall_iterations, ==, 3);
    g_assert_true(cfg.allow_auto_converge);
    g_assert_false(cfg.allow_postcopy);
    g_assert_cmpuint(cfg.completion_timeout_per_gib_s, ==, 150);
    g_assert_cmpuint(cfg.progress_timeout_s, ==, 150);
}

/* The edges that are allowed: no steps, all eight, QEMU's limit. */
static void
test_policy_config_valid_edges(void)
{
    PolicyConfig cfg;
    g_autoptr(GError) error = NULL;

    policy_config_init_defaults(&cfg);
    cfg.n_downtime_steps = 0;
    g_assert_true(policy_config_validate(&cfg, &error));

    cfg.max_downtime_ms = 1;
    cfg.n_downtime_steps = POLICY_MAX_DOWNTIME_STEPS;
    for (guint i = 0; i < POLICY_MAX_DOWNTIME_STEPS; i++)
        cfg.downtime_steps_ms[i] = 2 + i;
    cfg.downtime_steps_ms[POLICY_MAX_DOWNTIME_STEPS - 1] = POLICY_DOWNTIME_LIMIT_MS;
    cfg.stall_iterations = cfg.completion_timeout_per_gib_s = cfg.progress_timeout_s = 1;
    g_assert_true(policy_config_validate(&cfg, &error));
    g_assert_no_error(error);
}

static void
test_policy_action_kind_names(void)
{
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_NONE), ==, "none");
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_SET_DOWNTIME), ==, "set-downtime");
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_AUTO_CONVERGE), ==, "auto-converge");
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_POSTCOPY), ==, "postcopy");
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_ABORT), ==, "abort");
    g_assert_cmpstr(policy_action_kind_to_string(POLICY_ACTION_LAST), ==, "unknown");
}

static void
test_policy_action_clear(void)
{
    PolicyAction action = {
        .kind = POLICY_SET_DOWNTIME, .downtime_ms = 500, .reason = g_strdup("why"),
    };

    policy_action_clear(&action);
    g_assert_cmpint(action.kind, ==, POLICY_NONE);
    g_assert_cmpuint(action.downtime_ms, ==, 0);
    g_assert_null(action.reason);
    policy_action_clear(&action);
}

#define add_scenario(path, data, func) \
    g_test_add(path, Scenario, data, scenario_setup, func, scenario_teardown)

/* A state saved (for the job record) and restored on a restarted migd's
 * clock decides exactly as the one that never stopped: the ladder goes on
 * from its rung, the stall and the progress timeout go on counting. */
static void
test_policy_saved_state(Scenario *s, gconstpointer data)
{
    const gint64 offset = 5000000;  /* the restarted migd's clock minus the first one's */
    g_autoptr(json_t) saved = NULL;
    g_autoptr(PolicyState) restored = NULL;
    g_autoptr(GError) error = NULL;

    scenario_start(s, 4 * GIB, FALSE);
    scenario_feed_stalled(s, 5);
    g_assert_cmpstr(s->summary->str, ==, "3:set-downtime=500");
    saved = policy_state_to_json(s->state);
    restored = policy_state_from_json(&s->cfg, 0, 4 * GIB, FALSE, saved, &error);
    g_assert_no_error(error);
    policy_state_rebase(restored, offset);
    for (guint i = 0; i < 200; i++, s->polls++) {
        PolicySample a = sample_at(s->polls * 1000, 512 * MIB, s->polls + 1);
        PolicySample b = a;
        g_auto(PolicyAction) act_a = { 0 };
        g_auto(PolicyAction) act_b = { 0 };

        b.now_ms += offset;
        policy_evaluate(s->state, &a, &act_a);
        policy_evaluate(restored, &b, &act_b);
        g_assert_cmpint(act_b.kind, ==, act_a.kind);
        g_assert_cmpuint(act_b.downtime_ms, ==, act_a.downtime_ms);
        g_assert_cmpstr(act_b.reason, ==, act_a.reason);
        scenario_record(s, &act_a);
    }
    g_assert_true(g_str_has_suffix(s->summary->str, ":abort"));
}

static void
test_policy_saved_state_rejects(Scenario *s, gconstpointer data)
{
    static const char *const edits[] = {
        "{\"downtime_ms\": 0}", "{\"next_step\": 4}", "{\"low_remaining\": \"x\"}",
        "{\"polls_since_low\": -1}", "{\"surprise\": 1}",
    };

    scenario_start(s, 4 * GIB, FALSE);
    for (gsize i = 0; i < G_N_ELEMENTS(edits); i++) {
        g_autoptr(json_t) saved = policy_state_to_json(s->state);
        g_autoptr(json_t) edit = json_loads(edits[i], 0, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(json_object_update(saved, edit), ==, 0);
        g_assert_null(policy_state_from_json(&s->cfg, 0, 4 * GIB, FALSE, saved, &error));
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(ladder_cases); i++) {
        g_autofree char *path = g_strdup_printf("/policy/ladder/%s", ladder_cases[i].name);

        add_scenario(path, &ladder_cases[i], test_policy_ladder);
    }
    add_scenario("/policy/ladder-reasons", NULL, test_policy_ladder_reasons);
    add_scenario("/policy/ladder-reasons-without-figures", NULL,
                 test_policy_ladder_reasons_without_figures);
    add_scenario("/policy/completion-timeout/at-limit", NULL,
                 test_policy_completion_timeout_at_limit);
    add_scenario("/policy/completion-timeout/aborts", NULL,
                 test_policy_completion_timeout_aborts);
    add_scenario("/policy/completion-timeout/small-guest", NULL,
                 test_policy_completion_timeout_small_guest);
    add_scenario("/policy/completion-timeout/postcopy", NULL,
                 test_policy_completion_timeout_postcopy);
    add_scenario("/policy/ladder-reasons/device-bytes", NULL, test_policy_ladder_reasons_device);
    add_scenario("/policy/downtime-prediction", NULL, test_policy_downtime_prediction);
    add_scenario("/policy/saved-state/resumes", NULL, test_policy_saved_state);
    add_scenario("/policy/saved-state/rejects", NULL, test_policy_saved_state_rejects);
    add_scenario("/policy/progress-timeout/at-limit", NULL, test_policy_progress_timeout_at_limit);
    add_scenario("/policy/progress-timeout/aborts", NULL, test_policy_progress_timeout_aborts);
    add_scenario("/policy/progress-timeout/forbidden-postcopy", NULL,
                 test_policy_progress_timeout_forbidden_postcopy);
    add_scenario("/policy/progress-timeout/no-data", NULL, test_policy_progress_timeout_no_data);
    add_scenario("/policy/postcopy-only-reports", NULL, test_policy_postcopy_only_reports);
    add_scenario("/policy/silent-after-abort", NULL, test_policy_silent_after_abort);
    add_scenario("/policy/force-complete/postcopy", NULL, test_policy_force_complete_postcopy);
    add_scenario("/policy/force-complete/downtime", NULL, test_policy_force_complete_downtime);
    add_scenario("/policy/force-complete/mid-ladder", NULL,
                 test_policy_force_complete_mid_ladder);
    add_scenario("/policy/force-complete/no-steps", NULL, test_policy_force_complete_no_steps);
    add_scenario("/policy/force-complete/qemu-limit", NULL,
                 test_policy_force_complete_qemu_limit);
    add_scenario("/policy/force-complete/after-abort", NULL,
                 test_policy_force_complete_after_abort);
    for (gsize i = 0; i < G_N_ELEMENTS(predict_cases); i++) {
        g_autofree char *path = g_strdup_printf("/policy/predict/%s", predict_cases[i].name);

        g_test_add_data_func(path, &predict_cases[i], test_policy_predict);
    }
    g_test_add_func("/policy/config/defaults", test_policy_config_defaults);
    g_test_add_func("/policy/config/valid-edges", test_policy_config_valid_edges);
    for (gsize i = 0; i < G_N_ELEMENTS(invalid_cases); i++) {
        g_autofree char *path = g_strdup_printf("/policy/config/invalid/%s",
                                                invalid_cases[i].name);

        g_test_add_data_func(path, &invalid_cases[i], test_policy_config_invalid);
    }
    g_test_add_func("/policy/action/kind-names", test_policy_action_kind_names);
    g_test_add_func("/policy/action/clear", test_policy_action_clear);
    return g_test_run();
}
