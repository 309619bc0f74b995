#include "auth/password.h"

#include "auth/pwmem.h"
#include "latch_limits.h"
#include "util/b64url.h"
#include "util/num.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PBKDF2_SHA256_BYTES 32

int pwhash_params_valid(const struct pwhash_params *params)
{
    uint64_t bytes = params->memory_kib * 1024u;

    return params->memory_kib <= SIZE_MAX / 1024u && bytes >= crypto_pwhash_MEMLIMIT_MIN &&
           bytes <= crypto_pwhash_MEMLIMIT_MAX &&
           params->iterations >= crypto_pwhash_OPSLIMIT_MIN &&
           params->iterations <= crypto_pwhash_OPSLIMIT_MAX;
}

int pwhash_hash(const struct pwhash_params *params, const char *password, size_t len,
                char out[PWHASH_STR_BYTES])
{
    int rc;

    if (!pwhash_params_valid(params))
        return PWHASH_EPARAMS;
    pwmem_enter();
    rc = crypto_pwhash_str_alg(out, password, len, params->iterations,
                               (size_t)params->memory_kib * 1024u, crypto_pwhash_ALG_ARGON2ID13);
    pwmem_leave();
    return rc == 0 ? PWHASH_OK : PWHASH_ENOMEM;
}

/* libsodium's Argon2 verify, its working area on huge pages (auth/pwmem.h). */
static int verify_argon2(const char *stored, const char *password, size_t len)
{
    int rc;

    pwmem_enter();
    rc = crypto_pwhash_str_verify(stored, password, len);
    pwmem_leave();
    return rc == 0 ? PWHASH_OK : PWHASH_MISMATCH;
}

/* ---- imported hashes ---- */

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The number between after and the next '$' (or the end when last),
 * within [min, max]; *end receives where it stopped. */
static int field_number(const char *after, int64_t min, int64_t max, const char **end)
{
    char digits[21];
    size_t n = strspn(after, "0123456789");
    int64_t v;

    if (n == 0 || n >= sizeof(digits))
        return -1;
    memcpy(digits, after, n);
    digits[n] = '\0';
    if (num_parse_i64(digits, min, max, &v) != 0)
        return -1;
    *end = after + n;
    return (int)(v > INT32_MAX ? -1 : v);
}

