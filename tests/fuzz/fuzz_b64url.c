/*
 * fuzz_b64url - the strict base64url decoder (src/util/b64url.c) that every
 * JWS part goes through (RFC 7515 section 2, RFC 4648 section 5).
 *
 * b64url.h promises one accepted encoding per byte string.  So:
 *   - input that decodes must re-encode to exactly the input (no padding,
 *     whitespace, other alphabet or non-zero trailing bits slipped through);
 *   - decoding into a buffer one byte too small must fail, not overflow;
 *   - the input taken as raw bytes must encode to b64url_encoded_len()
 *     characters of the URL-safe alphabet and decode back to itself.
 */
#include "fuzz.h"

#include "util/b64url.h"

#include <string.h>

static int is_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Decode the input as text; what decodes must be canonical. */
static void decode_direction(const char *src, size_t len)
{
    size_t cap = len / 4 * 3 + 3, n = (size_t)-1, n2 = 0;
    unsigned char *bin = malloc(cap + 1);
    char *text;

    FUZZ_CHECK(bin != NULL);
    if (b64url_decode(bin, cap, &n, src, len) != 0) {
        free(bin);
        return;
    }
    FUZZ_CHECK(n <= cap);
    FUZZ_CHECK(b64url_encoded_len(n) == len);

    text = malloc(len + 1);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(b64url_encode(text, len + 1, bin, n) == len);
    if (memcmp(text, src, len) != 0) {
        FUZZ_FAIL("non-canonical input of %zu characters accepted; it re-encodes as \"%s\"",
                  len, text);
    }
    free(text);

    /* Exactly n bytes of room is enough; one fewer must be refused. */
    FUZZ_CHECK(b64url_decode(bin, n, &n2, src, len) == 0 && n2 == n);
    if (n > 0) {
        /* Exactly n - 1 bytes, so AddressSanitizer sees a one-byte overflow. */
        unsigned char *tight = malloc(n - 1);
        FUZZ_CHECK(tight != NULL || n == 1);
        n2 = 12345;
        FUZZ_CHECK(b64url_decode(tight, n - 1, &n2, src, len) != 0);
        FUZZ_CHECK(n2 == 12345); /* out parameter untouched on failure */
        free(tight);
    }
    free(bin);
}

/* Encode the input as bytes; the encoding must decode back to it. */
static void encode_direction(const unsigned char *src, size_t len)
{
    size_t elen = b64url_encoded_len(len), i, n = 0;
    char *text = malloc(elen + 1);
    unsigned char *back = malloc(len + 1);

    FUZZ_CHECK(text != NULL && back != NULL);
    FUZZ_CHECK(elen == (len * 8 + 5) / 6);
    /* A buffer without room for the NUL is refused. */
    FUZZ_CHECK(b64url_encode(text, elen, src, len) == 0);
    FUZZ_CHECK(b64url_encode(text, elen + 1, src, len) == elen);
    FUZZ_CHECK(text[elen] == '\0');
    for (i = 0; i < elen; i++)
        FUZZ_CHECK(is_b64url_char((unsigned char)text[i]));
    FUZZ_CHECK(b64url_decode(back, len, &n, text, elen) == 0);
    FUZZ_CHECK(n == len && memcmp(back, src, len) == 0);
    free(text);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_direction((const char *)data, size);
    encode_direction(data, size);
    return 0;
}
