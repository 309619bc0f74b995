#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fsutil_strerror(int err)
{
    switch (err) {
    case FSUTIL_OK: return "ok";
    case FSUTIL_ENOENT: return "no such file";
    case FSUTIL_EPERM_MODE: return "file is accessible by group or others (chmod 600 it)";
    case FSUTIL_ETOOBIG: return "file is too large";
    default: return strerror(errno);
    }
}

int fsutil_mkdir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return FSUTIL_OK;
    return FSUTIL_EIO;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsutil_write_secret(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int fd, dfd, n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return FSUTIL_EIO;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return FSUTIL_EIO;
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return FSUTIL_EIO;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return FSUTIL_EIO;
    }
    /* The rename is durable only once the directory entry is on disk. */
    n = snprintf(dir, sizeof(dir), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return FSUTIL_EIO;
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return FSUTIL_OK;
}

int fsutil_read_secret(const char *path, void *buf, size_t size, size_t *out_len)
{
    struct stat st;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? FSUTIL_ENOENT : FSUTIL_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return FSUTIL_EIO;
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return FSUTIL_EPERM_MODE;
    }
    if (st.st_size < 0 || (size_t)st.st_size > size) {
        close(fd);
        return FSUTIL_ETOOBIG;
    }
    while (got < size) {
        ssize_t n = read(fd, (unsigned char *)buf + got, size - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return FSUTIL_EIO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *out_len = got;
    return FSUTIL_OK;
}
