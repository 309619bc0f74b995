/*
 * framing.h - the checks a request head must pass before any handler runs,
 * as one pure function over the header fields: no HTTP library types, no
 * I/O, no allocation, so it can be unit-tested and fuzzed alone
 * (tests/unit/http/framing.c, tests/fuzz/fuzz_framing.c).
 *
 * The verdict, first rule that fails wins:
 *   431  more than LATCH_MAX_HEADER_COUNT fields, or names and values over
 *        LATCH_MAX_HEADER_BYTES;
 *   400  "Malformed header field": a name that is empty or not an RFC 9110
 *        token (5.6.2), a name that begins with one of the fields latch reads
 *        for framing or authentication (Content-Length, Transfer-Encoding,
 *        Host, Authorization, Cookie, Content-Type, Origin) but is longer (an
 *        obs-fold glued onto that name, see below), a value with NUL, CR or
 *        LF (RFC 9110 5.5);
 *   400  "Missing Host header" (HTTP/1.1, RFC 9112 3.2), "More than one Host
 *        header", "Only chunked Transfer-Encoding is accepted", "Both
 *        Content-Length and Transfer-Encoding are present", "Malformed
 *        Content-Length" (repeated or not a plain decimal, RFC 9112 6.3),
 *        "More than one Authorization header", "More than one Origin
 *        header", "More than one Content-Type header";
 *   FRAMING_BODY_TOO_LARGE: the head is fine but Content-Length exceeds
 *        LATCH_MAX_BODY_BYTES (the router answers 413 after 404/405).
 *
 * Why the prefix rule: libmicrohttpd 0.9.75 (latch's HTTP library until
 * issue 14) appended an obs-fold continuation line (RFC 9112 5.2) to the
 * previous field's *name*, so "Content-Length:" followed by " 69" arrived as
 * the name "Content-Length69" with an empty value.  latch's own parser
 * (parse.h) refuses every fold, empty name and white space before a colon
 * before this runs; the name rules stay as a second line of defence, and
 * keep this verdict right for any caller that hands in fields.
 */
#ifndef LATCH_HTTP_FRAMING_H
#define LATCH_HTTP_FRAMING_H

#include "latch_limits.h"

#include <stddef.h>

/* One header field as received.  Neither string needs a terminating NUL. */
struct framing_field {
    const char *name;
    size_t name_len;
    const char *value;               /* may be NULL when value_len is 0 */
    size_t value_len;
};

/* A caller need not collect more fields than this: one past the count limit
 * already decides the 431. */
#define FRAMING_MAX_FIELDS (LATCH_MAX_HEADER_COUNT + 1)

enum framing_verdict {
    FRAMING_OK = 0,
    FRAMING_BODY_TOO_LARGE = 1,      /* a good head; its Content-Length is over the limit */
    FRAMING_BAD_REQUEST = -1,        /* 400 */
    FRAMING_FIELDS_TOO_LARGE = -2,   /* 431 */
};

/* Checks the n fields of a request of HTTP/1.<http_minor>.  For every
 * verdict but FRAMING_OK, *reason is set to the message for the client (the
 * 400 reasons above; for 431 and 413 the limit's message); it is untouched
 * on FRAMING_OK. */
enum framing_verdict framing_check(const struct framing_field *fields, size_t n, int http_minor,
                                   const char **reason);

/* 1 for each byte that is an RFC 9110 tchar (5.6.2), 0 for the others; the
 * one table of them, which the parser (parse.c) reads too. */
extern const unsigned char framing_tchar[256];

/* Whether name[0..len) is an RFC 9110 token (5.6.2): one or more tchar. */
int framing_is_token(const char *name, size_t len);

#endif
