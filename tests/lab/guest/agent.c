/* migd lab guest agent: runs as a static binary inside the lab guest.
 *
 * It answers line-based requests on the virtio-serial port named
 * org.migd.lab.0 ("ping" -> "pong", "state" -> one JSON line describing the
 * net_failover master, its slaves and every link, "dirty MIB [MIB_PER_S]"
 * -> starts or stops a memory dirtier, "probe" / "probe reset" -> the guest's own
 * view of its network outage, see below) and sends a sequence-numbered UDP beacon to
 * the gateway every few milliseconds so the lab can measure the guest-visible
 * network outage of a migration.
 *
 * The probe: the host's beacon receiver echoes every beacon, and the agent
 * keeps the largest gap between two echoes since the last "probe reset", on
 * the guest's clock. It is the outage as the guest saw it; the guest's clock
 * does not run while the VM is stopped, so the stop-and-copy downtime is
 * not in it (libvirt reports that one).
 *
 * One poll() loop paced by the beacon interval. The dirtier is a child
 * process at SCHED_IDLE that rewrites one byte of every page of its region
 * in a loop (flat out, or MIB_PER_S MiB of pages a second), so the agent
 * preempts it whenever it has work and keeps its beacon pace; it counts its
 * sweeps in a page shared with the agent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYS_NET "/sys/class/net"
#define SYS_PORTS "/sys/class/virtio-ports"
#define MAX_LINKS 32
#define LINE_MAX_LEN 512

struct opts {
    const char *name;
    const char *gateway;
    int beacon_port;
    int interval_ms;
    const char *port_name;
};

struct outbuf {
    char buf[8192];
    size_t len;
    bool overflow;
};

static uint64_t beacon_seq;

/* The probe: echoes of our beacons since the last reset. */
static struct {
    uint64_t since_ns, last_echo_ns, max_gap_ns;
    uint64_t sent_at_reset, echoes;
} probe;

/* Written by the dirtier child, read by the agent. */
struct dirty_shared {
    uint64_t passes;     /* full sweeps completed */
    uint64_t last_pass_ns;
};

/* The memory dirtier, as the agent sees it. */
static struct {
    struct dirty_shared *shared; /* MAP_SHARED page, made once */
    pid_t pid;                   /* 0 when none runs */
    unsigned long mib;           /* region size of the running dirtier */
    unsigned long rate;          /* its pace in MiB of pages a second, 0 = flat out */
    bool ack_pending;            /* a "dirty N" waits for the first sweep */
    char error[160];             /* why the last dirtier stopped, if not asked to */
} dirtier;

#define PAGE_BYTES 4096u
#define PAGES_PER_MIB (1024u * 1024u / PAGE_BYTES)
/* The paced dirtier works in ticks of this length... */
#define DIRTY_TICK_NS 1000000ull
/* ...and credits at most this much time to one tick: when the vCPU was
 * stopped (QEMU's auto-converge throttle, a pause) the lost time is not
 * caught up, so throttling the vCPU slows the dirtier down as it would a
 * real workload. */
#define DIRTY_TICK_MAX_NS 2000000ull

static void logmsg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("migd-lab-agent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void out_add(struct outbuf *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(o->buf) - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

/* Interface names and driver names are plain ASCII, but they come from the
 * kernel, so escape anything that would break the JSON line. */
static void out_str(struct outbuf *o, const char *s)
{
    if (!s) {
        out_add(o, "null");
        return;
    }
    out_add(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out_add(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            out_add(o, "\\u%04x", c);
        else
            out_add(o, "%c", c);
    }
    out_add(o, "\"");
}

static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Read a one-line sysfs attribute; false when it is absent or unreadable
 * (e.g. carrier of a down link returns EINVAL). */
static bool read_attr(const char *dev, const char *attr, char *val, size_t len)
{
    char path[PATH_MAX];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), SYS_NET "/%s/%s", dev, attr);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, val, len - 1);
    close(fd);
    if (n < 0)
        return false;
    val[n] = '\0';
    val[strcspn(val, "\n")] = '\0';
    return true;
}

