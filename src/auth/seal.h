/*
 * seal.h - secrets at rest under a master key the database never holds.
 *
 * Private keys, HS256 secrets and the refresh-token key kept in PostgreSQL
 * are sealed with XChaCha20-Poly1305 (libsodium) under a 32-byte master key
 * that every instance reads from LATCH_MASTER_KEY_FILE; the associated data
 * names what is sealed (a key's kid, a secret's name), so a sealed value
 * moved to another row does not open.  A database dump alone reveals no
 * private key.
 *
 * Sealed layout: 24-byte random nonce, then the ciphertext with its 16-byte
 * tag.
 */
#ifndef LATCH_AUTH_SEAL_H
#define LATCH_AUTH_SEAL_H

#include <stddef.h>

#define SEAL_KEY_BYTES 32
#define SEAL_OVERHEAD 40          /* nonce + tag */

enum seal_err {
    SEAL_OK = 0,
    SEAL_ENOENT = -1,    /* the master key file does not exist */
    SEAL_EMODE = -2,     /* readable or writable by group or others */
    SEAL_EFORMAT = -3,   /* not 32 bytes */
    SEAL_EIO = -4,
    SEAL_EOPEN = -5,     /* a sealed value does not open under this key */
    SEAL_ESIZE = -6,     /* an output buffer is too small */
};

/* Reads a master key file: exactly 32 bytes, mode 0600 (no group or other
 * bit).  *why receives a sentence for the operator on failure. */
int seal_load_master_key(const char *path, unsigned char key[SEAL_KEY_BYTES], const char **why);

/* Creates a new master key file (32 random bytes, mode 0600); refuses to
 * overwrite an existing file. */
int seal_create_master_key(const char *path, const char **why);

int seal(const unsigned char key[SEAL_KEY_BYTES], const char *ad, const void *plain,
         size_t plain_len, unsigned char *out, size_t out_size, size_t *out_len);
int seal_open(const unsigned char key[SEAL_KEY_BYTES], const char *ad, const unsigned char *sealed,
              size_t sealed_len, void *out, size_t out_size, size_t *out_len);

#endif
