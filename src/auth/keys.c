#include "auth/keys.h"

#include "latch_limits.h"
#include "util/b64url.h"
#include "util/fsutil.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int keys_load_refresh_key(const char *data_dir, int create, unsigned char out[32], char *err,
                          size_t err_size)
{
    char path[PATH_MAX], text[128];
    unsigned char raw[32];
    size_t len = 0, n = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", data_dir, KEYS_REFRESH_FILE);
    rc = fsutil_read_secret(path, text, sizeof(text) - 1, &len);
    if (rc == FSUTIL_ENOENT && create) {
        randombytes_buf(raw, sizeof(raw));
        len = b64url_encode(text, sizeof(text), raw, sizeof(raw));
        rc = fsutil_write_secret(path, text, len);
        if (rc != FSUTIL_OK) {
            snprintf(err, err_size, "%s: cannot write the refresh key: %s", path,
                     fsutil_strerror(rc));
            sodium_memzero(raw, sizeof(raw));
            sodium_memzero(text, sizeof(text));
            return -1;
        }
    } else if (rc != FSUTIL_OK) {
        snprintf(err, err_size, "%s: %s", path, fsutil_strerror(rc));
        return -1;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    rc = b64url_decode(raw, sizeof(raw), &n, text, len);
    sodium_memzero(text, sizeof(text));
    if (rc != 0 || n != sizeof(raw)) {
        snprintf(err, err_size, "%s: expected 43 base64url characters (256 bits)", path);
        sodium_memzero(raw, sizeof(raw));
        return -1;
    }
    memcpy(out, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    return 0;
}
