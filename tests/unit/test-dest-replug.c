/* The destination's replug on the fake hypervisor: armed by prepare, run
 * when the guest's resume here is seen (one registration, dispatched by
 * domain), plugging only the unplugged NICs, and picked up again by a
 * restarted migd from reservations.json and the guest's live XML. */
#include <config.h>

#include "dest-priv.h"
#include "error.h"
#include "test-dest.h"
#include "testutil.h"

#define NIC0_UNPLUG "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"}]"
#define NIC0_NATIVE                                                                            \
    "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\",\"strategy\":"     \
    "\"native\"}]"

/* A running guest on @uri with the NIC ALIAS=TAP @nic, or none. */
static void
add_guest(TdFixture *f, const char *uri, const char *name, const char *nic)
{
    g_autofree char *xml = td_domain_xml(name, (const char *const[]){ nic, NULL });

    fake_virt_add_domain(f->fv, uri, name, xml, VIR_DOMAIN_RUNNING);
}

static void
reserve_and_prepare(TdFixture *f, const char *job, const char *domain, const char *strategy,
                    const char *nics)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve(f, job, domain, strategy, nics, &error);
    g_autoptr(json_t) p = NULL;

    g_assert_no_error(error);
    p = incoming_prepare(f->in, job, &error);
    g_assert_no_error(error);
}

static json_t *
replug_of(TdFixture *f, const char *job)
{
    g_autoptr(json_t) r = incoming_get(f->in, job, NULL);

    return json_incref(json_object_get(r, "replug"));
}

/* A native NIC arrives with the guest: the replug plugs nothing, verifies. */
static void
test_resume_native(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) replug = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "native", NIC0_NATIVE);
    add_guest(f, TD_SOURCE_URI, "labvm", "ua-vf0=avf0");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    replug = replug_of(f, "job-1");
    g_assert_true(json_is_true(json_object_get(replug, "ok")));
    g_assert_nonnull(json_string_value(json_object_get(replug, "plugged_at")));
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 0);
}

/* Two guests come in at once: each resume reaches its own reservation. */
static void
test_two_resumes(TdFixture *f, gconstpointer data)
{
    reserve_and_prepare(f, "job-1", "vm1", "native", NIC0_NATIVE);
    reserve_and_prepare(f, "job-2", "vm2", "native", NIC0_NATIVE);
    add_guest(f, TD_SOURCE_URI, "vm2", "ua-vf0=avf0");
    td_migrate_in(f, "vm2");
    g_assert_true(td_wait_state(f, "job-2", "done"));
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "armed");
    add_guest(f, TD_SOURCE_URI, "vm1", "ua-vf0=avf1");
    td_migrate_in(f, "vm1");
    g_assert_true(td_wait_state(f, "job-1", "done"));
}

/* A guest that resumed here while no migd watched (or before the arming):
 * the source's replug call finds it running and the replug runs. */
static void
test_replug_call_finds_guest(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) answer = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "native", NIC0_NATIVE);
    add_guest(f, FAKE_VIRT_LOCAL, "labvm", "ua-vf0=tvf0");
    answer = td_replug(f, "job-1", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(answer, "replug"), "state")),
                    ==, "done");
}

static void
test_restart_guest_not_here(TdFixture *f, gconstpointer data)
{
    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    td_restart(f);
    fake_virt_flush(f->fv);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "armed");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 0);
}

/* The previous migd plugged the VF and died before writing it down: the
 * live XML has it, so nothing is plugged twice and the guest is asked. */
static void
test_restart_guest_here_with_vf(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) answer = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    add_guest(f, FAKE_VIRT_LOCAL, "labvm", "ua-vf0=tvf0");
    td_restart(f);
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 0);
    /* The source, restarted too, asks: the answer comes from the record. */
    td_restart(f);
    answer = td_replug(f, "job-1", &error);
    g_assert_no_error(error);
    g_assert_true(json_is_true(json_object_get(json_object_get(answer, "replug"), "ok")));
}

/* The guest stopped here while the replug was under way: it says so. */
static void
test_restart_plugging_guest_gone(TdFixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "reservations.json", NULL);
    g_autofree char *text = NULL;
    g_autofree char *edited = NULL;
    g_auto(GStrv) parts = NULL;
    g_autoptr(json_t) replug = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    td_restart(f);      /* saves nothing: the file is as the prepare left it */
    /* As a migd killed at dst-at-resume-before-replug leaves it. */
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    parts = g_strsplit(text, "\"state\": \"armed\"", -1);
    g_assert_cmpuint(g_strv_length(parts), ==, 2);
    edited = g_strjoinv("\"state\": \"plugging\"", parts);
    g_assert_true(g_file_set_contents(path, edited, -1, NULL));
    td_restart(f);
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    g_assert_true(test_log_has("The replug of labvm's passthrough NICs failed: labvm no longer "
                               "runs on this host*"));
    replug = replug_of(f, "job-1");
    g_assert_nonnull(strstr(json_string_value(json_object_get(replug, "detail")),
                            "labvm no longer runs on this host"));
}

