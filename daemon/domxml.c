/* Reads a domain's passthrough NICs from its live XML and rewrites that XML
 * by device alias. libxml2 only: the XML is never searched as a string. */
#include <config.h>

#include <limits.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "domxml.h"
#include "error.h"
#include "jsonutil.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

static const char *const kind_names[] = {
    [DOM_NIC_HOSTDEV_INTERFACE] = "hostdev-interface",
    [DOM_NIC_PCI_HOSTDEV] = "pci-hostdev",
    [DOM_NIC_EMULATED] = "emulated",
    [DOM_NIC_VDPA] = "vdpa",
};
G_STATIC_ASSERT(G_N_ELEMENTS(kind_names) == DOM_NIC_KIND_LAST);

const char *
dom_nic_kind_to_string(DomNicKind kind)
{
    return (unsigned int)kind < DOM_NIC_KIND_LAST ? kind_names[kind] : "unknown";
}

void
dom_nic_free(DomNic *nic)
{
    if (!nic)
        return;
    g_free(nic->alias);
    g_free(nic->mac);
    g_free(nic->address);
    g_free(nic->source_dev);
    g_free(nic->model);
    g_free(nic->pool);
    g_free(nic->standby_alias);
    g_free(nic->standby);
    g_free(nic->xml);
    g_free(nic);
}

/* Every error of this module is about the XML or aliases a caller gave. */
#define set_invalid(error, ...) \
    g_set_error((error), MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT, __VA_ARGS__)

/* Parses @xml without touching the network or printing to stderr; @what
 * starts the error's sentence ("The domain XML is not well-formed"). */
static xmlDoc *
parse_xml(const char *xml, const char *what, GError **error)
{
    g_autoptr(xmlParserCtxt) ctxt = xmlNewParserCtxt();
    size_t len = strlen(xml);
    xmlDoc *doc;
    const xmlError *err;
    g_autofree char *reason = NULL;

    if (!ctxt) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "Could not create an XML parser.");
        return NULL;
    }
    if (len > INT_MAX) {
        set_invalid(error, "%s: it is %zu bytes, more than libxml2 can parse.", what, len);
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc && xmlDocGetRootElement(doc))
        return doc;
    xmlFreeDoc(doc);
    err = xmlCtxtGetLastError(ctxt);
    reason = g_strdup(err && err->message ? err->message : "it has no root element");
    set_invalid(error, "%s: line %d: %s.", what, err ? err->line : 0, g_strstrip(reason));
    return NULL;
}

static gboolean
is_element(const xmlNode *node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && !node->ns &&
           xmlStrEqual(node->name, (const xmlChar *)name);
}

/* The first child element called @name; NULL-safe so that paths chain. */
static xmlNode *
child(const xmlNode *node, const char *name)
{
    if (!node)
        return NULL;
    for (xmlNode *c = node->children; c; c = c->next) {
        if (is_element(c, name))
            return c;
    }
    return NULL;
}

/* An attribute's value (owned), NULL when @node or the attribute is absent. */
static char *
attr(const xmlNode *node, const char *name)
{
    xmlChar *value;
    char *copy;

    if (!node)
        return NULL;
    value = xmlGetNoNsProp(node, (const xmlChar *)name);
    copy = g_strdup((const char *)value);
    xmlFree(value);
    return copy;
}

static gboolean
attr_is(const xmlNode *node, const char *name, const char *expected)
{
    g_autofree char *value = attr(node, name);

    return g_strcmp0(value, expected) == 0;
}

static xmlDoc *
parse_domain(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = parse_xml(xml, "The domain XML is not well-formed", error);
    xmlNode *root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!is_element(root, "domain")) {
        set_invalid(error, "The XML is not a libvirt domain: its root element is <%s>, "
                    "not <domain>.", (const char *)root->name);
        return NULL;
    }
    return g_steal_pointer(&doc);
}

