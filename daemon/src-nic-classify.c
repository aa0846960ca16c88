/* The source's NIC steps, during the checks: finding the guest's
 * passthrough NICs and choosing how each one crosses (unplugged or
 * migrated natively), or refusing before anything is touched. A vdpa NIC
 * is chosen for as a VF is: it can be hot-unplugged with a standby to
 * fall back on, and stays attached only when its pool or the plugins of
 * both hosts vouch (QEMU's vhost-vdpa migration needs the device's
 * SUSPEND, which only the plugin can see). */
#include <config.h>

#include <libvirt/virterror.h>
#include <string.h>

#include "pool.h"
#include "src-nic-priv.h"

/* Whether strategy auto leaves @nic's to the plugins of both hosts, in
 * preparing: no pool vouches for it, a plugin is loaded here that may,
 * and post-copy, which no device that stays attached survives, is not
 * allowed. */
static gboolean
nic_auto_pending(NicSteps *ns, const Job *job, gboolean vouched)
{
    GPtrArray *plugins = ns->plugins ? plugin_set_plugins(ns->plugins) : NULL;

    return strcmp(job->strategy, "auto") == 0 && !vouched && plugins && plugins->len > 0 &&
           !job->options.postcopy;
}

/* Why the vdpa NIC @nic, in no pool, cannot be migrated: its node is none
 * of a vDPA device here, or its device is in no vdpa pool. */
static char *
nic_vdpa_refusal(const Job *job, PoolSet *pools, const DomNic *nic)
{
    if (!nic->source_dev)
        return g_strdup_printf("%s's vdpa interface %s has no <source dev>, so migd cannot tell "
                               "which vDPA device it is", job->domain, nic->alias);
    if (!pool_set_has_type(pools, POOL_VDPA))
        return g_strdup_printf("%s's vdpa interface %s (%s) belongs to no pool: migd.conf has "
                               "no [pool.NAME] with type = vdpa, so no vDPA device can be "
                               "leased for it on the destination", job->domain, nic->alias,
                               nic->source_dev);
    if (!nic->address)
        return g_strdup_printf("%s's vdpa interface %s is on %s, which is not a vhost-vdpa "
                               "device on this host (no bus/vdpa/devices/*/%s in the sysfs of "
                               "the vdpa pools); check the domain XML and that the device is "
                               "bound to vhost_vdpa", job->domain, nic->alias, nic->source_dev,
                               nic->source_dev + (g_str_has_prefix(nic->source_dev, "/dev/")
                                                      ? strlen("/dev/") : 0));
    return g_strdup_printf("%s's vdpa interface %s is on the vDPA device %s (%s), which belongs "
                           "to no pool in migd.conf; add it to devices of a [pool.NAME] with "
                           "type = vdpa, so that one can be leased for it on the destination",
                           job->domain, nic->alias, nic->address, nic->source_dev);
}

/* The strategy for @nic under the job's request, or NIC_STRATEGY_NONE with
 * @ret_refusal. */
static NicStrategy
nic_choose(NicSteps *ns, const Job *job, PoolSet *pools, Nic *n, char **ret_refusal)
{
    const DomNic *nic = n->dom;
    gboolean vouched = nic->pool && pool_set_is_native(pools, nic->pool);

    if (!nic->pool && nic->kind == DOM_NIC_VDPA) {
        *ret_refusal = nic_vdpa_refusal(job, pools, nic);
        return NIC_STRATEGY_NONE;
    }
    if (!nic->pool) {
        *ret_refusal = g_strdup_printf("%s's passthrough device %s (%s) belongs to no pool in "
                                       "migd.conf, so no VF can be found for it on the "
                                       "destination", job->domain, nic->alias,
                                       nic->address ? nic->address : "no address");
        return NIC_STRATEGY_NONE;
    }
    if (strcmp(job->strategy, "native") == 0 && !vouched) {
        *ret_refusal = g_strdup_printf("strategy native was asked for, but %s (pool %s) is not "
                                       "vouched for as able to migrate (native = true in "
                                       "[pool.%s])", nic->alias, nic->pool, nic->pool);
        return NIC_STRATEGY_NONE;
    }
    if (strcmp(job->strategy, "native") == 0 ||
        (strcmp(job->strategy, "auto") == 0 && vouched))
        return NIC_STRATEGY_NATIVE;
    /* Whether a plugin vouches that the device can stay attached if migd
     * pauses the guest is the preparing step's to ask (src-nic-state.c):
     * a NIC no plugin vouches for fails it, with nothing touched. */
    if (strcmp(job->strategy, "pause") == 0)
        return NIC_STRATEGY_PAUSE;
    n->auto_pending = nic_auto_pending(ns, job, vouched);
    if (n->auto_pending)
        return nic->standby_alias ? NIC_STRATEGY_UNPLUG : NIC_STRATEGY_PAUSE;
    if (!nic->standby_alias) {
        *ret_refusal = g_strdup_printf("%s has no standby NIC for %s (no virtio NIC with MAC %s "
                                       "and <teaming type='persistent'/>, and no bond pair in "
                                       "its metadata), so unplugging it would cut the guest off "
                                       "the network", job->domain, nic->alias,
                                       nic->mac ? nic->mac : "(none)");
        return NIC_STRATEGY_NONE;
    }
    return NIC_STRATEGY_UNPLUG;
}

/* Why strategy auto gave @n what it has, once settled. */
static char *
nic_auto_reason(const Nic *n)
{
    if (n->chosen)
        return g_strdup_printf("%s %s (%s)", n->dom->alias, nic_strategy_to_string(n->strategy),
                               n->chosen);
    if (n->strategy == NIC_STRATEGY_NATIVE)
        return g_strdup_printf("%s native (native = true in [pool.%s])", n->dom->alias,
                               n->dom->pool);
    return g_strdup_printf("%s unplug (no pool or plugin here vouches that it can stay attached)",
                           n->dom->alias);
}

