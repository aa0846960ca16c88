/* The fake hypervisor behaves as libvirt 9.0 does as measured in the lab
 * (tests/lab/README.md, "Facts for passthrough NICs"): each test pins one
 * fact, so that nobody makes the fake kinder than libvirt. Calls that block
 * in libvirt run in a thread here, as they do in migd's workers. */
#include <config.h>

#include <string.h>

#include "fake-virt.h"
#include "virt-facts.h"

#define DEST "qemu+tcp://10.200.0.2/system"

static const char guest_xml[] =
    "<domain type='qemu'><name>labvm</name><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><model type='virtio'/>"
    "<teaming type='persistent'/><alias name='ua-standby0'/></interface>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><model type='vmxnet3'/>"
    "<target dev='avf0'/><alias name='ua-vf0'/></interface>\n"
    "</devices></domain>";

static const char vf_xml[] =
    "<interface type='bridge'><mac address='52:54:00:00:00:01'/><model type='vmxnet3'/>"
    "<alias name='ua-vf0'/></interface>";

typedef struct {
    FakeVirt *fv;
    VirtConn *conn;
    const VirtOps *ops;
    GPtrArray *seen;            /* "kind domain alias|event/detail" of each event, in order */
    gboolean on_main_thread;    /* every event was delivered on the loop's thread */
    GThread *main_thread;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->fv = fake_virt_new();
    f->ops = fake_virt_ops(f->fv);
    fake_virt_add_host(f->fv, DEST);
    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, "labvm", guest_xml, VIR_DOMAIN_RUNNING);
    f->conn = f->ops->open(f->ops, FAKE_VIRT_LOCAL, &error);
    g_assert_no_error(error);
    f->seen = g_ptr_array_new_with_free_func(g_free);
    f->on_main_thread = TRUE;
    f->main_thread = g_thread_self();
}

static void
teardown(Fixture *f, gconstpointer data)
{
    virt_conn_unref(f->conn);
    fake_virt_free(f->fv);
    g_ptr_array_unref(f->seen);
}

static void
on_event(const VirtEvent *ev, gpointer data)
{
    Fixture *f = data;

    f->on_main_thread &= g_thread_self() == f->main_thread;
    if (ev->kind == VIRT_EVENT_LIFECYCLE)
        g_ptr_array_add(f->seen, g_strdup_printf("%s %s %d/%d", virt_event_kind_to_string(ev->kind),
                                                 ev->domain, ev->event, ev->detail));
    else
        g_ptr_array_add(f->seen, g_strdup_printf("%s %s %s", virt_event_kind_to_string(ev->kind),
                                                 ev->domain, ev->alias ? ev->alias : ""));
}

static void
watch(Fixture *f, VirtConn *conn, VirtEventKind kind)
{
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(f->ops->event_register(conn, NULL, kind, on_event, f, NULL, &error), >=, 0);
    g_assert_no_error(error);
}

static void
watch_devices(Fixture *f)
{
    watch(f, f->conn, VIRT_EVENT_DEVICE_REMOVED);
    watch(f, f->conn, VIRT_EVENT_DEVICE_REMOVAL_FAILED);
    watch(f, f->conn, VIRT_EVENT_DEVICE_ADDED);
}

static void
assert_seen(Fixture *f, const char *const *expected)
{
    guint n = g_strv_length((char **)expected);

    for (guint i = 0; i < MIN(n, f->seen->len); i++)
        g_assert_cmpstr(g_ptr_array_index(f->seen, i), ==, expected[i]);
    g_assert_cmpuint(f->seen->len, ==, n);
    g_assert_true(f->on_main_thread);
}

/* --- a call in a thread, as in a worker -------------------------------------- */

typedef struct {
    Fixture *f;
    gboolean (*call)(Fixture *f, gpointer arg, GError **error);
    gpointer arg;
    gboolean ok;
    guint seen_at_return;       /* events delivered when the call returned */
    GError *error;
    gint done;
} Worker;

static gboolean
wake(gpointer data)
{
    return G_SOURCE_REMOVE;
}

static gpointer
worker_main(gpointer data)
{
    Worker *w = data;

    w->ok = w->call(w->f, w->arg, &w->error);
    w->seen_at_return = w->f->seen->len;
    g_atomic_int_set(&w->done, 1);
    g_idle_add(wake, NULL);
    return NULL;
}

static GThread *
worker_start(Worker *w)
{
    return g_thread_new("worker", worker_main, w);
}

