/* migd lab outage calculator: merges the beacon logs of the lab hosts (see
 * beacon-recv.c) and prints, as one JSON object, the largest gap between
 * consecutive beacon arrivals of one guest and the sequence numbers that
 * never arrived, within a window of CLOCK_MONOTONIC time.
 *
 * usage: outage now
 *        outage [--name GUEST] [--since NS] [--until NS] LABEL=LOGFILE...
 *
 * `now` prints the current CLOCK_MONOTONIC time in ns (the lab's marks).
 * Exit status: 0 with a result, 3 when no beacon of GUEST is in the window,
 * 2 on bad usage or unreadable logs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LOGS 8
#define MAX_LISTED_MISSING 50

struct arrival {
    uint64_t t;
    uint64_t seq;
    uint64_t boot;
    int log;
};

struct arrivals {
    struct arrival *v;
    size_t n, cap;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void push(struct arrivals *a, struct arrival x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4096;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        if (!a->v) {
            fprintf(stderr, "outage: out of memory\n");
            exit(2);
        }
    }
    a->v[a->n++] = x;
}

static int by_time(const void *pa, const void *pb)
{
    const struct arrival *a = pa, *b = pb;

    return a->t < b->t ? -1 : a->t > b->t;
}

static int by_seq(const void *pa, const void *pb)
{
    const uint64_t *a = pa, *b = pb;

    return *a < *b ? -1 : *a > *b;
}

static void usage(void)
{
    fprintf(stderr, "usage: outage now\n"
                    "       outage [--name GUEST] [--since NS] [--until NS] LABEL=LOGFILE...\n");
    exit(2);
}

static uint64_t parse_ns(const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "outage: '%s' is not a CLOCK_MONOTONIC time in ns\n", s);
        exit(2);
    }
    return v;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

int main(int argc, char **argv)
{
    const char *name = "labvm";
    const char *labels[MAX_LOGS];
    size_t received_by_log[MAX_LOGS] = { 0 };
    int nlogs = 0;
    uint64_t since = 0, until = UINT64_MAX, now = mono_ns();
    struct arrivals a = { 0 };
    uint64_t last_boot, *seqs, first_seq, last_seq, distinct = 0, missing, boots = 1;
    uint64_t best_gap = 0;
    size_t best_i = 0, nseq = 0;

    if (argc == 2 && strcmp(argv[1], "now") == 0) {
        printf("%llu\n", (unsigned long long)now);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            since = parse_ns(argv[++i]);
        } else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc) {
            until = parse_ns(argv[++i]);
        } else if (argv[i][0] != '-' && strchr(argv[i], '=') && nlogs < MAX_LOGS) {
            char *eq = strchr(argv[i], '=');
            char line[256];
            FILE *f;

            *eq = '\0';
            labels[nlogs] = argv[i];
            /* A host that never received a beacon may have no log yet. */
            f = fopen(eq + 1, "r");
            if (!f && errno != ENOENT) {
                fprintf(stderr, "outage: cannot read %s: %s\n", eq + 1, strerror(errno));
                return 2;
            }
            while (f && fgets(line, sizeof(line), f)) {
                unsigned long long t, boot, seq;
                char src[64], gname[64];

                if (sscanf(line, "%llu %63s %63s %llx %llu", &t, src, gname, &boot, &seq) != 5)
                    continue;
                if (strcmp(gname, name) != 0 || t < since || t > until)
                    continue;
                push(&a, (struct arrival){ .t = t, .seq = seq, .boot = boot, .log = nlogs });
            }
            if (f)
                fclose(f);
            nlogs++;
        } else {
            usage();
        }
    }
    if (nlogs == 0)
        usage();

    if (a.n == 0) {
        printf("{\"name\":\"%s\",\"received\":0,\"error\":\"no beacon from this guest in the window\"}\n",
               name);
        return 3;
    }
    qsort(a.v, a.n, sizeof(*a.v), by_time);

    for (size_t i = 0; i < a.n; i++) {
        received_by_log[a.v[i].log]++;
        if (i > 0 && a.v[i].t - a.v[i - 1].t > best_gap) {
            best_gap = a.v[i].t - a.v[i - 1].t;
            best_i = i;
        }
    }

    /* A guest that rebooted in the window restarts its sequence; count loss
     * only for the latest boot. */
    last_boot = a.v[a.n - 1].boot;
    seqs = malloc(a.n * sizeof(*seqs));
    if (!seqs)
        return 2;
    for (size_t i = 0; i < a.n; i++) {
        if (i > 0 && a.v[i].boot != a.v[i - 1].boot)
            boots++;
        if (a.v[i].boot == last_boot)
            seqs[nseq++] = a.v[i].seq;
    }
    qsort(seqs, nseq, sizeof(*seqs), by_seq);
    for (size_t i = 0; i < nseq; i++)
        if (i == 0 || seqs[i] != seqs[i - 1])
            distinct++;
    first_seq = seqs[0];
    last_seq = seqs[nseq - 1];
    missing = last_seq - first_seq + 1 - distinct;

    printf("{\"name\":\"%s\",\"since_ns\":%llu,\"until_ns\":%llu,\"received\":%zu", name,
           (unsigned long long)since, (unsigned long long)(until == UINT64_MAX ? now : until), a.n);
    printf(",\"received_by_host\":{");
    for (int l = 0; l < nlogs; l++)
        printf("%s\"%s\":%zu", l ? "," : "", labels[l], received_by_log[l]);
    printf("}");
    printf(",\"first_arrival_ns\":%llu,\"last_arrival_ns\":%llu",
           (unsigned long long)a.v[0].t, (unsigned long long)a.v[a.n - 1].t);
    /* How long ago the last beacon came: a large value means the guest is
     * still cut off, which max_gap alone would not show. */
    printf(",\"last_arrival_age_ms\":%.3f",
           ms((until == UINT64_MAX ? now : until) - a.v[a.n - 1].t));
    if (a.n > 1)
        printf(",\"max_gap_ms\":%.3f,\"max_gap\":{\"from_ns\":%llu,\"to_ns\":%llu,"
               "\"seq_before\":%llu,\"seq_after\":%llu,\"host_before\":\"%s\",\"host_after\":\"%s\"}",
               ms(best_gap), (unsigned long long)a.v[best_i - 1].t, (unsigned long long)a.v[best_i].t,
               (unsigned long long)a.v[best_i - 1].seq, (unsigned long long)a.v[best_i].seq,
               labels[a.v[best_i - 1].log], labels[a.v[best_i].log]);
    else
        printf(",\"max_gap_ms\":0,\"max_gap\":null");
    printf(",\"boots\":%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"missing\":%llu,\"duplicates\":%llu",
           (unsigned long long)boots, (unsigned long long)first_seq, (unsigned long long)last_seq,
           (unsigned long long)missing, (unsigned long long)(nseq - distinct));
    printf(",\"missing_seqs\":[");
    {
        int listed = 0;
        for (size_t i = 1; i < nseq && listed < MAX_LISTED_MISSING; i++)
            for (uint64_t s = seqs[i - 1] + 1; s < seqs[i] && listed < MAX_LISTED_MISSING; s++)
                printf("%s%llu", listed++ ? "," : "", (unsigned long long)s);
    }
    printf("]}\n");
    free(seqs);
    free(a.v);
    return 0;
}
