/* Plugins for test-plugin, one source built several ways (FIXTURE_*):
 * a good one, and one for each way a plugin can be refused or misbehave.
 * FIXTURE_STATEFUL is the one the NIC steps' tests call: it restores too,
 * writes each call it gets as a line to [plugin.NAME] log = PATH, fails
 * the call named by fail_at and sleeps 3 s in the one named by hang_at;
 * vouch = none, pause, native or "native pause" says what its probe
 * vouches for (default: pause), deny = native, pause or both what it
 * denies, state = no that it carries none (as vfio-mig, which only
 * vouches); log_name = yes ends each logged line with " by NAME", for
 * tests with two of them (stateful and stateful2); stop_copy = BYTES what
 * its probe says QEMU sends for the device at stop-and-copy (ABI 1.1;
 * FIXTURE_ABI_MINOR 0 builds it as a plugin of ABI 1.0 that writes it
 * anyway, which migd must not read). With kind = vf it handles the VFs of
 * sriov pools instead of emulated NICs, as sriov-vfcfg does, and logs
 * also what sriov-vfcfg reaches the VF by ("pci=... pf=... vf=3 pf_netdev=ens1f0
 * domain=labvm job=..."); with kind = vdpa it handles vDPA devices, as the
 * vdpa plugin does, and logs what that reaches one by ("netdev=vdpa0
 * mac=... pool=... domain=labvm job=..."). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <migd/plugin.h>

struct fixture {
    char greeting[64];
    int aborts;
    char log[256];
    char fail_at[32];
    char hang_at[32];
    uint32_t vouch;
    uint32_t deny;
    uint64_t stop_copy;
    int stateless;
    int log_name;
    uint32_t kind;      /* enum migd_device_kind: the devices it handles */
};

/* "save_state ua-vf0 source" to the log, then whether the test setting
 * makes this call fail (with @err set) or hang first. */
static int
fx_called(struct fixture *f, const char *call, const struct migd_device *dev, char *err,
          size_t errlen)
{
    FILE *out = f->log[0] ? fopen(f->log, "a") : NULL;

    if (out) {
        fprintf(out, "%s %s %s", call, dev->alias ? dev->alias : "-",
                dev->side == MIGD_SIDE_SOURCE ? "source" : "destination");
        if (f->kind == MIGD_DEVICE_VF)
            fprintf(out, " pci=%s pf=%s vf=%d pf_netdev=%s domain=%s job=%s",
                    dev->pci_address ? dev->pci_address : "-",
                    dev->pf_address ? dev->pf_address : "-", (int)dev->vf_index,
                    dev->pf_netdev ? dev->pf_netdev : "-", dev->domain ? dev->domain : "-",
                    dev->job ? dev->job : "-");
        if (f->kind == MIGD_DEVICE_VDPA)
            fprintf(out, " netdev=%s mac=%s pool=%s domain=%s job=%s",
                    dev->netdev ? dev->netdev : "-", dev->mac ? dev->mac : "-",
                    dev->pool ? dev->pool : "-", dev->domain ? dev->domain : "-",
                    dev->job ? dev->job : "-");
        if (f->log_name)
            fputs(" by " FIXTURE_NAME, out);
        fputc('\n', out);
        fclose(out);
    }
    if (strcmp(f->hang_at, call) == 0)
        sleep(3);
    if (strcmp(f->fail_at, call) == 0) {
        snprintf(err, errlen, "%s of %s fails: fail_at = %s is set", call,
                 dev->alias ? dev->alias : "-", call);
        return -EIO;
    }
    return 0;
}

static int
fx_init(const struct migd_setting *settings, size_t count, void **ret_ctx, char *err,
        size_t errlen)
{
    struct fixture *f;

#ifdef FIXTURE_INIT_FAILS
    snprintf(err, errlen, "the fixture refuses to start");
    return -EPERM;
#endif
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->vouch = MIGD_PROBE_PAUSE;
    f->kind = MIGD_DEVICE_EMULATED;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(settings[i].key, "greeting") == 0)
            snprintf(f->greeting, sizeof(f->greeting), "%s", settings[i].value);
        else if (strcmp(settings[i].key, "log") == 0)
            snprintf(f->log, sizeof(f->log), "%s", settings[i].value);
        else if (strcmp(settings[i].key, "fail_at") == 0)
            snprintf(f->fail_at, sizeof(f->fail_at), "%s", settings[i].value);
        else if (strcmp(settings[i].key, "hang_at") == 0)
            snprintf(f->hang_at, sizeof(f->hang_at), "%s", settings[i].value);
        else if (strcmp(settings[i].key, "vouch") == 0)
            f->vouch = (strstr(settings[i].value, "pause") ? MIGD_PROBE_PAUSE : 0) |
                       (strstr(settings[i].value, "native") ? MIGD_PROBE_NATIVE : 0);
        else if (strcmp(settings[i].key, "deny") == 0)
            f->deny = (strstr(settings[i].value, "pause") ? MIGD_PROBE_DENY_PAUSE : 0) |
                      (strstr(settings[i].value, "native") ? MIGD_PROBE_DENY_NATIVE : 0);
        else if (strcmp(settings[i].key, "stop_copy") == 0)
            f->stop_copy = strtoull(settings[i].value, NULL, 10);
        else if (strcmp(settings[i].key, "state") == 0)
            f->stateless = strcmp(settings[i].value, "no") == 0;
        else if (strcmp(settings[i].key, "log_name") == 0)
            f->log_name = strcmp(settings[i].value, "yes") == 0;
        else if (strcmp(settings[i].key, "kind") == 0)
            f->kind = strcmp(settings[i].value, "vf") == 0     ? MIGD_DEVICE_VF
                      : strcmp(settings[i].value, "vdpa") == 0 ? MIGD_DEVICE_VDPA
                                                               : MIGD_DEVICE_EMULATED;
    }
    *ret_ctx = f;
    return 0;
}

