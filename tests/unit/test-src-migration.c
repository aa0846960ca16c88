/* Tests of the source's migration side (src-*.c) with the engine and the
 * fake hypervisor (fake-virt.h, libvirt 9.0 as measured): the checks, the
 * migrate call, stats sampling, the destination's resume, a cancel, and
 * what a restarted migd does with a job for each place the guest can be.
 * The jobs have no passthrough NICs (strategy none): the NIC steps have
 * their own tests. */
#include <config.h>

#include <string.h>

#include "fake-virt.h"
#include "src-migrator.h"
#include "testutil.h"

#define DEST "qemu+tcp://10.200.0.2/system"
#define WAIT_S 10

static const char guest_xml[] = "<domain type='qemu'><name>vm1</name><devices/></domain>";

typedef struct {
    FakeVirt *fv;
    Virt *virt;
    MigdConf *conf;
    char *dir;
    Store *store;
    Migrator *m;
    Engine *engine;
    char *id;
    GThread *previous;          /* a previous migd's migrate call */
} Fixture;

static void
start(Fixture *f)
{
    EngineLimits limits = { 1, 24 };
    g_autoptr(GError) error = NULL;

    f->store = store_open(f->dir, &error);
    g_assert_no_error(error);
    f->m = migrator_new(f->virt, f->conf);
    f->engine = engine_new(f->store, migrator_ops(), f->m, &limits);
    migrator_set_engine(f->m, f->engine);
}

static void
setup(Fixture *f, gconstpointer data)
{
    f->fv = fake_virt_new();
    fake_virt_add_host(f->fv, DEST);
    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, "vm1", guest_xml, VIR_DOMAIN_RUNNING);
    f->virt = fake_virt_new_virt(f->fv);
    f->conf = conf_new_defaults();
    f->conf->poll_interval_ms = 10;
    f->dir = g_dir_make_tmp("test-src-XXXXXX", NULL);
    start(f);
}

static Job *
job(Fixture *f)
{
    Job *job = engine_lookup(f->engine, f->id);

    g_assert_nonnull(job);
    return job;
}

/* Runs the loop until @done says so; fails the test after WAIT_S. */
static void
wait_until(Fixture *f, gboolean (*done)(Fixture *f), const char *what)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;

    while (!done(f)) {
        if (g_get_monotonic_time() > deadline)
            g_error("waited %d s for %s", WAIT_S, what);
        (void)g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static gboolean
is_final(Fixture *f)
{
    return job_state_is_final(job(f)->state);
}

static gboolean
has_progress(Fixture *f)
{
    return job(f)->have_progress;
}

static gboolean
at_third_pass(Fixture *f)
{
    return job(f)->progress.iteration == 3;
}

static gboolean
is_migrating(Fixture *f)
{
    return fake_virt_migrating(f->fv, FAKE_VIRT_LOCAL, "vm1");
}

static void
stop(Fixture *f)
{
    g_clear_pointer(&f->engine, engine_free);
    g_clear_pointer(&f->m, migrator_free);
    g_clear_pointer(&f->store, store_free);
    fake_virt_flush(f->fv);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    if (f->previous) {
        if (fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "vm1") >= 0 &&
            fake_virt_migrating(f->fv, FAKE_VIRT_LOCAL, "vm1"))
            fake_virt_end_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FALSE, "test over");
        g_thread_join(f->previous);
    }
    stop(f);
    g_clear_pointer(&f->virt, virt_free);
    fake_virt_free(f->fv);
    conf_free(f->conf);
    test_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->id);
    test_log_clear();
}

static void
submit_to(Fixture *f, const char *dest_uri)
{
    JobDestination dest = { "B", (char *)dest_uri, NULL, NULL };
    JobOptions options = { .persistent = TRUE };
    g_autoptr(GError) error = NULL;
    PolicyConfig policy;
    Job *job;

    policy_config_init_defaults(&policy);
    job = engine_submit(f->engine, "vm1", &dest, "none", &options, &policy, NULL, &error);
    g_assert_no_error(error);
    f->id = g_strdup(job->id);
}

