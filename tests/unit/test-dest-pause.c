/* The destination's side of the pause strategy (daemon/dest-pause.c) with
 * the "stateful" fixture plugin and the fake hypervisor: the switchover
 * restores the paused NIC's state while the guest still runs at the source
 * and refuses what it cannot do; a guest that arrives paused is resumed at
 * once and its plugin called post_switchover; the source's resume call
 * gets that outcome, and the armed replug verifies as after any resume. */
#include <config.h>

#include <libvirt/libvirt.h>
#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "test-dest.h"
#include "testutil.h"

#define NIC0_PAUSE                                                                             \
    "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\",\"strategy\":"     \
    "\"pause\"}]"
#define NIC0_UNPLUG "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"}]"

/* job-1 reserved with @nics, and prepared with ua-vf0's saved state when
 * @prepare. */
static void
reserve(TdFixture *f, const char *strategy, const char *nics, gboolean prepare)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL;

    if (prepare) {
        td_reserve_prepared(f, strategy, nics);
        return;
    }
    r = td_reserve(f, "job-1", "labvm", strategy, nics, &error);
    g_assert_no_error(error);
}

/* The guest as the source runs it: its NIC on the source's tap. */
static void
add_guest(TdFixture *f)
{
    g_autofree char *xml = td_domain_xml("labvm", (const char *const[]){ "ua-vf0=avf0", NULL });

    fake_virt_add_domain(f->fv, TD_SOURCE_URI, "labvm", xml, VIR_DOMAIN_RUNNING);
}

static json_t *
nic0(json_t *reservation)
{
    return json_array_get(json_object_get(reservation, "nics"), 0);
}

static int
guest_state(TdFixture *f)
{
    return fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm");
}

static gboolean
resumed_here(TdFixture *f)
{
    return guest_state(f) == VIR_DOMAIN_RUNNING && td_calls(f, "post_switchover *") > 0;
}

/* Restored before the pause; the guest arrives paused, runs at once, the
 * plugin resumes its device; the replug verifies; the source's resume
 * call hears what happened. */
static void
test_ok(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) switched = NULL;
    g_autoptr(json_t) resumed = NULL;
    json_t *resume;

    reserve(f, "pause", NIC0_PAUSE, TRUE);
    switched = td_switchover(f, "job-1", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    g_assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(nic0(switched), "states"), 0), "restored")));
    add_guest(f);
    td_migrate_in_flags(f, "labvm", VIR_MIGRATE_PAUSED);
    while (!resumed_here(f))
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(td_calls(f, "post_switchover ua-vf0 destination"), ==, 1);
    g_assert_true(td_wait_state(f, "job-1", "done"));
    resumed = td_resume(f, "job-1", &error);
    g_assert_no_error(error);
    resume = json_object_get(resumed, "resume");
    g_assert_true(json_is_true(json_object_get(resume, "resumed")));
    g_assert_true(json_is_integer(json_object_get(resume, "resume_ms")));
    g_assert_true(json_is_null(json_object_get(resume, "post_switchover_error")));
    /* Restored once, before the pause; not again after the resume. */
    g_assert_cmpuint(td_calls(f, "restore_state *"), ==, 1);
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 0);
}

/* Two plugins carry ua-vf0's state: both restore it before the pause and
 * are called post_switchover once the guest runs, in loading order; the
 * second one's doubt goes into the resume's answer, naming it. */
static void
test_two_plugins(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = td_two_states_body("ua-vf0", "stateful", "ua-vf0", "stateful2");
    g_autoptr(json_t) prepared = NULL;
    g_autoptr(json_t) switched = NULL;
    g_autoptr(json_t) resumed = NULL;
    const char *post_error;

    reserve(f, "pause", NIC0_PAUSE, FALSE);
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_no_error(error);
    switched = td_switchover(f, "job-1", &error);
    g_assert_no_error(error);
    test_assert_names(json_object_get(nic0(switched), "states"), "plugin",
                      (const char *const[]){ "stateful", "stateful2", NULL });
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination*"), ==, 2);
    add_guest(f);
    td_migrate_in_flags(f, "labvm", VIR_MIGRATE_PAUSED);
    while (td_calls(f, "post_switchover *") < 2)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(td_calls(f, "post_switchover ua-vf0 destination by stateful2"), ==, 1);
    resumed = td_resume(f, "job-1", &error);
    g_assert_no_error(error);
    post_error = json_string_value(json_object_get(json_object_get(resumed, "resume"),
                                                   "post_switchover_error"));
    g_assert_nonnull(post_error);
    g_assert_true(g_str_has_prefix(post_error, "plugin stateful2 for ua-vf0: "));
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 0);
}

/* The source asks for the resume before libvirt's event came (or it was
 * lost): the call resumes the guest itself. */
