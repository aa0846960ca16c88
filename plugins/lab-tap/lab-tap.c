/* lab-tap: migd's plugin for the lab's emulated pool. A stand-in VF's
 * state that QEMU does not carry is what lives on the host's side of it, as
 * a real VF's admin settings live on its PF: its tap's MTU, txqueuelen,
 * root tbf rate limit and PVID on its bridge. save_state reads them on the
 * source, check_state checks the destination's tap can take them,
 * restore_state applies and reads them back, abort puts back what
 * restore_state changed. docs/plugins.md describes it as the worked example
 * of a real plugin; tap-state.h is the format it carries. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_bridge.h>

#include <migd/plugin.h>

#include "tap-kernel.h"
#include "tap-state.h"

#define LT_WHYLEN 256

enum lt_setting { LT_MTU, LT_TXQLEN, LT_RATE, LT_VLAN, LT_LAST };

static const char *const lt_setting_names[LT_LAST] = { "mtu", "txqueuelen", "rate", "vlan" };

/* The calls a [plugin.lab-tap] fail_at can make fail (a test setting). */
enum lt_call { LT_CALL_NONE, LT_CALL_SAVE, LT_CALL_CHECK, LT_CALL_RESTORE, LT_CALL_PRE,
               LT_CALL_POST, LT_CALL_LAST };

static const char *const lt_call_names[LT_CALL_LAST] = {
    "none", "save_state", "check_state", "restore_state", "pre_switchover", "post_switchover",
};

/* A tap as the kernel has it now. */
struct lt_now {
    struct tk_link link;
    struct tk_qdisc qdisc;
    struct tk_vlan pvid;        /* vid 0: none, or a bridge that does not filter */
    int on_bridge, vlan_filtering;
};

/* What restore_state changed on one device in one job, and what each
 * changed setting was before, for abort. */
struct lt_record {
    struct lt_record *next;
    char *job;                  /* "" outside a job */
    char *netdev;
    int ifindex;
    unsigned int changed;       /* 1 << enum lt_setting */
    struct tap_state state;     /* what restore_state applied */
    uint32_t mtu, txqlen;
    struct tk_qdisc qdisc;
    struct tk_vlan pvid;        /* the port's PVID before */
    struct tk_vlan carried;     /* the carried VLAN's entry before; vid 0: not a member */
};

struct lab_tap {
    uint32_t vouch;             /* MIGD_PROBE_NATIVE, MIGD_PROBE_PAUSE */
    enum lt_call fail_at;
    struct lt_record *records;
};

static int lt_say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes a sentence into @err and returns @rc, for one-line failures. */
static int
lt_say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* ": the kernel's words" when it gave some, else "". */
static const char *
lt_colon(const char *why)
{
    return *why ? ": " : "";
}

/* Settings */

static int
lt_parse_vouch(struct lab_tap *lt, const char *value, char *err, size_t errlen)
{
    char copy[64], *word, *save = NULL;

    snprintf(copy, sizeof(copy), "%s", value);
    lt->vouch = 0;
    for (word = strtok_r(copy, ", ", &save); word; word = strtok_r(NULL, ", ", &save)) {
        if (strcmp(word, "pause") == 0)
            lt->vouch |= MIGD_PROBE_PAUSE;
        else if (strcmp(word, "native") == 0)
            lt->vouch |= MIGD_PROBE_NATIVE;
        else if (strcmp(word, "none") != 0)
            return lt_say(err, errlen, -EINVAL, "[plugin.lab-tap] vouch = %s: '%s' is not "
                          "one of none, pause, native", value, word);
    }
    return 0;
}

static int
lt_parse_fail_at(struct lab_tap *lt, const char *value, char *err, size_t errlen)
{
    for (int i = 0; i < LT_CALL_LAST; i++) {
        if (strcmp(value, lt_call_names[i]) == 0) {
            lt->fail_at = i;
            return 0;
        }
    }
    return lt_say(err, errlen, -EINVAL, "[plugin.lab-tap] fail_at = %s is not one of none, "
                  "save_state, check_state, restore_state, pre_switchover, post_switchover",
                  value);
}

