#include "auth/qrsvg.h"

#include <errno.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

/* The longest text of one run: "M" x " " y "h" w "v1h-" w "z", each number
 * at most 3 digits (a version 40 symbol is 177 modules, 185 with the quiet
 * zone). */
#define RUN_MAX_CHARS 20
#define HEAD_MAX_CHARS 256
#define MAX_SIDE_MODULES (177 + 2 * QRSVG_QUIET_MODULES)

_Static_assert(HEAD_MAX_CHARS + (size_t)177 * ((177 + 1) / 2) * RUN_MAX_CHARS <=
                   LATCH_MAX_QR_SVG_BYTES,
               "LATCH_MAX_QR_SVG_BYTES must hold a version 40 symbol");

const char *qrsvg_strerror(int err)
{
    switch (err) {
    case QRSVG_OK: return "ok";
    case QRSVG_EINVAL: return "empty or too long text";
    case QRSVG_ETOOBIG: return "text does not fit in a QR code";
    case QRSVG_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}

struct out {
    char *p;
    size_t len, cap;
};

/* The capacity is computed up front from the matrix size, so these never
 * run out; the check only guards that computation. */
static void put_str(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (n < o->cap - o->len) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

static void put_uint(struct out *o, unsigned v)
{
    char digits[12];
    size_t n = sizeof(digits) - 1;

    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n > 0);
    put_str(o, digits + n);
}

int qrsvg_render(const char *text, char **svg_out)
{
    QRcode *qr;
    struct out o;
    unsigned side, width, x, y;
    size_t len;
    char *shrunk;

    if (text == NULL || svg_out == NULL)
        return QRSVG_EINVAL;
    len = strnlen(text, LATCH_MAX_QR_TEXT_BYTES + 1);
    if (len == 0 || len > LATCH_MAX_QR_TEXT_BYTES)
        return QRSVG_EINVAL;
    /* Version 0: the smallest that fits.  QR_MODE_8 with casesensitive = 1
     * keeps every byte as it is (the URI's percent-escapes and lower-case
     * letters); libqrencode may still use alphanumeric or numeric segments
     * where they encode the same bytes more compactly. */
    errno = 0;
    qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL)
        return errno == ERANGE ? QRSVG_ETOOBIG : errno == EINVAL ? QRSVG_EINVAL : QRSVG_ENOMEM;
    width = (unsigned)qr->width;
    side = width + 2 * QRSVG_QUIET_MODULES;
    if (qr->width <= 0 || side > MAX_SIDE_MODULES) {
        QRcode_free(qr);
        return QRSVG_ETOOBIG;
    }
    o.cap = HEAD_MAX_CHARS + (size_t)width * ((width + 1) / 2) * RUN_MAX_CHARS;
    o.len = 0;
    o.p = malloc(o.cap);
    if (o.p == NULL) {
        QRcode_free(qr);
        return QRSVG_ENOMEM;
    }
    put_str(&o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ");
    put_uint(&o, side);
    put_str(&o, " ");
    put_uint(&o, side);
    put_str(&o, "\" shape-rendering=\"crispEdges\"><rect width=\"");
    put_uint(&o, side);
    put_str(&o, "\" height=\"");
    put_uint(&o, side);
    put_str(&o, "\" fill=\"#fff\"/><path fill=\"#000\" d=\"");
    for (y = 0; y < width; y++) {
        const unsigned char *row = qr->data + (size_t)y * width;

        x = 0;
        while (x < width) {
            unsigned run = 0;

            /* Bit 0 of each byte is the module's colour: 1 = dark (qrencode.h). */
            while (x + run < width && (row[x + run] & 1))
                run++;
            if (run == 0) {
                x++;
                continue;
            }
            put_str(&o, "M");
            put_uint(&o, x + QRSVG_QUIET_MODULES);
            put_str(&o, " ");
            put_uint(&o, y + QRSVG_QUIET_MODULES);
            put_str(&o, "h");
            put_uint(&o, run);
            put_str(&o, "v1h-");
            put_uint(&o, run);
            put_str(&o, "z");
            x += run;
        }
    }
    put_str(&o, "\"/></svg>\n");
    QRcode_free(qr);
    o.p[o.len] = '\0';
    shrunk = realloc(o.p, o.len + 1);
    *svg_out = shrunk != NULL ? shrunk : o.p;
    return QRSVG_OK;
}
