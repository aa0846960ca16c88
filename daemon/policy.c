/* The convergence ladder and timeouts of DESIGN.md section 5: each sample is
 * reduced to "how long since data remaining last made progress", and a stall
 * climbs one rung: more downtime, auto-converge, post-copy, abort. */
#include <config.h>

#include "error.h"
#include "policy.h"

/* A new low must be more than this many percent below the previous one, so
 * that a few pages of jitter between samples do not count as progress. */
#define POLICY_NEW_LOW_PERCENT 1

/* While libvirt reports no memory iteration (an older QEMU without
 * dirty-sync-count, or a job still in setup), this many polls without
 * progress count as one: polls come at a fixed interval, and a pass over a
 * busy guest's memory takes a few of them. */
#define POLICY_POLLS_PER_ITERATION 3

#define POLICY_DEFAULT_PAGE_SIZE 4096
#define POLICY_GIB (1024.0 * 1024.0 * 1024.0)

struct _PolicyState {
    PolicyConfig cfg;
    gint64 start_ms;
    guint64 guest_memory_bytes;
    gboolean postcopy_forbidden;
    guint64 device_bytes;           /* at stop-and-copy, on top of memory */

    guint64 low_remaining;          /* G_MAXUINT64 until a sample carries data */
    gint64 low_ms;                  /* when it was set; start_ms before */
    guint64 last_iteration;         /* 0 until libvirt reports one */
    /* Since the last new low, and since the last new low or rung climbed,
     * whichever came later: a rung must be given its own stall to help. */
    guint64 polls_since_low, polls_since_step;
    guint64 iterations_since_low, iterations_since_step;

    guint downtime_ms;
    guint next_step;                /* into cfg.downtime_steps_ms */
    gboolean auto_converge_on;
    gboolean postcopy_on;
    gboolean aborted;
    gboolean completion_reported;   /* the completion timeout already acted or was reported */
};

static const char *const action_kind_names[POLICY_ACTION_LAST] = {
    [POLICY_NONE] = "none",
    [POLICY_SET_DOWNTIME] = "set-downtime",
    [POLICY_AUTO_CONVERGE] = "auto-converge",
    [POLICY_POSTCOPY] = "postcopy",
    [POLICY_ABORT] = "abort",
};

const char *
policy_action_kind_to_string(PolicyActionKind kind)
{
    return (unsigned int)kind < POLICY_ACTION_LAST ? action_kind_names[kind] : "unknown";
}

void
policy_action_clear(PolicyAction *action)
{
    g_clear_pointer(&action->reason, g_free);
    action->kind = POLICY_NONE;
    action->downtime_ms = 0;
}

/* Takes ownership of @reason. */
static void
policy_act(PolicyAction *ret_action, PolicyActionKind kind, guint downtime_ms, char *reason)
{
    ret_action->kind = kind;
    ret_action->downtime_ms = downtime_ms;
    ret_action->reason = reason;
}

void
policy_config_init_defaults(PolicyConfig *cfg)
{
    /* QEMU's default downtime, then steps like Nova's; KubeVirt's timeouts. */
    *cfg = (PolicyConfig){
        .max_downtime_ms = 300,
        .downtime_steps_ms = { 500, 1000, 2000 },
        .n_downtime_steps = 3,
        .stall_iterations = 3,
        .allow_auto_converge = TRUE,
        .allow_postcopy = FALSE,
        .completion_timeout_per_gib_s = 150,
        .progress_timeout_s = 150,
    };
}

