/* The source's NIC steps (daemon/src-nic*.c) driven through the job machine
 * with the fake hypervisor (fake-virt: libvirt 9.0 as measured) and a
 * scripted destination migd (fake-peer). The engine is the real one with a
 * store in a temporary directory; its operations are a small stand-in for
 * the migrator: the checks classify the fake guest's XML, the migration is
 * scripted. Each test asserts what an operator would check: where the VF
 * is, the job's end and reason, what the destination was asked. */
#include <config.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fake-peer.h"
#include "fake-virt.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "src-nic-priv.h"
#include "testutil.h"

#define DOMAIN "labvm"
#define MIGD_URL "http://10.200.0.2:7480"

static const char guest_xml[] =
    "<domain type='qemu'><name>labvm</name><memory unit='KiB'>262144</memory><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<model type='virtio'/><teaming type='persistent'/><alias name='ua-standby0'/></interface>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<target dev='avf0'/><model type='vmxnet3'/>"
    "<teaming type='transient' persistent='ua-standby0'/><alias name='ua-vf0'/></interface>\n"
    "%s</devices></domain>";

/* A second NIC for the mixed case: in a pool vouched for as able to migrate. */
static const char native_nic_xml[] =
    "  <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br1'/>"
    "<target dev='anat0'/><model type='e1000'/><alias name='ua-nat0'/></interface>\n";

static const char conf_text[] =
    "[daemon]\ntcp_listen = 10.200.0.1:7480\n"
    "[nic]\nverify = none\nunplug_timeout_s = 1\nreplug_timeout_s = 1\nlease_ttl_s = 30\n"
    "[pool.lab]\ntype = emulated\nmodel = vmxnet3\nbridge = br0\nslots = avf0, avf1\n"
    "[pool.nat]\ntype = emulated\nmodel = e1000\nbridge = br1\nslots = anat0\nnative = true\n";

static const char reserved_one[] =
    "{\"job\":\"x\",\"nics\":[{\"alias\":\"ua-vf0\",\"pool\":\"lab\",\"address\":\"bvf0\","
    "\"device_xml\":\"<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
    "<source bridge='br0'/><target dev='bvf0'/><model type='vmxnet3'/></interface>\"}]}";

static const char reserved_two[] =
    "{\"job\":\"x\",\"nics\":[{\"alias\":\"ua-vf0\",\"pool\":\"lab\",\"address\":\"bvf0\","
    "\"device_xml\":\"<interface type='bridge'><target dev='bvf0'/><model type='vmxnet3'/>"
    "</interface>\"},{\"alias\":\"ua-nat0\",\"pool\":\"nat\",\"address\":\"bnat0\","
    "\"device_xml\":\"<interface type='bridge'><source bridge='br1'/><target dev='bnat0'/>"
    "<model type='e1000'/></interface>\"}]}";

static const char replugged_ok[] =
    "{\"replug\":{\"ok\":true,\"replug_ms\":40,\"verify_ms\":0,\"attempts\":1,"
    "\"detail\":\"libvirt reported ua-vf0 added\"}}";

typedef enum {
    MIGRATE_OK,         /* the guest resumes there and the call returns */
    MIGRATE_FAIL,       /* the call fails; the guest stays here */
    MIGRATE_RESUMED,    /* the guest resumes there; the call never returns */
    MIGRATE_HOLD,       /* nothing happens (migd dies meanwhile) */
} MigrateScript;

typedef struct {
    FakeVirt *fv;
    FakePeer *fp;
    Virt *virt;
    MigdConf *conf;
    char *dir;
    Store *store;
    Engine *engine;
    NicSteps *ns;
    char *id;
    MigrateScript migrate;
    char *dest_xml;         /* what the migrate call would get */
    gboolean fast_retries;
    gboolean reservation_scripted;  /* by the test; else submit() grants it */
    gboolean release_scripted;      /* by the test; else submit() accepts it */
    gboolean mixed;
    PluginSet *plugins;     /* setup_state's: the stateful fixture plugin */
    char *calls_log;        /* what it was called for, a line each */
    GPtrArray *old_steps;   /* NicSteps of destinations a job moved away from */
} Fixture;

static Fixture *current;

/* --- the stand-in migrator ------------------------------------------------------ */

static void
feed(JobEventKind kind, const char *reason, json_t *nics)
{
    JobEvent ev;

    engine_event_init(&ev, kind);
    ev.reason = reason;
    ev.nics = nics;
    ev.guest_memory = 256 << 20;
    engine_feed(current->engine, current->id, &ev);
}

static NicSteps *
steps_new(Fixture *f, Job *job)
{
    NicSteps *ns = nic_steps_new(f->engine, f->virt, f->conf, job);

    nic_steps_set_plugins(ns, f->plugins);
    if (f->fast_retries) {
        ns->retry_every_ms = ns->busy_every_ms = 20;
        ns->retry_for_ms = ns->busy_for_ms = 200;
    }
    return ns;
}

static gboolean
checks_idle(gpointer data)
{
    Fixture *f = data;
    Job *job = engine_lookup(f->engine, f->id);
    g_autofree char *xml = fake_virt_domain_xml(f->fv, FAKE_VIRT_LOCAL, DOMAIN);
    g_autofree char *refusal = NULL;
    g_autofree char *summary = NULL;
    g_autoptr(json_t) nics = NULL;
    gboolean postcopy_forbidden;

    if (!nic_steps_classify_xml(f->ns, f->conf, xml, xml, job, &postcopy_forbidden, &refusal,
                                &summary)) {
        feed(JOB_EV_CHECKS_FAILED, refusal, NULL);
        return G_SOURCE_REMOVE;
    }
    nics = nic_steps_to_json(f->ns);
    feed(JOB_EV_CHECKS_PASSED, NULL, nics);
    return G_SOURCE_REMOVE;
}

static void
op_run_checks(gpointer ctx, Job *job)
{
    /* Checks again: the job moved to the next destination "auto" chose;
     * the old steps may be the caller, so they go at the end. */
    if (current->ns) {
        if (!current->old_steps)
            current->old_steps = g_ptr_array_new_with_free_func((GDestroyNotify)nic_steps_free);
        g_ptr_array_add(current->old_steps, current->ns);
    }
    g_free(current->id);
    current->id = g_strdup(job->id);
    current->ns = steps_new(current, job);
    g_idle_add(checks_idle, current);
}

static void
op_nic_step(gpointer ctx, Job *job)
{
    nic_steps_run(current->ns, job);
}

static gboolean
migrate_idle(gpointer data)
{
    Fixture *f = data;

    switch (f->migrate) {
    case MIGRATE_OK:
        feed(JOB_EV_DEST_RESUMED, NULL, NULL);
        feed(JOB_EV_MIGRATE_RETURNED, NULL, NULL);
        break;
    case MIGRATE_FAIL:
        feed(JOB_EV_MIGRATE_FAILED, "the destination's libvirtd went away", NULL);
        break;
    case MIGRATE_RESUMED:
        feed(JOB_EV_DEST_RESUMED, NULL, NULL);
        break;
    case MIGRATE_HOLD:
        break;
    }
    return G_SOURCE_REMOVE;
}

static void
op_start_migration(gpointer ctx, Job *job)
{
    virTypedParameterPtr params = NULL;
    int n = 0, max = 0;
    const char *dest_xml = NULL;

    nic_steps_migrate_params(current->ns, NULL, job, &params, &n, &max);
    (void)virTypedParamsGetString(params, n, VIR_MIGRATE_PARAM_DEST_XML, &dest_xml);
    current->dest_xml = g_strdup(dest_xml);
    virTypedParamsFree(params, n);
    g_idle_add(migrate_idle, current);
}

/* After a restart: the steps rebuilt from the record carry on where the
 * record says the job was (the machine's reconcile is src-reconcile.c's;
 * here the job's recorded state is the one to finish). */
static void
op_reconcile(gpointer ctx, Job *job)
{
    /* Checks again: the job moved to the next destination "auto" chose;
     * the old steps may be the caller, so they go at the end. */
    if (current->ns) {
        if (!current->old_steps)
            current->old_steps = g_ptr_array_new_with_free_func((GDestroyNotify)nic_steps_free);
        g_ptr_array_add(current->old_steps, current->ns);
    }
    g_free(current->id);
    current->id = g_strdup(job->id);
    current->ns = steps_new(current, job);
    nic_steps_run(current->ns, job);
}

static void
op_finished(gpointer ctx, Job *job)
{
    nic_steps_finish(current->ns);
    g_clear_pointer(&current->ns, nic_steps_free);
}

static void
op_switchover(gpointer ctx, Job *job)
{
    nic_steps_switchover(current->ns, job);
}

static void op_nothing(gpointer ctx, Job *job) { }
static void op_downtime(gpointer ctx, Job *job, guint ms) { }

static const EngineOps ops = {
    .run_checks = op_run_checks,
    .nic_step = op_nic_step,
    .start_migration = op_start_migration,
    .set_downtime = op_downtime,
    .auto_converge = op_nothing,
    .postcopy = op_nothing,
    .abort_migration = op_nothing,
    .reconcile = op_reconcile,
    .watch_libvirt_job = op_nothing,
    .finished = op_finished,
    .switchover = op_switchover,
};

/* --- fixture ------------------------------------------------------------------- */

static void
engine_start(Fixture *f)
{
    EngineLimits limits = { 2, 24 };
    g_autoptr(GError) error = NULL;

    f->store = store_open(f->dir, &error);
    g_assert_no_error(error);
    f->engine = engine_new(f->store, &ops, f, &limits);
}

/* migd dies: nothing is cleaned up, the record stays as it was written. */
static void
engine_crash(Fixture *f)
{
    g_clear_pointer(&f->ns, nic_steps_free);
    g_clear_pointer(&f->engine, engine_free);
    g_clear_pointer(&f->store, store_free);
}

static void
add_guest(Fixture *f, const char *extra)
{
    g_autofree char *xml = g_strdup_printf(guest_xml, extra);

    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, DOMAIN, xml, VIR_DOMAIN_RUNNING);
}

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    current = f;
    f->fv = fake_virt_new();
    f->virt = fake_virt_new_virt(f->fv);
    f->fp = fake_peer_new();
    f->conf = conf_load_data("test.conf", conf_text, &error);
    g_assert_no_error(error);
    f->dir = g_dir_make_tmp("test-src-nic-XXXXXX", NULL);
    f->fast_retries = TRUE;
    f->mixed = data != NULL;
    engine_start(f);
    add_guest(f, data ? data : "");
    /* prepare, renew and replug: only the replug reads the answer. */
    fake_peer_answer(f->fp, "POST", "/v1/reservations/*", 200, replugged_ok);
}

static gboolean
workers_done(Fixture *f, gconstpointer arg)
{
    return hotplug_outstanding() == 0 && nic_xml_reads_outstanding() == 0 &&
           plugin_call_in_flight() == 0;
}

static gboolean
release_held(Fixture *f, gconstpointer arg)
{
    return fake_peer_held(f->fp) > 0;
}

static gboolean
releases_done(Fixture *f, gconstpointer arg)
{
    return nic_steps_releases_pending() == 0;
}

static void run_until(Fixture *f, gboolean (*done)(Fixture *f, gconstpointer arg),
                      gconstpointer arg);

/* Until the releases of ended jobs are over. Where the destination is
 * down, one ends with its warning in the log: that is its outcome, not a
 * failure of the test. */
static void
drain_releases(Fixture *f)
{
    GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK);

    run_until(f, releases_done, NULL);
    g_log_set_always_fatal(fatal);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_clear_pointer(&f->ns, nic_steps_free);
    g_clear_pointer(&f->old_steps, g_ptr_array_unref);
    g_clear_pointer(&f->engine, engine_free);
    g_clear_pointer(&f->store, store_free);
    /* A worker that still holds a connection of the fake must end first,
     * and so must the releases of ended jobs, which would otherwise ask
     * the next test's destination. */
    run_until(f, workers_done, NULL);
    drain_releases(f);
    fake_peer_flush(f->fp);
    fake_peer_free(f->fp);
    g_clear_pointer(&f->virt, virt_free);
    fake_virt_flush(f->fv);
    fake_virt_free(f->fv);
    conf_free(f->conf);
    g_clear_pointer(&f->plugins, plugin_set_free);
    g_free(f->calls_log);
    test_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->id);
    g_free(f->dest_xml);
    current = NULL;
}

/* --- driving -------------------------------------------------------------------- */