#define submit(f) submit_to((f), DEST)

#define assert_ended(f, expect_state, pattern)                                        \
    G_STMT_START {                                                                    \
        wait_until((f), is_final, "the job to end");                                  \
        g_assert_cmpstr(job_state_to_string(job(f)->state), ==, (expect_state));      \
        if (!g_pattern_match_simple((pattern), job(f)->reason))                       \
            g_error("reason '%s' does not match '%s'", job(f)->reason, (pattern));    \
    } G_STMT_END

/* --- the checks ----------------------------------------------------------- */

static void
test_checks_refused(Fixture *f, gconstpointer data)
{
    fake_virt_add_domain(f->fv, DEST, "vm1", guest_xml, VIR_DOMAIN_RUNNING);
    submit(f);
    assert_ended(f, "failed", "domain 'vm1' already runs on the destination " DEST);
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_MIGRATE), ==, 0);
}

static void
test_checks_source_stopped(Fixture *f, gconstpointer data)
{
    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, "vm2", guest_xml, VIR_DOMAIN_SHUTOFF);
    g_free(f->id);
    {
        JobDestination dest = { "B", DEST, NULL, NULL };
        JobOptions options = { 0 };
        g_autoptr(GError) error = NULL;
        PolicyConfig policy;

        policy_config_init_defaults(&policy);
        f->id = g_strdup(engine_submit(f->engine, "vm2", &dest, "none", &options, &policy,
                                       NULL, &error)->id);
    }
    assert_ended(f, "failed", "domain 'vm2' is not running on this host");
}

static void
test_checks_unreachable(Fixture *f, gconstpointer data)
{
    submit_to(f, "qemu+tcp://10.200.0.9/system");
    assert_ended(f, "failed", "cannot reach the destination's libvirt at "
                              "qemu+tcp://10.200.0.9/system: *");
}

/* --- the migration -------------------------------------------------------- */

static void
test_migrate_ok(Fixture *f, gconstpointer data)
{
    VirtJobStats stats = { .data_total = 128 << 20, .downtime_ms = 60, .setup_time_ms = 5,
                           .time_elapsed_ms = 2000, .data_processed = 130 << 20 };
    FakeMigrateCall call;

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_COMPLETE, &stats, NULL);
    submit(f);
    assert_ended(f, "completed", "vm1 runs on B");
    g_assert_true(fake_virt_last_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", &call));
    g_assert_cmpstr(call.dest_uri, ==, DEST);
    g_assert_cmpuint(call.flags & (VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST),
                     ==, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST);
    g_assert_cmpuint(call.max_downtime_ms, ==, job(f)->policy.max_downtime_ms);
    g_assert_cmpint(fake_virt_domain_state(f->fv, DEST, "vm1"), ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "vm1"), ==, -1);
    /* The destination's resume came first, then the call's return. */
    g_assert_true(test_timeline_has(job(f), "vm1 resumed on B after *"));
    g_assert_false(test_timeline_has(job(f), "the destination did not report the resume*"));
    g_assert_true(job(f)->have_figures);
    g_assert_cmpint(job(f)->figures.downtime_ms, ==, 60);
    g_assert_cmpint(job(f)->figures.total_time_ms, ==, 2000);
}

static void
test_migrate_failed(Fixture *f, gconstpointer data)
{
    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_FAIL, NULL,
                               "operation failed: job 'migration out' failed: Unable to write");
    submit(f);
    assert_ended(f, "failed", "the migration failed: operation failed: job 'migration out' "
                              "failed: Unable to write");
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "vm1"), ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(fake_virt_domain_state(f->fv, DEST, "vm1"), ==, -1);
}

