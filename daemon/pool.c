/* Pools of devices to plug: the VFs of an SR-IOV PF as sysfs shows them
 * (<root>/bus/pci/devices/<pf>/virtfnN -> ../<vf>, each VF with its driver
 * link and net/<ifname>), the vDPA devices of a vdpa pool (<root>/bus/vdpa/
 * devices/<name>/vhost-vdpa-N, which vhost_vdpa makes with /dev/vhost-vdpa-N),
 * or the slots of an emulated pool. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "pool.h"

struct _PoolSet {
    const GPtrArray *confs;     /* MigdPoolConf*, borrowed */
    GHashTable *vf_pools;       /* VF address -> its pool's name (borrowed), as last read */
};

void
pool_vf_free(PoolVf *vf)
{
    if (!vf)
        return;
    g_free(vf->pool);
    g_free(vf->address);
    g_free(vf->driver);
    g_free(vf->netdev);
    g_free(vf->pf_netdev);
    g_free(vf->chardev);
    g_free(vf);
}

PoolSet *
pool_set_new(const GPtrArray *pool_confs)
{
    PoolSet *set = g_new0(PoolSet, 1);

    set->confs = pool_confs;
    set->vf_pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return set;
}

void
pool_set_free(PoolSet *set)
{
    if (!set)
        return;
    g_hash_table_unref(set->vf_pools);
    g_free(set);
}

static const MigdPoolConf *
pool_set_find(PoolSet *set, const char *name)
{
    for (guint i = 0; i < set->confs->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(set->confs, i);

        if (g_strcmp0(pc->name, name) == 0)
            return pc;
    }
    return NULL;
}

/* The last component of where the link @dir/@name points, or NULL. */
static char *
pool_link_name(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *target = g_file_read_link(path, NULL);

    return target ? g_path_get_basename(target) : NULL;
}

/* The network interface a net driver made of the VF in @vf_dir, or NULL;
 * should there be several, the first by name, so the answer is stable. */
static char *
pool_vf_netdev(const char *vf_dir)
{
    g_autofree char *net = g_build_filename(vf_dir, "net", NULL);
    g_autoptr(GDir) dir = g_dir_open(net, 0, NULL);
    const char *name;
    char *first = NULL;

    while (dir && (name = g_dir_read_name(dir))) {
        if (!first || strcmp(name, first) < 0) {
            g_free(first);
            first = g_strdup(name);
        }
    }
    return first;
}

static int
pool_vf_compare_index(gconstpointer a, gconstpointer b)
{
    const PoolVf *va = *(const PoolVf *const *)a;
    const PoolVf *vb = *(const PoolVf *const *)b;

    return va->index < vb->index ? -1 : va->index > vb->index;
}

/* The VF that <pf_dir>/@entry links to, or NULL when @entry is no virtfnN. */
static PoolVf *
pool_read_virtfn(const MigdPoolConf *pc, const char *pf_dir, const char *entry)
{
    g_autofree char *vf_dir = NULL;
    guint64 index;
    PoolVf *vf;
    char *address;

    if (!g_str_has_prefix(entry, "virtfn") ||
        !g_ascii_string_to_unsigned(entry + strlen("virtfn"), 10, 0, G_MAXUINT, &index, NULL))
        return NULL;
    address = pool_link_name(pf_dir, entry);
    if (!address)
        return NULL;
    vf_dir = g_build_filename(pf_dir, entry, NULL);
    vf = g_new0(PoolVf, 1);
    vf->pool = g_strdup(pc->name);
    vf->address = address;
    vf->index = (guint)index;
    vf->driver = pool_link_name(vf_dir, "driver");
    vf->netdev = pool_vf_netdev(vf_dir);
    return vf;
}

