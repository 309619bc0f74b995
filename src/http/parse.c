/*
 * parse.c - the request head and chunked body parsers of parse.h.
 */
#include "http/parse.h"

#include "latch_limits.h"

#include <string.h>
#include <strings.h>

static const char MALFORMED_LINE[] = "Malformed request line";
static const char MALFORMED_FIELD[] = "Malformed header field";

/* RFC 9110 5.6.2's tchar, from the table framing.c keeps: the parser asks
 * for every byte of every method and field name. */
static inline bool is_tchar(unsigned char c)
{
    return framing_tchar[c] != 0;
}

/* A request-target byte: not white space, not a control.  Bytes from 0x80
 * are let through (a target that is not a URI is simply an unknown path). */
static bool is_target_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * A line end at buf[i]: CRLF, or a bare LF (RFC 9112 2.2 lets a recipient
 * take LF alone as the terminator).  Returns its length (1 or 2), 0 when the
 * buffer ends first, -1 when buf[i] is no line end or is a CR not followed
 * by LF (a bare CR, 2.2: invalid).
 */
static int line_end(const char *buf, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (buf[i] == '\n')
        return 1;
    if (buf[i] != '\r')
        return -1;
    if (i + 1 >= len)
        return 0;
    return buf[i + 1] == '\n' ? 2 : -1;
}

static int bad(const char **reason, const char *why)
{
    *reason = why;
    return HTTP_PARSE_BAD_REQUEST;
}

/* The request-line (RFC 9112 3) from buf[*pos]; *pos ends past its line end. */
static int parse_request_line(const char *buf, size_t len, size_t *pos, struct http_head *h,
                              const char **reason)
{
    static const char proto[] = "HTTP/";
    size_t i = *pos, start, k;
    int major, end;

    start = i;
    while (i < len && is_tchar((unsigned char)buf[i]))
        i++;
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    if (i == start || buf[i] != ' ')
        return bad(reason, MALFORMED_LINE);
    h->method = buf + start;
    h->method_len = i - start;
    i++;

    start = i;
    while (i < len && is_target_byte((unsigned char)buf[i]))
        i++;
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    /* One SP between the parts, as the grammar says; a server MAY accept
     * more (3), latch does not: fewer readings, fewer disagreements. */
    if (i == start || buf[i] != ' ')
        return bad(reason, MALFORMED_LINE);
    h->target = buf + start;
    h->target_len = i - start;
    i++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT (2.3), case-sensitive. */
    for (k = 0; k < sizeof(proto) - 1; k++, i++) {
        if (i >= len)
            return HTTP_PARSE_INCOMPLETE;
        if (buf[i] != proto[k])
            return bad(reason, MALFORMED_LINE);
    }
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    if (buf[i] < '0' || buf[i] > '9')
        return bad(reason, MALFORMED_LINE);
    major = buf[i++] - '0';
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    if (buf[i++] != '.')
        return bad(reason, MALFORMED_LINE);
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    if (buf[i] < '0' || buf[i] > '9')
        return bad(reason, MALFORMED_LINE);
    h->minor_version = buf[i++] - '0';
    end = line_end(buf, len, i);
    if (end == 0)
        return HTTP_PARSE_INCOMPLETE;
    if (end < 0)
        return bad(reason, MALFORMED_LINE);
    /* A 1.x server answers other major versions 505 (RFC 9110 15.6.6); a
     * higher minor version is read as 1.1 by the caller (2.3). */
    if (major != 1)
        return HTTP_PARSE_BAD_VERSION;
    *pos = i + (size_t)end;
    return 0;
}

/* One field line (RFC 9112 5) from buf[*pos], which is not a line end. */
static int parse_field_line(const char *buf, size_t len, size_t *pos, struct framing_field *f,
                            const char **reason)
{
    size_t i = *pos, name, colon, value, value_end;
    const char *lf, *cr;

    /* 5.2: obs-fold is refused outright, not glued onto anything; before the
     * first field the same bytes are white space after the start-line, which
     * 2.2 says to reject (or to skip along with the line: not here). */
    if (is_ows(buf[i]))
        return bad(reason, MALFORMED_FIELD);
    name = i;
    while (i < len && is_tchar((unsigned char)buf[i]))
        i++;
    if (i >= len)
        return HTTP_PARSE_INCOMPLETE;
    /* An empty name, white space before the colon (5.1: MUST be a 400), a
     * byte that is not a tchar, or no colon at all. */
    if (i == name || buf[i] != ':')
        return bad(reason, MALFORMED_FIELD);
    colon = i++;
    while (i < len && is_ows(buf[i]))
        i++;
    value = i;
    /* The value runs to the line's LF (memchr: values such as a Bearer token
     * are most of a head's bytes); RFC 9110 5.5: no NUL, and no CR but the
     * one of the CRLF, inside it. */
    lf = memchr(buf + i, '\n', len - i);
    value_end = lf != NULL ? (size_t)(lf - buf) : len;
    if (memchr(buf + value, '\0', value_end - value) != NULL)
        return bad(reason, MALFORMED_FIELD);
    cr = memchr(buf + value, '\r', value_end - value);
    if (cr != NULL && (size_t)(cr - buf) + 1 < value_end)
        return bad(reason, MALFORMED_FIELD);     /* a bare CR */
    if (lf == NULL)
        return HTTP_PARSE_INCOMPLETE;
    i = value_end + 1;
    if (cr != NULL)
        value_end--;                             /* the CR of the CRLF */
    while (value_end > value && is_ows(buf[value_end - 1]))
        value_end--;
    f->name = buf + name;
    f->name_len = colon - name;
    f->value = buf + value;
    f->value_len = value_end - value;
    *pos = i;
    return 0;
}