/* The elements that @expr selects, in document order (borrowed). */
static GPtrArray *
xpath_elements(xmlDoc *doc, const char *expr)
{
    g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(doc);
    g_autoptr(xmlXPathObject) obj = NULL;
    GPtrArray *nodes = g_ptr_array_new();

    if (!ctx || xmlXPathRegisterNs(ctx, (const xmlChar *)"migd",
                                   (const xmlChar *)DOMXML_FAILOVER_NS) < 0)
        g_error("Could not set up an XPath context (out of memory).");
    obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    if (!obj)
        g_error("The XPath expression '%s' does not evaluate; this is a bug.", expr);
    for (int i = 0; obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
        if (obj->nodesetval->nodeTab[i]->type == XML_ELEMENT_NODE)
            g_ptr_array_add(nodes, obj->nodesetval->nodeTab[i]);
    }
    return nodes;
}

static GPtrArray *
domain_devices(xmlDoc *doc)
{
    return xpath_elements(doc, "/domain/devices/*");
}

static char *
device_alias(const xmlNode *dev)
{
    return attr(child(dev, "alias"), "name");
}

static xmlNode *
lookup_device(GPtrArray *devices, const char *alias)
{
    for (guint i = 0; i < devices->len; i++) {
        xmlNode *dev = g_ptr_array_index(devices, i);

        if (attr_is(child(dev, "alias"), "name", alias))
            return dev;
    }
    return NULL;
}

static xmlNode *
find_device(GPtrArray *devices, const char *alias, GError **error)
{
    xmlNode *dev = lookup_device(devices, alias);

    if (!dev)
        set_invalid(error, "The domain has no device with alias '%s'.", alias);
    return dev;
}

static gboolean
interface_exists(GPtrArray *devices, const char *alias)
{
    return alias && is_element(lookup_device(devices, alias), "interface");
}

/* Serialises a document or one element as UTF-8, without an XML declaration. */
static char *
serialise(xmlNode *node)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();
    xmlSaveCtxt *save = buf ? xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL) : NULL;

    if (!save)
        g_error("Could not set up an XML serialiser (out of memory).");
    if (node->type == XML_DOCUMENT_NODE)
        (void)xmlSaveDoc(save, (xmlDoc *)node);
    else
        (void)xmlSaveTree(save, node);
    if (xmlSaveClose(save) < 0)
        g_error("Could not serialise XML (out of memory).");
    return g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
}

/* One PCI address attribute as libvirt reads it: strtoul base 0, so "0x3b"
 * is hex, "59" decimal and "073" octal; absent is 0. */
static gboolean
pci_field(const xmlNode *addr, const char *name, guint64 max, guint64 *ret, GError **error)
{
    g_autofree char *s = attr(addr, name);
    const char *digits = s;
    guint base = 10;

    *ret = 0;
    if (!s)
        return TRUE;
    if (g_ascii_strncasecmp(s, "0x", 2) == 0) {
        digits = s + 2;
        base = 16;
    } else if (s[0] == '0' && s[1]) {
        digits = s + 1;
        base = 8;
    }
    if (!g_ascii_string_to_unsigned(digits, base, 0, max, ret, NULL)) {
        set_invalid(error, "%s='%s' is not a number from 0 to 0x%" G_GINT64_MODIFIER "x", name,
                    s, max);
        return FALSE;
    }
    return TRUE;
}

/* The host PCI address under <source>, normalised "0000:3b:02.1"; NULL when
 * the device has no PCI source address. */
static gboolean
host_pci_address(const xmlNode *dev, const char *alias, char **ret, GError **error)
{
    const xmlNode *addr = child(child(dev, "source"), "address");
    g_autofree char *type = attr(addr, "type");
    guint64 domain, bus, slot, function;
    g_autoptr(GError) local = NULL;

    *ret = NULL;
    if (!addr || (type && strcmp(type, "pci") != 0))
        return TRUE;
    if (!pci_field(addr, "domain", 0xffff, &domain, &local) ||
        !pci_field(addr, "bus", 0xff, &bus, &local) ||
        !pci_field(addr, "slot", 0x1f, &slot, &local) ||
        !pci_field(addr, "function", 0x7, &function, &local)) {
        set_invalid(error, "Device '%s' has an invalid host PCI address: %s.", alias,
                    local->message);
        return FALSE;
    }
    *ret = g_strdup_printf("%04x:%02x:%02x.%x", (guint)domain, (guint)bus, (guint)slot,
                           (guint)function);
    return TRUE;
}

