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
    GAsyncQueue *events;        /* "removed ALIAS", "added ALIAS" from the loop */
    GPtrArray *facts;
    gint done;
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

static void
on_device(const VirtEvent *ev, gpointer data)
{
    Run *run = data;

    g_async_queue_push(run->events, g_strdup_printf("%s %s", virt_event_kind_to_string(ev->kind),
                                                    ev->alias));
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

GPtrArray *
virt_facts_run(VirtConn *conn, const char *domain, const char *alias, const char *unreachable_uri)
{
    Run run = { .conn = conn, .ops = virt_conn_ops(conn), .domain = domain, .alias = alias,
                .unreachable_uri = unreachable_uri };
    g_autoptr(GError) error = NULL;
    int ids[2];
    GThread *thread;

    run.events = g_async_queue_new_full(g_free);
    run.facts = g_ptr_array_new_with_free_func((GDestroyNotify)virt_fact_free);
    ids[0] = run.ops->event_register(conn, domain, VIRT_EVENT_DEVICE_REMOVED, on_device, &run,
                                     NULL, &error);
    ids[1] = run.ops->event_register(conn, domain, VIRT_EVENT_DEVICE_ADDED, on_device, &run,
                                     NULL, &error);
    thread = g_thread_new("virt-facts", facts_thread, &run);
    while (!g_atomic_int_get(&run.done))
        (void)g_main_context_iteration(NULL, TRUE);
    g_thread_join(thread);
    for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
        run.ops->event_deregister(conn, ids[i]);
    g_async_queue_unref(run.events);
    return run.facts;
}
