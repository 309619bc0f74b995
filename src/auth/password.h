/*
 * password.h - Argon2id password hashes through libsodium (crypto_pwhash_str;
 * libsodium fixes parallelism at 1).  Every call here takes tens of
 * milliseconds at production parameters: call it from the worker pool, never
 * from an HTTP thread.
 *
 * Hashes imported from other systems (`latch user import`) are verified
 * too, until the user's first successful login replaces them with latch's
 * Argon2id (pwhash_needs_rehash is 1 for every one of them):
 *   - Argon2id and Argon2i PHC strings ($argon2id$, $argon2i$; libsodium,
 *     any parallelism);
 *   - bcrypt $2a$, $2b$, $2y$ (libxcrypt's crypt_rn);
 *   - PBKDF2-HMAC-SHA256 as Django writes it (pbkdf2_sha256$iter$salt$b64)
 *     and as passlib writes it ($pbkdf2-sha256$iter$ab64salt$ab64hash)
 *     (OpenSSL).
 * Their cost parameters are bounded (latch_limits.h) so that an imported
 * hash cannot make one login take minutes or gigabytes.
 */
#ifndef LATCH_AUTH_PASSWORD_H
#define LATCH_AUTH_PASSWORD_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define PWHASH_STR_BYTES crypto_pwhash_STRBYTES

struct pwhash_params {
    uint64_t memory_kib;
    uint64_t iterations;
};

enum pwhash_err {
    PWHASH_OK = 0,
    PWHASH_MISMATCH = -1,
    PWHASH_ENOMEM = -2,      /* libsodium could not allocate the Argon2 memory */
    PWHASH_EPARAMS = -3,     /* parameters outside libsodium's bounds */
};

/* Checks that params are within libsodium's bounds. */
int pwhash_params_valid(const struct pwhash_params *params);

/* Hashes password (len bytes, may hold any byte) into out. */
int pwhash_hash(const struct pwhash_params *params, const char *password, size_t len,
                char out[PWHASH_STR_BYTES]);

/* PWHASH_OK if password matches stored (latch's own or an imported hash),
 * PWHASH_MISMATCH otherwise (also for a hash of no known format). */
int pwhash_verify(const char *stored, const char *password, size_t len);

enum pwhash_kind {
    PWHASH_UNKNOWN = 0,
    PWHASH_ARGON2ID,
    PWHASH_ARGON2I,
    PWHASH_BCRYPT,
    PWHASH_PBKDF2_DJANGO,
    PWHASH_PBKDF2_PASSLIB,
};

/* What stored is, when it is well-formed and within the cost bounds;
 * otherwise PWHASH_UNKNOWN with *why saying what is wrong (for import). */
enum pwhash_kind pwhash_identify(const char *stored, const char **why);

/* 1 when stored was made with other parameters than params (or is not an
 * Argon2id hash): rehash it after the next successful verify. */
int pwhash_needs_rehash(const struct pwhash_params *params, const char *stored);

/*
 * Spends the time of one verify at params without a real hash, so a login
 * for an unknown email costs what a wrong password costs.  The dummy hash is
 * made once, on first use (pwhash_dummy_prepare makes it ahead of time; the
 * server runs it as the first job of its hashing pool).
 */
void pwhash_dummy_prepare(const struct pwhash_params *params);
void pwhash_dummy_verify(const struct pwhash_params *params, const char *password, size_t len);

#endif