/* passlib's "ab64": base64 with '.' for '+' and no padding. */
static int ab64_decode(const char *in, size_t len, unsigned char *out, size_t size,
                       size_t *out_len)
{
    char std[256];
    size_t i;

    if (len == 0 || len >= sizeof(std) - 4)
        return -1;
    for (i = 0; i < len; i++)
        std[i] = in[i] == '.' ? '+' : in[i];
    return sodium_base642bin(out, size, std, len, NULL, out_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 ? 0 : -1;
}

/* Argon2 PHC parameters: m=..,t=..,p=.. within the import bounds. */
static int argon2_params_ok(const char *params, const char **why)
{
    int64_t m = -1, t = -1, p = -1;
    const char *s = params;

    while (*s != '\0' && *s != '$') {
        int64_t *dst = s[0] == 'm' ? &m : s[0] == 't' ? &t : s[0] == 'p' ? &p : NULL;
        const char *end = s;
        int v;

        if (dst == NULL || s[1] != '=' || (v = field_number(s + 2, 1, 1LL << 32, &end)) < 0) {
            *why = "malformed Argon2 parameters";
            return 0;
        }
        *dst = v;
        s = *end == ',' ? end + 1 : end;
    }
    if (m < 0 || t < 0 || p < 0) {
        *why = "Argon2 parameters must give m, t and p";
        return 0;
    }
    if (m > LATCH_MAX_IMPORT_ARGON2_MEMORY_KIB || t > LATCH_MAX_IMPORT_ARGON2_ITERATIONS ||
        p > LATCH_MAX_IMPORT_ARGON2_LANES) {
        *why = "Argon2 cost above what latch verifies (memory, iterations or lanes)";
        return 0;
    }
    return 1;
}

enum pwhash_kind pwhash_identify(const char *stored, const char **why)
{
    const char *p, *end;
    size_t len = strlen(stored);

    *why = "unknown hash format";
    if (len == 0 || len > LATCH_MAX_IMPORT_HASH_BYTES) {
        *why = "hash missing or too long";
        return PWHASH_UNKNOWN;
    }
    if (starts(stored, "$argon2id$v=19$") || starts(stored, "$argon2i$v=19$")) {
        int id = starts(stored, "$argon2id$");
        p = stored + (id ? 15 : 14);
        if (!argon2_params_ok(p, why))
            return PWHASH_UNKNOWN;
        return id ? PWHASH_ARGON2ID : PWHASH_ARGON2I;
    }
    if (starts(stored, "$2a$") || starts(stored, "$2b$") || starts(stored, "$2y$")) {
        int cost = field_number(stored + 4, 4, 31, &end);
        /* $2b$NN$ + 22 salt + 31 hash characters. */
        if (cost < 0 || end != stored + 6 || *end != '$' || len != 60) {
            *why = "malformed bcrypt hash";
            return PWHASH_UNKNOWN;
        }
        if (cost > LATCH_MAX_IMPORT_BCRYPT_COST) {
            *why = "bcrypt cost above what latch verifies";
            return PWHASH_UNKNOWN;
        }
        return PWHASH_BCRYPT;
    }
    if (starts(stored, "pbkdf2_sha256$") || starts(stored, "$pbkdf2-sha256$")) {
        int django = starts(stored, "pbkdf2_sha256$");
        const char *salt, *hash;
        unsigned char raw[64];
        size_t n = 0;
        int iter;

        p = stored + (django ? 14 : 15);
        iter = field_number(p, 1, LATCH_MAX_IMPORT_PBKDF2_ITERATIONS, &end);
        if (iter < 0 || *end != '$') {
            *why = iter < 0 && strspn(p, "0123456789") > 0
                       ? "PBKDF2 iterations above what latch verifies"
                       : "malformed PBKDF2 hash";
            return PWHASH_UNKNOWN;
        }
        salt = end + 1;
        hash = strchr(salt, '$');
        if (hash == NULL || hash == salt || strchr(hash + 1, '$') != NULL) {
            *why = "malformed PBKDF2 hash";
            return PWHASH_UNKNOWN;
        }
        hash++;
        if (django ? sodium_base642bin(raw, sizeof(raw), hash, strlen(hash), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL) != 0
                   : ab64_decode(hash, strlen(hash), raw, sizeof(raw), &n) != 0 ||
                         ab64_decode(salt, (size_t)(hash - 1 - salt), raw, sizeof(raw), &n) != 0) {
            *why = "malformed PBKDF2 hash";
            return PWHASH_UNKNOWN;
        }
        if (django && n != PBKDF2_SHA256_BYTES) {
            *why = "malformed PBKDF2 hash";
            return PWHASH_UNKNOWN;
        }
        return django ? PWHASH_PBKDF2_DJANGO : PWHASH_PBKDF2_PASSLIB;
    }
    return PWHASH_UNKNOWN;
}

static int verify_bcrypt(const char *stored, const char *password, size_t len)
{
    struct crypt_data *data;
    char *phrase;
    int rc = PWHASH_MISMATCH;

    /* crypt takes C strings: a password with a NUL cannot have been set. */
    if (memchr(password, '\0', len) != NULL)
        return PWHASH_MISMATCH;
    data = calloc(1, sizeof(*data));
    phrase = malloc(len + 1);
    if (data != NULL && phrase != NULL) {
        memcpy(phrase, password, len);
        phrase[len] = '\0';
        if (crypt_rn(phrase, stored, data, (int)sizeof(*data)) != NULL &&
            strlen(data->output) == strlen(stored) &&
            CRYPTO_memcmp(data->output, stored, strlen(stored)) == 0)
            rc = PWHASH_OK;
        sodium_memzero(phrase, len);
        sodium_memzero(data, sizeof(*data));
    }
    free(phrase);
    free(data);
    return rc;
}

static int verify_pbkdf2(const char *stored, int django, const char *password, size_t len)
{
    unsigned char salt[128], expected[64], got[PBKDF2_SHA256_BYTES];
    const char *p = stored + (django ? 14 : 15), *end, *s, *h;
    size_t salt_len = 0, expected_len = 0;
    int iter = field_number(p, 1, LATCH_MAX_IMPORT_PBKDF2_ITERATIONS, &end), rc;

    if (iter < 0)
        return PWHASH_MISMATCH;
    s = end + 1;
    h = strchr(s, '$') + 1;
    if (django) {
        /* Django uses the salt's text as bytes. */
        salt_len = (size_t)(h - 1 - s);
        if (salt_len > sizeof(salt))
            return PWHASH_MISMATCH;
        memcpy(salt, s, salt_len);
        if (sodium_base642bin(expected, sizeof(expected), h, strlen(h), NULL, &expected_len,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return PWHASH_MISMATCH;
    } else if (ab64_decode(s, (size_t)(h - 1 - s), salt, sizeof(salt), &salt_len) != 0 ||
               ab64_decode(h, strlen(h), expected, sizeof(expected), &expected_len) != 0) {
        return PWHASH_MISMATCH;
    }
    if (expected_len != sizeof(got) ||
        PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, iter, EVP_sha256(),
                          (int)sizeof(got), got) != 1)
        return PWHASH_MISMATCH;
    rc = CRYPTO_memcmp(got, expected, sizeof(got)) == 0 ? PWHASH_OK : PWHASH_MISMATCH;
    sodium_memzero(got, sizeof(got));
    return rc;
}

/* The format a stored hash claims by its prefix.  Verification dispatches
 * on it alone: the cost bounds of pwhash_identify are for what an import
 * lets in, and latch's own Argon2id hashes may be costlier (up to what
 * LATCH_ARGON2_* allows). */
static enum pwhash_kind kind_of(const char *stored)
{
    if (starts(stored, "$argon2id$"))
        return PWHASH_ARGON2ID;
    if (starts(stored, "$argon2i$"))
        return PWHASH_ARGON2I;
    if (starts(stored, "$2a$") || starts(stored, "$2b$") || starts(stored, "$2y$"))
        return strlen(stored) == 60 ? PWHASH_BCRYPT : PWHASH_UNKNOWN;
    if (starts(stored, "pbkdf2_sha256$") || starts(stored, "$pbkdf2-sha256$")) {
        const char *why;
        /* Well-formed (its fields are parsed below) and within bounds. */
        return pwhash_identify(stored, &why);
    }
    return PWHASH_UNKNOWN;
}

int pwhash_verify(const char *stored, const char *password, size_t len)
{
    switch (kind_of(stored)) {
    case PWHASH_ARGON2ID:
    case PWHASH_ARGON2I:
        return verify_argon2(stored, password, len);
    case PWHASH_BCRYPT:
        return verify_bcrypt(stored, password, len);
    case PWHASH_PBKDF2_DJANGO:
        return verify_pbkdf2(stored, 1, password, len);
    case PWHASH_PBKDF2_PASSLIB:
        return verify_pbkdf2(stored, 0, password, len);
    case PWHASH_UNKNOWN:
        break;
    }
    return PWHASH_MISMATCH;
}

int pwhash_needs_rehash(const struct pwhash_params *params, const char *stored)
{
    if (strncmp(stored, crypto_pwhash_argon2id_STRPREFIX,
                strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
        return 1;
    /* libsodium's needs_rehash compares memory and iterations only: an
     * imported Argon2id hash of more lanes is not latch's either. */
    if (strstr(stored, ",p=1$") == NULL)
        return 1;
    return crypto_pwhash_str_needs_rehash(stored, params->iterations,
                                          (size_t)params->memory_kib * 1024u) != 0;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static const struct pwhash_params *dummy_params;
static char dummy_hash[PWHASH_STR_BYTES];
static int dummy_ready;

static void make_dummy(void)
{
    unsigned char random_password[32];

    randombytes_buf(random_password, sizeof(random_password));
    if (pwhash_hash(dummy_params, (const char *)random_password, sizeof(random_password),
                    dummy_hash) == PWHASH_OK)
        dummy_ready = 1;
    sodium_memzero(random_password, sizeof(random_password));
}

void pwhash_dummy_prepare(const struct pwhash_params *params)
{
    dummy_params = params;
    pthread_once(&dummy_once, make_dummy);
}

void pwhash_dummy_verify(const struct pwhash_params *params, const char *password, size_t len)
{
    pwhash_dummy_prepare(params);
    if (dummy_ready)
        (void)pwhash_verify(dummy_hash, password, len);
}