static gboolean
deadline_passed(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

static Job *
job_now(Fixture *f)
{
    return f->id ? engine_lookup(f->engine, f->id) : NULL;
}

/* Runs the loop until @done says so; a test that waits 20 s has failed. */
static void
run_until(Fixture *f, gboolean (*done)(Fixture *f, gconstpointer arg), gconstpointer arg)
{
    gboolean late = FALSE;
    guint timer = g_timeout_add_seconds(20, deadline_passed, &late);

    while (!done(f, arg) && !late)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(late);
    g_source_remove(timer);
}

static gboolean
is_final(Fixture *f, gconstpointer arg)
{
    Job *job = job_now(f);

    return job && job_state_is_final(job->state);
}

static gboolean
in_state(Fixture *f, gconstpointer arg)
{
    Job *job = job_now(f);

    return job && (int)job->state == GPOINTER_TO_INT(arg);
}

static gboolean
detach_sent(Fixture *f, gconstpointer arg)
{
    return fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_DETACH_ALIAS) > 0;
}

static gboolean
asked(Fixture *f, gconstpointer arg)
{
    const char *const *route = arg;

    return fake_peer_count(f->fp, route[0], route[1]) > 0;
}

static void
submit_to(Fixture *f, const char *strategy, const JobDestination *dest)
{
    JobOptions options = { 0 };
    PolicyConfig policy;
    g_autoptr(GError) error = NULL;

    policy_config_init_defaults(&policy);
    if (!f->reservation_scripted)
        fake_peer_answer(f->fp, "POST", "/v1/reservations", 201,
                         f->mixed ? reserved_two : reserved_one);
    if (!f->release_scripted)
        fake_peer_answer(f->fp, "DELETE", "/v1/reservations/*", 200, "{}");
    g_assert_nonnull(engine_submit(f->engine, DOMAIN, dest, strategy, &options, &policy,
                                   "unix socket", &error));
    g_assert_no_error(error);
}

static void
submit(Fixture *f, const char *strategy)
{
    JobDestination dest = { "B", "qemu+tcp://10.200.0.2/system", MIGD_URL, NULL };

    submit_to(f, strategy, &dest);
}

/* The path of the job's reservation, with @suffix ("/replug", ...). */
static char *
route(Fixture *f, const char *suffix)
{
    return g_strdup_printf("/v1/reservations/%s%s", f->id, suffix);
}

static Job *
run_to_end(Fixture *f)
{
    run_until(f, is_final, NULL);
    fake_peer_flush(f->fp);
    return job_now(f);
}

static Job *
migrate_to_end(Fixture *f)
{
    submit(f, "auto");
    return run_to_end(f);
}

static json_t *
device(const Job *job, guint i)
{
    return json_array_get(json_object_get(job->nics, "devices"), i);
}

static const char *
device_state(const Job *job, guint i)
{
    return json_string_value(json_object_get(device(job, i), "state"));
}

/* Where the first timeline message matching @pattern is, or G_MAXUINT. */
static guint
timeline_at(const Job *job, const char *pattern)
{
    for (guint i = 0; i < job->timeline->len; i++) {
        const JobEntry *e = g_ptr_array_index(job->timeline, i);

        if (g_pattern_match_simple(pattern, e->message))
            return i;
    }
    return G_MAXUINT;
}

/* Whether a timeline message matches the glob @pattern. */
static gboolean
timeline_has(const Job *job, const char *pattern)
{
    return timeline_at(job, pattern) != G_MAXUINT;
}

static gboolean
timeline_says(Fixture *f, gconstpointer arg)
{
    Job *job = job_now(f);

    return job && timeline_has(job, arg);
}

static gboolean
guest_has_vf(Fixture *f, const char *alias)
{
    return fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, DOMAIN, alias);
}

static guint
calls(Fixture *f, FakeOp op)
{
    return fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, op);
}

static guint
deletes(Fixture *f)
{
    return fake_peer_count(f->fp, "DELETE", "/v1/reservations/*");
}

/* --- unplug ------------------------------------------------------------------------ */

static void
test_unplug_ok(Fixture *f, gconstpointer data)
{
    Job *job = migrate_to_end(f);
    json_t *reservation = json_object_get(job->nics, "reservation");

    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(device(job, 0),
                                                                      "destination"),
                                                      "address")), ==, "bvf0");
    /* What a restarted migd would need: the device's XML and the reservation. */
    g_assert_true(g_pattern_match_simple("<interface*<target dev=?avf0?/>*ua-vf0*</interface>",
                                         json_string_value(json_object_get(device(job, 0),
                                                                           "xml"))));
    g_assert_cmpstr(json_string_value(json_object_get(reservation, "id")), ==, job->id);
    g_assert_cmpstr(json_string_value(json_object_get(reservation, "migd_url")), ==, MIGD_URL);
    g_assert_false(guest_has_vf(f, "ua-vf0"));
    g_assert_true(timeline_has(job, "the guest released ua-vf0 after * ms (DEVICE_REMOVED)"));
    g_assert_cmpint(json_integer_value(json_object_get(job->nics, "no_vf_window_ms")), >=, 0);
    /* The end releases the reservation (the VF is the guest's there now). */
    g_assert_cmpuint(deletes(f), ==, 1);
}

static void
test_unplug_removal_failed(Fixture *f, gconstpointer data)
{
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_FAILED);
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "DEVICE_REMOVAL_FAILED"));
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "attached");
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 0);
    g_assert_cmpuint(deletes(f), ==, 1);
    g_assert_true(timeline_has(job, "nothing was unplugged; the destination's reservation and "
                                    "its leases are released"));
}

static void
test_unplug_never_acked(Fixture *f, gconstpointer data)
{
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "did not release ua-vf0"));
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 0);
    /* The guest may still let go later: nothing would notice, so it is said. */
    g_assert_true(timeline_has(job, "the guest was asked to release ua-vf0 and has not*"));
}

/* The cancel comes while the guest has not answered; the detach goes ahead
 * in libvirt (the guest lets go after the cancel), so the rollback must
 * find it gone and plug it back in. */
static void
test_unplug_cancel_midway(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    submit(f, "auto");
    run_until(f, detach_sent, NULL);
    g_assert_true(engine_cancel(f->engine, f->id, &error));
    g_assert_no_error(error);
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_CANCELLED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 1);
    g_assert_true(timeline_has(job, "the VF is plugged back in here*"));
}

/* The record cannot be written when the guest lets go: the job ends there
 * (core's rule for a failed write-ahead) and the NIC steps, freed by that
 * end while they noted the release, touch nothing more. */
static void
test_unplug_write_ahead_fails(Fixture *f, gconstpointer data)
{
    g_autofree char *record = NULL;
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    submit(f, "auto");
    run_until(f, detach_sent, NULL);
    record = g_strdup_printf("%s/jobs/%s.json", f->dir, f->id);
    g_assert_cmpint(g_unlink(record), ==, 0);
    g_assert_cmpint(g_mkdir(record, 0700), ==, 0);
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "could not record the job"));
    g_assert_null(f->ns);
    g_assert_true(test_log_has("Cannot record migration *"));
    test_log_clear();
    g_assert_cmpint(g_rmdir(record), ==, 0);
}

/* --- reserve ----------------------------------------------------------------------- */

static void
test_reserve_busy_then_granted(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", "/v1/reservations", MIGD_ERROR_BUSY, "job x is number 1");
    fake_peer_answer(f->fp, "POST", "/v1/reservations", 201, reserved_one);
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 2);
    g_assert_true(timeline_has(job, "waiting for an incoming slot on the destination for the "
                                    "reservation (*job x is number 1); asking again every * s "
                                    "until * UTC"));
}

static void
test_reserve_busy_deadline(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", "/v1/reservations", MIGD_ERROR_BUSY, "job x is number 3");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "no free incoming slot"));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    /* A busy answer holds nothing there: nothing to release. */
    g_assert_cmpuint(deletes(f), ==, 0);
}

/* The destination named by the request refuses the reservation with
 * @code: the job fails with its words (@reason) and nothing was touched. */
static void
assert_refused_by_name(Fixture *f, MigdErrorCode code, const char *message, const char *reason)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", "/v1/reservations", code, message);
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, reason));
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 1);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
}

static void
test_reserve_no_vf(Fixture *f, gconstpointer data)
{
    assert_refused_by_name(f, MIGD_ERROR_NO_FREE_VF, "no free VF in pool 'lab'",
                           "no free VF in pool 'lab'");
}

/* Destination "auto" chose B, with C next: the job submitted so. */
static void
submit_auto_b_then_c(Fixture *f)
{
    g_autoptr(json_t) choice = json_pack(
        "{s:s,s:s,s:[],s:[{s:s,s:s,s:s,s:s}]}", "chosen", "B", "why", "the best of 2 peers",
        "refused", "remaining", "name", "C", "libvirt_uri", "qemu+tcp://10.200.0.3/system",
        "migd_url", "http://10.200.0.3:7480", "why", "the second of 2 peers");
    JobDestination dest = { "B", "qemu+tcp://10.200.0.2/system", MIGD_URL, choice };

    submit_to(f, "auto", &dest);
}

/* Destination "auto" chose B, and C next; another source took B's last VF
 * between the capacity read and the reservation: the job goes to C. */
static void
test_reserve_refused_next_peer(Fixture *f, gconstpointer data)
{
    json_t *refused;
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", MIGD_URL "/v1/reservations", MIGD_ERROR_NO_FREE_VF,
                    "no free VF in pool 'lab': 2 leased, 0 in use");
    fake_peer_answer(f->fp, "POST", "http://10.200.0.3:7480/v1/reservations", 201,
                     reserved_one);
    submit_auto_b_then_c(f);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(job->dest.name, ==, "C");
    g_assert_cmpstr(job->dest.migd_url, ==, "http://10.200.0.3:7480");
    g_assert_cmpstr(fake_peer_last(f->fp, "POST", "/v1/reservations")->base_url, ==,
                    "http://10.200.0.3:7480");
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 2);
    g_assert_cmpstr(json_string_value(json_object_get(job->dest.choice, "chosen")), ==, "C");
    refused = json_array_get(json_object_get(job->dest.choice, "refused"), 0);
    g_assert_cmpstr(json_string_value(json_object_get(refused, "peer")), ==, "B");
    g_assert_nonnull(strstr(json_string_value(json_object_get(refused, "why")),
                            "no free VF in pool 'lab': 2 leased, 0 in use"));
    g_assert_cmpuint(json_array_size(json_object_get(job->dest.choice, "remaining")), ==, 0);
    g_assert_true(timeline_has(job, "B refused the reservation (*no free VF*); trying C, the "
                                    "next choice"));
}

/* A drain started on B after the capacity read: B refuses with 503
 * draining; a job whose destination migd chose goes to C, one sent to B
 * by name fails before anything is touched, with B's words. */
static void
test_reserve_draining(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", MIGD_URL "/v1/reservations", MIGD_ERROR_DRAINING,
                    "this host is being drained (drain d-1) and takes no incoming migration");
    fake_peer_answer(f->fp, "POST", "http://10.200.0.3:7480/v1/reservations", 201,
                     reserved_one);
    submit_auto_b_then_c(f);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(job->dest.name, ==, "C");
    g_assert_true(timeline_has(job, "B refused the reservation (*being drained (drain d-1)*); "
                                    "trying C, the next choice"));
}

static void
test_reserve_draining_named(Fixture *f, gconstpointer data)
{
    assert_refused_by_name(f, MIGD_ERROR_DRAINING,
                           "this host is being drained (drain d-1) and takes no incoming "
                           "migration", "being drained (drain d-1)");
}

/* The last candidate refusing too fails the job, with every refusal said. */
static void
test_reserve_refused_no_next_peer(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", "/v1/reservations", MIGD_ERROR_BUSY,
                    "this host takes at most 2 incoming migrations at once");
    submit_auto_b_then_c(f);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_cmpstr(job->dest.name, ==, "C");
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), >=, 2);
    g_assert_cmpuint(json_array_size(json_object_get(job->dest.choice, "refused")), ==, 1);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
}

static void
test_reserve_libvirt_disconnected(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_error(f->fp, "POST", "/v1/reservations", MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd cannot reach libvirt right now");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "cannot reach its libvirt (libvirt_disconnected)"));
    /* Given up at once: no retry, no waiting message about a slot. */
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 1);
    g_assert_false(timeline_has(job, "waiting for an incoming slot*"));
}

