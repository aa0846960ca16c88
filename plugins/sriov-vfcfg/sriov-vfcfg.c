/* sriov-vfcfg: migd's plugin for an SR-IOV VF's admin settings, which live
 * on its PF and which neither QEMU nor libvirt carries across a migration
 * (libvirt sets only the MAC and VLAN): MAC, VLAN with QoS and protocol,
 * min and max tx rate, spoof-check, trust, link state and RSS query.
 * save_state reads them from the source's PF, check_state makes sure the
 * destination VF exists and its PF is in legacy mode (in switchdev mode
 * these settings belong to devlink port functions), restore_state sets each
 * one that differs, alone, reads it back and puts back what it changed when
 * one does not stick; abort puts back what restore_state changed.
 *
 * The kernel is reached over raw netlink (plugins/common/nl.c, shared with
 * lab-tap): one RTM_GETLINK and one RTM_SETLINK per setting, and devlink's
 * ESWITCH_GET, are all this needs, and a plugin that links no library
 * loads into migd with nothing to install. vf-state.h is the format. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migd/plugin.h>

#include "say.h"
#include "vf-kernel.h"
#include "vf-state.h"
#include "vf-sysfs.h"

#define SV_WHYLEN 256

/* The VF a device is: its PF's netdev and its index there. */
struct sv_vf {
    char pf[IFNAMSIZ];
    uint32_t vf;
};

/* A setting restore_state changed, and what it was before. */
struct sv_undo {
    enum vf_setting setting;
    struct vf_cfg before;
};

/* What restore_state changed on one VF in one job, in the order it did,
 * for abort. */
struct sv_record {
    struct sv_record *next;
    char *job;                  /* "" outside a job */
    struct sv_vf where;
    struct sv_undo undo[VF_LAST];
    int nundo;
};

struct sriov_vfcfg {
    char sysfs[PATH_MAX];
    struct sv_record *records;
};

static int
sv_init(const struct migd_setting *settings, size_t count, void **ret_ctx, char *err,
        size_t errlen)
{
    struct sriov_vfcfg *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    snprintf(s->sysfs, sizeof(s->sysfs), "/sys");
    for (size_t i = 0; i < count; i++) {
        if (strcmp(settings[i].key, "sysfs") == 0 && settings[i].value[0] == '/')
            snprintf(s->sysfs, sizeof(s->sysfs), "%s", settings[i].value);
        else {
            free(s);
            return plugin_say(err, errlen, -EINVAL, "[plugin.sriov-vfcfg] %s = %s is not a setting "
                              "it knows (sysfs = an absolute path, default /sys)", settings[i].key,
                              settings[i].value);
        }
    }
    *ret_ctx = s;
    return 0;
}

static void
sv_fini(void *ctx)
{
    struct sriov_vfcfg *s = ctx;

    while (s->records) {
        struct sv_record *r = s->records;

        s->records = r->next;
        free(r->job);
        free(r);
    }
    free(s);
}

/* Where @dev is, and what its PF says of it now: 0, or a sentence and a
 * -errno when the PF or the VF is not there. */
static int
sv_locate(struct sriov_vfcfg *s, const struct migd_device *dev, struct sv_vf *ret_where,
          struct vk_pf *ret_pf, struct vf_cfg *ret_now, char *err, size_t errlen)
{
    char why[SV_WHYLEN], words[SV_WHYLEN + 2];
    struct sv_vf w;
    int rc;

    if ((rc = vs_resolve(s->sysfs, dev, w.pf, &w.vf, err, errlen)) < 0)
        return rc;
    rc = vk_read(w.pf, w.vf, ret_pf, ret_now, why, sizeof(why));
    if (rc == -ENODEV)
        return plugin_say(err, errlen, rc, "VF %u of %s: there is no PF netdev %s on this host",
                          w.vf, w.pf, w.pf);
    if (rc < 0)
        return plugin_say(err, errlen, rc, "VF %u of %s: the kernel does not tell its settings: "
                          "%s%s", w.vf, w.pf, strerror(-rc),
                          plugin_words(why, words, sizeof(words)));
    if (w.vf >= ret_pf->num_vfs || !ret_now->have)
        return plugin_say(err, errlen, -ENODEV, "VF %u of %s does not exist: the PF has %u VFs "
                          "enabled (its sriov_numvfs)", w.vf, w.pf, ret_pf->num_vfs);
    *ret_where = w;
    return 0;
}

static int
sv_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
         size_t errlen)
{
    if (dev->kind != MIGD_DEVICE_VF)
        return 0;
    ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE;
    ret->state_version = VF_STATE_VERSION;
    snprintf(ret->detail, sizeof(ret->detail), "carries the VF's admin settings on its PF "
             "(MAC, VLAN, rates, spoofchk, trust, link state, RSS query)");
    return 0;
}