/* Driver name the way ethtool -i reports it, so the net_failover master
 * (which has no driver of its own in sysfs) is named correctly. */
static bool link_driver(int sock, const char *dev, char *drv, size_t len)
{
    struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
    struct ifreq ifr;
    char path[PATH_MAX], target[PATH_MAX];
    ssize_t n;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
    ifr.ifr_data = (char *)&info;
    if (sock >= 0 && ioctl(sock, SIOCETHTOOL, &ifr) == 0 && info.driver[0]) {
        snprintf(drv, len, "%.*s", (int)sizeof(info.driver), info.driver);
        return true;
    }
    snprintf(path, sizeof(path), SYS_NET "/%s/device/driver", dev);
    n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    copy_str(drv, len, strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
    return true;
}

static bool device_path(const char *dev, char *out)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), SYS_NET "/%s/device", dev);
    return realpath(path, out) != NULL;
}

static bool link_is_active(const char *dev)
{
    char oper[32], carrier[8];

    if (!read_attr(dev, "operstate", oper, sizeof(oper)))
        return false;
    if (!read_attr(dev, "carrier", carrier, sizeof(carrier)))
        return false;
    return strcmp(oper, "up") == 0 && strcmp(carrier, "1") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static size_t list_links(char names[][IFNAMSIZ])
{
    DIR *d = opendir(SYS_NET);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) && n < MAX_LINKS) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "lo") == 0)
            continue;
        if (strlen(e->d_name) >= IFNAMSIZ)
            continue;
        snprintf(names[n++], IFNAMSIZ, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, IFNAMSIZ, cmp_names);
    return n;
}

/* The standby is the lower device that shares the master's parent device
 * (net_failover parents the master on the virtio device); the other lower
 * device is the primary. */
static void describe_failover(struct outbuf *o, int sock, char names[][IFNAMSIZ], size_t n)
{
    const char *master = NULL;
    char primary[IFNAMSIZ] = "", standby[IFNAMSIZ] = "";
    char mdev[PATH_MAX], sdev[PATH_MAX], drv[64], pdrv[64] = "";
    DIR *d;
    struct dirent *e;
    char path[PATH_MAX];

    for (size_t i = 0; i < n && !master; i++)
        if (link_driver(sock, names[i], drv, sizeof(drv)) && strcmp(drv, "net_failover") == 0)
            master = names[i];
    if (!master) {
        out_add(o, "null");
        return;
    }
    snprintf(path, sizeof(path), SYS_NET "/%s", master);
    d = opendir(path);
    if (d) {
        bool have_mdev = device_path(master, mdev);
        while ((e = readdir(d))) {
            const char *lower;
            if (strncmp(e->d_name, "lower_", 6) != 0)
                continue;
            lower = e->d_name + 6;
            if (have_mdev && device_path(lower, sdev) && strcmp(sdev, mdev) == 0)
                snprintf(standby, sizeof(standby), "%s", lower);
            else
                snprintf(primary, sizeof(primary), "%s", lower);
        }
        closedir(d);
    }
    if (primary[0])
        link_driver(sock, primary, pdrv, sizeof(pdrv));

    out_add(o, "{\"master\":");
    out_str(o, master);
    out_add(o, ",\"primary\":");
    out_str(o, primary[0] ? primary : NULL);
    out_add(o, ",\"primary_driver\":");
    out_str(o, pdrv[0] ? pdrv : NULL);
    out_add(o, ",\"standby\":");
    out_str(o, standby[0] ? standby : NULL);
    out_add(o, ",\"active\":");
    if (primary[0] && link_is_active(primary))
        out_str(o, "primary");
    else if (standby[0])
        out_str(o, "standby");
    else
        out_str(o, NULL);
    out_add(o, "}");
}