static void
test_reserve_destination_down(Fixture *f, gconstpointer data)
{
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_refused(f->fp, "POST", "/v1/reservations");
    f->release_scripted = TRUE;
    fake_peer_refused(f->fp, "DELETE", "/v1/reservations/*");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "did not answer the reservation within"));
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), >, 1);
    g_assert_true(timeline_has(job, "the destination's migd did not answer the reservation *"
                                    "asking again every * s until *"));
    /* A request may have arrived there: the release is tried, and when it
     * fails too the timeline says so and names the TTL. */
    g_assert_cmpuint(deletes(f), >, 1);
    g_assert_true(timeline_has(job, "*reservation could NOT be released*at their TTL*"));
    g_assert_false(timeline_has(job, "*reservation and its leases are released*"));
}

static void
test_reserve_down_then_up(Fixture *f, gconstpointer data)
{
    Job *job;

    fake_peer_refused(f->fp, "POST", "/v1/reservations");
    f->reservation_scripted = TRUE;
    fake_peer_answer(f->fp, "POST", "/v1/reservations", 201, reserved_one);
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 2);
}

/* The cancel comes while the reservation's answer is on its way: when it
 * comes, the reservation is released, not leaked until its TTL. */
static void
test_reserve_cancel_before_answer(Fixture *f, gconstpointer data)
{
    static const char *const route[] = { "POST", "/v1/reservations" };
    g_autoptr(GError) error = NULL;
    Job *job;

    f->reservation_scripted = TRUE;
    fake_peer_hold(f->fp, "POST", "/v1/reservations");
    submit(f, "auto");
    run_until(f, asked, route);
    g_assert_true(engine_cancel(f->engine, f->id, &error));
    g_assert_no_error(error);
    fake_peer_flush(f->fp);
    g_assert_cmpuint(deletes(f), ==, 0);
    g_assert_false(job_state_is_final(job_now(f)->state));
    g_assert_cmpuint(fake_peer_release(f->fp), ==, 1);
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_CANCELLED);
    g_assert_cmpuint(deletes(f), ==, 1);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
}

/* --- replug ------------------------------------------------------------------------- */

static void
test_replug_retry(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = NULL;
    Job *job;

    submit(f, "auto");
    replug = route(f, "/replug");
    fake_peer_refused(f->fp, "POST", replug);
    fake_peer_answer(f->fp, "POST", replug, 200, replugged_ok);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", replug), ==, 2);
}

static void
test_replug_failed(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = NULL;
    Job *job;

    submit(f, "auto");
    replug = route(f, "/replug");
    fake_peer_answer(f->fp, "POST", replug, 200,
                     "{\"replug\":{\"ok\":false,\"replug_ms\":900,\"verify_ms\":0,"
                     "\"attempts\":3,\"detail\":\"ua-vf0 was not plugged after 3 attempts\"}}");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_nonnull(strstr(job->reason, "WITHOUT its passthrough NIC (ua-vf0)"));
    g_assert_true(timeline_has(job, "*not plugged after 3 attempts*"));
    g_assert_cmpstr(device_state(job, 0), ==, "unplugged");
}

static void
test_replug_lost(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = NULL;
    Job *job;

    submit(f, "auto");
    replug = route(f, "/replug");
    fake_peer_refused(f->fp, "POST", replug);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_nonnull(strstr(job->reason, "WITHOUT"));
    g_assert_true(timeline_has(job, "*did not answer the replug within*"));
}

/* --- rollback ------------------------------------------------------------------------- */

static void
test_rollback_after_migration_failed(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_FAIL;
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
    g_assert_true(timeline_has(job, "plugging ua-vf0 back in here"));
    g_assert_true(timeline_has(job, "the VF is plugged back in here and the guest uses it again; "
                                    "the destination's reservation and its leases are released"));
    g_assert_cmpuint(deletes(f), ==, 1);
}

static void
test_rollback_prepare_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job;

    submit(f, "auto");
    prepare = route(f, "/prepare");
    fake_peer_error(f->fp, "POST", prepare, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd on the destination is not connected to libvirt");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_cmpuint(deletes(f), ==, 1);
}

/* The link is cut while rolling back: the release is retried until its
 * deadline, and the job says the truth. */
static void
test_rollback_release_fails(Fixture *f, gconstpointer data)
{
    Job *job;
    guint before;

    f->migrate = MIGRATE_FAIL;
    f->release_scripted = TRUE;
    fake_peer_timeout(f->fp, "DELETE", "/v1/reservations/*");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(deletes(f), >, 1);
    g_assert_true(timeline_has(job, "the destination's migd did not answer the release of its "
                                    "reservation*until*"));
    g_assert_true(timeline_has(job, "*could NOT be released*by * UTC at the latest"));
    g_assert_false(timeline_has(job, "*leases are released*"));
    g_assert_true(json_is_true(json_object_get(job->nics, "reserved")));
    /* The job is over; its release asks on for a while, then gives up. */
    g_assert_cmpuint(nic_steps_releases_pending(), ==, 1);
    before = deletes(f);
    drain_releases(f);
    g_assert_cmpuint(deletes(f), >, before);
}

/* migd stops while an ended job's release waits for its answer: the
 * release is dropped, and the answer that comes later touches nothing. */
static void
test_rollback_release_dropped(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_FAIL;
    f->release_scripted = TRUE;
    fake_peer_timeout(f->fp, "DELETE", "/v1/reservations/*");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    fake_peer_hold(f->fp, "DELETE", "/v1/reservations/*");
    run_until(f, release_held, NULL);
    g_assert_cmpuint(nic_steps_releases_pending(), ==, 1);
    g_test_expect_message("migd", G_LOG_LEVEL_WARNING, "Job *: migd stops before the "
                          "destination answered the release of its reservation: *leases there "
                          "end by themselves at their TTL, in * s at the latest");
    nic_steps_releases_drop();
    g_test_assert_expected_messages();
    g_assert_cmpuint(nic_steps_releases_pending(), ==, 0);
    g_assert_cmpuint(fake_peer_release(f->fp), >=, 1);
    fake_peer_flush(f->fp);
}

static void
test_rollback_attach_fails(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_FAIL;
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH, VIRT_OPS_ERROR_FAILED,
                        "internal error: unable to execute QEMU command 'device_add'");
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_false(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "lost");
    g_assert_true(timeline_has(job, "rollback incomplete: ua-vf0 could not be given back to "
                                    "labvm, which runs on this host WITHOUT its passthrough NIC*"));
}

/* --- mixed ------------------------------------------------------------------------------ */

static void
test_mixed(Fixture *f, gconstpointer data)
{
    Job *job = migrate_to_end(f);

    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(json_string_value(json_object_get(job->nics, "strategy")), ==, "mixed");
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpstr(device_state(job, 1), ==, "attached");
    /* Only the unplugged one left; the native one migrates, pointed at B's VF. */
    g_assert_false(guest_has_vf(f, "ua-vf0"));
    g_assert_true(guest_has_vf(f, "ua-nat0"));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 1);
    g_assert_nonnull(f->dest_xml);
    g_assert_nonnull(strstr(f->dest_xml, "bnat0"));
    g_assert_null(strstr(f->dest_xml, "anat0"));
    /* The destination is told each NIC's strategy and where to ask about
     * the job. */
    {
        const FakePeerRequest *q = fake_peer_last(f->fp, "POST", "/v1/reservations");
        json_t *nics = json_object_get(q->body, "nics");

        g_assert_cmpstr(json_string_value(json_object_get(q->body, "strategy")), ==, "mixed");
        g_assert_cmpstr(json_string_value(json_object_get(json_array_get(nics, 0), "strategy")),
                        ==, "unplug");
        g_assert_cmpstr(json_string_value(json_object_get(json_array_get(nics, 1), "strategy")),
                        ==, "native");
        g_assert_cmpstr(json_string_value(json_object_get(q->body, "source_url")), ==,
                        "http://10.200.0.1:7480");
    }
}

static void
test_mixed_rollback(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_FAIL;
    job = migrate_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
    g_assert_cmpstr(device_state(job, 1), ==, "attached");
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 1);
}

/* --- after a restart --------------------------------------------------------------------- */

static json_t *
record_read(Fixture *f, const char *id)
{
    g_autofree char *path = g_strdup_printf("%s/jobs/%s.json", f->dir, id);
    json_t *record = json_load_file(path, 0, NULL);

    g_assert_nonnull(record);
    return record;
}

/* Rewrites the record as if migd had died in @state (the reconcile's
 * choice is src-reconcile.c's; here it is given). */
static void
record_set_state(Fixture *f, const char *id, const char *state)
{
    g_autofree char *path = g_strdup_printf("%s/jobs/%s.json", f->dir, id);
    g_autoptr(json_t) record = record_read(f, id);

    json_object_set_new(record, "state", json_string(state));
    g_assert_cmpint(json_dump_file(record, path, 0), ==, 0);
}

static void
restart(Fixture *f, const char *state)
{
    g_autofree char *id = g_strdup(f->id);
    g_autoptr(GError) error = NULL;

    engine_crash(f);
    fake_peer_flush(f->fp);
    record_set_state(f, id, state);
    g_clear_pointer(&f->id, g_free);
    engine_start(f);
    g_assert_true(engine_load(f->engine, &error));
    g_assert_no_error(error);
}

/* Killed while migrating with the VF unplugged, the migration gone: the
 * VF is plugged back in from the saved XML, the reservation released. */
static void
test_restart_rolling_back(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_HOLD;
    submit(f, "auto");
    run_until(f, in_state, GINT_TO_POINTER(JOB_MIGRATING));
    g_assert_false(guest_has_vf(f, "ua-vf0"));
    restart(f, "rolling-back");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
    g_assert_cmpuint(deletes(f), ==, 1);
}

/* Killed right after the detach was sent, before DEVICE_REMOVED was
 * recorded: the record says attached, the live XML says gone. */
static void
test_restart_after_unplug_request(Fixture *f, gconstpointer data)
{
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    submit(f, "auto");
    run_until(f, detach_sent, NULL);
    engine_crash(f);
    /* The guest lets go while migd is down: the detach was sent. */
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0");
    fake_virt_flush(f->fv);
    {
        g_autoptr(json_t) record = record_read(f, f->id);

        g_assert_cmpstr(json_string_value(json_object_get(
                            json_array_get(json_object_get(json_object_get(record, "nics"),
                                                           "devices"), 0), "state")),
                        ==, "attached");
    }
    restart(f, "rolling-back");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
}

/* Killed right after the detach was sent, and the guest still has the VF
 * when migd is back: it is asked again and its answer awaited, since it
 * could otherwise let go later with nothing to plug it back. It lets go:
 * the VF is plugged back in. */
static void
test_restart_unplug_unanswered(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) record = NULL;
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    submit(f, "auto");
    run_until(f, detach_sent, NULL);
    record = record_read(f, f->id);
    g_assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(json_object_get(record, "nics"), "devices"), 0),
        "detach_pending")));
    restart(f, "rolling-back");
    run_until(f, timeline_says, "*before migd restarted and still has it: asking again*");
    /* The guest answers the first request now (libvirt 9.0 takes the
     * second without a word, and tells the one outcome). */
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "restored");
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 2);
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 1);
    g_assert_true(timeline_has(job, "the guest was asked to release ua-vf0 before migd restarted "
                                    "and still has it: asking again*"));
    g_assert_true(timeline_has(job, "the guest released ua-vf0 when asked again*"));
}

/* The same, and the guest does not answer the second ask either: it keeps
 * the VF, nothing is plugged, the record says attached. */
static void
test_restart_unplug_never_answered(Fixture *f, gconstpointer data)
{
    Job *job;

    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, DOMAIN, "ua-vf0", FAKE_UNPLUG_NEVER);
    submit(f, "auto");
    run_until(f, detach_sent, NULL);
    restart(f, "rolling-back");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "attached");
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 0);
    g_assert_true(timeline_has(job, "the guest keeps ua-vf0: *"));
    g_assert_null(json_object_get(json_array_get(json_object_get(job->nics, "devices"), 0),
                                  "detach_pending"));
}

/* Killed in the rollback just after the VF went back in: the live XML has
 * it, so it is not plugged twice (libvirt would refuse the alias). */
