/*
 * qrsvg.h - a QR code as an SVG image, for the TOTP enrolment URI.
 *
 * libqrencode makes the module matrix (ISO/IEC 18004): error correction
 * level M (15% recovery), the smallest version that holds the text, the
 * whole text in 8-bit byte mode, case kept.  The SVG is:
 *
 *   <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 N N"
 *        shape-rendering="crispEdges">
 *     <rect width="N" height="N" fill="#fff"/>
 *     <path fill="#000" d="M x y hWv1h-Wz ..."/>
 *   </svg>
 *
 * on one line: units are modules, N = matrix size + 8 (the 4-module quiet
 * zone ISO/IEC 18004 asks for on every side), a white background, and ONE
 * path whose subpaths are the horizontal runs of dark modules (a run of W
 * modules at column x, row y is "Mx yhWv1h-Wz", quiet zone included in x and
 * y).  No width or height: the page sizes it; rasterisers take N as the
 * intrinsic size.  The text appears nowhere in the SVG but in the modules.
 *
 * Thread-safe (Debian builds libqrencode with pthreads).  No logging.
 */
#ifndef LATCH_AUTH_QRSVG_H
#define LATCH_AUTH_QRSVG_H

#include "latch_limits.h"

#include <stddef.h>

#define QRSVG_QUIET_MODULES 4

enum qrsvg_err {
    QRSVG_OK = 0,
    QRSVG_EINVAL = -1,   /* NULL, empty, or over LATCH_MAX_QR_TEXT_BYTES */
    QRSVG_ETOOBIG = -2,  /* more than a version 40-M symbol holds */
    QRSVG_ENOMEM = -3,
};

const char *qrsvg_strerror(int err);

/*
 * Renders text (NUL-terminated) as above.  Returns QRSVG_OK and sets
 * *svg_out to a NUL-terminated string of at most LATCH_MAX_QR_SVG_BYTES that
 * the caller frees with free(); on failure *svg_out is untouched.
 */
int qrsvg_render(const char *text, char **svg_out);

#endif