static gboolean
policy_config_validate_steps(const PolicyConfig *cfg, GError **error)
{
    guint previous = cfg->max_downtime_ms;

    if (cfg->n_downtime_steps > POLICY_MAX_DOWNTIME_STEPS) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "downtime_steps_ms has %u steps; migd takes at most %u",
                    cfg->n_downtime_steps, POLICY_MAX_DOWNTIME_STEPS);
        return FALSE;
    }
    for (guint i = 0; i < cfg->n_downtime_steps; i++) {
        guint step = cfg->downtime_steps_ms[i];

        if (step <= previous && i == 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "downtime_steps_ms: step 1 (%u ms) must be above max_downtime_ms "
                        "(%u ms), since each step raises the downtime", step, previous);
            return FALSE;
        }
        if (step <= previous) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "downtime_steps_ms: step %u (%u ms) must be above step %u (%u ms), "
                        "since each step raises the downtime", i + 1, step, i, previous);
            return FALSE;
        }
        if (step > POLICY_DOWNTIME_LIMIT_MS) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "downtime_steps_ms: step %u (%u ms) is above QEMU's limit of %u ms",
                        i + 1, step, POLICY_DOWNTIME_LIMIT_MS);
            return FALSE;
        }
        previous = step;
    }
    return TRUE;
}

gboolean
policy_config_validate(const PolicyConfig *cfg, GError **error)
{
    if (cfg->max_downtime_ms < 1 || cfg->max_downtime_ms > POLICY_DOWNTIME_LIMIT_MS) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "max_downtime_ms is %u; it must be from 1 to %u ms, QEMU's limit",
                    cfg->max_downtime_ms, POLICY_DOWNTIME_LIMIT_MS);
        return FALSE;
    }
    if (!policy_config_validate_steps(cfg, error))
        return FALSE;
    if (cfg->stall_iterations < 1) {
        g_set_error_literal(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                            "stall_iterations is 0; it must be at least 1");
        return FALSE;
    }
    if (cfg->completion_timeout_per_gib_s < 1) {
        g_set_error_literal(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                            "completion_timeout_per_gib_s is 0; it must be at least 1 s");
        return FALSE;
    }
    if (cfg->progress_timeout_s < 1) {
        g_set_error_literal(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                            "progress_timeout_s is 0; it must be at least 1 s");
        return FALSE;
    }
    return TRUE;
}

PolicyState *
policy_state_new(const PolicyConfig *cfg, gint64 start_ms, guint64 guest_memory_bytes,
                 gboolean postcopy_forbidden)
{
    PolicyState *state;

    g_return_val_if_fail(cfg->n_downtime_steps <= POLICY_MAX_DOWNTIME_STEPS, NULL);
    state = g_new0(PolicyState, 1);
    state->cfg = *cfg;
    state->start_ms = start_ms;
    state->guest_memory_bytes = guest_memory_bytes;
    state->postcopy_forbidden = postcopy_forbidden;
    state->low_remaining = G_MAXUINT64;
    state->low_ms = start_ms;
    state->downtime_ms = cfg->max_downtime_ms;
    return state;
}

void
policy_state_free(PolicyState *state)
{
    g_free(state);
}

json_t *
policy_state_to_json(const PolicyState *state)
{
    return json_pack("{s:i,s:i,s:b,s:b,s:b,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I}",
                     "downtime_ms", (int)state->downtime_ms,
                     "next_step", (int)state->next_step,
                     "auto_converge_on", state->auto_converge_on,
                     "postcopy_on", state->postcopy_on,
                     "aborted", state->aborted,
                     "completion_reported", state->completion_reported,
                     "low_remaining", state->low_remaining == G_MAXUINT64
                                          ? json_null()
                                          : json_integer((json_int_t)state->low_remaining),
                     "low_at_ms", (json_int_t)(state->low_ms - state->start_ms),
                     "last_iteration", (json_int_t)state->last_iteration,
                     "polls_since_low", (json_int_t)state->polls_since_low,
                     "polls_since_step", (json_int_t)state->polls_since_step,
                     "iterations_since_low", (json_int_t)state->iterations_since_low,
                     "iterations_since_step", (json_int_t)state->iterations_since_step);
}