static void
test_restart_rollback_already_restored(Fixture *f, gconstpointer data)
{
    static const char vf[] =
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
        "<target dev='avf0'/><model type='vmxnet3'/><alias name='ua-vf0'/></interface>";
    g_autoptr(GError) error = NULL;
    g_autoptr(VirtConn) conn = NULL;
    Job *job;

    f->migrate = MIGRATE_HOLD;
    submit(f, "auto");
    run_until(f, in_state, GINT_TO_POINTER(JOB_MIGRATING));
    conn = virt_conn(f->virt);
    g_assert_true(virt_conn_ops(conn)->attach(conn, DOMAIN, vf, &error));
    g_assert_no_error(error);
    restart(f, "rolling-back");
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(calls(f, FAKE_OP_ATTACH), ==, 1);
    g_assert_cmpstr(device_state(job, 0), ==, "attached");
    g_assert_true(timeline_has(job, "nothing was unplugged; *"));
    g_assert_cmpuint(deletes(f), ==, 1);
}

static gboolean
in_replugging_and_asked(Fixture *f, gconstpointer arg)
{
    g_autofree char *replug = route(f, "/replug");

    return in_state(f, GINT_TO_POINTER(JOB_REPLUGGING)) &&
           fake_peer_count(f->fp, "POST", replug) > 0;
}

/* The replug's POST stays unanswered (migd dies meanwhile). */
static char *
submit_holding_replug(Fixture *f)
{
    char *replug;

    f->migrate = MIGRATE_RESUMED;
    submit(f, "auto");
    replug = route(f, "/replug");
    fake_peer_hold(f->fp, "POST", replug);
    run_until(f, in_replugging_and_asked, NULL);
    return replug;
}

/* Killed in replugging: the destination is asked whether it replugged
 * (it did), and not asked to plug again. */
static void
test_restart_replugging_done_there(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = submit_holding_replug(f);
    Job *job;

    fake_peer_answer(f->fp, "GET", "/v1/reservations/*", 200,
                     "{\"replug\":{\"state\":\"done\",\"ok\":true,\"replug_ms\":45,"
                     "\"verify_ms\":0,\"attempts\":1,\"detail\":\"added\"}}");
    restart(f, "replugging");
    (void)fake_peer_release(f->fp);
    run_until(f, in_state, GINT_TO_POINTER(JOB_VERIFYING));
    fake_peer_flush(f->fp);
    job = job_now(f);
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpint(json_integer_value(json_object_get(job->nics, "replug_ms")), ==, 45);
    g_assert_cmpuint(fake_peer_count(f->fp, "GET", "/v1/reservations/*"), ==, 1);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", replug), ==, 1);
}

static gboolean
replugged(Fixture *f, gconstpointer arg)
{
    Job *job = job_now(f);

    return job && g_strcmp0(device_state(job, 0), "replugged") == 0;
}

/* The same, but the destination had not replugged: it is asked to. */
static void
test_restart_replugging_not_yet(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = submit_holding_replug(f);
    Job *job;

    fake_peer_answer(f->fp, "GET", "/v1/reservations/*", 200,
                     "{\"replug\":{\"state\":\"armed\"}}");
    restart(f, "verifying");
    (void)fake_peer_release(f->fp);
    fake_peer_answer(f->fp, "POST", replug, 200, replugged_ok);
    run_until(f, replugged, NULL);
    job = job_now(f);
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpuint(fake_peer_count(f->fp, "GET", "/v1/reservations/*"), ==, 1);
}

/* A record from this migd holds the NICs as they were found. */
static void
test_record_round_trip(Fixture *f, gconstpointer data)
{
    Job *job = migrate_to_end(f);
    g_autoptr(json_t) before = json_deep_copy(job->nics);
    NicSteps *ns = nic_steps_new(f->engine, f->virt, f->conf, job);

    nic_steps_set_plugins(ns, f->plugins);    g_autoptr(json_t) after = nic_steps_to_json(ns);

    g_assert_true(json_equal(before, after));
    nic_steps_free(ns);
}

/* --- device state ------------------------------------------------------------- */

/* setup() with the stateful fixture plugin loaded from @conf (conf_text
 * or more), its [plugin.stateful] settings @settings (which may add a
 * [plugin.stateful2] group: test_plugins_make()). */
static void
setup_plugin(Fixture *f, const char *conf, const char *settings)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *plugins = NULL;
    g_autofree char *completed = NULL;
    g_autofree char *text = NULL;

    f->calls_log = g_build_filename(f->dir, "plugin-calls.log", NULL);
    plugins = test_plugins_make(FIXTURE_DIR, f->dir, f->calls_log, settings, &completed);
    text = g_strdup_printf("%s[plugins]\ndir = %s\ncall_timeout_s = 1\n"
                           "[plugin.stateful]\nlog = %s\n%s", conf, plugins, f->calls_log,
                           completed);
    conf_free(f->conf);
    f->conf = conf_load_data("test.conf", text, &error);
    g_assert_no_error(error);
    f->plugins = plugin_set_load(f->conf->plugin_dir, f->conf->plugin_settings);
    g_assert_cmpuint(plugin_set_plugins(f->plugins)->len, ==,
                     strstr(settings, "[plugin.stateful2]") ? 2 : 1);
}

/* setup() with the stateful fixture plugin, [plugin.stateful] @data. */
static void
setup_state(Fixture *f, gconstpointer data)
{
    setup(f, NULL);
    setup_plugin(f, conf_text, data);
}

/* How many of the plugin's calls match the glob @pattern ("abort ua-vf0 source"). */
static guint
plugin_calls(Fixture *f, const char *pattern)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint n = 0;

    if (!g_file_get_contents(f->calls_log, &text, NULL, NULL))
        return 0;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        n += lines[i][0] && g_pattern_match_simple(pattern, lines[i]);
    return n;
}

static gboolean
plugins_idle(Fixture *f, gconstpointer arg)
{
    return plugin_call_in_flight() == 0;
}

static json_t *
device_plugin(const Job *job)
{
    return json_array_get(json_object_get(device(job, 0), "plugins"), 0);
}

static const char prepared_checked[] =
    "{\"nics\":[{\"alias\":\"ua-vf0\",\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,"
    "\"check_ms\":7,\"restore_ms\":null,\"restored\":false}]}]}";

static const char replugged_restored[] =
    "{\"replug\":{\"ok\":true,\"replug_ms\":40,\"verify_ms\":0,\"attempts\":1,"
    "\"detail\":\"libvirt reported ua-vf0 added\"},\"nics\":[{\"alias\":\"ua-vf0\","
    "\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,\"check_ms\":7,\"restore_ms\":5,"
    "\"restored\":true}]}]}";

/* Strategy auto to its end, the destination answering the prepare with
 * @prepared and the replug with @replugged (NULL: as it does unless
 * told); the job completed. Returns it, and the prepare's route in
 * @ret_prepare. */
static Job *
state_job(Fixture *f, const char *prepared, const char *replugged, char **ret_prepare)
{
    g_autofree char *replug = NULL;
    Job *job;

    submit(f, "auto");
    *ret_prepare = route(f, "/prepare");
    replug = route(f, "/replug");
    fake_peer_answer(f->fp, "POST", *ret_prepare, 200, prepared);
    if (replugged)
        fake_peer_answer(f->fp, "POST", replug, 200, replugged);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    return job;
}

/* Saved, framed and sent with the prepare; the record shows who handled
 * the NIC, how much state, and the figures of both hosts. */
static void
test_state_saved_sent(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    g_auto(PluginFrame) frame = { 0 };
    g_autoptr(GError) error = NULL;
    const FakePeerRequest *req;
    json_t *state, *plugin;
    Job *job = state_job(f, prepared_checked, replugged_restored, &prepare);

    req = fake_peer_last(f->fp, "POST", prepare);
    state = json_array_get(json_object_get(req->body, "states"), 0);
    g_assert_cmpuint(json_array_size(json_object_get(req->body, "states")), ==, 1);
    g_assert_cmpstr(json_string_value(json_object_get(state, "alias")), ==, "ua-vf0");
    g_assert_cmpstr(json_string_value(json_object_get(state, "plugin")), ==, "stateful");
    g_assert_true(plugin_frame_decode(json_string_value(json_object_get(state, "frame")), 65536,
                                      &frame, &error));
    g_assert_cmpstr(frame.plugin, ==, "stateful");
    g_assert_cmpstr(frame.alias, ==, "ua-vf0");
    g_assert_cmpuint(frame.state_version, ==, 3);
    g_assert_cmpmem(g_bytes_get_data(frame.state, NULL), g_bytes_get_size(frame.state),
                    "state of ua-vf0", 15);
    plugin = device_plugin(job);
    g_assert_cmpstr(json_string_value(json_object_get(plugin, "name")), ==, "stateful");
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "state_bytes")), ==, 15);
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "save_ms")), >=, 0);
    g_assert_true(json_is_integer(json_object_get(plugin, "transfer_ms")));
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "check_ms")), ==, 7);
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "restore_ms")), ==, 5);
    g_assert_true(timeline_has(job, "the destination checked the device state of 1 NIC *"));
    g_assert_cmpuint(plugin_calls(f, "save_state ua-vf0 source"), ==, 1);
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort *"), ==, 0);
}

/* Without plugins the prepare carries no body and no NIC a plugin. */
static void
test_state_none(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job;

    submit(f, "auto");
    prepare = route(f, "/prepare");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_null(fake_peer_last(f->fp, "POST", prepare)->body);
    g_assert_cmpuint(json_array_size(json_object_get(device(job, 0), "plugins")), ==, 0);
}

/* The job fails with a reason matching @reason_pattern, nothing unplugged,
 * the reservation released and the source's plugin called abort once; the
 * destination refuses the prepare with @refusal (NULL: it is not asked). */
static void
assert_state_failed_untouched(Fixture *f, const char *reason_pattern, const char *refusal)
{
    g_autofree char *prepare = NULL;
    Job *job;

    submit(f, "auto");
    prepare = route(f, "/prepare");
    if (refusal)
        fake_peer_error(f->fp, "POST", prepare, MIGD_ERROR_CONFLICT, refusal);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    if (!g_pattern_match_simple(reason_pattern, job->reason))
        g_error("the reason '%s' does not match '%s'", job->reason, reason_pattern);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(deletes(f), ==, 1);
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source"), ==, 1);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", prepare), ==, (refusal ? 1 : 0));
}

/* A failing or overrunning save_state: the destination is not asked. */
static void
test_state_save_fails(Fixture *f, gconstpointer data)
{
    assert_state_failed_untouched(f, "*device state of ua-vf0 could not be saved, so nothing "
                                     "was unplugged: plugin stateful: save_state failed: "
                                     "save_state of ua-vf0 fails: fail_at = save_state is "
                                     "set*", NULL);
}

static void
test_state_save_timeout(Fixture *f, gconstpointer data)
{
    assert_state_failed_untouched(f, "*device state of ua-vf0 could not be saved, so nothing "
                                     "was unplugged: plugin stateful: save_state did not answer "
                                     "within its timeout ([plugins] call_timeout_s)*", NULL);
}

/* The destination's plugin refuses the state: the job fails with its
 * words, nothing is unplugged, and the source's plugin undoes too. */
static void
test_state_check_refused(Fixture *f, gconstpointer data)
{
    assert_state_failed_untouched(f, "*plugin stateful: check_state failed: the VF cannot take "
                                     "MTU 9000*",
                                  "the destination refuses the device state of NIC ua-vf0: "
                                  "plugin stateful: check_state failed: the VF cannot take MTU "
                                  "9000 (Invalid argument)");
}

static gboolean
saving(Fixture *f, gconstpointer arg)
{
    return plugin_calls(f, "save_state ua-vf0 source") > 0;
}

/* The plugin's log is no event of the loop: it is looked at this often. */
static gboolean
tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

/* A cancel while the plugin saves: its late answer sends nothing, nothing
 * is unplugged, and the plugin is called abort once its save has ended. */
static void
test_state_cancel_during_save(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *prepare = NULL;
    guint ticker;
    Job *job;

    submit(f, "auto");
    prepare = route(f, "/prepare");
    ticker = g_timeout_add(10, tick, NULL);
    run_until(f, saving, NULL);
    g_source_remove(ticker);
    g_assert_true(engine_cancel(f->engine, f->id, &error));
    g_assert_no_error(error);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_CANCELLED);
    run_until(f, plugins_idle, NULL);
    fake_peer_flush(f->fp);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", prepare), ==, 0);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(deletes(f), ==, 1);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source"), ==, 1);
}

/* The destination could not restore the state after the replug: the job
 * says loudly that the guest runs there without its VF, with the
 * destination's words; the guest has left, so the source's plugin, whose
 * save_state changed nothing, is not called abort (the destination's is). */
