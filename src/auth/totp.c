#include "auth/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

/* The longest URI totp_uri can build: every issuer and email byte escaped
 * (3 characters each), the issuer twice, the longest secret. */
#define TOTP_URI_FIXED_CHARS                                                                   \
    (sizeof("otpauth://totp/:?secret=&issuer=&algorithm=SHA1&digits=6&period=30") - 1)
_Static_assert(TOTP_URI_FIXED_CHARS + 2 * 3 * LATCH_MAX_TOTP_ISSUER_BYTES +
                       3 * LATCH_MAX_EMAIL_BYTES + LATCH_MAX_TOTP_SECRET_B32_CHARS + 1 <=
                   LATCH_MAX_OTPAUTH_URI_BYTES,
               "LATCH_MAX_OTPAUTH_URI_BYTES must hold the longest otpauth URI");

#define HMAC_SHA1_BYTES 20

const char *totp_strerror(int err)
{
    switch (err) {
    case TOTP_OK: return "ok";
    case TOTP_EFORMAT: return "the code must be 6 digits";
    case TOTP_EMISMATCH: return "wrong code";
    case TOTP_EREPLAY: return "code already used";
    case TOTP_EINVAL: return "invalid argument";
    case TOTP_ETOOBIG: return "output buffer too small";
    case TOTP_ECRYPTO: return "crypto library failure";
    default: return "unknown error";
    }
}

void totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES])
{
    randombytes_buf(secret, TOTP_SECRET_BYTES);
}

int64_t totp_step(int64_t now)
{
    if (now < 0)
        return TOTP_EINVAL;
    return now / TOTP_STEP_S;
}

int32_t totp_code(const unsigned char *secret, size_t len, int64_t step)
{
    unsigned char counter[8], mac[HMAC_SHA1_BYTES];
    size_t mac_len = 0, offset;
    uint32_t binary;
    int i;

    if (secret == NULL || len == 0 || len > LATCH_MAX_TOTP_SECRET_BYTES || step < 0)
        return TOTP_EINVAL;
    /* RFC 4226 section 5.1: the counter is 8 bytes, big-endian. */
    for (i = 7; i >= 0; i--) {
        counter[i] = (unsigned char)(step & 0xff);
        step >>= 8;
    }
    /* SHA-1 is what RFC 6238 section 1.2 and every authenticator app default
     * to; as an HMAC it is not affected by SHA-1's collision attacks.
     * libsodium has no HMAC-SHA-1, so OpenSSL's one-shot EVP_Q_mac. */
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, len, counter, sizeof(counter), mac,
                  sizeof(mac), &mac_len) == NULL ||
        mac_len != sizeof(mac)) {
        OPENSSL_cleanse(mac, sizeof(mac));
        return TOTP_ECRYPTO;
    }
    /* RFC 4226 section 5.3, dynamic truncation: the low 4 bits of the last
     * byte select 4 bytes, read big-endian with the top bit masked off. */
    offset = mac[HMAC_SHA1_BYTES - 1] & 0x0f;
    binary = ((uint32_t)(mac[offset] & 0x7f) << 24) | ((uint32_t)mac[offset + 1] << 16) |
             ((uint32_t)mac[offset + 2] << 8) | (uint32_t)mac[offset + 3];
    OPENSSL_cleanse(mac, sizeof(mac));
    return (int32_t)(binary % 1000000u);
}

/* Six ASCII digits of code into out (leading zeros kept). */
static void format_code(int32_t code, char out[TOTP_DIGITS])
{
    int i;

    for (i = TOTP_DIGITS - 1; i >= 0; i--) {
        out[i] = (char)('0' + code % 10);
        code /= 10;
    }
}

/* All-ones when a > b, else 0, without a branch on the values. */
static uint64_t gt_mask(int64_t a, int64_t b)
{
    /* a > b  <=>  b - a < 0; both are steps or -1 here, far from overflow. */
    return (uint64_t)0 - ((uint64_t)(b - a) >> 63);
}

