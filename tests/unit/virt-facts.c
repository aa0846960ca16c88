/* The checks of virt-facts.h: each calls the table as a worker would, and
 * compares libvirt's answer (code and words) with what the fake says. */
#include <config.h>

#include <string.h>

#include "domxml.h"
#include "virt-facts.h"

/* How long the guest may take to answer an unplug or a plug (measured:
 * ~0.3 s and ~0.03 s), and how long to wait for a duplicate event. */
#define EVENT_WAIT_MS 5000
#define DUPLICATE_WAIT_MS 1000

typedef struct {
    VirtConn *conn;
    const VirtOps *ops;
    const char *domain;
    const char *alias;
    const char *unreachable_uri;
    const char *self_uri, *dest_uri;
    VirtConn *dest;
    GAsyncQueue *events;        /* "removed ALIAS", "added ALIAS" from the loop */
    GPtrArray *facts;
    gint done;
    /* DEVICE_REMOVED as heard by a second watch of the same connection,
     * and by one deregistered before the detach. */
    gint heard_also, heard_gone;
} Run;

void
virt_fact_free(VirtFact *fact)
{
    if (!fact)
        return;
    g_free(fact->observed);
    g_free(fact);
}

static void G_GNUC_PRINTF(4, 5)
fact(Run *run, const char *name, gboolean ok, const char *format, ...)
{
    VirtFact *f = g_new0(VirtFact, 1);
    va_list ap;

    f->name = name;
    f->ok = ok;
    va_start(ap, format);
    f->observed = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_ptr_array_add(run->facts, f);
}

/* A call that must fail with @code and exactly @message. */
static void
expect_error(Run *run, const char *name, gboolean ok, GError *error, VirtOpsErrorCode code,
             const char *message)
{
    if (ok)
        fact(run, name, FALSE, "succeeded (expected \"%s\")", message);
    else if (error->code == (int)code && strcmp(error->message, message) == 0)
        fact(run, name, TRUE, "%s", message);
    else
        fact(run, name, FALSE, "code %d \"%s\" (expected code %d \"%s\")", error->code,
             error->message, code, message);
}

/* The same where libvirt words it one of two ways, by when the call lands
 * (both seen from libvirt 9.0 on these machines). */
static void
expect_error_either(Run *run, const char *name, gboolean ok, GError *error, VirtOpsErrorCode code,
                    const char *message, const char *other)
{
    if (!ok && error->code == (int)code && strcmp(error->message, other) == 0)
        fact(run, name, TRUE, "%s", other);
    else
        expect_error(run, name, ok, error, code, message);
}

static void
on_device(const VirtEvent *ev, gpointer data)
{
    Run *run = data;

    g_async_queue_push(run->events, g_strdup_printf("%s %s", virt_event_kind_to_string(ev->kind),
                                                    ev->alias));
}

static void
on_removed_also(const VirtEvent *ev, gpointer data)
{
    g_atomic_int_inc((gint *)data);
}

/* The next event within @ms, or NULL. */
static char *
next_event(Run *run, guint ms)
{
    return g_async_queue_timeout_pop(run->events, (guint64)ms * 1000);
}

static gboolean
has_device(Run *run)
{
    g_autofree char *xml = run->ops->get_xml(run->conn, run->domain, 0, NULL);
    g_autofree char *dev = xml ? domxml_device_xml(xml, run->alias, NULL) : NULL;

    return dev != NULL;
}

static void
check_lookups(Run *run)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info;
    VirtJobStats stats = { .type = -1 };
    g_autofree char *open_msg = NULL;
    VirtConn *other;
    gboolean ok;

    ok = run->ops->get_info(run->conn, "migd-no-such-domain", &info, &error);
    expect_error(run, "lookup/unknown-domain", ok, error, VIRT_OPS_ERROR_NO_DOMAIN,
                 "Domain not found: no domain with matching name 'migd-no-such-domain'");
    g_clear_error(&error);
    ok = run->ops->job_stats(run->conn, run->domain, FALSE, &stats, &error);
    fact(run, "job/none", ok && stats.type == VIR_DOMAIN_JOB_NONE,
         "%s, type %d", ok ? "answered" : error->message, stats.type);
    g_clear_error(&error);
    ok = run->ops->abort_job(run->conn, run->domain, &error);
    expect_error(run, "job/abort-without-job", ok, error, VIRT_OPS_ERROR_OPERATION_INVALID,
                 "Requested operation is not valid: no job is active on the domain");
    g_clear_error(&error);
    ok = run->ops->resume(run->conn, run->domain, &error);
    expect_error(run, "resume/running", ok, error, VIRT_OPS_ERROR_OPERATION_INVALID,
                 "Requested operation is not valid: domain is already running");
    g_clear_error(&error);
    other = run->ops->open(run->ops, run->unreachable_uri, &error);
    virt_conn_unref(other);
    open_msg = g_strdup(other ? "" : error->message);
    fact(run, "open/refused", !other && strstr(open_msg, "Connection refused") != NULL,
         "%s", other ? "opened" : open_msg);
}

