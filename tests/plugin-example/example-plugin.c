/* A minimal migd plugin, built outside migd's tree against the installed
 * header (see Makefile): it claims the emulated stand-in NICs of migd's
 * lab and carries a few bytes of state for each, checking on the
 * destination that the state is its own and for the same device. Copy it
 * as the start of a real plugin; include/migd/plugin.h says what each
 * callback must and must not do. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <migd/plugin.h>

#define STATE_VERSION 1

static int
example_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
              size_t errlen)
{
    if (dev->kind != MIGD_DEVICE_EMULATED)
        return 0;       /* not ours: flags stay 0 */
    ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE;
    ret->state_version = STATE_VERSION;
    snprintf(ret->detail, sizeof(ret->detail), "the example carries %s's name",
             dev->netdev ? dev->netdev : "the device");
    return 0;
}

static int
example_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap,
             size_t *ret_len, uint32_t *ret_version, char *err, size_t errlen)
{
    int n = snprintf((char *)buf, cap, "example:%s", dev->alias ? dev->alias : "");

    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "the state of %s does not fit in %zu bytes", dev->alias, cap);
        return -ENOSPC;
    }
    *ret_len = (size_t)n;
    *ret_version = STATE_VERSION;
    return 0;
}

static int
example_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
              uint32_t version, char *err, size_t errlen)
{
    char expected[160];
    int n = snprintf(expected, sizeof(expected), "example:%s", dev->alias ? dev->alias : "");

    if (version != STATE_VERSION) {
        snprintf(err, errlen, "state version %u is not %u", version, STATE_VERSION);
        return -EPROTO;
    }
    if (n < 0 || len != (size_t)n || memcmp(blob, expected, len) != 0) {
        snprintf(err, errlen, "the state is not the example's state of %s", dev->alias);
        return -EINVAL;
    }
    return 0;
}

static int
example_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
                uint32_t version, char *err, size_t errlen)
{
    /* A real plugin applies the state to the device here and reads it back. */
    return example_check(ctx, dev, blob, len, version, err, errlen);
}

static const struct migd_plugin example = {
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
    .size = sizeof(struct migd_plugin),
    .name = "example",
    .version = "1.0",
    .probe = example_probe,
    .save_state = example_save,
    .check_state = example_check,
    .restore_state = example_restore,
};

MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &example;
}
