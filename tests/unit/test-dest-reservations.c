/* The destination's reservations on the fake hypervisor: what a source's
 * POST /v1/reservations gets (ok, busy, no VF, libvirt down), two armed at
 * once, a retry superseding what a failed job left, and release when the
 * source says the job is over. */
#include <config.h>

#include "dest-priv.h"
#include "error.h"
#include "test-dest.h"
#include "testutil.h"

#define NIC0 "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"}]"
#define NIC0_TWO "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"}," \
    "{\"alias\":\"ua-vf1\",\"mac\":\"52:54:00:00:00:02\",\"pool\":\"lab\"}]"

static void
add_guest(TdFixture *f, const char *uri, const char *name, const char *const *nics, int state)
{
    g_autofree char *xml = td_domain_xml(name, nics);

    fake_virt_add_domain(f->fv, uri, name, xml, state);
}

static const char *
nic_address(json_t *reservation, guint i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(reservation, "nics"), i), "address"));
}

static guint
reservations_count(TdFixture *f)
{
    g_autoptr(json_t) list = incoming_list(f->in);

    return json_array_size(json_object_get(list, "reservations"));
}

static void
test_reserve_ok(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL;

    /* A guest running here holds tvf0: it is not free. */
    add_guest(f, FAKE_VIRT_LOCAL, "other", (const char *const[]){ "net0=tvf0", NULL },
              VIR_DOMAIN_RUNNING);
    r = td_reserve(f, "job-1", "labvm", "unplug", NIC0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nic_address(r, 0), ==, "tvf1");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(r, "replug"), "state")), ==,
                    "idle");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_LIST_RUNNING), ==, 1);
}

static void
test_reserve_busy(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", "[]", NULL);
    g_autoptr(json_t) b = td_reserve(f, "job-2", "vm2", "unplug", "[]", NULL);
    g_autoptr(json_t) c = td_reserve(f, "job-3", "vm3", "unplug", "[]", &error);

    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_null(c);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_BUSY);
    g_assert_true(strstr(error->message, "at most 2 incoming migrations"));
}

static void
test_reserve_no_vf(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) a = NULL, b = NULL;

    add_guest(f, FAKE_VIRT_LOCAL, "other", (const char *const[]){ "net0=tvf0", NULL },
              VIR_DOMAIN_RUNNING);
    a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);
    b = td_reserve(f, "job-2", "vm2", "unplug", NIC0, &error);
    g_assert_nonnull(a);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpstr(error->message, ==, "no free VF in pool 'lab': 1 leased, 1 in use");
    g_assert_cmpuint(reservations_count(f), ==, 1);
}

/* A list that fails hides which VFs running guests hold: nothing is leased. */
static void
test_reserve_libvirt_down(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL;
    g_autoptr(json_t) list = NULL;

    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_LIST_RUNNING, VIRT_OPS_ERROR_DISCONNECTED,
                        "Cannot write data: Broken pipe");
    r = td_reserve(f, "job-1", "vm1", "unplug", NIC0, &error);
    g_assert_null(r);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED);
    g_assert_cmpstr(error->message, ==, "migd on this host cannot list the running domains: "
                    "Cannot write data: Broken pipe, so it cannot tell which VFs are in use");
    g_assert_cmpuint(reservations_count(f), ==, 0);
    g_clear_error(&error);
    /* The next asking, with libvirt back, gets its VF. */
    list = td_reserve(f, "job-1", "vm1", "unplug", NIC0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nic_address(list, 0), ==, "tvf0");
}

static const char *
drain_now(gpointer data)
{
    return *(const char **)data;
}

/* While a drain empties this host nothing is reserved or leased, with the
 * drain named; once it has ended the same request gets its VF. */
