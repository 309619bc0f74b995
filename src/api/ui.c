/*
 * ui.c - the lesson page (LATCH_UI=1): GET / and the page's script, style
 * sheet and icon, served from the copies compiled into the binary
 * (src/ui/ui_assets.h).  The router answers 404 for these paths when
 * LATCH_UI is off, exactly as for an unknown path.
 *
 * The page calls latch's API from its own origin and keeps tokens in page
 * memory only.  The headers make that the only thing it can do: no inline
 * script or style, nothing from another origin, no framing, no form
 * submission (its forms are handled by script, so a page whose script failed
 * cannot send a password in a URL), and no Referer that could carry anything
 * out.
 */
#include "api/handlers.h"
#include "api/reply.h"
#include "ui/ui_assets.h"

#include <string.h>

static const char ui_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                             "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                             "base-uri 'none'; form-action 'none'";

/* Which URL serves which embedded file.  A file listed here must be in the
 * Makefile's UI_FILES, and every UI_FILES entry should be reachable here. */
static const struct {
    const char *path;
    const char *file;
    const char *content_type;
} ui_routes[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},   /* RFC 9239 */
    {"/ui/style.css", "style.css", "text/css; charset=utf-8"},
    {"/ui/icon.svg", "icon.svg", "image/svg+xml"},
};

static const struct ui_asset *find_asset(const char *file)
{
    size_t i;

    for (i = 0; i < ui_assets_count; i++)
        if (strcmp(ui_assets[i].name, file) == 0)
            return &ui_assets[i];
    return NULL;
}

void handle_ui(struct app *app, struct http_request *req, int64_t id)
{
    const char *path = http_request_path(req);
    const struct ui_asset *asset = NULL;
    struct http_response *resp;
    size_t i;

    (void)app;
    (void)id;
    for (i = 0; i < sizeof(ui_routes) / sizeof(ui_routes[0]); i++) {
        if (strcmp(ui_routes[i].path, path) == 0) {
            asset = find_asset(ui_routes[i].file);
            break;
        }
    }
    if (asset == NULL) {
        /* A route in the router's table without an embedded file: a build
         * mistake, answered like any unknown path. */
        reply_error(req, 404, "No such endpoint");
        return;
    }
    resp = http_response_new(200, ui_routes[i].content_type, (const char *)asset->data,
                             asset->len);
    if (resp != NULL) {
        http_response_header(resp, "Content-Security-Policy", ui_csp);
        http_response_header(resp, "X-Content-Type-Options", "nosniff");
        http_response_header(resp, "Referrer-Policy", "no-referrer");
        /* The files change only with the binary: revalidating each time
         * costs a few kilobytes and never shows a page older than the
         * server it talks to. */
        http_response_header(resp, "Cache-Control", "no-cache");
    }
    http_request_respond(req, resp);
}
