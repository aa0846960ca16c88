/* vfio-mig's decisions and its record text (plugins/vfio-mig/vfio-answer.c,
 * vfio-record.c), included here whole:
 * what it vouches for from each answer a device can give, QEMU's P2P rule
 * for more than one device, the destination's pair check, when a device
 * may be opened, when a kept answer is still good, and the text that
 * carries an answer, with each way it can be damaged. */
#include <config.h>

#include <errno.h>
#include <glib.h>

#include "vfio-answer.c"
#include "vfio-record.c"
#include "say.c"

/* What the mtty sample on 6.12 answers (tests/kbed/test-vfio-mig). */
static struct vfio_caps
mtty(const char *device)
{
    struct vfio_caps c = { .flags = 0x7, .dma_logging = 1, .have_stop_copy = 1,
                           .stop_copy = 96 };

    g_strlcpy(c.device, device, sizeof(c.device));
    g_strlcpy(c.driver, "mtty", sizeof(c.driver));
    g_strlcpy(c.type, "mdev mtty-2", sizeof(c.type));
    g_strlcpy(c.boot, "3f0c5a9e-0d53-4c4a-9d7e-2b1f6c7d8e90", sizeof(c.boot));
    return c;
}

static void
test_flags(void)
{
    char buf[64];

    vfio_answer_flags(0x7, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "STOP_COPY, P2P, PRE_COPY");
    vfio_answer_flags(0x1, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "STOP_COPY");
    vfio_answer_flags(0x0, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "none");
    vfio_answer_flags(0x19, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "STOP_COPY, 0x18");
}

static void
test_device_migrates(void)
{
    struct vfio_caps c = mtty("u1");
    char why[256];

    g_assert_cmpint(vfio_answer_device(&c, why, sizeof(why)), ==, 1);
    g_assert_cmpstr(why, ==, "u1 (driver mtty) migrates in QEMU: STOP_COPY, P2P, PRE_COPY, "
                    "dirty page logging; stop-copy size 96 bytes");
    c.have_stop_copy = 0;
    c.flags = VFIO_ANSWER_STOP_COPY;
    g_assert_cmpint(vfio_answer_device(&c, why, sizeof(why)), ==, 1);
    g_assert_cmpstr(why, ==, "u1 (driver mtty) migrates in QEMU: STOP_COPY, dirty page "
                    "logging");
}

