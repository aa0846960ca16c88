/* The vdpa plugin's pure logic: its state text, the destination's fitness
 * check and probe's answer (plugins/vdpa/vdpa-state.c and the state text
 * it shares, plugins/common/state-text.c, included whole). */
#include <config.h>

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "../../plugins/common/state-text.c"
#include "../../plugins/vdpa/vdpa-state.c"

/* What vdpa_sim_net on 6.12 reports for a device a driver is using. */
static struct vdpa_cfg
sim_612(void)
{
    struct vdpa_cfg c = {
        .have = (1u << VDPA_MGMTDEV) | (1u << VDPA_MAC) | (1u << VDPA_MTU) |
                (1u << VDPA_MAX_VQP) | (1u << VDPA_NEGOTIATED) | (1u << VDPA_DEVICE_FEATURES) |
                (1u << VDPA_SUPPORTED) | (1u << VDPA_BACKEND),
        .mgmtdev = "vdpasim_net",
        .mac = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc },
        .mtu = 1400, .max_vqp = 1,
        .negotiated = 0x300000028, .device_features = 0x308830028,
        .supported = 0x308830028, .backend = 0x17e,
    };

    return c;
}

static const char sim_612_text[] =
    "vdpa 1\n"
    "mgmtdev vdpasim_net\n"
    "mac 02:00:00:aa:bb:cc\n"
    "mtu 1400\n"
    "max_vqp 1\n"
    "negotiated 0x300000028\n"
    "device 0x308830028\n"
    "supported 0x308830028\n"
    "backend 0x17e\n";

static void
test_write_read(void)
{
    struct vdpa_cfg c = sim_612(), back;
    char buf[512], err[256];
    size_t len = 0;

    g_assert_cmpint(vdpa_state_write(&c, buf, sizeof(buf), &len), ==, 0);
    g_assert_cmpmem(buf, len, sim_612_text, strlen(sim_612_text));
    g_assert_cmpint(vdpa_state_read((const uint8_t *)buf, len, 1, &back, err, sizeof(err)), ==, 0);
    g_assert_cmpuint(back.have, ==, c.have);
    g_assert_cmpstr(back.mgmtdev, ==, c.mgmtdev);
    g_assert_cmpmem(back.mac, 6, c.mac, 6);
    g_assert_cmpuint(back.mtu, ==, c.mtu);
    g_assert_cmpuint(back.max_vqp, ==, c.max_vqp);
    g_assert_cmpuint(back.negotiated, ==, c.negotiated);
    g_assert_cmpuint(back.device_features, ==, c.device_features);
    g_assert_cmpuint(back.supported, ==, c.supported);
    g_assert_cmpuint(back.backend, ==, c.backend);
    g_assert_cmpuint(back.nvrings, ==, 0);
}

static void
test_vrings(void)
{
    struct vdpa_cfg c = { .have = 1u << VDPA_VRINGS, .nvrings = 3, .vring = { 3, 3, 65535 } };
    struct vdpa_cfg back;
    char buf[128], err[256];
    size_t len = 0;

    g_assert_cmpint(vdpa_state_write(&c, buf, sizeof(buf), &len), ==, 0);
    g_assert_cmpmem(buf, len, "vdpa 1\nvring 0 3\nvring 1 3\nvring 2 65535\n", 41);
    g_assert_cmpint(vdpa_state_read((const uint8_t *)buf, len, 1, &back, err, sizeof(err)), ==, 0);
    g_assert_cmpuint(back.nvrings, ==, 3);
    g_assert_cmpuint(back.vring[2], ==, 65535);
}

static void
test_write_small(void)
{
    struct vdpa_cfg c = sim_612();
    char buf[40];
    size_t len = 7;

    g_assert_cmpint(vdpa_state_write(&c, buf, sizeof(buf), &len), ==, -ENOSPC);
    g_assert_cmpuint(len, ==, 7);
}

