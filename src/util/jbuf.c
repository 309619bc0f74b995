#include "util/jbuf.h"

#include "util/num.h"

#include <string.h>

void jbuf_init(struct jbuf *b, char *storage, size_t cap)
{
    b->p = storage;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
}

static void put(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void jbuf_raw(struct jbuf *b, const char *text)
{
    put(b, text, strlen(text));
}

void jbuf_str(struct jbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    put(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(b, run, (size_t)(s - run));
        run = s + 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            put(b, esc, 6);
        }
    }
    put(b, run, (size_t)(s - run));
    put(b, "\"", 1);
}

void jbuf_int(struct jbuf *b, int64_t v)
{
    char digits[NUM_I64_BYTES];

    put(b, digits, num_format_i64(v, digits));
}
