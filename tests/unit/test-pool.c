/* Tests of the pools: sysfs trees built at test time in a temp directory,
 * shaped like the real one (devices under their bridge, bus/pci/devices
 * links to them, virtfnN and physfn links, driver links into
 * bus/pci/drivers, net/<ifname>), read through pools loaded from config. */
#include <config.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "pool.h"
#include "testutil.h"

#define PF_A "0000:3b:00.0"
#define PF_B "0000:af:00.0"
#define BRIDGE_DIR "devices/pci0000:00/0000:00:01.0"

typedef struct {
    char *root;
    MigdConf *conf;
    PoolSet *set;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->root = g_dir_make_tmp("migd-test-pool-XXXXXX", &error);
    g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    pool_set_free(f->set);
    conf_free(f->conf);
    test_remove_tree(f->root);
    g_free(f->root);
}

static void
make_dir(const char *path)
{
    g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
}

static void
make_link(const char *target, const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_cmpint(symlink(target, path), ==, 0);
}

static void
make_file(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* <root>/devices/.../@address, and the bus/pci/devices link to it;
 * returns the device's directory. */
static char *
make_device(Fixture *f, const char *address)
{
    g_autofree char *bus = g_build_filename(f->root, "bus", "pci", "devices", NULL);
    g_autofree char *target = g_strdup_printf("../../../" BRIDGE_DIR "/%s", address);
    char *dir = g_build_filename(f->root, BRIDGE_DIR, address, NULL);

    make_dir(dir);
    make_dir(bus);
    make_link(target, bus, address);
    return dir;
}

/* Binds the device in @dir to @driver, as the driver link sysfs shows. */
static void
bind_driver(Fixture *f, const char *dir, const char *driver)
{
    g_autofree char *drivers = g_build_filename(f->root, "bus", "pci", "drivers", driver, NULL);
    g_autofree char *target = g_strdup_printf("../../../../bus/pci/drivers/%s", driver);

    make_dir(drivers);
    make_link(target, dir, "driver");
}

static void
add_netdev(const char *dir, const char *ifname)
{
    g_autofree char *net = g_build_filename(dir, "net", ifname, NULL);

    make_dir(net);
    make_file(net, "address", "02:00:00:00:00:01\n");
}

/* A PF with what a real one has besides its VFs. */
static void
make_pf(Fixture *f, const char *address, const char *ifname)
{
    g_autofree char *dir = make_device(f, address);

    bind_driver(f, dir, "ice");
    add_netdev(dir, ifname);
    make_file(dir, "sriov_numvfs", "0\n");
    make_file(dir, "sriov_totalvfs", "64\n");
}

/* VF @n of @pf at @vf, bound to @driver (NULL: unbound), with the network
 * interface @ifname (NULL: none). */
static void
make_vf(Fixture *f, const char *pf, guint n, const char *vf, const char *driver,
        const char *ifname)
{
    g_autofree char *pf_dir = g_build_filename(f->root, BRIDGE_DIR, pf, NULL);
    g_autofree char *vf_dir = make_device(f, vf);
    g_autofree char *virtfn = g_strdup_printf("virtfn%u", n);
    g_autofree char *to_vf = g_strdup_printf("../%s", vf);
    g_autofree char *to_pf = g_strdup_printf("../%s", pf);

    make_link(to_vf, pf_dir, virtfn);
    make_link(to_pf, vf_dir, "physfn");
    if (driver)
        bind_driver(f, vf_dir, driver);
    if (ifname)
        add_netdev(vf_dir, ifname);
}

/* PF_A: three VFs, one on iavf with a netdev, one on vfio-pci, one unbound.
 * PF_B: eleven VFs on iavf, so virtfn10 must sort after virtfn9. */
static void
make_two_pfs(Fixture *f)
{
    make_pf(f, PF_A, "ens1f0");
    make_vf(f, PF_A, 0, "0000:3b:02.0", "iavf", "ens1f0v0");
    make_vf(f, PF_A, 1, "0000:3b:02.1", "vfio-pci", NULL);
    make_vf(f, PF_A, 2, "0000:3b:02.2", NULL, NULL);
    make_pf(f, PF_B, "ens2f0");
    for (guint i = 0; i < 11; i++) {
        g_autofree char *vf = g_strdup_printf("0000:af:%02x.%u", 0x10 + i / 8, i % 8);
        g_autofree char *ifname = g_strdup_printf("ens2f0v%u", i);

        make_vf(f, PF_B, i, vf, "iavf", ifname);
    }
}

/* Loads pools from @groups (with ROOT standing for the fixture's root). */
static void
load_pools(Fixture *f, const char *groups)
{
    g_auto(GStrv) parts = g_strsplit(groups, "ROOT", -1);
    g_autofree char *text = g_strjoinv(f->root, parts);
    g_autoptr(GError) error = NULL;

    f->conf = conf_load_data("pools.conf", text, &error);
    g_assert_no_error(error);
    f->set = pool_set_new(f->conf->pools);
}

/* One line per VF: "pool address index driver netdev". */
static char *
describe(const GPtrArray *vfs)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);

        g_string_append_printf(out, "%s %s %u %s %s\n", vf->pool, vf->address, vf->index,
                               vf->driver ? vf->driver : "-", vf->netdev ? vf->netdev : "-");
    }
    return g_string_free(out, FALSE);
}