static int
lt_init(const struct migd_setting *settings, size_t count, void **ret_ctx, char *err,
        size_t errlen)
{
    struct lab_tap *lt = calloc(1, sizeof(*lt));
    int rc = 0;

    if (!lt)
        return -ENOMEM;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (strcmp(settings[i].key, "vouch") == 0)
            rc = lt_parse_vouch(lt, settings[i].value, err, errlen);
        else if (strcmp(settings[i].key, "fail_at") == 0)
            rc = lt_parse_fail_at(lt, settings[i].value, err, errlen);
        else
            rc = lt_say(err, errlen, -EINVAL, "[plugin.lab-tap] has no setting '%s' (it "
                        "takes vouch and fail_at)", settings[i].key);
    }
    if (rc != 0) {
        free(lt);
        return rc;
    }
    *ret_ctx = lt;
    return 0;
}

static void
lt_record_free(struct lt_record *r)
{
    free(r->job);
    free(r->netdev);
    free(r);
}

static void
lt_fini(void *ctx)
{
    struct lab_tap *lt = ctx;

    while (lt->records) {
        struct lt_record *r = lt->records;

        lt->records = r->next;
        lt_record_free(r);
    }
    free(lt);
}

/* A test's failure at @call, when fail_at names it. */
static int
lt_failpoint(const struct lab_tap *lt, enum lt_call call, const struct migd_device *dev,
             char *err, size_t errlen)
{
    if (lt->fail_at != call)
        return 0;
    return lt_say(err, errlen, -ECANCELED, "%s on tap %s fails because [plugin.lab-tap] "
                  "fail_at = %s (a test setting); nothing was changed", lt_call_names[call],
                  dev->netdev ? dev->netdev : "(none)", lt_call_names[call]);
}

/* Reading a tap */

static int
lt_need_netdev(const struct migd_device *dev, char *err, size_t errlen)
{
    if (dev->netdev && *dev->netdev)
        return 0;
    return lt_say(err, errlen, -EINVAL, "device %s has no netdev: lab-tap needs its tap's name "
                  "(the pool slot)", dev->alias ? dev->alias : "(no alias)");
}

static int
lt_now_bridge(struct lt_now *now, char *why, size_t whylen)
{
    int is_bridge = 0, filtering = 0;
    int rc;

    if (!now->link.master)
        return 0;
    if ((rc = tk_bridge_get(now->link.master, &is_bridge, &filtering, why, whylen)) != 0)
        return rc;
    now->on_bridge = is_bridge;
    now->vlan_filtering = is_bridge && filtering;
    if (now->vlan_filtering)
        return tk_port_vlan_get(now->link.ifindex, 0, &now->pvid, why, whylen);
    return 0;
}

/* The four settings of tap @name (or of @ifindex when @name is NULL). */
static int
lt_now_read(const char *name, int ifindex, struct lt_now *ret, char *err, size_t errlen)
{
    char why[LT_WHYLEN] = "";
    struct lt_now now = { 0 };
    const char *what = "its link";
    int rc;

    rc = name ? tk_link_get(name, &now.link, why, sizeof(why))
              : tk_link_get_index(ifindex, &now.link, why, sizeof(why));
    if (rc == -ENODEV)
        return name ? lt_say(err, errlen, rc, "tap %s does not exist on this host", name)
                    : lt_say(err, errlen, rc, "the tap (ifindex %d) is gone", ifindex);
    if (rc == 0) {
        what = "its root qdisc";
        rc = tk_root_qdisc_get(now.link.ifindex, &now.qdisc, why, sizeof(why));
    }
    if (rc == 0) {
        what = "its bridge's VLANs";
        rc = lt_now_bridge(&now, why, sizeof(why));
    }
    if (rc != 0)
        return lt_say(err, errlen, rc, "cannot read %s of tap %s from the kernel%s%s", what,
                      name ? name : now.link.name, lt_colon(why), why);
    *ret = now;
    return 0;
}

static int
lt_now_to_state(const struct lt_now *now, struct tap_state *ret, char *err, size_t errlen)
{
    struct tap_state s = { .mtu = now->link.mtu, .txqlen = now->link.txqlen };

    if (now->qdisc.kind == TK_QDISC_OTHER)
        return lt_say(err, errlen, -EOPNOTSUPP, "rate: tap %s's root qdisc is '%s'; lab-tap "
                      "carries only a tbf rate limit", now->link.name, now->qdisc.name);
    if (now->qdisc.kind == TK_QDISC_TBF) {
        s.has_rate = 1;
        s.rate = now->qdisc.tbf.rate;
        s.burst = now->qdisc.tbf.burst;
        s.limit = now->qdisc.tbf.limit;
    }
    if (now->pvid.vid) {
        s.has_vlan = 1;
        s.vid = now->pvid.vid;
        s.untagged = (now->pvid.flags & BRIDGE_VLAN_INFO_UNTAGGED) != 0;
    }
    *ret = s;
    return 0;
}

