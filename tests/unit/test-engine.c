/* Tests of the engine with fake operations: the write-ahead store, the
 * outgoing queue and its limit, refusals, loading after a restart, and
 * subscribers. The operations record what was asked; the test plays
 * libvirt by feeding the events back. */
#include <config.h>

#include <glib/gstdio.h>
#include <string.h>

#include "engine.h"
#include "error.h"
#include "testutil.h"

typedef struct {
    Engine *engine;
    Store *store;
    char *dir;
    GString *calls;         /* "op:domain;" for each operation */
    char *state_on_disk;    /* the job's state in its file when run_checks ran */
    GString *heard;         /* events a subscriber heard */
} Fixture;

static Fixture *current;

static char *
state_on_disk(Fixture *f, const Job *job)
{
    g_autofree char *path = g_strdup_printf("%s/jobs/%s.json", f->dir, job->id);
    g_autoptr(json_t) record = json_load_file(path, 0, NULL);

    return record ? g_strdup(json_string_value(json_object_get(record, "state"))) : NULL;
}

static void
record_call(const char *op, Job *job)
{
    g_string_append_printf(current->calls, "%s:%s;", op, job->domain);
}

static void
fake_run_checks(gpointer ctx, Job *job)
{
    record_call("checks", job);
    g_free(current->state_on_disk);
    current->state_on_disk = state_on_disk(current, job);
}

static void fake_nic_step(gpointer ctx, Job *job) { record_call("nic", job); }
static void fake_start(gpointer ctx, Job *job) { record_call("start", job); }
static void fake_downtime(gpointer ctx, Job *job, guint ms) { record_call("downtime", job); }
static void fake_auto_converge(gpointer ctx, Job *job) { record_call("auto-converge", job); }
static void fake_postcopy(gpointer ctx, Job *job) { record_call("postcopy", job); }
static void fake_abort(gpointer ctx, Job *job) { record_call("abort", job); }
static void fake_reconcile(gpointer ctx, Job *job) { record_call("reconcile", job); }
static void fake_watch(gpointer ctx, Job *job) { record_call("watch", job); }
static void fake_finished(gpointer ctx, Job *job) { record_call("finished", job); }
static void fake_switchover(gpointer ctx, Job *job) { record_call("switchover", job); }

static const EngineOps fake_ops = {
    fake_run_checks, fake_nic_step, fake_start, fake_downtime, fake_auto_converge,
    fake_postcopy, fake_abort, fake_reconcile, fake_watch, fake_finished, fake_switchover,
};

static void
engine_start(Fixture *f, guint max_outgoing)
{
    EngineLimits limits = { max_outgoing, 24 };
    g_autoptr(GError) error = NULL;

    f->store = store_open(f->dir, &error);
    g_assert_no_error(error);
    f->engine = engine_new(f->store, &fake_ops, NULL, &limits);
}

static void
engine_stop(Fixture *f)
{
    g_clear_pointer(&f->engine, engine_free);
    g_clear_pointer(&f->store, store_free);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    current = f;
    f->dir = g_dir_make_tmp("test-engine-XXXXXX", NULL);
    f->calls = g_string_new(NULL);
    f->heard = g_string_new(NULL);
    engine_start(f, 1);
}

static int
rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR))
            rm_rf(child);
        else
            (void)g_unlink(child);
    }
    return g_rmdir(path);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    engine_stop(f);
    (void)rm_rf(f->dir);
    g_free(f->dir);
    g_free(f->state_on_disk);
    g_string_free(f->calls, TRUE);
    g_string_free(f->heard, TRUE);
    g_assert_cmpuint(test_log_count(), ==, 0);
}

static Job *
submit(Fixture *f, const char *domain, GError **error)
{
    JobDestination dest = { "B", "qemu+tcp://b/system", NULL, NULL };
    JobOptions options = { .persistent = TRUE };
    PolicyConfig policy;

    policy_config_init_defaults(&policy);
    return engine_submit(f->engine, domain, &dest, "auto", &options, &policy, NULL, error);
}

static void
feed(Fixture *f, Job *job, JobEventKind kind)
{
    JobEvent ev;
    g_autofree char *id = g_strdup(job->id);

    engine_event_init(&ev, kind);
    ev.reason = "the fake says no";
    engine_feed(f->engine, id, &ev);
}

