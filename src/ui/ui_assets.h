/*
 * ui_assets.h - the lesson page's files (src/ui/), embedded in the binary at
 * build time so that serving them reads no file: the Makefile runs
 * scripts/embed-ui.sh over the files listed in UI_FILES and compiles its
 * output, $(BUILD)/gen/ui_assets.c, into every build of latch.
 *
 * The table is constant data; src/api/ui.c decides which URL serves which
 * file and with which headers.
 */
#ifndef LATCH_UI_ASSETS_H
#define LATCH_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
    const char *name;              /* the file's name in src/ui/, e.g. "app.js" */
    const unsigned char *data;     /* its bytes (followed by a NUL not counted in len) */
    size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_assets_count;

#endif
