/* Tests src/util/fsutil.c: secret files are written 0600 and read back only
 * when private. */
#include "test.h"

#include "util/fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh private directory under TMPDIR (or /tmp). */
static int fsutil_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, size, "%s/latch-unit-fsutil-XXXXXX", base != NULL && base[0] ? base : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Removes the regular files in dir, then dir. */
static void fsutil_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (rmdir(path) != 0)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int fsutil_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Writes data to path with the given mode, bypassing fsutil. */
static int fsutil_plain_write(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok;

    if (fd < 0)
        return -1;
    ok = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static void fsutil_write_body(const char *dir)
{
    static const unsigned char secret[] = {'s', 0, 'e', '\n', 0xff, 'c', 'r', 0, 't'};
    unsigned char buf[64];
    char path[1024];
    struct stat st;
    size_t len = 0;
    mode_t old_umask;
    int rc;

    snprintf(path, sizeof(path), "%s/jwt-secret", dir);
    /* A permissive umask must not widen the mode. */
    old_umask = umask(0);
    rc = fsutil_write_secret(path, secret, sizeof(secret));
    umask(old_umask);
    CHECK_INT(rc, FSUTIL_OK);
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_INT(st.st_size, sizeof(secret));
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK_INT(len, sizeof(secret));
    CHECK(memcmp(buf, secret, len) == 0);
    /* No temporary file is left beside it. */
    CHECK_INT(fsutil_count_entries(dir), 1);
}

TEST(fsutil_write_secret_mode_0600_exact_content)
{
    char dir[512];

    CHECK(fsutil_tmpdir(dir, sizeof(dir)) == 0);
    fsutil_write_body(dir);
    fsutil_rmdir(dir);
}

static void fsutil_replace_body(const char *dir)
{
    unsigned char buf[64];
    char path[1024];
    struct stat st;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/secret", dir);
    CHECK(fsutil_plain_write(path, "old old old old", 15, 0644) == 0);
    CHECK_INT(fsutil_write_secret(path, "new", 3), FSUTIL_OK);
    CHECK(stat(path, &st) == 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK_INT(len, 3);
    CHECK(memcmp(buf, "new", 3) == 0);
    /* An empty secret is written and read as empty. */
    CHECK_INT(fsutil_write_secret(path, "", 0), FSUTIL_OK);
    len = 99;
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK_INT(len, 0);
    CHECK_INT(fsutil_count_entries(dir), 1);
}

TEST(fsutil_write_secret_replaces_wider_file)
{
    char dir[512];

    CHECK(fsutil_tmpdir(dir, sizeof(dir)) == 0);
    fsutil_replace_body(dir);
    fsutil_rmdir(dir);
}

static void fsutil_mode_body(const char *dir)
{
    static const mode_t refused[] = {0644, 0640, 0604, 0660, 0606, 0620, 0602, 0610, 0601};
    unsigned char buf[64];
    char path[1024];
    size_t len = 77, i;
    int rc;

    snprintf(path, sizeof(path), "%s/secret", dir);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CHECK(fsutil_plain_write(path, "0123456789", 10, refused[i]) == 0);
        rc = fsutil_read_secret(path, buf, sizeof(buf), &len);
        if (rc != FSUTIL_EPERM_MODE)
            test_failed(__FILE__, __LINE__, "mode %04o: got %d, want FSUTIL_EPERM_MODE",
                        (unsigned)refused[i], rc);
        CHECK_INT(len, 77);   /* untouched on failure */
    }
    CHECK(chmod(path, 0400) == 0);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK_INT(len, 10);
    CHECK(chmod(path, 0600) == 0);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK(memcmp(buf, "0123456789", 10) == 0);
}

TEST(fsutil_read_secret_refuses_group_or_other_bits)
{
    char dir[512];

    CHECK(fsutil_tmpdir(dir, sizeof(dir)) == 0);
    fsutil_mode_body(dir);
    fsutil_rmdir(dir);
}

static void fsutil_errors_body(const char *dir)
{
    unsigned char buf[16];
    char path[1024], link_path[1024];
    size_t len = 55;

    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_ENOENT);
    CHECK_INT(len, 55);
    /* Larger than the caller's buffer; exactly the buffer is fine. */
    snprintf(path, sizeof(path), "%s/big", dir);
    CHECK(fsutil_plain_write(path, "0123456789abcdefX", 17, 0600) == 0);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_ETOOBIG);
    CHECK_INT(len, 55);
    CHECK(fsutil_plain_write(path, "0123456789abcdef", 16, 0600) == 0);
    CHECK_INT(fsutil_read_secret(path, buf, sizeof(buf), &len), FSUTIL_OK);
    CHECK_INT(len, 16);
    /* A symlink is not followed. */
    snprintf(link_path, sizeof(link_path), "%s/link", dir);
    CHECK(symlink(path, link_path) == 0);
    len = 55;
    CHECK(fsutil_read_secret(link_path, buf, sizeof(buf), &len) != FSUTIL_OK);
    CHECK_INT(len, 55);
    /* Writing into a missing directory fails cleanly. */
    snprintf(path, sizeof(path), "%s/no/such/dir/secret", dir);
    CHECK_INT(fsutil_write_secret(path, "x", 1), FSUTIL_EIO);
    CHECK(fsutil_strerror(FSUTIL_EPERM_MODE) != NULL);
    CHECK(fsutil_strerror(FSUTIL_ENOENT) != NULL);
}

TEST(fsutil_read_secret_errors)
{
    char dir[512];

    CHECK(fsutil_tmpdir(dir, sizeof(dir)) == 0);
    fsutil_errors_body(dir);
    fsutil_rmdir(dir);
}

static void fsutil_mkdir_body(const char *dir)
{
    char path[1024];
    struct stat st;
    mode_t old_umask;
    int rc;

    snprintf(path, sizeof(path), "%s/data", dir);
    old_umask = umask(0);
    rc = fsutil_mkdir(path);
    umask(old_umask);
    CHECK_INT(rc, FSUTIL_OK);
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0700);
    /* Existing: fine. */
    CHECK_INT(fsutil_mkdir(path), FSUTIL_OK);
    /* Only one level is created. */
    snprintf(path, sizeof(path), "%s/a/b", dir);
    CHECK_INT(fsutil_mkdir(path), FSUTIL_EIO);
}

TEST(fsutil_mkdir_mode_0700)
{
    char dir[512];

    CHECK(fsutil_tmpdir(dir, sizeof(dir)) == 0);
    fsutil_mkdir_body(dir);
    fsutil_rmdir(dir);
}