/* Whether @setting of @now is what @want says; if not, a sentence naming
 * both values. "vlan none" asks for nothing, so it always holds. */
static int
lt_holds(enum lt_setting setting, const struct lt_now *now, const struct tap_state *want,
         char *got, size_t gotlen)
{
    const struct tk_tbf *t = &now->qdisc.tbf;

    switch (setting) {
    case LT_MTU:
        snprintf(got, gotlen, "%u", now->link.mtu);
        return now->link.mtu == want->mtu;
    case LT_TXQLEN:
        snprintf(got, gotlen, "%u", now->link.txqlen);
        return now->link.txqlen == want->txqlen;
    case LT_RATE:
        if (now->qdisc.kind != TK_QDISC_TBF)
            snprintf(got, gotlen, "%s", now->qdisc.kind == TK_QDISC_DEFAULT ? "none"
                                                                            : now->qdisc.name);
        else
            snprintf(got, gotlen, "%llu %u %u", (unsigned long long)t->rate, t->burst, t->limit);
        if (!want->has_rate)
            return now->qdisc.kind == TK_QDISC_DEFAULT;
        return now->qdisc.kind == TK_QDISC_TBF && t->rate == want->rate &&
               t->limit == want->limit &&
               (t->burst > want->burst ? t->burst - want->burst : want->burst - t->burst) <=
                   tk_burst_slack(want->rate);
    default:
        snprintf(got, gotlen, "%u %s", now->pvid.vid,
                 (now->pvid.flags & BRIDGE_VLAN_INFO_UNTAGGED) ? "untagged" : "tagged");
        if (!want->has_vlan)
            return 1;
        return now->pvid.vid == want->vid &&
               !!(now->pvid.flags & BRIDGE_VLAN_INFO_UNTAGGED) == !!want->untagged;
    }
}

/* The value @setting of @s asks for, as the state writes it. */
static void
lt_wanted(enum lt_setting setting, const struct tap_state *s, char *buf, size_t len)
{
    char line[128], *value;

    (void)tap_state_format(s, line, sizeof(line));
    value = strstr(line, lt_setting_names[setting]);
    value = value ? value + strlen(lt_setting_names[setting]) + 1 : line;
    snprintf(buf, len, "%.*s", (int)strcspn(value, "\n"), value);
}

/* The destination's checks, shared by check_state and restore_state. */
static int
lt_check_state(const struct migd_device *dev, const struct tap_state *s, struct lt_now *ret_now,
               char *err, size_t errlen)
{
    struct lt_now now;
    char bridge[32];
    int rc;

    if ((rc = lt_need_netdev(dev, err, errlen)) != 0 ||
        (rc = lt_now_read(dev->netdev, 0, &now, err, errlen)) != 0)
        return rc;
    if (now.link.max_mtu && (s->mtu < now.link.min_mtu || s->mtu > now.link.max_mtu))
        return lt_say(err, errlen, -ERANGE, "mtu %u is outside what tap %s takes (%u to %u)",
                      s->mtu, dev->netdev, now.link.min_mtu, now.link.max_mtu);
    if (now.qdisc.kind == TK_QDISC_OTHER)
        return lt_say(err, errlen, -EBUSY, "rate: tap %s has a root qdisc '%s' of its own, "
                      "which lab-tap would replace; it replaces only the default or a tbf",
                      dev->netdev, now.qdisc.name);
    if (!s->has_vlan) {
        *ret_now = now;
        return 0;
    }
    if (!now.on_bridge)
        return lt_say(err, errlen, -EINVAL, "vlan %u: tap %s is not a port of a bridge",
                      s->vid, dev->netdev);
    if (!now.vlan_filtering) {
        struct tk_link br;
        char why[LT_WHYLEN];

        snprintf(bridge, sizeof(bridge), "#%d", now.link.master);
        if (tk_link_get_index(now.link.master, &br, why, sizeof(why)) == 0)
            snprintf(bridge, sizeof(bridge), "%s", br.name);
        return lt_say(err, errlen, -EOPNOTSUPP, "vlan %u: bridge %s of tap %s does not filter "
                      "VLANs (vlan_filtering 0), so it cannot give the port a PVID", s->vid,
                      bridge, dev->netdev);
    }
    *ret_now = now;
    return 0;
}

