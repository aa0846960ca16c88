/* GET /v1/plugins: the plugins this migd loaded, those it refused and why,
 * and for each loaded one which of this host's pool devices it claims and
 * what it vouches for (its probe's answer, asked now, in workers). Each
 * device is described with the guest that holds it, so that a plugin never
 * opens a device a guest owns. */
#include <config.h>

#include "api-priv.h"
#include "plugin-call.h"
#include "pool.h"

typedef struct {
    HttpDeferred *deferred;
    json_t *answer;
    guint pending;
} Listing;

typedef struct {
    Listing *listing;
    json_t *claims;         /* the plugin's "claims" array (borrowed from the answer) */
    gsize index;            /* the device's place in it: claims keep the pools' order */
    char *pool;
    char *address;
} Probe;

/* Devices a plugin does not claim left a null in its "claims". */
static void
listing_drop_unclaimed(json_t *answer)
{
    json_t *plugins = json_object_get(answer, "plugins");
    size_t i;
    json_t *plugin;

    json_array_foreach(plugins, i, plugin) {
        json_t *claims = json_object_get(plugin, "claims");

        for (size_t c = json_array_size(claims); c-- > 0;) {
            if (json_is_null(json_array_get(claims, c)))
                json_array_remove(claims, c);
        }
    }
}

static void
listing_finish(Listing *l)
{
    HttpResponse resp = { .status = 200, .body = l->answer };

    listing_drop_unclaimed(l->answer);
    http_deferred_finish(l->deferred, &resp);
    g_free(l);
}

static json_t *
probe_claim(const Probe *pr, const PluginCallResult *r)
{
    guint flags = r->probe.flags;

    if (r->rc != 0)
        return json_pack("{s:s,s:s,s:s}", "pool", pr->pool, "address", pr->address, "error",
                         r->error);
    if (!(flags & MIGD_PROBE_HANDLES))
        return NULL;
    return json_pack("{s:s,s:s,s:b,s:I,s:b,s:b,s:b,s:b,s:s}", "pool", pr->pool, "address",
                     pr->address, "state", (flags & MIGD_PROBE_STATE) != 0, "state_version",
                     (json_int_t)r->probe.state_version, "native",
                     (flags & MIGD_PROBE_NATIVE) != 0, "pause", (flags & MIGD_PROBE_PAUSE) != 0,
                     "deny_native", (flags & MIGD_PROBE_DENY_NATIVE) != 0, "deny_pause",
                     (flags & MIGD_PROBE_DENY_PAUSE) != 0, "detail", r->probe.detail);
}

static void
probe_done(const PluginCallResult *r, gpointer data)
{
    Probe *pr = data;
    Listing *l = pr->listing;
    json_t *claim = probe_claim(pr, r);

    if (claim)
        json_array_set_new(pr->claims, pr->index, claim);
    g_free(pr->pool);
    g_free(pr->address);
    g_free(pr);
    if (--l->pending == 0)
        listing_finish(l);
}

/* The ABI's description of a pool device: a guest running here (@user)
 * owns it as the source of a later migration would; a lease's guest will
 * own it here; else no guest does. A plugin must not open a device whose
 * domain is set and that is not a destination's (opening a VFIO device
 * resets it). */
static void
pool_device(const MigdConf *conf, const PoolVf *vf, const char *user, const char *leased_to,
            PluginDevice *ret)
{
    const MigdPoolConf *pc = conf_find_pool(conf, vf->pool);
    gboolean sriov = pc && pc->type == POOL_SRIOV;

    *ret = (PluginDevice){
        .kind = sriov ? MIGD_DEVICE_VF
                : pc && pc->type == POOL_VDPA ? MIGD_DEVICE_VDPA : MIGD_DEVICE_EMULATED,
        .side = user ? MIGD_SIDE_SOURCE : MIGD_SIDE_DESTINATION,
        .pci_address = sriov ? vf->address : NULL,
        .pf_address = sriov ? pc->pf : NULL,
        .vf_index = sriov ? (int)vf->index : -1,
        .pf_netdev = sriov ? vf->pf_netdev : NULL,
        .netdev = sriov ? vf->netdev : vf->address,
        .pool = vf->pool,
        .vlan = -1,
        .domain = (char *)(user ? user : leased_to), /* plugin_call() copies it */
    };
}

static json_t *
plugin_entry(Plugin *p)
{
    g_autofree char *abi = g_strdup_printf("%u.%u", MIGD_PLUGIN_ABI_MAJOR, plugin_abi_minor(p));

    return json_pack("{s:s,s:s,s:s,s:s,s:[]}", "name", plugin_name(p), "version",
                     plugin_version(p), "file", plugin_file(p), "abi", abi, "claims");
}

