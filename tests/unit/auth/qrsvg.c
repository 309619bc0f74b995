/* Tests src/auth/qrsvg.c: the SVG's shape, and that its path draws exactly
 * libqrencode's dark modules inside a 4-module quiet zone.  (Decoding the
 * rasterised image is tests/integration/test_totp_qr.py.) */
#include "test.h"

#include "auth/qrsvg.h"

#include <qrencode.h>
#include <stdlib.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static unsigned read_uint(const char **p)
{
    unsigned v = 0;

    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (unsigned)(**p - '0');
        (*p)++;
    }
    return v;
}

/* Paints the path's runs ("Mx yhWv1h-Wz" each) into grid (side x side);
 * returns the number of modules painted, or -1 on a syntax surprise or a
 * module painted twice. */
static long paint(const char *d, unsigned char *grid, unsigned side)
{
    const char *p = d;
    long painted = 0;

    while (*p == 'M') {
        unsigned x, y, w, w2, i;

        p++;
        x = read_uint(&p);
        if (*p++ != ' ')
            return -1;
        y = read_uint(&p);
        if (*p++ != 'h')
            return -1;
        w = read_uint(&p);
        if (strncmp(p, "v1h-", 4) != 0)
            return -1;
        p += 4;
        w2 = read_uint(&p);
        if (*p++ != 'z' || w == 0 || w != w2 || y >= side || x + w > side)
            return -1;
        for (i = 0; i < w; i++) {
            if (grid[y * side + x + i])
                return -1;
            grid[y * side + x + i] = 1;
            painted++;
        }
    }
    return *p == '"' ? painted : -1;
}

static void check_render(const char *text)
{
    char *svg = NULL, head[256];
    const char *d;
    unsigned char *grid;
    unsigned side, x, y, width;
    long dark = 0, painted;
    QRcode *qr;

    CHECK_INT(qrsvg_render(text, &svg), QRSVG_OK);
    CHECK(svg != NULL);
    CHECK(strlen(svg) <= LATCH_MAX_QR_SVG_BYTES);
    qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    CHECK(qr != NULL);
    width = (unsigned)qr->width;
    side = width + 8;
    snprintf(head, sizeof(head),
             "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %u %u\" "
             "shape-rendering=\"crispEdges\"><rect width=\"%u\" height=\"%u\" fill=\"#fff\"/>"
             "<path fill=\"#000\" d=\"",
             side, side, side, side);
    if (strncmp(svg, head, strlen(head)) != 0) {
        test_failed(__FILE__, __LINE__, "head: %.200s", svg);
        QRcode_free(qr);
        free(svg);
        return;
    }
    CHECK_INT(count(svg, "<path"), 1);
    CHECK_INT(count(svg, "<rect"), 1);
    CHECK_INT(count(svg, "fill=\"#000\""), 1);
    CHECK_STR(svg + strlen(svg) - strlen("\"/></svg>\n"), "\"/></svg>\n");
    d = svg + strlen(head);
    grid = calloc((size_t)side * side, 1);
    CHECK(grid != NULL);
    painted = paint(d, grid, side);
    for (y = 0; y < side; y++) {
        for (x = 0; x < side; x++) {
            int in_symbol = x >= 4 && y >= 4 && x < side - 4 && y < side - 4;
            int want = in_symbol && (qr->data[(y - 4) * width + (x - 4)] & 1);

            dark += want;
            if (grid[y * side + x] != want) {
                test_failed(__FILE__, __LINE__, "module (%u, %u): painted %d, matrix %d", x, y,
                            grid[y * side + x], want);
                y = side;
                break;
            }
        }
    }
    free(grid);
    QRcode_free(qr);
    free(svg);
    CHECK(dark > 0);
    CHECK_INT(painted, dark);
}

TEST(qrsvg_draws_the_matrix_with_a_quiet_zone)
{
    check_render("otpauth://totp/latch:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
                 "&issuer=latch&algorithm=SHA1&digits=6&period=30");
    if (test_current_failed())
        return;
    check_render("x");
    if (test_current_failed())
        return;
    check_render("MiXeD case 1234 & <svg> \"quotes\" é");
}

TEST(qrsvg_largest_text_fits_the_bound)
{
    char *text = malloc(LATCH_MAX_QR_TEXT_BYTES + 2), *svg = NULL;

    CHECK(text != NULL);
    memset(text, '%', LATCH_MAX_QR_TEXT_BYTES);
    text[LATCH_MAX_QR_TEXT_BYTES] = '\0';
    check_render(text);
    text[LATCH_MAX_QR_TEXT_BYTES] = '%';
    text[LATCH_MAX_QR_TEXT_BYTES + 1] = '\0';
    svg = (char *)"untouched";
    CHECK_INT(qrsvg_render(text, &svg), QRSVG_EINVAL);
    CHECK_STR(svg, "untouched");
    free(text);
}

TEST(qrsvg_refuses_empty_and_null)
{
    char *svg = NULL;

    CHECK_INT(qrsvg_render("", &svg), QRSVG_EINVAL);
    CHECK_INT(qrsvg_render(NULL, &svg), QRSVG_EINVAL);
    CHECK_INT(qrsvg_render("x", NULL), QRSVG_EINVAL);
    CHECK(svg == NULL);
}
