/* vdpa-vring: the kernel bed's stand-in for migd owning a vDPA device (no
 * guest): it is the owner and driver of two vdpa_sim_net devices (split
 * rings in its own memory, TX looped back to RX by the simulator), and
 * drives the vdpa plugin, loaded into this process as migd loads it, on
 * them: pre_switchover suspends the running source, save_state carries its
 * vring bases, check_state and restore_state set them on the destination
 * before it starts, which then continues from there; abort resumes the
 * source where the kernel has RESUME, and says it cannot where it has not
 * (6.1). Prints one "ok - ..." or "not ok - ..." line a check. With
 * --features it prints what the kernel offers on a device's
 * /dev/vhost-vdpa-N, which test-vdpa expects the plugin to report.
 *
 *   vdpa-vring PLUGIN.so SRC DST FRAMES      (SRC, DST: vdpa device names)
 *   vdpa-vring --features DEV                 prints "FEATURES BACKEND" in hex */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <migd/plugin.h>

#define QSZ 16
#define BUFSZ 2048
#define RX 0
#define TX 1
#define FRAME_LEN 60

/* include/uapi/linux/vhost_types.h, Linux 6.4. */
#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME 0x5
#endif

struct vq {
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint8_t *bufs;              /* QSZ buffers of BUFSZ */
    uint16_t next;              /* the next avail index the driver fills */
    int kick, call;
};

struct sim {
    char path[64];
    int fd;
    uint64_t backend;           /* what the kernel offers */
    uint8_t *mem;
    size_t memlen;
    struct vq vq[2];
};

static int failures;

static void
check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
check(int cond, const char *fmt, ...)
{
    va_list ap;

    printf("%s - ", cond ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failures += !cond;
}

static void
die(const char *what)
{
    printf("not ok - %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
xioctl(int fd, unsigned long req, void *arg, const char *what)
{
    if (ioctl(fd, req, arg) < 0)
        die(what);
}

static void
find_vhost(const char *name, char *ret, size_t len)
{
    char dir[256];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof(dir), "/sys/bus/vdpa/devices/%s", name);
    if (!(d = opendir(dir)))
        die(dir);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "vhost-vdpa-", 11) == 0) {
            snprintf(ret, len, "/dev/%.40s", e->d_name);
            closedir(d);
            return;
        }
    }
    errno = ENOENT;
    die("no vhost-vdpa device");
}

static void
set_status(struct sim *s, uint8_t status)
{
    xioctl(s->fd, VHOST_VDPA_SET_STATUS, &status, "VHOST_VDPA_SET_STATUS");
}

/* Opens and sets up @name up to the point where its vrings' bases would be
 * set: owner, backend features, features, the IOTLB, ring addresses and
 * eventfds. Rings are zeroed: the driver's indices start at @base. */