static json_t *
refusals_json(PluginSet *set)
{
    GPtrArray *refused = plugin_set_refusals(set);
    json_t *list = json_array();

    for (guint i = 0; i < refused->len; i++) {
        PluginRefusal *r = refused->pdata[i];

        json_array_append_new(list, json_pack("{s:s,s:s}", "file", r->file, "reason", r->reason));
    }
    return list;
}

typedef struct {
    Api *api;
    HttpDeferred *deferred;
} Ask;

/* @holders: each pool device's state in GET /v1/vfs's form, by address;
 * NULL when no Incoming looks at the guests (then no guest is known). */
static void
plugins_probe(Api *api, GHashTable *holders, const char *not_probed, HttpDeferred *deferred)
{
    g_autoptr(PluginSet) none = api->plugins ? NULL : plugin_set_load(NULL, NULL);
    PluginSet *set = api->plugins ? api->plugins : none;
    GPtrArray *plugins = plugin_set_plugins(set);
    g_autoptr(PoolSet) pools = pool_set_new(api->conf->pools);
    g_autoptr(GPtrArray) vfs = NULL;
    g_autoptr(GError) error = NULL;
    json_t *list = json_array();
    Listing *l;

    vfs = pool_set_vfs(pools, &error);
    if (!vfs)
        g_message("GET /v1/plugins lists no claims: %s", error->message);
    l = g_new0(Listing, 1);
    l->deferred = deferred;
    l->answer = json_pack("{s:o,s:o}", "plugins", list, "refused", refusals_json(set));
    if (not_probed)
        json_object_set_new(l->answer, "not_probed", json_string(not_probed));
    for (guint i = 0; i < plugins->len; i++) {
        json_t *entry = plugin_entry(plugins->pdata[i]);

        json_array_append_new(list, entry);
        for (guint v = 0; vfs && !not_probed && v < vfs->len; v++) {
            const PoolVf *vf = vfs->pdata[v];
            json_t *held = holders ? g_hash_table_lookup(holders, vf->address) : NULL;
            const char *state = json_string_value(json_object_get(held, "state"));
            const char *domain = json_string_value(json_object_get(held, "domain"));
            Probe *pr = g_new0(Probe, 1);
            PluginDevice dev;

            pr->listing = l;
            pr->claims = json_object_get(entry, "claims");
            pr->index = v;
            json_array_append_new(pr->claims, json_null());
            pr->pool = g_strdup(vf->pool);
            pr->address = g_strdup(vf->address);
            pool_device(api->conf, vf, g_strcmp0(state, "in-use") == 0 ? domain : NULL,
                        g_strcmp0(state, "leased") == 0 ? domain : NULL, &dev);
            l->pending++;
            plugin_call(plugins->pdata[i], PLUGIN_CALL_PROBE, &dev, NULL, 0, 0,
                        api->conf->plugin_call_timeout_s * 1000, probe_done, pr);
        }
    }
    if (l->pending == 0)
        listing_finish(l);
}

/* Which VFs running guests hold, and which are leased, as GET /v1/vfs
 * says: a plugin is told whose each device is before it is probed. When
 * that cannot be known, the plugins are listed and no device is probed
 * ("not_probed" says why), since a plugin could open a device a guest
 * owns. */
static void
plugins_holders_read(json_t *result, const GError *error, gpointer data)
{
    Ask *ask = data;
    g_autoptr(GHashTable) holders = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *not_probed = NULL;
    size_t i;
    json_t *vf;

    if (!result)
        not_probed = g_strdup_printf("which VFs this host's guests hold is unknown (%s), so no "
                                     "device was probed",
                                     error ? error->message : "no answer");
    json_array_foreach(json_object_get(result, "vfs"), i, vf) {
        const char *address = json_string_value(json_object_get(vf, "address"));

        if (address)
            g_hash_table_replace(holders, (char *)address, vf);
    }
    plugins_probe(ask->api, holders, not_probed, ask->deferred);
    g_free(ask);
}

void
api_list_plugins(Api *api, const ApiRequest *req, HttpResponse *resp)
{
    HttpDeferred *deferred = http_request_defer(req->http);
    Ask *ask;

    if (!api->incoming) {
        plugins_probe(api, NULL, NULL, deferred);
        return;
    }
    ask = g_new0(Ask, 1);
    ask->api = api;
    ask->deferred = deferred;
    incoming_vfs(api->incoming, plugins_holders_read, ask);
}