static void
test_write_ahead(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    Job *job = submit(f, "vm1", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(f->calls->str, ==, "checks:vm1;");
    /* The record said "checking" before the checks began. */
    g_assert_cmpstr(f->state_on_disk, ==, "checking");
    feed(f, job, JOB_EV_CHECKS_FAILED);
    g_autofree char *final = state_on_disk(f, job);
    g_assert_cmpstr(final, ==, "failed");
}

static void
test_queue_in_order(Fixture *f, gconstpointer data)
{
    Job *one = submit(f, "vm1", NULL);
    Job *two = submit(f, "vm2", NULL);
    Job *three = submit(f, "vm3", NULL);

    /* One slot: the others wait in order. */
    g_assert_cmpint(one->state, ==, JOB_CHECKING);
    g_assert_cmpint(two->state, ==, JOB_PENDING);
    g_assert_cmpint(three->state, ==, JOB_PENDING);
    feed(f, one, JOB_EV_CHECKS_FAILED);
    g_assert_cmpint(two->state, ==, JOB_CHECKING);
    g_assert_cmpint(three->state, ==, JOB_PENDING);
    /* A cancelled queued job gives up its place. */
    g_assert_true(engine_cancel(f->engine, three->id, NULL));
    g_assert_cmpint(three->state, ==, JOB_CANCELLED);
    feed(f, two, JOB_EV_CHECKS_FAILED);
    g_assert_cmpstr(f->calls->str, ==, "checks:vm1;finished:vm1;checks:vm2;finished:vm3;finished:vm2;");
}

static void
test_raised_limit_lets_queue_in(Fixture *f, gconstpointer data)
{
    EngineLimits limits = { 2, 24 };
    Job *two;

    (void)submit(f, "vm1", NULL);
    two = submit(f, "vm2", NULL);
    g_assert_cmpint(two->state, ==, JOB_PENDING);
    engine_set_limits(f->engine, &limits);
    g_assert_cmpint(two->state, ==, JOB_CHECKING);
}

static void
test_refusals(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) conflict = NULL, missing = NULL, late = NULL, force = NULL;
    Job *one = submit(f, "vm1", NULL);

    g_assert_null(submit(f, "vm1", &conflict));
    g_assert_error(conflict, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_nonnull(strstr(conflict->message, "domain 'vm1' already has an active migration"));
    g_assert_false(engine_cancel(f->engine, "no-such-id", &missing));
    g_assert_error(missing, MIGD_ERROR, MIGD_ERROR_NOT_FOUND);
    g_assert_false(engine_force_complete(f->engine, one->id, &force));
    g_assert_error(force, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    feed(f, one, JOB_EV_CHECKS_FAILED);
    g_assert_false(engine_cancel(f->engine, one->id, &late));
    g_assert_error(late, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    /* Once it ended, the domain may be migrated again. */
    g_assert_nonnull(submit(f, "vm1", NULL));
}

static void
test_unwritable_store_refuses(Fixture *f, gconstpointer data)
{
    g_autofree char *jobs = g_build_filename(f->dir, "jobs", NULL);
    g_autoptr(GError) error = NULL;

    /* A file where the jobs directory was: every write fails. */
    g_assert_cmpint(rm_rf(jobs), ==, 0);
    g_assert_true(g_file_set_contents(jobs, "", 0, NULL));
    g_assert_null(submit(f, "vm1", &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_assert_cmpstr(f->calls->str, ==, "");
    g_assert_cmpuint(test_log_count(), ==, 1);
    g_assert_true(test_log_has("Cannot record the new migration * of vm1, so it is refused: "
                               "cannot write */jobs/*.json: Not a directory"));
    test_log_clear();
    {
        g_autoptr(GPtrArray) listed = engine_list(f->engine, -1, NULL);

        g_assert_cmpuint(listed->len, ==, 0);
    }
}

/* A write-ahead that fails after the job started: the job fails at once,
 * runs nothing of what the event asked for, says why, and lets the next
 * job have its slot and its domain be migrated again. */
static void
test_unwritable_record_fails_the_job(Fixture *f, gconstpointer data)
{
    Job *one = submit(f, "vm1", NULL);
    Job *two = submit(f, "vm2", NULL);
    g_autofree char *record = g_strdup_printf("%s/jobs/%s.json", f->dir, one->id);
    g_autofree char *on_disk = NULL;
    const JobEntry *last;

    g_assert_cmpint(two->state, ==, JOB_PENDING);
    /* A directory where vm1's record is: its writes fail, vm2's do not. */
    g_assert_cmpint(g_unlink(record), ==, 0);
    g_assert_cmpint(g_mkdir(record, 0700), ==, 0);
    g_string_truncate(f->calls, 0);
    feed(f, one, JOB_EV_CHECKS_PASSED);
    /* No NIC step for vm1: its end released it, and vm2 took the slot. */
    g_assert_cmpstr(f->calls->str, ==, "finished:vm1;checks:vm2;");
    g_assert_cmpint(one->state, ==, JOB_FAILED);
    g_assert_cmpint(two->state, ==, JOB_CHECKING);
    g_assert_true(g_pattern_match_simple(
        "migd could not record the job as it went from checking to reserving (cannot write "
        "*/jobs/*.json: Is a directory), so it did nothing for reserving and stopped following "
        "it: the guest was not touched; make the state directory writable (is its disk full?)",
        one->reason));
    last = g_ptr_array_index(one->timeline, one->timeline->len - 1);
    g_assert_cmpstr(last->message, ==, one->reason);
    g_assert_cmpint(last->state, ==, JOB_FAILED);
    g_assert_true(test_log_has("Cannot record migration *, so it fails without acting further: "
                               "cannot write */jobs/*.json*"));
    test_log_clear();
    /* The domain is free again. */
    g_rmdir(record);
    g_assert_nonnull(submit(f, "vm1", NULL));
    g_assert_cmpuint(test_log_count(), ==, 0);
}

static void
on_heard(const char *event, json_t *data, gpointer user_data)
{
    Fixture *f = user_data;

    g_string_append_printf(f->heard, "%s;", event);
}

static void
test_subscribers(Fixture *f, gconstpointer data)
{
    Job *job = submit(f, "vm1", NULL);

    (void)engine_subscribe(f->engine, job->id, on_heard, f);
    feed(f, job, JOB_EV_CHECKS_FAILED);
    g_assert_cmpstr(f->heard->str, ==, "timeline;end;");
}

/* After a restart: queued jobs queue again, running ones are reconciled,
 * finished ones past the retention are removed. */
static void
test_load(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    Job *queued_a, *running, *old;
    g_autofree char *old_id = NULL, *running_id = NULL, *old_path = NULL;
    g_autoptr(GPtrArray) all = NULL;

    running = submit(f, "vm1", NULL);
    queued_a = submit(f, "vm2", NULL);
    old = submit(f, "vm3", NULL);
    g_assert_true(engine_cancel(f->engine, old->id, NULL));
    old_id = g_strdup(old->id);
    running_id = g_strdup(running->id);
    (void)queued_a;
    engine_stop(f);
    /* Age the finished job's record past the 24 h retention. */
    old_path = g_strdup_printf("%s/jobs/%s.json", f->dir, old_id);
    {
        g_autoptr(json_t) record = json_load_file(old_path, 0, NULL);
        g_autoptr(Store) store = store_open(f->dir, NULL);

        json_object_set_new(record, "finished_at", json_string("2020-01-01T00:00:00.000Z"));
        g_assert_true(store_save(store, old_id, record, NULL));
    }
    g_string_truncate(f->calls, 0);
    engine_start(f, 1);
    g_assert_true(engine_load(f->engine, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(f->calls->str, ==, "reconcile:vm1;");
    g_assert_false(g_file_test(old_path, G_FILE_TEST_EXISTS));
    all = engine_list(f->engine, -1, NULL);
    g_assert_cmpuint(all->len, ==, 2);
    /* The reconciled job frees the slot, and the queued one goes. */
    feed(f, engine_lookup(f->engine, running_id), JOB_EV_RECONCILED);
    g_assert_cmpuint(test_log_count(), ==, 1);
    g_assert_true(test_log_has("*migd restarted while the job was checking"));
    test_log_clear();
    g_assert_cmpstr(f->calls->str, ==, "reconcile:vm1;finished:vm1;checks:vm2;");
}

/* A job that finishes sweeps out those past the retention. */
static void
test_prune_when_a_job_finishes(Fixture *f, gconstpointer data)
{
    Job *old = submit(f, "vm1", NULL);
    g_autofree char *old_id = g_strdup(old->id);
    g_autofree char *old_path = g_strdup_printf("%s/jobs/%s.json", f->dir, old_id);
    Job *next;

    feed(f, old, JOB_EV_CHECKS_FAILED);
    old->finished_at_us = 1;    /* 1970: well past 24 hours */
    next = submit(f, "vm2", NULL);
    g_assert_nonnull(engine_lookup(f->engine, old_id));
    feed(f, next, JOB_EV_CHECKS_FAILED);
    g_assert_null(engine_lookup(f->engine, old_id));
    g_assert_false(g_file_test(old_path, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/engine/write-ahead", test_write_ahead);
    ADD("/engine/queue-in-order", test_queue_in_order);
    ADD("/engine/raised-limit-lets-queue-in", test_raised_limit_lets_queue_in);
    ADD("/engine/refusals", test_refusals);
    ADD("/engine/unwritable-store-refuses", test_unwritable_store_refuses);
    ADD("/engine/unwritable-record-fails-the-job", test_unwritable_record_fails_the_job);
    ADD("/engine/subscribers", test_subscribers);
    ADD("/engine/load", test_load);
    ADD("/engine/prune-when-a-job-finishes", test_prune_when_a_job_finishes);
#undef ADD
    return g_test_run();
}
