/* vdpa: migd's plugin for a vDPA device (a virtio-net datapath a NIC offers
 * through /dev/vhost-vdpa-N): whether it can stay attached while QEMU
 * migrates the guest, and whether the destination's device is one the
 * guest can continue on.
 *
 * probe vouches native only when the device's backend features (from
 * /dev/vhost-vdpa-N) have SUSPEND, which QEMU's vhost-vdpa migration needs
 * to stop the device; its detail names the backend features there (RESUME
 * and IOTLB_PERSIST change the downtime), for the job record. save_state
 * reads the source device's MAC, MTU, queue pairs, negotiated and offered
 * features (vdpa generic netlink, DEV_CONFIG_GET), its management device's
 * supported features (MGMTDEV_GET) and the backend features. check_state
 * refuses, naming every difference, a destination device whose management
 * device or own features lack a feature the guest negotiated on the source
 * (a guest cannot lose a feature it negotiated: migrations across kernels
 * failed this way in KubeVirt), or whose MAC, MTU or queue pairs differ.
 * With [plugin.vdpa] provision = true a destination device that does not
 * exist yet is made by restore_state (DEV_NEW with the source's MAC and MTU)
 * on the management device that [plugin.vdpa] mgmtdev names (default: the
 * source's), and abort removes it again.
 *
 * Virtqueue indices: while a guest runs, QEMU owns the device's vrings (it
 * is vhost_vdpa's owner, and only the owner may read or set them), suspends
 * the device and carries the bases in its own migration stream, so the
 * plugin never touches a guest's vrings. For a device migd itself owns (no
 * domain, its /dev/vhost-vdpa-N open in migd's own process) pre_switchover
 * suspends it, save_state then carries each vring's base, and restore_state
 * sets them on the destination's device, which its owner has set up but not
 * yet started (DRIVER_OK), so it continues from there; abort resumes a
 * device pre_switchover suspended.
 *
 * migd names a vDPA device by its vdpa name (`vdpa dev show`) in the
 * device's netdev. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migd/plugin.h>

#include "say.h"
#include "vdpa-genl.h"
#include "vdpa-state.h"
#include "vdpa-uapi.h"
#include "vdpa-vhost.h"

#define VP_WHYLEN 256

/* What this plugin did to one device in one job, for abort. */
struct vp_record {
    struct vp_record *next;
    char *job;                  /* "" outside a job */
    char name[VDPA_NAMELEN];
    int provisioned;            /* restore_state made the device */
    int suspended;              /* pre_switchover suspended it */
};

struct vdpa_plugin {
    char sysfs[PATH_MAX];
    int provision;
    char mgmtdev[VDPA_NAMELEN]; /* where to provision; "" is the source's */
    struct vp_record *records;
};

static int
vp_setting(struct vdpa_plugin *p, const struct migd_setting *s)
{
    if (strcmp(s->key, "sysfs") == 0 && s->value[0] == '/')
        snprintf(p->sysfs, sizeof(p->sysfs), "%s", s->value);
    else if (strcmp(s->key, "provision") == 0 && strcmp(s->value, "true") == 0)
        p->provision = 1;
    else if (strcmp(s->key, "provision") == 0 && strcmp(s->value, "false") == 0)
        p->provision = 0;
    else if (strcmp(s->key, "mgmtdev") == 0 && s->value[0] && strlen(s->value) < VDPA_NAMELEN)
        snprintf(p->mgmtdev, sizeof(p->mgmtdev), "%s", s->value);
    else
        return -EINVAL;
    return 0;
}

static int
vp_init(const struct migd_setting *settings, size_t count, void **ret_ctx, char *err,
        size_t errlen)
{
    struct vdpa_plugin *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    snprintf(p->sysfs, sizeof(p->sysfs), "/sys");
    for (size_t i = 0; i < count; i++) {
        if (vp_setting(p, &settings[i]) < 0) {
            free(p);
            return plugin_say(err, errlen, -EINVAL, "[plugin.vdpa] %s = %s is not a setting it "
                              "knows (provision = true or false; mgmtdev = a management device's "
                              "name, as vdpa mgmtdev show prints it; sysfs = an absolute path)",
                              settings[i].key, settings[i].value);
        }
    }
    *ret_ctx = p;
    return 0;
}

