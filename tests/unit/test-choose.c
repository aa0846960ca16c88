/* Choosing a destination (daemon/src-choose.c) against scripted peers
 * (fake-peer, one answer per peer's URL): what each peer said, the ranking
 * rule, and the sentence when no peer can take the guest. */
#include <config.h>

#include <string.h>

#include "fake-peer.h"
#include "src-choose.h"
#include "testutil.h"

#define B "http://10.200.0.2:7480"
#define C "http://10.200.0.3:7480"
#define D "http://10.200.0.4:7480"
#define E "http://10.200.0.5:7480"
#define F "http://10.200.0.6:7480"

static const char conf_text[] =
    "[daemon]\ntcp_listen = 10.200.0.1:7480\n"
    "[pool.lab]\ntype = emulated\nmodel = vmxnet3\nbridge = br0\nslots = avf0, avf1\n"
    "[peer.B]\nlibvirt_uri = qemu+tcp://10.200.0.2/system\nmigd_url = " B "\n"
    "[peer.C]\nlibvirt_uri = qemu+tcp://10.200.0.3/system\nmigd_url = " C "\n"
    "[peer.D]\nlibvirt_uri = qemu+tcp://10.200.0.4/system\nmigd_url = " D "\n"
    "[peer.E]\nlibvirt_uri = qemu+tcp://10.200.0.5/system\nmigd_url = " E "\n"
    "[peer.F]\nlibvirt_uri = qemu+tcp://10.200.0.6/system\n";

/* labvm: one NIC of pool lab. */
static const char guest_xml[] =
    "<domain type='qemu'><name>labvm</name><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<target dev='avf0'/><model type='vmxnet3'/><alias name='ua-vf0'/></interface>\n"
    "</devices></domain>";

static char *
capacity(guint max, guint free_slots, const char *pools)
{
    return g_strdup_printf("{\"host\":\"x\",\"max_incoming\":%u,\"incoming_active\":%u,"
                           "\"incoming_queued\":0,\"incoming_free\":%u,\"pools\":{%s}}",
                           max, max - free_slots, free_slots, pools);
}

static void
script_capacity(FakePeer *fp, const char *url, guint max, guint free_slots, const char *pools)
{
    g_autofree char *route = g_strconcat(url, "/v1/capacity", NULL);
    g_autofree char *body = capacity(max, free_slots, pools);

    fake_peer_answer(fp, "GET", route, 200, body);
}

typedef struct {
    GPtrArray *peers;
    guint calls;
} Read;

static void
on_read(GPtrArray *peers, gpointer data)
{
    Read *r = data;

    r->calls++;
    r->peers = g_ptr_array_ref(peers);
}

/* Every peer of @conf read, as the API reads them. */
static GPtrArray *
read_all(FakePeer *fp, const MigdConf *conf)
{
    Read r = { 0 };

    choice_read(conf->peers, "tok", NULL, on_read, &r);
    fake_peer_flush(fp);
    g_assert_cmpuint(r.calls, ==, 1);
    g_assert_cmpuint(fake_peer_count(fp, "GET", "/v1/capacity"), ==, 4);  /* F: no migd_url */
    return r.peers;
}

static MigdConf *
load_conf(void)
{
    g_autoptr(GError) error = NULL;
    MigdConf *conf = conf_load_data("test.conf", conf_text, &error);

    g_assert_no_error(error);
    return conf;
}

static GHashTable *
labvm_needs(const MigdConf *conf)
{
    g_autoptr(GError) error = NULL;
    GHashTable *needs = choice_needs_from_xml(conf, "labvm", guest_xml, &error);

    g_assert_no_error(error);
    return needs;
}

