#include "util/log.h"

#include "util/num.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Read on every line by every thread, set once at start: plain ints. */
static enum log_level current_level = LOG_INFO;
static enum log_format current_format = LOG_FORMAT_TEXT;
static _Thread_local char thread_request_id[LOG_REQUEST_ID_MAX + 1];

/* The calling thread's held lines (log_hold). */
static _Thread_local struct {
    int on;
    size_t len;
    char buf[LOG_MAX_LINE_BYTES];
} held;

/* Bytes kept back so that a cut line can still be closed: a quote, a brace
 * and the newline. */
#define LOG_CLOSE_RESERVE 4

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_enabled(enum log_level level)
{
    return level <= current_level;
}

void log_set_format(enum log_format format)
{
    current_format = format;
}

enum log_format log_get_format(void)
{
    return current_format;
}

void log_set_request_id(const char *id)
{
    size_t n = id != NULL ? strnlen(id, LOG_REQUEST_ID_MAX) : 0;

    memcpy(thread_request_id, id != NULL ? id : "", n);
    thread_request_id[n] = '\0';
}

const char *log_request_id(void)
{
    return thread_request_id;
}

/* ---- a bounded line ---- */

struct line {
    char *p;
    size_t len, cap;          /* cap: usable bytes, LOG_CLOSE_RESERVE more exist */
    int full;                 /* something did not fit: append nothing more */
};

