/* The versioned text sriov-vfcfg and vdpa carry their state in: a head
 * line "NAME VERSION", then one value a line, "KEY WORD...", words
 * separated by spaces or tabs; empty lines are skipped. Reading it checks
 * the head, splits the lines into words and hands each to the plugin's
 * parser, and says which line is wrong. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ST_WORDS 8      /* the most words a line may have, its key included */

/* The keys a state may have, by index (at most 32). */
struct st_keys {
    const char *who;            /* the reader, in sentences: "the vdpa plugin" */
    const char *const *names;
    int count;
    unsigned int repeatable;    /* 1 << key: may be there more than once */
    const char *const *hints;   /* what a valid line looks like, or NULL */
};

/* Parses the @n words after key @key into @data: 0, or -1 when they are
 * not a valid value of it. */
typedef int (*st_line_fn)(int key, char *const *words, int n, void *data);

/* Reads @blob of @len bytes, a state of @version whose head names @name
 * and which this plugin reads at @want: 0 and the keys seen in *ret_seen
 * (1 << key), or -EPROTO (another version), -EINVAL (a wrong head or
 * line) or -ENOMEM, with a sentence in @err. */
int st_read(const uint8_t *blob, size_t len, uint32_t version, const char *name, uint32_t want,
            const struct st_keys *keys, st_line_fn fn, void *data, unsigned int *ret_seen,
            char *err, size_t errlen);

/* "aa:bb:cc:dd:ee:ff" into @mac: 0 or -1. */
int st_parse_mac(const char *word, uint8_t mac[6]);
