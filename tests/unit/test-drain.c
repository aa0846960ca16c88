/* A drain's plan and queue (daemon/src-drain.c): the guests as the fake
 * hypervisor lists them running, the peers' capacities as read, and jobs
 * started through a stand-in for the engine. Asserts what an operator
 * would check: where each guest goes, how many run at once (this host's
 * max_outgoing, each peer's free incoming slots), what stays and why. */
#include <config.h>

#include <libvirt/libvirt.h>
#include <string.h>

#include "fake-virt.h"
#include "src-drain.h"
#include "testutil.h"
#include "virt-ops.h"

static const char conf_text[] =
    "[daemon]\ntcp_listen = 10.200.0.1:7480\n"
    "[pool.lab]\ntype = emulated\nmodel = vmxnet3\nbridge = br0\n"
    "slots = avf1, avf2, avf3, avf4, avf5, avf6, avf7\n";

typedef struct {
    FakeVirt *fv;
    MigdConf *conf;
    GPtrArray *peers;           /* ChoicePeer* */
    GPtrArray *started;         /* "DOMAIN>PEER", in the order submitted */
    const char *refuse;         /* a domain whose submit fails */
    Drain *drain;
} Fixture;

static void
add_guest(Fixture *f, const char *name, guint slot, int state)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>%s</name><devices>\n"
        "  <interface type='bridge'><mac address='52:54:00:00:00:0%u'/><source bridge='br0'/>"
        "<target dev='avf%u'/><model type='vmxnet3'/><alias name='ua-vf0'/></interface>\n"
        "</devices></domain>", name, slot, slot);

    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, name, xml, state);
}

static void
add_peer(Fixture *f, const char *name, guint free_slots, guint free_vfs)
{
    g_autofree char *uri = g_strdup_printf("qemu+tcp://%s/system", name);
    g_autofree char *url = g_strdup_printf("http://%s:7480", name);
    ChoicePeer *p = choice_peer_new(name, uri, url);
    g_autoptr(json_t) capacity = json_pack(
        "{s:i,s:i,s:{s:{s:i,s:i}}}", "max_incoming", 4, "incoming_free", (int)free_slots,
        "pools", "lab", "total", 8, "free", (int)free_vfs);

    g_assert_true(choice_peer_take_capacity(p, capacity));
    g_ptr_array_add(f->peers, p);
}

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->fv = fake_virt_new();
    f->conf = conf_load_data("test.conf", conf_text, &error);
    g_assert_no_error(error);
    f->peers = g_ptr_array_new_with_free_func((GDestroyNotify)choice_peer_free);
    f->started = g_ptr_array_new_with_free_func(g_free);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    drain_free(f->drain);
    g_ptr_array_unref(f->started);
    g_ptr_array_unref(f->peers);
    conf_free(f->conf);
    fake_virt_free(f->fv);
}

/* The drain as the API makes it: the running guests from libvirt. */
static void
plan(Fixture *f, GHashTable *in_flight)
{
    const VirtOps *ops = fake_virt_ops(f->fv);
    g_autoptr(GError) error = NULL;
    g_autoptr(VirtConn) conn = ops->open(ops, FAKE_VIRT_LOCAL, &error);
    g_autoptr(GPtrArray) running = NULL;

    g_assert_no_error(error);
    running = ops->list_running(conn, &error);
    g_assert_no_error(error);
    f->drain = drain_plan("d1", f->conf, running, in_flight, f->peers);
}

static gboolean
submit(gpointer ctx, const DrainGuest *g, char **ret_job, char **ret_error)
{
    Fixture *f = ctx;

    if (g_strcmp0(f->refuse, g->domain) == 0) {
        *ret_error = g_strdup_printf("a migration of %s is already under way", g->domain);
        return FALSE;
    }
    g_ptr_array_add(f->started, g_strdup_printf("%s>%s", g->domain, g->peer));
    *ret_job = g_strdup_printf("job-%s", g->domain);
    return TRUE;
}