/* Samples every poll interval and at each memory pass feed the progress. */
static void
test_stats_sampled(Fixture *f, gconstpointer data)
{
    VirtJobStats stats = { .data_total = 256 << 20, .data_processed = 100 << 20,
                           .data_remaining = 156 << 20, .memory_bps = 50 << 20,
                           .page_size = 4096 };

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_HOLD, &stats, NULL);
    submit(f);
    wait_until(f, has_progress, "a progress sample");
    g_assert_cmpstr(job_state_to_string(job(f)->state), ==, "migrating");
    g_assert_cmpuint(job(f)->progress.data_total, ==, 256 << 20);
    g_assert_cmpuint(job(f)->progress.data_remaining, ==, 156 << 20);
    fake_virt_migration_iteration(f->fv, FAKE_VIRT_LOCAL, "vm1", 3);
    wait_until(f, at_third_pass, "the third pass's sample");
    fake_virt_end_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", TRUE, NULL);
    assert_ended(f, "completed", "vm1 runs on B");
}

/* A cancel aborts libvirt's job; the guest stays here. */
static void
test_cancel_aborts(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_HOLD, NULL, NULL);
    submit(f);
    wait_until(f, has_progress, "a progress sample");
    g_assert_true(engine_cancel(f->engine, f->id, &error));
    assert_ended(f, "cancelled", "cancelled; vm1 keeps running on this host");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ABORT_JOB), ==, 1);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "vm1"), ==, VIR_DOMAIN_RUNNING);
}

/* A migrate call that lost the connection says nothing of libvirt's job:
 * migd follows that job, and its end (here: the guest still here) decides. */
static void
test_migrate_lost_connection(Fixture *f, gconstpointer data)
{
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_MIGRATE, VIRT_OPS_ERROR_DISCONNECTED,
                        "internal error: client socket is closed");
    submit(f);
    assert_ended(f, "failed", "the migration failed: libvirt's migration job ended and vm1 still "
                              "runs on this host");
    g_assert_true(test_timeline_has(job(f), "the migrate call lost migd's connection to libvirt "
                                            "(internal error: client socket is closed)*"));
}

/* --- after a restart ------------------------------------------------------- */

/* The record a previous migd left: the job was migrating. */
static void
left_migrating(Fixture *f)
{
    JobDestination dest = { "B", DEST, NULL, NULL };
    JobOptions options = { .persistent = TRUE };
    static const JobEventKind steps[] = { JOB_EV_SLOT_GRANTED, JOB_EV_CHECKS_PASSED,
                                          JOB_EV_STEP_DONE, JOB_EV_STEP_DONE, JOB_EV_STEP_DONE };
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) record = NULL;
    g_autoptr(Job) old = NULL;
    PolicyConfig policy;
    JobEvent ev;

    policy_config_init_defaults(&policy);
    engine_event_init(&ev, JOB_EV_LAST);
    old = job_new("0b1c2d3e-0000-4000-8000-00000000000a", "vm1", &dest, "none", &options,
                  &policy, NULL, ev.wall_us, ev.mono_ms);
    for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
        engine_event_init(&ev, steps[i]);
        ev.guest_memory = 128 << 20;
        g_array_unref(job_handle(old, &ev));
    }
    g_assert_cmpstr(job_state_to_string(old->state), ==, "migrating");
    record = job_to_json(old);
    g_assert_true(store_save(f->store, old->id, record, &error));
    f->id = g_strdup(old->id);
}

static void
restart(Fixture *f)
{
    g_autoptr(GError) error = NULL;

    stop(f);
    start(f);
    g_assert_true(engine_load(f->engine, &error));
}

static gpointer
previous_migrate(gpointer data)
{
    Fixture *f = data;
    const VirtOps *ops = fake_virt_ops(f->fv);
    g_autoptr(VirtConn) conn = ops->open(ops, FAKE_VIRT_LOCAL, NULL);

    (void)ops->migrate(conn, "vm1", DEST, NULL, 0, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER,
                       NULL);
    return NULL;
}

static void
test_restart_here(Fixture *f, gconstpointer data)
{
    left_migrating(f);
    restart(f);
    assert_ended(f, "failed", "migd restarted while the job was migrating; the migration did "
                              "not happen and vm1 runs on this host as before");
}

/* libvirt's migration outlived migd: followed (samples feed the policy)
 * until it ends, and the guest's resume there completes the job. */
