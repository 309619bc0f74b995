#include "auth/recovery.h"

#include <limits.h>
#include <sodium.h>
#include <string.h>

/* Crockford's base32 alphabet, lower case (crockford.com/base32.html). */
static const char alphabet[32] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Changing the label changes every digest: keep it while codes exist. */
#define DIGEST_LABEL "latch recovery code v1"

const char *recovery_strerror(int err)
{
    switch (err) {
    case RECOVERY_OK: return "ok";
    case RECOVERY_EFORMAT: return "a recovery code is 10 letters and digits";
    case RECOVERY_ENOMATCH: return "unknown recovery code";
    default: return "unknown error";
    }
}

static void new_code(char out[RECOVERY_TEXT_CHARS + 1])
{
    unsigned char raw[RECOVERY_CODE_CHARS];
    size_t i, j = 0;

    /* 32 divides 256: the low 5 bits of a random byte are uniform. */
    randombytes_buf(raw, sizeof(raw));
    for (i = 0; i < RECOVERY_CODE_CHARS; i++) {
        if (i == RECOVERY_CODE_CHARS / 2)
            out[j++] = '-';
        out[j++] = alphabet[raw[i] & 31];
    }
    out[j] = '\0';
    sodium_memzero(raw, sizeof(raw));
}

void recovery_new_set(char codes[RECOVERY_CODE_COUNT][RECOVERY_TEXT_CHARS + 1])
{
    size_t i, k;

    for (i = 0; i < RECOVERY_CODE_COUNT; i++) {
        int again;

        /* Two equal codes in a set (a 2^-44 event) would make one of them
         * useless after the other is used: draw again. */
        do {
            new_code(codes[i]);
            again = 0;
            for (k = 0; k < i; k++)
                if (strcmp(codes[k], codes[i]) == 0)
                    again = 1;
        } while (again);
    }
}

/* The alphabet character a typed character stands for, or 0. */
static char canonical(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
    if (c == 'o')
        return '0';
    if (c == 'i' || c == 'l')
        return '1';
    if (memchr(alphabet, c, sizeof(alphabet)) != NULL)
        return (char)c;
    return 0;
}

int recovery_normalize(const char *in, size_t len, char out[RECOVERY_CODE_CHARS + 1])
{
    char tmp[RECOVERY_CODE_CHARS];
    size_t i, n = 0;

    if (in == NULL || len > LATCH_MAX_RECOVERY_INPUT_BYTES)
        return RECOVERY_EFORMAT;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char v;

        if (c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        v = canonical(c);
        if (v == 0 || n == RECOVERY_CODE_CHARS) {
            sodium_memzero(tmp, sizeof(tmp));
            return RECOVERY_EFORMAT;
        }
        tmp[n++] = v;
    }
    if (n != RECOVERY_CODE_CHARS) {
        sodium_memzero(tmp, sizeof(tmp));
        return RECOVERY_EFORMAT;
    }
    memcpy(out, tmp, RECOVERY_CODE_CHARS);
    out[RECOVERY_CODE_CHARS] = '\0';
    sodium_memzero(tmp, sizeof(tmp));
    return RECOVERY_OK;
}

int recovery_digest(const unsigned char key[RECOVERY_KEY_BYTES], int64_t user_id,
                    const char *code, size_t len, unsigned char out[RECOVERY_DIGEST_BYTES])
{
    crypto_auth_hmacsha256_state st;
    char norm[RECOVERY_CODE_CHARS + 1];
    unsigned char id[8];
    uint64_t u = (uint64_t)user_id;
    int i;

    if (recovery_normalize(code, len, norm) != RECOVERY_OK)
        return RECOVERY_EFORMAT;
    for (i = 7; i >= 0; i--) {
        id[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
    /* label NUL user-id(8 bytes, big-endian) code: fixed-length fields after
     * the label, so no two inputs share an encoding. */
    crypto_auth_hmacsha256_init(&st, key, RECOVERY_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)DIGEST_LABEL,
                                  sizeof(DIGEST_LABEL));
    crypto_auth_hmacsha256_update(&st, id, sizeof(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)norm, RECOVERY_CODE_CHARS);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(norm, sizeof(norm));
    return RECOVERY_OK;
}

int recovery_match(const unsigned char presented[RECOVERY_DIGEST_BYTES],
                   const unsigned char (*stored)[RECOVERY_DIGEST_BYTES], size_t n)
{
    size_t i;
    int found = RECOVERY_ENOMATCH;

    if (presented == NULL || stored == NULL || n > (size_t)INT_MAX)
        return RECOVERY_ENOMATCH;
    for (i = 0; i < n; i++) {
        /* The index is not secret; only the comparison must not leak how
         * much of a digest matched. */
        if (sodium_memcmp(presented, stored[i], RECOVERY_DIGEST_BYTES) == 0)
            found = (int)i;
    }
    return found;
}