static gboolean
vlan_tag(const xmlNode *dev, const char *alias, guint *ret, GError **error)
{
    g_autofree char *id = attr(child(child(dev, "vlan"), "tag"), "id");
    guint64 tag = 0;

    if (id && !g_ascii_string_to_unsigned(id, 10, 0, 4095, &tag, NULL)) {
        set_invalid(error, "Device '%s' has an invalid VLAN tag id='%s': it must be a number "
                    "from 0 to 4095.", alias, id);
        return FALSE;
    }
    *ret = (guint)tag;
    return TRUE;
}

/* Whether @dev is a passthrough or vdpa device, or an emulated NIC that
 * @lookup puts in a pool; the kind, and the pool when it is emulated. */
static gboolean
classify(const xmlNode *dev, DomPoolLookup lookup, gpointer data, DomNicKind *ret_kind,
         const char **ret_pool)
{
    g_autofree char *type = attr(dev, "type");
    g_autofree char *tap = NULL;
    g_autofree char *model = NULL;

    if (is_element(dev, "hostdev")) {
        g_autofree char *mode = attr(dev, "mode");

        *ret_kind = DOM_NIC_PCI_HOSTDEV;
        return g_strcmp0(type, "pci") == 0 && (!mode || strcmp(mode, "subsystem") == 0);
    }
    if (!is_element(dev, "interface"))
        return FALSE;
    if (g_strcmp0(type, "hostdev") == 0) {
        *ret_kind = DOM_NIC_HOSTDEV_INTERFACE;
        return TRUE;
    }
    if (g_strcmp0(type, "vdpa") == 0) {
        *ret_kind = DOM_NIC_VDPA;
        return TRUE;
    }
    tap = attr(child(dev, "target"), "dev");
    model = attr(child(dev, "model"), "type");
    *ret_kind = DOM_NIC_EMULATED;
    *ret_pool = tap && lookup ? lookup(DOM_NIC_EMULATED, tap, model, NULL, data) : NULL;
    return *ret_pool != NULL;
}

/* The DomNic for @dev, or NULL in @ret when @dev is not one we report. */
static gboolean
nic_from_device(xmlNode *dev, DomPoolLookup lookup, gpointer data, DomNic **ret,
                GError **error)
{
    g_autoptr(DomNic) nic = g_new0(DomNic, 1);
    g_autofree char *mac = NULL;
    const char *pool = NULL;

    *ret = NULL;
    if (!classify(dev, lookup, data, &nic->kind, &pool))
        return TRUE;
    nic->alias = device_alias(dev);
    if (!nic->alias) {
        g_autofree char *type = attr(dev, "type");

        set_invalid(error, "The passthrough device <%s type='%s'> on line %ld of the domain XML "
                    "has no <alias>; live domain XML always has one, so this is not the XML "
                    "of a running domain.", (const char *)dev->name, type ? type : "",
                    xmlGetLineNo(dev));
        return FALSE;
    }
    mac = attr(child(dev, "mac"), "address");
    nic->mac = mac ? g_ascii_strdown(mac, -1) : NULL;
    if (!vlan_tag(dev, nic->alias, &nic->vlan, error))
        return FALSE;
    if (nic->kind == DOM_NIC_EMULATED) {
        nic->address = attr(child(dev, "target"), "dev");
        nic->model = attr(child(dev, "model"), "type");
    } else if (nic->kind == DOM_NIC_VDPA) {
        nic->source_dev = attr(child(dev, "source"), "dev");
        if (nic->source_dev && lookup)
            pool = lookup(nic->kind, nic->source_dev, NULL, &nic->address, data);
    } else {
        if (!host_pci_address(dev, nic->alias, &nic->address, error))
            return FALSE;
        if (nic->address && lookup)
            pool = lookup(nic->kind, nic->address, NULL, NULL, data);
    }
    nic->pool = g_strdup(pool);
    nic->xml = serialise(dev);
    *ret = g_steal_pointer(&nic);
    return TRUE;
}

/* A virtio <interface> with @nic's MAC that is net_failover's persistent
 * (standby) half. */
