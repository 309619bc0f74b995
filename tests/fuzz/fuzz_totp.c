/*
 * fuzz_totp - the parsers of the second factor (issue 11): the strict
 * base32 decoder (src/util/base32.c), the code syntax of totp_verify and the
 * otpauth URI builder (src/auth/totp.c), and recovery-code normalisation
 * (src/auth/recovery.c).  Every input goes through all four.
 *
 * Invariants:
 *   - base32: what decodes re-encodes to the input without its padding,
 *     upper-cased (one meaning per text); padding, if any, completes a group
 *     of 8; a buffer one byte short is refused without being overrun; the
 *     input taken as bytes encodes to [A-Z2-7] and decodes back;
 *   - totp_verify: TOTP_EFORMAT exactly when the input is not 6 ASCII
 *     digits; an accepted code is the code of the step reported, and that
 *     step is in the window and after after_step;
 *   - recovery_normalize: accepted output is 10 alphabet characters, equal
 *     to a reference normalisation of the input, and normalises to itself;
 *   - totp_uri (input split at its first NUL into issuer and email): an
 *     accepted URI has one '?', exactly 4 '&', no '#', only unreserved
 *     characters, '%XX' and the separators, and its label decodes back to
 *     issuer ":" email.
 */
#include "fuzz.h"

#include "auth/recovery.h"
#include "auth/totp.h"
#include "util/base32.h"

#include <sodium.h>
#include <string.h>

static const unsigned char secret[TOTP_SECRET_BYTES] = "12345678901234567890";
#define NOW 1111111111

static int upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static void check_base32(const char *src, size_t len)
{
    size_t cap = len * 5 / 8 + 1, n = (size_t)-1, n2, data_len = len, i;
    unsigned char *bin = malloc(cap);
    char *text;

    FUZZ_CHECK(bin != NULL);
    if (base32_decode(bin, cap, &n, src, len) == 0) {
        while (data_len > 0 && src[data_len - 1] == '=')
            data_len--;
        FUZZ_CHECK(data_len == len || len % 8 == 0);
        FUZZ_CHECK(base32_encoded_len(n) == data_len);
        text = malloc(data_len + 1);
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(base32_encode(text, data_len + 1, bin, n) == data_len);
        for (i = 0; i < data_len; i++)
            if (text[i] != upper((unsigned char)src[i]))
                FUZZ_FAIL("accepted base32 re-encodes differently at %zu: %s", i, text);
        free(text);
        if (n > 0) {
            unsigned char *tight = malloc(n - 1 > 0 ? n - 1 : 1);
            FUZZ_CHECK(tight != NULL);
            n2 = 12345;
            FUZZ_CHECK(base32_decode(tight, n - 1, &n2, src, len) != 0 && n2 == 12345);
            free(tight);
        }
    } else {
        FUZZ_CHECK(n == (size_t)-1);
    }
    free(bin);

    /* The other direction: any bytes. */
    text = malloc(base32_encoded_len(len) + 1);
    bin = malloc(len + 1);
    FUZZ_CHECK(text != NULL && bin != NULL);
    FUZZ_CHECK(base32_encode(text, base32_encoded_len(len) + 1, (const unsigned char *)src, len) ==
               base32_encoded_len(len));
    for (i = 0; text[i] != '\0'; i++)
        FUZZ_CHECK((text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '2' && text[i] <= '7'));
    FUZZ_CHECK(base32_decode(bin, len, &n, text, strlen(text)) == 0);
    FUZZ_CHECK(n == len && memcmp(bin, src, len) == 0);
    free(text);
    free(bin);
}