/* Appends the VFs of sriov pool @pc to @vfs, in virtfn order. */
static gboolean
pool_read_sriov(const MigdPoolConf *pc, GPtrArray *vfs, GError **error)
{
    g_autofree char *pf_dir = g_build_filename(pc->sysfs_root, "bus", "pci", "devices", pc->pf,
                                               NULL);
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) dir = NULL;
    g_autofree char *pf_netdev = NULL;
    const char *entry;

    if (!g_file_test(pf_dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "the PF %s of pool '%s' is not on this host: %s does not exist; check pf "
                    "in [pool.%s]", pc->pf, pc->name, pf_dir, pc->name);
        return FALSE;
    }
    dir = g_dir_open(pf_dir, 0, &local);
    if (!dir) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "cannot read the PF %s of pool '%s': %s", pc->pf, pc->name, local->message);
        return FALSE;
    }
    pf_netdev = pool_vf_netdev(pf_dir);
    while ((entry = g_dir_read_name(dir))) {
        PoolVf *vf = pool_read_virtfn(pc, pf_dir, entry);

        if (vf) {
            vf->pf_netdev = g_strdup(pf_netdev);
            g_ptr_array_add(found, vf);
        }
    }
    if (found->len == 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "the PF %s of pool '%s' has no VFs: %s has no virtfnN links; create them "
                    "with echo N > %s/sriov_numvfs", pc->pf, pc->name, pf_dir, pf_dir);
        return FALSE;
    }
    g_ptr_array_sort(found, pool_vf_compare_index);
    g_ptr_array_extend_and_steal(vfs, g_steal_pointer(&found));
    return TRUE;
}

static void
pool_read_emulated(const MigdPoolConf *pc, GPtrArray *vfs)
{
    for (guint i = 0; pc->slots[i]; i++) {
        PoolVf *vf = g_new0(PoolVf, 1);

        vf->pool = g_strdup(pc->name);
        vf->address = g_strdup(pc->slots[i]);
        vf->index = i;
        vf->driver = g_strdup(pc->model);
        g_ptr_array_add(vfs, vf);
    }
}

#define VHOST_VDPA_PREFIX "vhost-vdpa-"

/* Whether @name is a vhost-vdpa char device's name, "vhost-vdpa-N". */
static gboolean
pool_is_vhost_vdpa(const char *name)
{
    return g_str_has_prefix(name, VHOST_VDPA_PREFIX) &&
           g_ascii_string_to_unsigned(name + strlen(VHOST_VDPA_PREFIX), 10, 0, G_MAXINT32, NULL,
                                      NULL);
}

/* <root>/bus/vdpa/devices/@name; with @name NULL, the devices directory. */
static char *
pool_vdpa_dir(const char *sysfs_root, const char *name)
{
    return g_build_filename(sysfs_root, "bus", "vdpa", "devices", name, NULL);
}

/* The vhost-vdpa-N entry of the vDPA device in @dev_dir, or NULL. */
static char *
pool_vdpa_node(const char *dev_dir)
{
    g_autoptr(GDir) dir = g_dir_open(dev_dir, 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        if (pool_is_vhost_vdpa(entry))
            return g_strdup(entry);
    }
    return NULL;
}

/* /dev/vhost-vdpa-N of the vDPA device in @dev_dir, or NULL. */
static char *
pool_vdpa_dev_chardev(const char *dev_dir)
{
    g_autofree char *node = pool_vdpa_node(dev_dir);

    return node ? g_build_filename("/dev", node, NULL) : NULL;
}

char *
pool_vdpa_chardev(const char *sysfs_root, const char *name)
{
    g_autofree char *dev_dir = NULL;

    if (!sysfs_root || !name || strchr(name, '/') || name[0] == '.')
        return NULL;
    dev_dir = pool_vdpa_dir(sysfs_root, name);
    return pool_vdpa_dev_chardev(dev_dir);
}

char *
pool_vdpa_name(const char *sysfs_root, const char *chardev)
{
    g_autofree char *devices = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *node, *entry;

    if (!sysfs_root || !chardev || !g_str_has_prefix(chardev, "/dev/"))
        return NULL;
    node = chardev + strlen("/dev/");
    if (!pool_is_vhost_vdpa(node))
        return NULL;
    devices = pool_vdpa_dir(sysfs_root, NULL);
    dir = g_dir_open(devices, 0, NULL);
    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(devices, entry, node, NULL);

        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return g_strdup(entry);
    }
    return NULL;
}