static gboolean
has_vf(TdFixture *f, const char *domain, const char *alias)
{
    return fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, domain, alias);
}

/* The unplugged NIC's VF is plugged in once the guest resumes here. */
static void
test_resume_unplug(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) replug = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    add_guest(f, TD_SOURCE_URI, "labvm", NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(has_vf(f, "labvm", "ua-vf0"));
    replug = replug_of(f, "job-1");
    g_assert_cmpint(json_integer_value(json_object_get(replug, "attempts")), ==, 1);
    g_assert_true(json_is_true(json_object_get(replug, "ok")));
}

/* A failed attach is tried again, after a look at what the guest has. */
static void
test_replug_retry(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) replug = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    add_guest(f, TD_SOURCE_URI, "labvm", NULL);
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH, VIRT_OPS_ERROR_FAILED,
                        "internal error: unable to execute QEMU command 'device_add'");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(has_vf(f, "labvm", "ua-vf0"));
    replug = replug_of(f, "job-1");
    g_assert_cmpint(json_integer_value(json_object_get(replug, "attempts")), ==, 2);
    g_assert_true(test_log_has("Plugging ua-vf0 into labvm failed (attempt 1 of 2), trying "
                               "again: *device_add*"));
}

/* Every attempt fails: the replug says so, and the guest has no VF. */
static void
test_replug_lost(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) replug = NULL;

    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    add_guest(f, TD_SOURCE_URI, "labvm", NULL);
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH, VIRT_OPS_ERROR_FAILED,
                        "internal error: unable to execute QEMU command 'device_add'");
    td_migrate_in(f, "labvm");
    /* The second attempt fails too: scripted once the first has failed
     * (the retry waits 100 ms on this loop). */
    while (!test_log_has("Plugging ua-vf0 into labvm failed (attempt 1 of 2)*"))
        (void)g_main_context_iteration(NULL, TRUE);
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH, VIRT_OPS_ERROR_FAILED,
                        "internal error: unable to execute QEMU command 'device_add'");
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    g_assert_false(has_vf(f, "labvm", "ua-vf0"));
    replug = replug_of(f, "job-1");
    g_assert_false(json_is_true(json_object_get(replug, "ok")));
    g_assert_nonnull(strstr(json_string_value(json_object_get(replug, "detail")),
                            "ua-vf0 was not plugged after 2 attempts"));
}

/* mixed: the native NIC came with the guest; only the unplugged one is plugged. */
static void
test_mixed_replug(TdFixture *f, gconstpointer data)
{
    reserve_and_prepare(f, "job-1", "labvm", "mixed",
                        "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\","
                        "\"strategy\":\"unplug\"},{\"alias\":\"ua-vf1\",\"mac\":"
                        "\"52:54:00:00:00:02\",\"pool\":\"lab\",\"strategy\":\"native\"}]");
    add_guest(f, TD_SOURCE_URI, "labvm", "ua-vf1=avf1");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 1);
    g_assert_true(has_vf(f, "labvm", "ua-vf0"));
}

/* The guest resumed here while migd was down: the restarted one plugs it. */
static void
test_restart_guest_here_without_vf(TdFixture *f, gconstpointer data)
{
    reserve_and_prepare(f, "job-1", "labvm", "unplug", NIC0_UNPLUG);
    add_guest(f, FAKE_VIRT_LOCAL, "labvm", NULL);
    td_restart(f);
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(has_vf(f, "labvm", "ua-vf0"));
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A replug that fails warns; the tests check what it says. */
    test_log_capture();
#define add(path, fn) g_test_add(path, TdFixture, NULL, td_setup, fn, td_teardown)
    add("/dest/replug/resume-native", test_resume_native);
    add("/dest/replug/two-resumes", test_two_resumes);
    add("/dest/replug/call-finds-guest", test_replug_call_finds_guest);
    add("/dest/replug/resume-unplug", test_resume_unplug);
    add("/dest/replug/retry", test_replug_retry);
    add("/dest/replug/lost", test_replug_lost);
    add("/dest/replug/mixed", test_mixed_replug);
    add("/dest/restart/guest-here-without-vf", test_restart_guest_here_without_vf);
    add("/dest/restart/guest-not-here", test_restart_guest_not_here);
    add("/dest/restart/guest-here-with-vf", test_restart_guest_here_with_vf);
    add("/dest/restart/plugging-guest-gone", test_restart_plugging_guest_gone);
#undef add
    return g_test_run();
}
