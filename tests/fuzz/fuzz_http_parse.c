/*
 * fuzz_http_parse - the request parsers of latch's HTTP layer
 * (src/http/parse.c): the request head and the chunked body.
 *
 * Input: the first byte chooses.  Bit 0 clear: the rest is a request head
 * (and whatever follows it), handed to http_parse_head whole.  Bit 0 set:
 * the rest is a chunked body, decoded whole and again in pieces whose
 * sizes come from bits 1-7 of the first byte.
 *
 * Invariants:
 *   head - the result is a length in 1..size or one of the four negative
 *     results, with a reason exactly for HTTP_PARSE_BAD_REQUEST (one of
 *     the two documented); a parsed head has a token method, a target of
 *     bytes that are neither white space nor controls, a minor version
 *     0..9, at most the array's fields, each with a token name and a value
 *     without NUL, CR or LF and without white space at either end, all
 *     inside the head's bytes; the head alone parses to the same length;
 *     every proper prefix of it is INCOMPLETE (a head cannot be decided
 *     before its last byte); an error stays the same error when more bytes
 *     follow; with last_len the answer is INCOMPLETE exactly when no LF came
 *     since, else the same as without.
 *   chunked - decoding in pieces gives the same result, the same bytes
 *     consumed and the same body as decoding at once; the body stored is
 *     the first out_cap bytes of the data counted; DONE consumes at most
 *     the input, MORE all of it.
 */
#include "fuzz.h"

#include "http/framing.h"
#include "http/parse.h"
#include "latch_limits.h"

#include <string.h>

#define FIELDS FRAMING_MAX_FIELDS
#define OUT_CAP 512

static void check_head(const char *buf, size_t len, const struct http_head *h,
                       const struct framing_field *f, size_t head_len)
{
    size_t i, k;

    FUZZ_CHECK(h->method_len > 0 && framing_is_token(h->method, h->method_len));
    FUZZ_CHECK(h->target_len > 0);
    for (i = 0; i < h->target_len; i++) {
        unsigned char c = (unsigned char)h->target[i];
        FUZZ_CHECK(c > 0x20 && c != 0x7f);
    }
    FUZZ_CHECK(h->minor_version >= 0 && h->minor_version <= 9);
    FUZZ_CHECK(h->n_fields <= FIELDS);
    FUZZ_CHECK(h->method >= buf && h->target + h->target_len <= buf + head_len);
    for (i = 0; i < h->n_fields; i++) {
        FUZZ_CHECK(framing_is_token(f[i].name, f[i].name_len));
        FUZZ_CHECK(f[i].name >= buf && f[i].name + f[i].name_len <= buf + head_len);
        FUZZ_CHECK(f[i].value >= buf && f[i].value + f[i].value_len <= buf + head_len);
        for (k = 0; k < f[i].value_len; k++)
            FUZZ_CHECK(f[i].value[k] != '\0' && f[i].value[k] != '\r' && f[i].value[k] != '\n');
        if (f[i].value_len > 0) {
            FUZZ_CHECK(f[i].value[0] != ' ' && f[i].value[0] != '\t');
            FUZZ_CHECK(f[i].value[f[i].value_len - 1] != ' ' &&
                       f[i].value[f[i].value_len - 1] != '\t');
        }
    }
    (void)len;
}