static void
vp_fini(void *ctx)
{
    struct vdpa_plugin *p = ctx;

    while (p->records) {
        struct vp_record *r = p->records;

        p->records = r->next;
        free(r->job);
        free(r);
    }
    free(p);
}

static struct vp_record *
vp_record(struct vdpa_plugin *p, const struct migd_device *dev, int create)
{
    const char *job = dev->job ? dev->job : "";
    struct vp_record *r;

    for (r = p->records; r; r = r->next) {
        if (strcmp(r->job, job) == 0 && strcmp(r->name, dev->netdev) == 0)
            return r;
    }
    if (!create || !(r = calloc(1, sizeof(*r))))
        return NULL;
    if (!(r->job = strdup(job))) {
        free(r);
        return NULL;
    }
    snprintf(r->name, sizeof(r->name), "%s", dev->netdev);
    r->next = p->records;
    p->records = r;
    return r;
}

static void
vp_record_drop(struct vdpa_plugin *p, struct vp_record *gone)
{
    for (struct vp_record **r = &p->records; *r; r = &(*r)->next) {
        if (*r == gone) {
            *r = gone->next;
            free(gone->job);
            free(gone);
            return;
        }
    }
}

/* The device must have a vdpa name. */
static int
vp_named(const struct migd_device *dev, char *err, size_t errlen)
{
    if (dev->netdev && dev->netdev[0] && strlen(dev->netdev) < VDPA_NAMELEN)
        return 0;
    return plugin_say(err, errlen, -EINVAL, "%s names no vDPA device: migd gives a vDPA device's "
                      "vdpa name (as vdpa dev show prints it) as its netdev",
                      dev->alias ? dev->alias : "the device");
}

/* @dev's vhost char device, got at as vdpa-vhost.h says. */
static int
vp_vhost(struct vdpa_plugin *p, const struct migd_device *dev, struct vv_handle *ret,
         char *path, size_t pathlen, char *err, size_t errlen)
{
    int rc = vv_find(p->sysfs, dev->netdev, path, pathlen);

    if (rc == -ENOENT)
        return plugin_say(err, errlen, rc, "vDPA device %s is not bound to vhost_vdpa (it has no "
                          "/dev/vhost-vdpa-N)", dev->netdev);
    if (rc == -ENODEV)
        return plugin_say(err, errlen, rc, "there is no vDPA device %s on this host (no "
                          "%s/bus/vdpa/devices/%s)", dev->netdev, p->sysfs, dev->netdev);
    if (rc < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: %s/bus/vdpa/devices/%s: %s",
                          dev->netdev, p->sysfs, dev->netdev, strerror(-rc));
    if ((rc = vv_open(path, ret)) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: cannot get at %s: %s%s", dev->netdev,
                          path, strerror(-rc), rc == -EBUSY ? " (another process has it open, and "
                          "its file could not be borrowed with pidfd_getfd)" : "");
    return 0;
}

static int
vp_backend(struct vdpa_plugin *p, const struct migd_device *dev, uint64_t *ret, char *err,
           size_t errlen)
{
    char path[64];
    struct vv_handle h;
    int rc = vp_vhost(p, dev, &h, path, sizeof(path), err, errlen);

    if (rc < 0)
        return rc;
    rc = vv_backend_features(h.fd, ret);
    vv_close(&h);
    if (rc < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: VHOST_GET_BACKEND_FEATURES on %s "
                          "failed: %s", dev->netdev, path, strerror(-rc));
    return 0;
}

static int
vp_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
         size_t errlen)
{
    char why[MIGD_PLUGIN_ERRLEN];
    uint64_t backend;

    if (dev->kind != MIGD_DEVICE_VDPA)
        return 0;
    if (vp_named(dev, err, errlen) < 0)
        return -EINVAL;
    ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE;
    ret->state_version = VDPA_STATE_VERSION;
    if (vp_backend(ctx, dev, &backend, why, sizeof(why)) < 0) {
        snprintf(ret->detail, sizeof(ret->detail), "not native: %.240s", why);
        return 0;
    }
    if (vdpa_vouch_native(backend, ret->detail, sizeof(ret->detail)))
        ret->flags |= MIGD_PROBE_NATIVE;
    return 0;
}