void
nic_summarize(NicSteps *ns)
{
    guint n = ns->nics->len, native = 0, paused = 0, pending = 0, settled = 0;
    g_autoptr(GString) why = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        native += nic_at(ns, i)->strategy == NIC_STRATEGY_NATIVE;
        paused += nic_at(ns, i)->strategy == NIC_STRATEGY_PAUSE;
        pending += nic_at(ns, i)->auto_pending;
        settled += nic_at(ns, i)->chosen != NULL;
    }
    g_free(ns->why);
    ns->strategy = n == 0        ? NIC_STRATEGY_NONE
                   : native == n ? NIC_STRATEGY_NATIVE
                   : paused == n ? NIC_STRATEGY_PAUSE
                   : native == 0 && paused == 0 ? NIC_STRATEGY_UNPLUG
                                                : NIC_STRATEGY_MIXED;
    if (n == 0) {
        ns->why = g_strdup_printf("%s has no passthrough NICs", ns->domain);
    } else if (pending) {
        ns->why = g_strdup_printf("strategy auto: while preparing, the plugins of both hosts "
                                  "say whether %u of %u passthrough NICs can stay attached "
                                  "(native, else paused by migd at switchover); where they do "
                                  "not, the NIC is unplugged", pending, n);
    } else if (settled) {
        for (guint i = 0; i < n; i++) {
            g_autofree char *reason = nic_auto_reason(nic_at(ns, i));

            g_string_append_printf(why, "%s%s", i ? "; " : "strategy auto: ", reason);
        }
        ns->why = g_string_free(g_steal_pointer(&why), FALSE);
    } else if (paused) {
        ns->why = g_strdup_printf("strategy pause was asked for: %s attached, and migd pauses "
                                  "the guest itself at switchover once what is left to copy "
                                  "fits the downtime budget",
                                  n == 1 ? "the passthrough NIC stays" : "the passthrough NICs stay");
    } else if (native) {
        ns->why = g_strdup_printf("%u of %u passthrough NICs are vouched for as able to migrate "
                                  "(native = true in their pool); the others are unplugged",
                                  native, n);
    } else {
        ns->why = g_strdup_printf("no passthrough NIC is vouched for as able to migrate, so %s "
                                  "unplugged before the migration and plugged in again on the "
                                  "destination", n == 1 ? "it is" : "they are");
    }
}

gboolean
nic_steps_read_xml(VirtConn *conn, const char *domain, char **ret_live, char **ret_migratable,
                   GError **error)
{
    const VirtOps *ops = virt_conn_ops(conn);
    g_autofree char *live = ops->get_xml(conn, domain, 0, error);
    g_autofree char *migratable = live ? ops->get_xml(conn, domain, VIR_DOMAIN_XML_SECURE |
                                                                        VIR_DOMAIN_XML_MIGRATABLE,
                                                      error)
                                       : NULL;

    if (!migratable)
        return FALSE;
    *ret_live = g_steal_pointer(&live);
    *ret_migratable = g_steal_pointer(&migratable);
    return TRUE;
}

gboolean
nic_steps_classify_xml(NicSteps *ns, const MigdConf *conf, const char *live_xml,
                       const char *migratable_xml, const Job *job,
                       gboolean *ret_postcopy_forbidden, char **ret_refusal, char **ret_summary)
{
    g_autoptr(PoolSet) pools = pool_set_new(conf->pools);
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GError) error = NULL;
    guint native = 0, paused = 0;

    *ret_postcopy_forbidden = FALSE;
    if (strcmp(job->strategy, "none") == 0) {
        ns->why = g_strdup("strategy none was asked for: passthrough NICs are not handled");
        *ret_summary = g_strdup(ns->why);
        return TRUE;
    }
    ns->xml_before = g_strdup(migratable_xml);
    found = domxml_find_nics(live_xml, pool_set_lookup, pools, &error);
    if (!found) {
        *ret_refusal = g_strdup_printf("cannot read %s's devices: %s", job->domain,
                                       error->message);
        return FALSE;
    }
    for (guint i = 0; i < found->len; i++) {
        Nic *n = g_new0(Nic, 1);

        n->plugins = g_ptr_array_new_with_free_func(nic_plugin_free);
        n->dom = g_ptr_array_steal_index(found, i--);
        g_ptr_array_add(ns->nics, n);
        n->strategy = nic_choose(ns, job, pools, n, ret_refusal);
        if (n->strategy == NIC_STRATEGY_NONE)
            return FALSE;
        native += n->strategy == NIC_STRATEGY_NATIVE;
        paused += n->strategy == NIC_STRATEGY_PAUSE;
    }
    if (ns->nics->len && !ns->migd_url) {
        *ret_refusal = g_strdup_printf("%s has passthrough NICs, and the destination has no "
                                       "migd_url in migd.conf, so no VF can be leased there",
                                       job->domain);
        return FALSE;
    }
    nic_summarize(ns);
    if ((native || paused) && job->options.postcopy) {
        *ret_refusal = g_strdup_printf("post-copy was asked for, but %s keeps a passthrough "
                                       "device attached during the migration (strategy %s), "
                                       "and its DMA would escape post-copy", job->domain,
                                       native ? "native" : "pause");
        return FALSE;
    }
    *ret_postcopy_forbidden = native + paused > 0;
    *ret_summary = g_strdup_printf("NICs: %s", ns->why);
    return TRUE;
}