static void
test_state_restore_failed(Fixture *f, gconstpointer data)
{
    g_autofree char *replug = NULL;
    Job *job;

    submit(f, "auto");
    replug = route(f, "/replug");
    fake_peer_answer(f->fp, "POST", replug, 200,
                     "{\"replug\":{\"ok\":false,\"replug_ms\":40,\"verify_ms\":0,\"attempts\":1,"
                     "\"detail\":\"the device state of ua-vf0 was not restored onto the VF "
                     "bvf0: plugin stateful: restore_state failed: no\"}}");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_nonnull(strstr(job->reason, "WITHOUT its passthrough NIC (ua-vf0)"));
    g_assert_true(timeline_has(job, "*the device state of ua-vf0 was not restored onto the VF "
                                    "bvf0: plugin stateful: restore_state failed: no*"));
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort *"), ==, 0);
}

/* --- the pause strategy ---------------------------------------------------------------- */

static const char switched_restored[] =
    "{\"nics\":[{\"alias\":\"ua-vf0\",\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,"
    "\"check_ms\":7,\"restore_ms\":4,\"restored\":true}]}]}";

static const char resumed_there[] =
    "{\"nics\":[],\"resume\":{\"resumed\":true,\"resume_ms\":12,\"post_switchover_ms\":1,"
    "\"post_switchover_error\":null}}";

/* A pause job to migrating: the NIC stays attached, and the destination's
 * switchover (refused with @refusal unless NULL) and resume are scripted. */
static void
pause_to_migrating_as(Fixture *f, const char *strategy, const char *prepared,
                      const char *refusal)
{
    g_autofree char *prepare = NULL;
    g_autofree char *switchover = NULL;
    g_autofree char *resume = NULL;

    f->migrate = MIGRATE_HOLD;
    submit(f, strategy);
    prepare = route(f, "/prepare");
    switchover = route(f, "/switchover");
    resume = route(f, "/resume");
    fake_peer_answer(f->fp, "POST", prepare, 200, prepared);
    if (refusal)
        fake_peer_error(f->fp, "POST", switchover, MIGD_ERROR_CONFLICT, refusal);
    else
        fake_peer_answer(f->fp, "POST", switchover, 200, switched_restored);
    fake_peer_answer(f->fp, "POST", resume, 200, resumed_there);
    run_until(f, in_state, GINT_TO_POINTER(JOB_MIGRATING));
}

static void
pause_to_migrating_refused(Fixture *f, const char *refusal)
{
    pause_to_migrating_as(f, "pause", prepared_checked, refusal);
}

static void
pause_to_migrating(Fixture *f)
{
    pause_to_migrating_refused(f, NULL);
}

/* What is left fits the budget: the job asks for the switchover. */
static void
feed_small_remaining(Fixture *f)
{
    PolicySample sample = {
        .now_ms = g_get_monotonic_time() / 1000, .data_total = 256 << 20,
        .data_processed = 250 << 20, .data_remaining = 1 << 20, .memory_bps = 100 << 20,
        .page_size = 4096, .iteration = 2,
    };
    JobEvent ev;

    engine_event_init(&ev, JOB_EV_STATS);
    ev.sample = &sample;
    engine_feed(f->engine, f->id, &ev);
}

/* The migration's bandwidth cap as the fake libvirt has it. */
static FakeMigrateCall
speed_of(Fixture *f)
{
    FakeMigrateCall call = { 0 };

    g_assert_true(fake_virt_speed(f->fv, FAKE_VIRT_LOCAL, DOMAIN, &call));
    return call;
}

/* The hold was set and lifted: the cap is what it was before. */
static gboolean
hold_lifted(Fixture *f, gconstpointer arg)
{
    FakeMigrateCall call = speed_of(f);

    return call.speed_changes == 2 && call.max_speed_mibps == VIRT_SPEED_UNCAPPED_MIBPS;
}

static gboolean
switchover_ended(Fixture *f, gconstpointer arg)
{
    Job *job = job_now(f);

    return job && (json_is_true(json_object_get(json_object_get(job->nics, "pause"),
                                                "source_paused")) ||
                   job->switchover_error);
}

/* Stays attached; the destination restores the state before the pause,
 * the plugin quiesces the NIC, the guest is suspended here; once the
 * guest arrived, the destination resumes it and the record has the pause
 * and its figures. */
static void
test_pause_ok(Fixture *f, gconstpointer data)
{
    g_autofree char *switchover = NULL;
    g_autofree char *resume = NULL;
    json_t *pause;
    Job *job;

    pause_to_migrating(f);
    switchover = route(f, "/switchover");
    resume = route(f, "/resume");
    job = job_now(f);
    g_assert_cmpstr(json_string_value(json_object_get(job->nics, "strategy")), ==, "pause");
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_nonnull(f->dest_xml);
    g_assert_nonnull(strstr(f->dest_xml, "bvf0"));
    g_assert_null(strstr(f->dest_xml, "avf0"));
    g_assert_cmpuint(job->progress.max_downtime_ms, ==, JOB_PAUSE_QEMU_DOWNTIME_MS);
    feed_small_remaining(f);
    run_until(f, switchover_ended, NULL);
    job = job_now(f);
    g_assert_null(job->switchover_error);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", switchover), ==, 1);
    g_assert_cmpuint(plugin_calls(f, "pre_switchover ua-vf0 source"), ==, 1);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, 1);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, DOMAIN), ==, VIR_DOMAIN_PAUSED);
    g_assert_true(timeline_has(job, "labvm is paused here (the suspend took * ms, the plugins' "
                                    "pre_switchover * ms); QEMU completes the migration"));
    /* Held back at 1 MiB/s until the guest was suspended, then given its
     * cap back (none was set). */
    g_assert_cmpuint(speed_of(f).speed_at_suspend, ==, JOB_PAUSE_HOLD_MIBPS);
    g_assert_true(hold_lifted(f, NULL));
    feed(JOB_EV_MIGRATE_RETURNED, NULL, NULL);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", resume), ==, 1);
    g_assert_true(timeline_has(job, "the destination resumed the guest; it was paused for * ms"));
    g_assert_cmpint(json_integer_value(json_object_get(job->nics, "paused_ms")), >=, 0);
    pause = json_object_get(job->nics, "pause");
    g_assert_true(json_is_true(json_object_get(pause, "source_paused")));
    g_assert_true(json_is_integer(json_object_get(pause, "hold_ms")));
    g_assert_true(json_is_null(json_object_get(pause, "hold_error")));
    g_assert_true(json_is_integer(json_object_get(pause, "pre_switchover_ms")));
    g_assert_true(json_is_integer(json_object_get(pause, "suspend_ms")));
    g_assert_true(json_is_integer(json_object_get(pause, "resume_ms")));
    g_assert_cmpint(json_integer_value(json_object_get(pause, "post_switchover_ms")), ==, 1);
    g_assert_cmpint(json_integer_value(json_object_get(device_plugin(job), "restore_ms")), ==, 4);
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort *"), ==, 0);
}

/* The job fails with @reason_pattern, the guest runs here with its VF,
 * the reservation is released and the plugin undid its part (abort). */
static void
assert_pause_undone(Fixture *f, Job *job, const char *reason_pattern)
{
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    if (!g_pattern_match_simple(reason_pattern, job->reason))
        g_error("the reason '%s' does not match '%s'", job->reason, reason_pattern);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, DOMAIN), ==,
                    VIR_DOMAIN_RUNNING);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_cmpuint(deletes(f), ==, 1);
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source"), ==, 1);
}

/* The switchover is asked for and ends, the guest suspended here @suspends
 * times; then libvirt's migrate call fails with @error (the abort's words,
 * or the migration's own failure). Returns the job at its end. */
static Job *
pause_switch_then_fail(Fixture *f, guint suspends, const char *error)
{
    feed_small_remaining(f);
    run_until(f, switchover_ended, NULL);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, suspends);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, DOMAIN), ==,
                    suspends ? VIR_DOMAIN_PAUSED : VIR_DOMAIN_RUNNING);
    feed(JOB_EV_MIGRATE_FAILED, error, NULL);
    return run_to_end(f);
}

#define ABORTED "operation aborted: migration out: canceled by client"

/* The plugin cannot quiesce the NIC: the guest is never suspended, the
 * migration is aborted. */
static void
test_pause_quiesce_fails(Fixture *f, gconstpointer data)
{
    Job *job;

    pause_to_migrating(f);
    job = pause_switch_then_fail(f, 0, ABORTED);
    assert_pause_undone(f, job, "the switchover failed: plugin stateful could not quiesce "
                                "ua-vf0 (pre_switchover): *fail_at = pre_switchover is set*; "
                                "labvm keeps running on this host*");
}

/* The destination cannot restore the state: nothing is quiesced or
 * suspended here. */
static void
test_pause_restore_refused(Fixture *f, gconstpointer data)
{
    Job *job;

    pause_to_migrating_refused(f, "the device state of ua-vf0 was not restored onto the VF "
                                  "bvf0: no");
    job = pause_switch_then_fail(f, 0, ABORTED);
    g_assert_cmpuint(plugin_calls(f, "pre_switchover *"), ==, 0);
    run_until(f, hold_lifted, NULL);  /* no suspend: the cap went back all the same */
    assert_pause_undone(f, job, "the switchover failed: the destination could not restore the "
                                "device state before the pause: *not restored onto the VF "
                                "bvf0: no*");
}

/* libvirt refuses the hold: the switchover goes on without it, saying
 * that QEMU may switch over first. */
static void
test_pause_hold_refused(Fixture *f, gconstpointer data)
{
    json_t *pause;
    Job *job;

    pause_to_migrating(f);
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_SET_MAX_SPEED,
                        VIRT_OPS_ERROR_OPERATION_INVALID,
                        "Requested operation is not valid: domain is not running");
    feed_small_remaining(f);
    run_until(f, switchover_ended, NULL);
    job = job_now(f);
    g_assert_null(job->switchover_error);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, 1);
    g_assert_cmpuint(speed_of(f).speed_changes, ==, 0);
    g_assert_true(timeline_has(job, "cannot hold the migration of labvm back while migd makes the "
                                    "switchover (a 1 MiB/s cap): *domain is not running; QEMU "
                                    "may switch over first"));
    pause = json_object_get(job->nics, "pause");
    g_assert_true(json_is_null(json_object_get(pause, "hold_ms")));
    g_assert_nonnull(strstr(json_string_value(json_object_get(pause, "hold_error")),
                            "domain is not running"));
    feed(JOB_EV_MIGRATE_RETURNED, NULL, NULL);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
}

/* The migration fails after the guest was suspended here: the rollback
 * resumes it. */
static void
test_pause_failed_after_suspend(Fixture *f, gconstpointer data)
{
    Job *job;

    pause_to_migrating(f);
    job = pause_switch_then_fail(f, 1, "the destination's libvirtd went away");
    assert_pause_undone(f, job, "the migration failed: the destination's libvirtd went away*");
    g_assert_cmpuint(calls(f, FAKE_OP_RESUME), ==, 1);
    g_assert_true(timeline_has(job, "labvm runs here again (resumed in * ms)"));
}

/* Without a plugin that vouches for the pause, the job fails at preparing
 * with nothing touched. */
static void
test_pause_not_vouched(Fixture *f, gconstpointer data)
{
    Job *job;

    submit(f, "pause");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(g_pattern_match_simple("strategy pause was asked for, but no plugin handles "
                                         "ua-vf0, so none vouches*nothing was changed",
                                         job->reason));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_cmpuint(deletes(f), ==, 1);
}

/* --- strategy auto --------------------------------------------------------------------- */

#define CHOSE_PAUSE "the plugins of both hosts vouch that it can stay attached while migd " \
                    "pauses the guest at switchover (plugin stateful here vouches for pause)"
#define CHOSE_UNPLUG "the source's plugins vouch for pause and no plugin here handles it, " \
                     "so it cannot stay attached"

static const char prepared_chose_pause[] =
    "{\"nics\":[{\"alias\":\"ua-vf0\",\"strategy\":\"pause\",\"chosen\":\"" CHOSE_PAUSE "\","
    "\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,\"check_ms\":7,\"restore_ms\":null,"
    "\"restored\":false}]}]}";

static const char prepared_chose_unplug[] =
    "{\"nics\":[{\"alias\":\"ua-vf0\",\"strategy\":\"unplug\",\"chosen\":\"" CHOSE_UNPLUG "\","
    "\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,\"check_ms\":7,\"restore_ms\":null,"
    "\"restored\":false}]}]}";

/* The prepare asked the destination to choose for ua-vf0, saying what
 * this host's plugin vouches for; @vouch is its one entry. */
