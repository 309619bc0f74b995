/*
 * fuzz_framing - the request-head verdict (src/http/framing.c) that the
 * HTTP server computes from the fields parse.c found (fuzz_http_parse covers
 * the parser).
 *
 * Input: the first byte's bit 0 is the HTTP minor version (0 or 1); the rest
 * is split at '\n' into fields, each at its first ':' into name and value
 * (no ':': the whole line is the name, the value empty).  A value has no
 * white space stripped, and bytes are taken as they come (NUL included), so
 * every name and value framing_check can be handed is reachable.  At most
 * 2 * FRAMING_MAX_FIELDS fields are made, so the count limit is crossed.
 *
 * Invariants, checked against a plain re-reading of the rules here:
 *   - the verdict is one of the four, with a reason exactly when it is not
 *     FRAMING_OK, and the reason is one of the documented messages;
 *   - 431 exactly when more than LATCH_MAX_HEADER_COUNT fields or more than
 *     LATCH_MAX_HEADER_BYTES of names and values;
 *   - an accepted head (OK or BODY_TOO_LARGE) has only token names, none that
 *     extends a guarded name, no NUL/CR/LF in a value, one Host for HTTP/1.1
 *     and at most one otherwise, at most one Authorization, Origin,
 *     Content-Type and Content-Length, a decimal Content-Length, and a
 *     Transfer-Encoding only as "chunked" and never with Content-Length;
 *   - BODY_TOO_LARGE exactly when that Content-Length exceeds
 *     LATCH_MAX_BODY_BYTES;
 *   - the verdict and reason do not depend on the order of the fields (the
 *     fields reversed give the same), as no rule may.
 */
#include "fuzz.h"

#include "http/framing.h"
#include "latch_limits.h"

#include <string.h>
#include <strings.h>

#define MAX_FIELDS (2 * FRAMING_MAX_FIELDS)

static const char *const reasons[] = {
    "Malformed header field",
    "Missing Host header",
    "More than one Host header",
    "Only chunked Transfer-Encoding is accepted",
    "Both Content-Length and Transfer-Encoding are present",
    "Malformed Content-Length",
    "More than one Authorization header",
    "More than one Origin header",
    "More than one Content-Type header",
};

static const char *const guarded[] = {
    "Content-Length", "Transfer-Encoding", "Host", "Authorization", "Cookie", "Content-Type",
    "Origin",
};

static int is_name(const struct framing_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static int token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

/* The accepted-head rules, re-read independently of framing.c. */
static void check_accepted(const struct framing_field *f, size_t n, int minor, int verdict)
{
    size_t i, j, hosts = 0, auths = 0, origins = 0, ctypes = 0, clens = 0, tes = 0;
    unsigned long long clen = 0;
    int clen_overflow = 0;

    for (i = 0; i < n; i++) {
        FUZZ_CHECK(f[i].name_len > 0);
        for (j = 0; j < f[i].name_len; j++)
            FUZZ_CHECK(token_char((unsigned char)f[i].name[j]));
        for (j = 0; j < sizeof(guarded) / sizeof(guarded[0]); j++) {
            size_t len = strlen(guarded[j]);
            FUZZ_CHECK(!(f[i].name_len > len && strncasecmp(f[i].name, guarded[j], len) == 0));
        }
        for (j = 0; j < f[i].value_len; j++)
            FUZZ_CHECK(f[i].value[j] != '\0' && f[i].value[j] != '\r' && f[i].value[j] != '\n');
        hosts += is_name(&f[i], "Host");
        auths += is_name(&f[i], "Authorization");
        origins += is_name(&f[i], "Origin");
        ctypes += is_name(&f[i], "Content-Type");
        if (is_name(&f[i], "Transfer-Encoding")) {
            tes++;
            FUZZ_CHECK(f[i].value_len == 7 && strncasecmp(f[i].value, "chunked", 7) == 0);
        }
        if (is_name(&f[i], "Content-Length")) {
            clens++;
            FUZZ_CHECK(f[i].value_len > 0);
            for (j = 0; j < f[i].value_len; j++) {
                unsigned d = (unsigned)(f[i].value[j] - '0');
                FUZZ_CHECK(d <= 9);
                if (clen > (~0ULL - d) / 10)
                    clen_overflow = 1;
                clen = clen * 10 + d;
            }
        }
    }
    FUZZ_CHECK(!clen_overflow);
    FUZZ_CHECK(minor >= 1 ? hosts == 1 : hosts <= 1);
    FUZZ_CHECK(auths <= 1 && origins <= 1 && ctypes <= 1 && clens <= 1);
    FUZZ_CHECK(!(clens > 0 && tes > 0));
    FUZZ_CHECK((verdict == FRAMING_BODY_TOO_LARGE) == (clens > 0 && clen > LATCH_MAX_BODY_BYTES));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct framing_field fields[MAX_FIELDS], reversed[MAX_FIELDS];
    const char *p, *end, *reason = NULL, *reason2 = NULL;
    size_t n = 0, i, bytes = 0;
    int minor, verdict, verdict2, known = 0;

    if (size == 0)
        return 0;
    minor = data[0] & 1;
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end && n < MAX_FIELDS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));

        if (colon != NULL)
            fields[n] = (struct framing_field){p, (size_t)(colon - p), colon + 1,
                                               (size_t)(line_end - colon - 1)};
        else
            fields[n] = (struct framing_field){p, (size_t)(line_end - p), NULL, 0};
        bytes += fields[n].name_len + fields[n].value_len;
        n++;
        p = nl != NULL ? nl + 1 : end;
    }

    verdict = framing_check(fields, n, minor, &reason);
    FUZZ_CHECK(verdict == FRAMING_OK || verdict == FRAMING_BODY_TOO_LARGE ||
               verdict == FRAMING_BAD_REQUEST || verdict == FRAMING_FIELDS_TOO_LARGE);
    FUZZ_CHECK((verdict == FRAMING_OK) == (reason == NULL));
    FUZZ_CHECK((verdict == FRAMING_FIELDS_TOO_LARGE) ==
               (n > LATCH_MAX_HEADER_COUNT || bytes > LATCH_MAX_HEADER_BYTES));
    if (verdict == FRAMING_BAD_REQUEST) {
        for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
            known |= strcmp(reason, reasons[i]) == 0;
        if (!known)
            FUZZ_FAIL("unknown 400 reason \"%s\"", reason);
    }
    if (verdict == FRAMING_OK || verdict == FRAMING_BODY_TOO_LARGE)
        check_accepted(fields, n, minor, verdict);

    for (i = 0; i < n; i++)
        reversed[i] = fields[n - 1 - i];
    verdict2 = framing_check(reversed, n, minor, &reason2);
    FUZZ_CHECK(verdict2 == verdict);
    FUZZ_CHECK((reason == NULL && reason2 == NULL) ||
               (reason != NULL && reason2 != NULL && strcmp(reason, reason2) == 0));
    return 0;
}