/* The dirtier as "state" and the "dirty" acknowledgement report it. */
static void out_dirty(struct outbuf *o)
{
    struct dirty_shared *sh = dirtier.shared;

    out_add(o, "{\"mib\":%lu,\"passes\":%llu", dirtier.mib,
            sh && dirtier.pid > 0 ? (unsigned long long)__atomic_load_n(&sh->passes, __ATOMIC_ACQUIRE) : 0ull);
    if (sh && dirtier.pid > 0)
        out_add(o, ",\"rate_mibps\":%lu,\"last_pass_us\":%llu", dirtier.rate,
                (unsigned long long)(__atomic_load_n(&sh->last_pass_ns, __ATOMIC_RELAXED) / 1000ull));
    if (dirtier.pid <= 0 && dirtier.error[0]) {
        out_add(o, ",\"error\":");
        out_str(o, dirtier.error);
    }
    out_add(o, "}");
}

static void build_state(struct outbuf *o, const struct opts *opt)
{
    char names[MAX_LINKS][IFNAMSIZ];
    size_t n = list_links(names);
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    out_add(o, "{\"name\":");
    out_str(o, opt->name);
    out_add(o, ",\"uptime_ms\":%llu,\"beacon_seq\":%llu,\"failover\":",
            (unsigned long long)(mono_ns() / 1000000ull), (unsigned long long)beacon_seq);
    describe_failover(o, sock, names, n);
    out_add(o, ",\"dirty\":");
    out_dirty(o);
    out_add(o, ",\"links\":[");
    for (size_t i = 0; i < n; i++) {
        char drv[64], mac[32], oper[32], carrier[8];
        bool have_drv = link_driver(sock, names[i], drv, sizeof(drv));

        out_add(o, "%s{\"name\":", i ? "," : "");
        out_str(o, names[i]);
        out_add(o, ",\"driver\":");
        out_str(o, have_drv ? drv : NULL);
        out_add(o, ",\"mac\":");
        out_str(o, read_attr(names[i], "address", mac, sizeof(mac)) ? mac : NULL);
        out_add(o, ",\"operstate\":");
        out_str(o, read_attr(names[i], "operstate", oper, sizeof(oper)) ? oper : NULL);
        out_add(o, ",\"carrier\":%s}",
                read_attr(names[i], "carrier", carrier, sizeof(carrier)) && strcmp(carrier, "1") == 0
                    ? "true" : "false");
    }
    out_add(o, "]}");
    if (sock >= 0)
        close(sock);
    if (o->overflow) {
        o->len = 0;
        o->overflow = false;
        out_add(o, "{\"error\":\"state too large\"}");
    }
}

/* Returns the port's fd, or -1 while the port has not appeared yet (the
 * virtio_console module may still be probing). */
static int open_port(const char *port_name)
{
    DIR *d = opendir(SYS_PORTS);
    struct dirent *e;
    int fd = -1;

    if (!d)
        return -1;
    while ((e = readdir(d)) && fd < 0) {
        char path[PATH_MAX], name[128];
        ssize_t n;
        int nfd;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), SYS_PORTS "/%s/name", e->d_name);
        nfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
            continue;
        n = read(nfd, name, sizeof(name) - 1);
        close(nfd);
        if (n <= 0)
            continue;
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (strcmp(name, port_name) != 0)
            continue;
        snprintf(path, sizeof(path), "/dev/%s", e->d_name);
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            logmsg("cannot open %s: %s", path, strerror(errno));
        else
            logmsg("serving requests on %s (%s)", path, port_name);
    }
    closedir(d);
    return fd;
}

/* A reply is small; if the host side is not reading we give up after a
 * short while rather than stall the beacons. */
static void write_reply(int fd, const char *buf, size_t len)
{
    uint64_t deadline = mono_ns() + 500000000ull;

    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && mono_ns() < deadline) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            poll(&p, 1, 20);
            continue;
        }
        return;
    }
}

/* Child side: never returns. The first sweep faults the region in, flat
 * out; every later one rewrites the same byte of each page with a value
 * that changes per pass and is never zero, so no page ever looks like a
 * zero page to QEMU and every sweep really changes every page. With a RATE
 * the later sweeps write RATE MiB worth of pages a second, in 1 ms ticks. */
