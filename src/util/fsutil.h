/*
 * fsutil.h - small files that hold secrets: written atomically (temp file,
 * fsync, rename, fsync of the directory) with mode 0600, read back only when
 * no group or other permission bit is set.
 */
#ifndef LATCH_UTIL_FSUTIL_H
#define LATCH_UTIL_FSUTIL_H

#include <stddef.h>

enum fsutil_err {
    FSUTIL_OK = 0,
    FSUTIL_ENOENT = -1,     /* the file does not exist */
    FSUTIL_EPERM_MODE = -2, /* readable or writable by group or others */
    FSUTIL_ETOOBIG = -3,    /* larger than the caller's buffer */
    FSUTIL_EIO = -4,        /* any other failure; errno tells */
};

const char *fsutil_strerror(int err);

/* Creates dir (and only dir) with mode 0700 unless it exists. */
int fsutil_mkdir(const char *dir);

/* Writes len bytes to path atomically with mode 0600. */
int fsutil_write_secret(const char *path, const void *data, size_t len);

/* Reads all of path into buf (at most size bytes) and sets *out_len.
 * Refuses a file that group or others may read or write. */
int fsutil_read_secret(const char *path, void *buf, size_t size, size_t *out_len);

#endif
