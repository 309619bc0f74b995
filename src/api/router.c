#include "api/router.h"

#include "api/handlers.h"
#include "api/reply.h"

#include <string.h>
#include <strings.h>

enum method_bit {
    M_GET = 1u << 0,
    M_HEAD = 1u << 1,
    M_POST = 1u << 2,
};

struct route {
    const char *path;
    unsigned methods;
    const char *allow;             /* the Allow header for 405 */
    int json_body;                 /* a body, when sent, must be application/json */
    void (*fn)(struct app *app, struct http_request *req);
};

static const struct route routes[] = {
    {"/healthz", M_GET | M_HEAD, "GET, HEAD", 0, handle_health},
    {"/register", M_POST, "POST", 1, handle_register},
    {"/login", M_POST, "POST", 1, handle_login},
    {"/profile", M_GET | M_HEAD, "GET, HEAD", 0, handle_profile},
};

static unsigned method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0)
        return M_GET;
    if (strcmp(method, "HEAD") == 0)
        return M_HEAD;
    if (strcmp(method, "POST") == 0)
        return M_POST;
    return 0;
}

/* "application/json", optionally with parameters (charset). */
static int is_json_media_type(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, json, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

void router_handle(struct http_request *req, void *ctx)
{
    struct app *app = ctx;
    const char *path = http_request_path(req);
    const struct route *route = NULL;
    size_t i, body_len;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) == 0) {
            route = &routes[i];
            break;
        }
    }
    if (route == NULL) {
        reply_error(req, 404, "No such endpoint");
        return;
    }
    if ((route->methods & method_bit(http_request_method(req))) == 0) {
        struct http_response *resp = reply_new_error(405, "Method not allowed here");
        if (resp != NULL)
            http_response_header(resp, "Allow", route->allow);
        http_request_respond(req, resp);
        return;
    }
    if (http_request_body_too_large(req)) {
        reply_error(req, 413, "Request body exceeds 16 KiB");
        return;
    }
    (void)http_request_body(req, &body_len);
    if (route->json_body && body_len > 0 &&
        !is_json_media_type(http_request_header(req, "Content-Type"))) {
        reply_error(req, 415, "Content-Type must be application/json");
        return;
    }
    route->fn(app, req);
}