/* Appends the devices of vdpa pool @pc to @vfs, in the order it lists them. */
static gboolean
pool_read_vdpa(const MigdPoolConf *pc, GPtrArray *vfs, GError **error)
{
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);

    for (guint i = 0; pc->devices[i]; i++) {
        g_autofree char *dev_dir = pool_vdpa_dir(pc->sysfs_root, pc->devices[i]);
        PoolVf *vf;

        if (!g_file_test(dev_dir, G_FILE_TEST_IS_DIR)) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "the vDPA device %s of pool '%s' is not on this host: %s does not exist; "
                        "create it with vdpa dev add name %s mgmtdev ..., or check devices in "
                        "[pool.%s]", pc->devices[i], pc->name, dev_dir, pc->devices[i],
                        pc->name);
            return FALSE;
        }
        vf = g_new0(PoolVf, 1);
        vf->pool = g_strdup(pc->name);
        vf->address = g_strdup(pc->devices[i]);
        vf->index = i;
        vf->driver = pool_link_name(dev_dir, "driver");
        vf->chardev = pool_vdpa_dev_chardev(dev_dir);
        g_ptr_array_add(found, vf);
        if (!vf->chardev) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                        "the vDPA device %s of pool '%s' is not bound to vhost_vdpa (%s has no "
                        "vhost-vdpa-N, its driver is %s), so no guest can have it; bind it to "
                        "vhost_vdpa", pc->devices[i], pc->name, dev_dir,
                        vf->driver ? vf->driver : "none");
            return FALSE;
        }
    }
    g_ptr_array_extend_and_steal(vfs, g_steal_pointer(&found));
    return TRUE;
}

gboolean
pool_vf_place(const char *sysfs_root, const char *pf, const char *address, int *ret_index,
              char **ret_pf_netdev)
{
    g_autofree char *pf_dir = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *entry;

    if (!sysfs_root || !pf || !address)
        return FALSE;
    pf_dir = g_build_filename(sysfs_root, "bus", "pci", "devices", pf, NULL);
    dir = g_dir_open(pf_dir, 0, NULL);
    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *vf = NULL;
        guint64 index;

        if (!g_str_has_prefix(entry, "virtfn") ||
            !g_ascii_string_to_unsigned(entry + strlen("virtfn"), 10, 0, G_MAXINT32, &index,
                                        NULL) ||
            !(vf = pool_link_name(pf_dir, entry)) || g_ascii_strcasecmp(vf, address) != 0)
            continue;
        *ret_index = (int)index;
        g_free(*ret_pf_netdev);
        *ret_pf_netdev = pool_vf_netdev(pf_dir);
        return TRUE;
    }
    return FALSE;
}

/* Remembers which pool each VF of @vfs belongs to, for pool_set_lookup(). */
static void
pool_set_remember(PoolSet *set, const GPtrArray *vfs)
{
    for (guint i = 0; i < vfs->len; i++) {
        const PoolVf *vf = g_ptr_array_index(vfs, i);
        const MigdPoolConf *pc = pool_set_find(set, vf->pool);

        if (pc && pc->type == POOL_SRIOV)
            g_hash_table_replace(set->vf_pools, g_ascii_strdown(vf->address, -1), pc->name);
    }
}

GPtrArray *
pool_set_vfs(PoolSet *set, GError **error)
{
    g_autoptr(GPtrArray) vfs = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);

    for (guint i = 0; i < set->confs->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(set->confs, i);

        if (pc->type == POOL_EMULATED)
            pool_read_emulated(pc, vfs);
        else if (pc->type == POOL_VDPA ? !pool_read_vdpa(pc, vfs, error)
                                       : !pool_read_sriov(pc, vfs, error))
            return NULL;
    }
    g_hash_table_remove_all(set->vf_pools);
    pool_set_remember(set, vfs);
    return g_steal_pointer(&vfs);
}

/* Reads every PF that can be read again: a VF may have appeared since, or
 * another PF may be missing while this one is fine. */
static void
pool_set_reread(PoolSet *set)
{
    for (guint i = 0; i < set->confs->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(set->confs, i);
        g_autoptr(GPtrArray) vfs = g_ptr_array_new_with_free_func((GDestroyNotify)pool_vf_free);

        if (pc->type == POOL_SRIOV && pool_read_sriov(pc, vfs, NULL))
            pool_set_remember(set, vfs);
    }
}