static const struct {
    const char *text;
    const char *err;
} bad_states[] = {
    { "vdpa 2\nmtu 1400\n", "the state does not start with 'vdpa 1'" },
    { "sriov-vfcfg 1\n", "the state does not start with 'vdpa 1'" },
    { "vdpa 1\nmtu 70000\n", "line 2 of the state is not a valid mtu line" },
    { "vdpa 1\nmtu\n", "line 2 of the state is not a valid mtu line" },
    { "vdpa 1\nmtu -1\n", "line 2 of the state is not a valid mtu line" },
    { "vdpa 1\nmac 02:00:00:aa:bb\n", "line 2 of the state is not a valid mac line" },
    { "vdpa 1\nmac 02:00:00:aa:bb:cc:dd\n", "line 2 of the state is not a valid mac line" },
    { "vdpa 1\nmax_vqp 0\n", "line 2 of the state is not a valid max_vqp line" },
    { "vdpa 1\nnegotiated 0x1zz\n", "line 2 of the state is not a valid negotiated line" },
    { "vdpa 1\nmtu 1400\nmtu 1500\n", "line 3 of the state sets mtu a second time" },
    { "vdpa 1\nvring 1 3\n", "line 2 of the state is not a valid vring line (vring INDEX BASE, "
                             "indices from 0 in order)" },
    { "vdpa 1\nvring 0 65536\n", "line 2 of the state is not a valid vring line (vring INDEX "
                                 "BASE, indices from 0 in order)" },
    { "vdpa 1\nspeed 10\n", "line 2 of the state names nothing the vdpa plugin knows ('speed')" },
    { "vdpa 1\nmtu 1 2\n", "line 2 of the state is not a valid mtu line" },
    { "vdpa 1\nmtu 1 2 3 4 5 6 7 8\n", "line 2 of the state has more than 8 words" },
};

static void
test_read_bad(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_states); i++) {
        struct vdpa_cfg back = { .mtu = 77 };
        char err[256] = "";

        g_test_message("%s", bad_states[i].text);
        g_assert_cmpint(vdpa_state_read((const uint8_t *)bad_states[i].text,
                                        strlen(bad_states[i].text), 1, &back, err, sizeof(err)),
                        ==, -EINVAL);
        g_assert_cmpstr(err, ==, bad_states[i].err);
        g_assert_cmpuint(back.mtu, ==, 77);
    }
}

static void
test_read_version(void)
{
    struct vdpa_cfg back;
    char err[256];

    g_assert_cmpint(vdpa_state_read((const uint8_t *)sim_612_text, strlen(sim_612_text), 2, &back,
                                    err, sizeof(err)), ==, -EPROTO);
    g_assert_cmpstr(err, ==, "the state is version 2, and the vdpa plugin reads version 1");
    g_assert_cmpint(vdpa_state_read((const uint8_t *)"vdpa 1\n\0", 8, 1, &back, err, sizeof(err)),
                    ==, -EINVAL);
}

static void
test_features_format(void)
{
    char buf[256];

    vdpa_features_format(0x308830028, 0, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR ANY_LAYOUT VERSION_1 "
                    "ACCESS_PLATFORM");
    vdpa_features_format(0x17e, 1, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "IOTLB_MSG_V2 IOTLB_BATCH IOTLB_ASID SUSPEND RESUME "
                    "ENABLE_AFTER_DRIVER_OK IOTLB_PERSIST");
    vdpa_features_format(UINT64_C(1) << 45, 0, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "bit 45");
    vdpa_features_format(0, 1, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "none");
}

