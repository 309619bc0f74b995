#include "auth/seal.h"

#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int seal_load_master_key(const char *path, unsigned char key[SEAL_KEY_BYTES], const char **why)
{
    unsigned char buf[SEAL_KEY_BYTES + 1];
    size_t len = 0;
    int rc = fsutil_read_secret(path, buf, sizeof(buf), &len);

    if (rc == FSUTIL_ENOENT) {
        *why = "the file does not exist (create one with `latch key master-init FILE`)";
        return SEAL_ENOENT;
    }
    if (rc == FSUTIL_EPERM_MODE) {
        *why = "the file is readable or writable by group or others: chmod 600 it";
        return SEAL_EMODE;
    }
    if (rc == FSUTIL_ETOOBIG || (rc == FSUTIL_OK && len != SEAL_KEY_BYTES)) {
        sodium_memzero(buf, sizeof(buf));
        *why = "the file must hold exactly 32 bytes (made by `latch key master-init FILE`)";
        return SEAL_EFORMAT;
    }
    if (rc != FSUTIL_OK) {
        *why = "the file cannot be read";
        return SEAL_EIO;
    }
    memcpy(key, buf, SEAL_KEY_BYTES);
    sodium_memzero(buf, sizeof(buf));
    return SEAL_OK;
}

int seal_create_master_key(const char *path, const char **why)
{
    unsigned char key[SEAL_KEY_BYTES];
    struct stat st;
    int rc;

    if (stat(path, &st) == 0) {
        *why = "the file exists already; a master key is never overwritten";
        return SEAL_EIO;
    }
    randombytes_buf(key, sizeof(key));
    rc = fsutil_write_secret(path, key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    if (rc != FSUTIL_OK) {
        *why = strerror(errno);
        return SEAL_EIO;
    }
    return SEAL_OK;
}

int seal(const unsigned char key[SEAL_KEY_BYTES], const char *ad, const void *plain,
         size_t plain_len, unsigned char *out, size_t out_size, size_t *out_len)
{
    unsigned long long clen = 0;

    if (out_size < plain_len + SEAL_OVERHEAD)
        return SEAL_ESIZE;
    randombytes_buf(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, plain, plain_len,
        (const unsigned char *)ad, strlen(ad), NULL, out, key);
    *out_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)clen;
    return SEAL_OK;
}

int seal_open(const unsigned char key[SEAL_KEY_BYTES], const char *ad, const unsigned char *sealed,
              size_t sealed_len, void *out, size_t out_size, size_t *out_len)
{
    unsigned long long mlen = 0;

    if (sealed_len < SEAL_OVERHEAD)
        return SEAL_EOPEN;
    if (out_size < sealed_len - SEAL_OVERHEAD)
        return SEAL_ESIZE;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, &mlen, NULL, sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            sealed_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)ad,
            strlen(ad), sealed, key) != 0)
        return SEAL_EOPEN;
    *out_len = (size_t)mlen;
    return SEAL_OK;
}
