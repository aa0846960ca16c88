/* The source's NIC steps for the migrate call: the destination XML of the
 * natively migrating NICs and the persistent definition that names the
 * destination's VFs, made from the XML read (in a worker) once the unplug
 * is done, so that the migrate call's parameters need no libvirt call. */
#include <config.h>

#include "src-nic-priv.h"

/* @xml with every NIC that has a destination VF pointed at it (only the
 * native ones when @native_only). */
static char *
nic_rewrite(NicSteps *ns, const char *xml, gboolean native_only, GError **error)
{
    g_autofree char *out = g_strdup(xml);

    for (guint i = 0; i < ns->nics->len; i++) {
        const Nic *n = nic_at(ns, i);
        g_autofree char *present = domxml_device_xml(out, n->dom->alias, NULL);
        char *next;

        if (!present || !n->dest_xml || (native_only && !nic_strategy_stays(n->strategy)))
            continue;
        next = domxml_replace_device(out, n->dom->alias, n->dest_xml, error);
        if (!next)
            return NULL;
        g_free(out);
        out = next;
    }
    return g_steal_pointer(&out);
}

gboolean
nic_migrate_xml(NicSteps *ns, const NicXml *xml, gboolean persistent)
{
    g_autoptr(GError) error = NULL;
    gboolean native = FALSE;
    const char *base;

    for (guint i = 0; i < ns->nics->len; i++)
        native |= nic_strategy_stays(nic_at(ns, i)->strategy);
    g_clear_pointer(&ns->dest_xml_param, g_free);
    g_clear_pointer(&ns->persist_xml_param, g_free);
    if (native) {
        ns->dest_xml_param = xml->live ? nic_rewrite(ns, xml->live, TRUE, &error) : NULL;
        if (!ns->dest_xml_param &&
            !nic_note(ns, "warning", "cannot point the destination XML at the leased VF: %s",
                      error ? error->message : xml->error))
            return FALSE;
        g_clear_error(&error);
    }
    /* libvirt gives the destination the source's persistent definition
     * (or, for a transient guest, the live XML as sent), and the hook there
     * never sees it (tests/lab/README.md): it would name this host's VF, or
     * lack the unplugged one. The destination gets one naming its own. */
    if (!persistent || !ns->nics->len)
        return TRUE;
    base = xml->error ? NULL : xml->persistent ? xml->inactive : ns->xml_before;
    ns->persist_xml_param = base ? nic_rewrite(ns, base, FALSE, &error) : NULL;
    if (!ns->persist_xml_param)
        return nic_note(ns, "warning", "cannot give the destination a persistent definition "
                        "that names its VF: %s", error ? error->message : xml->error);
    return TRUE;
}

void
nic_steps_migrate_params(NicSteps *ns, virDomainPtr dom, const Job *job,
                         virTypedParameterPtr *params, int *nparams, int *maxparams)
{
    (void)dom;
    (void)job;
    if (ns->dest_xml_param)
        (void)virTypedParamsAddString(params, nparams, maxparams, VIR_MIGRATE_PARAM_DEST_XML,
                                      ns->dest_xml_param);
    if (ns->persist_xml_param)
        (void)virTypedParamsAddString(params, nparams, maxparams, VIR_MIGRATE_PARAM_PERSIST_XML,
                                      ns->persist_xml_param);
}