/* Applying one setting, and putting it back */

static int
lt_apply_vlan(struct lt_record *r, const struct tap_state *s, char *why, size_t whylen)
{
    struct tk_vlan v = { .vid = s->vid, .flags = BRIDGE_VLAN_INFO_PVID };
    int rc;

    if (s->untagged)
        v.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
    if ((rc = tk_port_vlan_get(r->ifindex, s->vid, &r->carried, why, whylen)) != 0)
        return rc;
    return tk_port_vlan_add(r->ifindex, &v, why, whylen);
}

static int
lt_apply(enum lt_setting setting, struct lt_record *r, const struct tap_state *s, char *why,
         size_t whylen)
{
    switch (setting) {
    case LT_MTU:
        return tk_link_set_mtu(r->ifindex, s->mtu, why, whylen);
    case LT_TXQLEN:
        return tk_link_set_txqlen(r->ifindex, s->txqlen, why, whylen);
    case LT_RATE:
        if (!s->has_rate)
            return tk_root_qdisc_del(r->ifindex, why, whylen);
        return tk_root_tbf_set(r->ifindex, &(struct tk_tbf){ s->rate, s->burst, s->limit },
                               why, whylen);
    default:
        return lt_apply_vlan(r, s, why, whylen);
    }
}

static int
lt_undo_vlan(const struct lt_record *r, char *why, size_t whylen)
{
    int rc;

    rc = r->carried.vid ? tk_port_vlan_add(r->ifindex, &r->carried, why, whylen)
                        : tk_port_vlan_del(r->ifindex, r->state.vid, why, whylen);
    if (rc == 0 && r->pvid.vid && r->pvid.vid != r->state.vid)
        rc = tk_port_vlan_add(r->ifindex, &r->pvid, why, whylen);
    return rc;
}

static int
lt_undo(enum lt_setting setting, const struct lt_record *r, char *why, size_t whylen)
{
    switch (setting) {
    case LT_MTU:
        return tk_link_set_mtu(r->ifindex, r->mtu, why, whylen);
    case LT_TXQLEN:
        return tk_link_set_txqlen(r->ifindex, r->txqlen, why, whylen);
    case LT_RATE:
        if (r->qdisc.kind == TK_QDISC_DEFAULT)
            return tk_root_qdisc_del(r->ifindex, why, whylen);
        return tk_root_tbf_set(r->ifindex, &r->qdisc.tbf, why, whylen);
    default:
        return lt_undo_vlan(r, why, whylen);
    }
}

/* Puts back every setting @r changed, the last first. Returns 0 or the
 * first failure's errno, with the settings not put back named in @err. */
static int
lt_undo_all(const struct lt_record *r, char *err, size_t errlen)
{
    char why[LT_WHYLEN];
    size_t used = 0;
    int first = 0;

    for (int i = LT_LAST - 1; i >= 0; i--) {
        int rc;

        if (!(r->changed & (1u << i)) || (rc = lt_undo(i, r, why, sizeof(why))) == 0)
            continue;
        if (!first)
            first = rc;
        if (used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%scannot put back %s on tap "
                                     "%s: %s%s%s", used ? "; " : "", lt_setting_names[i],
                                     r->netdev, strerror(-rc), lt_colon(why), why);
    }
    return first;
}

/* What @setting is before it is changed: abort puts that back. */
static void
lt_remember(enum lt_setting setting, struct lt_record *r, const struct lt_now *now)
{
    switch (setting) {
    case LT_MTU:
        r->mtu = now->link.mtu;
        break;
    case LT_TXQLEN:
        r->txqlen = now->link.txqlen;
        break;
    case LT_RATE:
        r->qdisc = now->qdisc;
        break;
    default:
        r->pvid = now->pvid;    /* r->carried: read by lt_apply_vlan */
        break;
    }
}

/* Applies @setting when the tap does not have it yet, remembering what it
 * was, then reads it back. */
