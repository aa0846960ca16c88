/* The source's NIC steps for the migrate call: the destination XML of the
 * natively migrating NICs and the persistent definition that names the
 * destination's VFs. */
#include <config.h>

#include <libvirt/virterror.h>

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

        if (!present || !n->dest_xml || (native_only && n->strategy != NIC_STRATEGY_NATIVE))
            continue;
        next = domxml_replace_device(out, n->dom->alias, n->dest_xml, error);
        if (!next)
            return NULL;
        g_free(out);
        out = next;
    }
    return g_steal_pointer(&out);
}

void
nic_steps_migrate_params(NicSteps *ns, virDomainPtr dom, const Job *job,
                         virTypedParameterPtr *params, int *nparams, int *maxparams)
{
    g_autoptr(GError) error = NULL;
    gboolean native = FALSE;

    for (guint i = 0; i < ns->nics->len; i++)
        native |= nic_at(ns, i)->strategy == NIC_STRATEGY_NATIVE;
    if (native) {
        g_autofree char *live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE |
                                                             VIR_DOMAIN_XML_MIGRATABLE);
        g_autofree char *dest = live ? nic_rewrite(ns, live, TRUE, &error) : NULL;

        if (dest)
            (void)virTypedParamsAddString(params, nparams, maxparams,
                                          VIR_MIGRATE_PARAM_DEST_XML, dest);
        else
            nic_feed(ns, JOB_EV_NOTE, "warning", "cannot point the destination XML at the "
                     "leased VF: %s", error ? error->message : virGetLastErrorMessage());
    }
    /* libvirt gives the destination the source's persistent definition
     * (or, for a transient guest, the live XML as sent), and the hook there
     * never sees it (tests/lab/README.md): it would name this host's VF, or
     * lack the unplugged one. The destination gets one naming its own. */
    if (job->options.persistent && ns->nics->len) {
        g_autofree char *base = virDomainIsPersistent(dom) == 1
                                    ? virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE |
                                                                   VIR_DOMAIN_XML_SECURE |
                                                                   VIR_DOMAIN_XML_MIGRATABLE)
                                    : g_strdup(ns->xml_before);
        g_autofree char *persist = base ? nic_rewrite(ns, base, FALSE, &error) : NULL;

        if (persist)
            (void)virTypedParamsAddString(params, nparams, maxparams,
                                          VIR_MIGRATE_PARAM_PERSIST_XML, persist);
        else
            nic_feed(ns, JOB_EV_NOTE, "warning", "cannot give the destination a persistent "
                     "definition that names its VF: %s",
                     error ? error->message : virGetLastErrorMessage());
    }
}