static char *
persistent_teaming_peer(GPtrArray *devices, const xmlNode *dev, const DomNic *nic)
{
    for (guint i = 0; nic->mac && i < devices->len; i++) {
        const xmlNode *other = g_ptr_array_index(devices, i);
        g_autofree char *mac = attr(child(other, "mac"), "address");

        if (other != dev && is_element(other, "interface") &&
            attr_is(child(other, "model"), "type", "virtio") &&
            attr_is(child(other, "teaming"), "type", "persistent") &&
            mac && g_ascii_strcasecmp(mac, nic->mac) == 0) {
            char *alias = device_alias(other);

            if (alias)
                return alias;
        }
    }
    return NULL;
}

/* The standby named by the passthrough NIC's own transient teaming. */
static char *
transient_teaming_peer(GPtrArray *devices, const xmlNode *dev)
{
    const xmlNode *teaming = child(dev, "teaming");
    g_autofree char *persistent = attr(teaming, "persistent");

    if (attr_is(teaming, "type", "transient") && interface_exists(devices, persistent))
        return g_steal_pointer(&persistent);
    return NULL;
}

/* The standby of a bond pair in migd's metadata, when that interface exists. */
static char *
bond_peer(GPtrArray *bonds, GPtrArray *devices, const DomNic *nic)
{
    for (guint i = 0; i < bonds->len; i++) {
        const xmlNode *bond = g_ptr_array_index(bonds, i);
        g_autofree char *standby = attr(bond, "standby");

        if (attr_is(bond, "primary", nic->alias) && interface_exists(devices, standby))
            return g_steal_pointer(&standby);
    }
    return NULL;
}

static void
find_standby(GPtrArray *devices, GPtrArray *bonds, const xmlNode *dev, DomNic *nic)
{
    nic->standby_alias = persistent_teaming_peer(devices, dev, nic);
    if (!nic->standby_alias)
        nic->standby_alias = transient_teaming_peer(devices, dev);
    if (nic->standby_alias) {
        nic->standby = g_strdup("teaming");
        return;
    }
    nic->standby_alias = bond_peer(bonds, devices, nic);
    if (nic->standby_alias)
        nic->standby = g_strdup("bond");
}

GPtrArray *
domxml_find_nics(const char *xml, DomPoolLookup lookup, gpointer data, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) devices = NULL;
    g_autoptr(GPtrArray) bonds = NULL;
    g_autoptr(GPtrArray) nics = g_ptr_array_new_with_free_func((GDestroyNotify)dom_nic_free);

    g_return_val_if_fail(xml != NULL, NULL);
    doc = parse_domain(xml, error);
    if (!doc)
        return NULL;
    devices = domain_devices(doc);
    bonds = xpath_elements(doc, "/domain/metadata/migd:failover/migd:bond");
    for (guint i = 0; i < devices->len; i++) {
        xmlNode *dev = g_ptr_array_index(devices, i);
        DomNic *nic;

        if (!nic_from_device(dev, lookup, data, &nic, error))
            return NULL;
        if (!nic)
            continue;
        find_standby(devices, bonds, dev, nic);
        g_ptr_array_add(nics, nic);
    }
    return g_steal_pointer(&nics);
}

json_t *
domxml_nics_to_json(const GPtrArray *nics)
{
    json_t *array = json_array();

    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);
        json_t *item = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:o, s:s?, s:s?, s:s?}",
                                 "alias", nic->alias, "kind", dom_nic_kind_to_string(nic->kind),
                                 "mac", nic->mac, "address", nic->address, "model", nic->model,
                                 "vlan", nic->vlan ? json_integer(nic->vlan) : json_null(),
                                 "pool", nic->pool, "standby_alias", nic->standby_alias,
                                 "standby", nic->standby);

        /* Only a vdpa NIC has a node, and the other kinds' records stay as they were. */
        if (nic->kind == DOM_NIC_VDPA)
            json_object_set_new(item, "source_dev", json_string_or_null(nic->source_dev));
        json_array_append_new(array, item);
    }
    return array;
}