static int
lt_restore_one(enum lt_setting setting, struct lt_record *r, const struct tap_state *s,
               char *err, size_t errlen)
{
    char why[LT_WHYLEN] = "", got[64], want[64];
    struct lt_now now;
    int rc;

    if ((rc = lt_now_read(NULL, r->ifindex, &now, err, errlen)) != 0)
        return rc;
    if (lt_holds(setting, &now, s, got, sizeof(got)))
        return 0;
    lt_remember(setting, r, &now);
    lt_wanted(setting, s, want, sizeof(want));
    rc = lt_apply(setting, r, s, why, sizeof(why));
    if (rc != 0)
        return lt_say(err, errlen, rc, "the kernel refused %s %s on tap %s%s%s",
                      lt_setting_names[setting], want, r->netdev, lt_colon(why), why);
    r->changed |= 1u << setting;
    if ((rc = lt_now_read(NULL, r->ifindex, &now, err, errlen)) != 0)
        return rc;
    if (!lt_holds(setting, &now, s, got, sizeof(got)))
        return lt_say(err, errlen, -EIO, "%s did not stick on tap %s: asked for %s, the "
                      "kernel has %s", lt_setting_names[setting], r->netdev, want, got);
    return 0;
}

/* Records */

static const char *
lt_job(const struct migd_device *dev)
{
    return dev->job ? dev->job : "";
}

static struct lt_record **
lt_record_find(struct lab_tap *lt, const struct migd_device *dev, int any_job)
{
    for (struct lt_record **p = &lt->records; *p; p = &(*p)->next) {
        if (strcmp((*p)->netdev, dev->netdev) == 0 &&
            (any_job || strcmp((*p)->job, lt_job(dev)) == 0))
            return p;
    }
    return NULL;
}

static void
lt_record_drop(struct lt_record **p)
{
    struct lt_record *r = *p;

    *p = r->next;
    lt_record_free(r);
}

/* The callbacks */

static int
lt_probe(void *ctx, const struct migd_device *dev, struct migd_probe *ret, char *err,
         size_t errlen)
{
    struct lab_tap *lt = ctx;

    if (dev->kind != MIGD_DEVICE_EMULATED)
        return 0;
    ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE | lt->vouch;
    ret->state_version = TAP_STATE_VERSION;
    snprintf(ret->detail, sizeof(ret->detail), "carries tap %s's mtu, txqueuelen, tbf rate and "
             "bridge PVID%s", dev->netdev ? dev->netdev : "(none)",
             lt->vouch ? "; vouches because [plugin.lab-tap] vouch says so" : "");
    return 0;
}

static int
lt_save(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap, size_t *ret_len,
        uint32_t *ret_version, char *err, size_t errlen)
{
    struct tap_state s;
    struct lt_now now;
    int rc, n;

    if ((rc = lt_failpoint(ctx, LT_CALL_SAVE, dev, err, errlen)) != 0 ||
        (rc = lt_need_netdev(dev, err, errlen)) != 0 ||
        (rc = lt_now_read(dev->netdev, 0, &now, err, errlen)) != 0 ||
        (rc = lt_now_to_state(&now, &s, err, errlen)) != 0)
        return rc;
    n = tap_state_format(&s, (char *)buf, cap);
    if (n < 0)
        return lt_say(err, errlen, n, "the state of tap %s does not fit in %zu bytes "
                      "([plugins] max_state_bytes)", dev->netdev, cap);
    *ret_len = (size_t)n;
    *ret_version = TAP_STATE_VERSION;
    return 0;
}

static int
lt_check(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
         uint32_t version, char *err, size_t errlen)
{
    struct tap_state s;
    struct lt_now now;
    int rc;

    if ((rc = lt_failpoint(ctx, LT_CALL_CHECK, dev, err, errlen)) != 0 ||
        (rc = tap_state_parse(blob, len, version, &s, err, errlen)) != 0)
        return rc;
    rc = lt_check_state(dev, &s, &now, err, errlen);
    /* A stand-in VF's tap is made with the guest's NIC on this host: by
     * QEMU as the migration comes in (native, pause), or by the replug
     * (unplug). Before that there is nothing more to check; restore_state
     * checks the tap it finds. */
    if (rc == -ENODEV && dev->netdev) {
        if (errlen)
            err[0] = '\0';
        return 0;
    }
    return rc;
}

/* An earlier job's record for this tap is forgotten (that job is over once
 * the tap is restored again); this job's is undone first, so that abort
 * puts back the tap as it was before the job. */
