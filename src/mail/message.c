#include "mail/message.h"

#include "auth/credentials.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Header bytes at most: the fixed text, two addresses, the subject, the
 * Message-ID (id and a domain) and the date. */
#define HEADER_FIXED_CHARS 400
#define HEADER_MAX_CHARS                                                                       \
    (HEADER_FIXED_CHARS + 3 * LATCH_MAX_EMAIL_BYTES + LATCH_MAX_MAIL_SUBJECT_BYTES +          \
     LATCH_MAX_MAIL_ID_BYTES)
/* The body at most doubles (every LF becomes CRLF), each wrap adds a CRLF,
 * and a final CRLF may be added. */
#define BODY_MAX_CHARS(n) (2 * (n) + 2 * ((n) / (LATCH_MAIL_MAX_LINE_BYTES / 2) + 1) + 2)

_Static_assert(HEADER_MAX_CHARS + BODY_MAX_CHARS(LATCH_MAX_MAIL_BODY_BYTES) <=
                   LATCH_MAX_MAIL_MESSAGE_BYTES,
               "LATCH_MAX_MAIL_MESSAGE_BYTES must hold the largest message");

/* 9999-12-31T23:59:59Z: the last time with a four-digit year. */
#define MAX_DATE_S INT64_C(253402300799)

const char *message_strerror(int err)
{
    switch (err) {
    case MESSAGE_OK: return "ok";
    case MESSAGE_EADDRESS: return "invalid mail address";
    case MESSAGE_EHEADER: return "invalid subject, mail id or date";
    case MESSAGE_EBODY: return "invalid body (size, UTF-8 or control characters)";
    case MESSAGE_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}

/* RFC 5322 section 3.2.3 atext. */
static int is_atext(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_ldh(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-';
}

int message_check_address(const char *addr)
{
    char norm[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why = NULL, *at, *p;
    size_t len;

    if (addr == NULL)
        return MESSAGE_EADDRESS;
    len = strnlen(addr, LATCH_MAX_EMAIL_BYTES + 1);
    if (len > LATCH_MAX_EMAIL_BYTES)
        return MESSAGE_EADDRESS;
    /* latch's rule first (one '@', a dotted domain, ASCII, no space or
     * control character); the normalised copy must be as long as the input,
     * i.e. nothing was trimmed. */
    if (credentials_normalize_new_email(addr, len, norm, &why) != 0 || strlen(norm) != len)
        return MESSAGE_EADDRESS;
    at = strchr(addr, '@');
    /* Local part: dot-atom-text, 1*atext *("." 1*atext). */
    for (p = addr; p < at; p++) {
        if (*p == '.') {
            if (p == addr || p + 1 == at || p[1] == '.')
                return MESSAGE_EADDRESS;
        } else if (!is_atext((unsigned char)*p)) {
            return MESSAGE_EADDRESS;
        }
    }
    /* Domain: labels of letters, digits and hyphens, none empty, none
     * starting or ending with a hyphen (RFC 1123 section 2.1, RFC 5321
     * section 4.1.2 Domain); no address literals. */
    for (p = at + 1; *p != '\0';) {
        const char *label = p;

        while (*p != '\0' && *p != '.') {
            if (!is_ldh((unsigned char)*p))
                return MESSAGE_EADDRESS;
            p++;
        }
        if (p == label || *label == '-' || p[-1] == '-' || p - label > 63)
            return MESSAGE_EADDRESS;
        if (*p == '.') {
            p++;
            if (*p == '\0')
                return MESSAGE_EADDRESS;
        }
    }
    return MESSAGE_OK;
}

static int check_subject(const char *s)
{
    size_t n, i;

    if (s == NULL)
        return MESSAGE_EHEADER;
    n = strnlen(s, LATCH_MAX_MAIL_SUBJECT_BYTES + 1);
    if (n == 0 || n > LATCH_MAX_MAIL_SUBJECT_BYTES)
        return MESSAGE_EHEADER;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return MESSAGE_EHEADER;
    return MESSAGE_OK;
}

static int check_mail_id(const char *s)
{
    size_t n, i;

    if (s == NULL)
        return MESSAGE_EHEADER;
    n = strnlen(s, LATCH_MAX_MAIL_ID_BYTES + 1);
    if (n == 0 || n > LATCH_MAX_MAIL_ID_BYTES)
        return MESSAGE_EHEADER;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return MESSAGE_EHEADER;
    }
    return MESSAGE_OK;
}

/* Length of the UTF-8 sequence at p (at most n bytes): 1..4, or 0 when it
 * is not well-formed (RFC 3629 section 4: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len, i;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    /* The second byte's range is narrower after these leads. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

static int check_body(const char *body, size_t len)
{
    const unsigned char *p = (const unsigned char *)body;
    size_t i = 0;

    if (len > LATCH_MAX_MAIL_BODY_BYTES || (body == NULL && len > 0))
        return MESSAGE_EBODY;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c == '\r') {
            if (i + 1 >= len || p[i + 1] != '\n')
                return MESSAGE_EBODY;   /* a lone CR */
            i++;
            continue;
        }
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
            return MESSAGE_EBODY;
        n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            return MESSAGE_EBODY;
        i += n;
    }
    return MESSAGE_OK;
}

