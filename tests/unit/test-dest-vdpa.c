/* The destination's side of a vDPA NIC, with a vdpa pool in a sysfs tree
 * of the test's and the "stateful" fixture plugin as kind = vdpa: a
 * reservation leases a free device of the pool by its vdpa name (one a
 * guest here has on its /dev/vhost-vdpa-N is not free), GET /v1/vfs shows
 * each with its node, an unplugged NIC's state goes onto the device before
 * it is plugged, and the hook points a NIC that stays attached at the
 * leased device by its <source dev> only. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "plugin-call.h"
#include "test-dest.h"
#include "testutil.h"

#define VDPA_NIC(strategy)                                                                   \
    "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"vn\",\"strategy\":\""    \
    strategy "\"}]"

/* A guest's live XML with a vdpa interface @alias on /dev/vhost-vdpa-@node. */
static char *
vdpa_domain_xml(const char *name, const char *alias, const char *node)
{
    return g_strdup_printf("<domain type='kvm'><name>%s</name><devices>"
                           "<interface type='vdpa'><mac address='52:54:00:00:00:01'/>"
                           "<source dev='/dev/vhost-vdpa-%s'/><model type='virtio'/>"
                           "<driver queues='4'/><alias name='%s'/>"
                           "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' "
                           "function='0x0'/></interface></devices></domain>", name, node, alias);
}

static json_t *
nic_of(json_t *reservation)
{
    return json_array_get(json_object_get(reservation, "nics"), 0);
}

static json_t *
vf_named(json_t *vfs, const char *address)
{
    size_t i;
    json_t *vf;

    json_array_foreach(json_object_get(vfs, "vfs"), i, vf) {
        if (g_strcmp0(json_string_value(json_object_get(vf, "address")), address) == 0)
            return vf;
    }
    return NULL;
}

/* vdpa0 is a running guest's (its node is in that guest's XML): the lease
 * is vdpa1, plugged as a vdpa interface on its own node; GET /v1/vfs says
 * so, and a third NIC finds the pool exhausted. */
static void
test_vdpa_reserve(TdFixture *f, gconstpointer data)
{
    g_autofree char *other = vdpa_domain_xml("other", "ua-net0", "0");
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = NULL, vfs = NULL, refused = NULL;

    fake_virt_add_domain(f->fv, FAKE_VIRT_LOCAL, "other", other, VIR_DOMAIN_RUNNING);
    r = td_reserve(f, "job-1", "labvm", "unplug", VDPA_NIC("unplug"), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_string_value(json_object_get(nic_of(r), "address")), ==, "vdpa1");
    g_assert_cmpstr(json_string_value(json_object_get(nic_of(r), "device_xml")), ==,
                    "<interface type='vdpa'><mac address='52:54:00:00:00:01'/>"
                    "<source dev='/dev/vhost-vdpa-3'/><model type='virtio'/>"
                    "<alias name='ua-vf0'/></interface>");
    vfs = td_vfs(f, &error);
    g_assert_no_error(error);
    /* The lab pool's tvf0 and tvf1, then vn's two. */
    g_assert_cmpuint(json_array_size(json_object_get(vfs, "vfs")), ==, 4);
    g_assert_null(json_object_get(vf_named(vfs, "tvf0"), "chardev"));
    g_assert_cmpstr(json_string_value(json_object_get(vf_named(vfs, "vdpa0"), "state")), ==,
                    "in-use");
    g_assert_cmpstr(json_string_value(json_object_get(vf_named(vfs, "vdpa0"), "domain")), ==,
                    "other");
    g_assert_cmpstr(json_string_value(json_object_get(vf_named(vfs, "vdpa0"), "chardev")), ==,
                    "/dev/vhost-vdpa-0");
    g_assert_cmpstr(json_string_value(json_object_get(vf_named(vfs, "vdpa1"), "state")), ==,
                    "leased");
    g_assert_cmpstr(json_string_value(json_object_get(vf_named(vfs, "vdpa1"), "driver")), ==,
                    "vhost_vdpa");
    g_assert_null(vf_named(vfs, "stray"));
    refused = td_reserve(f, "job-2", "webvm", "unplug", VDPA_NIC("unplug"), &error);
    g_assert_null(refused);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_NO_FREE_VF);
}