/* Each answer that gets no vouch, and the words that say why. */
static void
test_device_refused(void)
{
    static const struct {
        int migration_errno;
        uint64_t flags;
        int dma_logging;
        const char *reason;
    } cases[] = {
        { ENOTTY, 0, 0, "u1 (driver mtty) has no VFIO migration (VFIO_DEVICE_FEATURE "
                        "MIGRATION: ENOTTY), so it cannot stay attached" },
        { EOPNOTSUPP, 0, 1, "u1 (driver mtty) has no VFIO migration (VFIO_DEVICE_FEATURE "
                            "MIGRATION: EOPNOTSUPP), so it cannot stay attached" },
        { EIO, 0, 1, "u1 (driver mtty) did not say whether it migrates (VFIO_DEVICE_FEATURE "
                     "MIGRATION: Input/output error)" },
        { VFIO_ANSWER_UNASKED, 0, 1, "u1 (driver mtty) was not asked whether it migrates" },
        { 0, VFIO_ANSWER_P2P, 1, "u1 (driver mtty) offers migration flags P2P without "
                                 "STOP_COPY, which every VFIO migration needs" },
        { 0, 0x7, 0, "u1 (driver mtty) migrates (STOP_COPY, P2P, PRE_COPY) but has no "
                     "dirty page logging (DMA_LOGGING_START), which QEMU needs to track its "
                     "writes to guest memory during pre-copy" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct vfio_caps c = mtty("u1");
        char why[256];

        c.migration_errno = cases[i].migration_errno;
        c.flags = cases[i].flags;
        c.dma_logging = cases[i].dma_logging;
        g_assert_cmpint(vfio_answer_device(&c, why, sizeof(why)), ==, 0);
        g_assert_cmpstr(why, ==, cases[i].reason);
    }
}

static void
test_together(void)
{
    struct vfio_caps a = mtty("a"), b = mtty("b"), c = mtty("c");
    const struct vfio_caps *one[] = { &a }, *two[] = { &a, &b };
    char why[256] = "";

    g_assert_cmpint(vfio_answer_together(&a, NULL, 0, why, sizeof(why)), ==, 1);
    g_assert_cmpint(vfio_answer_together(&b, one, 1, why, sizeof(why)), ==, 1);
    g_assert_cmpint(vfio_answer_together(&c, two, 2, why, sizeof(why)), ==, 1);
    /* Alone, a device needs no P2P. */
    c.flags = VFIO_ANSWER_STOP_COPY;
    g_assert_cmpint(vfio_answer_together(&c, NULL, 0, why, sizeof(why)), ==, 1);
    /* Asked again about itself: still alone. */
    one[0] = &c;
    g_assert_cmpint(vfio_answer_together(&c, one, 1, why, sizeof(why)), ==, 1);
    g_assert_cmpint(vfio_answer_together(&c, two, 2, why, sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "c would be VFIO device 3 of this guest to stay attached, and c "
                    "does not support P2P: QEMU migrates more than one VFIO device only when "
                    "all do");
    /* An earlier one without P2P holds back one that has it. */
    a.flags = VFIO_ANSWER_STOP_COPY;
    g_assert_cmpint(vfio_answer_together(&b, (const struct vfio_caps *[]){ &a }, 1, why,
                                         sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "b would be VFIO device 2 of this guest to stay attached, and a "
                    "does not support P2P: QEMU migrates more than one VFIO device only when "
                    "all do");
}

static void
test_pair(void)
{
    struct vfio_caps src = mtty("u-src"), dst = mtty("u-dst");
    char why[256];

    g_assert_cmpint(vfio_answer_pair(&src, &dst, why, sizeof(why)), ==, 1);
    g_assert_cmpstr(why, ==, "both ends migrate: u-src and u-dst are mdev mtty-2 with driver "
                    "mtty");
    g_strlcpy(dst.type, "mdev mtty-1", sizeof(dst.type));
    g_assert_cmpint(vfio_answer_pair(&src, &dst, why, sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "the source's device u-src is mdev mtty-2 with driver mtty, "
                    "and u-dst here is mdev mtty-1 with driver mtty: QEMU cannot load "
                    "one's device state into the other");
    dst = mtty("u-dst");
    dst.migration_errno = ENOTTY;
    g_assert_cmpint(vfio_answer_pair(&src, &dst, why, sizeof(why)), ==, 0);
    g_assert_true(g_str_has_prefix(why, "this host's device cannot migrate: u-dst"));
    src.dma_logging = 0;
    g_assert_cmpint(vfio_answer_pair(&src, &dst, why, sizeof(why)), ==, 0);
    g_assert_true(g_str_has_prefix(why, "the source's device cannot migrate: u-src"));
}

static void
test_may_open(void)
{
    g_assert_cmpint(vfio_answer_may_open(MIGD_SIDE_SOURCE, "vm1"), ==, 0);
    g_assert_cmpint(vfio_answer_may_open(MIGD_SIDE_SOURCE, NULL), ==, 1);
    g_assert_cmpint(vfio_answer_may_open(MIGD_SIDE_DESTINATION, "vm1"), ==, 1);
    g_assert_cmpint(vfio_answer_may_open(MIGD_SIDE_DESTINATION, NULL), ==, 1);
}

static void
test_kept(void)
{
    struct vfio_caps k = mtty("u1");
    char why[256] = "";

    g_assert_cmpint(vfio_answer_kept_usable(&k, "mtty", "mdev mtty-2", k.boot, why,
                                            sizeof(why)), ==, 1);
    g_assert_cmpint(vfio_answer_kept_usable(&k, "mtty", "mdev mtty-2", "other", why,
                                            sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "the answer kept for u1 is from before the host's last boot");
    g_assert_cmpint(vfio_answer_kept_usable(&k, "mtty", "mdev mtty-2", "", why,
                                            sizeof(why)), ==, 0);
    g_assert_cmpint(vfio_answer_kept_usable(&k, "vfio-pci", "mdev mtty-2", k.boot, why,
                                            sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "the answer kept for u1 was given by driver mtty, and "
                    "vfio-pci is bound now");
    g_assert_cmpint(vfio_answer_kept_usable(&k, "mtty", "mdev mtty-1", k.boot, why,
                                            sizeof(why)), ==, 0);
    g_assert_cmpstr(why, ==, "the answer kept for u1 is for a mdev mtty-2, and it is a mdev "
                    "mtty-1 now");
}

static void
test_unprobed(void)
{
    char why[256];

    vfio_answer_unprobed("0000:00:05.0", "vfio-pci", "none is kept in /c/0000:00:05.0", why,
                         sizeof(why));
    g_assert_cmpstr(why, ==, "0000:00:05.0 is bound to vfio-pci, which has no VFIO migration "
                    "(only vendor variant drivers have it), so it cannot stay attached (read "
                    "from sysfs: a guest owns it)");
    vfio_answer_unprobed("0000:00:06.0", "mlx5_vfio_pci", "none is kept in /c/0000:00:06.0",
                         why, sizeof(why));
    g_assert_cmpstr(why, ==, "0000:00:06.0 (driver mlx5_vfio_pci) is in a guest's use, and "
                    "opening it would reset it; no answer kept from before the guest started "
                    "is usable (none is kept in /c/0000:00:06.0)");
}

#define MTTY_TEXT "vfio-mig 1\ndevice u1\ndriver mtty\ntype mdev mtty-2\n" \
                  "boot 3f0c5a9e-0d53-4c4a-9d7e-2b1f6c7d8e90\nmigration 0x7\ndma_logging yes\n"

static void
round_trip(const struct vfio_caps *c, const char *want)
{
    char buf[1024], err[256];
    struct vfio_caps back;
    size_t len = 0;
    g_autofree char *text = NULL;

    g_assert_cmpint(vfio_record_write(c, buf, sizeof(buf), &len), ==, 0);
    text = g_strndup(buf, len);
    g_assert_cmpstr(text, ==, want);
    g_assert_cmpint(vfio_record_read((const uint8_t *)buf, len, 1, &back, err, sizeof(err)),
                    ==, 0);
    g_assert_cmpmem(&back, sizeof(back), c, sizeof(*c));
}

static void
test_record_round_trip(void)
{
    struct vfio_caps c = mtty("u1");

    round_trip(&c, MTTY_TEXT "stop_copy 96\n");
    c.have_stop_copy = 0;
    c.stop_copy = 0;
    round_trip(&c, MTTY_TEXT);
    c.migration_errno = ENOTTY;
    c.flags = 0;
    c.dma_logging = 0;
    round_trip(&c, "vfio-mig 1\ndevice u1\ndriver mtty\ntype mdev mtty-2\n"
               "boot 3f0c5a9e-0d53-4c4a-9d7e-2b1f6c7d8e90\nmigration ENOTTY\ndma_logging no\n");
    c.migration_errno = VFIO_ANSWER_UNASKED;
    round_trip(&c, "vfio-mig 1\ndevice u1\ndriver mtty\ntype mdev mtty-2\n"
               "boot 3f0c5a9e-0d53-4c4a-9d7e-2b1f6c7d8e90\nmigration unasked\ndma_logging no\n");
    c.migration_errno = EIO;
    round_trip(&c, "vfio-mig 1\ndevice u1\ndriver mtty\ntype mdev mtty-2\n"
               "boot 3f0c5a9e-0d53-4c4a-9d7e-2b1f6c7d8e90\nmigration errno 5\ndma_logging no\n");
}

static void
test_record_no_space(void)
{
    struct vfio_caps c = mtty("u1");
    char buf[64];
    size_t len = 7;

    g_assert_cmpint(vfio_record_write(&c, buf, sizeof(buf), &len), ==, -ENOSPC);
    g_assert_cmpuint(len, ==, 7);
    g_assert_cmpint(vfio_record_write(&c, buf, 0, &len), ==, -ENOSPC);
}

/* Each damaged record: refused with the line named, and nothing filled. */
static void
test_record_refused(void)
{
    static const struct { const char *text; int rc; const char *err; } cases[] = {
        { "vfio-mig 2\n", -EINVAL, "line 1 of the state ('vfio-mig 2') is not 'vfio-mig 1'" },
        { "device u1\n", -EINVAL, "line 1 of the state ('device u1') is not its 'vfio-mig' line" },
        { "vfio-mig 1\ndriver x\n", -EINVAL,
          "line 2 of the state ('driver x') is not its 'device' line" },
        { "vfio-mig 1\ndevice u1\nflavour x\n", -EINVAL,
          "line 3 of the state ('flavour x') is not its 'driver' line" },
        { "vfio-mig 1\ndevice u1\ndriver d\ndevice u2\n", -EINVAL,
          "line 4 of the state ('device u2') is not its 'type' line" },
        { MTTY_TEXT "stop_copy 96\nstop_copy 97\n", -EINVAL,
          "line 9 of the state ('stop_copy 97') is not a field it has" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration 7\n", -EINVAL,
          "line 6 of the state ('migration 7') is not a valid value" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration 0x7zz\n", -EINVAL,
          "line 6 of the state ('migration 0x7zz') is not a valid value" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration errno 0\n", -EINVAL,
          "line 6 of the state ('migration errno 0') is not a valid value" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration 0x7\ndma_logging maybe\n",
          -EINVAL, "line 7 of the state ('dma_logging maybe') is not a valid value" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration 0x7\ndma_logging yes\n"
          "stop_copy -1\n", -EINVAL, "line 8 of the state ('stop_copy -1') is not a valid value" },
        { "vfio-mig 1\ndevice u1\ndriver d\ntype t\nboot b\nmigration 0x7\n", -EINVAL,
          "the state ends before its 'dma_logging' line" },
        { "vfio-mig 1\ndevice\n", -EINVAL, "line 2 of the state ('device') is not a valid value" },
        { "", -EINVAL, "the state ends before its 'vfio-mig' line" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct vfio_caps c = mtty("untouched");
        char err[256] = "";

        g_assert_cmpint(vfio_record_read((const uint8_t *)cases[i].text, strlen(cases[i].text),
                                         1, &c, err, sizeof(err)), ==, cases[i].rc);
        g_assert_cmpstr(err, ==, cases[i].err);
        g_assert_cmpstr(c.device, ==, "untouched");
    }
}

static void
test_record_not_text(void)
{
    struct vfio_caps c = mtty("untouched");
    char err[256], big[2048];

    g_assert_cmpint(vfio_record_read((const uint8_t *)MTTY_TEXT, strlen(MTTY_TEXT), 2, &c, err,
                                     sizeof(err)), ==, -EPROTO);
    g_assert_cmpstr(err, ==, "the state is version 2, and this vfio-mig reads version 1");
    g_assert_cmpint(vfio_record_read((const uint8_t *)"vfio-mig 1\n\0", 12, 1, &c, err,
                                     sizeof(err)), ==, -EINVAL);
    g_assert_cmpstr(err, ==, "the state is not a vfio-mig record (12 bytes, with a NUL byte)");
    memset(big, 'a', sizeof(big));
    g_assert_cmpint(vfio_record_read((const uint8_t *)big, sizeof(big), 1, &c, err, sizeof(err)),
                    ==, -EINVAL);
    g_assert_cmpstr(err, ==, "the state is not a vfio-mig record (2048 bytes, too long)");
    g_assert_cmpstr(c.device, ==, "untouched");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio-answer/flags", test_flags);
    g_test_add_func("/vfio-answer/device-migrates", test_device_migrates);
    g_test_add_func("/vfio-answer/device-refused", test_device_refused);
    g_test_add_func("/vfio-answer/together", test_together);
    g_test_add_func("/vfio-answer/pair", test_pair);
    g_test_add_func("/vfio-answer/may-open", test_may_open);
    g_test_add_func("/vfio-answer/kept", test_kept);
    g_test_add_func("/vfio-answer/unprobed", test_unprobed);
    g_test_add_func("/vfio-record/round-trip", test_record_round_trip);
    g_test_add_func("/vfio-record/no-space", test_record_no_space);
    g_test_add_func("/vfio-record/refused", test_record_refused);
    g_test_add_func("/vfio-record/not-text", test_record_not_text);
    return g_test_run();
}