/* Every peer full or out of reach: one sentence naming each one's reason. */
static void
test_all_full(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(MigdConf) conf = load_conf();
    g_autoptr(GHashTable) needs = labvm_needs(conf);
    g_autoptr(GPtrArray) peers = NULL;
    g_autoptr(GPtrArray) ranked = NULL;
    g_autoptr(json_t) refused = json_array();
    g_autofree char *message = NULL;

    script_capacity(fp, B, 2, 2, "\"lab\":{\"total\":2,\"free\":0}");
    fake_peer_error(fp, "GET", C "/v1/capacity", MIGD_ERROR_LIBVIRT_DISCONNECTED,
                    "migd is not connected to libvirt");
    script_capacity(fp, D, 2, 2, "\"other\":{\"total\":4,\"free\":4}");
    script_capacity(fp, E, 2, 0, "\"lab\":{\"total\":2,\"free\":2}");
    peers = read_all(fp, conf);
    ranked = choice_rank(peers, needs, refused);
    g_assert_cmpuint(ranked->len, ==, 0);
    message = choice_refusal("labvm", needs, refused);
    g_assert_cmpstr(message, ==,
                    "no peer can take labvm (it needs 1 VF of pool 'lab' and an incoming slot): "
                    "B: it has 0 free VFs in pool 'lab' and the guest needs 1; "
                    "C: the migd at " C " refused: migd is not connected to libvirt; "
                    "D: it has no pool 'lab'; "
                    "E: it has no free incoming slot (max_incoming 2, all taken); "
                    "F: it has no migd_url in migd.conf, so its capacity cannot be asked");
    g_assert_cmpstr(fake_peer_last(fp, "GET", "/v1/capacity")->token, ==, "tok");
}

/* A peer a drain empties is refused whatever it has free, with the drain. */
static void
test_draining_peer(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(MigdConf) conf = load_conf();
    g_autoptr(GHashTable) needs = labvm_needs(conf);
    g_autoptr(GPtrArray) peers = NULL;
    g_autoptr(GPtrArray) ranked = NULL;
    g_autoptr(json_t) refused = json_array();

    fake_peer_answer(fp, "GET", B "/v1/capacity", 200,
                     "{\"host\":\"b\",\"max_incoming\":4,\"incoming_active\":0,"
                     "\"incoming_queued\":0,\"incoming_free\":4,"
                     "\"pools\":{\"lab\":{\"total\":4,\"free\":4}},\"draining\":\"d-1\"}");
    script_capacity(fp, C, 2, 1, "\"lab\":{\"total\":2,\"free\":1}");
    fake_peer_timeout(fp, "GET", D "/v1/capacity");
    fake_peer_timeout(fp, "GET", E "/v1/capacity");
    peers = read_all(fp, conf);
    ranked = choice_rank(peers, needs, refused);
    g_assert_cmpuint(ranked->len, ==, 1);
    g_assert_cmpstr(((ChoicePeer *)g_ptr_array_index(ranked, 0))->peer, ==, "C");
    g_assert_cmpstr(json_string_value(json_object_get(json_array_get(refused, 0), "peer")), ==,
                    "B");
    g_assert_cmpstr(json_string_value(json_object_get(json_array_get(refused, 0), "why")), ==,
                    "it is being drained (drain d-1) and takes no guest in");
}