static void
assert_vdpa_steps(TdFixture *f, const char *const *steps)
{
    g_autofree char *log = td_calls_log(f);

    while (plugin_call_in_flight() > 0)
        (void)g_main_context_iteration(NULL, TRUE);
    test_assert_calls(log, "ua-vf0", "destination netdev=vdpa0 mac=52:54:00:00:00:01 pool=vn "
                      "domain=labvm job=job-1", steps);
}

/* Unplug: the plugin checks the state at the prepare, told the leased
 * device's vdpa name, and restores it before the device is plugged into
 * the guest, whose driver reads the device's config once. */
static void
test_vdpa_unplug(TdFixture *f, gconstpointer data)
{
    g_autofree char *xml = td_domain_xml("labvm", NULL);

    td_reserve_prepared(f, "unplug", VDPA_NIC("unplug"));
    assert_vdpa_steps(f, (const char *const[]){ "check_state", NULL });
    fake_virt_add_domain(f->fv, TD_SOURCE_URI, "labvm", xml, VIR_DOMAIN_RUNNING);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    assert_vdpa_steps(f, (const char *const[]){ "check_state", "restore_state", "virt attach",
                                                NULL });
    g_assert_true(incoming_release(f->in, "job-1", NULL));
}

static json_t *
hook(TdFixture *f, const char *xml, GError **error)
{
    g_autoptr(json_t) request = json_pack("{s:s,s:s,s:s,s:s}", "domain", "labvm", "operation",
                                          "migrate", "sub_operation", "begin", "xml", xml);

    return incoming_hook(f->in, request, error);
}

/* Native: the incoming XML names the source host's node; the hook gives
 * the NIC the leased device's and keeps what QEMU must find the same
 * (queues, guest PCI address). */
static void
test_vdpa_native_hook(TdFixture *f, gconstpointer data)
{
    g_autofree char *incoming = vdpa_domain_xml("labvm", "ua-vf0", "7");
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve(f, "job-1", "labvm", "native", VDPA_NIC("native"), &error);
    g_autoptr(json_t) out = NULL;
    const char *xml;

    g_assert_no_error(error);
    out = hook(f, incoming, &error);
    g_assert_no_error(error);
    xml = json_string_value(json_object_get(out, "xml"));
    g_assert_nonnull(strstr(xml, "<source dev=\"/dev/vhost-vdpa-0\"/>"));
    g_assert_null(strstr(xml, "vhost-vdpa-7"));
    g_assert_nonnull(strstr(xml, "<driver queues=\"4\"/>"));
    g_assert_nonnull(strstr(xml, "bus=\"0x01\""));
}

/* A vdpa interface the reservation does not know names a device of
 * another host (here: stray's node, in no pool): the hook refuses it. */
static void
test_vdpa_hook_not_leased(TdFixture *f, gconstpointer data)
{
    g_autofree char *incoming = vdpa_domain_xml("labvm", "ua-net9", "5");
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) out = hook(f, incoming, &error);

    g_assert_null(out);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(error->message, ==,
                    "the incoming XML of labvm has the passthrough device ua-net9 (stray) that "
                    "is not leased to it on this host; migrate it with migd so that a VF is "
                    "leased here");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
#define add(path, fn) g_test_add(path, TdFixture, "", td_setup_vdpa, fn, td_teardown)
    add("/dest/vdpa/reserve", test_vdpa_reserve);
    add("/dest/vdpa/unplug", test_vdpa_unplug);
    add("/dest/vdpa/native-hook", test_vdpa_native_hook);
    add("/dest/vdpa/hook-not-leased", test_vdpa_hook_not_leased);
#undef add
    return g_test_run();
}