static void
check_attach_in_use(Run *run, const char *device_xml)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = g_strdup_printf("unsupported configuration: non unique alias "
                                                "detected: %s", run->alias);
    gboolean ok = run->ops->attach(run->conn, run->domain, device_xml, &error);

    expect_error(run, "attach/alias-in-use", ok, error, VIRT_OPS_ERROR_CONFIG, expected);
}

static void
check_detach_unknown(Run *run, const char *name, const char *alias)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = g_strdup_printf("internal error: no device found with alias %s",
                                                alias);
    gboolean ok = run->ops->detach_alias(run->conn, run->domain, alias, &error);

    expect_error(run, name, ok, error, VIRT_OPS_ERROR_FAILED, expected);
}

/* Detach, a second detach at once, DEVICE_REMOVED once, the device gone. */
static void
check_unplug(Run *run)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = g_strdup_printf("device-removed %s", run->alias);
    g_autofree char *first = NULL, *second = NULL;
    gboolean ok, again, present;

    ok = run->ops->detach_alias(run->conn, run->domain, run->alias, &error);
    present = ok && has_device(run);
    first = g_async_queue_try_pop(run->events);
    fact(run, "detach/returns-before-removed", ok,
         "%s; %s in the live XML; %s",
         ok ? "returned 0" : error->message, present ? "still" : "not", first ? first : "no event yet");
    g_clear_error(&error);
    again = run->ops->detach_alias(run->conn, run->domain, run->alias, &error);
    fact(run, "detach/twice", again,
         "%s", again ? "returned 0" : error->message);
    if (!first)
        first = next_event(run, EVENT_WAIT_MS);
    second = next_event(run, DUPLICATE_WAIT_MS);
    present = has_device(run);
    fact(run, "detach/removed-event", g_strcmp0(first, expected) == 0 && !second && !present,
         "%s, then %s; %s in the live XML", first ? first : "none",
         second ? second : "nothing", present ? "still" : "not");
    /* Two jobs on one host each watch the same events (libvirt itself
     * refuses a second registration of one callback: the table shares it). */
    fact(run, "events/every-watch",
         g_atomic_int_get(&run->heard_also) == 1 && g_atomic_int_get(&run->heard_gone) == 0,
         "a second watch of device-removed heard it %d time(s), a deregistered one %d",
         g_atomic_int_get(&run->heard_also), g_atomic_int_get(&run->heard_gone));
}

static void
check_replug(Run *run, const char *device_xml)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = g_strdup_printf("device-added %s", run->alias);
    g_autofree char *event = NULL;
    gboolean ok = run->ops->attach(run->conn, run->domain, device_xml, &error);

    event = ok ? next_event(run, EVENT_WAIT_MS) : NULL;
    fact(run, "attach/added-event", ok && g_strcmp0(event, expected) == 0 && has_device(run),
         "%s; %s", ok ? "returned 0" : error->message,
         event ? event : "no event");
}

/* --- migration ------------------------------------------------------------- */

typedef struct {
    Run *run;
    const char *side;           /* "src", "dst" */
} Side;

static void
on_migration_event(const VirtEvent *ev, gpointer data)
{
    Side *side = data;

    if (g_strcmp0(ev->domain, side->run->domain) != 0)
        return;
    if (ev->kind == VIRT_EVENT_LIFECYCLE)
        g_async_queue_push(side->run->events, g_strdup_printf("%s %d/%d", side->side, ev->event,
                                                              ev->detail));
    else
        g_async_queue_push(side->run->events, g_strdup_printf("%s %s", side->side,
                                                              virt_event_kind_to_string(ev->kind)));
}

/* Every event queued now, joined by ", ". */
static char *
drain_events(Run *run)
{
    g_autoptr(GString) out = g_string_new(NULL);
    char *ev;

    while ((ev = g_async_queue_try_pop(run->events))) {
        g_string_append_printf(out, "%s%s", out->len ? ", " : "", ev);
        g_free(ev);
    }
    return g_strdup(out->str);
}