int http_parse_head(const char *buf, size_t len, size_t last_len, struct http_head *head,
                    struct framing_field *fields, size_t max_fields, const char **reason)
{
    struct http_head h;
    size_t i = 0;
    int rc, end;

    /* Nothing new that could end a line: nothing can have changed. */
    if (last_len > 0 && (last_len >= len || memchr(buf + last_len, '\n', len - last_len) == NULL))
        return HTTP_PARSE_INCOMPLETE;

    /* RFC 9112 2.2: empty lines before the request-line are skipped. */
    while ((end = line_end(buf, len, i)) > 0)
        i += (size_t)end;
    if (end == 0)
        return HTTP_PARSE_INCOMPLETE;

    memset(&h, 0, sizeof(h));
    rc = parse_request_line(buf, len, &i, &h, reason);
    if (rc != 0)
        return rc;

    for (;;) {
        end = line_end(buf, len, i);
        if (end > 0) {
            i += (size_t)end;
            break;                       /* the empty line: the head is whole */
        }
        if (end == 0)
            return HTTP_PARSE_INCOMPLETE;
        if (h.n_fields == max_fields) {
            /* Decided as soon as one more field begins, however long it is.
             * A line starting with white space is no new field: it is the
             * 400 parse_field_line gives. */
            if (!is_ows(buf[i]))
                return HTTP_PARSE_TOO_MANY_FIELDS;
            return bad(reason, MALFORMED_FIELD);
        }
        rc = parse_field_line(buf, len, &i, &fields[h.n_fields], reason);
        if (rc != 0)
            return rc;
        h.n_fields++;
    }
    *head = h;
    return (int)i;
}

int http_parse_request_line(const char *buf, size_t len, struct http_head *head)
{
    struct http_head h;
    const char *reason = NULL;
    size_t i = 0;
    int rc, end;

    while ((end = line_end(buf, len, i)) > 0)
        i += (size_t)end;
    if (end == 0)
        return HTTP_PARSE_INCOMPLETE;
    memset(&h, 0, sizeof(h));
    rc = parse_request_line(buf, len, &i, &h, &reason);
    if (rc != 0)
        return rc;
    *head = h;
    return (int)i;
}

/* ---- chunked bodies ---- */

enum chunk_state {
    CH_SIZE_FIRST = 0,               /* the first hex digit of a size */
    CH_SIZE,                         /* more hex digits */
    CH_SIZE_BWS,                     /* white space after the size: a ";" must follow */
    CH_EXT,                          /* a chunk extension, up to the line end */
    CH_SIZE_LF,                      /* a CR ended the size line: LF expected */
    CH_DATA,
    CH_DATA_END,                     /* CRLF (or LF) after the data */
    CH_DATA_LF,
    CH_TRAILER_START,                /* the start of a trailer line, or the empty line */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,                   /* a CR inside a trailer line: LF expected */
    CH_END_LF,                       /* a CR that begins the empty line: LF expected */
    CH_DONE,
};

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A byte allowed inside a chunk extension or a trailer line: HTAB, SP,
 * VCHAR, obs-text (RFC 9110 5.5); never NUL or another control. */
static bool is_line_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The size line ended: the chunk's data follows, or the trailers. */
static void size_line_done(struct http_chunked *c)
{
    c->line_bytes = 0;
    c->state = c->chunk_left > 0 ? CH_DATA : CH_TRAILER_START;
}