/* Unlinks and frees @node with the indentation in front of it. */
static void
remove_node(xmlNode *node)
{
    xmlNode *indent = node->prev;

    if (indent && xmlIsBlankNode(indent)) {
        xmlUnlinkNode(indent);
        xmlFreeNode(indent);
    }
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

char *
domxml_remove_devices(const char *xml, const char *const *aliases, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) devices = NULL;

    g_return_val_if_fail(xml != NULL && aliases != NULL, NULL);
    doc = parse_domain(xml, error);
    if (!doc)
        return NULL;
    devices = domain_devices(doc);
    for (guint i = 0; aliases[i]; i++) {
        xmlNode *dev = find_device(devices, aliases[i], error);

        if (!dev)
            return NULL;
        g_ptr_array_remove(devices, dev);
        remove_node(dev);
    }
    return serialise((xmlNode *)doc);
}

/* Appends @node to @parent's children, indented like the first of them. */
static void
append_indented(xmlNode *parent, xmlNode *node)
{
    xmlNode *first = xmlFirstElementChild(parent);
    xmlNode *last = parent->last;

    if (!first || !first->prev || !xmlIsBlankNode(first->prev) || !xmlIsBlankNode(last)) {
        xmlAddChild(parent, node);
        return;
    }
    xmlAddPrevSibling(last, node);
    xmlAddPrevSibling(node, xmlNewDocText(parent->doc, first->prev->content));
}

/* Gives @new a copy of @old's child @name when it has none of its own. */
static void
inherit_child(xmlNode *new, const xmlNode *old, const char *name)
{
    xmlNode *c = child(old, name);

    if (c && !child(new, name))
        append_indented(new, xmlDocCopyNode(c, new->doc, 1));
}

static gboolean
is_vdpa_interface(const xmlNode *node)
{
    return is_element(node, "interface") && attr_is(node, "type", "vdpa");
}

/* A vdpa NIC that stays attached must look the same to QEMU on both hosts
 * (queues, MTU, driver options are in its migration stream), so only the
 * host's part, <source dev>, is taken from @new; @old stays where it is. */
static void
replace_vdpa_source(xmlNode *old, const xmlNode *new)
{
    xmlNode *old_source = child(old, "source");
    xmlNode *new_source = xmlDocCopyNode(child(new, "source"), old->doc, 1);

    if (old_source)
        xmlFreeNode(xmlReplaceNode(old_source, new_source));
    else
        append_indented(old, new_source);
}

char *
domxml_replace_device(const char *xml, const char *alias, const char *device_xml,
                      GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlDoc) replacement = NULL;
    g_autoptr(GPtrArray) devices = NULL;
    g_autofree char *what = NULL;
    xmlNode *old, *new;

    g_return_val_if_fail(xml != NULL && alias != NULL && device_xml != NULL, NULL);
    doc = parse_domain(xml, error);
    if (!doc)
        return NULL;
    devices = domain_devices(doc);
    old = find_device(devices, alias, error);
    if (!old)
        return NULL;
    what = g_strdup_printf("The replacement for device '%s' is not one well-formed XML element",
                           alias);
    replacement = parse_xml(device_xml, what, error);
    if (!replacement)
        return NULL;
    if (is_vdpa_interface(old) && is_vdpa_interface(xmlDocGetRootElement(replacement)) &&
        child(xmlDocGetRootElement(replacement), "source")) {
        replace_vdpa_source(old, xmlDocGetRootElement(replacement));
        return serialise((xmlNode *)doc);
    }
    new = xmlDocCopyNode(xmlDocGetRootElement(replacement), doc, 1);
    inherit_child(new, old, "alias");
    if (attr_is(child(old, "address"), "type", "pci"))
        inherit_child(new, old, "address");
    xmlFreeNode(xmlReplaceNode(old, new));
    return serialise((xmlNode *)doc);
}

char *
domxml_device_xml(const char *xml, const char *alias, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) devices = NULL;
    xmlNode *dev;

    g_return_val_if_fail(xml != NULL && alias != NULL, NULL);
    doc = parse_domain(xml, error);
    if (!doc)
        return NULL;
    devices = domain_devices(doc);
    dev = find_device(devices, alias, error);
    return dev ? serialise(dev) : NULL;
}