static void
assert_asked_to_choose(Fixture *f, const char *vouch)
{
    g_autofree char *prepare = route(f, "/prepare");
    const FakePeerRequest *req = fake_peer_last(f->fp, "POST", prepare);
    json_t *choose = json_object_get(req->body, "choose");
    json_t *item = json_array_get(choose, 0);

    g_assert_cmpuint(json_array_size(choose), ==, 1);
    g_assert_cmpstr(json_string_value(json_object_get(item, "alias")), ==, "ua-vf0");
    g_assert_cmpuint(json_array_size(json_object_get(item, "vouches")), ==, 1);
    g_assert_cmpstr(json_string_value(json_array_get(json_object_get(item, "vouches"), 0)), ==,
                    vouch);
    g_assert_true(json_is_true(json_object_get(item, "unplug")));
}

static void
assert_why(const Job *job, const char *pattern)
{
    const char *why = json_string_value(json_object_get(job->nics, "why"));

    if (!g_pattern_match_simple(pattern, why))
        g_error("the NICs' why '%s' does not match '%s'", why, pattern);
}

/* Both hosts' plugins vouch for pause: the NIC stays, migd pauses the guest. */
static void
test_auto_pause(Fixture *f, gconstpointer data)
{
    Job *job;

    pause_to_migrating_as(f, "auto", prepared_chose_pause, NULL);
    job = job_now(f);
    assert_asked_to_choose(f, "pause");
    g_assert_cmpstr(json_string_value(json_object_get(job->nics, "strategy")), ==, "pause");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "chosen")), ==,
                    CHOSE_PAUSE);
    assert_why(job, "strategy auto: ua-vf0 pause (" CHOSE_PAUSE ")");
    g_assert_cmpuint(job->progress.max_downtime_ms, ==, JOB_PAUSE_QEMU_DOWNTIME_MS);
    feed_small_remaining(f);
    run_until(f, switchover_ended, NULL);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, 1);
    g_assert_cmpuint(plugin_calls(f, "pre_switchover ua-vf0 source"), ==, 1);
    feed(JOB_EV_MIGRATE_RETURNED, NULL, NULL);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
}

/* The destination's plugins do not vouch: unplugged, and the record says why. */
static void
test_auto_unplug_there(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job = state_job(f, prepared_chose_unplug, NULL, &prepare);

    assert_asked_to_choose(f, "pause");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "strategy")), ==, "unplug");
    assert_why(job, "strategy auto: ua-vf0 unplug (" CHOSE_UNPLUG ")");
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 1);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, 0);
}

/* This host's plugin vouches for nothing (or two do: one native, the
 * other denies it): unplugged without asking. */
static void
test_auto_unplug_here(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job = state_job(f, prepared_checked, NULL, &prepare);

    g_assert_null(json_object_get(fake_peer_last(f->fp, "POST", prepare)->body, "choose"));
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "chosen")), ==,
                    "no plugin on this host vouches that it can stay attached");
    assert_why(job, "strategy auto: ua-vf0 unplug (no plugin on this host vouches that it can "
                    "stay attached)");
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 1);
}

/* --- more than one plugin per NIC ------------------------------------------------------- */

/* stateful and stateful2 both claim ua-vf0 (stateful loads first). */
#define TWO "[plugin.stateful2]\n"

static const char prepared_checked_two[] =
    "{\"nics\":[{\"alias\":\"ua-vf0\",\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,"
    "\"check_ms\":7,\"restore_ms\":null,\"restored\":false},{\"plugin\":\"stateful2\","
    "\"bytes\":15,\"check_ms\":3,\"restore_ms\":null,\"restored\":false}]}]}";

static const char replugged_restored_two[] =
    "{\"replug\":{\"ok\":true,\"replug_ms\":40,\"verify_ms\":0,\"attempts\":1,"
    "\"detail\":\"libvirt reported ua-vf0 added\"},\"nics\":[{\"alias\":\"ua-vf0\","
    "\"states\":[{\"plugin\":\"stateful\",\"bytes\":15,\"check_ms\":7,\"restore_ms\":5,"
    "\"restored\":true},{\"plugin\":\"stateful2\",\"bytes\":15,\"check_ms\":3,"
    "\"restore_ms\":2,\"restored\":true}]}]}";

/* The plugins' calls, in order, as one text. */
static char *
plugin_log(Fixture *f)
{
    char *text = NULL;

    if (!g_file_get_contents(f->calls_log, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

/* Once every plugin call has ended: stateful was called abort @first
 * times, stateful2 @second times. */
static void
assert_two_aborted(Fixture *f, guint first, guint second)
{
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source"), ==, first);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source by stateful2"), ==, second);
}

static json_t *
device_plugin_at(const Job *job, guint i)
{
    return json_array_get(json_object_get(device(job, 0), "plugins"), i);
}

static void
assert_plugin_figures(const Job *job, guint i, const char *name, gint64 check_ms,
                      gint64 restore_ms)
{
    json_t *plugin = device_plugin_at(job, i);

    g_assert_cmpstr(json_string_value(json_object_get(plugin, "name")), ==, name);
    g_assert_true(json_is_true(json_object_get(plugin, "state")));
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "state_bytes")), ==, 15);
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "save_ms")), >=, 0);
    g_assert_true(json_is_integer(json_object_get(plugin, "transfer_ms")));
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "check_ms")), ==, check_ms);
    g_assert_cmpint(json_integer_value(json_object_get(plugin, "restore_ms")), ==, restore_ms);
    g_assert_false(json_is_true(json_object_get(plugin, "aborted")));
}

/* Both claim the NIC with state: every plugin is probed, then each saves
 * a frame of its own, in loading order; the record shows both and the
 * figures of each. */
static void
test_two_saved(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    g_autofree char *log = NULL;
    g_auto(PluginFrame) frame = { 0 };
    g_autoptr(GError) error = NULL;
    json_t *states;
    Job *job = state_job(f, prepared_checked_two, replugged_restored_two, &prepare);

    states = json_object_get(fake_peer_last(f->fp, "POST", prepare)->body, "states");
    test_assert_names(states, "plugin", (const char *const[]){ "stateful", "stateful2", NULL });
    g_assert_true(plugin_frame_decode(json_string_value(json_object_get(json_array_get(states, 1),
                                                                        "frame")),
                                      65536, &frame, &error));
    g_assert_cmpstr(frame.plugin, ==, "stateful2");
    g_assert_cmpstr(frame.alias, ==, "ua-vf0");
    test_assert_names(json_object_get(device(job, 0), "plugins"), "name",
                      (const char *const[]){ "stateful", "stateful2", NULL });
    assert_plugin_figures(job, 0, "stateful", 7, 5);
    assert_plugin_figures(job, 1, "stateful2", 3, 2);
    g_assert_true(timeline_has(job, "the destination checked the device state of 1 NIC *"));
    run_until(f, plugins_idle, NULL);
    log = plugin_log(f);
    g_assert_cmpstr(log, ==,
                    "probe ua-vf0 source\n"
                    "probe ua-vf0 source by stateful2\n"
                    "save_state ua-vf0 source\n"
                    "save_state ua-vf0 source by stateful2\n");
}

/* The second plugin's save fails: nothing is unplugged, the destination
 * is not asked, and both plugins are called abort. */
static void
test_two_save_fails(Fixture *f, gconstpointer data)
{
    assert_state_failed_untouched(f, "*device state of ua-vf0 could not be saved, so nothing "
                                     "was unplugged: plugin stateful2: save_state failed: *",
                                  NULL);
    assert_two_aborted(f, 1, 1);
}

/* The destination refuses one of the states: both plugins undo here. */
static void
test_two_check_refused(Fixture *f, gconstpointer data)
{
    assert_state_failed_untouched(f, "*plugin stateful2: check_state failed: no*",
                                  "the destination refuses the device state of NIC ua-vf0: "
                                  "plugin stateful2: check_state failed: no");
    assert_two_aborted(f, 1, 1);
}

/* Strategy auto: stateful carries state and vouches for nothing,
 * stateful2 carries none and vouches native (as sriov-vfcfg and vfio-mig
 * would): the destination is asked with their union, native; one frame. */
static void
test_two_auto_union(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job = state_job(f, prepared_checked, NULL, &prepare);
    json_t *plugin;

    assert_asked_to_choose(f, "native");
    g_assert_cmpuint(json_array_size(json_object_get(fake_peer_last(f->fp, "POST", prepare)->body,
                                                     "states")), ==, 1);
    g_assert_cmpuint(plugin_calls(f, "save_state *"), ==, 1);
    plugin = device_plugin_at(job, 1);
    g_assert_cmpstr(json_string_value(json_object_get(plugin, "name")), ==, "stateful2");
    g_assert_false(json_is_true(json_object_get(plugin, "state")));
    g_assert_false(json_is_true(json_object_get(plugin, "called")));
    g_assert_true(json_is_null(json_object_get(plugin, "state_bytes")));
    g_assert_cmpstr(json_string_value(json_array_get(json_object_get(plugin, "vouches"), 0)), ==,
                    "native");
}

/* Strategy pause that the plugins do not allow: the job fails at
 * preparing with @reason, nothing touched and no plugin called past its
 * probe. */
static void
assert_pause_refused(Fixture *f, const char *reason)
{
    Job *job;

    submit(f, "pause");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_cmpstr(job->reason, ==, reason);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    assert_two_aborted(f, 0, 0);
    g_assert_cmpuint(plugin_calls(f, "save_state *"), ==, 0);
}

/* One plugin vouches for the pause, the other denies it. */
static void
test_two_pause_denied(Fixture *f, gconstpointer data)
{
    assert_pause_refused(f, "strategy pause was asked for, but plugin stateful2, which handles "
                            "ua-vf0, denies that it can stay attached while migd pauses the "
                            "guest: greeting= alias=ua-vf0 domain=labvm side=source; nothing "
                            "was changed");
}

/* Neither vouches for it (one vouches native): both are named, with what
 * they said. */
static void
test_two_pause_not_vouched(Fixture *f, gconstpointer data)
{
    assert_pause_refused(f, "strategy pause was asked for, but plugin stateful, plugin "
                            "stateful2, which handle ua-vf0, do not vouch that it can stay "
                            "attached while migd pauses the guest: greeting= alias=ua-vf0 "
                            "domain=labvm side=source; greeting= alias=ua-vf0 domain=labvm "
                            "side=source; nothing was changed");
}

/* Pause: every plugin quiesces the NIC, in loading order. */
static void
test_two_pause_ok(Fixture *f, gconstpointer data)
{
    g_autofree char *log = NULL;
    Job *job;

    pause_to_migrating_as(f, "pause", prepared_checked_two, NULL);
    feed_small_remaining(f);
    run_until(f, switchover_ended, NULL);
    g_assert_null(job_now(f)->switchover_error);
    g_assert_cmpuint(calls(f, FAKE_OP_SUSPEND), ==, 1);
    feed(JOB_EV_MIGRATE_RETURNED, NULL, NULL);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    assert_two_aborted(f, 0, 0);
    log = plugin_log(f);
    g_assert_nonnull(strstr(log, "pre_switchover ua-vf0 source\n"
                                 "pre_switchover ua-vf0 source by stateful2\n"));
}

/* The second plugin cannot quiesce the NIC: the guest is never suspended
 * and both plugins undo (the first quiesced it). */
static void
test_two_pause_quiesce_fails(Fixture *f, gconstpointer data)
{
    Job *job;

    pause_to_migrating_as(f, "pause", prepared_checked_two, NULL);
    job = pause_switch_then_fail(f, 0, ABORTED);
    assert_pause_undone(f, job, "the switchover failed: plugin stateful2 could not quiesce "
                                "ua-vf0 (pre_switchover): *");
    g_assert_cmpuint(plugin_calls(f, "pre_switchover ua-vf0 source"), ==, 1);
    assert_two_aborted(f, 1, 1);
}

/* Killed while migrating, after both saved: the record says who was
 * called, so the rollback after the restart calls abort on both. */
static void
test_two_restart_aborts_both(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;

    f->migrate = MIGRATE_HOLD;
    submit(f, "auto");
    prepare = route(f, "/prepare");
    fake_peer_answer(f->fp, "POST", prepare, 200, prepared_checked_two);
    run_until(f, in_state, GINT_TO_POINTER(JOB_MIGRATING));
    restart(f, "rolling-back");
    run_until(f, is_final, NULL);
    g_assert_cmpint(job_now(f)->state, ==, JOB_FAILED);
    assert_two_aborted(f, 1, 1);
}

