/* The vdpa plugin's reading of the kernel's DEV_CONFIG_GET answer
 * (plugins/vdpa/vdpa-genl.c and the netlink helpers it uses, included
 * whole): what 6.12 and Debian 12's own 6.1 send for vdpa_sim_net, as the
 * kernel bed measured them. */
#include <config.h>

#include <glib.h>
#include <string.h>

#include "../../plugins/common/nl.c"
#include "../../plugins/common/genl.c"
#include "../../plugins/vdpa/vdpa-genl.c"

/* An answer as vdpa_dev_net_config_fill() makes it: MAC, MTU, and the
 * device's features in attribute @features_attr (0: none). */
static struct vdpa_cfg
answer(uint16_t features_attr)
{
    static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };
    struct vdpa_cfg c = { 0 };
    uint16_t mtu = 1400;
    struct nl_msg m;

    genl_msg_init(&m, 0x20, VDPA_CMD_DEV_CONFIG_GET, VDPA_GENL_VERSION, 0);
    nl_put_str(&m, VDPA_ATTR_DEV_NAME, "vs");
    nl_put(&m, VDPA_ATTR_DEV_NET_CFG_MACADDR, mac, sizeof(mac));
    nl_put(&m, VDPA_ATTR_DEV_NET_CFG_MTU, &mtu, sizeof(mtu));
    if (features_attr)
        nl_put_u64(&m, features_attr, features_attr == VDPA_ATTR_DEV_FEATURES ? 0x308830028
                                                                              : 0x308820028);
    g_assert_cmpint(vg_config_answer(&m.hdr, &c), ==, 0);
    g_assert_cmpmem(c.mac, 6, mac, 6);
    g_assert_cmpuint(c.mtu, ==, 1400);
    g_assert_cmpuint(c.max_vqp, ==, 1);
    return c;
}

static void
test_features_612(void)
{
    struct vdpa_cfg c = answer(VDPA_ATTR_DEV_FEATURES);

    g_assert_true(c.have & (1u << VDPA_DEVICE_FEATURES));
    g_assert_cmpuint(c.device_features, ==, 0x308830028);
}

/* 6.1 sends them one attribute further (VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES);
 * read as 6.12's, the state had no "device" line there. */
static void
test_features_61(void)
{
    struct vdpa_cfg c = answer(VDPA_ATTR_DEV_FEATURES_6_1);

    g_assert_true(c.have & (1u << VDPA_DEVICE_FEATURES));
    g_assert_cmpuint(c.device_features, ==, 0x308820028);
}

static void
test_features_none(void)
{
    struct vdpa_cfg c = answer(0);

    g_assert_false(c.have & (1u << VDPA_DEVICE_FEATURES));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vdpa-genl/device-features-6.12", test_features_612);
    g_test_add_func("/vdpa-genl/device-features-6.1", test_features_61);
    g_test_add_func("/vdpa-genl/no-device-features", test_features_none);
    return g_test_run();
}
