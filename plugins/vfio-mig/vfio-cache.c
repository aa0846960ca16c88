/* vfio-mig's kept answers (see vfio-cache.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfio-cache.h"
#include "vfio-record.h"

int
vfio_cache_load(const char *dir, const char *device, struct vfio_caps *ret, char *why,
                size_t len)
{
    char path[PATH_MAX], text[1024], err[256];
    size_t n;
    FILE *f;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, device);
    if (!(f = fopen(path, "re"))) {
        rc = errno;
        snprintf(why, len, "%s %s", rc == ENOENT ? "none is kept in" : "cannot read", path);
        return rc == ENOENT ? -ENOENT : -rc;
    }
    n = fread(text, 1, sizeof(text), f);
    fclose(f);
    rc = vfio_record_read((const uint8_t *)text, n, VFIO_RECORD_VERSION, ret, err, sizeof(err));
    if (rc < 0) {
        snprintf(why, len, "%s is damaged: %s", path, err);
        return rc;
    }
    return 0;
}

int
vfio_cache_store(const char *dir, const struct vfio_caps *caps, char *why, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX], text[1024];
    size_t n;
    int fd, e;

    if (vfio_record_write(caps, text, sizeof(text), &n) < 0)
        return -ENOSPC;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        e = errno;
        snprintf(why, len, "cannot make the cache directory %s: %s", dir, strerror(e));
        return -e;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, caps->device);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, caps->device);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        e = errno;
        snprintf(why, len, "cannot keep the answer in %s: %s", tmp, strerror(e));
        return -e;
    }
    e = write(fd, text, n) != (ssize_t)n ? (errno ? errno : EIO) : fsync(fd) < 0 ? errno : 0;
    if (close(fd) < 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        snprintf(why, len, "cannot keep the answer in %s: %s", path, strerror(e));
        (void)unlink(tmp);
        return -e;
    }
    return 0;
}
