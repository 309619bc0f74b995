/*
 * parse.h - the HTTP/1.1 request parsers of latch's own HTTP layer
 * (RFC 9112): the request head, a chunked body, and the small readings the
 * server makes of a head (percent-decoding, Connection tokens).
 *
 * Pure: no I/O, no allocation, no global state, and the input is never
 * written to, so each function can be unit-tested and fuzzed alone
 * (tests/unit/http/parse.c, tests/fuzz/fuzz_http_parse.c).  Like
 * picohttpparser, the head parser is handed everything received so far and
 * says whether it holds a whole head (and how many bytes it took), needs
 * more, or is malformed; the server (server.c) calls it again when more
 * bytes arrive.
 *
 * What a head must look like (first rule that fails decides):
 *   - empty lines before the request line are skipped (RFC 9112 2.2);
 *   - request-line = method SP request-target SP HTTP-version, one SP each
 *     (3); the method a token, the target one or more bytes that are neither
 *     white space nor controls, the version "HTTP/" DIGIT "." DIGIT (2.3);
 *     else 400 "Malformed request line";  a major version other than 1 gets
 *     HTTP_PARSE_BAD_VERSION (505);
 *   - field-line = field-name ":" OWS field-value OWS (5): the name a token
 *     (an empty name, white space before the colon, no colon: 400
 *     "Malformed header field"); a line that begins with SP or HTAB is an
 *     obs-fold (5.2) or white space before the first field (2.2), refused
 *     with the same 400; a value with NUL is refused (RFC 9110 5.5);
 *   - lines end in CRLF or a bare LF (2.2 allows the latter); a CR not
 *     followed by LF anywhere in the head is a 400 (2.2);
 *   - more than max_fields field lines: HTTP_PARSE_TOO_MANY_FIELDS (431).
 * Limits on sizes (header bytes, URL length) are the caller's and framing.h's
 * business: the parser reads whatever the caller's buffer holds.
 */
#ifndef LATCH_HTTP_PARSE_H
#define LATCH_HTTP_PARSE_H

#include "http/framing.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_parse_result {
    /* > 0: a whole head, that many bytes long (empty lines before it included). */
    HTTP_PARSE_INCOMPLETE = -1,       /* no error so far; more bytes are needed */
    HTTP_PARSE_BAD_REQUEST = -2,      /* 400; *reason says why */
    HTTP_PARSE_TOO_MANY_FIELDS = -3,  /* 431: more field lines than the caller's array */
    HTTP_PARSE_BAD_VERSION = -4,      /* 505: HTTP/<major>.<minor> with major != 1 */
};

/* A parsed request head.  Every pointer points into the caller's buffer;
 * none of the strings is NUL-terminated. */
struct http_head {
    const char *method;
    size_t method_len;
    const char *target;              /* the request-target as sent (path and query) */
    size_t target_len;
    int minor_version;               /* HTTP/1.<minor>; 9 at most */
    size_t n_fields;                 /* field lines, in the order received */
};

/*
 * Parses buf[0..len).  fields[0..max_fields) receives the field lines (name
 * without the colon, value without surrounding OWS).  last_len is the length
 * of buf at the previous call that returned HTTP_PARSE_INCOMPLETE for the
 * same head, 0 the first time: when the bytes since then hold no LF the
 * answer is HTTP_PARSE_INCOMPLETE at once (picohttpparser's last_len), so a
 * head trickled a byte at a time costs one scan per line, not per byte.
 *
 * Returns the head's length (> 0) with *head and fields[0..head->n_fields)
 * filled in, or one of the negative results; *reason is set for
 * HTTP_PARSE_BAD_REQUEST only.  On any result but success *head is
 * untouched (fields may have been written).
 */
int http_parse_head(const char *buf, size_t len, size_t last_len, struct http_head *head,
                    struct framing_field *fields, size_t max_fields, const char **reason);

/* The request line alone (after any empty lines), for naming a request whose
 * head was refused: its length up to the end of its line (> 0) with
 * head->method, target and minor_version set (n_fields 0), or a negative
 * result as above; *head untouched then. */
int http_parse_request_line(const char *buf, size_t len, struct http_head *head);

/*
 * The chunked transfer coding (RFC 9112 7.1), decoded incrementally: the
 * state lives in struct http_chunked (zeroed to start), the body bytes go
 * to the caller's buffer.
 *
 *   chunk      = chunk-size [ BWS ";" chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk = 1*"0" [ chunk-ext ] CRLF, then trailer lines and an empty line
 *
 * A size line or a trailer line longer than LATCH_MAX_CHUNK_LINE_BYTES, or
 * trailer lines over LATCH_MAX_HEADER_BYTES in all, are malformed; so are a size
 * that is not hexadecimal, data not followed by its CRLF, a NUL or a bare CR.
 * Trailer fields are read and ignored (7.1.2).
 */
struct http_chunked {
    uint64_t data_bytes;             /* body bytes decoded so far, stored or not */
    uint64_t chunk_left;             /* data bytes still due in the current chunk */
    unsigned state;                  /* private */
    size_t line_bytes;               /* private: bytes of the current line */
    size_t trailer_bytes;            /* private */
};

enum http_chunk_result {
    HTTP_CHUNK_DONE = 1,             /* the last chunk and the trailers were read */
    HTTP_CHUNK_MORE = 0,             /* every input byte was consumed; more are needed */
    HTTP_CHUNK_BAD = -2,             /* 400 */
    HTTP_CHUNK_TOO_LARGE = -3,       /* a chunk size beyond 64 bits: 413 */
};

/*
 * Decodes in[0..in_len).  Body bytes are appended to out at *out_len while
 * they fit in out_cap (out may be NULL with out_cap 0); the ones that do not
 * fit are dropped but still counted in c->data_bytes, so the caller learns
 * how large the body was.  *consumed is the number of input bytes read: all
 * of them for HTTP_CHUNK_MORE, up to the end of the body for
 * HTTP_CHUNK_DONE (what follows belongs to the next request).
 */
int http_chunked_decode(struct http_chunked *c, const char *in, size_t in_len,
                        size_t *consumed, char *out, size_t out_cap, size_t *out_len);

/*
 * Percent-decodes s[0..len) into out (which may be s itself: the result is
 * never longer), "%HH" with two hex digits becoming that byte and any other
 * '%' kept as it is (the lenient reading libmicrohttpd had); with
 * plus_is_space, '+' becomes a space (the query string's form encoding).
 * Returns the decoded length; out is not NUL-terminated.
 */
size_t http_pct_decode(const char *s, size_t len, char *out, bool plus_is_space);

/* Whether the comma-separated list value[0..len) has the token (RFC 9110
 * 5.6.1, case-insensitive): Connection: close, keep-alive, Expect. */
bool http_list_has_token(const char *value, size_t len, const char *token);

/* A Content-Length value of digits only (framing.h already refused any
 * other) into *out; false when it is not one. */
bool http_parse_content_length(const char *value, size_t len, uint64_t *out);

#endif
