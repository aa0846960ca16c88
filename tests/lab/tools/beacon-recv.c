/* migd lab beacon receiver: runs in each lab host's network namespace, bound
 * to the guests' gateway address, and appends one line per UDP beacon:
 *
 *     <CLOCK_MONOTONIC ns at arrival> <source ip> <guest name> <boot id> <seq>
 *
 * Both lab hosts share the machine's monotonic clock, so `lab outage` can
 * merge the two hosts' logs and measure the guest-visible outage. Each
 * beacon is echoed back to its sender, for the guest agent's own probe.
 *
 * usage: beacon-recv --bind IP [--port N] --log FILE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: beacon-recv --bind IP [--port N] --log FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *bind_ip = NULL, *log_path = NULL;
    int port = 7490;
    struct sockaddr_in addr = { .sin_family = AF_INET };
    struct sigaction sa = { .sa_handler = on_signal };
    FILE *log;
    int fd;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--bind") == 0)
            bind_ip = argv[++i];
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0)
            log_path = argv[++i];
        else
            usage();
    }
    if (!bind_ip || !log_path || port <= 0 || port > 65535)
        usage();
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_ip, &addr.sin_addr) != 1) {
        fprintf(stderr, "beacon-recv: bad address '%s'\n", bind_ip);
        return 2;
    }

    /* No SA_RESTART: a signal must break recvfrom() so we exit promptly. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "beacon-recv: cannot bind %s:%d: %s\n", bind_ip, port, strerror(errno));
        return 1;
    }
    log = fopen(log_path, "a");
    if (!log) {
        fprintf(stderr, "beacon-recv: cannot open %s: %s\n", log_path, strerror(errno));
        return 1;
    }

    while (!stop) {
        char buf[256], src[INET_ADDRSTRLEN], name[64], boot[32];
        unsigned long long seq;
        struct sockaddr_in from;
        socklen_t fromlen = sizeof(from);
        struct timespec ts;
        ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fromlen);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "beacon-recv: recvfrom: %s\n", strerror(errno));
            return 1;
        }
        /* Timestamp first, before any parsing, to keep the arrival time
         * as close to the kernel's as a user process can. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        buf[n] = '\0';
        if (sscanf(buf, "MIGDLAB1 %63s %31s %llu", name, boot, &seq) != 3)
            continue;
        inet_ntop(AF_INET, &from.sin_addr, src, sizeof(src));
        fprintf(log, "%llu %s %s %s %llu\n",
                (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
                src, name, boot, seq);
        /* Line by line, so `lab outage` always reads whole lines. */
        fflush(log);
        /* The echo is the guest agent's own probe of its network path. */
        (void)sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fromlen);
    }
    fclose(log);
    return 0;
}
