/*
 * framing.c - the request-head checks of framing.h.  Pure: the server
 * (server.c) hands in the fields parse.c found.  Every request's head goes
 * through here, so names are compared by length first and characters by
 * table.
 */
#include "http/framing.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* The fields latch reads to frame a request or to authenticate it.  A name
 * that starts with one of them and goes on is a fold glued onto it by the
 * library (see framing.h), or a client probing for one: refused either way. */
#define NAME(literal) {literal, sizeof(literal) - 1}

struct name {
    const char *text;
    size_t len;
};

static const struct name guarded_names[] = {
    NAME("Content-Length"), NAME("Transfer-Encoding"), NAME("Host"), NAME("Authorization"),
    NAME("Cookie"), NAME("Content-Type"), NAME("Origin"),
};

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
const unsigned char framing_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static bool is_tchar(unsigned char c)
{
    return framing_tchar[c] != 0;
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

/* Case-insensitive equality of a field's name or value with a literal. */
#define NAME_IS(f, literal)                                                     \
    ((f)->name_len == sizeof(literal) - 1 &&                                    \
     strncasecmp((f)->name, (literal), sizeof(literal) - 1) == 0)
#define VALUE_IS(f, literal)                                                    \
    ((f)->value_len == sizeof(literal) - 1 &&                                   \
     strncasecmp((f)->value, (literal), sizeof(literal) - 1) == 0)

static bool name_extends_guarded(const struct framing_field *f)
{
    size_t i;

    for (i = 0; i < sizeof(guarded_names) / sizeof(guarded_names[0]); i++) {
        const struct name *g = &guarded_names[i];

        if (f->name_len > g->len && (f->name[0] | 0x20) == (g->text[0] | 0x20) &&
            strncasecmp(f->name, g->text, g->len) == 0)
            return true;
    }
    return false;
}

/* RFC 9110 5.5: CR, LF and NUL are never valid in a field value. */
static bool value_has_bad_byte(const struct framing_field *f)
{
    return f->value_len > 0 && (memchr(f->value, '\0', f->value_len) != NULL ||
                                memchr(f->value, '\r', f->value_len) != NULL ||
                                memchr(f->value, '\n', f->value_len) != NULL);
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
    /* RFC 9112 5.1 (no white space before the colon) and 5.2 (obs-fold)
     * showed up as a name that is not a token under libmicrohttpd; parse.c
     * refuses both before this, and this stays a second line of defence. */
    if (!framing_is_token(g.name, g.name_len) || name_extends_guarded(&g) ||
        value_has_bad_byte(&g))
        t->malformed = true;
    if (NAME_IS(&g, "Host")) {
        t->hosts++;
    } else if (NAME_IS(&g, "Transfer-Encoding")) {
        t->transfer_encoding = true;
        /* Only chunked is understood (RFC 9112 6.1). */
        if (!VALUE_IS(&g, "chunked"))
            t->bad_transfer_encoding = true;
    } else if (NAME_IS(&g, "Content-Length")) {
        /* RFC 9112 6.3: a repeated or invalid Content-Length is an
         * unrecoverable framing error. */
        if (++t->content_lengths > 1 || !parse_content_length(&g, &t->content_length))
            t->bad_content_length = true;
    } else if (NAME_IS(&g, "Authorization")) {
        t->authorizations++;
    } else if (NAME_IS(&g, "Origin")) {
        t->origins++;
    } else if (NAME_IS(&g, "Content-Type")) {
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