static int
sv_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap, size_t *ret_len,
        uint32_t *ret_version, char *err, size_t errlen)
{
    struct sv_vf where;
    struct vk_pf pf;
    struct vf_cfg now;
    int rc = sv_locate(ctx, dev, &where, &pf, &now, err, errlen);

    if (rc < 0)
        return rc;
    if (vf_state_write(&now, (char *)buf, cap, ret_len) < 0)
        return plugin_say(err, errlen, -ENOSPC, "VF %u of %s: its settings do not fit in %zu bytes "
                          "([plugins] max_state_bytes)", where.vf, where.pf, cap);
    *ret_version = VF_STATE_VERSION;
    return 0;
}

/* What check_state and restore_state both check, before anything is
 * touched: the state reads, the VF exists, its PF is in legacy mode. */
static int
sv_checks(struct sriov_vfcfg *s, const struct migd_device *dev, const uint8_t *blob, size_t len,
          uint32_t version, struct vf_cfg *ret_want, struct sv_vf *ret_where,
          struct vk_pf *ret_pf, struct vf_cfg *ret_now, char *err, size_t errlen)
{
    char why[SV_WHYLEN];
    int rc = vf_state_read(blob, len, version, ret_want, why, sizeof(why));

    if (rc < 0)
        return plugin_say(err, errlen, rc, "%s: %s", dev->alias ? dev->alias : "the VF", why);
    if ((rc = sv_locate(s, dev, ret_where, ret_pf, ret_now, err, errlen)) < 0)
        return rc;
    rc = vk_switchdev(s->sysfs, ret_where->pf, why, sizeof(why));
    if (rc < 0)
        return plugin_say(err, errlen, rc, "VF %u of %s: %s", ret_where->vf, ret_where->pf, why);
    if (rc == 1)
        return plugin_say(err, errlen, -EOPNOTSUPP, "VF %u of %s: the PF's eswitch is in switchdev "
                          "mode, where VF settings are devlink port functions' and rates are "
                          "refused; sriov-vfcfg restores a PF in legacy mode", ret_where->vf,
                          ret_where->pf);
    return 0;
}

static int
sv_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
         uint32_t version, char *err, size_t errlen)
{
    struct vf_cfg want, now;
    struct sv_vf where;
    struct vk_pf pf;

    return sv_checks(ctx, dev, blob, len, version, &want, &where, &pf, &now, err, errlen);
}

static struct sv_record *
sv_record_find(struct sriov_vfcfg *s, const char *job, const struct sv_vf *where)
{
    for (struct sv_record *r = s->records; r; r = r->next) {
        if (strcmp(r->job, job ? job : "") == 0 && strcmp(r->where.pf, where->pf) == 0 &&
            r->where.vf == where->vf)
            return r;
    }
    return NULL;
}

static void
sv_record_drop(struct sriov_vfcfg *s, struct sv_record *gone)
{
    for (struct sv_record **r = &s->records; *r; r = &(*r)->next) {
        if (*r == gone) {
            *r = gone->next;
            free(gone->job);
            free(gone);
            return;
        }
    }
}

/* Puts back @undo[0..n) last first; the first failure's sentence goes to
 * @err. */
static int
sv_undo(int ifindex, const struct sv_vf *where, const struct sv_undo *undo, int n, char *err,
        size_t errlen)
{
    char why[SV_WHYLEN], words[SV_WHYLEN + 2], value[64];
    int first = 0;

    for (int i = n - 1; i >= 0; i--) {
        int rc = vk_set(ifindex, where->vf, &undo[i].before, undo[i].setting, why, sizeof(why));

        if (rc < 0 && first == 0) {
            vf_setting_format(&undo[i].before, undo[i].setting, value, sizeof(value));
            first = plugin_say(err, errlen, rc, "VF %u of %s: putting %s back to %s failed: %s%s",
                               where->vf, where->pf, vf_setting_name(undo[i].setting), value,
                               strerror(-rc), plugin_words(why, words, sizeof(words)));
        }
    }
    return first;
}

/* Sets @s to @want's and reads it back: 0, or a sentence naming it. */
static int
sv_apply(const struct sv_vf *where, const struct vk_pf *pf, const struct vf_cfg *want,
         enum vf_setting s, char *err, size_t errlen)
{
    char why[SV_WHYLEN], words[SV_WHYLEN + 2], value[64], got[64];
    struct vf_cfg after;
    struct vk_pf again;
    int rc;

