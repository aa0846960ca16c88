/* sriov-vfcfg's state text (plugins/sriov-vfcfg/vf-state.c and the state
 * text it shares, plugins/common/state-text.c, included whole). */
#include <config.h>

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "../../plugins/common/state-text.c"
#include "../../plugins/sriov-vfcfg/vf-state.c"

static const char full[] =
    "sriov-vfcfg 1\n"
    "mac 02:00:00:00:00:10\n"
    "vlan 200 qos 5 proto 802.1ad\n"
    "rate min 100 max 1000\n"
    "spoofchk off\n"
    "trust on\n"
    "link_state disable\n"
    "query_rss on\n";

static void
test_round_trip(void)
{
    struct vf_cfg c;
    char buf[512], err[256];
    size_t len = 0;

    g_assert_cmpint(vf_state_read((const uint8_t *)full, strlen(full), 1, &c, err, sizeof(err)),
                    ==, 0);
    g_assert_cmpuint(c.have, ==, (1u << VF_LAST) - 1);
    g_assert_cmpuint(c.mac[5], ==, 0x10);
    g_assert_cmpuint(c.proto, ==, 0x88a8);
    g_assert_cmpuint(c.max_rate, ==, 1000);
    g_assert_cmpuint(c.link_state, ==, 2);
    g_assert_cmpint(vf_state_write(&c, buf, sizeof(buf), &len), ==, 0);
    g_assert_cmpmem(buf, len, full, strlen(full));
}

static const struct {
    const char *text;
    int rc;
    const char *err;
} bad[] = {
    { "sriov-vfcfg 2\n", -EINVAL, "the state does not start with 'sriov-vfcfg 1'" },
    { "sriov-vfcfg 1\nmac 03:00\n", -EINVAL, "line 2 of the state is not a valid mac line" },
    { "sriov-vfcfg 1\nvlan 10 qos 1\n", -EINVAL, "line 2 of the state is not a valid vlan line" },
    { "sriov-vfcfg 1\ntrust on\ntrust off\n", -EINVAL,
      "line 3 of the state sets trust a second time" },
    { "sriov-vfcfg 1\nmtu 1500\n", -EINVAL,
      "line 2 of the state names nothing sriov-vfcfg knows ('mtu')" },
};

static void
test_bad(void)
{
    struct vf_cfg c = { .vlan = 9 };
    char err[256];

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(vf_state_read((const uint8_t *)bad[i].text, strlen(bad[i].text), 1, &c,
                                      err, sizeof(err)), ==, bad[i].rc);
        g_assert_cmpstr(err, ==, bad[i].err);
        g_assert_cmpuint(c.vlan, ==, 9);
    }
    g_assert_cmpint(vf_state_read((const uint8_t *)full, strlen(full), 2, &c, err, sizeof(err)),
                    ==, -EPROTO);
    g_assert_cmpstr(err, ==, "the state is version 2, and sriov-vfcfg reads version 1");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vf-state/round-trip", test_round_trip);
    g_test_add_func("/vf-state/bad", test_bad);
    return g_test_run();
}
