/*
 * openapi.c - GET /openapi.json: latch's OpenAPI 3.1 document, the JSON
 * form of docs/openapi.yaml compiled into the binary (src/api/openapi.h),
 * so it always describes the server that serves it.  Public: it holds
 * nothing that the source tree does not.
 */
#include "api/handlers.h"
#include "api/openapi.h"
#include "api/reply.h"

void handle_openapi(struct app *app, struct http_request *req, int64_t id)
{
    struct http_response *resp;

    (void)app;
    (void)id;
    /* The Makefile embeds exactly one file, the document. */
    resp = http_response_new(200, "application/json", (const char *)openapi_assets[0].data,
                             openapi_assets[0].len);
    if (resp != NULL) {
        /* It changes only with the binary (as the lesson page's files):
         * revalidating costs little and never shows a document older than
         * the server it describes. */
        http_response_header(resp, "Cache-Control", "no-cache");
        http_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    http_request_respond(req, resp);
}
