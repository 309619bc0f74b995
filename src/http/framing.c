/*
 * framing.c - the request-head checks of framing.h.  Pure: the adapter
 * (server.c) hands in the fields libmicrohttpd parsed.
 */
#include "http/framing.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* The fields latch reads to frame a request or to authenticate it.  A name
 * that starts with one of them and goes on is a fold glued onto it by the
 * library (see framing.h), or a client probing for one: refused either way. */
static const char *const guarded_names[] = {
    "Content-Length", "Transfer-Encoding", "Host", "Authorization", "Cookie", "Content-Type",
    "Origin",
};

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int framing_is_token(const char *name, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++)
        if (!is_tchar((unsigned char)name[i]))
            return 0;
    return 1;
}

static bool name_is(const struct framing_field *f, const char *name)
{
    size_t len = strlen(name);

    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

static bool value_is(const struct framing_field *f, const char *value)
{
    size_t len = strlen(value);

    return f->value_len == len && strncasecmp(f->value, value, len) == 0;
}

static bool name_extends_guarded(const struct framing_field *f)
{
    size_t i;

    for (i = 0; i < sizeof(guarded_names) / sizeof(guarded_names[0]); i++) {
        size_t len = strlen(guarded_names[i]);
        if (f->name_len > len && strncasecmp(f->name, guarded_names[i], len) == 0)
            return true;
    }
    return false;
}

/* RFC 9110 5.5: CR, LF and NUL are never valid in a field value. */
static bool value_has_bad_byte(const struct framing_field *f)
{
    size_t i;

    for (i = 0; i < f->value_len; i++)
        if (f->value[i] == '\0' || f->value[i] == '\r' || f->value[i] == '\n')
            return true;
    return false;
}

/* RFC 9110 8.6: Content-Length = 1*DIGIT.  Returns false on anything else,
 * including a value that does not fit 64 bits. */
static bool parse_content_length(const struct framing_field *f, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (f->value_len == 0)
        return false;
    for (i = 0; i < f->value_len; i++) {
        unsigned d = (unsigned char)f->value[i] - (unsigned)'0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

struct tally {
    size_t bytes;
    unsigned hosts, authorizations, origins, content_types, content_lengths;
    bool malformed, transfer_encoding, bad_transfer_encoding, bad_content_length;
    uint64_t content_length;
};

static void tally_field(struct tally *t, const struct framing_field *f)
{
    static const char empty[] = "";
    struct framing_field g = *f;

    if (g.value == NULL)
        g.value = empty, g.value_len = 0;
    /* RFC 9112 5.1 (no white space before the colon) and 5.2 (obs-fold) both
     * show up as a name that is not a token on this library. */
    if (!framing_is_token(g.name, g.name_len) || name_extends_guarded(&g) ||
        value_has_bad_byte(&g))
        t->malformed = true;
    if (name_is(&g, "Host")) {
        t->hosts++;
    } else if (name_is(&g, "Transfer-Encoding")) {
        t->transfer_encoding = true;
        /* Only chunked is understood (RFC 9112 6.1). */
        if (!value_is(&g, "chunked"))
            t->bad_transfer_encoding = true;
    } else if (name_is(&g, "Content-Length")) {
        /* RFC 9112 6.3: a repeated or invalid Content-Length is an
         * unrecoverable framing error. */
        if (++t->content_lengths > 1 || !parse_content_length(&g, &t->content_length))
            t->bad_content_length = true;
    } else if (name_is(&g, "Authorization")) {
        t->authorizations++;
    } else if (name_is(&g, "Origin")) {
        t->origins++;
    } else if (name_is(&g, "Content-Type")) {
        t->content_types++;
    }
}

enum framing_verdict framing_check(const struct framing_field *fields, size_t n, int http_minor,
                                   const char **reason)
{
    struct tally t;
    const char *bad = NULL;
    size_t i;

    memset(&t, 0, sizeof(t));
    if (n > LATCH_MAX_HEADER_COUNT) {
        *reason = "Request headers exceed 8 KiB or 100 fields";
        return FRAMING_FIELDS_TOO_LARGE;
    }
    for (i = 0; i < n; i++) {
        t.bytes += fields[i].name_len + fields[i].value_len;
        if (t.bytes > LATCH_MAX_HEADER_BYTES) {
            *reason = "Request headers exceed 8 KiB or 100 fields";
            return FRAMING_FIELDS_TOO_LARGE;
        }
    }
    for (i = 0; i < n; i++)
        tally_field(&t, &fields[i]);

    if (t.malformed)
        bad = "Malformed header field";
    else if (http_minor >= 1 && t.hosts == 0)
        bad = "Missing Host header";
    else if (t.hosts > 1)
        bad = "More than one Host header";
    else if (t.bad_transfer_encoding)
        bad = "Only chunked Transfer-Encoding is accepted";
    else if (t.content_lengths > 0 && t.transfer_encoding)
        bad = "Both Content-Length and Transfer-Encoding are present";
    else if (t.bad_content_length)
        bad = "Malformed Content-Length";
    /* Fields latch reads with a single lookup: a second copy would be read
     * by some hop in front of latch and ignored here, or the reverse. */
    else if (t.authorizations > 1)
        bad = "More than one Authorization header";
    else if (t.origins > 1)
        bad = "More than one Origin header";
    else if (t.content_types > 1)
        bad = "More than one Content-Type header";
    if (bad != NULL) {
        *reason = bad;
        return FRAMING_BAD_REQUEST;
    }
    if (t.content_lengths > 0 && t.content_length > LATCH_MAX_BODY_BYTES) {
        *reason = "Request body exceeds 16 KiB";
        return FRAMING_BODY_TOO_LARGE;
    }
    return FRAMING_OK;
}
