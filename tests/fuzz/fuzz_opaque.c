/*
 * fuzz_opaque - the opaque session/refresh token parser and the Cookie
 * header parser (src/auth/opaque.c), and the trusted-proxy address lists
 * (src/util/cidr.c), all of which read bytes a client chose.
 *
 * Invariants:
 *   - opaque_parse accepts exactly 43 base64url characters; what it accepts
 *     re-encodes to the same text, and its digest is SHA-256 of the raw bytes;
 *   - a refresh successor parses back to itself;
 *   - a cookie value found by opaque_find_cookie lies inside the header;
 *   - cidr_parse_list / cidr_contains never read outside their input.
 */
#include "fuzz.h"

#include "auth/opaque.h"
#include "util/cidr.h"

#include <sodium.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[OPAQUE_KEY_BYTES] = {1, 2, 3};
    struct opaque_token tok, next, again;
    unsigned char digest[OPAQUE_DIGEST_BYTES];
    struct cidr_list list;
    const char *value = NULL, *bad = NULL;
    size_t len = 0;
    char *text;

    if (sodium_init() < 0)
        abort();
    if (opaque_parse((const char *)data, size, &tok) == 0) {
        FUZZ_CHECK(size == OPAQUE_TEXT_BYTES);
        FUZZ_CHECK(memcmp(tok.text, data, size) == 0);
        crypto_hash_sha256(digest, tok.raw, sizeof(tok.raw));
        FUZZ_CHECK(memcmp(digest, tok.digest, sizeof(digest)) == 0);
        opaque_successor(key, &tok, &next);
        FUZZ_CHECK(opaque_parse(next.text, OPAQUE_TEXT_BYTES, &again) == 0);
        FUZZ_CHECK(memcmp(again.raw, next.raw, sizeof(next.raw)) == 0);
    }

    /* Headers reach latch NUL-terminated. */
    text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    if (opaque_find_cookie(text, "latch_session", &value, &len)) {
        FUZZ_CHECK(value >= text && value + len <= text + strlen(text));
    }
    if (cidr_parse_list(text, &list, &bad) == 0) {
        FUZZ_CHECK(list.count <= CIDR_MAX_RANGES);
        (void)cidr_contains(&list, "127.0.0.1");
        (void)cidr_contains(&list, "::1");
        (void)cidr_contains(&list, text);
    } else {
        FUZZ_CHECK(bad >= text && bad <= text + size);
    }
    free(text);
    return 0;
}
