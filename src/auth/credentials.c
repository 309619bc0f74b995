#include "auth/credentials.h"

#include <string.h>
#include <strings.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int credentials_normalize_email(const char *in, size_t len, char out[LATCH_MAX_EMAIL_BYTES + 1],
                                const char **why)
{
    size_t start = 0, end = len, i, at = 0, n_at = 0, n;
    const char *domain;
    size_t domain_len;

    while (start < end && is_space((unsigned char)in[start]))
        start++;
    while (end > start && is_space((unsigned char)in[end - 1]))
        end--;
    n = end - start;
    if (n == 0) {
        *why = "Email is required";
        return -1;
    }
    if (n > LATCH_MAX_EMAIL_BYTES) {
        *why = "Email must be at most 254 bytes";
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[start + i];
        if (c <= 0x20 || c == 0x7f) {
            *why = "Email must not contain spaces or control characters";
            return -1;
        }
        if (c == '@') {
            n_at++;
            at = i;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
    }
    out[n] = '\0';
    if (n_at != 1) {
        *why = "Email must contain exactly one @";
        return -1;
    }
    if (at == 0) {
        *why = "Email must have a local part before the @";
        return -1;
    }
    domain = out + at + 1;
    domain_len = n - at - 1;
    if (domain_len == 0 || memchr(domain, '.', domain_len) == NULL || domain[0] == '.' ||
        domain[domain_len - 1] == '.') {
        *why = "Email domain must contain a dot";
        return -1;
    }
    return 0;
}

int credentials_normalize_new_email(const char *in, size_t len,
                                    char out[LATCH_MAX_EMAIL_BYTES + 1], const char **why)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)in[i] >= 0x80) {
            *why = "Email must contain only ASCII characters";
            return -1;
        }
    }
    return credentials_normalize_email(in, len, out, why);
}

int credentials_check_password(size_t len, const char **why)
{
    if (len < LATCH_MIN_PASSWORD_BYTES) {
        *why = "Password must be at least 8 bytes";
        return -1;
    }
    if (len > LATCH_MAX_PASSWORD_BYTES) {
        *why = "Password must be at most 256 bytes";
        return -1;
    }
    return 0;
}

enum bearer_result credentials_parse_bearer(const char *header, const char **token, size_t *len)
{
    const char *p = header, *t;
    size_t n;

    if (header == NULL)
        return BEARER_NONE;
    while (*p == ' ' || *p == '\t')
        p++;
    /* RFC 9110 11.1: the scheme name is case-insensitive. */
    if (strncasecmp(p, "Bearer", 6) != 0)
        return BEARER_NONE;
    p += 6;
    if (*p == '\0')
        return BEARER_NONE;   /* "Bearer" alone: no credential was sent */
    if (*p != ' ' && *p != '\t')
        return BEARER_NONE;   /* "Bearerx ...": another scheme */
    while (*p == ' ' || *p == '\t')
        p++;
    t = p;
    n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return BEARER_NONE;
    if (n > LATCH_MAX_TOKEN_BYTES || memchr(t, ' ', n) != NULL || memchr(t, '\t', n) != NULL)
        return BEARER_MALFORMED;
    *token = t;
    *len = n;
    return BEARER_OK;
}