    vf_setting_format(want, s, value, sizeof(value));
    rc = vk_set(pf->ifindex, where->vf, want, s, why, sizeof(why));
    if (rc < 0)
        /* migd adds the errno's words: only the kernel's own come here. */
        return plugin_say(err, errlen, rc, "VF %u of %s: the kernel refused %s %s%s", where->vf,
                          where->pf, vf_setting_name(s), value,
                          plugin_words(why, words, sizeof(words)));
    rc = vk_read(where->pf, where->vf, &again, &after, why, sizeof(why));
    if (rc < 0)
        return plugin_say(err, errlen, rc, "VF %u of %s: reading %s back failed: %s%s", where->vf,
                          where->pf, vf_setting_name(s), strerror(-rc),
                          plugin_words(why, words, sizeof(words)));
    if (!(after.have & (1u << s)) || !vf_setting_equal(want, &after, s)) {
        if (after.have & (1u << s))
            vf_setting_format(&after, s, got, sizeof(got));
        else
            snprintf(got, sizeof(got), "nothing (the driver does not report it)");
        return plugin_say(err, errlen, -EIO, "VF %u of %s: %s did not stick: set %s, read back %s",
                          where->vf, where->pf, vf_setting_name(s), value, got);
    }
    return 0;
}

static int
sv_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
           uint32_t version, char *err, size_t errlen)
{
    struct sriov_vfcfg *s = ctx;
    struct sv_undo undo[VF_LAST];
    struct vf_cfg want, now;
    struct sv_record *r;
    struct sv_vf where;
    struct vk_pf pf;
    int n = 0, rc;

    rc = sv_checks(s, dev, blob, len, version, &want, &where, &pf, &now, err, errlen);
    if (rc < 0)
        return rc;
    for (int i = 0; i < VF_LAST; i++) {
        unsigned int bit = 1u << i;

        if (!(want.have & bit) || ((now.have & bit) && vf_setting_equal(&want, &now, i)))
            continue;
        if ((rc = sv_apply(&where, &pf, &want, i, err, errlen)) < 0) {
            char ignored[MIGD_PLUGIN_ERRLEN];

            /* This call's own sentence says what failed; a failure to put
             * back comes second, for abort to try again. */
            (void)sv_undo(pf.ifindex, &where, undo, n, ignored, sizeof(ignored));
            return rc;
        }
        undo[n++] = (struct sv_undo){ .setting = i, .before = now };
    }
    if (n == 0)
        return 0;
    if (!(r = sv_record_find(s, dev->job, &where))) {
        if (!(r = calloc(1, sizeof(*r))) || !(r->job = strdup(dev->job ? dev->job : ""))) {
            free(r);
            (void)sv_undo(pf.ifindex, &where, undo, n, err, errlen);
            return plugin_say(err, errlen, -ENOMEM, "VF %u of %s: out of memory", where.vf,
                              where.pf);
        }
        r->where = where;
        r->next = s->records;
        s->records = r;
    }
    /* A second restore in the job: abort goes back to before the first. */
    for (int i = 0; i < n; i++) {
        int seen = 0;

        for (int j = 0; j < r->nundo; j++)
            seen |= r->undo[j].setting == undo[i].setting;
        if (!seen)
            r->undo[r->nundo++] = undo[i];
    }
    return 0;
}

static int
sv_abort(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    struct sriov_vfcfg *s = ctx;
    struct sv_record *r;
    struct vf_cfg now;
    struct sv_vf where;
    struct vk_pf pf;
    int rc;

    if (vs_resolve(s->sysfs, dev, where.pf, &where.vf, err, errlen) < 0)
        return 0;       /* a device it cannot name is one it never changed */
    if (!(r = sv_record_find(s, dev->job, &where)))
        return 0;
    rc = vk_read(where.pf, where.vf, &pf, &now, err, errlen);
    if (rc < 0)
        return plugin_say(err, errlen, rc, "VF %u of %s: putting its settings back failed: there "
                          "is no PF netdev %s on this host any more", where.vf, where.pf, where.pf);
    rc = sv_undo(pf.ifindex, &where, r->undo, r->nundo, err, errlen);
    sv_record_drop(s, r);
    return rc;
}

static const struct migd_plugin table = {
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
    .size = sizeof(struct migd_plugin),
    .name = "sriov-vfcfg",
    .version = SRIOV_VFCFG_VERSION,
    .init = sv_init,
    .fini = sv_fini,
    .probe = sv_probe,
    .save_state = sv_save,
    .check_state = sv_check,
    .restore_state = sv_restore,
    .abort = sv_abort,
};

MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &table;
}