static void
test_reserve_draining(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL;
    const char *drain = "d-1";

    incoming_set_drain_query(f->in, drain_now, &drain);
    r = td_reserve(f, "job-1", "vm1", "unplug", NIC0, &error);
    g_assert_null(r);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_DRAINING);
    g_assert_cmpstr(error->message, ==,
                    "this host is being drained (drain d-1) and takes no incoming migration "
                    "until the drain has ended; choose another destination");
    g_assert_cmpuint(reservations_count(f), ==, 0);
    g_assert_null(lease_find(f->in->leases, "tvf0"));
    g_clear_error(&error);
    drain = NULL;
    r = td_reserve(f, "job-1", "vm1", "unplug", NIC0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nic_address(r, 0), ==, "tvf0");
}

typedef struct {
    gboolean done;
    json_t *result;
    GError *error;
} Pending;

static void
pending_answered(json_t *result, const GError *error, gpointer data)
{
    Pending *p = data;

    p->done = TRUE;
    p->result = result ? json_incref(result) : NULL;
    p->error = error ? g_error_copy(error) : NULL;
}

/* A reservation from @source asked for now; answered when the loop runs. */
static void
reserve_async(TdFixture *f, const char *source, const char *job, const char *domain,
              const char *nics, Pending *p)
{
    g_autoptr(json_t) request = json_pack("{s:s,s:s,s:s,s:s,s:o}", "job", job, "domain", domain,
                                          "source", source, "strategy", "unplug", "nics",
                                          json_loads(nics, 0, NULL));

    incoming_reserve(f->in, request, pending_answered, p);
}

static void
pending_wait(Pending *p, guint n)
{
    for (guint i = 0; i < n; i++)
        while (!p[i].done)
            (void)g_main_context_iteration(NULL, TRUE);
}

static void
pending_clear(Pending *p, guint n)
{
    for (guint i = 0; i < n; i++) {
        if (p[i].result)
            json_decref(p[i].result);
        g_clear_error(&p[i].error);
    }
}

/* Several sources draining toward this host at once: their reservations
 * are all in flight (each waiting for its look at the running guests)
 * before any is answered, and still no VF is leased twice. */
static void
test_concurrent_sources(TdFixture *f, gconstpointer data)
{
    Pending p[2] = { 0 };
    Pending q[2] = { 0 };
    const GError *loser;
    const char *a, *b;

    reserve_async(f, "A", "job-a", "vm-a", NIC0, &p[0]);
    reserve_async(f, "C", "job-c", "vm-c", NIC0, &p[1]);
    g_assert_false(p[0].done || p[1].done);
    pending_wait(p, 2);
    g_assert_no_error(p[0].error);
    g_assert_no_error(p[1].error);
    a = nic_address(p[0].result, 0);
    b = nic_address(p[1].result, 0);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_cmpstr(a, !=, b);
    (void)incoming_release(f->in, "job-a", NULL);
    (void)incoming_release(f->in, "job-c", NULL);
    /* Two that want both VFs each: one gets them, the other nothing. */
    reserve_async(f, "A", "job-a2", "vm-a", NIC0_TWO, &q[0]);
    reserve_async(f, "C", "job-c2", "vm-c", NIC0_TWO, &q[1]);
    pending_wait(q, 2);
    g_assert_true((q[0].result == NULL) != (q[1].result == NULL));
    loser = q[0].result ? q[1].error : q[0].error;
    g_assert_error(loser, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
    g_assert_cmpuint(reservations_count(f), ==, 1);
    pending_clear(p, 2);
    pending_clear(q, 2);
}

static void
test_two_armed(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);
    g_autoptr(json_t) b = td_reserve(f, "job-2", "vm2", "unplug", NIC0, NULL);
    g_autoptr(json_t) pa = incoming_prepare(f->in, "job-1", &error);
    g_autoptr(json_t) pb = NULL;

    g_assert_no_error(error);
    pb = incoming_prepare(f->in, "job-2", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "armed");
    g_assert_cmpstr(td_replug_state(f, "job-2"), ==, "armed");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_EVENT_REGISTER), ==, 1);
}