typedef struct {
    Run *run;
    VirtConn *from;
    const char *to_uri;
    guint64 bandwidth_mibps;    /* 0: no cap */
    unsigned int flags;         /* beyond LIVE and PEER2PEER */
    gboolean ok;
    GError *error;
} Migration;

static gpointer
migration_thread(gpointer data)
{
    Migration *m = data;
    virTypedParameterPtr params = NULL;
    int n = 0, max = 0;

    if (m->bandwidth_mibps)
        (void)virTypedParamsAddULLong(&params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                      m->bandwidth_mibps);
    m->ok = virt_conn_ops(m->from)->migrate(m->from, m->run->domain, m->to_uri, params, n,
                                            VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | m->flags,
                                            &m->error);
    virTypedParamsFree(params, n);
    return NULL;
}

/* The events of a migration (expected_sequence()). */
#define MIGRATION_EVENTS 5

static guint
count_events(const char *joined)
{
    g_auto(GStrv) parts = *joined ? g_strsplit(joined, ", ", -1) : NULL;

    return parts ? g_strv_length(parts) : 0;
}

/* The next @want events (EVENT_WAIT_MS for each), then any that follow
 * within DUPLICATE_WAIT_MS, joined by ", ". */
static char *
collect_events(Run *run, guint want)
{
    g_autoptr(GString) out = g_string_new(NULL);
    guint got = 0;
    char *ev;

    while ((ev = next_event(run, got < want ? EVENT_WAIT_MS : DUPLICATE_WAIT_MS))) {
        g_string_append_printf(out, "%s%s", out->len ? ", " : "", ev);
        g_free(ev);
        got++;
    }
    return g_strdup(out->str);
}

/* The state of @domain on @conn as a word, "gone" when it is not there. */
static const char *
placement(Run *run, VirtConn *conn)
{
    VirtDomainInfo info;

    if (!run->ops->get_info(conn, run->domain, &info, NULL))
        return "gone";
    return info.state == VIR_DOMAIN_RUNNING ? "running"
           : info.state == VIR_DOMAIN_SHUTOFF ? "shut off"
           : info.state == VIR_DOMAIN_PAUSED  ? "paused"
                                              : "another state";
}

/* libvirt's order as the lab saw it; the fake must say the same. libvirt
 * 11.3 with QEMU 10.0 (tests/lab/run-on-backports) also says SHUTDOWN/HOST
 * on the source, before STOPPED/MIGRATED, when @shutdown_host: migd reads no
 * SHUTDOWN event, so the fake, which is libvirt 9.0, does not send it. */
static char *
expected_sequence(gboolean shutdown_host)
{
    g_autofree char *shutdown = g_strdup_printf("src %d/%d, ", VIR_DOMAIN_EVENT_SHUTDOWN,
                                                VIR_DOMAIN_EVENT_SHUTDOWN_HOST);

    return g_strdup_printf("dst %d/%d, src %d/%d, dst %d/%d, %ssrc %d/%d, src job-completed",
                           VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
                           VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                           VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                           shutdown_host ? shutdown : "", VIR_DOMAIN_EVENT_STOPPED,
                           VIR_DOMAIN_EVENT_STOPPED_MIGRATED);
}

static void
check_migrate(Run *run)
{
    Migration m = { .run = run, .from = run->conn, .to_uri = run->dest_uri };
    g_autofree char *expected = expected_sequence(FALSE);
    g_autofree char *expected_newer = expected_sequence(TRUE);
    g_autofree char *before = NULL, *after = NULL, *all = NULL;
    VirtJobStats done = { .type = -1 };

    migration_thread(&m);
    before = drain_events(run);
    after = collect_events(run, MIGRATION_EVENTS - MIN(count_events(before), MIGRATION_EVENTS));
    all = g_strdup_printf("%s%s%s", before, *before && *after ? ", " : "", after);
    fact(run, "migrate/returns", m.ok, "%s", m.ok ? "returned 0" : m.error->message);
    fact(run, "migrate/events", g_strcmp0(all, expected) == 0 || g_strcmp0(all, expected_newer) == 0,
         "before the return: [%s]; after: [%s]", before, after);
    fact(run, "migrate/placement", strcmp(placement(run, run->dest), "running") == 0 &&
                                       strcmp(placement(run, run->conn), "gone") == 0,
         "destination: %s; source: %s", placement(run, run->dest), placement(run, run->conn));
    (void)run->ops->job_stats(run->dest, run->domain, TRUE, &done, NULL);
    fact(run, "migrate/completed-stats", done.type == VIR_DOMAIN_JOB_COMPLETED,
         "type %d on the destination", done.type);
    g_clear_error(&m.error);
}