static const DrainOps ops = { .submit = submit };

static char *
started(Fixture *f)
{
    g_ptr_array_add(f->started, NULL);
    char *s = g_strjoinv(" ", (char **)f->started->pdata);

    g_ptr_array_remove_index(f->started, f->started->len - 1);
    return s;
}

static void
assert_started(Fixture *f, const char *expected)
{
    g_autofree char *s = started(f);

    g_assert_cmpstr(s, ==, expected);
}

static DrainGuest *
guest(Fixture *f, const char *domain)
{
    GPtrArray *guests = drain_guests(f->drain);

    for (guint i = 0; i < guests->len; i++) {
        DrainGuest *g = g_ptr_array_index(guests, i);

        if (strcmp(g->domain, domain) == 0)
            return g;
    }
    g_assert_not_reached();
}

static void
end_job(Fixture *f, const char *domain, gboolean completed)
{
    g_autofree char *job = g_strdup_printf("job-%s", domain);

    drain_job_changed(f->drain, job, completed ? "completed" : "failed", TRUE, completed,
                      completed ? "vm runs there" : "the migrate call failed");
    drain_pump(f->drain);
}

static int
total(Fixture *f, const char *member)
{
    g_autoptr(json_t) j = drain_to_json(f->drain, FALSE);

    return (int)json_integer_value(json_object_get(json_object_get(j, "total"), member));
}

/* Seven guests, B with 1 free slot and 3 VFs, C with 2 slots and 3 VFs,
 * this host with max_outgoing 3: the plan spreads them by free VFs and
 * slots, no more than 3 run at once, no more than 1 to B and 2 to C, the
 * rest start as jobs end, and the seventh, for whom no VF is left, stays. */
static void
test_queue(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) done = NULL;

    for (guint i = 1; i <= 7; i++) {
        g_autofree char *name = g_strdup_printf("vm%u", i);

        add_guest(f, name, i, VIR_DOMAIN_RUNNING);
    }
    add_peer(f, "B", 1, 3);
    add_peer(f, "C", 2, 3);
    plan(f, NULL);
    g_assert_cmpstr(guest(f, "vm1")->peer, ==, "C");
    g_assert_cmpstr(guest(f, "vm2")->peer, ==, "B");
    g_assert_cmpstr(guest(f, "vm3")->peer, ==, "C");
    g_assert_cmpstr(guest(f, "vm4")->peer, ==, "B");
    g_assert_cmpstr(guest(f, "vm5")->peer, ==, "C");
    g_assert_cmpstr(guest(f, "vm6")->peer, ==, "B");
    g_assert_cmpint(guest(f, "vm7")->state, ==, DRAIN_GUEST_STAYS);
    g_assert_cmpstr(guest(f, "vm7")->why, ==,
                    "no peer can take vm7 (it needs 1 VF of pool 'lab' and an incoming slot): "
                    "B: it has 0 free VFs in pool 'lab' and the guest needs 1; C: it has 0 free "
                    "VFs in pool 'lab' and the guest needs 1");

    drain_start(f->drain, 3, &ops, f);
    assert_started(f, "vm1>C vm2>B vm3>C");
    g_assert_cmpint(total(f, "migrating"), ==, 3);
    g_assert_cmpint(total(f, "queued"), ==, 3);
    /* vm1's end frees a slot here and on C: vm4 waits for B, vm5 goes. */
    end_job(f, "vm1", TRUE);
    assert_started(f, "vm1>C vm2>B vm3>C vm5>C");
    /* A state change that is not an end starts nothing. */
    drain_job_changed(f->drain, "job-vm3", "migrating", FALSE, FALSE, NULL);
    drain_pump(f->drain);
    g_assert_cmpstr(guest(f, "vm3")->job_state, ==, "migrating");
    assert_started(f, "vm1>C vm2>B vm3>C vm5>C");
    end_job(f, "vm2", FALSE);
    assert_started(f, "vm1>C vm2>B vm3>C vm5>C vm4>B");
    end_job(f, "vm4", TRUE);
    assert_started(f, "vm1>C vm2>B vm3>C vm5>C vm4>B vm6>B");
    g_assert_false(drain_is_done(f->drain));
    end_job(f, "vm3", TRUE);
    end_job(f, "vm5", TRUE);
    end_job(f, "vm6", TRUE);
    g_assert_true(drain_is_done(f->drain));
    done = drain_to_json(f->drain, FALSE);
    g_assert_cmpstr(json_string_value(json_object_get(done, "state")), ==, "done");
    g_assert_cmpstr(json_string_value(json_object_get(done, "summary")), ==,
                    "5 of 7 guests left this host; 1 failed and 1 stays; vm2 failed: the "
                    "migrate call failed; vm7 stays: no peer can take vm7 (it needs 1 VF of "
                    "pool 'lab' and an incoming slot): B: it has 0 free VFs in pool 'lab' and "
                    "the guest needs 1; C: it has 0 free VFs in pool 'lab' and the guest needs "
                    "1");
}