PolicyState *
policy_state_from_json(const PolicyConfig *cfg, gint64 start_ms, guint64 guest_memory_bytes,
                       gboolean postcopy_forbidden, json_t *saved, GError **error)
{
    g_autoptr(PolicyState) state = policy_state_new(cfg, start_ms, guest_memory_bytes,
                                                    postcopy_forbidden);
    json_int_t low_at = 0, last_it = 0, polls_low = 0, polls_step = 0, it_low = 0, it_step = 0;
    int downtime = 0, next_step = 0, ac = 0, pc = 0, aborted = 0, reported = 0;
    json_t *low = NULL;
    json_error_t jerr;

    if (json_unpack_ex(saved, &jerr, JSON_STRICT,
                       "{s:i,s:i,s:b,s:b,s:b,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I}",
                       "downtime_ms", &downtime, "next_step", &next_step,
                       "auto_converge_on", &ac, "postcopy_on", &pc, "aborted", &aborted,
                       "completion_reported", &reported, "low_remaining", &low,
                       "low_at_ms", &low_at, "last_iteration", &last_it,
                       "polls_since_low", &polls_low, "polls_since_step", &polls_step,
                       "iterations_since_low", &it_low, "iterations_since_step", &it_step) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the saved policy state is malformed: %s", jerr.text);
        return NULL;
    }
    if (downtime < 1 || downtime > POLICY_DOWNTIME_LIMIT_MS || next_step < 0 ||
        (guint)next_step > cfg->n_downtime_steps || (!json_is_null(low) && !json_is_integer(low)) ||
        last_it < 0 || polls_low < 0 || polls_step < 0 || it_low < 0 || it_step < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the saved policy state is out of range (downtime %d ms, step %d of %u)",
                    downtime, next_step, cfg->n_downtime_steps);
        return NULL;
    }
    state->downtime_ms = (guint)downtime;
    state->next_step = (guint)next_step;
    state->auto_converge_on = ac;
    state->postcopy_on = pc;
    state->aborted = aborted;
    state->completion_reported = reported;
    state->low_remaining = json_is_null(low) ? G_MAXUINT64 : (guint64)json_integer_value(low);
    state->low_ms = start_ms + low_at;
    state->last_iteration = (guint64)last_it;
    state->polls_since_low = (guint64)polls_low;
    state->polls_since_step = (guint64)polls_step;
    state->iterations_since_low = (guint64)it_low;
    state->iterations_since_step = (guint64)it_step;
    return g_steal_pointer(&state);
}

void
policy_state_rebase(PolicyState *state, gint64 start_ms)
{
    state->low_ms += start_ms - state->start_ms;
    state->start_ms = start_ms;
}

static guint
policy_largest_downtime(const PolicyConfig *cfg)
{
    if (cfg->n_downtime_steps == 0)
        return cfg->max_downtime_ms;
    return cfg->downtime_steps_ms[cfg->n_downtime_steps - 1];
}

static gint64
policy_completion_limit_ms(const PolicyState *state)
{
    double gib = MAX(state->guest_memory_bytes / POLICY_GIB, 1.0);

    /* Clamped so that absurd memory sizes cannot overflow the cast. */
    return (gint64)MIN(state->cfg.completion_timeout_per_gib_s * 1000.0 * gib,
                       (double)(G_MAXINT64 / 2));
}

/* Why post-copy cannot be used now, or NULL when it can. */
static const char *
policy_postcopy_refusal(const PolicyConfig *cfg, gboolean forbidden)
{
    if (!cfg->allow_postcopy)
        return "the policy does not allow post-copy";
    if (forbidden)
        return "a passthrough device forbids post-copy";
    return NULL;
}

static guint64
policy_dirty_bytes_per_s(const PolicySample *sample)
{
    guint64 page_size = sample->page_size ? sample->page_size : POLICY_DEFAULT_PAGE_SIZE;

    return sample->dirty_rate_pps * page_size;
}

/* "512.0 MiB". Not g_format_size(): it puts a no-break space before the
 * unit, and migd runs under the host's locale, where printf's %f may write
 * a decimal comma; these sentences should read (and grep) the same
 * everywhere. */