static int
lt_restore_begin(struct lab_tap *lt, const struct migd_device *dev, char *err, size_t errlen)
{
    struct lt_record **p;
    int rc;

    while ((p = lt_record_find(lt, dev, 1)) && strcmp((*p)->job, lt_job(dev)) != 0)
        lt_record_drop(p);
    if (!p)
        return 0;
    if ((rc = lt_undo_all(*p, err, errlen)) != 0)
        return rc;
    lt_record_drop(p);
    return 0;
}

static int
lt_restore(void *ctx, const struct migd_device *dev, const uint8_t *blob, size_t len,
           uint32_t version, char *err, size_t errlen)
{
    struct lab_tap *lt = ctx;
    struct lt_record *r;
    struct tap_state s;
    struct lt_now now;
    char undo[MIGD_PLUGIN_ERRLEN] = "";
    int rc = 0;

    if ((rc = lt_failpoint(lt, LT_CALL_RESTORE, dev, err, errlen)) != 0 ||
        (rc = tap_state_parse(blob, len, version, &s, err, errlen)) != 0 ||
        (rc = lt_check_state(dev, &s, &now, err, errlen)) != 0 ||
        (rc = lt_restore_begin(lt, dev, err, errlen)) != 0)
        return rc;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->job = strdup(lt_job(dev))) || !(r->netdev = strdup(dev->netdev))) {
        if (r)
            lt_record_free(r);
        return lt_say(err, errlen, -ENOMEM, "out of memory restoring tap %s", dev->netdev);
    }
    r->ifindex = now.link.ifindex;
    r->state = s;
    for (int i = 0; i < LT_LAST && rc == 0; i++)
        rc = lt_restore_one(i, r, &s, err, errlen);
    if (rc != 0) {
        /* Leave the tap as it was: a failed restore changes nothing. */
        if (lt_undo_all(r, undo, sizeof(undo)) != 0)
            snprintf(err + strlen(err), errlen - strlen(err), "; and %s", undo);
        lt_record_free(r);
        return rc;
    }
    r->next = lt->records;
    lt->records = r;
    return 0;
}

static int
lt_pre_switchover(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    /* A tap has nothing to quiesce: the guest's side stops with the guest. */
    return lt_failpoint(ctx, LT_CALL_PRE, dev, err, errlen);
}

/* The tap still has what restore_state applied in this job (or exists,
 * when nothing was restored here). */
static int
lt_post_switchover(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    struct lt_record **p;
    struct lt_now now;
    char got[64], want[64];
    int rc;

    if ((rc = lt_failpoint(ctx, LT_CALL_POST, dev, err, errlen)) != 0 ||
        (rc = lt_need_netdev(dev, err, errlen)) != 0 ||
        (rc = lt_now_read(dev->netdev, 0, &now, err, errlen)) != 0)
        return rc;
    if (!(p = lt_record_find(ctx, dev, 0)))
        return 0;
    for (int i = 0; i < LT_LAST; i++) {
        if (lt_holds(i, &now, &(*p)->state, got, sizeof(got)))
            continue;
        lt_wanted(i, &(*p)->state, want, sizeof(want));
        return lt_say(err, errlen, -EIO, "%s on tap %s is %s, not the %s restore_state set",
                      lt_setting_names[i], dev->netdev, got, want);
    }
    return 0;
}

static int
lt_abort(void *ctx, const struct migd_device *dev, char *err, size_t errlen)
{
    struct lt_record **p;
    int rc;

    if (!dev->netdev || !(p = lt_record_find(ctx, dev, 0)))
        return 0;       /* restore_state changed nothing on it in this job */
    rc = lt_undo_all(*p, err, errlen);
    lt_record_drop(p);
    return rc;
}

static const struct migd_plugin lt_table = {
    .abi_major = MIGD_PLUGIN_ABI_MAJOR,
    .abi_minor = MIGD_PLUGIN_ABI_MINOR,
    .size = sizeof(struct migd_plugin),
    .name = "lab-tap",
    .version = LAB_TAP_VERSION,
    .init = lt_init,
    .fini = lt_fini,
    .probe = lt_probe,
    .save_state = lt_save,
    .check_state = lt_check,
    .restore_state = lt_restore,
    .pre_switchover = lt_pre_switchover,
    .post_switchover = lt_post_switchover,
    .abort = lt_abort,
};

MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void);

MIGD_PLUGIN_EXPORT const struct migd_plugin *
MIGD_PLUGIN_ENTRY_SYMBOL(void)
{
    return &lt_table;
}