static void
fx_fini(void *ctx)
{
    free(ctx);
}

static int
fx_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
         size_t errlen)
{
    struct fixture *f = ctx;
    int rc;

    if (dev->kind != f->kind)
        return 0;
    rc = fx_called(f, "probe", dev, err, errlen);
    if (rc < 0)
        return rc;
    ret->flags = MIGD_PROBE_HANDLES | (f->stateless ? 0 : MIGD_PROBE_STATE) | f->vouch | f->deny;
    ret->state_version = 3;
    if (MIGD_PROBE_COVERS(ret, stop_copy_bytes))
        ret->stop_copy_bytes = f->stop_copy;
    snprintf(ret->detail, sizeof(ret->detail), "greeting=%s alias=%s domain=%s side=%s",
             f->greeting, dev->alias ? dev->alias : "-", dev->domain ? dev->domain : "-",
             dev->side == MIGD_SIDE_SOURCE ? "source" : "destination");
    return 0;
}

#ifdef FIXTURE_SLOW
/* Blocks until the test writes a byte to $FIXTURE_GATE, a FIFO: how a
 * plugin stuck in the kernel looks to migd. */
static void
fx_wait_gate(void)
{
    const char *gate = getenv("FIXTURE_GATE");
    char c;
    int fd;

    if (!gate)
        return;
    fd = open(gate, O_RDONLY);
    if (fd >= 0) {
        /* Any end of the wait opens the gate; glibc's _FORTIFY_SOURCE
         * does not take a (void) cast for that. */
        if (read(fd, &c, 1) < 0)
            c = 0;
        close(fd);
    }
}
#endif

static int
fx_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap, size_t *ret_len,
        uint32_t *ret_version, char *err, size_t errlen)
{
    int n, rc = fx_called(ctx, "save_state", dev, err, errlen);

    if (rc < 0)
        return rc;
#ifdef FIXTURE_SLOW
    fx_wait_gate();
#endif
#ifdef FIXTURE_OVERFLOW
    *ret_len = cap + 1;
    return 0;
#endif
    n = snprintf((char *)buf, cap, "state of %s", dev->alias);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "the state of %s does not fit in %zu bytes", dev->alias, cap);
        return -ENOSPC;
    }
    *ret_len = (size_t)n;
    *ret_version = 3;
    return 0;
}

static int
fx_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
         uint32_t version, char *err, size_t errlen)
{
    int rc = fx_called(ctx, "check_state", dev, err, errlen);

    if (rc < 0)
        return rc;
    if (version != 3) {
        snprintf(err, errlen, "state version %u is not 3", version);
        return -EPROTO;
    }
    if (dev->pci_address && strcmp(dev->pci_address, "0000:00:00.0") == 0) {
        snprintf(err, errlen, "%s cannot take this state", dev->pci_address);
        return -EINVAL;
    }
    return 0;
}

#ifdef FIXTURE_STATEFUL
static int
fx_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
           uint32_t version, char *err, size_t errlen)
{
    char want[128];

    snprintf(want, sizeof(want), "state of %s", dev->alias);
    if (len != strlen(want) || memcmp(blob, want, len) != 0) {
        snprintf(err, errlen, "the state for %s is not the one saved for it", dev->alias);
        return -EINVAL;
    }
    return fx_called(ctx, "restore_state", dev, err, errlen);
}

static int
fx_pre_switchover(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    return fx_called(ctx, "pre_switchover", dev, err, errlen);
}

static int
fx_post_switchover(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    return fx_called(ctx, "post_switchover", dev, err, errlen);
}
#endif

static int
fx_abort(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    ((struct fixture *)ctx)->aborts++;
    return fx_called(ctx, "abort", dev, err, errlen);
}

static const struct migd_plugin table = {
#ifdef FIXTURE_WRONG_MAJOR
    .abi_major = MIGD_PLUGIN_ABI_MAJOR + 1,
#else
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
#endif
#ifdef FIXTURE_ABI_MINOR
    .abi_minor = FIXTURE_ABI_MINOR,
#else
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
#endif
#ifdef FIXTURE_SMALL_TABLE
    .size = 16,
#else
    .size = sizeof(struct migd_plugin),
#endif
    .name = FIXTURE_NAME,
    .version = "0.1",
    .init = fx_init,
    .fini = fx_fini,
    .probe = fx_probe,
    .save_state = fx_save,
    .check_state = fx_check,
#ifdef FIXTURE_STATEFUL
    .restore_state = fx_restore,
    .pre_switchover = fx_pre_switchover,
    .post_switchover = fx_post_switchover,
#endif
    .abort = fx_abort,
};

#ifndef FIXTURE_NO_ENTRY
MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &table;
}
#else
MIGD_PLUGIN_EXPORT const struct migd_plugin *fixture_table(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
fixture_table(void)
{
    return &table;
}
#endif