/* A retry of a failed job toward this host: the leftover armed reservation
 * goes, with its slot and its VF, and is not armed for the guest. */
static void
test_supersede(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) old = td_reserve(f, "job-1", "labvm", "unplug", NIC0, NULL);
    g_autoptr(json_t) other = td_reserve(f, "job-2", "vm2", "unplug", NIC0, NULL);
    g_autoptr(json_t) armed = incoming_prepare(f->in, "job-1", NULL);
    g_autoptr(json_t) retry = NULL;

    g_assert_nonnull(armed);
    retry = td_reserve(f, "job-3", "labvm", "unplug", NIC0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nic_address(retry, 0), ==, "tvf0");
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "gone");
    g_assert_cmpuint(reservations_count(f), ==, 2);
}

static void
test_durable(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);
    g_autoptr(json_t) pa = incoming_prepare(f->in, "job-1", NULL);
    g_autoptr(json_t) after = NULL;

    g_assert_nonnull(pa);
    td_restart(f);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "armed");
    after = incoming_get(f->in, "job-1", NULL);
    g_assert_cmpstr(nic_address(after, 0), ==, "tvf0");
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_EVENT_REGISTER), ==, 2);
}

/* After a restart each reservation's source is asked about its job. */
static void
test_released_when_final(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);
    g_autoptr(json_t) b = td_reserve(f, "job-2", "vm2", "unplug", NIC0, NULL);
    g_autoptr(json_t) p = incoming_prepare(f->in, "job-1", NULL);

    fake_peer_answer(f->fp, "GET", "/v1/migrations/job-1", 200,
                     "{\"id\":\"job-1\",\"state\":\"failed\"}");
    fake_peer_answer(f->fp, "GET", "/v1/migrations/job-2", 200,
                     "{\"id\":\"job-2\",\"state\":\"migrating\"}");
    td_restart(f);
    dest_tick((Incoming *)f->in);
    fake_peer_flush(f->fp);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "gone");
    g_assert_cmpstr(td_replug_state(f, "job-2"), ==, "idle");
    g_assert_cmpstr(fake_peer_last(f->fp, "GET", "/v1/migrations/job-1")->base_url, ==,
                    TD_SOURCE_URL);
}

static void
test_released_when_unknown(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);

    fake_peer_error(f->fp, "GET", "/v1/migrations/job-1", MIGD_ERROR_NOT_FOUND,
                    "there is no migration job-1");
    td_restart(f);
    dest_tick((Incoming *)f->in);
    fake_peer_flush(f->fp);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "gone");
}

/* A source that cannot be reached now may be restarting: kept. */
static void
test_kept_when_source_unreachable(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) a = td_reserve(f, "job-1", "vm1", "unplug", NIC0, NULL);

    fake_peer_refused(f->fp, "GET", "/v1/migrations/job-1");
    td_restart(f);
    dest_tick((Incoming *)f->in);
    fake_peer_flush(f->fp);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
}

/* A source_url that is no [peer.NAME] of this host is never asked. */
static void
test_untrusted_source_not_asked(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve_from(f, "http://169.254.169.254", "job-1", "vm1", "unplug",
                                          "[]", &error);

    g_assert_no_error(error);
    g_assert_false(dest_source_trusted((Incoming *)f->in, "http://169.254.169.254"));
    g_assert_true(dest_source_trusted((Incoming *)f->in, TD_SOURCE_URL));
    td_restart(f);
    dest_tick((Incoming *)f->in);
    fake_peer_flush(f->fp);
    g_assert_cmpuint(fake_peer_requests(f->fp)->len, ==, 0);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
}

static void
test_mixed_needs_nic_strategy(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve(f, "job-1", "vm1", "mixed", NIC0, &error);

    g_assert_null(r);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    g_assert_true(strstr(error->message, "nics[0] (ua-vf0) has no strategy"));
}