static void dirtier_run(unsigned long mib, unsigned long rate, struct dirty_shared *sh)
{
    size_t pages = (size_t)mib * PAGES_PER_MIB;
    uint64_t pages_per_s = (uint64_t)rate * PAGES_PER_MIB;
    uint64_t pass = 1, t0, last, owed = 0;
    unsigned char v;
    size_t next = 0;
    struct sched_param sp = { .sched_priority = 0 };
    volatile unsigned char *mem;
    int fd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(0); /* the agent died before prctl took effect */
    prctl(PR_SET_NAME, "lab-dirtier");
    if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0 && nice(19) < 0)
        logmsg("dirtier: cannot lower its priority: %s", strerror(errno));
    /* If the region does not fit after all, the OOM killer should take the
     * dirtier, not the agent. */
    fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "1000", 4) != 4)
            logmsg("dirtier: cannot set oom_score_adj: %s", strerror(errno));
        close(fd);
    }
    mem = mmap(NULL, pages * PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        logmsg("dirtier: cannot map %lu MiB: %s", mib, strerror(errno));
        _exit(3);
    }
    for (;; pass++) {
        t0 = mono_ns();
        v = (unsigned char)(pass % 255 + 1);
        for (size_t i = 0; i < pages; i++)
            mem[i * PAGE_BYTES] = v;
        __atomic_store_n(&sh->last_pass_ns, mono_ns() - t0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->passes, pass, __ATOMIC_RELEASE);
        if (pages_per_s)
            break;
    }

    /* Paced: every tick writes the pages the elapsed time (at most
     * DIRTY_TICK_MAX_NS of it) is owed, then sleeps a tick. */
    pass++;
    v = (unsigned char)(pass % 255 + 1);
    t0 = last = mono_ns();
    for (;;) {
        const struct timespec tick = { .tv_sec = 0, .tv_nsec = (long)DIRTY_TICK_NS };
        uint64_t now = mono_ns(), el = now - last, n;

        last = now;
        if (el > DIRTY_TICK_MAX_NS)
            el = DIRTY_TICK_MAX_NS;
        owed += el * pages_per_s;
        n = owed / 1000000000ull;
        owed %= 1000000000ull;
        while (n-- > 0) {
            mem[next * PAGE_BYTES] = v;
            if (++next < pages)
                continue;
            now = mono_ns();
            __atomic_store_n(&sh->last_pass_ns, now - t0, __ATOMIC_RELAXED);
            __atomic_store_n(&sh->passes, pass, __ATOMIC_RELEASE);
            next = 0;
            t0 = now;
            pass++;
            v = (unsigned char)(pass % 255 + 1);
        }
        nanosleep(&tick, NULL);
    }
}