/* Guests that are not running, or that a job already migrates, are not
 * the drain's; a refused submit fails that guest and the next one goes. */
static void
test_skipped_and_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) in_flight = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(json_t) j = NULL;

    add_guest(f, "vm1", 1, VIR_DOMAIN_RUNNING);
    add_guest(f, "vm2", 2, VIR_DOMAIN_RUNNING);
    add_guest(f, "vm3", 3, VIR_DOMAIN_RUNNING);
    add_guest(f, "off", 4, VIR_DOMAIN_SHUTOFF);
    add_peer(f, "B", 4, 8);
    g_hash_table_insert(in_flight, (gpointer)"vm1", (gpointer)"job-42");
    plan(f, in_flight);
    f->refuse = "vm2";
    drain_start(f->drain, 1, &ops, f);
    assert_started(f, "vm3>B");
    g_assert_cmpint(guest(f, "vm2")->state, ==, DRAIN_GUEST_FAILED);
    g_assert_cmpstr(guest(f, "vm2")->why, ==, "a migration of vm2 is already under way");
    j = drain_to_json(f->drain, FALSE);
    g_assert_cmpuint(json_array_size(json_object_get(j, "guests")), ==, 2);
    g_assert_cmpstr(json_string_value(json_object_get(
                        json_array_get(json_object_get(j, "skipped"), 0), "job")), ==, "job-42");
    g_assert_cmpint(total(f, "guests"), ==, 2);
}

/* A dry run is the plan: no job, and the record says so. */
static void
test_dry_run(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) j = NULL;

    add_guest(f, "vm1", 1, VIR_DOMAIN_RUNNING);
    add_peer(f, "B", 1, 0);
    add_peer(f, "C", 1, 1);
    plan(f, NULL);
    j = drain_to_json(f->drain, TRUE);
    g_assert_true(json_is_null(json_object_get(j, "id")));
    g_assert_cmpstr(json_string_value(json_object_get(j, "state")), ==, "planned");
    g_assert_cmpstr(json_string_value(json_object_get(j, "summary")), ==,
                    "1 of 1 guest would leave this host; 0 would stay");
    g_assert_cmpuint(f->started->len, ==, 0);
    /* The plan says who was refused, and why. */
    g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(
                        json_object_get(json_array_get(json_object_get(j, "guests"), 0),
                                        "destination_choice"), "refused"), 0), "why")), ==,
                    "it has 0 free VFs in pool 'lab' and the guest needs 1");
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/drain/queue", test_queue);
    ADD("/drain/skipped-and-refused", test_skipped_and_refused);
    ADD("/drain/dry-run", test_dry_run);
    return g_test_run();
}
