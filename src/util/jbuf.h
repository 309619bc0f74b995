/*
 * jbuf.h - building small JSON documents into a caller's buffer without an
 * object tree: for the hot answers (/profile) where jansson's build-and-dump
 * costs more than the rest of the request.  Strings are escaped per RFC 8259
 * section 7; a document that does not fit sets overflow and stays truncated.
 */
#ifndef LATCH_UTIL_JBUF_H
#define LATCH_UTIL_JBUF_H

#include <stddef.h>
#include <stdint.h>

struct jbuf {
    char *p;
    size_t len, cap;
    int overflow;
};

void jbuf_init(struct jbuf *b, char *storage, size_t cap);
void jbuf_raw(struct jbuf *b, const char *text);
void jbuf_str(struct jbuf *b, const char *s);   /* "s", escaped */
void jbuf_int(struct jbuf *b, int64_t v);

#endif