struct out {
    char *p;
    size_t len, cap;
};

/* The capacity is computed from the input's bounds before anything is
 * written; the check only guards that computation. */
static void put_mem(struct out *o, const char *s, size_t n)
{
    if (n < o->cap - o->len) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

static void put_str(struct out *o, const char *s)
{
    put_mem(o, s, strlen(s));
}

static void put_num(struct out *o, unsigned v, int width)
{
    char d[8];
    int i;

    for (i = width - 1; i >= 0; i--) {
        d[i] = (char)('0' + v % 10);
        v /= 10;
    }
    put_mem(o, d, (size_t)width);
}

/* RFC 5322 section 3.3: "Thu, 01 Jan 1970 00:00:00 +0000" (names in
 * English whatever the locale). */
static int put_date(struct out *o, int64_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;

    if (t < 0 || t > MAX_DATE_S || gmtime_r(&tt, &tm) == NULL)
        return MESSAGE_EHEADER;
    put_mem(o, days[tm.tm_wday], 3);
    put_str(o, ", ");
    put_num(o, (unsigned)tm.tm_mday, 2);
    put_str(o, " ");
    put_mem(o, months[tm.tm_mon], 3);
    put_str(o, " ");
    put_num(o, (unsigned)tm.tm_year + 1900, 4);
    put_str(o, " ");
    put_num(o, (unsigned)tm.tm_hour, 2);
    put_str(o, ":");
    put_num(o, (unsigned)tm.tm_min, 2);
    put_str(o, ":");
    put_num(o, (unsigned)tm.tm_sec, 2);
    put_str(o, " +0000");
    return MESSAGE_OK;
}

/* One body line (without its line end), wrapped to at most
 * LATCH_MAIL_MAX_LINE_BYTES per output line, each ended by CRLF. */
static void put_line(struct out *o, const char *p, size_t n)
{
    while (n > LATCH_MAIL_MAX_LINE_BYTES) {
        size_t cut = 0, skip = 0, k;

        /* The last space that leaves a non-empty line of at most the limit. */
        for (k = LATCH_MAIL_MAX_LINE_BYTES; k >= 1; k--) {
            if (p[k] == ' ') {
                cut = k;
                skip = 1;
                break;
            }
        }
        if (cut == 0) {
            /* No space: cut before a byte that starts a UTF-8 character. */
            cut = LATCH_MAIL_MAX_LINE_BYTES;
            while (cut > 1 && ((unsigned char)p[cut] & 0xc0) == 0x80)
                cut--;
        }
        put_mem(o, p, cut);
        put_str(o, "\r\n");
        p += cut + skip;
        n -= cut + skip;
    }
    put_mem(o, p, n);
    put_str(o, "\r\n");
}

static void put_body(struct out *o, const char *body, size_t len)
{
    size_t start = 0, i;

    for (i = 0; i < len; i++) {
        if (body[i] == '\n') {
            size_t end = i;

            if (end > start && body[end - 1] == '\r')
                end--;
            put_line(o, body + start, end - start);
            start = i + 1;
        }
    }
    /* A last line without a line end gets one. */
    if (start < len)
        put_line(o, body + start, len - start);
}

int message_format(const struct message_fields *m, char **out, size_t *out_len)
{
    struct out o;
    const char *domain;
    int err;

    if (m == NULL || out == NULL || out_len == NULL)
        return MESSAGE_EHEADER;
    if (message_check_address(m->from) != MESSAGE_OK ||
        message_check_address(m->to) != MESSAGE_OK)
        return MESSAGE_EADDRESS;
    if (check_subject(m->subject) != MESSAGE_OK || check_mail_id(m->mail_id) != MESSAGE_OK ||
        m->date_s < 0 || m->date_s > MAX_DATE_S)
        return MESSAGE_EHEADER;
    if (check_body(m->body, m->body_len) != MESSAGE_OK)
        return MESSAGE_EBODY;

    o.cap = HEADER_MAX_CHARS + BODY_MAX_CHARS(m->body_len) + 1;
    o.len = 0;
    o.p = malloc(o.cap);
    if (o.p == NULL)
        return MESSAGE_ENOMEM;
    domain = strchr(m->from, '@') + 1;

    put_str(&o, "From: ");
    put_str(&o, m->from);
    put_str(&o, "\r\nTo: ");
    put_str(&o, m->to);
    put_str(&o, "\r\nSubject: ");
    put_str(&o, m->subject);
    put_str(&o, "\r\nDate: ");
    err = put_date(&o, m->date_s);
    if (err != MESSAGE_OK) {
        free(o.p);
        return err;
    }
    /* RFC 5322 section 3.6.4: msg-id = "<" id-left "@" id-right ">"; the
     * From domain makes it unique to this sender, the outbox id within it. */
    put_str(&o, "\r\nMessage-ID: <mail-");
    put_str(&o, m->mail_id);
    put_str(&o, "@");
    put_str(&o, domain);
    put_str(&o, ">\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n"
                "Auto-Submitted: auto-generated\r\n"
                "\r\n");
    put_body(&o, m->body, m->body_len);
    o.p[o.len] = '\0';
    *out = o.p;
    *out_len = o.len;
    return MESSAGE_OK;
}