/* What the kernel says of device @name and its management device, into
 * @ret: 0, or a sentence (-ENODEV: there is no such device; -ENOENT: no
 * vdpa family at all). */
static int
vp_read(const char *name, struct vdpa_cfg *ret, char *err, size_t errlen)
{
    char why[VP_WHYLEN], words[VP_WHYLEN + 2];
    struct vdpa_cfg c = { 0 };
    struct vg_dev d;
    int rc = vg_dev_get(name, &d, why, sizeof(why));

    if (rc == -ENOENT)
        return plugin_say(err, errlen, rc, "vDPA device %s: the kernel has no vdpa netlink "
                          "family (the vdpa module is not loaded)", name);
    if (rc == -ENODEV)
        return plugin_say(err, errlen, rc, "there is no vDPA device %s on this host", name);
    if (rc < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: the kernel does not tell what it is: "
                          "%s%s", name, strerror(-rc), plugin_words(why, words, sizeof(words)));
    snprintf(c.mgmtdev, sizeof(c.mgmtdev), "%s", d.mgmtdev);
    c.have |= 1u << VDPA_MGMTDEV;
    if ((rc = vg_config_get(name, &c, why, sizeof(why))) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: the kernel does not tell its config: "
                          "%s%s", name, strerror(-rc), plugin_words(why, words, sizeof(words)));
    if ((rc = vg_mgmtdev_features(c.mgmtdev, &c.supported, why, sizeof(why))) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: its management device %s does not tell "
                          "its supported features: %s%s", name, c.mgmtdev, strerror(-rc),
                          plugin_words(why, words, sizeof(words)));
    c.have |= 1u << VDPA_SUPPORTED;
    *ret = c;
    return 0;
}

/* A migd-owned device's vring bases, when pre_switchover suspended it. */
static int
vp_save_vrings(struct vdpa_plugin *p, const struct migd_device *dev, struct vdpa_cfg *c,
               char *err, size_t errlen)
{
    struct vp_record *r = vp_record(p, dev, 0);
    char path[64];
    struct vv_handle h;
    uint32_t n = 0;
    int rc;

    if (dev->domain || !r || !r->suspended)
        return 0;
    if ((rc = vp_vhost(p, dev, &h, path, sizeof(path), err, errlen)) < 0)
        return rc;
    if (h.how == VV_OURS && (rc = vv_vqs_count(h.fd, &n)) == 0 && n <= VDPA_MAX_VQS) {
        for (c->nvrings = 0; c->nvrings < n && rc == 0; c->nvrings++)
            rc = vv_vring_base(h.fd, c->nvrings, &c->vring[c->nvrings]);
    }
    vv_close(&h);
    if (rc < 0 || n > VDPA_MAX_VQS)
        return plugin_say(err, errlen, rc < 0 ? rc : -E2BIG, "vDPA device %s: reading its vring "
                          "bases on %s failed: %s", dev->netdev, path,
                          rc < 0 ? strerror(-rc) : "more virtqueues than the plugin carries");
    if (h.how == VV_OURS)
        c->have |= 1u << VDPA_VRINGS;
    return 0;
}

static int
vp_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap, size_t *ret_len,
        uint32_t *ret_version, char *err, size_t errlen)
{
    char ignored[MIGD_PLUGIN_ERRLEN];
    struct vdpa_cfg c;
    int rc;

    if ((rc = vp_named(dev, err, errlen)) < 0 || (rc = vp_read(dev->netdev, &c, err, errlen)) < 0)
        return rc;
    /* Without its vhost char device the rest still says what the guest needs. */
    if (vp_backend(ctx, dev, &c.backend, ignored, sizeof(ignored)) == 0)
        c.have |= 1u << VDPA_BACKEND;
    if ((rc = vp_save_vrings(ctx, dev, &c, err, errlen)) < 0)
        return rc;
    if (vdpa_state_write(&c, (char *)buf, cap, ret_len) < 0)
        return plugin_say(err, errlen, -ENOSPC, "vDPA device %s: its state does not fit in %zu "
                          "bytes ([plugins] max_state_bytes)", dev->netdev, cap);
    *ret_version = VDPA_STATE_VERSION;
    return 0;
}