static char *
read_vfs(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = pool_set_vfs(f->set, &error);

    g_assert_no_error(error);
    g_assert_nonnull(vfs);
    return describe(vfs);
}

/* Asserts that reading the pools fails with the configuration error
 * @expected, ROOT in it standing for the fixture's root. */
static void
assert_vfs_fail(Fixture *f, const char *expected)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = pool_set_vfs(f->set, &error);
    g_auto(GStrv) parts = g_strsplit(expected, "ROOT", -1);
    g_autofree char *want = g_strjoinv(f->root, parts);

    g_assert_null(vfs);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, want);
}

#define TWO_PFS \
    "[pool.a]\ntype = sriov\npf = " PF_A "\nsysfs_root = ROOT\n" \
    "[pool.b]\ntype = sriov\npf = " PF_B "\nsysfs_root = ROOT\nnative = true\n"

static void
test_pool_two_pfs(Fixture *f, gconstpointer data)
{
    g_autofree char *listing = NULL;

    make_two_pfs(f);
    load_pools(f, TWO_PFS);
    listing = read_vfs(f);
    g_assert_cmpstr(listing, ==,
                    "a 0000:3b:02.0 0 iavf ens1f0v0\n"
                    "a 0000:3b:02.1 1 vfio-pci -\n"
                    "a 0000:3b:02.2 2 - -\n"
                    "b 0000:af:10.0 0 iavf ens2f0v0\n"
                    "b 0000:af:10.1 1 iavf ens2f0v1\n"
                    "b 0000:af:10.2 2 iavf ens2f0v2\n"
                    "b 0000:af:10.3 3 iavf ens2f0v3\n"
                    "b 0000:af:10.4 4 iavf ens2f0v4\n"
                    "b 0000:af:10.5 5 iavf ens2f0v5\n"
                    "b 0000:af:10.6 6 iavf ens2f0v6\n"
                    "b 0000:af:10.7 7 iavf ens2f0v7\n"
                    "b 0000:af:11.0 8 iavf ens2f0v8\n"
                    "b 0000:af:11.1 9 iavf ens2f0v9\n"
                    "b 0000:af:11.2 10 iavf ens2f0v10\n");
    g_assert_false(pool_set_is_native(f->set, "a"));
    g_assert_true(pool_set_is_native(f->set, "b"));
    g_assert_false(pool_set_is_native(f->set, "c"));
}

/* A driver change (vfio-pci taking a VF from iavf) shows on the next read. */
static void
test_pool_reads_now(Fixture *f, gconstpointer data)
{
    g_autofree char *vf_dir = g_build_filename(f->root, BRIDGE_DIR, "0000:3b:02.0", NULL);
    g_autofree char *driver = g_build_filename(vf_dir, "driver", NULL);
    g_autofree char *net = g_build_filename(vf_dir, "net", NULL);
    g_autofree char *before = NULL, *after = NULL;

    make_pf(f, PF_A, "ens1f0");
    make_vf(f, PF_A, 0, "0000:3b:02.0", "iavf", "ens1f0v0");
    load_pools(f, "[pool.a]\ntype = sriov\npf = " PF_A "\nsysfs_root = ROOT\n");
    before = read_vfs(f);
    g_assert_cmpstr(before, ==, "a 0000:3b:02.0 0 iavf ens1f0v0\n");
    g_assert_cmpint(g_unlink(driver), ==, 0);
    test_remove_tree(net);
    bind_driver(f, vf_dir, "vfio-pci");
    after = read_vfs(f);
    g_assert_cmpstr(after, ==, "a 0000:3b:02.0 0 vfio-pci -\n");
}