static char *
policy_format_bytes(guint64 bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double value = bytes / 1024.0;
    guint64 tenths;
    guint unit = 0;

    if (bytes < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
    while (value >= 1024 && unit + 1 < G_N_ELEMENTS(units)) {
        value /= 1024;
        unit++;
    }
    tenths = (guint64)(value * 10 + 0.5);
    return g_strdup_printf("%" G_GUINT64_FORMAT ".%u %s", tenths / 10, (guint)(tenths % 10),
                           units[unit]);
}

static char *
policy_format_rate(guint64 bytes_per_s)
{
    g_autofree char *size = policy_format_bytes(bytes_per_s);

    return g_strdup_printf("%s/s", size);
}

/* "300.5 s", for the same reasons. */
static char *
policy_format_seconds(gint64 ms)
{
    gint64 tenths = (MAX(ms, 0) + 50) / 100;

    return g_strdup_printf("%" G_GINT64_FORMAT ".%d s", tenths / 10, (int)(tenths % 10));
}

/* How long sending @bytes takes at @bytes_per_s (not 0), in whole ms. */
static guint64
policy_send_ms(guint64 bytes, guint64 bytes_per_s)
{
    return (guint64)(bytes * 1000.0 / bytes_per_s + 0.5);
}

void
policy_state_set_device_bytes(PolicyState *state, guint64 bytes)
{
    state->device_bytes = bytes;
}

guint64
policy_state_device_bytes(const PolicyState *state)
{
    return state->device_bytes;
}

gint64
policy_predict_downtime_ms(const PolicyState *state, const PolicySample *sample)
{
    if (sample->memory_bps == 0)
        return -1;
    return (gint64)policy_send_ms(sample->data_remaining + state->device_bytes,
                                  sample->memory_bps);
}

/* "; sending what remains takes about 530 ms", with the devices' part
 * when there is one; "" when no rate is known. */
static char *
policy_describe_needed(const PolicyState *state, const PolicySample *sample)
{
    g_autofree char *device = NULL;

    if (sample->memory_bps == 0)
        return g_strdup("");
    if (state->device_bytes)
        device = policy_format_bytes(state->device_bytes);
    return g_strdup_printf("; sending what remains%s%s%s takes about %" G_GINT64_FORMAT " ms",
                           device ? " (with the " : "", device ? device : "",
                           device ? " the native NICs' devices add at stop-and-copy)" : "",
                           policy_predict_downtime_ms(state, sample));
}

/* "now 530.0 MiB remaining, dirty rate 180.0 MiB/s, bandwidth 120.0 MiB/s";
 * libvirt's 0 means it does not know. */
static char *
policy_describe_sample(const PolicySample *sample)
{
    guint64 dirty_bps = policy_dirty_bytes_per_s(sample);
    g_autofree char *remaining = policy_format_bytes(sample->data_remaining);
    g_autofree char *dirty = dirty_bps ? policy_format_rate(dirty_bps) : g_strdup("unknown");
    g_autofree char *bandwidth = sample->memory_bps ? policy_format_rate(sample->memory_bps)
                                                    : g_strdup("unknown");

    return g_strdup_printf("now %s remaining, dirty rate %s, bandwidth %s",
                           remaining, dirty, bandwidth);
}

static char *
policy_describe_stall(const PolicyState *state, const PolicySample *sample)
{
    g_autofree char *low = policy_format_bytes(state->low_remaining);
    g_autofree char *figures = policy_describe_sample(sample);

    if (state->last_iteration == 0)
        return g_strdup_printf("data remaining has not gone below %s for %" G_GUINT64_FORMAT
                               " polls, libvirt reporting no iterations (%s)",
                               low, state->polls_since_low, figures);
    return g_strdup_printf("data remaining has not gone below %s for %" G_GUINT64_FORMAT
                           " iterations (%s)", low, state->iterations_since_low, figures);
}

/* A new low of data remaining resets the stall counts; otherwise advancing
 * iterations, or polls before libvirt reports iterations, add to them. */
static void
policy_track_progress(PolicyState *state, const PolicySample *sample)
{
    guint64 advanced = 0;

    /* libvirt reports zeros until QEMU starts sending. */
    if (sample->data_total == 0)
        return;
    if (sample->iteration > 0) {
        if (state->last_iteration > 0 && sample->iteration > state->last_iteration)
            advanced = sample->iteration - state->last_iteration;
        state->last_iteration = sample->iteration;
    }
    if (sample->data_remaining < state->low_remaining -
                                 state->low_remaining / 100 * POLICY_NEW_LOW_PERCENT) {
        state->low_remaining = sample->data_remaining;
        state->low_ms = sample->now_ms;
        state->polls_since_low = state->polls_since_step = 0;
        state->iterations_since_low = state->iterations_since_step = 0;
        return;
    }
    state->polls_since_low++;
    state->polls_since_step++;
    state->iterations_since_low += advanced;
    state->iterations_since_step += advanced;
}

static gboolean
policy_stalled(const PolicyState *state)
{
    guint64 iterations = state->iterations_since_step;

    if (state->last_iteration == 0)
        iterations = state->polls_since_step / POLICY_POLLS_PER_ITERATION;
    return iterations >= state->cfg.stall_iterations;
}

/* A rung was climbed: the next one waits for a stall of its own. */
static void
policy_restart_stall_count(PolicyState *state)
{
    state->polls_since_step = state->iterations_since_step = 0;
}

static void
policy_raise_downtime(PolicyState *state, guint downtime_ms, char *reason,
                      PolicyAction *ret_action)
{
    state->downtime_ms = downtime_ms;
    policy_act(ret_action, POLICY_SET_DOWNTIME, downtime_ms, reason);
}

/* Climbs one rung of the ladder after a stall. */
static void
policy_escalate(PolicyState *state, const PolicySample *sample, PolicyAction *ret_action)
{
    g_autofree char *stall = policy_describe_stall(state, sample);
    const char *no_postcopy = policy_postcopy_refusal(&state->cfg, state->postcopy_forbidden);
    guint from = state->downtime_ms;

    policy_restart_stall_count(state);
    if (state->next_step < state->cfg.n_downtime_steps) {
        guint to = state->cfg.downtime_steps_ms[state->next_step++];
        g_autofree char *needed = policy_describe_needed(state, sample);

        policy_raise_downtime(state, to,
                              g_strdup_printf("%s%s: raising the max downtime from %u ms to %u ms",
                                              stall, needed, from, to),
                              ret_action);
        return;
    }
    if (state->cfg.allow_auto_converge && !state->auto_converge_on) {
        state->auto_converge_on = TRUE;
        policy_act(ret_action, POLICY_AUTO_CONVERGE, 0,
                   g_strdup_printf("%s; the max downtime cannot be raised past %u ms: turning on "
                                   "auto-converge to throttle the guest's vCPUs", stall, from));
    } else if (!no_postcopy) {
        state->postcopy_on = TRUE;
        policy_act(ret_action, POLICY_POSTCOPY, 0,
                   g_strdup_printf("%s; the max downtime cannot be raised past %u ms and %s: "
                                   "switching to post-copy", stall, from,
                                   state->auto_converge_on ? "auto-converge did not help"
                                   : "the policy does not allow auto-converge"));
    } else {
        state->aborted = TRUE;
        policy_act(ret_action, POLICY_ABORT, 0,
                   g_strdup_printf("%s; every step of the policy was tried (max downtime %u ms, "
                                   "%s, %s): aborting the migration", stall, from,
                                   state->auto_converge_on ? "auto-converge on"
                                   : "auto-converge not allowed", no_postcopy));
    }
}

/* A timeout ends pre-copy: post-copy when it may run, since it finishes in
 * bounded time (as VDSM and KubeVirt do), else an abort. */
static void
policy_give_up(PolicyState *state, const PolicySample *sample, const char *why,
               PolicyAction *ret_action)
{
    g_autofree char *figures = policy_describe_sample(sample);
    const char *no_postcopy = policy_postcopy_refusal(&state->cfg, state->postcopy_forbidden);

    if (!no_postcopy) {
        state->postcopy_on = TRUE;
        policy_act(ret_action, POLICY_POSTCOPY, 0,
                   g_strdup_printf("%s (%s): switching to post-copy so that the migration "
                                   "finishes", why, figures));
        return;
    }
    state->aborted = TRUE;
    policy_act(ret_action, POLICY_ABORT, 0,
               g_strdup_printf("%s (%s): aborting the migration, as %s",
                               why, figures, no_postcopy));
}

static char *
policy_describe_completion(const PolicyState *state, const PolicySample *sample)
{
    g_autofree char *memory = policy_format_bytes(state->guest_memory_bytes);
    g_autofree char *elapsed = policy_format_seconds(sample->now_ms - state->start_ms);

    return g_strdup_printf("the migration has run for %s, past its completion timeout of %"
                           G_GINT64_FORMAT " s for %s of guest memory%s at %u s per GiB",
                           elapsed, (policy_completion_limit_ms(state) + 500) / 1000, memory,
                           state->guest_memory_bytes < POLICY_GIB ? " (counted as 1 GiB)" : "",
                           state->cfg.completion_timeout_per_gib_s);
}

static char *
policy_describe_progress_timeout(const PolicyState *state, const PolicySample *sample)
{
    g_autofree char *idle = policy_format_seconds(sample->now_ms - state->low_ms);
    g_autofree char *low = NULL;

    if (state->low_remaining == G_MAXUINT64)
        return g_strdup_printf("libvirt has reported no migration data for %s, past the "
                               "progress timeout of %u s", idle, state->cfg.progress_timeout_s);
    low = policy_format_bytes(state->low_remaining);
    return g_strdup_printf("data remaining has not gone below %s for %s, past the progress "
                           "timeout of %u s", low, idle, state->cfg.progress_timeout_s);
}

static gboolean
policy_completion_passed(const PolicyState *state, const PolicySample *sample)
{
    return sample->now_ms - state->start_ms > policy_completion_limit_ms(state);
}

/* Post-copy cannot be aborted: the guest already runs on the destination and
 * its memory is split between the hosts. A late post-copy is only reported. */
static void
policy_watch_postcopy(PolicyState *state, const PolicySample *sample, PolicyAction *ret_action)
{
    g_autofree char *why = NULL;

    if (state->completion_reported || !policy_completion_passed(state, sample))
        return;
    state->completion_reported = TRUE;
    why = policy_describe_completion(state, sample);
    policy_act(ret_action, POLICY_NONE, 0,
               g_strdup_printf("%s, but the migration is in post-copy: the guest already runs "
                               "on the destination and aborting would lose it, so post-copy "
                               "is left to finish", why));
}

void
policy_evaluate(PolicyState *state, const PolicySample *sample, PolicyAction *ret_action)
{
    *ret_action = (PolicyAction){ .kind = POLICY_NONE };
    if (state->aborted)
        return;
    if (state->postcopy_on) {
        policy_watch_postcopy(state, sample, ret_action);
        return;
    }
    policy_track_progress(state, sample);
    if (policy_completion_passed(state, sample)) {
        g_autofree char *why = policy_describe_completion(state, sample);

        state->completion_reported = TRUE;
        policy_give_up(state, sample, why, ret_action);
    } else if (sample->now_ms - state->low_ms > state->cfg.progress_timeout_s * (gint64)1000) {
        g_autofree char *why = policy_describe_progress_timeout(state, sample);

        policy_give_up(state, sample, why, ret_action);
    } else if (policy_stalled(state)) {
        policy_escalate(state, sample, ret_action);
    }
}

PolicyActionKind
policy_force_complete(PolicyState *state, PolicyAction *ret_action)
{
    const char *no_postcopy = policy_postcopy_refusal(&state->cfg, state->postcopy_forbidden);
    guint largest = policy_largest_downtime(&state->cfg);
    guint from = state->downtime_ms;
    guint to = from < largest ? largest : (guint)MIN(from * 2ULL, POLICY_DOWNTIME_LIMIT_MS);

    *ret_action = (PolicyAction){ .kind = POLICY_NONE };
    if (state->aborted) {
        ret_action->reason = g_strdup("the policy has already aborted this migration; "
                                      "there is nothing left to complete");
    } else if (state->postcopy_on) {
        ret_action->reason = g_strdup("post-copy is already running; it finishes as fast "
                                      "as the link allows");
    } else if (!no_postcopy) {
        state->postcopy_on = TRUE;
        policy_act(ret_action, POLICY_POSTCOPY, 0,
                   g_strdup("force-complete: switching to post-copy, which resumes the guest "
                            "on the destination at once and fetches the rest of its memory "
                            "from here"));
    } else if (to > from) {
        /* The ladder goes on from the top: its next rung is auto-converge. */
        state->next_step = state->cfg.n_downtime_steps;
        policy_restart_stall_count(state);
        policy_raise_downtime(state, to,
                              g_strdup_printf("force-complete: %s, so raising the max downtime "
                                              "from %u ms to %u ms", no_postcopy, from, to),
                              ret_action);
    } else {
        ret_action->reason = g_strdup_printf("force-complete cannot raise the max downtime "
                                             "past QEMU's limit of %u ms, and %s",
                                             POLICY_DOWNTIME_LIMIT_MS, no_postcopy);
    }
    return ret_action->kind;
}

gboolean
policy_predict(const PolicyConfig *cfg, guint64 dirty_bytes_per_s,
               guint64 bandwidth_bytes_per_s, gboolean postcopy_forbidden, char **ret_reason)
{
    g_autofree char *dirty = policy_format_rate(dirty_bytes_per_s);
    g_autofree char *bandwidth = policy_format_rate(bandwidth_bytes_per_s);
    g_autofree char *stuck = NULL, *reason = NULL;
    guint largest = policy_largest_downtime(cfg);
    const char *no_postcopy = policy_postcopy_refusal(cfg, postcopy_forbidden);
    gboolean ok = TRUE;

    /* Pre-copy converges when each pass sends more than the guest dirties
     * meanwhile. When the guest outruns the link, the dirty set stops
     * shrinking; the dirty-rate measurement counts the distinct pages written
     * in a second, so a second's worth is what the final pause must send. */
    if (bandwidth_bytes_per_s == 0) {
        reason = g_strdup("no bandwidth figure is known, so convergence cannot be predicted; "
                          "the policy will watch the migration instead");
    } else if (dirty_bytes_per_s < bandwidth_bytes_per_s) {
        reason = g_strdup_printf("the guest dirties %s and %s can be sent, so each pre-copy "
                                 "pass leaves less behind and the migration should converge",
                                 dirty, bandwidth);
    } else if (policy_send_ms(dirty_bytes_per_s, bandwidth_bytes_per_s) <= largest) {
        reason = g_strdup_printf("the guest dirties %s, more than the %s that can be sent, but "
                                 "a second of it is sent in %" G_GUINT64_FORMAT " ms, within the "
                                 "largest allowed downtime of %u ms", dirty, bandwidth,
                                 policy_send_ms(dirty_bytes_per_s, bandwidth_bytes_per_s),
                                 largest);
    } else {
        stuck = g_strdup_printf("the guest dirties %s but at most %s can be sent; even %u ms of "
                                "downtime cannot absorb it", dirty, bandwidth, largest);
        ok = cfg->allow_auto_converge || !no_postcopy;
        if (cfg->allow_auto_converge)
            reason = g_strdup_printf("%s, so the policy will rely on auto-converge", stuck);
        else if (!no_postcopy)
            reason = g_strdup_printf("%s, so the policy will rely on post-copy", stuck);
        else
            reason = g_strdup_printf("%s, and %s", stuck, cfg->allow_postcopy
                                     ? "the policy does not allow auto-converge and a "
                                       "passthrough device forbids post-copy"
                                     : "the policy allows neither auto-converge nor post-copy");
    }
    if (ret_reason)
        *ret_reason = g_steal_pointer(&reason);
    return ok;
}