static void check_code(const char *code, size_t len)
{
    int64_t matched = -42, after = (int64_t)(len % 4) - 2 + NOW / 30 - 1;
    int digits = len == 6, i, rc;

    for (i = 0; digits && i < 6; i++)
        digits = code[i] >= '0' && code[i] <= '9';
    rc = totp_verify(secret, sizeof(secret), code, NOW, after, &matched);
    FUZZ_CHECK((rc == TOTP_EFORMAT) == !digits);
    if (rc == TOTP_OK) {
        int32_t want = 0;
        for (i = 0; i < 6; i++)
            want = want * 10 + (code[i] - '0');
        FUZZ_CHECK(matched >= NOW / 30 - 1 && matched <= NOW / 30 + 1 && matched > after);
        FUZZ_CHECK(totp_code(secret, sizeof(secret), matched) == want);
    } else {
        FUZZ_CHECK(matched == -42);
    }
}

static char reference_char(unsigned char c)
{
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

    if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
    if (c == 'o')
        return '0';
    if (c == 'i' || c == 'l')
        return '1';
    return c != '\0' && strchr(alphabet, c) != NULL ? (char)c : 0;
}

static void check_recovery(const char *in, size_t len)
{
    char out[RECOVERY_CODE_CHARS + 1], again[RECOVERY_CODE_CHARS + 1], ref[RECOVERY_CODE_CHARS];
    size_t i, n = 0;
    int ok = len <= LATCH_MAX_RECOVERY_INPUT_BYTES;

    for (i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char v;

        if (c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        v = reference_char(c);
        if (v == 0 || n == RECOVERY_CODE_CHARS)
            ok = 0;
        else
            ref[n++] = v;
    }
    ok = ok && n == RECOVERY_CODE_CHARS;
    memset(out, 'Q', sizeof(out));
    if (recovery_normalize(in, len, out) == RECOVERY_OK) {
        FUZZ_CHECK(ok);
        FUZZ_CHECK(strlen(out) == RECOVERY_CODE_CHARS && memcmp(out, ref, n) == 0);
        FUZZ_CHECK(recovery_normalize(out, RECOVERY_CODE_CHARS, again) == RECOVERY_OK);
        FUZZ_CHECK(strcmp(out, again) == 0);
    } else {
        FUZZ_CHECK(!ok);
        FUZZ_CHECK(out[0] == 'Q');
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_uri(const char *issuer, const char *email)
{
    char uri[LATCH_MAX_OTPAUTH_URI_BYTES], label[LATCH_MAX_OTPAUTH_URI_BYTES];
    const char *p, *q;
    size_t n = 0, amps = 0;

    if (totp_uri(issuer, email, "JBSWY3DPEHPK3PXP", uri, sizeof(uri)) != TOTP_OK)
        return;
    FUZZ_CHECK(strncmp(uri, "otpauth://totp/", 15) == 0);
    q = strchr(uri, '?');
    FUZZ_CHECK(q != NULL && strchr(q + 1, '?') == NULL && strchr(uri, '#') == NULL);
    for (p = uri; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        FUZZ_CHECK(c > 0x20 && c < 0x7f);
        if (c == '&')
            amps++;
        if (c == '%')
            FUZZ_CHECK(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
    }
    FUZZ_CHECK(amps == 4);
    /* Decode the label (between "totp/" and '?'). */
    for (p = uri + 15; p < q; p++) {
        if (*p == '%') {
            label[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            label[n++] = *p;
        }
    }
    label[n] = '\0';
    FUZZ_CHECK(n == strlen(issuer) + 1 + strlen(email));
    FUZZ_CHECK(memcmp(label, issuer, strlen(issuer)) == 0 && label[strlen(issuer)] == ':');
    FUZZ_CHECK(strcmp(label + strlen(issuer) + 1, email) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *nul;

    if (sodium_init() < 0)
        abort();
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    check_base32(text, size);
    /* Codes and issuer/email reach latch NUL-terminated (JSON strings). */
    check_code(text, strnlen(text, size));
    check_recovery(text, size);
    nul = memchr(text, '\0', size);
    if (nul != NULL)
        check_uri(text, nul + 1);
    else
        check_uri(text, text + size / 2);
    free(text);
    return 0;
}