/* The management device a new device would be made on. */
static const char *
vp_mgmtdev(const struct vdpa_plugin *p, const struct vdpa_cfg *src)
{
    return p->mgmtdev[0] ? p->mgmtdev : VDPA_HAS(src, VDPA_MGMTDEV) ? src->mgmtdev : NULL;
}

/* check_state for a device that is not there: 1 when restore_state will
 * make it, or a sentence. */
static int
vp_check_provision(struct vdpa_plugin *p, const struct migd_device *dev,
                   const struct vdpa_cfg *src, char *err, size_t errlen)
{
    char why[VP_WHYLEN], words[VP_WHYLEN + 2], fit[MIGD_PLUGIN_ERRLEN - 128];
    struct vdpa_cfg mgmt = { .have = 1u << VDPA_SUPPORTED };
    const char *on = vp_mgmtdev(p, src);
    int rc;

    if (!p->provision)
        return plugin_say(err, errlen, -ENODEV, "there is no vDPA device %s on this host, and "
                          "[plugin.vdpa] provision is not true", dev->netdev);
    if (!on)
        return plugin_say(err, errlen, -EINVAL, "vDPA device %s: the state names no management "
                          "device to make it on, and [plugin.vdpa] mgmtdev is not set",
                          dev->netdev);
    if (VDPA_HAS(src, VDPA_VRINGS) && !dev->domain)
        return plugin_say(err, errlen, -EINVAL, "vDPA device %s: the state carries vring bases, "
                          "which only a device migd owns and has set up takes, not one the plugin "
                          "makes", dev->netdev);
    rc = vg_mgmtdev_features(on, &mgmt.supported, why, sizeof(why));
    if (rc == -ENODEV)
        return plugin_say(err, errlen, rc, "vDPA device %s would be made on management device "
                          "%s, which this host does not have (%s)", dev->netdev, on,
                          p->mgmtdev[0] ? "[plugin.vdpa] mgmtdev" : "the source's");
    if (rc < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s would be made on management device %s, "
                          "which does not tell its features: %s%s", dev->netdev, on, strerror(-rc),
                          plugin_words(why, words, sizeof(words)));
    if ((rc = vdpa_state_fit(src, &mgmt, 1, fit, sizeof(fit))) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s cannot be made on %s: %s", dev->netdev,
                          on, fit);
    return 1;
}

/* The destination device's vhost char device, for the state's vrings: it
 * must be migd's own and not yet started. */
static int
vp_check_vrings(struct vdpa_plugin *p, const struct migd_device *dev, const struct vdpa_cfg *src,
                struct vv_handle *ret, char *err, size_t errlen)
{
    char path[64];
    uint8_t status = 0;
    uint32_t n = 0;
    int rc;

    if ((rc = vp_vhost(p, dev, ret, path, sizeof(path), err, errlen)) < 0)
        return rc;
    if (ret->how != VV_OURS)
        rc = plugin_say(err, errlen, -EBUSY, "vDPA device %s: the state carries vring bases, "
                        "and %s is not open in migd (%s): only its owner can set them",
                        dev->netdev, path,
                        ret->how == VV_OPENED ? "nobody has it" : "another process has it");
    else if ((rc = vv_vqs_count(ret->fd, &n)) < 0 || (rc = vv_status(ret->fd, &status)) < 0)
        rc = plugin_say(err, errlen, rc, "vDPA device %s: %s does not tell its virtqueues: %s",
                        dev->netdev, path, strerror(-rc));
    else if (n < src->nvrings)
        rc = plugin_say(err, errlen, -EINVAL, "vDPA device %s has %u virtqueues, and the state "
                        "carries %u vring bases", dev->netdev, n, src->nvrings);
    else if (status & VIRTIO_CONFIG_S_DRIVER_OK)
        rc = plugin_say(err, errlen, -EBUSY, "vDPA device %s is already started (DRIVER_OK): its "
                        "vring bases can only be set before that", dev->netdev);
    if (rc < 0)
        vv_close(ret);
    return rc;
}

/* What check_state and restore_state both check: 0 when the device is
 * there and fits, 1 when restore_state will make it, or a sentence. */
