/* lab-tap's state format (see tap-state.h): written with one snprintf,
 * read line by line with every number checked against its range. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap-state.h"

#define TAP_STATE_MAX 512       /* far more than version 1's five lines */

int
tap_state_format(const struct tap_state *s, char *buf, size_t cap)
{
    char rate[80] = "none", vlan[40] = "none";
    int n;

    if (s->has_rate)
        snprintf(rate, sizeof(rate), "%llu %u %u", (unsigned long long)s->rate, s->burst,
                 s->limit);
    if (s->has_vlan)
        snprintf(vlan, sizeof(vlan), "%u %s", s->vid, s->untagged ? "untagged" : "tagged");
    n = snprintf(buf, cap, "lab-tap %d\nmtu %u\ntxqueuelen %u\nrate %s\nvlan %s\n",
                 TAP_STATE_VERSION, s->mtu, s->txqlen, rate, vlan);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* One decimal number in [min, max] from *@p, which moves past it. */
static int
tap_state_number(char **p, unsigned long long min, unsigned long long max,
                 unsigned long long *ret)
{
    char *end;
    unsigned long long v;

    while (**p == ' ')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    v = strtoull(*p, &end, 10);
    if (errno || v < min || v > max)
        return -1;
    *p = end;
    *ret = v;
    return 0;
}

static int
tap_state_rest_empty(const char *p)
{
    return p[strspn(p, " ")] == '\0';
}

enum { LINE_MAGIC, LINE_MTU, LINE_TXQLEN, LINE_RATE, LINE_VLAN, LINE_LAST };

static const struct {
    const char *key;
    const char *expect;         /* what the value must be, for the error */
} tap_state_lines[LINE_LAST] = {
    [LINE_MAGIC] = { "lab-tap", "the format version 1" },
    [LINE_MTU] = { "mtu", "a number from 68 to 65535" },
    [LINE_TXQLEN] = { "txqueuelen", "a number from 0 to 4294967295" },
    [LINE_RATE] = { "rate", "'none' or a rate in bytes/s, a burst and a limit in bytes, "
                            "each above 0 (burst and limit at most 4294967295)" },
    [LINE_VLAN] = { "vlan", "'none' or a VLAN from 1 to 4094 and 'untagged' or 'tagged'" },
};

static int
tap_state_rate(char *p, struct tap_state *s)
{
    unsigned long long rate, burst, limit;

    if (strcmp(p, "none") == 0)
        return 0;
    if (tap_state_number(&p, 1, UINT64_MAX, &rate) || tap_state_number(&p, 1, UINT32_MAX, &burst) ||
        tap_state_number(&p, 1, UINT32_MAX, &limit) || !tap_state_rest_empty(p))
        return -1;
    s->has_rate = 1;
    s->rate = rate;
    s->burst = (uint32_t)burst;
    s->limit = (uint32_t)limit;
    return 0;
}

static int
tap_state_vlan(char *p, struct tap_state *s)
{
    unsigned long long vid;

    if (strcmp(p, "none") == 0)
        return 0;
    if (tap_state_number(&p, 1, 4094, &vid))
        return -1;
    p += strspn(p, " ");
    if (strcmp(p, "untagged") == 0)
        s->untagged = 1;
    else if (strcmp(p, "tagged") != 0)
        return -1;
    s->has_vlan = 1;
    s->vid = (uint16_t)vid;
    return 0;
}

static int
tap_state_value(int line, char *p, struct tap_state *s)
{
    unsigned long long v;

    switch (line) {
    case LINE_MAGIC:
        return strcmp(p, "1") == 0 ? 0 : -1;
    case LINE_MTU:
        if (tap_state_number(&p, 68, 65535, &v) || !tap_state_rest_empty(p))
            return -1;
        s->mtu = (uint32_t)v;
        return 0;
    case LINE_TXQLEN:
        if (tap_state_number(&p, 0, UINT32_MAX, &v) || !tap_state_rest_empty(p))
            return -1;
        s->txqlen = (uint32_t)v;
        return 0;
    case LINE_RATE:
        return tap_state_rate(p, s);
    default:
        return tap_state_vlan(p, s);
    }
}

static int
tap_state_line(char *text, unsigned int *seen, struct tap_state *s, char *err, size_t errlen)
{
    char *value = strchr(text, ' ');

    if (value)
        *value++ = '\0';
    for (int i = 0; i < LINE_LAST; i++) {
        if (strcmp(text, tap_state_lines[i].key) != 0)
            continue;
        if (*seen & (1u << i)) {
            snprintf(err, errlen, "the state has '%s' twice", text);
            return -EINVAL;
        }
        *seen |= 1u << i;
        if (!value || tap_state_value(i, value, s) != 0) {
            snprintf(err, errlen, "the state's '%s' is '%s', not %s", text, value ? value : "",
                     tap_state_lines[i].expect);
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "the state has a line '%.40s' that lab-tap's format %d does not "
             "know", text, TAP_STATE_VERSION);
    return -EINVAL;
}

static int
tap_state_lines_of(char *text, struct tap_state *s, char *err, size_t errlen)
{
    unsigned int seen = 0;
    char *line, *save = NULL;
    int rc;

    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if ((rc = tap_state_line(line, &seen, s, err, errlen)) != 0)
            return rc;
    }
    for (int i = 0; i < LINE_LAST; i++) {
        if (!(seen & (1u << i))) {
            snprintf(err, errlen, "the state has no '%s' line", tap_state_lines[i].key);
            return -EINVAL;
        }
    }
    return 0;
}

int
tap_state_parse(const uint8_t *blob, size_t len, uint32_t version, struct tap_state *ret,
                char *err, size_t errlen)
{
    char text[TAP_STATE_MAX + 1];
    struct tap_state s = { 0 };
    int rc;

    if (version != TAP_STATE_VERSION) {
        snprintf(err, errlen, "the state is version %u; this lab-tap reads version %d",
                 version, TAP_STATE_VERSION);
        return -EPROTO;
    }
    if (len > TAP_STATE_MAX || memchr(blob, '\0', len)) {
        snprintf(err, errlen, "the state (%zu bytes) is not lab-tap's text format", len);
        return -EINVAL;
    }
    memcpy(text, blob, len);
    text[len] = '\0';
    if ((rc = tap_state_lines_of(text, &s, err, errlen)) != 0)
        return rc;
    *ret = s;
    return 0;
}
