/*
 * fuzz_credentials - what users type and what the Authorization header
 * carries (src/auth/credentials.c).
 *
 * The whole input is, in turn:
 *   - an email address for credentials_normalize_email(): on success the
 *     output is at most 254 bytes (RFC 5321), has no upper-case ASCII
 *     letter, no space or control character, exactly one '@' with something
 *     before it, and is the trimmed input lower-cased;
 *   - a password length for credentials_check_password();
 *   - an Authorization header value for credentials_parse_bearer(), on a
 *     NUL-terminated copy as the HTTP layer hands it over (RFC 6750 section
 *     2.1): a returned token lies inside the header, is not empty, is at most
 *     LATCH_MAX_TOKEN_BYTES long and has no space or tab.
 */
#include "fuzz.h"

#include "auth/credentials.h"
#include "latch_limits.h"

#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void fuzz_email(const char *in, size_t len)
{
    /* On the heap and of exactly the promised size, so AddressSanitizer
     * reports a write of even one byte past it. */
    char *out = malloc(LATCH_MAX_EMAIL_BYTES + 1);
    const char *why = NULL;
    size_t n, i, n_at = 0, start = 0, end = len;

    FUZZ_CHECK(out != NULL);
    if (credentials_normalize_email(in, len, out, &why) != 0) {
        FUZZ_CHECK(why != NULL && why[0] != '\0');
        free(out);
        return;
    }
    n = strnlen(out, LATCH_MAX_EMAIL_BYTES + 1);
    FUZZ_CHECK(n <= LATCH_MAX_EMAIL_BYTES);
    FUZZ_CHECK(n > 0);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK(c > 0x20 && c != 0x7f);
        if (c == '@')
            n_at++;
    }
    FUZZ_CHECK(n_at == 1);
    FUZZ_CHECK(out[0] != '@');
    FUZZ_CHECK(out[n - 1] != '@' && out[n - 1] != '.');
    FUZZ_CHECK(strchr(strchr(out, '@'), '.') != NULL);

    /* The output is the input, trimmed of ASCII white space and lower-cased. */
    while (start < end && is_space((unsigned char)in[start]))
        start++;
    while (end > start && is_space((unsigned char)in[end - 1]))
        end--;
    FUZZ_CHECK(end - start == n);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[start + i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        FUZZ_CHECK((unsigned char)out[i] == c);
    }

    /* Normalising is idempotent: the output is already its own normal form. */
    {
        char again[LATCH_MAX_EMAIL_BYTES + 1];
        FUZZ_CHECK(credentials_normalize_email(out, n, again, &why) == 0);
        FUZZ_CHECK(strcmp(again, out) == 0);
    }
    free(out);
}

static void fuzz_password(size_t len)
{
    const char *why = NULL;
    int rc = credentials_check_password(len, &why);

    FUZZ_CHECK((rc == 0) ==
               (len >= LATCH_MIN_PASSWORD_BYTES && len <= LATCH_MAX_PASSWORD_BYTES));
    FUZZ_CHECK(rc == 0 || (why != NULL && why[0] != '\0'));
}

static void fuzz_bearer(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    const char *token = NULL;
    size_t len = 0, header_len;
    enum bearer_result rc;

    FUZZ_CHECK(header != NULL);
    memcpy(header, data, size);
    header[size] = '\0';
    header_len = strlen(header); /* the value ends at its first NUL, as a C string does */

    rc = credentials_parse_bearer(header, &token, &len);
    FUZZ_CHECK(rc == BEARER_NONE || rc == BEARER_OK || rc == BEARER_MALFORMED);
    if (rc == BEARER_OK) {
        FUZZ_CHECK(token != NULL);
        FUZZ_CHECK(token >= header && token <= header + header_len);
        FUZZ_CHECK(len > 0 && len <= LATCH_MAX_TOKEN_BYTES);
        FUZZ_CHECK(len <= (size_t)(header + header_len - token));
        FUZZ_CHECK(memchr(token, ' ', len) == NULL && memchr(token, '\t', len) == NULL);
        FUZZ_CHECK(memchr(token, '\0', len) == NULL);
        /* "Bearer" (any case) and white space precede the token. */
        FUZZ_CHECK(token - header >= 7);
        FUZZ_CHECK(token[-1] == ' ' || token[-1] == '\t');
    } else {
        FUZZ_CHECK(token == NULL && len == 0); /* outputs untouched on failure */
    }
    FUZZ_CHECK(credentials_parse_bearer(NULL, &token, &len) == BEARER_NONE);
    free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_email((const char *)data, size);
    fuzz_password(size);
    fuzz_bearer(data, size);
    return 0;
}