/* Stops the running dirtier, if any, and waits for it to be gone. */
static void dirtier_stop(void)
{
    if (dirtier.pid > 0) {
        kill(dirtier.pid, SIGKILL);
        while (waitpid(dirtier.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    dirtier.pid = 0;
    dirtier.mib = 0;
    dirtier.rate = 0;
    dirtier.ack_pending = false;
}

/* Notices a dirtier that died by itself (out of memory, killed); records
 * why so "state" and a pending acknowledgement can tell. */
static void dirtier_reap(void)
{
    int status;
    pid_t r;

    if (dirtier.pid <= 0)
        return;
    r = waitpid(dirtier.pid, &status, WNOHANG);
    if (r != dirtier.pid)
        return;
    if (WIFSIGNALED(status))
        snprintf(dirtier.error, sizeof(dirtier.error),
                 "the %lu MiB dirtier was killed by signal %d%s", dirtier.mib, WTERMSIG(status),
                 WTERMSIG(status) == SIGKILL ? " (out of memory? try fewer MiB or give the guest more RAM)" : "");
    else
        snprintf(dirtier.error, sizeof(dirtier.error), "the %lu MiB dirtier exited with status %d%s",
                 dirtier.mib, WEXITSTATUS(status),
                 WEXITSTATUS(status) == 3 ? " (cannot map its region; try fewer MiB)" : "");
    logmsg("%s", dirtier.error);
    dirtier.pid = 0;
    dirtier.mib = 0;
    dirtier.rate = 0;
}

/* MemAvailable of /proc/meminfo, in MiB. */
static bool available_mib(unsigned long *mib)
{
    char buf[4096];
    const char *p;
    ssize_t n;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    p = strstr(buf, "MemAvailable:");
    if (!p)
        return false;
    *mib = strtoul(p + strlen("MemAvailable:"), NULL, 10) / 1024;
    return true;
}

/* A whole decimal number, no sign; *end is left after it. */
static bool parse_count(const char *s, unsigned long *val, char **end)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *val = strtoul(s, end, 10);
    return errno == 0 && *val <= 1000000ul;
}

/* "dirty MIB [MIB_PER_S]": replaces the running dirtier (if any) by one
 * over MIB MiB, flat out or at MIB_PER_S (0: flat out); "dirty 0" just
 * stops it. Returns true when the reply is in O now, false when it is sent
 * later, after the first full sweep (dirtier_poll). */
static bool dirtier_request(struct outbuf *o, const char *arg, int port, int usock)
{
    unsigned long mib, rate = 0, limit;
    char *end;
    pid_t pid;

    if (!parse_count(arg, &mib, &end) ||
        (*end && (*end != ' ' || !parse_count(end + 1, &rate, &end) || *end))) {
        out_add(o, "{\"error\":\"usage: dirty MIB [MIB_PER_S] (whole numbers; MIB 0 stops the dirtier, "
                   "no or 0 MIB_PER_S dirties flat out)\"}");
        return true;
    }
    /* What is free now plus what the running dirtier gives back, less a
     * margin for the kernel and the agent; more and the OOM killer ends the
     * dirtier halfway through its first sweep. */
    limit = 0;
    if (available_mib(&limit)) {
        limit += dirtier.mib;
        limit = limit > 16 ? limit - 16 : 0;
    }
    if (mib > 0 && limit && mib > limit) {
        out_add(o, "{\"error\":\"dirty %lu: the guest has room for at most %lu MiB; "
                   "ask for less or give the guest more RAM\"}", mib, limit);
        return true;
    }
    if (!dirtier.shared) {
        void *p = mmap(NULL, sizeof(struct dirty_shared), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            out_add(o, "{\"error\":\"cannot map the dirtier's counter page: %s\"}", strerror(errno));
            return true;
        }
        dirtier.shared = p;
    }
    dirtier_stop();
    dirtier.error[0] = '\0';
    __atomic_store_n(&dirtier.shared->passes, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&dirtier.shared->last_pass_ns, 0, __ATOMIC_RELAXED);
    if (mib == 0) {
        out_add(o, "{\"dirty\":");
        out_dirty(o);
        out_add(o, "}");
        return true;
    }
    pid = fork();
    if (pid < 0) {
        out_add(o, "{\"error\":\"cannot start the dirtier: %s\"}", strerror(errno));
        return true;
    }
    if (pid == 0) {
        if (port >= 0)
            close(port);
        if (usock >= 0)
            close(usock);
        dirtier_run(mib, rate, dirtier.shared);
    }
    dirtier.pid = pid;
    dirtier.mib = mib;
    dirtier.rate = rate;
    dirtier.ack_pending = true;
    if (rate)
        logmsg("dirtier started over %lu MiB at %lu MiB/s (pid %d)", mib, rate, (int)pid);
    else
        logmsg("dirtier started over %lu MiB, flat out (pid %d)", mib, (int)pid);
    return false;
}

/* Sends the pending "dirty" acknowledgement once the first sweep is done
 * or the dirtier died; reaps a dirtier that died by itself. */
static void dirtier_poll(int port)
{
    struct outbuf o = { .len = 0 };

    dirtier_reap();
    if (!dirtier.ack_pending)
        return;
    if (dirtier.pid > 0 && __atomic_load_n(&dirtier.shared->passes, __ATOMIC_ACQUIRE) == 0)
        return;
    dirtier.ack_pending = false;
    if (dirtier.pid > 0) {
        out_add(&o, "{\"dirty\":");
        out_dirty(&o);
        out_add(&o, "}\n");
    } else {
        out_add(&o, "{\"error\":");
        out_str(&o, dirtier.error);
        out_add(&o, "}\n");
    }
    if (port >= 0)
        write_reply(port, o.buf, o.len);
}

static void probe_reset(void)
{
    probe.since_ns = probe.last_echo_ns = mono_ns();
    probe.max_gap_ns = 0;
    probe.sent_at_reset = beacon_seq;
    probe.echoes = 0;
}

/* Drains the echoes the beacon receiver sent back. */
static void probe_poll(int usock)
{
    char buf[160];

    while (usock >= 0 && recv(usock, buf, sizeof(buf), 0) > 0) {
        uint64_t now = mono_ns();

        if (now - probe.last_echo_ns > probe.max_gap_ns)
            probe.max_gap_ns = now - probe.last_echo_ns;
        probe.last_echo_ns = now;
        probe.echoes++;
    }
}

static void probe_report(struct outbuf *o)
{
    uint64_t now = mono_ns();
    uint64_t gap = probe.max_gap_ns;

    /* No echo since the last one counts too, while it lasts. */
    if (now - probe.last_echo_ns > gap)
        gap = now - probe.last_echo_ns;
    out_add(o, "{\"max_gap_ms\":%llu,\"since_ms\":%llu,\"sent\":%llu,\"echoed\":%llu}",
            (unsigned long long)(gap / 1000000ull),
            (unsigned long long)((now - probe.since_ns) / 1000000ull),
            (unsigned long long)(beacon_seq - probe.sent_at_reset),
            (unsigned long long)probe.echoes);
}

static void handle_request(int fd, int usock, char *line, const struct opts *opt)
{
    struct outbuf o = { .len = 0 };

    line[strcspn(line, "\r")] = '\0';
    if (strcmp(line, "ping") == 0) {
        out_add(&o, "pong");
    } else if (strcmp(line, "state") == 0) {
        build_state(&o, opt);
    } else if (strncmp(line, "dirty", 5) == 0 && (line[5] == ' ' || line[5] == '\0')) {
        if (!dirtier_request(&o, line[5] ? line + 6 : "", fd, usock))
            return;
    } else if (strcmp(line, "probe") == 0 || strcmp(line, "probe reset") == 0) {
        probe_poll(usock);
        if (line[5])
            probe_reset();
        probe_report(&o);
    } else if (line[0] == '\0') {
        return;
    } else {
        out_add(&o, "{\"error\":\"unknown request; try ping, state, probe [reset] or dirty MIB [MIB_PER_S]\"}");
    }
    out_add(&o, "\n");
    write_reply(fd, o.buf, o.len);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: migd-lab-agent --name NAME --gateway IP [--beacon-port N]\n"
            "                      [--interval-ms N] [--port-name NAME]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    o->name = "guest";
    o->gateway = NULL;
    o->beacon_port = 7490;
    o->interval_ms = 10;
    o->port_name = "org.migd.lab.0";
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--name") == 0)
            o->name = argv[++i];
        else if (strcmp(argv[i], "--gateway") == 0)
            o->gateway = argv[++i];
        else if (strcmp(argv[i], "--beacon-port") == 0)
            o->beacon_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--interval-ms") == 0)
            o->interval_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--port-name") == 0)
            o->port_name = argv[++i];
        else
            usage();
    }
    if (o->interval_ms <= 0 || o->beacon_port <= 0 || o->beacon_port > 65535)
        usage();
}

int main(int argc, char **argv)
{
    struct opts opt;
    struct sockaddr_in gw = { .sin_family = AF_INET };
    char line[LINE_MAX_LEN];
    size_t line_len = 0;
    bool discarding = false;
    uint64_t boot_id = 0, interval, next_beacon, next_port_scan = 0, port_idle_until = 0;
    int port = -1, usock = -1;
    int rnd;

    parse_opts(argc, argv, &opt);
    signal(SIGPIPE, SIG_IGN);

    /* The boot id lets the outage tool tell a rebooted guest's sequence
     * numbers from the previous run's. */
    rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rnd >= 0) {
        if (read(rnd, &boot_id, sizeof(boot_id)) != sizeof(boot_id))
            boot_id = mono_ns();
        close(rnd);
    }

    if (opt.gateway) {
        gw.sin_port = htons((uint16_t)opt.beacon_port);
        if (inet_pton(AF_INET, opt.gateway, &gw.sin_addr) != 1) {
            logmsg("bad gateway address '%s'", opt.gateway);
            return 2;
        }
        usock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (usock < 0)
            logmsg("no UDP socket, beacons disabled: %s", strerror(errno));
    }

    interval = (uint64_t)opt.interval_ms * 1000000ull;
    next_beacon = mono_ns();
    probe_reset();
    for (;;) {
        uint64_t now = mono_ns();
        struct pollfd p = { .fd = port, .events = POLLIN };
        int timeout_ms;

        if (port < 0 && now >= next_port_scan) {
            port = open_port(opt.port_name);
            next_port_scan = now + 200000000ull;
        }

        if (usock >= 0 && now >= next_beacon) {
            char msg[160];
            int n = snprintf(msg, sizeof(msg), "MIGDLAB1 %s %016llx %llu\n", opt.name,
                             (unsigned long long)boot_id, (unsigned long long)(beacon_seq + 1));
            /* Sequence numbers count packets handed to the kernel, so a
             * gap in them at the receiver is real loss, not a send error. */
            if (sendto(usock, msg, (size_t)n, 0, (struct sockaddr *)&gw, sizeof(gw)) == n)
                beacon_seq++;
            next_beacon += interval;
            /* After a pause (migration stop-and-copy) do not send a burst
             * that would hide the gap. */
            if (next_beacon <= now)
                next_beacon = now + interval;
        }

        dirtier_poll(port);
        probe_poll(usock);

        timeout_ms = usock >= 0 ? (int)((next_beacon - now + 999999ull) / 1000000ull) : 200;
        if (timeout_ms > 200)
            timeout_ms = 200;
        /* the dirtier's first sweep ends without waking us */
        if ((dirtier.ack_pending || dirtier.pid > 0) && timeout_ms > 10)
            timeout_ms = 10;
        /* While no host is connected the port reports POLLHUP at once;
         * look at it again only on the next tick instead of spinning. */
        if (port < 0 || now < port_idle_until)
            p.fd = -1;
        if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
            logmsg("poll: %s", strerror(errno));
            return 1;
        }
        if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (!(p.revents & POLLIN)) {
            port_idle_until = mono_ns() + (interval < 20000000ull ? interval : 20000000ull);
            continue;
        }
        for (;;) {
            char buf[512];
            ssize_t n = read(port, buf, sizeof(buf));

            if (n <= 0) {
                if (n == 0) {
                    /* host side closed: a half-read line was its, not the
                     * next client's */
                    port_idle_until = mono_ns() + interval;
                    line_len = 0;
                    discarding = false;
                    /* nobody is left to read a "dirty" acknowledgement */
                    dirtier.ack_pending = false;
                }
                break;
            }
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                    line[line_len] = '\0';
                    if (!discarding)
                        handle_request(port, usock, line, &opt);
                    line_len = 0;
                    discarding = false;
                } else if (line_len + 1 < sizeof(line)) {
                    line[line_len++] = buf[i];
                } else {
                    discarding = true; /* overlong line: drop it whole */
                }
            }
        }
    }
}
