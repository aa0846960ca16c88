/* The destination's answer to libvirt's qemu hook: the incoming XML
 * rewritten for this host's leased VFs, and the leases a stopped domain
 * held. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "domxml.h"
#include "error.h"
#include "log.h"

/* For the hook: a stand-in of another host's emulated pool has a tap name
 * this host does not know, so any NIC of an emulated pool's model counts. */
static const char *
incoming_foreign_lookup(DomNicKind kind, const char *address, const char *model,
                        char **ret_device, gpointer data)
{
    Incoming *in = data;
    const char *pool = pool_set_lookup(kind, address, model, ret_device, in->pools);

    for (guint i = 0; !pool && kind == DOM_NIC_EMULATED && i < in->conf->pools->len; i++) {
        const MigdPoolConf *pc = g_ptr_array_index(in->conf->pools, i);

        if (pc->type == POOL_EMULATED && g_strcmp0(pc->model, model) == 0)
            pool = pc->name;
    }
    return pool;
}

/* The incoming XML as this host must run it: a NIC the reservation knows
 * is pointed at the leased VF when it migrates natively and dropped
 * otherwise (it was unplugged on the source, and its VF is plugged in here
 * once the guest runs); any other passthrough device is refused, since it
 * names a VF of another host. */
static char *
incoming_rewrite(Incoming *in, const char *domain, const char *xml, GError **error)
{
    Reservation *r = dest_find_domain(in, domain);
    g_autofree char *out = g_strdup(xml);
    g_autoptr(GPtrArray) nics = NULL;

    for (guint i = 0; r && i < r->nics->len; i++) {
        const ResNic *n = g_ptr_array_index(r->nics, i);
        g_autofree char *found = domxml_device_xml(out, n->alias, NULL);
        char *next;

        if (!found)
            continue;
        if (nic_strategy_stays(n->strategy)) {
            next = domxml_replace_device(out, n->alias, n->device_xml, error);
        } else {
            const char *const aliases[] = { n->alias, NULL };

            next = domxml_remove_devices(out, aliases, error);
        }
        if (!next)
            return NULL;
        g_free(out);
        out = next;
    }
    nics = domxml_find_nics(out, incoming_foreign_lookup, in, error);
    if (!nics)
        return NULL;
    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);
        const Lease *lease = nic->address ? lease_find(in->leases, nic->address) : NULL;

        if (!lease || g_strcmp0(lease->domain, domain) != 0) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT,
                        "the incoming XML of %s has the passthrough device %s (%s) that is not "
                        "leased to it on this host; migrate it with migd so that a VF is leased "
                        "here", domain, nic->alias, nic->address ? nic->address : "no address");
            return NULL;
        }
    }
    return g_steal_pointer(&out);
}

json_t *
incoming_hook(Incoming *in, json_t *request, GError **error)
{
    const char *domain = NULL, *op = NULL, *sub_op = NULL, *xml = NULL;
    json_error_t jerr;
    g_autofree char *out = NULL;
    guint released;

    if (json_unpack_ex(request, &jerr, JSON_STRICT, "{s:s,s:s,s:s,s?s}", "domain", &domain,
                       "operation", &op, "sub_operation", &sub_op, "xml", &xml) < 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "the hook request is not valid: %s", jerr.text);
        return NULL;
    }
    if (strcmp(op, "migrate") == 0) {
        if (!xml) {
            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "the migrate hook request for %s has no 'xml'", domain);
            return NULL;
        }
        out = incoming_rewrite(in, domain, xml, error);
        return out ? json_pack("{s:s}", "xml", out) : NULL;
    }
    if (strcmp(op, "stopped") == 0 || strcmp(op, "release") == 0) {
        Reservation *r = dest_find_domain(in, domain);

        released = lease_release_domain(in->leases, domain, NULL);
        /* A guest that stopped here before its replug is not coming back. */
        if (r && r->state != REPLUG_DONE && r->state != REPLUG_FAILED)
            dest_release(in, r, "the guest stopped on this host before its replug finished, so "
                                "it is not coming back for this job");
        return json_pack("{s:i}", "released", (int)released);
    }
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                "the hook operation '%s' is not one migd handles (migrate, stopped, release)", op);
    return NULL;
}

