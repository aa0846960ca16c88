/* The host's pools of devices that migd plugs into guests: the VFs of an
 * SR-IOV PF or the vDPA devices of a vdpa pool, read from sysfs, or the
 * slots of an emulated pool; and the device XML that plugs one. */
#pragma once

#include <glib.h>

#include "conf.h"
#include "domxml.h"

/* One device of a pool. */
typedef struct {
    char *pool;         /* the pool's name */
    char *address;      /* sriov: the VF's PCI address "0000:3b:02.1"; emulated: the slot's tap name;
                         * vdpa: the device's vdpa name ("vdpa0") */
    guint index;        /* sriov: N of virtfnN; emulated, vdpa: the position in the pool */
    char *driver;       /* sriov: the VF's driver ("iavf", "vfio-pci"), NULL when unbound;
                         * emulated: the NIC model; vdpa: its bus driver ("vhost_vdpa") */
    char *netdev;       /* sriov: the VF's network interface when a net driver has it;
                         * emulated: NULL */
    char *pf_netdev;    /* sriov: the PF's network interface, when it has one; emulated: NULL */
    char *chardev;      /* vdpa: its vhost char device, "/dev/vhost-vdpa-0"; else NULL */
} PoolVf;

void pool_vf_free(PoolVf *vf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PoolVf, pool_vf_free)

typedef struct _PoolSet PoolSet;

/* The pools of @pool_confs (MigdPoolConf*), which the set borrows for its
 * whole life. */
PoolSet *pool_set_new(const GPtrArray *pool_confs);

void pool_set_free(PoolSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PoolSet, pool_set_free)

/* Every device of every pool (PoolVf*, owning), pool by pool in
 * configuration order, each sriov pool's VFs in virtfn order, read now from
 * <sysfs_root>/bus/pci/devices/<pf>, each vdpa pool's devices in the order
 * of its devices key, from <sysfs_root>/bus/vdpa/devices/<name>. A PF that
 * is not there or has no VFs, or a vDPA device that is not there or not
 * bound to vhost_vdpa, fails the whole call (MIGD_ERROR_CONFIG, naming the
 * device and the path): a pool that silently lists nothing would look
 * exhausted. */
GPtrArray *pool_set_vfs(PoolSet *set, GError **error);

/* Where the VF at PCI address @address is on the PF @pf, as
 * <@sysfs_root>/bus/pci/devices/<@pf> shows it now: its index on the PF
 * (N of virtfnN) and the PF's network interface (NULL when no net driver
 * has the PF, or it has none), what a plugin needs to reach the VF over
 * rtnetlink. FALSE, leaving the two as they were, when @address is not one
 * of @pf's VFs. */
gboolean pool_vf_place(const char *sysfs_root, const char *pf, const char *address,
                       int *ret_index, char **ret_pf_netdev);

/* The vhost char device ("/dev/vhost-vdpa-N", owned) of the vDPA device
 * @name as <@sysfs_root>/bus/vdpa/devices/<@name> shows it now; NULL when
 * there is no such device or vhost_vdpa does not have it. */
char *pool_vdpa_chardev(const char *sysfs_root, const char *name);

/* The vdpa name (owned) of the vDPA device whose vhost char device is
 * @chardev ("/dev/vhost-vdpa-N"), from <@sysfs_root>/bus/vdpa/devices/
 * <name>/vhost-vdpa-N; NULL when @chardev is not a vhost-vdpa node or no
 * device there has it. */
char *pool_vdpa_name(const char *sysfs_root, const char *chardev);

/* A DomPoolLookup for domxml_find_nics(), with @set as its data: the name
 * of the pool owning the device, or NULL. PCI kinds: @address is a VF of an
 * sriov pool's PF (from the last pool_set_vfs(), else read from sysfs now).
 * DOM_NIC_EMULATED: @address is a slot of an emulated pool whose model is
 * @model. DOM_NIC_VDPA: @address is a vhost-vdpa node, which the sysfs of
 * each vdpa pool (in configuration order) maps to a vdpa name, returned in
 * *@ret_device; the pool is the one that lists it. */
const char *pool_set_lookup(DomNicKind kind, const char *address, const char *model,
                            char **ret_device, gpointer set);

/* Whether the set has a pool of @type. */
gboolean pool_set_has_type(PoolSet *set, PoolType type);

/* Whether @pool's devices are vouched for as able to migrate (the native
 * strategy); FALSE for a pool the set does not know. */
gboolean pool_set_is_native(PoolSet *set, const char *pool);

/* The <interface> element that plugs @vf into a guest with the guest's
 * @mac and @alias: a managed hostdev interface with @vlan as its tag (0:
 * untagged) for sriov, a bridge interface on the pool's bridge with the slot
 * as its tap for emulated (a Linux bridge carries no tag, so @vlan is not
 * used), a vdpa interface on the device's vhost char device with a virtio
 * model for vdpa (the tag is the vDPA device's to carry, so @vlan is not
 * used). NULL when @vf's pool is not in the set, its address is not a PCI
 * address (sriov) or it has no char device (vdpa). */
char *pool_device_xml(PoolSet *set, const PoolVf *vf, const char *alias, const char *mac,
                      guint vlan);