static int put(struct line *b, const char *s, size_t n)
{
    if (b->full || n > b->cap - b->len) {
        b->full = 1;
        return 0;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 1;
}

static int puts_(struct line *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* Closing bytes, written into the reserve even when the line is full. */
static void force(struct line *b, const char *s)
{
    size_t n = strlen(s);

    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t need, i;
    unsigned c = s[0];
    unsigned long cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4, cp = c & 0x07;
    else
        return 0;
    if (n < need)
        return 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

/* A JSON string (RFC 8259 7): controls escaped, invalid UTF-8 replaced by
 * U+FFFD, so that any bytes a client sent make a valid line. */
static void json_string(struct line *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;

    if (!put(b, "\"", 1))
        return;
    while (i < n) {
        char esc[8];
        size_t k;

        if (u[i] == '"' || u[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)u[i];
            if (!put(b, esc, 2))
                break;
            i++;
        } else if (u[i] < 0x20 || u[i] == 0x7f) {
            const char *named = u[i] == '\n' ? "\\n" : u[i] == '\r' ? "\\r"
                                : u[i] == '\t' ? "\\t" : NULL;
            if (named == NULL) {
                snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
                named = esc;
            }
            if (!puts_(b, named))
                break;
            i++;
        } else if ((k = utf8_len(u + i, n - i)) > 0) {
            if (!put(b, s + i, k))
                break;
            i += k;
        } else {
            if (!puts_(b, "\\ufffd"))
                break;
            i++;
        }
    }
    force(b, "\"");
}

/* A text value: bare when it is one plain word, else quoted; controls and
 * bytes that are not UTF-8 as \xHH, so a value cannot forge a line. */
static void text_value(struct line *b, const char *s, int always_bare)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i;
    int quote = !always_bare && n == 0;

    for (i = 0; i < n && !quote && !always_bare; i++)
        if (u[i] <= 0x20 || u[i] == '"' || u[i] == '=' || u[i] == '\\' || u[i] >= 0x7f)
            quote = 1;
    if (quote && !put(b, "\"", 1))
        return;
    for (i = 0; i < n;) {
        char esc[8];
        size_t k;

        if (quote && (u[i] == '"' || u[i] == '\\')) {
            esc[0] = '\\';
            esc[1] = (char)u[i];
            if (!put(b, esc, 2))
                break;
            i++;
        } else if (u[i] < 0x20 || u[i] == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
            if (!puts_(b, esc))
                break;
            i++;
        } else if ((k = utf8_len(u + i, n - i)) > 0) {
            if (!put(b, s + i, k))
                break;
            i += k;
        } else {
            snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
            if (!puts_(b, esc))
                break;
            i++;
        }
    }
    if (quote)
        force(b, "\"");
}

static const char *level_name(enum log_level level, enum log_format format)
{
    static const char *const json_names[] = {"error", "warn", "info", "debug"};
    static const char *const text_names[] = {"error", "warning", "info", "debug"};

    if ((unsigned)level > LOG_DEBUG)
        level = LOG_ERROR;
    return format == LOG_FORMAT_JSON ? json_names[level] : text_names[level];
}

static void field_value(struct line *b, enum log_format format, const struct log_field *f)
{
    char num[32];

    if (f->type == LOG_FIELD_STR) {
        if (format == LOG_FORMAT_JSON)
            json_string(b, f->s);
        else
            text_value(b, f->s, 0);
        return;
    }
    if (f->type == LOG_FIELD_BOOL)
        snprintf(num, sizeof(num), "%s", f->i ? "true" : "false");
    else
        snprintf(num, sizeof(num), "%lld", f->i);
    (void)puts_(b, num);
}

size_t log_format_line(char *out, size_t size, enum log_format format, int64_t ts_ms,
                       enum log_level level, const char *request_id, const char *msg,
                       const struct log_field *fields, size_t n)
{
    struct line b = {out, 0, size > LOG_CLOSE_RESERVE ? size - LOG_CLOSE_RESERVE : 0, 0};
    char key[64];             /* keys are short names chosen in the code */
    size_t i;

    if (size <= LOG_CLOSE_RESERVE)
        return 0;
    if (format == LOG_FORMAT_JSON) {
        char ts[40];
        size_t len = num_format_utc(ts_ms / 1000, ts);
        int ms = (int)(ts_ms % 1000);

        ts[len++] = '.';
        ts[len++] = (char)('0' + ms / 100);
        ts[len++] = (char)('0' + ms / 10 % 10);
        ts[len++] = (char)('0' + ms % 10);
        ts[len++] = 'Z';
        ts[len] = '\0';
        puts_(&b, "{\"ts\":\"");
        puts_(&b, ts);
        puts_(&b, "\",\"level\":\"");
        puts_(&b, level_name(level, format));
        puts_(&b, "\",\"msg\":");
        json_string(&b, msg);
        if (request_id != NULL && request_id[0] != '\0' && puts_(&b, ",\"request_id\":"))
            json_string(&b, request_id);
        for (i = 0; i < n; i++) {
            if (fields[i].key == NULL || (fields[i].type == LOG_FIELD_STR && fields[i].s == NULL))
                continue;
            snprintf(key, sizeof(key), ",\"%s\":", fields[i].key);
            if (!puts_(&b, key))
                break;
            field_value(&b, format, &fields[i]);
        }
        force(&b, "}\n");
        return b.len;
    }
    puts_(&b, "latch: ");
    if (level != LOG_INFO) {
        puts_(&b, level_name(level, format));
        puts_(&b, ": ");
    }
    text_value(&b, msg, 1);
    for (i = 0; i < n; i++) {
        if (fields[i].key == NULL || (fields[i].type == LOG_FIELD_STR && fields[i].s == NULL))
            continue;
        snprintf(key, sizeof(key), " %s=", fields[i].key);
        if (!puts_(&b, key))
            break;
        field_value(&b, format, &fields[i]);
    }
    if (request_id != NULL && request_id[0] != '\0' && puts_(&b, " request_id="))
        text_value(&b, request_id, 0);
    force(&b, "\n");
    return b.len;
}

static void write_line(const char *p, size_t n)
{
    /* One write: a line is at most PIPE_BUF bytes, written whole. */
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void log_flush(void)
{
    if (held.len > 0) {
        write_line(held.buf, held.len);
        held.len = 0;
    }
}

void log_hold(int on)
{
    if (!on)
        log_flush();
    held.on = on != 0;
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    char line[LOG_MAX_LINE_BYTES];
    struct timespec ts;
    size_t len;

    if (level > current_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    len = log_format_line(line, sizeof(line), current_format,
                          (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, level,
                          thread_request_id, msg, fields, n);
    if (!held.on) {
        write_line(line, len);
        return;
    }
    if (len > sizeof(held.buf) - held.len)
        log_flush();
    memcpy(held.buf + held.len, line, len);
    held.len += len;
    if (level <= LOG_WARN)
        log_flush();
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[LOG_MAX_LINE_BYTES];
    va_list ap;
    int n;

    if (level > current_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_fields(level, msg, NULL, 0);
}
