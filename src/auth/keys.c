#include "auth/keys.h"

#include "latch_limits.h"
#include "util/b64url.h"
#include "util/fsutil.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int keys_load_hs256(const char *data_dir, const char *env_secret, int create,
                    struct jws_key **out, int *generated, char *err, size_t err_size)
{
    char path[PATH_MAX];
    unsigned char secret[LATCH_MAX_SECRET_BYTES + 1];
    size_t len = 0;
    int rc;

    *generated = 0;
    if (env_secret != NULL) {
        len = strlen(env_secret);
        if (len < LATCH_MIN_SECRET_BYTES || len > LATCH_MAX_SECRET_BYTES) {
            snprintf(err, err_size,
                     "LATCH_JWT_SECRET must be %d to %d bytes long (it is used verbatim as the "
                     "HS256 key); it is %zu",
                     LATCH_MIN_SECRET_BYTES, LATCH_MAX_SECRET_BYTES, len);
            return -1;
        }
        rc = jws_key_new_hs256(out, (const unsigned char *)env_secret, len, NULL);
        if (rc != JWS_OK) {
            snprintf(err, err_size, "LATCH_JWT_SECRET: %s", jws_strerror(rc));
            return -1;
        }
        return 0;
    }

    snprintf(path, sizeof(path), "%s/%s", data_dir, KEYS_SECRET_FILE);
    rc = fsutil_read_secret(path, secret, sizeof(secret) - 1, &len);
    if (rc == FSUTIL_ENOENT && create) {
        unsigned char raw[LATCH_GENERATED_SECRET_BYTES];

        /* The secret is the base64url text of 512 random bits, so the file
         * can be copied into LATCH_JWT_SECRET as it is. */
        randombytes_buf(raw, sizeof(raw));
        len = b64url_encode((char *)secret, sizeof(secret), raw, sizeof(raw));
        sodium_memzero(raw, sizeof(raw));
        rc = fsutil_write_secret(path, secret, len);
        if (rc != FSUTIL_OK) {
            snprintf(err, err_size, "%s: cannot write the signing secret: %s", path,
                     fsutil_strerror(rc));
            sodium_memzero(secret, sizeof(secret));
            return -1;
        }
        *generated = 1;
    } else if (rc != FSUTIL_OK) {
        snprintf(err, err_size, "%s: %s", path, fsutil_strerror(rc));
        return -1;
    }
    while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
        len--;   /* tolerate an editor's trailing newline */
    rc = jws_key_new_hs256(out, secret, len, NULL);
    sodium_memzero(secret, sizeof(secret));
    if (rc != JWS_OK) {
        snprintf(err, err_size, "%s: the secret must be %d to %d bytes", path,
                 LATCH_MIN_SECRET_BYTES, LATCH_MAX_SECRET_BYTES);
        return -1;
    }
    return 0;
}

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
