/* sd-recv: stands in for the systemd side of a datagram protocol (sd_notify
 * or the journal) so tests can watch what migd sends. It binds a socket,
 * then becomes COMMAND (exec, so the caller's $! is the command itself) with
 * the socket named in its environment, while a forked listener waits for a
 * datagram holding a given line and writes one line to the report file:
 * "ok", or "failed: <why>" when the command exits first or time runs out.
 *
 * sd-recv --report FILE [--socket PATH] [--env NAME] [--until LINE]
 *         [--timeout S] [--log FILE] -- COMMAND [ARG...]                */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *socket_path;
    const char *env_name;
    const char *until;
    const char *log_path;
    const char *report_path;
    int timeout_ms;
} Options;

static void
usage(void)
{
    fprintf(stderr, "usage: sd-recv --report FILE [--socket PATH] [--env NAME] [--until LINE] "
                    "[--timeout S] [--log FILE] -- COMMAND [ARG...]\n");
    exit(2);
}

static int
parse_options(int argc, char **argv, Options *opt)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' }, { "env", required_argument, NULL, 'e' },
        { "until", required_argument, NULL, 'u' },  { "timeout", required_argument, NULL, 't' },
        { "log", required_argument, NULL, 'l' },    { "report", required_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case 's': opt->socket_path = optarg; break;
        case 'e': opt->env_name = optarg; break;
        case 'u': opt->until = optarg; break;
        case 't': opt->timeout_ms = atoi(optarg) * 1000; break;
        case 'l': opt->log_path = optarg; break;
        case 'r': opt->report_path = optarg; break;
        default: usage();
        }
    }
    if (optind >= argc || opt->timeout_ms <= 0 || !opt->report_path)
        usage();
    return optind;
}

static int
bind_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "sd-recv: socket path %s is too long\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    (void)unlink(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "sd-recv: cannot bind %s: %s\n", path, strerror(errno));
        return -1;
    }
    return fd;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* TRUE when @line stands alone on a line of the datagram. */
static int
contains_line(const char *datagram, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = datagram; (p = strstr(p, line)); p += n) {
        if ((p == datagram || p[-1] == '\n') && (p[n] == '\0' || p[n] == '\n'))
            return 1;
    }
    return 0;
}

/* Returns NULL once @opt->until arrives, else why it never did. */
static const char *
wait_for_line(int fd, int command_fd, const Options *opt)
{
    long long deadline = now_ms() + opt->timeout_ms;
    FILE *log = opt->log_path ? fopen(opt->log_path, "a") : NULL;
    static char buf[65536];

    for (;;) {
        struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                                 { .fd = command_fd, .events = POLLIN } };
        long long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0)
            return "timed out";
        if (poll(pfd, 2, (int)left) <= 0)
            continue;
        /* Read what was sent before a pidfd that says the command exited. */
        if (!(pfd[0].revents & POLLIN))
            return "the command exited first";
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        if (log) {
            fprintf(log, "%s\n--\n", buf);
            fflush(log);
        }
        if (contains_line(buf, opt->until))
            return NULL;
    }
}

static void
report(const Options *opt, const char *failure)
{
    FILE *f = fopen(opt->report_path, "w");

    if (!f)
        return;
    if (failure)
        fprintf(f, "failed: no %s: %s\n", opt->until, failure);
    else
        fprintf(f, "ok\n");
    fclose(f);
}

int
main(int argc, char **argv)
{
    Options opt = { NULL, "NOTIFY_SOCKET", "READY=1", NULL, NULL, 30000 };
    char tmpl[] = "/tmp/sd-recv.XXXXXX";
    char path[sizeof(tmpl) + 16];
    int first = parse_options(argc, argv, &opt);
    pid_t listener;
    int fd, command_fd;

    if (!opt.socket_path) {
        if (!mkdtemp(tmpl))
            return 1;
        snprintf(path, sizeof(path), "%s/sock", tmpl);
        opt.socket_path = path;
    }
    fd = bind_socket(opt.socket_path);
    if (fd < 0)
        return 1;
    command_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (command_fd < 0) {
        fprintf(stderr, "sd-recv: pidfd_open: %s\n", strerror(errno));
        return 1;
    }
    /* Forked twice so that the listener is not a child the command must reap. */
    listener = fork();
    if (listener < 0)
        return 1;
    if (listener == 0) {
        if (fork() != 0)
            _exit(0);
        report(&opt, wait_for_line(fd, command_fd, &opt));
        (void)unlink(opt.socket_path);
        if (opt.socket_path == path)
            (void)rmdir(tmpl);
        _exit(0);
    }
    (void)waitpid(listener, NULL, 0);
    close(command_fd);
    setenv(opt.env_name, opt.socket_path, 1);
    execvp(argv[first], argv + first);
    fprintf(stderr, "sd-recv: cannot run %s: %s\n", argv[first], strerror(errno));
    return 127;
}