/* A migration back that is still running, post-copy refused, then aborted. */
static void
check_abort(Run *run)
{
    Migration m = { .run = run, .from = run->dest, .to_uri = run->self_uri, .bandwidth_mibps = 1 };
    g_autoptr(GError) error = NULL;
    VirtJobStats now = { .type = VIR_DOMAIN_JOB_NONE };
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    GThread *thread = g_thread_new("migrate", migration_thread, &m);
    gboolean ok;

    while (now.type == VIR_DOMAIN_JOB_NONE && g_get_monotonic_time() < deadline) {
        g_usleep(50 * 1000);
        if (!run->ops->job_stats(run->dest, run->domain, FALSE, &now, NULL))
            break;
    }
    fact(run, "abort/job-running", now.type == VIR_DOMAIN_JOB_UNBOUNDED, "job type %d", now.type);
    ok = run->ops->start_postcopy(run->dest, run->domain, &error);
    expect_error(run, "abort/postcopy-not-enabled", ok, error, VIRT_OPS_ERROR_OPERATION_INVALID,
                 "Requested operation is not valid: switching to post-copy requires migration "
                 "to be started with VIR_MIGRATE_POSTCOPY flag");
    g_clear_error(&error);
    ok = run->ops->abort_job(run->dest, run->domain, &error);
    fact(run, "abort/accepted", ok, "%s", ok ? "returned 0" : error->message);
    g_thread_join(thread);
    /* Which of the two depends on where in its migration job libvirt
     * notices the abort: one run gives one, the next the other. */
    expect_error_either(run, "abort/migrate-fails", m.ok, m.error, VIRT_OPS_ERROR_ABORTED,
                        "operation aborted: job 'migration out' canceled by client",
                        "operation aborted: migration out: canceled by client");
    g_clear_error(&m.error);
    fact(run, "abort/guest-stays", strcmp(placement(run, run->dest), "running") == 0,
         "%s where the migration was aborted", placement(run, run->dest));
}

/* @joined's events of one side ("src 2/1, src 3/0"). */
static char *
events_of(const char *joined, const char *side)
{
    g_auto(GStrv) parts = g_strsplit(joined, ", ", -1);
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; parts[i]; i++) {
        if (g_str_has_prefix(parts[i], side))
            g_string_append_printf(out, "%s%s", out->len ? ", " : "", parts[i]);
    }
    return g_strdup(out->str);
}

/* The guest comes back with VIR_MIGRATE_PAUSED (the pause strategy's
 * migration): it arrives paused, says so, and resumes when asked. */
