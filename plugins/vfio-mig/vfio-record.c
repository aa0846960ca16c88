/* vfio-mig's record text (see vfio-record.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio-record.h"
#include "say.h"

/* Appends to @buf at *@at: 0, or -ENOSPC when it does not fit. */
static int put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *at)
        return -ENOSPC;
    *at += (size_t)n;
    return 0;
}

int
vfio_record_write(const struct vfio_caps *c, char *buf, size_t cap, size_t *ret_len)
{
    size_t at = 0;
    char migration[32];

    if (c->migration_errno == 0)
        snprintf(migration, sizeof(migration), "0x%" PRIx64, c->flags);
    else if (c->migration_errno == ENOTTY)
        snprintf(migration, sizeof(migration), "ENOTTY");
    else if (c->migration_errno == VFIO_ANSWER_UNASKED)
        snprintf(migration, sizeof(migration), "unasked");
    else
        snprintf(migration, sizeof(migration), "errno %d", c->migration_errno);
    if (cap == 0 ||
        put(buf, cap, &at, "vfio-mig %d\ndevice %s\ndriver %s\ntype %s\nboot %s\n",
            VFIO_RECORD_VERSION, c->device, c->driver, c->type, c->boot) < 0 ||
        put(buf, cap, &at, "migration %s\ndma_logging %s\n", migration,
            c->dma_logging ? "yes" : "no") < 0 ||
        (c->have_stop_copy && put(buf, cap, &at, "stop_copy %" PRIu64 "\n", c->stop_copy) < 0))
        return -ENOSPC;
    *ret_len = at;
    return 0;
}

static int
parse_u64(const char *word, int base, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    if (!*word || *word == '-' || *word == '+' || *word == ' ')
        return -1;
    errno = 0;
    v = strtoull(word, &end, base);
    if (errno || *end)
        return -1;
    *ret = v;
    return 0;
}

static int
parse_migration(const char *v, struct vfio_caps *c)
{
    uint64_t e;

    if (strcmp(v, "ENOTTY") == 0 || strcmp(v, "unasked") == 0) {
        c->migration_errno = strcmp(v, "ENOTTY") == 0 ? ENOTTY : VFIO_ANSWER_UNASKED;
        return 0;
    }
    if (strncmp(v, "errno ", 6) == 0)
        return parse_u64(v + 6, 10, &e) < 0 || e == 0 || e > 4095 ? -1
               : (c->migration_errno = (int)e, 0);
    if (strncmp(v, "0x", 2) != 0)
        return -1;
    c->migration_errno = 0;
    return parse_u64(v + 2, 16, &c->flags);
}

/* Line @key's value @v into @c: 0 or -1. */
static int
parse_field(const char *key, const char *v, struct vfio_caps *c)
{
    struct { const char *key; char *into; size_t size; } strings[] = {
        { "device", c->device, sizeof(c->device) }, { "driver", c->driver, sizeof(c->driver) },
        { "type", c->type, sizeof(c->type) }, { "boot", c->boot, sizeof(c->boot) },
    };

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (strcmp(key, strings[i].key) != 0)
            continue;
        if (!*v || strlen(v) >= strings[i].size)
            return -1;
        memcpy(strings[i].into, v, strlen(v) + 1);
        return 0;
    }
    if (strcmp(key, "migration") == 0)
        return parse_migration(v, c);
    if (strcmp(key, "dma_logging") == 0) {
        if (strcmp(v, "yes") && strcmp(v, "no"))
            return -1;
        c->dma_logging = strcmp(v, "yes") == 0;
        return 0;
    }
    c->have_stop_copy = 1;
    return parse_u64(v, 10, &c->stop_copy);
}

int
vfio_record_read(const uint8_t *blob, size_t len, uint32_t version, struct vfio_caps *ret,
                 char *err, size_t errlen)
{
    static const char *const keys[] = {
        "vfio-mig", "device", "driver", "type", "boot", "migration", "dma_logging", "stop_copy",
    };
    const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
    struct vfio_caps c = { 0 };
    char text[1024], *line, *save = NULL;
    size_t want = 0;
    int lineno = 0;

    if (version != VFIO_RECORD_VERSION) {
        (void)plugin_say(err, errlen, 0, "the state is version %u, and this vfio-mig reads version "
                       "%d", version, VFIO_RECORD_VERSION);
        return -EPROTO;
    }
    if (len >= sizeof(text) || memchr(blob, '\0', len)) {
        (void)plugin_say(err, errlen, 0, "the state is not a vfio-mig record (%zu bytes%s)", len,
                       len >= sizeof(text) ? ", too long" : ", with a NUL byte");
        return -EINVAL;
    }
    memcpy(text, blob, len);
    text[len] = '\0';
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        const char *value;

        lineno++;
        if (sp)
            *sp = '\0';
        value = sp ? sp + 1 : "";
        if (want == nkeys || strcmp(keys[want], line) != 0) {
            (void)plugin_say(err, errlen, 0, "line %d of the state ('%s%s%s') is not %s%s%s", lineno,
                           line, sp ? " " : "", value, want == nkeys ? "a field it has" : "its '",
                           want == nkeys ? "" : keys[want], want == nkeys ? "" : "' line");
            return -EINVAL;
        }
        if (!sp || (want == 0 ? strcmp(value, "1") != 0 : parse_field(line, value, &c) < 0)) {
            (void)plugin_say(err, errlen, 0, "line %d of the state ('%s%s%s') is not %s", lineno,
                           line, sp ? " " : "", value,
                           want == 0 ? "'vfio-mig 1'" : "a valid value");
            return -EINVAL;
        }
        want++;
    }
    if (want < 7) {
        (void)plugin_say(err, errlen, 0, "the state ends before its '%s' line", keys[want]);
        return -EINVAL;
    }
    *ret = c;
    return 0;
}