static int
vp_checks(struct vdpa_plugin *p, const struct migd_device *dev, const uint8_t *blob, size_t len,
          uint32_t version, struct vdpa_cfg *ret_src, char *err, size_t errlen)
{
    char why[MIGD_PLUGIN_ERRLEN - 96];
    struct vdpa_cfg dst;
    struct vv_handle h;
    int rc;

    if ((rc = vp_named(dev, err, errlen)) < 0)
        return rc;
    if ((rc = vdpa_state_read(blob, len, version, ret_src, why, sizeof(why))) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: %s", dev->netdev, why);
    rc = vp_read(dev->netdev, &dst, err, errlen);
    if (rc == -ENODEV)
        return vp_check_provision(p, dev, ret_src, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = vdpa_state_fit(ret_src, &dst, 0, why, sizeof(why))) < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s cannot take the source's state: %s",
                          dev->netdev, why);
    if (VDPA_HAS(ret_src, VDPA_VRINGS) && !dev->domain) {
        if ((rc = vp_check_vrings(p, dev, ret_src, &h, err, errlen)) < 0)
            return rc;
        vv_close(&h);
    }
    return 0;
}

static int
vp_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
         uint32_t version, char *err, size_t errlen)
{
    struct vdpa_cfg src;
    int rc = vp_checks(ctx, dev, blob, len, version, &src, err, errlen);

    return rc < 0 ? rc : 0;
}

/* Makes the device restore_state found missing, and reads it back. */
static int
vp_provision(struct vdpa_plugin *p, const struct migd_device *dev, const struct vdpa_cfg *src,
             char *err, size_t errlen)
{
    char why[VP_WHYLEN], words[VP_WHYLEN + 2], fit[MIGD_PLUGIN_ERRLEN - 128];
    const char *on = vp_mgmtdev(p, src);
    struct vp_record *r;
    struct vdpa_cfg got;
    int rc = vg_dev_new(dev->netdev, on, src, why, sizeof(why));

    if (rc < 0)
        return plugin_say(err, errlen, rc, "vDPA device %s: the kernel refused to make it on %s: "
                          "%s%s", dev->netdev, on, strerror(-rc),
                          plugin_words(why, words, sizeof(words)));
    if ((r = vp_record(p, dev, 1)))
        r->provisioned = 1;
    rc = vp_read(dev->netdev, &got, err, errlen);
    if (rc == 0 && (rc = vdpa_state_fit(src, &got, 0, fit, sizeof(fit))) < 0)
        plugin_say(err, errlen, rc, "vDPA device %s, made on %s, is not what the source had: %s",
                   dev->netdev, on, fit);
    if (rc < 0 || !r) {
        (void)vg_dev_del(dev->netdev, why, sizeof(why));
        if (r)
            vp_record_drop(p, r);
        return rc < 0 ? rc : plugin_say(err, errlen, -ENOMEM, "vDPA device %s: out of memory",
                                        dev->netdev);
    }
    return 0;
}

/* Sets the state's vring bases on the destination's device and reads them
 * back. */
static int
vp_restore_vrings(struct vdpa_plugin *p, const struct migd_device *dev,
                  const struct vdpa_cfg *src, char *err, size_t errlen)
{
    struct vv_handle h;
    int rc = vp_check_vrings(p, dev, src, &h, err, errlen);

    if (rc < 0)
        return rc;
    for (uint32_t i = 0; rc == 0 && i < src->nvrings; i++) {
        uint16_t got = 0;

        if ((rc = vv_set_vring_base(h.fd, i, src->vring[i])) < 0)
            plugin_say(err, errlen, rc, "vDPA device %s: the kernel refused vring %u's base %u: %s",
                       dev->netdev, i, src->vring[i], strerror(-rc));
        else if ((rc = vv_vring_base(h.fd, i, &got)) < 0)
            plugin_say(err, errlen, rc, "vDPA device %s: reading vring %u's base back failed: %s",
                       dev->netdev, i, strerror(-rc));
        else if (got != src->vring[i])
            rc = plugin_say(err, errlen, -EIO, "vDPA device %s: vring %u's base did not stick: set "
                            "%u, read back %u", dev->netdev, i, src->vring[i], got);
    }
    vv_close(&h);
    return rc;
}