/* The most free VFs in the guest's pools first, then free slots, then name. */
static void
test_rank(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(MigdConf) conf = load_conf();
    g_autoptr(GHashTable) needs = labvm_needs(conf);
    g_autoptr(GPtrArray) peers = NULL;
    g_autoptr(GPtrArray) ranked = NULL;
    g_autoptr(json_t) choice = NULL;
    json_t *refused = json_array();

    script_capacity(fp, B, 4, 1, "\"lab\":{\"total\":4,\"free\":1}");
    script_capacity(fp, C, 4, 1, "\"lab\":{\"total\":4,\"free\":3}");
    script_capacity(fp, D, 4, 3, "\"lab\":{\"total\":4,\"free\":3}");
    fake_peer_timeout(fp, "GET", E "/v1/capacity");
    peers = read_all(fp, conf);
    ranked = choice_rank(peers, needs, refused);
    g_assert_cmpuint(ranked->len, ==, 3);
    g_assert_cmpstr(((ChoicePeer *)g_ptr_array_index(ranked, 0))->peer, ==, "D");
    g_assert_cmpstr(((ChoicePeer *)g_ptr_array_index(ranked, 1))->peer, ==, "C");
    g_assert_cmpstr(((ChoicePeer *)g_ptr_array_index(ranked, 2))->peer, ==, "B");
    choice = choice_to_json(ranked, needs, refused);
    g_assert_cmpstr(json_string_value(json_object_get(choice, "chosen")), ==, "D");
    g_assert_cmpstr(json_string_value(json_object_get(choice, "why")), ==,
                    "the best of 3 peers that can take the guest (it needs 1 VF of pool "
                    "'lab'): 3 free VFs in those pools, 3 of 4 incoming slots free");
    g_assert_cmpuint(json_array_size(json_object_get(choice, "remaining")), ==, 2);
    g_assert_cmpstr(json_string_value(json_object_get(
                        json_array_get(json_object_get(choice, "remaining"), 0), "migd_url")),
                    ==, C);
    /* E timed out, F cannot be asked. */
    g_assert_cmpuint(json_array_size(json_object_get(choice, "refused")), ==, 2);
    g_assert_true(g_str_has_prefix(json_string_value(json_object_get(
                      json_array_get(json_object_get(choice, "refused"), 0), "why")),
                                   "the migd at " E " did not answer: Operation timed out"));
}

/* Ties go by name; a plan's guests count as taking a slot each. */
static void
test_ties_and_planned(void)
{
    g_autoptr(FakePeer) fp = fake_peer_new();
    g_autoptr(MigdConf) conf = load_conf();
    g_autoptr(GHashTable) needs = labvm_needs(conf);
    g_autoptr(GPtrArray) peers = NULL;
    g_autoptr(json_t) refused = json_array();

    script_capacity(fp, B, 2, 2, "\"lab\":{\"total\":4,\"free\":4}");
    script_capacity(fp, C, 2, 2, "\"lab\":{\"total\":4,\"free\":4}");
    script_capacity(fp, D, 2, 2, "\"lab\":{\"total\":4,\"free\":1}");
    script_capacity(fp, E, 2, 2, "\"lab\":{\"total\":4,\"free\":1}");
    peers = read_all(fp, conf);
    for (guint round = 0; round < 3; round++) {
        g_autoptr(GPtrArray) ranked = choice_rank(peers, needs, refused);
        ChoicePeer *best = g_ptr_array_index(ranked, 0);

        /* B and C tie, B first by name; B then has 3 left, and C wins;
         * then they tie at 3 with one guest planned each, and B wins. */
        g_assert_cmpstr(best->peer, ==, round == 1 ? "C" : "B");
        choice_take(best, needs);
    }
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(
                         ((ChoicePeer *)g_ptr_array_index(peers, 0))->pool_free, "lab")), ==, 2);
}

/* A passthrough NIC in no pool cannot be placed anywhere. */
static void
test_needs_no_pool(void)
{
    g_autoptr(MigdConf) conf = load_conf();
    g_autoptr(GError) error = NULL;
    static const char xml[] =
        "<domain type='qemu'><name>v</name><devices><hostdev mode='subsystem' type='pci' "
        "managed='yes'><source><address domain='0x0000' bus='0x3b' slot='0x02' "
        "function='0x1'/></source><alias name='hostdev0'/></hostdev></devices></domain>";
    g_autoptr(GHashTable) needs = choice_needs_from_xml(conf, "v", xml, &error);

    g_assert_null(needs);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(error->message, ==, "v's passthrough device hostdev0 (0000:3b:02.1) "
                                        "belongs to no pool of migd.conf, so no host can be "
                                        "chosen for it");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/choose/all-full", test_all_full);
    g_test_add_func("/choose/rank", test_rank);
    g_test_add_func("/choose/draining-peer", test_draining_peer);
    g_test_add_func("/choose/ties-and-planned", test_ties_and_planned);
    g_test_add_func("/choose/needs-no-pool", test_needs_no_pool);
    return g_test_run();
}