static void
test_fit_same(void)
{
    struct vdpa_cfg src = sim_612(), dst = sim_612();
    char why[512];

    g_assert_cmpint(vdpa_state_fit(&src, &dst, 0, why, sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "");
}

/* The KubeVirt failure: a 6.12 source's guest negotiated STATUS, a 6.1
 * destination's vdpa_sim does not support it. */
static void
test_fit_features(void)
{
    struct vdpa_cfg src = sim_612(), dst = sim_612();
    char why[512];

    src.negotiated |= UINT64_C(1) << VIRTIO_NET_F_STATUS;
    dst.supported = dst.device_features = 0x308820028;
    g_assert_cmpint(vdpa_state_fit(&src, &dst, 0, why, sizeof(why)), ==, -EOPNOTSUPP);
    g_assert_cmpstr(why, ==, "its management device does not support STATUS, which the guest "
                    "negotiated on the source; the device does not support STATUS, which the "
                    "guest negotiated on the source");
}

/* A device provisioned with fewer features than its management device
 * supports is refused for what it lacks itself. */
static void
test_fit_device_features(void)
{
    struct vdpa_cfg src = sim_612(), dst = sim_612();
    char why[512];

    dst.device_features = 0x300000020;
    g_assert_cmpint(vdpa_state_fit(&src, &dst, 0, why, sizeof(why)), ==, -EOPNOTSUPP);
    g_assert_cmpstr(why, ==, "the device does not support MTU, which the guest negotiated on the "
                    "source");
}

static void
test_fit_config(void)
{
    struct vdpa_cfg src = sim_612(), dst = sim_612();
    char why[512];

    dst.mac[5] = 0xdd;
    dst.mtu = 1500;
    src.max_vqp = 2;
    g_assert_cmpint(vdpa_state_fit(&src, &dst, 0, why, sizeof(why)), ==, -EINVAL);
    g_assert_cmpstr(why, ==, "its MAC is 02:00:00:aa:bb:dd, the source's 02:00:00:aa:bb:cc; its "
                    "MTU is 1500, the source's 1400; it has 1 queue pairs, the source 2");
}

static void
test_fit_missing(void)
{
    struct vdpa_cfg src = sim_612(), dst = sim_612();
    char why[512];

    dst.have &= ~((1u << VDPA_MAC) | (1u << VDPA_MTU) | (1u << VDPA_MAX_VQP));
    g_assert_cmpint(vdpa_state_fit(&src, &dst, 0, why, sizeof(why)), ==, -EINVAL);
    g_assert_cmpstr(why, ==, "it has no MAC (no VIRTIO_NET_F_MAC), the source's has one; it has "
                    "no MTU (no VIRTIO_NET_F_MTU), the source's is 1400");
}

/* Provisioning sets MAC and MTU: only the management device's features
 * count; a state from a device no driver used has nothing negotiated. */
static void
test_fit_provisioning(void)
{
    struct vdpa_cfg src = sim_612(), mgmt = { .have = 1u << VDPA_SUPPORTED,
                                              .supported = 0x308830028 };
    char why[512];

    src.mtu = 9000;
    g_assert_cmpint(vdpa_state_fit(&src, &mgmt, 1, why, sizeof(why)), ==, 0);
    src.negotiated |= UINT64_C(1) << VIRTIO_NET_F_MQ;
    g_assert_cmpint(vdpa_state_fit(&src, &mgmt, 1, why, sizeof(why)), ==, -EOPNOTSUPP);
    g_assert_cmpstr(why, ==, "its management device does not support MQ, which the guest "
                    "negotiated on the source");
    src.have &= ~(1u << VDPA_NEGOTIATED);
    g_assert_cmpint(vdpa_state_fit(&src, &mgmt, 1, why, sizeof(why)), ==, 0);
}

static void
test_vouch(void)
{
    char detail[256];

    g_assert_cmpint(vdpa_vouch_native(0x17e, detail, sizeof(detail)), ==, 1);
    g_assert_cmpstr(detail, ==, "native: SUSPEND; backend features IOTLB_MSG_V2 IOTLB_BATCH "
                    "IOTLB_ASID SUSPEND RESUME ENABLE_AFTER_DRIVER_OK IOTLB_PERSIST");
    /* 6.1: SUSPEND only. */
    g_assert_cmpint(vdpa_vouch_native(0x1e, detail, sizeof(detail)), ==, 1);
    g_assert_cmpstr(detail, ==, "native: SUSPEND; backend features IOTLB_MSG_V2 IOTLB_BATCH "
                    "IOTLB_ASID SUSPEND; no RESUME: a failed migration resets the device to "
                    "resume it; no IOTLB_PERSIST: the destination maps the guest's memory again "
                    "after reset");
    g_assert_cmpint(vdpa_vouch_native(0x6, detail, sizeof(detail)), ==, 0);
    g_assert_cmpstr(detail, ==, "not native: no SUSPEND among its backend features (IOTLB_MSG_V2 "
                    "IOTLB_BATCH), which QEMU's vhost-vdpa migration needs to stop the device");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vdpa-state/write-read", test_write_read);
    g_test_add_func("/vdpa-state/vrings", test_vrings);
    g_test_add_func("/vdpa-state/write-small", test_write_small);
    g_test_add_func("/vdpa-state/read-bad", test_read_bad);
    g_test_add_func("/vdpa-state/read-version", test_read_version);
    g_test_add_func("/vdpa-state/features-format", test_features_format);
    g_test_add_func("/vdpa-state/fit-same", test_fit_same);
    g_test_add_func("/vdpa-state/fit-features", test_fit_features);
    g_test_add_func("/vdpa-state/fit-device-features", test_fit_device_features);
    g_test_add_func("/vdpa-state/fit-config", test_fit_config);
    g_test_add_func("/vdpa-state/fit-missing", test_fit_missing);
    g_test_add_func("/vdpa-state/fit-provisioning", test_fit_provisioning);
    g_test_add_func("/vdpa-state/vouch", test_vouch);
    return g_test_run();
}
