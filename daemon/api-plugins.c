/* GET /v1/plugins: the plugins this migd loaded, those it refused and why,
 * and for each loaded one which of this host's pool devices it claims and
 * what it vouches for (its probe's answer, asked now, in workers). */
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
    return json_pack("{s:s,s:s,s:b,s:I,s:b,s:b,s:s}", "pool", pr->pool, "address", pr->address,
                     "state", (flags & MIGD_PROBE_STATE) != 0, "state_version",
                     (json_int_t)r->probe.state_version, "native",
                     (flags & MIGD_PROBE_NATIVE) != 0, "pause", (flags & MIGD_PROBE_PAUSE) != 0,
                     "detail", r->probe.detail);
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

/* The ABI's description of a pool device that no guest uses yet. */
static void
pool_device(const MigdConf *conf, const PoolVf *vf, PluginDevice *ret)
{
    const MigdPoolConf *pc = conf_find_pool(conf, vf->pool);
    gboolean sriov = pc && pc->type == POOL_SRIOV;

    *ret = (PluginDevice){
        .kind = sriov ? MIGD_DEVICE_VF : MIGD_DEVICE_EMULATED,
        .side = MIGD_SIDE_DESTINATION,
        .pci_address = sriov ? vf->address : NULL,
        .pf_address = sriov ? pc->pf : NULL,
        .vf_index = sriov ? (int)vf->index : -1,
        .pf_netdev = sriov ? vf->pf_netdev : NULL,
        .netdev = sriov ? vf->netdev : vf->address,
        .pool = vf->pool,
        .vlan = -1,
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

void
api_list_plugins(Api *api, const ApiRequest *req, HttpResponse *resp)
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
    l->answer = json_pack("{s:o,s:o}", "plugins", list, "refused", refusals_json(set));
    for (guint i = 0; i < plugins->len; i++) {
        json_t *entry = plugin_entry(plugins->pdata[i]);

        json_array_append_new(list, entry);
        for (guint v = 0; vfs && v < vfs->len; v++) {
            Probe *pr = g_new0(Probe, 1);
            PluginDevice dev;

            pr->listing = l;
            pr->claims = json_object_get(entry, "claims");
            pr->index = v;
            json_array_append_new(pr->claims, json_null());
            pr->pool = g_strdup(((PoolVf *)vfs->pdata[v])->pool);
            pr->address = g_strdup(((PoolVf *)vfs->pdata[v])->address);
            pool_device(api->conf, vfs->pdata[v], &dev);
            l->pending++;
            plugin_call(plugins->pdata[i], PLUGIN_CALL_PROBE, &dev, NULL, 0, 0,
                        api->conf->plugin_call_timeout_s * 1000, probe_done, pr);
        }
    }
    if (l->pending == 0) {
        resp->status = 200;
        resp->body = l->answer;
        g_free(l);
        return;
    }
    l->deferred = http_request_defer(req->http);
}