/* A record from a migd before several plugins per NIC has one "plugin":
 * read back, its plugin is called abort by the rollback. */
static void
test_restart_record_one_plugin(Fixture *f, gconstpointer data)
{
    g_autofree char *id = NULL;
    g_autofree char *path = NULL;
    g_autoptr(json_t) record = NULL;
    json_t *device0;
    Job *job;

    f->migrate = MIGRATE_HOLD;
    submit(f, "auto");
    run_until(f, in_state, GINT_TO_POINTER(JOB_MIGRATING));
    id = g_strdup(f->id);
    engine_crash(f);
    fake_peer_flush(f->fp);
    path = g_strdup_printf("%s/jobs/%s.json", f->dir, id);
    record = record_read(f, id);
    json_object_set_new(record, "state", json_string("rolling-back"));
    device0 = json_array_get(json_object_get(json_object_get(record, "nics"), "devices"), 0);
    json_object_del(device0, "plugins");
    json_object_set_new(device0, "plugin",
                        json_pack("{s:s,s:i,s:i,s:n,s:n,s:n,s:b}", "name", "stateful",
                                  "state_bytes", 15, "save_ms", 1, "transfer_ms", "check_ms",
                                  "restore_ms", "aborted", 0));
    g_assert_cmpint(json_dump_file(record, path, 0), ==, 0);
    g_clear_pointer(&f->id, g_free);
    engine_start(f);
    g_assert_true(engine_load(f->engine, NULL));
    run_until(f, is_final, NULL);
    job = job_now(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    run_until(f, plugins_idle, NULL);
    g_assert_cmpuint(plugin_calls(f, "abort ua-vf0 source"), ==, 1);
    g_assert_cmpstr(json_string_value(json_object_get(device_plugin_at(job, 0), "name")), ==,
                    "stateful");
    g_assert_cmpint(json_integer_value(json_object_get(device_plugin_at(job, 0), "state_bytes")),
                    ==, 15);
}

/* --- the sriov pool ---------------------------------------------------------------------- */

/* The guest's VF is VF 3 of PF ens1f0 in a sysfs tree of the test's; the
 * fixture plugin runs with kind = vf, as sriov-vfcfg would, and its log
 * holds fake-virt's journal too, so the order of both is one file. */
#define SR_PF "0000:3b:00.0"
#define SR_VF "0000:3b:02.3"

static const char sriov_guest_xml[] =
    "<domain type='kvm'><name>labvm</name><memory unit='KiB'>262144</memory><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<model type='virtio'/><teaming type='persistent'/><alias name='ua-standby0'/></interface>\n"
    "  <interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:01'/><source>"
    "<address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/></source>"
    "<teaming type='transient' persistent='ua-standby0'/><alias name='ua-vf0'/></interface>\n"
    "</devices></domain>";

static const char sriov_reserved[] =
    "{\"job\":\"x\",\"nics\":[{\"alias\":\"ua-vf0\",\"pool\":\"sr\",\"address\":\"0000:5e:02.1\","
    "\"device_xml\":\"<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:01'/>"
    "<source><address type='pci' domain='0x0000' bus='0x5e' slot='0x02' function='0x1'/>"
    "</source><alias name='ua-vf0'/></interface>\"}]}";

/* setup_sriov()'s data: more lines of [pool.sr] and of [plugin.stateful]. */
typedef struct {
    const char *pool;
    const char *plugin;
} SriovSetup;

static const SriovSetup sriov_plain = { "", "" };
static const SriovSetup sriov_native_pool = { "native = true\n", "" };
static const SriovSetup sriov_native_stop_copy = { "native = true\n", "stop_copy = 98304\n" };
static const SriovSetup sriov_unplug_stop_copy = { "", "stop_copy = 98304\n" };
static const SriovSetup sriov_vouch_native = { "", "vouch = native\n" };

/* setup() with the fixture plugin as @kind and [plugin.stateful] @plugin,
 * the pool @pool (its whole group), the guest's XML @guest and @reserved as
 * the destination's answer to the reservation; fake-virt's journal goes to
 * the plugin's log. */
static void
setup_pool_guest(Fixture *f, const char *pool, const char *kind, const char *plugin,
                 const char *guest, const char *reserved)
{
    g_autofree char *conf = g_strconcat(conf_text, pool, NULL);
    g_autofree char *settings = g_strdup_printf("kind = %s\n%s", kind, plugin);

    setup_plugin(f, conf, settings);
    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, DOMAIN, guest, VIR_DOMAIN_RUNNING);
    fake_virt_set_journal(f->fv, f->calls_log);
    f->reservation_scripted = TRUE;
    fake_peer_answer(f->fp, "POST", "/v1/reservations", 201, reserved);
}

static void
setup_sriov(Fixture *f, gconstpointer data)
{
    const SriovSetup *how = data;
    g_autofree char *root = NULL;
    g_autofree char *pool = NULL;

    setup(f, NULL);
    root = g_build_filename(f->dir, "sys", NULL);
    test_sysfs_add_pf(root, SR_PF, "ens1f0", (const char *const[]){ "3=" SR_VF, NULL });
    pool = g_strdup_printf("[pool.sr]\ntype = sriov\npf = " SR_PF "\nsysfs_root = %s\n%s", root,
                           how->pool);
    setup_pool_guest(f, pool, "vf", how->plugin, sriov_guest_xml, sriov_reserved);
}

/* Asserts that the plugin's calls on @alias, logged with @rest, and the
 * guest's detaches and attaches were @steps, in order, and nothing else
 * (test_assert_calls()). */
static void
assert_steps(Fixture *f, const char *alias, const char *rest, const char *const *steps)
{
    run_until(f, plugins_idle, NULL);
    test_assert_calls(f->calls_log, alias, rest, steps);
}

/* Asserts that the plugin's calls on the guest's VF, told what sriov-vfcfg
 * reaches it by, and the guest's detaches and attaches were @steps, in
 * order, and nothing else (test_assert_calls()). */
static void
assert_sriov_steps(Fixture *f, const char *const *steps)
{
    g_autofree char *rest = g_strdup_printf("source pci=" SR_VF " pf=" SR_PF " vf=3 "
                                            "pf_netdev=ens1f0 domain=" DOMAIN " job=%s", f->id);

    assert_steps(f, "ua-vf0", rest, steps);
}

/* Unplug: the VF's state is saved during preparing, before it is detached,
 * and goes with the prepare, whose check is answered before the unplug;
 * nothing is undone. */
static void
test_sriov_unplug(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    const FakePeerRequest *req;
    json_t *states;
    Job *job;

    submit(f, "unplug");
    prepare = route(f, "/prepare");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    assert_sriov_steps(f, (const char *const[]){ "probe", "save_state", "virt detach", NULL });
    req = fake_peer_last(f->fp, "POST", prepare);
    states = json_object_get(req->body, "states");
    g_assert_cmpuint(json_array_size(states), ==, 1);
    g_assert_cmpstr(json_string_value(json_object_get(json_array_get(states, 0), "plugin")), ==,
                    "stateful");
    g_assert_cmpuint(timeline_at(job, "the destination checked the device state of 1 NIC*"), <,
                     timeline_at(job, "asking the guest to release ua-vf0"));
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
}

/* The migration fails after the unplug: the VF is plugged back in here
 * and the plugin, whose save_state was called, is called abort. */
static void
test_sriov_unplug_fails(Fixture *f, gconstpointer data)
{
    Job *job;

    f->migrate = MIGRATE_FAIL;
    submit(f, "unplug");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    assert_sriov_steps(f, (const char *const[]){ "probe", "save_state", "virt detach",
                                                 "virt attach", "abort", NULL });
    g_assert_true(guest_has_vf(f, "ua-vf0"));
}

/* The destination's plugin refuses the state at check_state: the job
 * fails with its words, nothing was detached, and abort is called here. */
static void
test_sriov_check_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job;

    submit(f, "unplug");
    prepare = route(f, "/prepare");
    fake_peer_error(f->fp, "POST", prepare, MIGD_ERROR_CONFLICT,
                    "the destination refuses the device state of NIC ua-vf0: plugin stateful: "
                    "check_state failed: 0000:00:00.0 cannot take this state (Invalid argument)");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_true(g_pattern_match_simple("*check_state failed: 0000:00:00.0 cannot take*",
                                         job->reason));
    assert_sriov_steps(f, (const char *const[]){ "probe", "save_state", "abort", NULL });
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_true(guest_has_vf(f, "ua-vf0"));
}

/* Native (native = true in the pool): the VF stays attached; its state
 * is saved all the same and sent with the prepare. */
static void
test_sriov_native(Fixture *f, gconstpointer data)
{
    g_autofree char *prepare = NULL;
    Job *job;

    submit(f, "native");
    prepare = route(f, "/prepare");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "strategy")), ==,
                    "native");
    assert_sriov_steps(f, (const char *const[]){ "probe", "save_state", NULL });
    g_assert_cmpuint(json_array_size(json_object_get(fake_peer_last(f->fp, "POST",
                                                                    prepare)->body, "states")),
                     ==, 1);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
}

/* The plugin of a native NIC says what its device adds at stop-and-copy:
 * the record shows it per plugin and for the job's NICs, which the
 * policy's downtime prediction adds to what is left; an unplugged NIC's
 * device adds nothing. */
static void
test_sriov_native_stop_copy(Fixture *f, gconstpointer data)
{
    gboolean native = data == &sriov_native_stop_copy;
    Job *job;

    submit(f, native ? "native" : "unplug");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    g_assert_cmpint(json_integer_value(json_object_get(device_plugin_at(job, 0),
                                                       "stop_copy_bytes")), ==, 98304);
    g_assert_cmpint(json_integer_value(json_object_get(job->nics, "stop_copy_bytes")), ==,
                    native ? 98304 : 0);
}

#define CHOSE_NATIVE "the plugins of both hosts vouch that it can stay attached and migrate " \
                     "inside QEMU (plugin stateful here vouches for native)"

/* Strategy auto for a guest whose NIC @alias the plugins of both hosts
 * vouch for as native: the job, ended, and it says why. */
static Job *
run_auto_native(Fixture *f, const char *alias)
{
    g_autofree char *prepare = NULL;
    g_autofree char *answer = NULL;
    g_autofree char *why = g_strdup_printf("strategy auto: %s native (" CHOSE_NATIVE ")", alias);
    Job *job;

    submit(f, "auto");
    prepare = route(f, "/prepare");
    answer = g_strdup_printf("{\"nics\":[{\"alias\":\"%s\",\"strategy\":\"native\",\"chosen\":"
                             "\"" CHOSE_NATIVE "\",\"states\":[{\"plugin\":\"stateful\","
                             "\"bytes\":15,\"check_ms\":7,\"restore_ms\":null,"
                             "\"restored\":false}]}]}", alias);
    fake_peer_answer(f->fp, "POST", prepare, 200, answer);
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    assert_why(job, why);
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    return job;
}

/* Strategy auto, no native = true in the pool: the plugins of both hosts
 * vouch for native, so the VF stays attached; its state is saved and sent
 * all the same. */
static void
test_sriov_auto_native(Fixture *f, gconstpointer data)
{
    (void)run_auto_native(f, "ua-vf0");
    assert_asked_to_choose(f, "native");
    assert_sriov_steps(f, (const char *const[]){ "probe", "save_state", NULL });
}

/* --- the vdpa pool ----------------------------------------------------------------------- */

/* The guest's NIC is the vDPA device vdpa0 on /dev/vhost-vdpa-0 in a sysfs
 * tree of the test's (stray, on -1, is in no pool); the fixture plugin runs
 * with kind = vdpa, as the vdpa plugin would, told the vdpa name. */
static const char vdpa_guest_xml[] =
    "<domain type='kvm'><name>labvm</name><memory unit='KiB'>262144</memory><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<model type='virtio'/><teaming type='persistent'/><alias name='ua-standby0'/></interface>\n"
    "  <interface type='vdpa'><mac address='52:54:00:00:00:01'/>"
    "<source dev='/dev/vhost-vdpa-%s'/><model type='virtio'/><driver queues='2'/>"
    "<alias name='ua-vdpa0'/></interface>\n"
    "</devices></domain>";

static const char vdpa_reserved[] =
    "{\"job\":\"x\",\"nics\":[{\"alias\":\"ua-vdpa0\",\"pool\":\"vn\",\"address\":\"vdpa7\","
    "\"device_xml\":\"<interface type='vdpa'><mac address='52:54:00:00:00:01'/>"
    "<source dev='/dev/vhost-vdpa-3'/><model type='virtio'/><alias name='ua-vdpa0'/>"
    "</interface>\"}]}";