/* A VF's place on its PF, what the plugins are told: the index of its
 * virtfn link (virtfn10, not 1) and the PF's netdev; a PF no net driver has
 * gives none, and an address that is not one of the PF's VFs changes
 * nothing. */
static void
test_pool_vf_place(Fixture *f, gconstpointer data)
{
    g_autofree char *pf_net = g_build_filename(f->root, BRIDGE_DIR, PF_A, "net", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = NULL;
    char *netdev = NULL;
    int index = -1;

    make_two_pfs(f);
    g_assert_true(pool_vf_place(f->root, PF_B, "0000:af:11.2", &index, &netdev));
    g_assert_cmpint(index, ==, 10);
    g_assert_cmpstr(netdev, ==, "ens2f0");
    g_assert_true(pool_vf_place(f->root, PF_A, "0000:3B:02.1", &index, &netdev));
    g_assert_cmpint(index, ==, 1);
    g_assert_cmpstr(netdev, ==, "ens1f0");

    g_assert_false(pool_vf_place(f->root, PF_A, "0000:af:10.0", &index, &netdev));
    g_assert_false(pool_vf_place(f->root, "0000:5e:00.1", "0000:3b:02.1", &index, &netdev));
    g_assert_false(pool_vf_place(f->root, PF_A, NULL, &index, &netdev));
    g_assert_cmpint(index, ==, 1);
    g_assert_cmpstr(netdev, ==, "ens1f0");

    /* The listing says the same of each VF. */
    load_pools(f, TWO_PFS);
    vfs = pool_set_vfs(f->set, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);

        g_assert_cmpstr(vf->pf_netdev, ==, g_str_equal(vf->pool, "a") ? "ens1f0" : "ens2f0");
    }

    test_remove_tree(pf_net);
    g_assert_true(pool_vf_place(f->root, PF_A, "0000:3b:02.2", &index, &netdev));
    g_assert_cmpint(index, ==, 2);
    g_assert_null(netdev);
    g_clear_pointer(&vfs, g_ptr_array_unref);
    vfs = pool_set_vfs(f->set, &error);
    g_assert_no_error(error);
    g_assert_null(((const PoolVf *)g_ptr_array_index(vfs, 0))->pf_netdev);
}

static void
test_pool_missing_pf(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *expected = NULL;

    make_pf(f, PF_A, "ens1f0");
    make_vf(f, PF_A, 0, "0000:3b:02.0", "iavf", "ens1f0v0");
    load_pools(f, "[pool.a]\ntype = sriov\npf = " PF_A "\nsysfs_root = ROOT\n"
                  "[pool.gone]\ntype = sriov\npf = 0000:5e:00.1\nsysfs_root = ROOT\n");
    vfs = pool_set_vfs(f->set, &error);
    g_assert_null(vfs);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    expected = g_strdup_printf("the PF 0000:5e:00.1 of pool 'gone' is not on this host: "
                               "%s/bus/pci/devices/0000:5e:00.1 does not exist; check pf in "
                               "[pool.gone]", f->root);
    g_assert_cmpstr(error->message, ==, expected);
}

static void
test_pool_pf_without_vfs(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *expected = NULL;

    make_pf(f, PF_A, "ens1f0");
    load_pools(f, "[pool.a]\ntype = sriov\npf = " PF_A "\nsysfs_root = ROOT\n");
    vfs = pool_set_vfs(f->set, &error);
    g_assert_null(vfs);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    expected = g_strdup_printf("the PF " PF_A " of pool 'a' has no VFs: %s/bus/pci/devices/"
                               PF_A " has no virtfnN links; create them with echo N > "
                               "%s/bus/pci/devices/" PF_A "/sriov_numvfs", f->root, f->root);
    g_assert_cmpstr(error->message, ==, expected);
}

#define EMULATED \
    "[pool.lab]\ntype = emulated\nbridge = virbr0\nslots = tap0, tap1, tap2\nnative = true\n" \
    "[pool.lab-e1000]\ntype = emulated\nmodel = e1000e\nbridge = br1\nslots = e0\n"

