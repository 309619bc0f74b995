/*
 * jwks.c - GET /.well-known/jwks.json: every public verification key (never
 * a private or symmetric one), so other services can verify latch's tokens.
 * Cacheable for the pre-publication time of a rotated key (300 s).
 */
#include "api/handlers.h"
#include "api/reply.h"

#include <stdlib.h>
#include <string.h>

void handle_jwks(struct app *app, struct http_request *req, int64_t id)
{
    char *doc = keyring_jwks(app->keyring, app_now());
    struct http_response *resp;

    (void)id;
    if (doc == NULL) {
        reply_error(req, 500, "Out of memory");
        return;
    }
    resp = http_response_new(200, "application/json", doc, strlen(doc));
    free(doc);
    if (resp != NULL)
        http_response_header(resp, "Cache-Control", "public, max-age=300");
    http_request_respond(req, resp);
}