static void
test_restart_still_migrating(Fixture *f, gconstpointer data)
{
    VirtJobStats stats = { .data_total = 256 << 20, .data_remaining = 100 << 20 };

    left_migrating(f);
    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_HOLD, &stats, NULL);
    f->previous = g_thread_new("previous-migd", previous_migrate, f);
    wait_until(f, is_migrating, "the previous migd's migration");
    restart(f);
    wait_until(f, has_progress, "a sample of the followed job");
    g_assert_cmpstr(job_state_to_string(job(f)->state), ==, "migrating");
    g_assert_true(test_timeline_has(job(f), "libvirt's migration job is still running; following it"));
    fake_virt_end_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", TRUE, NULL);
    assert_ended(f, "completed", "vm1 runs on B");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_MIGRATE), ==, 1);
}

/* ... and a cancel after the restart aborts it. */
static void
test_restart_cancel_followed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    left_migrating(f);
    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_HOLD, NULL, NULL);
    f->previous = g_thread_new("previous-migd", previous_migrate, f);
    wait_until(f, is_migrating, "the previous migd's migration");
    restart(f);
    wait_until(f, has_progress, "a sample of the followed job");
    g_assert_true(engine_cancel(f->engine, f->id, &error));
    assert_ended(f, "cancelled", "cancelled; vm1 keeps running on this host");
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "vm1"), ==, VIR_DOMAIN_RUNNING);
}

/* The guest moves to @uri now, as a migration that ends while migd is down. */
static void
migrate_now(Fixture *f, const char *uri)
{
    const VirtOps *ops = fake_virt_ops(f->fv);
    g_autoptr(VirtConn) conn = ops->open(ops, FAKE_VIRT_LOCAL, NULL);

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "vm1", FAKE_MIGRATE_COMPLETE, NULL, NULL);
    g_assert_true(ops->migrate(conn, "vm1", uri, NULL, 0, VIR_MIGRATE_PEER2PEER, NULL));
    fake_virt_flush(f->fv);
}

static void
test_restart_on_destination(Fixture *f, gconstpointer data)
{
    left_migrating(f);
    migrate_now(f, DEST);
    restart(f);
    assert_ended(f, "completed", "vm1 runs on B");
    g_assert_true(test_timeline_has(job(f), "vm1 runs on B: the migration completed*"));
}

static void
test_restart_on_both(Fixture *f, gconstpointer data)
{
    left_migrating(f);
    fake_virt_add_domain(f->fv, DEST, "vm1", guest_xml, VIR_DOMAIN_RUNNING);
    restart(f);
    assert_ended(f, "failed", "vm1 runs on this host AND on B: check both*");
}

/* Neither here nor there: something else moved it away. */
static void
test_restart_nowhere(Fixture *f, gconstpointer data)
{
    left_migrating(f);
    fake_virt_add_host(f->fv, "qemu+tcp://10.200.0.3/system");
    migrate_now(f, "qemu+tcp://10.200.0.3/system");
    restart(f);
    assert_ended(f, "failed", "vm1 runs on neither this host nor B");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A restart and a failure are worth warnings: recorded, not fatal. */
    test_log_capture();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/src/checks/refused-on-destination", test_checks_refused);
    ADD("/src/checks/source-stopped", test_checks_source_stopped);
    ADD("/src/checks/unreachable", test_checks_unreachable);
    ADD("/src/migrate/ok", test_migrate_ok);
    ADD("/src/migrate/failed", test_migrate_failed);
    ADD("/src/migrate/lost-connection", test_migrate_lost_connection);
    ADD("/src/stats/sampled", test_stats_sampled);
    ADD("/src/cancel/aborts", test_cancel_aborts);
    ADD("/src/restart/here", test_restart_here);
    ADD("/src/restart/still-migrating", test_restart_still_migrating);
    ADD("/src/restart/cancel-followed", test_restart_cancel_followed);
    ADD("/src/restart/on-destination", test_restart_on_destination);
    ADD("/src/restart/on-both", test_restart_on_both);
    ADD("/src/restart/nowhere", test_restart_nowhere);
#undef ADD
    return g_test_run();
}