/* Emulated pools need no sysfs; pools come in configuration order. */
static void
test_pool_emulated(Fixture *f, gconstpointer data)
{
    g_autofree char *listing = NULL;

    make_pf(f, PF_A, "ens1f0");
    make_vf(f, PF_A, 0, "0000:3b:02.0", "iavf", "ens1f0v0");
    load_pools(f, "[pool.lab]\ntype = emulated\nbridge = virbr0\nslots = tap0, tap1, tap2\n"
                  "[pool.a]\ntype = sriov\npf = " PF_A "\nsysfs_root = ROOT\n"
                  "[pool.lab-e1000]\ntype = emulated\nmodel = e1000e\nbridge = br1\n"
                  "slots = e0\nnative = true\n");
    listing = read_vfs(f);
    g_assert_cmpstr(listing, ==,
                    "lab tap0 0 vmxnet3 -\n"
                    "lab tap1 1 vmxnet3 -\n"
                    "lab tap2 2 vmxnet3 -\n"
                    "a 0000:3b:02.0 0 iavf ens1f0v0\n"
                    "lab-e1000 e0 0 e1000e -\n");
    g_assert_false(pool_set_is_native(f->set, "lab"));
    g_assert_true(pool_set_is_native(f->set, "lab-e1000"));
}

static void
test_pool_lookup(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) vfs = NULL;

    make_two_pfs(f);
    load_pools(f, TWO_PFS EMULATED);
    /* Before any pool_set_vfs(): read from sysfs. */
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_HOSTDEV_INTERFACE, "0000:3b:02.1", NULL, NULL, f->set),
                    ==, "a");
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "0000:af:11.2", NULL, NULL, f->set), ==, "b");
    vfs = pool_set_vfs(f->set, NULL);
    g_assert_nonnull(vfs);
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "0000:3b:02.2", NULL, NULL, f->set), ==, "a");
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "0000:3B:02.0", NULL, NULL, f->set), ==, "a");
    /* A PF, a device in no pool, and a slot name are no VF. */
    g_assert_null(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, PF_A, NULL, NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_HOSTDEV_INTERFACE, "0000:5e:02.0", NULL, NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "tap0", NULL, NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, NULL, NULL, NULL, f->set));
    /* A VF created since the last read is found. */
    make_vf(f, PF_A, 3, "0000:3b:02.3", NULL, NULL);
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "0000:3b:02.3", NULL, NULL, f->set), ==, "a");

    /* A slot counts only with its pool's model. */
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_EMULATED, "tap1", "vmxnet3", NULL, f->set), ==, "lab");
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_EMULATED, "e0", "e1000e", NULL, f->set), ==, "lab-e1000");
    g_assert_null(pool_set_lookup(DOM_NIC_EMULATED, "tap1", "virtio", NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_EMULATED, "tap1", NULL, NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_EMULATED, "tap9", "vmxnet3", NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_EMULATED, "0000:3b:02.0", "vmxnet3", NULL, f->set));
}

/* The device at @address in @vfs. */
static const PoolVf *
find_vf(const GPtrArray *vfs, const char *address)
{
    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);

        if (g_str_equal(vf->address, address))
            return vf;
    }
    g_assert_not_reached();
}

static void
test_pool_device_xml(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *tagged = NULL, *untagged = NULL, *emulated = NULL;
    PoolVf stranger = { .pool = (char *)"nowhere", .address = (char *)"0000:3b:02.0" };

    make_two_pfs(f);
    load_pools(f, TWO_PFS EMULATED);
    vfs = pool_set_vfs(f->set, NULL);
    g_assert_nonnull(vfs);
    tagged = pool_device_xml(f->set, find_vf(vfs, "0000:af:11.2"), "ua-vf0",
                             "52:54:00:12:34:56", 100);
    g_assert_cmpstr(tagged, ==,
                    "<interface type='hostdev' managed='yes'>"
                    "<mac address='52:54:00:12:34:56'/>"
                    "<source><address type='pci' domain='0x0000' bus='0xaf' slot='0x11' "
                    "function='0x2'/></source>"
                    "<vlan><tag id='100'/></vlan>"
                    "<alias name='ua-vf0'/></interface>");
    untagged = pool_device_xml(f->set, find_vf(vfs, "0000:3b:02.1"), "ua-vf1",
                               "52:54:00:12:34:57", 0);
    g_assert_cmpstr(untagged, ==,
                    "<interface type='hostdev' managed='yes'>"
                    "<mac address='52:54:00:12:34:57'/>"
                    "<source><address type='pci' domain='0x0000' bus='0x3b' slot='0x02' "
                    "function='0x1'/></source>"
                    "<alias name='ua-vf1'/></interface>");
    emulated = pool_device_xml(f->set, find_vf(vfs, "e0"), "ua-vf0", "52:54:00:12:34:56", 100);
    g_assert_cmpstr(emulated, ==,
                    "<interface type='bridge'><mac address='52:54:00:12:34:56'/>"
                    "<source bridge='br1'/><target dev='e0'/><model type='e1000e'/>"
                    "<alias name='ua-vf0'/></interface>");
    g_assert_null(pool_device_xml(f->set, &stranger, "ua-vf0", "52:54:00:12:34:56", 0));
}