static void fuzz_head(const char *buf, size_t len)
{
    static struct framing_field fields[FIELDS], again[FIELDS];
    struct http_head h, h2;
    const char *reason = NULL, *reason2 = NULL;
    int rc, rc2;
    char *more;
    size_t p, last;

    rc = http_parse_head(buf, len, 0, &h, fields, FIELDS, &reason);
    FUZZ_CHECK(rc == HTTP_PARSE_INCOMPLETE || rc == HTTP_PARSE_BAD_REQUEST ||
               rc == HTTP_PARSE_TOO_MANY_FIELDS || rc == HTTP_PARSE_BAD_VERSION ||
               (rc > 0 && (size_t)rc <= len));
    if (rc == HTTP_PARSE_BAD_REQUEST)
        FUZZ_CHECK(reason != NULL && (strcmp(reason, "Malformed request line") == 0 ||
                                      strcmp(reason, "Malformed header field") == 0));
    else
        FUZZ_CHECK(reason == NULL);

    if (rc > 0) {
        check_head(buf, len, &h, fields, (size_t)rc);
        /* Self-delimiting: the head alone is the same head. */
        rc2 = http_parse_head(buf, (size_t)rc, 0, &h2, again, FIELDS, &reason2);
        FUZZ_CHECK(rc2 == rc && h2.n_fields == h.n_fields);
        FUZZ_CHECK(memcmp(again, fields, h.n_fields * sizeof(fields[0])) == 0);
        /* No proper prefix is decided: a few of them. */
        for (p = 0; p < (size_t)rc; p += 1 + (size_t)rc / 7) {
            rc2 = http_parse_head(buf, p, 0, &h2, again, FIELDS, &reason2);
            if (rc2 != HTTP_PARSE_INCOMPLETE)
                FUZZ_FAIL("prefix %zu of a %d-byte head: %d", p, rc, rc2);
        }
        rc2 = http_parse_head(buf, (size_t)rc - 1, 0, &h2, again, FIELDS, &reason2);
        FUZZ_CHECK(rc2 == HTTP_PARSE_INCOMPLETE);
    } else if (rc != HTTP_PARSE_INCOMPLETE) {
        /* A decided error stays decided whatever follows. */
        more = malloc(len + 2);
        if (more == NULL)
            return;
        memcpy(more, buf, len);
        more[len] = '\n';
        more[len + 1] = 'x';
        rc2 = http_parse_head(more, len + 2, 0, &h2, again, FIELDS, &reason2);
        if (rc2 != rc)
            FUZZ_FAIL("error %d became %d with more bytes", rc, rc2);
        free(more);
    }
    /* last_len: INCOMPLETE at once exactly when no LF arrived since. */
    last = len / 2;
    if (last > 0) {
        rc2 = http_parse_head(buf, len, last, &h2, again, FIELDS, &reason2);
        if (memchr(buf + last, '\n', len - last) == NULL)
            FUZZ_CHECK(rc2 == HTTP_PARSE_INCOMPLETE);
        else
            FUZZ_CHECK(rc2 == rc);
    }
}

static void fuzz_chunked(const char *in, size_t len, unsigned step_bits)
{
    static char out1[OUT_CAP], out2[OUT_CAP];
    struct http_chunked c1, c2;
    size_t consumed1 = 0, out1_len = 0, out2_len = 0, pos = 0, step = 1 + step_bits;
    int rc1, rc2 = HTTP_CHUNK_MORE;

    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    rc1 = http_chunked_decode(&c1, in, len, &consumed1, out1, sizeof(out1), &out1_len);
    FUZZ_CHECK(rc1 == HTTP_CHUNK_DONE || rc1 == HTTP_CHUNK_MORE || rc1 == HTTP_CHUNK_BAD ||
               rc1 == HTTP_CHUNK_TOO_LARGE);
    if (rc1 == HTTP_CHUNK_MORE)
        FUZZ_CHECK(consumed1 == len);
    if (rc1 == HTTP_CHUNK_DONE)
        FUZZ_CHECK(consumed1 <= len);
    FUZZ_CHECK(out1_len <= sizeof(out1));
    FUZZ_CHECK(out1_len == (c1.data_bytes < sizeof(out1) ? c1.data_bytes : sizeof(out1)));

    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step, used = 0;

        rc2 = http_chunked_decode(&c2, in + pos, n, &used, out2, sizeof(out2), &out2_len);
        if (rc2 == HTTP_CHUNK_MORE)
            FUZZ_CHECK(used == n);
        pos += used;
        if (rc2 != HTTP_CHUNK_MORE)
            break;
    }
    /* An error is met at the same byte in the same state, pieces or not. */
    FUZZ_CHECK(rc2 == rc1);
    if (rc1 >= 0)
        FUZZ_CHECK(pos == consumed1);
    FUZZ_CHECK(c2.data_bytes == c1.data_bytes);
    FUZZ_CHECK(out2_len == out1_len);
    FUZZ_CHECK(memcmp(out1, out2, out1_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        fuzz_head((const char *)data + 1, size - 1);
    else
        fuzz_chunked((const char *)data + 1, size - 1, data[0] >> 1);
    return 0;
}