static int
vp_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
           uint32_t version, char *err, size_t errlen)
{
    struct vdpa_cfg src;
    int rc = vp_checks(ctx, dev, blob, len, version, &src, err, errlen);

    if (rc < 0)
        return rc;
    if (rc == 1)
        return vp_provision(ctx, dev, &src, err, errlen);
    if (VDPA_HAS(&src, VDPA_VRINGS) && !dev->domain)
        return vp_restore_vrings(ctx, dev, &src, err, errlen);
    return 0;
}

/* Source: a device migd owns is suspended for its vring bases to hold
 * still; a guest's is QEMU's to suspend. */
static int
vp_pre(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    struct vdpa_plugin *p = ctx;
    struct vp_record *r;
    struct vv_handle h;
    uint64_t backend = 0;
    char path[64];
    int rc;

    if (dev->domain)
        return 0;
    if ((rc = vp_named(dev, err, errlen)) < 0 ||
        (rc = vp_vhost(p, dev, &h, path, sizeof(path), err, errlen)) < 0)
        return rc;
    if (h.how != VV_OURS) {
        vv_close(&h);
        return 0;       /* nothing of migd's runs on it */
    }
    if ((rc = vv_backend_features(h.fd, &backend)) == 0 &&
        !(backend & (UINT64_C(1) << VHOST_BACKEND_F_SUSPEND)))
        rc = plugin_say(err, errlen, -EOPNOTSUPP, "vDPA device %s cannot be suspended: %s has no "
                        "SUSPEND backend feature", dev->netdev, path);
    else if (rc < 0 || (rc = vv_suspend(h.fd)) < 0)
        plugin_say(err, errlen, rc, "vDPA device %s: suspending it on %s failed: %s", dev->netdev,
                   path, strerror(-rc));
    vv_close(&h);
    if (rc < 0)
        return rc;
    if (!(r = vp_record(p, dev, 1)))
        return plugin_say(err, errlen, -ENOMEM, "vDPA device %s: out of memory", dev->netdev);
    r->suspended = 1;
    return 0;
}

/* Resumes what pre_switchover suspended. */
static int
vp_resume(struct vdpa_plugin *p, const struct migd_device *dev, char *err, size_t errlen)
{
    struct vv_handle h;
    uint64_t backend = 0;
    char path[64];
    int rc = vp_vhost(p, dev, &h, path, sizeof(path), err, errlen);

    if (rc < 0)
        return rc;
    if ((rc = vv_backend_features(h.fd, &backend)) == 0 &&
        !(backend & (UINT64_C(1) << VHOST_BACKEND_F_RESUME)))
        rc = plugin_say(err, errlen, -EOPNOTSUPP, "vDPA device %s stays suspended: this kernel's "
                        "vhost_vdpa has no RESUME (%s); its owner must reset and set it up again",
                        dev->netdev, path);
    else if (rc < 0 || (rc = vv_resume(h.fd)) < 0)
        plugin_say(err, errlen, rc, "vDPA device %s: resuming it on %s failed: %s", dev->netdev,
                   path, strerror(-rc));
    vv_close(&h);
    return rc;
}

static int
vp_abort(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    char why[VP_WHYLEN], words[VP_WHYLEN + 2];
    struct vdpa_plugin *p = ctx;
    struct vp_record *r;
    int rc = 0;

    if (!dev->netdev || !(r = vp_record(p, dev, 0)))
        return 0;       /* nothing done to it */
    if (r->provisioned && (rc = vg_dev_del(dev->netdev, why, sizeof(why))) < 0 && rc != -ENODEV)
        plugin_say(err, errlen, rc, "vDPA device %s: removing the device restore_state made "
                   "failed: %s%s", dev->netdev, strerror(-rc),
                   plugin_words(why, words, sizeof(words)));
    else
        rc = 0;
    if (r->suspended && rc == 0)
        rc = vp_resume(p, dev, err, errlen);
    vp_record_drop(p, r);
    return rc;
}

static const struct migd_plugin table = {
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
    .size = sizeof(struct migd_plugin),
    .name = "vdpa",
    .version = VDPA_PLUGIN_VERSION,
    .init = vp_init,
    .fini = vp_fini,
    .probe = vp_probe,
    .save_state = vp_save,
    .check_state = vp_check,
    .restore_state = vp_restore,
    .pre_switchover = vp_pre,
    .abort = vp_abort,
};

MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &table;
}