/* setup_vdpa()'s data: the guest's node (N of /dev/vhost-vdpa-N), more
 * lines of [pool.vn] and of [plugin.stateful]. */
typedef struct {
    const char *node;
    const char *pool;
    const char *plugin;
} VdpaSetup;

static const VdpaSetup vdpa_plain = { "0", "", "" };
static const VdpaSetup vdpa_vouch_native = { "0", "", "vouch = native\n" };
static const VdpaSetup vdpa_stray = { "1", "", "" };
static const VdpaSetup vdpa_not_vhost = { "9", "", "" };

static void
setup_vdpa(Fixture *f, gconstpointer data)
{
    const VdpaSetup *how = data;
    g_autofree char *root = NULL;
    g_autofree char *pool = NULL;
    g_autofree char *xml = g_strdup_printf(vdpa_guest_xml, how->node);

    setup(f, NULL);
    root = g_build_filename(f->dir, "sys", NULL);
    test_sysfs_add_vdpa(root, "vdpa0", "vhost_vdpa", "vhost-vdpa-0");
    test_sysfs_add_vdpa(root, "stray", "vhost_vdpa", "vhost-vdpa-1");
    pool = g_strdup_printf("[pool.vn]\ntype = vdpa\ndevices = vdpa0\nsysfs_root = %s\n%s", root,
                           how->pool);
    setup_pool_guest(f, pool, "vdpa", how->plugin, xml, vdpa_reserved);
}

static void
assert_vdpa_steps(Fixture *f, const char *const *steps)
{
    g_autofree char *rest = g_strdup_printf("source netdev=vdpa0 mac=52:54:00:00:00:01 pool=vn "
                                            "domain=" DOMAIN " job=%s", f->id);

    assert_steps(f, "ua-vdpa0", rest, steps);
}

/* Unplug, as a VF: the plugin is told the vdpa name, saves the device's
 * state before the detach, and the destination is asked for a device of
 * the vdpa pool; the record shows the NIC as vdpa, with its node. */
static void
test_vdpa_unplug(Fixture *f, gconstpointer data)
{
    const FakePeerRequest *req;
    json_t *asked_nic;
    Job *job;

    submit(f, "auto");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_COMPLETED);
    assert_vdpa_steps(f, (const char *const[]){ "probe", "save_state", "virt detach", NULL });
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "kind")), ==, "vdpa");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "address")), ==, "vdpa0");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "source_dev")), ==,
                    "/dev/vhost-vdpa-0");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "pool")), ==, "vn");
    g_assert_cmpstr(json_string_value(json_object_get(device(job, 0), "strategy")), ==,
                    "unplug");
    g_assert_cmpstr(device_state(job, 0), ==, "replugged");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(device(job, 0),
                                                                      "destination"),
                                                      "address")), ==, "vdpa7");
    req = fake_peer_last(f->fp, "POST", "/v1/reservations");
    asked_nic = json_array_get(json_object_get(req->body, "nics"), 0);
    g_assert_cmpstr(json_string_value(json_object_get(asked_nic, "pool")), ==, "vn");
    g_assert_cmpstr(json_string_value(json_object_get(asked_nic, "alias")), ==, "ua-vdpa0");
    g_assert_false(guest_has_vf(f, "ua-vdpa0"));
}

/* Strategy auto, no native = true in the pool: native only because the
 * plugins of both hosts vouch; the NIC stays attached. */
static void
test_vdpa_auto_native(Fixture *f, gconstpointer data)
{
    (void)run_auto_native(f, "ua-vdpa0");
    assert_vdpa_steps(f, (const char *const[]){ "probe", "save_state", NULL });
    g_assert_true(guest_has_vf(f, "ua-vdpa0"));
}

/* Strategy native without a pool or plugin vouching for it is refused at
 * the checks, before anything is touched. */
static void
test_vdpa_native_not_vouched(Fixture *f, gconstpointer data)
{
    Job *job;

    submit(f, "native");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    g_assert_nonnull(strstr(job->reason, "strategy native was asked for, but ua-vdpa0 (pool vn) "
                                         "is not vouched for as able to migrate"));
    g_assert_cmpuint(calls(f, FAKE_OP_DETACH_ALIAS), ==, 0);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 0);
}

/* A vdpa NIC on a device no pool lists, or on a node that is no vDPA
 * device's, is refused at the checks with what to do. */
static void
test_vdpa_refused(Fixture *f, gconstpointer data)
{
    const char *want = data == &vdpa_stray
        ? "*labvm's vdpa interface ua-vdpa0 is on the vDPA device stray (/dev/vhost-vdpa-1), "
          "which belongs to no pool in migd.conf; add it to devices of a [pool.NAME] with "
          "type = vdpa*"
        : "*labvm's vdpa interface ua-vdpa0 is on /dev/vhost-vdpa-9, which is not a vhost-vdpa "
          "device on this host (no bus/vdpa/devices/*/vhost-vdpa-9 in the sysfs of the vdpa "
          "pools)*";
    Job *job;

    submit(f, "auto");
    job = run_to_end(f);
    g_assert_cmpint(job->state, ==, JOB_FAILED);
    if (!g_pattern_match_simple(want, job->reason))
        g_error("the reason '%s' does not match '%s'", job->reason, want);
    g_assert_cmpuint(fake_peer_count(f->fp, "POST", "/v1/reservations"), ==, 0);
    g_assert_cmpuint(plugin_calls(f, "*"), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
#define ADD(name, func) g_test_add("/src-nic/" name, Fixture, NULL, setup, func, teardown)
#define ADD_MIXED(name, func) \
    g_test_add("/src-nic/" name, Fixture, native_nic_xml, setup, func, teardown)
    ADD("unplug/ok", test_unplug_ok);
    ADD("unplug/removal-failed", test_unplug_removal_failed);
    ADD("unplug/never-acked", test_unplug_never_acked);
    ADD("unplug/cancel-midway", test_unplug_cancel_midway);
    ADD("unplug/write-ahead-fails", test_unplug_write_ahead_fails);
    ADD("reserve/busy-then-granted", test_reserve_busy_then_granted);
    ADD("reserve/busy-deadline", test_reserve_busy_deadline);
    ADD("reserve/no-vf", test_reserve_no_vf);
    ADD("reserve/refused-next-peer", test_reserve_refused_next_peer);
    ADD("reserve/refused-no-next-peer", test_reserve_refused_no_next_peer);
    ADD("reserve/draining-next-peer", test_reserve_draining);
    ADD("reserve/draining-named", test_reserve_draining_named);
    ADD("reserve/libvirt-disconnected", test_reserve_libvirt_disconnected);
    ADD("reserve/destination-down", test_reserve_destination_down);
    ADD("reserve/down-then-up", test_reserve_down_then_up);
    ADD("reserve/cancel-before-answer", test_reserve_cancel_before_answer);
    ADD("replug/retry", test_replug_retry);
    ADD("replug/failed", test_replug_failed);
    ADD("replug/lost", test_replug_lost);
    ADD("rollback/after-migration-failed", test_rollback_after_migration_failed);
    ADD("rollback/prepare-refused", test_rollback_prepare_refused);
    ADD("rollback/release-fails", test_rollback_release_fails);
    ADD("rollback/release-dropped", test_rollback_release_dropped);
    ADD("rollback/attach-fails", test_rollback_attach_fails);
    ADD_MIXED("mixed/native-and-unplugged", test_mixed);
    ADD_MIXED("mixed/rollback", test_mixed_rollback);
    ADD("restart/rolling-back", test_restart_rolling_back);
    ADD("restart/after-unplug-request", test_restart_after_unplug_request);
    ADD("restart/unplug-unanswered", test_restart_unplug_unanswered);
    ADD("restart/unplug-never-answered", test_restart_unplug_never_answered);
    ADD("restart/rollback-already-restored", test_restart_rollback_already_restored);
    ADD("restart/replugging-done-there", test_restart_replugging_done_there);
    ADD("restart/verifying-not-yet", test_restart_replugging_not_yet);
    ADD("record/round-trip", test_record_round_trip);
#define ADD_STATE(name, settings, func) \
    g_test_add("/src-nic/" name, Fixture, settings, setup_state, func, teardown)
    ADD_STATE("state/saved-sent-recorded", "", test_state_saved_sent);
    ADD("state/none-without-plugins", test_state_none);
    ADD_STATE("state/save-fails", "fail_at = save_state\n", test_state_save_fails);
    ADD_STATE("state/save-timeout", "hang_at = save_state\n", test_state_save_timeout);
    ADD_STATE("state/check-refused", "", test_state_check_refused);
    ADD_STATE("state/cancel-during-save", "hang_at = save_state\n",
              test_state_cancel_during_save);
    ADD_STATE("state/restore-failed", "", test_state_restore_failed);
    ADD_STATE("pause/ok", "", test_pause_ok);
    ADD_STATE("pause/quiesce-fails", "fail_at = pre_switchover\n", test_pause_quiesce_fails);
    ADD_STATE("pause/restore-refused", "", test_pause_restore_refused);
    ADD_STATE("pause/hold-refused", "", test_pause_hold_refused);
    ADD_STATE("pause/failed-after-suspend", "", test_pause_failed_after_suspend);
    ADD("pause/not-vouched", test_pause_not_vouched);
    ADD_STATE("auto/pause-both-vouch", "", test_auto_pause);
    ADD_STATE("auto/unplug-not-vouched-there", "", test_auto_unplug_there);
    ADD_STATE("auto/unplug-not-vouched-here", "vouch = none\n", test_auto_unplug_here);
    ADD_STATE("two/saved-in-order", TWO, test_two_saved);
    ADD_STATE("two/save-fails", TWO "fail_at = save_state\n", test_two_save_fails);
    ADD_STATE("two/check-refused", TWO, test_two_check_refused);
    ADD_STATE("two/auto-union", "vouch = none\n" TWO "state = no\nvouch = native\n",
              test_two_auto_union);
    ADD_STATE("two/auto-denied", "vouch = native\n" TWO "vouch = none\ndeny = native\n",
              test_auto_unplug_here);
    ADD_STATE("two/pause-denied", TWO "deny = pause\n", test_two_pause_denied);
    ADD_STATE("two/pause-not-vouched", "vouch = none\n" TWO "vouch = native\n",
              test_two_pause_not_vouched);
    ADD_STATE("two/pause-ok", TWO, test_two_pause_ok);
    ADD_STATE("two/pause-quiesce-fails", TWO "fail_at = pre_switchover\n",
              test_two_pause_quiesce_fails);
    ADD_STATE("two/restart-aborts-both", TWO, test_two_restart_aborts_both);
    ADD_STATE("state/restart-record-one-plugin", "", test_restart_record_one_plugin);
#define ADD_SRIOV(name, how, func) \
    g_test_add("/src-nic/sriov/" name, Fixture, &how, setup_sriov, func, teardown)
    ADD_SRIOV("unplug", sriov_plain, test_sriov_unplug);
    ADD_SRIOV("unplug-fails-after-save", sriov_plain, test_sriov_unplug_fails);
    ADD_SRIOV("check-refused", sriov_plain, test_sriov_check_refused);
    ADD_SRIOV("native", sriov_native_pool, test_sriov_native);
    ADD_SRIOV("native-stop-copy", sriov_native_stop_copy, test_sriov_native_stop_copy);
    ADD_SRIOV("unplug-stop-copy", sriov_unplug_stop_copy, test_sriov_native_stop_copy);
    ADD_SRIOV("auto-native", sriov_vouch_native, test_sriov_auto_native);
#define ADD_VDPA(name, how, func) \
    g_test_add("/src-nic/vdpa/" name, Fixture, &how, setup_vdpa, func, teardown)
    ADD_VDPA("unplug", vdpa_plain, test_vdpa_unplug);
    ADD_VDPA("record-round-trip", vdpa_plain, test_record_round_trip);
    ADD_VDPA("auto-native", vdpa_vouch_native, test_vdpa_auto_native);
    ADD_VDPA("native-not-vouched", vdpa_plain, test_vdpa_native_not_vouched);
    ADD_VDPA("refused-no-pool", vdpa_stray, test_vdpa_refused);
    ADD_VDPA("refused-not-vhost-vdpa", vdpa_not_vhost, test_vdpa_refused);
    return g_test_run();
}