static void
sim_setup(struct sim *s, const char *name)
{
    uint64_t backend, features, want = (1ULL << VIRTIO_F_VERSION_1) |
                                       (1ULL << VIRTIO_F_ACCESS_PLATFORM);
    struct vhost_msg_v2 msg = { .type = VHOST_IOTLB_MSG_V2 };
    uint8_t status;

    find_vhost(name, s->path, sizeof(s->path));
    if ((s->fd = open(s->path, O_RDWR)) < 0)
        die(s->path);
    xioctl(s->fd, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
    xioctl(s->fd, VHOST_GET_BACKEND_FEATURES, &backend, "VHOST_GET_BACKEND_FEATURES");
    s->backend = backend;
    backend &= (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ULL << VHOST_BACKEND_F_SUSPEND) |
               (1ULL << VHOST_BACKEND_F_RESUME);
    xioctl(s->fd, VHOST_SET_BACKEND_FEATURES, &backend, "VHOST_SET_BACKEND_FEATURES");
    set_status(s, 0);
    set_status(s, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    xioctl(s->fd, VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES");
    features &= want;
    xioctl(s->fd, VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES");
    set_status(s, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
               VIRTIO_CONFIG_S_FEATURES_OK);
    xioctl(s->fd, VHOST_VDPA_GET_STATUS, &status, "VHOST_VDPA_GET_STATUS");
    if (!(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
        errno = EINVAL;
        die("FEATURES_OK did not stick");
    }
    /* Per queue: desc, avail and used a page each, then its buffers. */
    s->memlen = 2 * (3 * 4096 + QSZ * BUFSZ);
    s->mem = mmap(NULL, s->memlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->mem == MAP_FAILED)
        die("mmap");
    msg.iotlb = (struct vhost_iotlb_msg){ .iova = (uintptr_t)s->mem, .size = s->memlen,
                                          .uaddr = (uintptr_t)s->mem, .perm = VHOST_ACCESS_RW,
                                          .type = VHOST_IOTLB_UPDATE };
    if (write(s->fd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
        die("the IOTLB update");
    for (int i = 0; i < 2; i++) {
        struct vq *q = &s->vq[i];
        uint8_t *at = s->mem + (size_t)i * (3 * 4096 + QSZ * BUFSZ);
        struct vhost_vring_state num = { .index = i, .num = QSZ };
        struct vhost_vring_addr addr = { .index = i };
        struct vhost_vring_file kick = { .index = i }, call = { .index = i };

        q->desc = (void *)at;
        q->avail = (void *)(at + 4096);
        q->used = (void *)(at + 8192);
        q->bufs = at + 3 * 4096;
        addr.desc_user_addr = (uintptr_t)q->desc;
        addr.avail_user_addr = (uintptr_t)q->avail;
        addr.used_user_addr = (uintptr_t)q->used;
        kick.fd = q->kick = eventfd(0, EFD_CLOEXEC);
        call.fd = q->call = eventfd(0, EFD_CLOEXEC);
        xioctl(s->fd, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM");
        xioctl(s->fd, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR");
        xioctl(s->fd, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK");
        xioctl(s->fd, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL");
    }
}

/* The driver's side of the rings continues at @base, as a guest's memory
 * would after a migration; the queues are enabled and the device started. */
static void
sim_start(struct sim *s, uint16_t base)
{
    for (int i = 0; i < 2; i++) {
        struct vhost_vring_state on = { .index = i, .num = 1 };

        s->vq[i].next = base;
        s->vq[i].avail->idx = base;
        s->vq[i].used->idx = base;
        xioctl(s->fd, VHOST_VDPA_SET_VRING_ENABLE, &on, "VHOST_VDPA_SET_VRING_ENABLE");
    }
    set_status(s, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
               VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void
post(struct vq *q, uint32_t len, uint16_t flags)
{
    uint16_t slot = q->next % QSZ;

    q->desc[slot] = (struct vring_desc){ .addr = (uintptr_t)(q->bufs + slot * BUFSZ),
                                         .len = len, .flags = flags };
    q->avail->ring[slot] = slot;
    __atomic_store_n(&q->avail->idx, ++q->next, __ATOMIC_RELEASE);
}

/* Queues one broadcast frame numbered @n on TX (and a buffer on RX) and
 * kicks TX. */
static void
send_frame(struct sim *s, uint8_t n)
{
    struct vq *tx = &s->vq[TX], *rx = &s->vq[RX];
    uint8_t *f = tx->bufs + (tx->next % QSZ) * BUFSZ;
    uint64_t one = 1;

    memset(rx->bufs + (rx->next % QSZ) * BUFSZ, 0, BUFSZ);
    post(rx, BUFSZ, VRING_DESC_F_WRITE);
    memset(f, 0, sizeof(struct virtio_net_hdr_v1));
    memset(f + sizeof(struct virtio_net_hdr_v1), 0xff, 6);
    memset(f + sizeof(struct virtio_net_hdr_v1) + 6, n, FRAME_LEN - 6);
    post(tx, sizeof(struct virtio_net_hdr_v1) + FRAME_LEN, 0);
    if (write(tx->kick, &one, sizeof(one)) != sizeof(one))
        die("kick");
}

/* Waits up to @ms for TX's used index to reach @want. */
static int
wait_used(struct sim *s, uint16_t want, int ms)
{
    struct timespec tick = { .tv_nsec = 1000000 };

    for (int i = 0; i < ms; i++) {
        if (__atomic_load_n(&s->vq[TX].used->idx, __ATOMIC_ACQUIRE) == want)
            return 1;
        nanosleep(&tick, NULL);
    }
    return __atomic_load_n(&s->vq[TX].used->idx, __ATOMIC_ACQUIRE) == want;
}

/* Did RX get frame @n in the buffer of its avail index @idx? */
static int
got_frame(struct sim *s, uint16_t idx, uint8_t n)
{
    const uint8_t *f = s->vq[RX].bufs + (idx % QSZ) * BUFSZ + sizeof(struct virtio_net_hdr_v1);

    return __atomic_load_n(&s->vq[RX].used->idx, __ATOMIC_ACQUIRE) == (uint16_t)(idx + 1) &&
           f[0] == 0xff && f[6] == n && f[FRAME_LEN - 1] == n;
}

static uint16_t
vring_base(struct sim *s, unsigned int index)
{
    struct vhost_vring_state st = { .index = index };

    xioctl(s->fd, VHOST_GET_VRING_BASE, &st, "VHOST_GET_VRING_BASE");
    return (uint16_t)st.num;
}

/* --features: the device's features and backend features, as the kernel
 * offers them to whoever opens it. */
static int
print_features(const char *name)
{
    uint64_t features, backend;
    char path[64];
    int fd;

    find_vhost(name, path, sizeof(path));
    if ((fd = open(path, O_RDWR)) < 0)
        die(path);
    xioctl(fd, VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES");
    xioctl(fd, VHOST_GET_BACKEND_FEATURES, &backend, "VHOST_GET_BACKEND_FEATURES");
    printf("0x%llx 0x%llx\n", (unsigned long long)features, (unsigned long long)backend);
    close(fd);
    return 0;
}

static struct migd_device
device(const char *name, uint32_t side)
{
    return (struct migd_device){ .size = sizeof(struct migd_device), .kind = MIGD_DEVICE_VDPA,
                                 .side = side, .vf_index = -1, .vlan = -1, .netdev = name,
                                 .alias = name, .job = "vring" };
}

int
main(int argc, char **argv)
{
    char err[MIGD_PLUGIN_ERRLEN] = "", state[4096], want[64];
    const struct migd_plugin *(*entry)(void);
    const struct migd_plugin *p;
    struct sim src = { 0 }, dst = { 0 };
    struct migd_device sdev, ddev;
    uint32_t version = 0;
    size_t len = 0;
    void *so, *ctx = NULL;
    int frames, rc;
    uint16_t base;

    if (argc == 3 && strcmp(argv[1], "--features") == 0)
        return print_features(argv[2]);
    if (argc != 5 || (frames = atoi(argv[4])) < 1 || frames >= QSZ) {
        fprintf(stderr, "usage: vdpa-vring PLUGIN.so SRC DST FRAMES (1-%d)\n", QSZ - 1);
        return 2;
    }
    if (!(so = dlopen(argv[1], RTLD_NOW)) ||
        !(entry = (const struct migd_plugin *(*)(void))dlsym(so, MIGD_PLUGIN_ENTRY_NAME)))
        die(dlerror());
    p = entry();
    if (p->init && (rc = p->init(NULL, 0, &ctx, err, sizeof(err))) < 0)
        die(err);
    sdev = device(argv[2], MIGD_SIDE_SOURCE);
    ddev = device(argv[3], MIGD_SIDE_DESTINATION);

    sim_setup(&src, argv[2]);
    sim_start(&src, 0);
    for (int i = 0; i < frames; i++) {
        send_frame(&src, (uint8_t)(i + 1));
        if (!wait_used(&src, (uint16_t)(i + 1), 1000) ||
            !got_frame(&src, (uint16_t)i, (uint8_t)(i + 1)))
            break;
    }
    check(src.vq[TX].used->idx == frames &&
          got_frame(&src, (uint16_t)(frames - 1), (uint8_t)frames),
          "%s (%s) runs: %d frames looped TX to RX (TX used index %u)", argv[2], src.path,
          frames, src.vq[TX].used->idx);

    rc = p->pre_switchover(ctx, &sdev, err, sizeof(err));
    check(rc == 0, "pre_switchover suspends %s%s%s", argv[2], rc ? ": " : "", rc ? err : "");
    send_frame(&src, 0x77);
    check(!wait_used(&src, (uint16_t)(frames + 1), 300),
          "... a frame kicked while suspended is not processed in 300 ms");

    rc = p->save_state(ctx, &sdev, (uint8_t *)state, sizeof(state) - 1, &len, &version, err,
                       sizeof(err));
    state[rc == 0 ? len : 0] = '\0';
    check(rc == 0, "save_state on the suspended %s%s%s", argv[2], rc ? ": " : "", rc ? err : "");
    for (const char *l = state; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
        printf("# state: %.*s\n", (int)strcspn(l, "\n"), l);
    snprintf(want, sizeof(want), "\nvring 0 %d\nvring 1 %d\n", frames, frames);
    check(strstr(state, want) != NULL, "... carries vring 0 and 1 at base %d (the frames it "
          "took), as GET_VRING_BASE says: %u %u", frames, vring_base(&src, 0), vring_base(&src, 1));

    sim_setup(&dst, argv[3]);
    rc = p->check_state(ctx, &ddev, (uint8_t *)state, len, version, err, sizeof(err));
    check(rc == 0, "check_state on %s, set up but not started%s%s", argv[3], rc ? ": " : "",
          rc ? err : "");
    rc = p->restore_state(ctx, &ddev, (uint8_t *)state, len, version, err, sizeof(err));
    check(rc == 0, "restore_state sets its vring bases%s%s", rc ? ": " : "", rc ? err : "");
    base = vring_base(&dst, TX);
    check(base == frames && vring_base(&dst, RX) == frames,
          "... %s reads them back: RX %u, TX %u", argv[3], vring_base(&dst, RX), base);
    sim_start(&dst, base);
    send_frame(&dst, 0x42);
    check(wait_used(&dst, (uint16_t)(base + 1), 1000) && got_frame(&dst, base, 0x42),
          "... and started, continues from there: frame %d went at TX avail index %u, came back "
          "on RX, used index %u", frames + 1, base, dst.vq[TX].used->idx);
    check(vring_base(&dst, TX) == base + 1, "... its TX vring base is now %u",
          vring_base(&dst, TX));

    rc = p->abort(ctx, &sdev, err, sizeof(err));
    if (src.backend & (1ULL << VHOST_BACKEND_F_RESUME)) {
        check(rc == 0, "abort resumes %s%s%s", argv[2], rc ? ": " : "", rc ? err : "");
        check(rc == 0 && wait_used(&src, (uint16_t)(frames + 1), 1000) &&
              got_frame(&src, (uint16_t)frames, 0x77),
              "... and the frame kicked while it was suspended goes through without a new kick");
    } else {
        check(rc == -EOPNOTSUPP && strstr(err, "has no RESUME"), "abort on a kernel without "
              "RESUME (backend features 0x%llx) leaves %s suspended, saying so: %s",
              (unsigned long long)src.backend, argv[2], err);
        check(!wait_used(&src, (uint16_t)(frames + 1), 300),
              "... and the frame kicked while it was suspended is still not processed");
    }
    rc = p->check_state(ctx, &ddev, (uint8_t *)state, len, version, err, sizeof(err));
    check(rc == -EBUSY && strstr(err, "already started (DRIVER_OK)"),
          "a started device is refused vring bases: %s", err);
    if (p->fini)
        p->fini(ctx);
    return failures ? 1 : 0;
}