/* Runs the loop (delivering events) until @w's call returned. */
static void
worker_join(Worker *w, GThread *thread)
{
    while (!g_atomic_int_get(&w->done))
        (void)g_main_context_iteration(NULL, TRUE);
    g_thread_join(thread);
}

static gboolean
call_detach(Fixture *f, gpointer alias, GError **error)
{
    return f->ops->detach_alias(f->conn, "labvm", alias, error);
}

static void
detach_ok(Fixture *f, const char *alias)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(f->ops->detach_alias(f->conn, "labvm", alias, &error));
    g_assert_no_error(error);
}

/* --- lookups ---------------------------------------------------------------- */

static void
test_lookup_unknown_domain(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info = { .state = 42 };

    g_assert_false(f->ops->get_info(f->conn, "nosuch", &info, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
    g_assert_cmpstr(error->message, ==, "Domain not found: no domain with matching name 'nosuch'");
    g_assert_cmpint(info.state, ==, 42);    /* ret_ untouched */
    g_clear_error(&error);
    g_assert_null(f->ops->get_xml(f->conn, "nosuch", 0, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
}

static void
test_list_running(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) running = NULL;

    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, "off", guest_xml, VIR_DOMAIN_SHUTOFF);
    running = f->ops->list_running(f->conn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(running->len, ==, 1);
    g_assert_cmpstr(((VirtDomainXml *)running->pdata[0])->name, ==, "labvm");
    g_assert_nonnull(strstr(((VirtDomainXml *)running->pdata[0])->xml, "ua-vf0"));
}

/* --- detach ----------------------------------------------------------------- */

/* Measured: detach by alias returns in ~30 ms, before the guest let go;
 * DEVICE_REMOVED comes ~300 ms later, and the device leaves the live XML then. */
static void
test_detach_returns_before_removed(Fixture *f, gconstpointer data)
{
    static const char *const expected[] = { "device-removed labvm ua-vf0", NULL };

    watch_devices(f);
    detach_ok(f, "ua-vf0");
    g_assert_cmpuint(f->seen->len, ==, 0);
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    fake_virt_flush(f->fv);
    assert_seen(f, expected);
    g_assert_false(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
}

/* DEVICE_REMOVED can be delivered before the detach call returns. */
static void
test_detach_removed_before_return(Fixture *f, gconstpointer data)
{
    static const char *const expected[] = { "device-removed labvm ua-vf0", NULL };
    Worker w = { .f = f, .call = call_detach, .arg = (gpointer) "ua-vf0" };

    watch_devices(f);
    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_REMOVED_EARLY);
    worker_join(&w, worker_start(&w));
    g_assert_no_error(w.error);
    g_assert_true(w.ok);
    g_assert_cmpuint(w.seen_at_return, ==, 1);
    assert_seen(f, expected);
}

/* Measured with a guest that has no OS: 0 at once, also when repeated; no
 * event at all; the device stays in the live XML. */
static void
test_detach_never_acknowledged(Fixture *f, gconstpointer data)
{
    static const char *const none[] = { NULL };
    static const char *const late[] = { "device-removed labvm ua-vf0", NULL };

    watch_devices(f);
    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_NEVER);
    detach_ok(f, "ua-vf0");
    detach_ok(f, "ua-vf0");
    fake_virt_flush(f->fv);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    assert_seen(f, none);
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    /* The test may let the guest answer late. */
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0");
    fake_virt_flush(f->fv);
    assert_seen(f, late);
    g_assert_false(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
}

static void
test_detach_removal_failed(Fixture *f, gconstpointer data)
{
    static const char *const expected[] = { "device-removal-failed labvm ua-vf0", NULL };

    watch_devices(f);
    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_FAILED);
    detach_ok(f, "ua-vf0");
    fake_virt_flush(f->fv);
    assert_seen(f, expected);
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
}

/* A second detach while the first is pending is accepted silently: one event. */
static void
test_detach_twice(Fixture *f, gconstpointer data)
{
    static const char *const expected[] = { "device-removed labvm ua-vf0", NULL };

    watch_devices(f);
    detach_ok(f, "ua-vf0");
    detach_ok(f, "ua-vf0");
    fake_virt_flush(f->fv);
    assert_seen(f, expected);
}

/* An alias the domain does not have (any more) fails, as libvirt says. */
static void
test_detach_unknown_alias(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_false(f->ops->detach_alias(f->conn, "labvm", "ua-nope", &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_assert_cmpstr(error->message, ==, "internal error: no device found with alias ua-nope");
    g_clear_error(&error);
    detach_ok(f, "ua-vf0");
    fake_virt_flush(f->fv);
    g_assert_false(f->ops->detach_alias(f->conn, "labvm", "ua-vf0", &error));
    g_assert_cmpstr(error->message, ==, "internal error: no device found with alias ua-vf0");
}

/* --- attach ----------------------------------------------------------------- */

static void
test_attach_alias_in_use(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_false(f->ops->attach(f->conn, "labvm", vf_xml, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, "unsupported configuration: non unique alias detected: "
                                        "ua-vf0");
    g_clear_error(&error);
    /* Until DEVICE_REMOVED the device is still there: a replug too early fails. */
    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_NEVER);
    detach_ok(f, "ua-vf0");
    g_assert_false(f->ops->attach(f->conn, "labvm", vf_xml, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_CONFIG);
}

static void
test_attach_after_removed(Fixture *f, gconstpointer data)
{
    static const char *const expected[] = { "device-removed labvm ua-vf0",
                                            "device-added labvm ua-vf0", NULL };
    g_autoptr(GError) error = NULL;

    watch_devices(f);
    detach_ok(f, "ua-vf0");
    fake_virt_flush(f->fv);
    g_assert_true(f->ops->attach(f->conn, "labvm", vf_xml, &error));
    g_assert_no_error(error);
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    fake_virt_flush(f->fv);
    assert_seen(f, expected);
}

/* --- events ----------------------------------------------------------------- */

typedef struct {
    Fixture *f;
    int id;
    guint calls;
    gboolean freed;
} SelfRemoving;

static void
on_event_deregister(const VirtEvent *ev, gpointer data)
{
    SelfRemoving *s = data;

    s->calls++;
    s->f->ops->event_deregister(s->f->conn, s->id);
    g_assert_false(s->freed);   /* not while its callback runs */
}

static void
self_removing_free(gpointer data)
{
    ((SelfRemoving *)data)->freed = TRUE;
}

/* Events are delivered on the loop even for a call made in a worker; a
 * callback may deregister itself. */
static void
test_events_on_loop(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    SelfRemoving s = { .f = f };
    Worker w = { .f = f, .call = call_detach, .arg = (gpointer) "ua-vf0" };

    s.id = f->ops->event_register(f->conn, "labvm", VIRT_EVENT_DEVICE_REMOVED,
                                  on_event_deregister, &s, self_removing_free, &error);
    g_assert_no_error(error);
    watch_devices(f);
    worker_join(&w, worker_start(&w));
    fake_virt_flush(f->fv);
    g_assert_true(f->on_main_thread);
    g_assert_cmpuint(f->seen->len, ==, 1);
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_true(s.freed);
    g_assert_cmpint(f->ops->event_register(f->conn, "nosuch", VIRT_EVENT_LIFECYCLE, on_event, f,
                                           NULL, &error), ==, -1);
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
}

/* --- migration ----------------------------------------------------------------- */

static gboolean
call_migrate(Fixture *f, gpointer params, GError **error)
{
    virTypedParameterPtr p = NULL;
    int n = 0, max = 0;
    gboolean ok;

    if (params)
        (void)virTypedParamsAddString(&p, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, params);
    ok = f->ops->migrate(f->conn, "labvm", DEST, p, n,
                         VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_POSTCOPY, error);
    virTypedParamsFree(p, n);
    return ok;
}

static VirtConn *
open_dest(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    VirtConn *dest = f->ops->open(f->ops, DEST, &error);

    g_assert_no_error(error);
    return dest;
}

/* The guest moves: it runs on the destination (resumed there before the
 * call returns), the source's domain is gone, and both ends report the job. */
static void
test_migration_moves_guest(Fixture *f, gconstpointer data)
{
    g_autoptr(VirtConn) dest = open_dest(f);
    g_autofree char *expected_resume = g_strdup_printf("lifecycle labvm %d/%d",
                                                       VIR_DOMAIN_EVENT_RESUMED,
                                                       VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    VirtJobStats stats = { .data_total = 128 << 20, .downtime_ms = 60, .time_elapsed_ms = 2000 };
    Worker w = { .f = f, .call = call_migrate, .arg = (gpointer) "<domain>dest</domain>" };
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    VirtJobStats done = { 0 };
    FakeMigrateCall call;

    watch(f, dest, VIRT_EVENT_LIFECYCLE);
    watch(f, f->conn, VIRT_EVENT_JOB_COMPLETED);
    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", FAKE_MIGRATE_COMPLETE, &stats,
                               NULL);
    worker_join(&w, worker_start(&w));
    g_assert_no_error(w.error);
    g_assert_true(w.ok);
    /* started, resumed on the destination, JOB_COMPLETED here: all before the return */
    g_assert_cmpuint(w.seen_at_return, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(f->seen, 1), ==, expected_resume);
    g_assert_cmpstr(g_ptr_array_index(f->seen, 2), ==, "job-completed labvm ");
    g_assert_cmpint(fake_virt_domain_state(f->fv, DEST, "labvm"), ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm"), ==, -1);
    xml = fake_virt_domain_xml(f->fv, DEST, "labvm");
    g_assert_cmpstr(xml, ==, "<domain>dest</domain>");
    g_assert_true(f->ops->job_stats(dest, "labvm", TRUE, &done, &error));
    g_assert_cmpint(done.type, ==, VIR_DOMAIN_JOB_COMPLETED);
    g_assert_cmpuint(done.downtime_ms, ==, 60);
    g_assert_true(fake_virt_last_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", &call));
    g_assert_cmpstr(call.dest_xml, ==, "<domain>dest</domain>");
    g_assert_cmpuint(call.flags & VIR_MIGRATE_PEER2PEER, !=, 0);
}

static void
test_migration_fails(Fixture *f, gconstpointer data)
{
    Worker w = { .f = f, .call = call_migrate };

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", FAKE_MIGRATE_FAIL, NULL,
                               "operation failed: job 'migration out' failed: Unable to write");
    worker_join(&w, worker_start(&w));
    g_assert_false(w.ok);
    g_assert_error(w.error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_assert_cmpstr(w.error->message, ==, "operation failed: job 'migration out' failed: "
                                          "Unable to write");
    g_clear_error(&w.error);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm"), ==,
                    VIR_DOMAIN_RUNNING);
    g_assert_cmpint(fake_virt_domain_state(f->fv, DEST, "labvm"), ==, -1);
}

/* A held migration reports a running job; an abort ends it and the guest
 * stays here; with no job an abort is refused. */
static void
test_migration_abort(Fixture *f, gconstpointer data)
{
    VirtJobStats stats = { .data_total = 100, .data_remaining = 40 };
    Worker w = { .f = f, .call = call_migrate };
    g_autoptr(GError) error = NULL;
    VirtJobStats now = { 0 };
    FakeMigrateCall call;
    GThread *thread;

    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", FAKE_MIGRATE_HOLD, &stats, NULL);
    thread = worker_start(&w);
    while (!fake_virt_migrating(f->fv, FAKE_VIRT_LOCAL, "labvm"))
        g_thread_yield();
    g_assert_true(f->ops->job_stats(f->conn, "labvm", FALSE, &now, &error));
    g_assert_cmpint(now.type, ==, VIR_DOMAIN_JOB_UNBOUNDED);
    g_assert_cmpuint(now.data_remaining, ==, 40);
    g_assert_true(f->ops->set_max_downtime(f->conn, "labvm", 500, &error));
    /* libvirt's largest cap is its "none"; one more is an overflow. */
    g_assert_true(f->ops->set_max_speed(f->conn, "labvm", VIRT_SPEED_UNCAPPED_MIBPS, &error));
    g_assert_false(f->ops->set_max_speed(f->conn, "labvm", VIRT_SPEED_UNCAPPED_MIBPS + 1, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "bandwidth must be less than 8796093022208"));
    g_clear_error(&error);
    g_assert_true(f->ops->abort_job(f->conn, "labvm", &error));
    g_assert_no_error(error);
    worker_join(&w, thread);
    g_assert_error(w.error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_ABORTED);
    g_clear_error(&w.error);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm"), ==,
                    VIR_DOMAIN_RUNNING);
    g_assert_true(f->ops->job_stats(f->conn, "labvm", FALSE, &now, &error));
    g_assert_cmpint(now.type, ==, VIR_DOMAIN_JOB_NONE);
    g_assert_false(f->ops->abort_job(f->conn, "labvm", &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID);
    g_assert_true(fake_virt_last_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", &call));
    g_assert_cmpuint(call.max_downtime_ms, ==, 500);
    g_assert_cmpstr(call.dest_uri, ==, DEST);
}

/* Post-copy started during a held migration: the guest resumes there with
 * the post-copy detail. */
static void
test_migration_postcopy(Fixture *f, gconstpointer data)
{
    g_autoptr(VirtConn) dest = open_dest(f);
    g_autofree char *expected = g_strdup_printf("lifecycle labvm %d/%d", VIR_DOMAIN_EVENT_RESUMED,
                                                VIR_DOMAIN_EVENT_RESUMED_POSTCOPY);
    Worker w = { .f = f, .call = call_migrate };
    g_autoptr(GError) error = NULL;
    GThread *thread;

    g_assert_false(f->ops->start_postcopy(f->conn, "labvm", &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_OPERATION_INVALID);
    g_clear_error(&error);
    watch(f, dest, VIRT_EVENT_LIFECYCLE);
    fake_virt_script_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", FAKE_MIGRATE_HOLD, NULL, NULL);
    thread = worker_start(&w);
    while (!fake_virt_migrating(f->fv, FAKE_VIRT_LOCAL, "labvm"))
        g_thread_yield();
    g_assert_true(f->ops->start_postcopy(f->conn, "labvm", &error));
    fake_virt_end_migration(f->fv, FAKE_VIRT_LOCAL, "labvm", TRUE, NULL);
    worker_join(&w, thread);
    g_assert_no_error(w.error);
    g_assert_cmpstr(g_ptr_array_index(f->seen, 1), ==, expected);
}

/* A persistent source domain stays defined, shut off. */
static void
test_migration_persistent_source(Fixture *f, gconstpointer data)
{
    Worker w = { .f = f, .call = call_migrate };

    fake_virt_set_persistent(f->fv, FAKE_VIRT_LOCAL, "labvm", NULL);
    worker_join(&w, worker_start(&w));
    g_assert_no_error(w.error);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm"), ==,
                    VIR_DOMAIN_SHUTOFF);
}

/* --- a dropped connection ---------------------------------------------------------- */

static void
test_connection_drop(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VirtConn) again = NULL;
    VirtDomainInfo info;

    watch_devices(f);
    fake_virt_script_unplug(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_NEVER);
    detach_ok(f, "ua-vf0");
    fake_virt_drop(f->fv, FAKE_VIRT_LOCAL);
    fake_virt_remove_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0");
    fake_virt_flush(f->fv);
    g_assert_cmpuint(f->seen->len, ==, 0);     /* no event on a dead connection */
    g_assert_false(f->ops->get_info(f->conn, "labvm", &info, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED);
    g_clear_error(&error);
    g_assert_null(f->ops->open(f->ops, FAKE_VIRT_LOCAL, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_clear_error(&error);
    fake_virt_restore(f->fv, FAKE_VIRT_LOCAL);
    again = f->ops->open(f->ops, FAKE_VIRT_LOCAL, &error);
    g_assert_no_error(error);
    g_assert_true(f->ops->get_info(again, "labvm", &info, &error));
    g_assert_false(f->ops->get_info(f->conn, "labvm", &info, NULL));   /* the old one stays dead */
}

/* A destination that does not listen makes the migration fail at once. */
static void
test_migration_destination_down(Fixture *f, gconstpointer data)
{
    Worker w = { .f = f, .call = call_migrate };

    fake_virt_drop(f->fv, DEST);
    worker_join(&w, worker_start(&w));
    g_assert_error(w.error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_assert_cmpstr(w.error->message, ==, "unable to connect to server at '10.200.0.2:16509': "
                                          "Connection refused");
    g_clear_error(&w.error);
    g_assert_cmpint(fake_virt_domain_state(f->fv, FAKE_VIRT_LOCAL, "labvm"), ==,
                    VIR_DOMAIN_RUNNING);
}

/* A scripted failure of one call, then libvirt as before. */
static void
test_fail_next(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_LIST_RUNNING, VIRT_OPS_ERROR_FAILED,
                        "internal error: cannot list");
    g_assert_null(f->ops->list_running(f->conn, &error));
    g_assert_cmpstr(error->message, ==, "internal error: cannot list");
    g_clear_error(&error);
    g_autoptr(GPtrArray) running = f->ops->list_running(f->conn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_LIST_RUNNING), ==, 2);
}

/* The Virt a step holds hands out the fake. */
static void
test_virt_hands_out_fake(void)
{
    g_autoptr(FakeVirt) fv = fake_virt_new();
    g_autoptr(Virt) virt = NULL;
    g_autoptr(VirtConn) conn = NULL;
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info;

    fake_virt_add_domain(fv, FAKE_VIRT_LOCAL, "labvm", guest_xml, VIR_DOMAIN_PAUSED);
    virt = fake_virt_new_virt(fv);
    g_assert_true(virt_ops(virt) == fake_virt_ops(fv));
    conn = virt_conn(virt);
    g_assert_true(virt_ops(virt)->get_info(conn, "labvm", &info, &error));
    g_assert_cmpint(info.state, ==, VIR_DOMAIN_PAUSED);
    fake_virt_drop(fv, FAKE_VIRT_LOCAL);
    g_assert_null(virt_conn(virt));
    g_assert_false(virt_ops(virt)->get_info(conn, "labvm", &info, NULL));
    fake_virt_restore(fv, FAKE_VIRT_LOCAL);
    g_clear_pointer(&conn, virt_conn_unref);
    conn = virt_conn(virt);
    g_assert_true(virt_ops(virt)->get_info(conn, "labvm", &info, &error));
    g_clear_pointer(&virt, virt_free);
}

/* The checks that tests/lab/test-virt-facts runs against the real libvirt
 * pass against the fake, with the guest's measured unplug delay. */
static void
test_lab_facts(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) facts = NULL;
    gboolean all = TRUE;

    fake_virt_set_unplug_delay(f->fv, 300);
    facts = virt_facts_run(f->conn, "labvm", "ua-vf0", "qemu+tcp://127.0.0.1:1/system");
    for (guint i = 0; i < facts->len; i++) {
        VirtFact *fact = g_ptr_array_index(facts, i);

        g_test_message("%s %s: %s", fact->ok ? "ok" : "NOT OK", fact->name, fact->observed);
        all &= fact->ok;
    }
    g_assert_cmpuint(facts->len, ==, 13);
    g_assert_true(all);
}

/* The migration checks of tests/lab/test-virt-facts pass against the fake,
 * the first way back scripted to run until aborted (the lab caps it at 1
 * MiB/s), the paused one after it to complete. */
static void
test_lab_migration_facts(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) facts = NULL;
    gboolean all = TRUE;

    fake_virt_script_migration(f->fv, DEST, "labvm", FAKE_MIGRATE_HOLD_ONCE, NULL, NULL);
    facts = virt_facts_run_migration(f->conn, "labvm", FAKE_VIRT_LOCAL, DEST);
    for (guint i = 0; i < facts->len; i++) {
        VirtFact *fact = g_ptr_array_index(facts, i);

        g_test_message("%s %s: %s", fact->ok ? "ok" : "NOT OK", fact->name, fact->observed);
        all &= fact->ok;
    }
    g_assert_cmpuint(facts->len, ==, 14);
    g_assert_true(all);
}

#define ADD(name, fn) g_test_add("/fake-virt/" name, Fixture, NULL, setup, fn, teardown)

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("lookup/unknown-domain", test_lookup_unknown_domain);
    ADD("lookup/list-running", test_list_running);
    ADD("detach/returns-before-removed", test_detach_returns_before_removed);
    ADD("detach/removed-before-return", test_detach_removed_before_return);
    ADD("detach/never-acknowledged", test_detach_never_acknowledged);
    ADD("detach/removal-failed", test_detach_removal_failed);
    ADD("detach/twice", test_detach_twice);
    ADD("detach/unknown-alias", test_detach_unknown_alias);
    ADD("attach/alias-in-use", test_attach_alias_in_use);
    ADD("attach/after-removed", test_attach_after_removed);
    ADD("events/on-loop", test_events_on_loop);
    ADD("migration/moves-guest", test_migration_moves_guest);
    ADD("migration/fails", test_migration_fails);
    ADD("migration/abort", test_migration_abort);
    ADD("migration/postcopy", test_migration_postcopy);
    ADD("migration/persistent-source", test_migration_persistent_source);
    ADD("migration/destination-down", test_migration_destination_down);
    ADD("connection/drop", test_connection_drop);
    ADD("fail-next", test_fail_next);
    ADD("lab-facts", test_lab_facts);
    ADD("lab-migration-facts", test_lab_migration_facts);
    g_test_add_func("/fake-virt/virt-hands-out-fake", test_virt_hands_out_fake);
    return g_test_run();
}