static void
check_paused(Run *run)
{
    Migration m = { .run = run, .from = run->dest, .to_uri = run->self_uri,
                    .flags = VIR_MIGRATE_PAUSED };
    g_autofree char *expected = g_strdup_printf("src %d/%d, src %d/%d", VIR_DOMAIN_EVENT_STARTED,
                                                VIR_DOMAIN_EVENT_STARTED_MIGRATED,
                                                VIR_DOMAIN_EVENT_SUSPENDED,
                                                VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    g_autofree char *resumed = g_strdup_printf("src %d/%d", VIR_DOMAIN_EVENT_RESUMED,
                                               VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
    g_autofree char *all = NULL, *here = NULL, *after = NULL, *after_here = NULL;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    g_free(drain_events(run));
    migration_thread(&m);
    fact(run, "paused/returns", m.ok, "%s", m.ok ? "returned 0" : m.error->message);
    all = collect_events(run, MIGRATION_EVENTS);
    here = events_of(all, "src");
    fact(run, "paused/events", g_strcmp0(here, expected) == 0, "here: [%s] of [%s]", here, all);
    fact(run, "paused/placement", strcmp(placement(run, run->conn), "paused") == 0,
         "here: %s", placement(run, run->conn));
    ok = run->ops->resume(run->conn, run->domain, &error);
    fact(run, "paused/resume", ok && strcmp(placement(run, run->conn), "running") == 0,
         "%s, then %s", ok ? "resumed" : error->message, placement(run, run->conn));
    after = collect_events(run, 1);
    after_here = events_of(after, "src");
    fact(run, "paused/resume-event", g_strcmp0(after_here, resumed) == 0, "[%s]", after);
    g_clear_error(&m.error);
}

static gpointer
migration_facts_thread(gpointer data)
{
    Run *run = data;

    check_migrate(run);
    check_abort(run);
    check_paused(run);
    g_free(drain_events(run));
    g_atomic_int_set(&run->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static gpointer
facts_thread(gpointer data)
{
    Run *run = data;
    g_autofree char *xml = run->ops->get_xml(run->conn, run->domain, 0, NULL);
    g_autofree char *device = xml ? domxml_device_xml(xml, run->alias, NULL) : NULL;

    check_lookups(run);
    check_detach_unknown(run, "detach/unknown-alias", "ua-migd-nosuch");
    if (device) {
        check_attach_in_use(run, device);
        check_unplug(run);
        check_detach_unknown(run, "detach/after-removed", run->alias);
        check_replug(run, device);
    } else {
        fact(run, "device", FALSE, "%s has no device %s", run->domain, run->alias);
    }
    g_atomic_int_set(&run->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

/* Runs @thread on @run while the loop delivers the events it registered. */
static GPtrArray *
facts_run(Run *run, GThreadFunc thread_func)
{
    GThread *thread = g_thread_new("virt-facts", thread_func, run);

    while (!g_atomic_int_get(&run->done))
        (void)g_main_context_iteration(NULL, TRUE);
    g_thread_join(thread);
    g_async_queue_unref(run->events);
    return run->facts;
}

static void
run_init(Run *run, VirtConn *conn, const char *domain)
{
    run->conn = conn;
    run->ops = virt_conn_ops(conn);
    run->domain = domain;
    run->events = g_async_queue_new_full(g_free);
    run->facts = g_ptr_array_new_with_free_func((GDestroyNotify)virt_fact_free);
}

GPtrArray *
virt_facts_run(VirtConn *conn, const char *domain, const char *alias, const char *unreachable_uri)
{
    Run run = { .alias = alias, .unreachable_uri = unreachable_uri };
    GPtrArray *facts;
    int ids[3], gone;

    run_init(&run, conn, domain);
    /* Before the main watch, so that it has heard by the time the check
     * reads the main watch's event. */
    ids[0] = run.ops->event_register(conn, NULL, VIRT_EVENT_DEVICE_REMOVED, on_removed_also,
                                     &run.heard_also, NULL, NULL);
    gone = run.ops->event_register(conn, domain, VIRT_EVENT_DEVICE_REMOVED, on_removed_also,
                                   &run.heard_gone, NULL, NULL);
    ids[1] = run.ops->event_register(conn, domain, VIRT_EVENT_DEVICE_REMOVED, on_device, &run,
                                     NULL, NULL);
    ids[2] = run.ops->event_register(conn, domain, VIRT_EVENT_DEVICE_ADDED, on_device, &run,
                                     NULL, NULL);
    run.ops->event_deregister(conn, gone);
    facts = facts_run(&run, facts_thread);
    for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
        run.ops->event_deregister(conn, ids[i]);
    return facts;
}

GPtrArray *
virt_facts_run_migration(VirtConn *conn, const char *domain, const char *self_uri,
                         const char *dest_uri)
{
    Run run = { .self_uri = self_uri, .dest_uri = dest_uri };
    Side src = { &run, "src" }, dst = { &run, "dst" };
    g_autoptr(GError) error = NULL;
    GPtrArray *facts;
    int ids[3];

    run_init(&run, conn, domain);
    run.dest = run.ops->open(run.ops, dest_uri, &error);
    if (!run.dest) {
        fact(&run, "migrate/open-destination", FALSE, "%s", error->message);
        g_async_queue_unref(run.events);
        return run.facts;
    }
    ids[0] = run.ops->event_register(conn, NULL, VIRT_EVENT_LIFECYCLE, on_migration_event, &src,
                                     NULL, NULL);
    ids[1] = run.ops->event_register(conn, NULL, VIRT_EVENT_JOB_COMPLETED, on_migration_event,
                                     &src, NULL, NULL);
    ids[2] = run.ops->event_register(run.dest, NULL, VIRT_EVENT_LIFECYCLE, on_migration_event,
                                     &dst, NULL, NULL);
    facts = facts_run(&run, migration_facts_thread);
    run.ops->event_deregister(conn, ids[0]);
    run.ops->event_deregister(conn, ids[1]);
    run.ops->event_deregister(run.dest, ids[2]);
    virt_conn_unref(run.dest);
    return facts;
}