/* A VLAN out of range is refused with the field named, and the NIC leased
 * before it in the same request is not kept: both VFs are free after. */
static void
test_vlan_out_of_range(TdFixture *f, gconstpointer data)
{
    static const char two_bad[] =
        "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"},"
        "{\"alias\":\"ua-vf1\",\"mac\":\"52:54:00:00:00:02\",\"pool\":\"lab\","
        "\"vlan\":-1}]";
    static const char two_good[] =
        "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"},"
        "{\"alias\":\"ua-vf1\",\"mac\":\"52:54:00:00:00:02\",\"pool\":\"lab\","
        "\"vlan\":4095}]";
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) bad = td_reserve(f, "job-1", "labvm", "unplug", two_bad, &error);
    g_autoptr(json_t) good = NULL;

    g_assert_null(bad);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(error->message, ==, "nics[1].vlan -1 is not a VLAN id (0 for none, or 1-4095)");
    g_clear_error(&error);
    good = td_reserve(f, "job-2", "labvm", "unplug", two_good, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nic_address(good, 0), ==, "tvf0");
    g_assert_cmpstr(nic_address(good, 1), ==, "tvf1");
    g_assert_cmpint(json_integer_value(json_object_get(
                        json_array_get(json_object_get(good, "nics"), 1), "vlan")), ==, 4095);
}

/* The hook drops the unplugged NIC and points the native one at its VF. */
static void
test_mixed_hook(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve(
        f, "job-1", "labvm", "mixed",
        "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\",\"strategy\":"
        "\"unplug\"},{\"alias\":\"ua-vf1\",\"mac\":\"52:54:00:00:00:02\",\"pool\":\"lab\","
        "\"strategy\":\"native\"}]", &error);
    g_autofree char *xml = td_domain_xml("labvm", (const char *const[]){ "ua-vf0=avf0",
                                                                       "ua-vf1=avf1", NULL });
    g_autoptr(json_t) hook = json_pack("{s:s,s:s,s:s,s:s}", "domain", "labvm", "operation",
                                       "migrate", "sub_operation", "begin", "xml", xml);
    g_autoptr(json_t) out = NULL;
    const char *rewritten;

    g_assert_no_error(error);
    out = incoming_hook(f->in, hook, &error);
    g_assert_no_error(error);
    rewritten = json_string_value(json_object_get(out, "xml"));
    g_assert_null(strstr(rewritten, "ua-vf0"));
    g_assert_nonnull(strstr(rewritten, "ua-vf1"));
    g_assert_nonnull(strstr(rewritten, "tvf1"));
    g_assert_null(strstr(rewritten, "avf1"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A replug that fails warns; the tests check what it says. */
    test_log_capture();
#define add(path, fn) g_test_add(path, TdFixture, NULL, td_setup, fn, td_teardown)
    add("/dest/reserve/ok", test_reserve_ok);
    add("/dest/reserve/busy", test_reserve_busy);
    add("/dest/reserve/no-vf", test_reserve_no_vf);
    add("/dest/reserve/draining", test_reserve_draining);
    add("/dest/reserve/concurrent-sources", test_concurrent_sources);
    add("/dest/reserve/libvirt-down", test_reserve_libvirt_down);
    add("/dest/reserve/two-armed", test_two_armed);
    add("/dest/reserve/supersede", test_supersede);
    add("/dest/reserve/durable", test_durable);
    add("/dest/release/source-final", test_released_when_final);
    add("/dest/release/source-unknown", test_released_when_unknown);
    add("/dest/release/source-unreachable", test_kept_when_source_unreachable);
    add("/dest/release/untrusted-url", test_untrusted_source_not_asked);
    add("/dest/strategy/mixed-needs-nic-strategy", test_mixed_needs_nic_strategy);
    add("/dest/strategy/mixed-hook", test_mixed_hook);
    add("/dest/reserve/vlan-out-of-range", test_vlan_out_of_range);
#undef add
    return g_test_run();
}