static void
test_resume_call(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) switched = NULL;
    g_autoptr(json_t) resumed = NULL;

    reserve(f, "pause", NIC0_PAUSE, TRUE);
    add_guest(f);
    td_migrate_in_flags(f, "labvm", VIR_MIGRATE_PAUSED);
    /* No switchover was made: the arrival alone does not resume it. */
    g_assert_cmpint(guest_state(f), ==, VIR_DOMAIN_PAUSED);
    switched = td_switchover(f, "job-1", &error);
    g_assert_no_error(error);
    resumed = td_resume(f, "job-1", &error);
    g_assert_no_error(error);
    g_assert_cmpint(guest_state(f), ==, VIR_DOMAIN_RUNNING);
    g_assert_true(json_is_true(json_object_get(json_object_get(resumed, "resume"), "resumed")));
    g_assert_cmpuint(td_calls(f, "post_switchover ua-vf0 destination"), ==, 1);
}

static void
count_answer(json_t *result, const GError *error, gpointer data)
{
    guint *answered = data;

    g_assert_nonnull(result);
    (*answered)++;
}

/* A source that asks again (its first call timed out) is answered like the
 * first, and nothing is done twice. */
static void
test_asked_twice(TdFixture *f, gconstpointer data)
{
    guint switched = 0, resumed = 0;

    reserve(f, "pause", NIC0_PAUSE, TRUE);
    incoming_switchover(f->in, "job-1", count_answer, &switched);
    incoming_switchover(f->in, "job-1", count_answer, &switched);
    while (switched < 2)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    add_guest(f);
    td_migrate_in_flags(f, "labvm", VIR_MIGRATE_PAUSED);
    incoming_resume(f->in, "job-1", count_answer, &resumed);
    incoming_resume(f->in, "job-1", count_answer, &resumed);
    while (resumed < 2)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(guest_state(f), ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpuint(td_calls(f, "post_switchover ua-vf0 destination"), ==, 1);
}

/* A refused restore: a conflict with the plugin's words, the plugin
 * undoes, nothing resumes. */
static void
test_restore_refused(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) switched = NULL;

    reserve(f, "pause", NIC0_PAUSE, TRUE);
    switched = td_switchover(f, "job-1", &error);
    g_assert_null(switched);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_true(g_pattern_match_simple("the device state of ua-vf0 was not restored onto the "
                                         "VF tvf0: *fail_at = restore_state is set*",
                                         error->message));
    while (td_calls(f, "abort ua-vf0 destination") == 0)
        (void)g_main_context_iteration(NULL, TRUE);
}

/* What a switchover or resume cannot be asked for: an unknown job, one
 * with no paused NIC, one not prepared; each names why. */
static void
test_refusals(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL;

    r = td_switchover(f, "job-9", &error);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NOT_FOUND);
    g_clear_error(&error);
    reserve(f, "pause", NIC0_PAUSE, FALSE);
    r = td_resume(f, "job-1", &error);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_nonnull(strstr(error->message, "is not prepared yet, so its resume cannot be made"));
    g_clear_error(&error);
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    reserve(f, "unplug", NIC0_UNPLUG, TRUE);
    r = td_switchover(f, "job-1", &error);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_nonnull(strstr(error->message, "holds no NIC with the pause strategy, so there is "
                                            "no switchover to make"));
    g_assert_null(r);
}

/* The guest is not here: the resume call says so. */
static void
test_resume_no_guest(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) switched = NULL;
    g_autoptr(json_t) r = NULL;
    GLogLevelFlags fatal;

    reserve(f, "pause", NIC0_PAUSE, TRUE);
    switched = td_switchover(f, "job-1", &error);
    g_assert_no_error(error);
    /* Its warning is the outcome here, not a failure of the test. */
    fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK);
    r = td_resume(f, "job-1", &error);
    g_log_set_always_fatal(fatal);
    g_assert_null(r);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_true(g_pattern_match_simple("cannot resume labvm here: the guest is not here: *",
                                         error->message));
    g_assert_true(test_log_has("*job-1: cannot resume labvm here*"));
    test_log_clear();
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
#define add(path, settings, fn) g_test_add(path, TdFixture, settings, td_setup, fn, td_teardown)
    add("/dest/pause/ok", "", test_ok);
    add("/dest/pause/two-plugins", "[plugin.stateful2]\nfail_at = post_switchover\n",
        test_two_plugins);
    add("/dest/pause/resume-call", "", test_resume_call);
    add("/dest/pause/asked-twice", "", test_asked_twice);
    add("/dest/pause/restore-refused", "fail_at = restore_state\n", test_restore_refused);
    add("/dest/pause/refusals", "", test_refusals);
    add("/dest/pause/resume-no-guest", "", test_resume_no_guest);
#undef add
    return g_test_run();
}
