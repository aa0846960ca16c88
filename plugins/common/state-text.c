/* The plugins' state text (see state-text.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state-text.h"

int
st_parse_mac(const char *word, uint8_t mac[6])
{
    unsigned int b[6];
    char tail;

    if (!word || sscanf(word, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                        &b[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

static int
st_line(char *line, int lineno, const struct st_keys *keys, st_line_fn fn, void *data,
        unsigned int *seen, char *err, size_t errlen)
{
    char *w[ST_WORDS], *save = NULL;
    int n = 0;

    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == ST_WORDS) {
            snprintf(err, errlen, "line %d of the state has more than %d words", lineno,
                     ST_WORDS);
            return -EINVAL;
        }
        w[n++] = t;
    }
    if (n == 0)
        return 0;
    for (int k = 0; k < keys->count; k++) {
        unsigned int bit = 1u << k;

        if (strcmp(w[0], keys->names[k]) != 0)
            continue;
        if ((*seen & bit) && !(keys->repeatable & bit)) {
            snprintf(err, errlen, "line %d of the state sets %s a second time", lineno, w[0]);
            return -EINVAL;
        }
        if (fn(k, w + 1, n - 1, data) < 0) {
            const char *hint = keys->hints ? keys->hints[k] : NULL;

            snprintf(err, errlen, "line %d of the state is not a valid %s line%s%s%s", lineno,
                     w[0], hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
            return -EINVAL;
        }
        *seen |= bit;
        return 0;
    }
    snprintf(err, errlen, "line %d of the state names nothing %s knows ('%s')", lineno,
             keys->who, w[0]);
    return -EINVAL;
}

int
st_read(const uint8_t *blob, size_t len, uint32_t version, const char *name, uint32_t want,
        const struct st_keys *keys, st_line_fn fn, void *data, unsigned int *ret_seen,
        char *err, size_t errlen)
{
    char *text, *save = NULL, *line, head[64];
    unsigned int seen = 0;
    int lineno = 1, rc = 0;
    size_t hlen;

    if (version != want) {
        snprintf(err, errlen, "the state is version %u, and %s reads version %u", version,
                 keys->who, want);
        return -EPROTO;
    }
    snprintf(head, sizeof(head), "%s %u\n", name, want);
    hlen = strlen(head);
    if (len < hlen || memcmp(blob, head, hlen) != 0 || memchr(blob, '\0', len)) {
        snprintf(err, errlen, "the state does not start with '%.*s'", (int)hlen - 1, head);
        return -EINVAL;
    }
    if (!(text = strndup((const char *)blob + hlen, len - hlen))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save))
        rc = st_line(line, ++lineno, keys, fn, data, &seen, err, errlen);
    free(text);
    if (rc == 0)
        *ret_seen = seen;
    return rc;
}
