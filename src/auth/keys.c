#include "auth/keys.h"

#include "auth/seal.h"
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

/* Seals candidate under name, stores it unless a value is there, and
 * unseals what the store holds into out (exactly out_len bytes). */
static int shared_secret(struct store *store, const unsigned char master_key[32],
                         const char *name, const unsigned char *candidate, size_t len,
                         unsigned char *out, char *err, size_t err_size)
{
    unsigned char sealed[64 + SEAL_OVERHEAD], stored[256];
    size_t sealed_len = 0, stored_len = 0, opened = 0;
    int rc;

    if (len > 64 || seal(master_key, name, candidate, len, sealed, sizeof(sealed),
                         &sealed_len) != SEAL_OK)
        return -1;
    rc = STORE_CALL(store, secret_get_or_put, name, sealed, sealed_len, stored, sizeof(stored),
                    &stored_len);
    if (rc != STORE_OK) {
        snprintf(err, err_size, "cannot read the %s from the database: %s", name,
                 store_strerror(rc));
        return -1;
    }
    if (seal_open(master_key, name, stored, stored_len, out, len, &opened) != SEAL_OK ||
        opened != len) {
        snprintf(err, err_size, "LATCH_MASTER_KEY_FILE is not the master key this database's "
                 "secrets were sealed with (the %s does not open)", name);
        return -1;
    }
    return 0;
}

int keys_load_refresh_key_store(struct store *store, const unsigned char master_key[32],
                                unsigned char out[32], char *err, size_t err_size)
{
    unsigned char candidate[32];
    int rc;

    randombytes_buf(candidate, sizeof(candidate));
    rc = shared_secret(store, master_key, "refresh-key", candidate, sizeof(candidate), out, err,
                       err_size);
    sodium_memzero(candidate, sizeof(candidate));
    return rc;
}

int keys_check_master_key(struct store *store, const unsigned char master_key[32], char *err,
                          size_t err_size)
{
    static const char check[] = "latch master key check 1";
    unsigned char out[sizeof(check) - 1];

    if (shared_secret(store, master_key, "master-key-check", (const unsigned char *)check,
                      sizeof(check) - 1, out, err, err_size) != 0)
        return -1;
    return sodium_memcmp(out, check, sizeof(out)) == 0 ? 0 : -1;
}

int keys_read_refresh_key(const char *dir, struct store *store, const unsigned char *master_key,
                          unsigned char out[32], char *err, size_t err_size)
{
    unsigned char stored[256];
    size_t stored_len = 0, opened = 0;
    int rc;

    if (store == NULL)
        return keys_load_refresh_key(dir, 0, out, err, err_size);
    rc = STORE_CALL(store, secret_get_or_put, "refresh-key", NULL, 0, stored, sizeof(stored),
                    &stored_len);
    if (rc != STORE_OK) {
        snprintf(err, err_size, "cannot read the refresh-key from the database: %s",
                 store_strerror(rc));
        return -1;
    }
    if (seal_open(master_key, "refresh-key", stored, stored_len, out, 32, &opened) != SEAL_OK ||
        opened != 32) {
        snprintf(err, err_size, "the refresh-key does not open under the master key");
        return -1;
    }
    return 0;
}

int keys_write_refresh_key(const char *dir, struct store *store, const unsigned char *master_key,
                           const unsigned char key[32], char *err, size_t err_size)
{
    char path[PATH_MAX], text[64];
    unsigned char sealed[32 + SEAL_OVERHEAD];
    size_t len;
    int rc;

    if (store != NULL) {
        if (seal(master_key, "refresh-key", key, 32, sealed, sizeof(sealed), &len) != SEAL_OK)
            return -1;
        rc = STORE_CALL(store, secret_put, "refresh-key", sealed, len);
        if (rc != STORE_OK) {
            snprintf(err, err_size, "cannot write the refresh-key: %s", store_strerror(rc));
            return -1;
        }
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, KEYS_REFRESH_FILE);
    len = b64url_encode(text, sizeof(text), key, 32);
    rc = fsutil_write_secret(path, text, len);
    sodium_memzero(text, sizeof(text));
    if (rc != FSUTIL_OK) {
        snprintf(err, err_size, "%s: cannot write the refresh key: %s", path,
                 fsutil_strerror(rc));
        return -1;
    }
    return 0;
}
