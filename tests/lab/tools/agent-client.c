/* migd lab agent client: sends one request line to a lab guest's agent over
 * the virtio-serial channel's host-side unix socket and prints the reply.
 *
 * usage: agent-client SOCKET REQUEST [TIMEOUT_MS]
 *
 * A reply left over from an earlier client that gave up can still be queued
 * in the channel, so lines that cannot answer this request are skipped:
 * "ping" wants "pong", "state" a JSON object with "name" first, "dirty ..."
 * one with "dirty" first (either may be an {"error":...} object instead),
 * any other request a JSON object.
 * Exit status: 0 reply printed, 1 no answer in time, 2 cannot connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool answers(const char *request, const char *line)
{
    if (strcmp(request, "ping") == 0)
        return strcmp(line, "pong") == 0;
    if (starts(line, "{\"error\":"))
        return true;
    if (strcmp(request, "state") == 0)
        return starts(line, "{\"name\":");
    if (strcmp(request, "dirty") == 0 || starts(request, "dirty "))
        return starts(line, "{\"dirty\":");
    return line[0] == '{';
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char line[65536];
    size_t len = 0;
    int64_t deadline;
    int fd, timeout_ms;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: agent-client SOCKET REQUEST [TIMEOUT_MS]\n");
        return 2;
    }
    timeout_ms = argc == 4 ? atoi(argv[3]) : 5000;
    if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "agent-client: socket path too long: %s\n", argv[1]);
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);
    signal(SIGPIPE, SIG_IGN);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "agent-client: cannot connect to %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    if (dprintf(fd, "%s\n", argv[2]) < 0) {
        fprintf(stderr, "agent-client: cannot send to %s: %s\n", argv[1], strerror(errno));
        return 2;
    }

    deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (left <= 0)
            break;
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n <= 0) {
            fprintf(stderr, "agent-client: %s closed the connection\n", argv[1]);
            return 1;
        }
        len += (size_t)n;
        for (char *nl; (nl = memchr(line, '\n', len));) {
            *nl = '\0';
            if (answers(argv[2], line)) {
                puts(line);
                return 0;
            }
            len -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, len);
        }
        if (len == sizeof(line) - 1)
            len = 0; /* an overlong line is not an answer */
    }
    fprintf(stderr, "agent-client: no answer to '%s' from %s within %d ms\n", argv[2], argv[1], timeout_ms);
    return 1;
}