static const char *
pool_set_lookup_slot(PoolSet *set, const char *slot, const char *model)
{
    for (guint i = 0; i < set->confs->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(set->confs, i);

        if (pc->type == POOL_EMULATED && g_strcmp0(pc->model, model) == 0 &&
            g_strv_contains((const char *const *)pc->slots, slot))
            return pc->name;
    }
    return NULL;
}

/* The vdpa pool that lists the device whose char device is @chardev, and
 * that device's name (the first vdpa pool's sysfs that knows the node says
 * which device it is, also when no pool lists it). */
static const char *
pool_set_lookup_vdpa(PoolSet *set, const char *chardev, char **ret_device)
{
    for (guint i = 0; i < set->confs->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(set->confs, i);
        g_autofree char *name = NULL;

        if (pc->type != POOL_VDPA || !(name = pool_vdpa_name(pc->sysfs_root, chardev)))
            continue;
        if (ret_device && !*ret_device)
            *ret_device = g_strdup(name);
        if (g_strv_contains((const char *const *)pc->devices, name))
            return pc->name;
    }
    return NULL;
}

const char *
pool_set_lookup(DomNicKind kind, const char *address, const char *model, char **ret_device,
                gpointer data)
{
    PoolSet *set = data;
    g_autofree char *key = NULL;
    const char *pool;

    if (!address)
        return NULL;
    if (kind == DOM_NIC_EMULATED)
        return pool_set_lookup_slot(set, address, model);
    if (kind == DOM_NIC_VDPA)
        return pool_set_lookup_vdpa(set, address, ret_device);
    key = g_ascii_strdown(address, -1);
    pool = g_hash_table_lookup(set->vf_pools, key);
    if (!pool) {
        pool_set_reread(set);
        pool = g_hash_table_lookup(set->vf_pools, key);
    }
    return pool;
}

gboolean
pool_set_has_type(PoolSet *set, PoolType type)
{
    for (guint i = 0; i < set->confs->len; i++) {
        if (((const MigdPoolConf *)g_ptr_array_index(set->confs, i))->type == type)
            return TRUE;
    }
    return FALSE;
}

gboolean
pool_set_is_native(PoolSet *set, const char *pool)
{
    const MigdPoolConf *pc = pool_set_find(set, pool);

    return pc && pc->native;
}

char *
pool_device_xml(PoolSet *set, const PoolVf *vf, const char *alias, const char *mac, guint vlan)
{
    const MigdPoolConf *pc = pool_set_find(set, vf->pool);
    g_autofree char *pci = NULL;
    g_autofree char *head = NULL;
    g_autofree char *tag = NULL;
    g_autofree char *tail = NULL;

    if (!pc || !alias || !mac)
        return NULL;
    if (pc->type == POOL_EMULATED)
        return g_markup_printf_escaped("<interface type='bridge'><mac address='%s'/>"
                                       "<source bridge='%s'/><target dev='%s'/>"
                                       "<model type='%s'/><alias name='%s'/></interface>",
                                       mac, pc->bridge, vf->address, pc->model, alias);
    if (pc->type == POOL_VDPA)
        return vf->chardev ? g_markup_printf_escaped("<interface type='vdpa'>"
                                                     "<mac address='%s'/><source dev='%s'/>"
                                                     "<model type='virtio'/><alias name='%s'/>"
                                                     "</interface>", mac, vf->chardev, alias)
                           : NULL;
    if (!conf_is_pci_address(vf->address))
        return NULL;
    /* "dddd:bb:ss.f" cut into its four fields. */
    pci = g_ascii_strdown(vf->address, -1);
    pci[4] = pci[7] = pci[10] = '\0';
    head = g_markup_printf_escaped("<interface type='hostdev' managed='yes'>"
                                   "<mac address='%s'/><source><address type='pci' "
                                   "domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/>"
                                   "</source>", mac, pci, pci + 5, pci + 8, pci + 11);
    tag = vlan ? g_strdup_printf("<vlan><tag id='%u'/></vlan>", vlan) : NULL;
    tail = g_markup_printf_escaped("<alias name='%s'/></interface>", alias);
    return g_strconcat(head, tag ? tag : "", tail, NULL);
}