int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
                int64_t after_step, int64_t *matched_step)
{
    char want[TOTP_DIGITS];
    int64_t current, step, matched = 0;
    uint64_t any_match = 0, fresh_match = 0;
    int i;

    if (code == NULL || strnlen(code, TOTP_DIGITS + 1) != TOTP_DIGITS)
        return TOTP_EFORMAT;
    for (i = 0; i < TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return TOTP_EFORMAT;
    /* Callers pass TOTP_NO_STEP for "none"; anything lower means the same
     * and would only risk overflow in gt_mask. */
    if (after_step < TOTP_NO_STEP)
        after_step = TOTP_NO_STEP;
    current = totp_step(now);
    if (current < 0)
        return TOTP_EINVAL;
    /* Oldest first, so a later matching step overwrites an earlier one: the
     * latest step is the one recorded (two steps giving the same code is a
     * one-in-a-million coincidence, and recording the later one is the
     * stricter choice for the replay rule). */
    for (step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
        int32_t c;
        uint64_t eq, fresh;

        if (step < 0)
            continue;   /* before the epoch: public, no secret in the branch */
        c = totp_code(secret, len, step);
        if (c < 0) {
            sodium_memzero(want, sizeof(want));
            return c;
        }
        format_code(c, want);
        /* sodium_memcmp is constant-time; turn its 0 / -1 into a mask. */
        eq = (uint64_t)0 - (uint64_t)(sodium_memcmp(want, code, TOTP_DIGITS) == 0);
        fresh = eq & gt_mask(step, after_step);
        any_match |= eq;
        fresh_match |= fresh;
        matched = (int64_t)(((uint64_t)step & fresh) | ((uint64_t)matched & ~fresh));
    }
    sodium_memzero(want, sizeof(want));
    if (fresh_match != 0) {
        *matched_step = matched;
        return TOTP_OK;
    }
    return any_match != 0 ? TOTP_EREPLAY : TOTP_EMISMATCH;
}

static int is_unreserved(unsigned char c)
{
    /* RFC 3986 section 2.3. */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s to out at *pos, or only counts it when out is NULL (the caller
 * has checked the size). */
static void put_raw(char *out, size_t *pos, const char *s)
{
    size_t n = strlen(s);

    if (out != NULL)
        memcpy(out + *pos, s, n);
    *pos += n;
}

/* Appends s percent-encoded: RFC 3986 section 2.1, upper-case hex digits. */
static void put_escaped(char *out, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (is_unreserved(c)) {
            if (out != NULL)
                out[*pos] = (char)c;
            *pos += 1;
        } else {
            if (out != NULL) {
                out[*pos] = '%';
                out[*pos + 1] = hex[c >> 4];
                out[*pos + 2] = hex[c & 0x0f];
            }
            *pos += 3;
        }
    }
}

/* Key Uri Format: otpauth://TYPE/LABEL?PARAMETERS, LABEL = issuer ":"
 * account; the issuer parameter repeats the label's prefix (apps that see
 * both prefer the parameter).  Returns the length; writes only when out is
 * not NULL. */
static size_t build_uri(char *out, const char *issuer, const char *email, const char *secret)
{
    size_t pos = 0;

    put_raw(out, &pos, "otpauth://totp/");
    put_escaped(out, &pos, issuer);
    put_raw(out, &pos, ":");
    put_escaped(out, &pos, email);
    put_raw(out, &pos, "?secret=");
    put_raw(out, &pos, secret);
    put_raw(out, &pos, "&issuer=");
    put_escaped(out, &pos, issuer);
    put_raw(out, &pos, "&algorithm=SHA1&digits=6&period=30");
    return pos;
}

/* 1 when s is 1..max bytes without control characters (C0 and DEL). */
static int printable_bytes(const char *s, size_t max)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

int totp_uri(const char *issuer, const char *email, const char *secret_base32, char *out,
             size_t size)
{
    size_t n, i;

    if (!printable_bytes(issuer, LATCH_MAX_TOTP_ISSUER_BYTES) || strchr(issuer, ':') != NULL ||
        !printable_bytes(email, LATCH_MAX_EMAIL_BYTES) || secret_base32 == NULL || out == NULL)
        return TOTP_EINVAL;
    n = strnlen(secret_base32, LATCH_MAX_TOTP_SECRET_B32_CHARS + 1);
    if (n == 0 || n > LATCH_MAX_TOTP_SECRET_B32_CHARS)
        return TOTP_EINVAL;
    for (i = 0; i < n; i++) {
        char c = secret_base32[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
            return TOTP_EINVAL;
    }
    /* Measure first, so that a short buffer is left as it was. */
    n = build_uri(NULL, issuer, email, secret_base32);
    if (n >= size)
        return TOTP_ETOOBIG;
    build_uri(out, issuer, email, secret_base32);
    out[n] = '\0';
    return TOTP_OK;
}