int http_chunked_decode(struct http_chunked *c, const char *in, size_t in_len,
                        size_t *consumed, char *out, size_t out_cap, size_t *out_len)
{
    size_t i = 0;

    while (i < in_len) {
        unsigned char b = (unsigned char)in[i];
        int d;

        if (c->state == CH_DATA) {
            size_t n = in_len - i, room;

            if ((uint64_t)n > c->chunk_left)
                n = (size_t)c->chunk_left;
            room = out_cap > *out_len ? out_cap - *out_len : 0;
            if (out != NULL && room > 0)
                memcpy(out + *out_len, in + i, n < room ? n : room);
            *out_len += n < room ? n : room;
            c->data_bytes += n;
            c->chunk_left -= n;
            i += n;
            if (c->chunk_left == 0)
                c->state = CH_DATA_END;
            continue;
        }
        i++;
        switch (c->state) {
        case CH_SIZE_FIRST:
        case CH_SIZE:
            if (++c->line_bytes > LATCH_MAX_CHUNK_LINE_BYTES)
                return HTTP_CHUNK_BAD;
            d = hex_value(b);
            if (d >= 0) {
                if (c->chunk_left > (UINT64_MAX >> 4))
                    return HTTP_CHUNK_TOO_LARGE;
                c->chunk_left = (c->chunk_left << 4) | (uint64_t)d;
                c->state = CH_SIZE;
                break;
            }
            if (c->state == CH_SIZE_FIRST)
                return HTTP_CHUNK_BAD;       /* no digit at all: "-5", "zz", "" */
            if (b == ';')
                c->state = CH_EXT;
            else if (is_ows((char)b))
                c->state = CH_SIZE_BWS;
            else if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (b == '\n')
                size_line_done(c);
            else
                return HTTP_CHUNK_BAD;
            break;
        case CH_SIZE_BWS:
            if (++c->line_bytes > LATCH_MAX_CHUNK_LINE_BYTES)
                return HTTP_CHUNK_BAD;
            /* chunk-ext = *( BWS ";" ... ): white space only before a ";". */
            if (b == ';')
                c->state = CH_EXT;
            else if (!is_ows((char)b))
                return HTTP_CHUNK_BAD;
            break;
        case CH_EXT:
            if (++c->line_bytes > LATCH_MAX_CHUNK_LINE_BYTES)
                return HTTP_CHUNK_BAD;
            if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (b == '\n')
                size_line_done(c);
            else if (!is_line_byte(b))
                return HTTP_CHUNK_BAD;
            break;
        case CH_SIZE_LF:
            if (b != '\n')
                return HTTP_CHUNK_BAD;       /* a bare CR (RFC 9112 2.2) */
            size_line_done(c);
            break;
        case CH_DATA_END:
            /* The data must end exactly here: "1\r\nhello" is a 400. */
            if (b == '\r')
                c->state = CH_DATA_LF;
            else if (b == '\n')
                c->state = CH_SIZE_FIRST;
            else
                return HTTP_CHUNK_BAD;
            break;
        case CH_DATA_LF:
            if (b != '\n')
                return HTTP_CHUNK_BAD;
            c->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER_START:
            if (b == '\r') {
                c->state = CH_END_LF;
            } else if (b == '\n') {
                c->state = CH_DONE;
            } else if (is_tchar(b)) {
                c->line_bytes = 1;
                c->state = CH_TRAILER_LINE;
            } else {
                return HTTP_CHUNK_BAD;       /* a fold or junk where a field begins */
            }
            if (++c->trailer_bytes > LATCH_MAX_HEADER_BYTES)
                return HTTP_CHUNK_BAD;
            break;
        case CH_TRAILER_LINE:
            if (++c->line_bytes > LATCH_MAX_CHUNK_LINE_BYTES ||
                ++c->trailer_bytes > LATCH_MAX_HEADER_BYTES)
                return HTTP_CHUNK_BAD;
            if (b == '\r')
                c->state = CH_TRAILER_LF;
            else if (b == '\n')
                c->state = CH_TRAILER_START;
            else if (!is_line_byte(b))
                return HTTP_CHUNK_BAD;
            break;
        case CH_TRAILER_LF:
            if (b != '\n')
                return HTTP_CHUNK_BAD;
            c->state = CH_TRAILER_START;
            break;
        case CH_END_LF:
            if (b != '\n')
                return HTTP_CHUNK_BAD;
            c->state = CH_DONE;
            break;
        default:
            return HTTP_CHUNK_BAD;
        }
        if (c->state == CH_DONE) {
            *consumed = i;
            return HTTP_CHUNK_DONE;
        }
    }
    *consumed = i;
    return c->state == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
}

/* ---- small readings of a head ---- */

size_t http_pct_decode(const char *s, size_t len, char *out, bool plus_is_space)
{
    size_t r = 0, w = 0;

    while (r < len) {
        int hi, lo;

        if (s[r] == '%' && r + 2 < len && (hi = hex_value((unsigned char)s[r + 1])) >= 0 &&
            (lo = hex_value((unsigned char)s[r + 2])) >= 0) {
            out[w++] = (char)((hi << 4) | lo);
            r += 3;
        } else if (plus_is_space && s[r] == '+') {
            out[w++] = ' ';
            r++;
        } else {
            out[w++] = s[r++];
        }
    }
    return w;
}

bool http_list_has_token(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0;

    while (i < len) {
        size_t start, end;

        while (i < len && (is_ows(value[i]) || value[i] == ','))
            i++;
        start = i;
        while (i < len && value[i] != ',')
            i++;
        end = i;
        while (end > start && is_ows(value[end - 1]))
            end--;
        if (end - start == tlen && strncasecmp(value + start, token, tlen) == 0)
            return true;
    }
    return false;
}

bool http_parse_content_length(const char *value, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)value[i] - (unsigned)'0';

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