/* A bridge name may hold what XML quotes; so may what callers pass. */
static void
test_pool_device_xml_escapes(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *xml = NULL;

    load_pools(f, "[pool.odd]\ntype = emulated\nbridge = br'\"<&>x\nslots = tap0\n");
    g_assert_cmpstr(((MigdPoolConf *)g_ptr_array_index(f->conf->pools, 0))->bridge, ==,
                    "br'\"<&>x");
    vfs = pool_set_vfs(f->set, NULL);
    g_assert_nonnull(vfs);
    xml = pool_device_xml(f->set, g_ptr_array_index(vfs, 0), "ua-'a'&<b>",
                          "52:54:00:12:34:56\"", 0);
    g_assert_cmpstr(xml, ==,
                    "<interface type='bridge'><mac address='52:54:00:12:34:56&quot;'/>"
                    "<source bridge='br&apos;&quot;&lt;&amp;&gt;x'/><target dev='tap0'/>"
                    "<model type='vmxnet3'/><alias name='ua-&apos;a&apos;&amp;&lt;b&gt;'/>"
                    "</interface>");
}

/* vdpa0 and vdpa1 on vhost_vdpa as /dev/vhost-vdpa-0 and -2 (the node
 * numbers are vhost_vdpa's, not the names'), vdpa9 on virtio_vdpa (no
 * node), stray on vhost_vdpa as -1 but in no pool. */
#define VDPA_POOL \
    "[pool.v]\ntype = vdpa\ndevices = vdpa1, vdpa0\nsysfs_root = ROOT\nnative = true\n"

static void
make_vdpa_devices(Fixture *f)
{
    test_sysfs_add_vdpa(f->root, "vdpa0", "vhost_vdpa", "vhost-vdpa-0");
    test_sysfs_add_vdpa(f->root, "vdpa1", "vhost_vdpa", "vhost-vdpa-2");
    test_sysfs_add_vdpa(f->root, "stray", "vhost_vdpa", "vhost-vdpa-1");
    test_sysfs_add_vdpa(f->root, "vdpa9", "virtio_vdpa", NULL);
}

static void
test_pool_vdpa(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *listing = NULL;

    make_vdpa_devices(f);
    load_pools(f, VDPA_POOL);
    listing = read_vfs(f);
    g_assert_cmpstr(listing, ==, "v vdpa1 0 vhost_vdpa -\nv vdpa0 1 vhost_vdpa -\n");
    vfs = pool_set_vfs(f->set, NULL);
    g_assert_cmpstr(find_vf(vfs, "vdpa1")->chardev, ==, "/dev/vhost-vdpa-2");
    g_assert_cmpstr(find_vf(vfs, "vdpa0")->chardev, ==, "/dev/vhost-vdpa-0");
    g_assert_true(pool_set_is_native(f->set, "v"));
    g_assert_true(pool_set_has_type(f->set, POOL_VDPA));
    g_assert_false(pool_set_has_type(f->set, POOL_SRIOV));
}

/* A listed device that is not there, or that vhost_vdpa does not have,
 * fails the read with the device, the path and what to do. */
static void
test_pool_vdpa_missing(Fixture *f, gconstpointer data)
{
    make_vdpa_devices(f);
    load_pools(f, "[pool.v]\ntype = vdpa\ndevices = vdpa0, vdpa7\nsysfs_root = ROOT\n");
    assert_vfs_fail(f, "the vDPA device vdpa7 of pool 'v' is not on this host: "
                       "ROOT/bus/vdpa/devices/vdpa7 does not exist; create it with vdpa dev add "
                       "name vdpa7 mgmtdev ..., or check devices in [pool.v]");
    pool_set_free(f->set);
    conf_free(f->conf);
    load_pools(f, "[pool.v]\ntype = vdpa\ndevices = vdpa9\nsysfs_root = ROOT\n");
    assert_vfs_fail(f, "the vDPA device vdpa9 of pool 'v' is not bound to vhost_vdpa "
                       "(ROOT/bus/vdpa/devices/vdpa9 has no vhost-vdpa-N, its driver is "
                       "virtio_vdpa), so no guest can have it; bind it to vhost_vdpa");
}

