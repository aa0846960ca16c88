/* What the plugins are told of a VF of an sriov pool, on both ends of a
 * job (daemon/src-nic-state.c, daemon/dest-state.c): besides the VF's and
 * the PF's PCI addresses, its index on the PF and the PF's netdev, read from
 * a sysfs tree built here, which sriov-vfcfg needs to reach the VF over
 * rtnetlink; a VF the PF no longer has is told as index -1 and no netdev. */
#include <config.h>

#include <glib/gstdio.h>
#include <unistd.h>

#include "conf.h"
#include "dest-priv.h"
#include "plugin-call.h"
#include "src-nic-priv.h"
#include "testutil.h"

#define PF "0000:3b:00.0"
#define VF "0000:3b:02.3"

typedef struct {
    char *root;
    MigdConf *conf;
} Fixture;

/* <root>/bus/pci/devices/PF with net/ens1f0 and virtfn3 -> ../VF. */
static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;

    f->root = g_dir_make_tmp("migd-test-vf-place-XXXXXX", &error);
    g_assert_no_error(error);
    test_sysfs_add_pf(f->root, PF, "ens1f0", (const char *const[]){ "3=" VF, NULL });
    text = g_strdup_printf("[pool.a]\ntype = sriov\npf = " PF "\nsysfs_root = %s\n"
                           "[pool.lab]\ntype = emulated\nmodel = vmxnet3\nbridge = br0\n"
                           "slots = avf0\n", f->root);
    f->conf = conf_load_data("vf-place.conf", text, &error);
    g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    conf_free(f->conf);
    test_remove_tree(f->root);
    g_free(f->root);
}

/* "kind pci pf pf_netdev vf_index netdev" of what a plugin is told. */
static char *
describe(PluginDevice *dev)
{
    char *text = g_strdup_printf("%s %s %s %s %d %s",
                                 dev->kind == MIGD_DEVICE_VF ? "vf" : "emulated",
                                 dev->pci_address ? dev->pci_address : "-",
                                 dev->pf_address ? dev->pf_address : "-",
                                 dev->pf_netdev ? dev->pf_netdev : "-", dev->vf_index,
                                 dev->netdev ? dev->netdev : "-");

    plugin_device_free(dev);
    return text;
}

static char *
dest_device(Fixture *f, const char *pool, const char *address)
{
    Incoming in = { .conf = f->conf };
    Reservation r = { .id = (char *)"job-1", .domain = (char *)"labvm" };
    ResNic n = { .alias = (char *)"ua-vf0", .mac = (char *)"52:54:00:00:00:01",
                 .pool = (char *)pool, .address = (char *)address };

    return describe(dest_state_device(&in, &r, &n));
}

static char *
source_device(Fixture *f, const char *pool, const char *address)
{
    Job job = { .id = (char *)"job-1", .domain = (char *)"labvm" };
    DomNic dn = { .alias = (char *)"ua-vf0", .mac = (char *)"52:54:00:00:00:01",
                  .pool = (char *)pool, .address = (char *)address };
    Nic n = { .dom = &dn };
    NicSteps *ns = nic_steps_new(NULL, NULL, f->conf, &job);
    char *text = describe(nic_state_device(ns, &n));

    nic_steps_free(ns);
    return text;
}

static void
test_destination(Fixture *f, gconstpointer data)
{
    g_autofree char *vf = dest_device(f, "a", VF);
    g_autofree char *upper = dest_device(f, "a", "0000:3B:02.3");
    g_autofree char *gone = dest_device(f, "a", "0000:3b:02.4");
    g_autofree char *slot = dest_device(f, "lab", "avf0");

    g_assert_cmpstr(vf, ==, "vf " VF " " PF " ens1f0 3 -");
    g_assert_cmpstr(upper, ==, "vf 0000:3B:02.3 " PF " ens1f0 3 -");
    g_assert_cmpstr(gone, ==, "vf 0000:3b:02.4 " PF " - -1 -");
    g_assert_cmpstr(slot, ==, "emulated - - - -1 avf0");
}

static void
test_source(Fixture *f, gconstpointer data)
{
    g_autofree char *vf = source_device(f, "a", VF);
    g_autofree char *gone = source_device(f, "a", "0000:3b:02.4");
    g_autofree char *slot = source_device(f, "lab", "avf0");

    g_assert_cmpstr(vf, ==, "vf " VF " " PF " ens1f0 3 -");
    g_assert_cmpstr(gone, ==, "vf 0000:3b:02.4 " PF " - -1 -");
    g_assert_cmpstr(slot, ==, "emulated - - - -1 avf0");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define add(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    add("/vf-place/destination", test_destination);
    add("/vf-place/source", test_source);
    return g_test_run();
}
