/* The passthrough NICs of a domain, read from its live XML with libxml2, and
 * the XML rewrites that unplugging, replugging and the hook need. */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef enum {
    DOM_NIC_HOSTDEV_INTERFACE,  /* <interface type='hostdev'> */
    DOM_NIC_PCI_HOSTDEV,        /* <hostdev mode='subsystem' type='pci'> */
    DOM_NIC_EMULATED,           /* an emulated NIC that stands in for a VF (an emulated pool's slot) */
    DOM_NIC_VDPA,               /* <interface type='vdpa'> on a /dev/vhost-vdpa-N */
    DOM_NIC_KIND_LAST
} DomNicKind;

/* "hostdev-interface", "pci-hostdev", "emulated", "vdpa". */
const char *dom_nic_kind_to_string(DomNicKind kind);

typedef struct {
    char *alias;          /* libvirt's device alias, e.g. "ua-vf0" or "hostdev0" */
    DomNicKind kind;
    char *mac;            /* lower case; NULL when the device has none (bare PCI hostdev) */
    char *address;        /* hostdev kinds: host PCI address "0000:3b:02.1"; emulated: the tap name;
                           * vdpa: the vdpa device name its source dev is ("vdpa0"), NULL
                           * when the host's sysfs knows no vDPA device with that node */
    char *source_dev;     /* vdpa: <source dev>, "/dev/vhost-vdpa-0"; NULL otherwise */
    char *model;          /* emulated: <model type>; NULL otherwise */
    guint vlan;           /* first <vlan><tag id>; 0: none */
    char *pool;           /* the pool it belongs to; NULL: in no configured pool */
    char *standby_alias;  /* the guest's standby NIC; NULL: none found */
    char *standby;        /* how the standby was found: "teaming" or "bond"; NULL when none */
    char *xml;            /* the device element as it is in the domain (to plug it back in) */
} DomNic;

void dom_nic_free(DomNic *nic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomNic, dom_nic_free)

/* Which pool owns a device: the pool name (borrowed) or NULL. For
 * DOM_NIC_VDPA @address is the interface's <source dev> and the lookup
 * also says which vDPA device that node is: *@ret_device (owned; left NULL
 * when no vDPA device has it), the vdpa name that pools and leases use. */
typedef const char *(*DomPoolLookup)(DomNicKind kind, const char *address, const char *model,
                                     char **ret_device, gpointer data);

/* The domain's namespace for migd's metadata (the bond pairs). */
#define DOMXML_FAILOVER_NS "https://migd.dev/xmlns/failover/1"

/* Every passthrough NIC of the live XML @xml in document order (DomNic*,
 * owning), each with its pool and the guest's standby NIC. Passthrough
 * and vdpa devices in no pool are reported too (pool NULL): they block
 * migration.
 * Emulated NICs are reported only when @lookup puts them in a pool. */
GPtrArray *domxml_find_nics(const char *xml, DomPoolLookup lookup, gpointer data, GError **error);

/* @nics as a JSON array for job records, the API and tests (no "xml"). */
json_t *domxml_nics_to_json(const GPtrArray *nics);

/* A copy of @xml without the devices whose alias is in @aliases
 * (NULL-terminated); every alias must name a device. */
char *domxml_remove_devices(const char *xml, const char *const *aliases, GError **error);

/* A copy of @xml with the device @alias replaced by the element @device_xml,
 * which inherits the old <alias> and guest PCI <address> when it has none,
 * so the guest sees the same device in the same slot. When both are
 * <interface type='vdpa'>, only the old one's <source> is replaced: the
 * rest is what QEMU's migration stream must find the same on both hosts. */
char *domxml_replace_device(const char *xml, const char *alias, const char *device_xml,
                            GError **error);

/* The device element with @alias, serialised. */
char *domxml_device_xml(const char *xml, const char *alias, GError **error);