/* sysfs maps a node to its device both ways; the lookup names the device
 * even when no pool lists it, so that the refusal can say which it is. */
static void
test_pool_vdpa_lookup(Fixture *f, gconstpointer data)
{
    g_autofree char *name = NULL, *stray = NULL, *none = NULL, *chardev = NULL;

    make_vdpa_devices(f);
    load_pools(f, VDPA_POOL EMULATED);
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-2", NULL, &name, f->set), ==,
                    "v");
    g_assert_cmpstr(name, ==, "vdpa1");
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-1", NULL, &stray, f->set));
    g_assert_cmpstr(stray, ==, "stray");
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-5", NULL, &none, f->set));
    g_assert_null(none);
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/dev/null", NULL, &none, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-", NULL, &none, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/tmp/vhost-vdpa-0", NULL, &none, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-0/../x", NULL, &none, f->set));
    g_assert_null(none);
    /* Not a kind that a vdpa pool takes, and no NULL @ret_device needed. */
    g_assert_null(pool_set_lookup(DOM_NIC_PCI_HOSTDEV, "vdpa0", NULL, NULL, f->set));
    g_assert_null(pool_set_lookup(DOM_NIC_EMULATED, "vdpa0", "virtio", NULL, f->set));
    g_assert_cmpstr(pool_set_lookup(DOM_NIC_VDPA, "/dev/vhost-vdpa-0", NULL, NULL, f->set), ==,
                    "v");
    chardev = pool_vdpa_chardev(f->root, "vdpa0");
    g_assert_cmpstr(chardev, ==, "/dev/vhost-vdpa-0");
    g_assert_null(pool_vdpa_chardev(f->root, "vdpa9"));
    g_assert_null(pool_vdpa_chardev(f->root, "../vdpa0"));
    g_assert_null(pool_vdpa_chardev(f->root, "nothing"));
    g_assert_null(pool_vdpa_name(NULL, "/dev/vhost-vdpa-0"));
}

static void
test_pool_vdpa_device_xml(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) vfs = NULL;
    g_autofree char *xml = NULL;
    PoolVf unbound = { .pool = (char *)"v", .address = (char *)"vdpa9" };

    make_vdpa_devices(f);
    load_pools(f, VDPA_POOL);
    vfs = pool_set_vfs(f->set, NULL);
    g_assert_nonnull(vfs);
    xml = pool_device_xml(f->set, find_vf(vfs, "vdpa1"), "ua-net0", "52:54:00:12:34:56", 100);
    g_assert_cmpstr(xml, ==,
                    "<interface type='vdpa'><mac address='52:54:00:12:34:56'/>"
                    "<source dev='/dev/vhost-vdpa-2'/><model type='virtio'/>"
                    "<alias name='ua-net0'/></interface>");
    g_assert_null(pool_device_xml(f->set, &unbound, "ua-net0", "52:54:00:12:34:56", 0));
}

static void
add(const char *path, void (*func)(Fixture *, gconstpointer))
{
    g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/pool/vfs/two-pfs", test_pool_two_pfs);
    add("/pool/vfs/reads-now", test_pool_reads_now);
    add("/pool/vfs/vf-place", test_pool_vf_place);
    add("/pool/vfs/missing-pf", test_pool_missing_pf);
    add("/pool/vfs/pf-without-vfs", test_pool_pf_without_vfs);
    add("/pool/vfs/emulated", test_pool_emulated);
    add("/pool/lookup", test_pool_lookup);
    add("/pool/device-xml/golden", test_pool_device_xml);
    add("/pool/device-xml/escapes", test_pool_device_xml_escapes);
    add("/pool/vdpa/devices", test_pool_vdpa);
    add("/pool/vdpa/missing", test_pool_vdpa_missing);
    add("/pool/vdpa/lookup", test_pool_vdpa_lookup);
    add("/pool/vdpa/device-xml", test_pool_vdpa_device_xml);
    return g_test_run();
}
