#include "api/router.h"

#include "api/access.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum method_bit {
    M_GET = 1u << 0,
    M_HEAD = 1u << 1,
    M_POST = 1u << 2,
    M_PATCH = 1u << 3,
    M_DELETE = 1u << 4,
    M_OPTIONS = 1u << 5,
};

typedef app_handler_fn handler_fn;

/* One path; each method it answers has its handler.  "{id}" in a pattern
 * matches a positive decimal user id. */
struct route {
    const char *pattern;
    const char *allow;             /* the Allow header for 405 */
    handler_fn get, post, patch, del;
    int json_body;                 /* a body, when sent, must be application/json */
    int ignore_body;               /* forward auth: no 413/415, the body is not looked at */
    int ui;                        /* the lesson page: an unknown path unless LATCH_UI=1 */
    int store;                     /* reads or writes the store: off the HTTP threads on
                                    * both backends (app_offload_writer) */
};

static const struct route routes[] = {
    {"/healthz", "GET, HEAD", handle_health, NULL, NULL, NULL, 0, 0},
    {"/readyz", "GET, HEAD", handle_ready, NULL, NULL, NULL, 0, 0, 0, 1},
    {"/verify", "GET, HEAD", handle_verify, NULL, NULL, NULL, 0, 1},
    {"/.well-known/jwks.json", "GET, HEAD", handle_jwks, NULL, NULL, NULL, 0, 0},
    {"/metrics", "GET, HEAD", handle_metrics, NULL, NULL, NULL, 0, 0},
    {"/openapi.json", "GET, HEAD", handle_openapi, NULL, NULL, NULL, 0, 0},
    {"/register", "POST", NULL, handle_register, NULL, NULL, 1, 0, 0, 1},
    {"/login", "POST", NULL, handle_login, NULL, NULL, 1, 0, 0, 1},
    {"/refresh", "POST", NULL, handle_refresh, NULL, NULL, 1, 0, 0, 1},
    {"/logout", "POST", NULL, handle_logout, NULL, NULL, 1, 0, 0, 1},
    {"/password", "POST", NULL, handle_password, NULL, NULL, 1, 0, 0, 1},
    {"/profile", "GET, HEAD", handle_profile, NULL, NULL, NULL, 0, 0, 0, 0},
    /* Issue 11.  /password/forgot and an unauthenticated verification
     * request do no store I/O on the request path (a background job does):
     * not flagged; an authenticated verification request offloads itself. */
    {"/email/verify/request", "POST", NULL, handle_email_verify_request, NULL, NULL, 1, 0, 0, 0},
    {"/email/verify", "POST", NULL, handle_email_verify, NULL, NULL, 1, 0, 0, 1},
    {"/password/forgot", "POST", NULL, handle_password_forgot, NULL, NULL, 1, 0, 0, 0},
    {"/password/reset", "POST", NULL, handle_password_reset, NULL, NULL, 1, 0, 0, 1},
    {"/mfa/totp", "POST, DELETE", NULL, handle_mfa_totp_enrol, NULL, handle_mfa_totp_delete, 1, 0,
     0, 1},
    {"/mfa/totp/confirm", "POST", NULL, handle_mfa_totp_confirm, NULL, NULL, 1, 0, 0, 1},
    {"/login/mfa", "POST", NULL, handle_login_mfa, NULL, NULL, 1, 0, 0, 1},
    {"/admin/users", "GET, HEAD, POST", handle_admin_list, handle_admin_create, NULL, NULL, 1, 0,
     0, 1},
    {"/admin/users/{id}", "GET, HEAD, PATCH, DELETE", handle_admin_get, NULL, handle_admin_patch,
     handle_admin_delete, 1, 0, 0, 1},
    {"/admin/users/{id}/logout", "POST", NULL, handle_admin_logout, NULL, NULL, 1, 0, 0, 1},
    {"/admin/users/{id}/unlock", "POST", NULL, handle_admin_unlock, NULL, NULL, 1, 0, 0, 1},
    {"/", "GET, HEAD", handle_ui, NULL, NULL, NULL, 0, 0, 1},
    {"/ui/app.js", "GET, HEAD", handle_ui, NULL, NULL, NULL, 0, 0, 1},
    {"/ui/style.css", "GET, HEAD", handle_ui, NULL, NULL, NULL, 0, 0, 1},
    {"/ui/icon.svg", "GET, HEAD", handle_ui, NULL, NULL, NULL, 0, 0, 1},
};

static unsigned method_bit(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", M_GET},       {"HEAD", M_HEAD},     {"POST", M_POST},
                   {"PATCH", M_PATCH},   {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS}};
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

/* Matches path against pattern; fills *id for a {id} segment. */
static int match(const char *pattern, const char *path, int64_t *id)
{
    static const char param[] = "{id}";

    *id = 0;
    while (*pattern != '\0') {
        if (strncmp(pattern, param, sizeof(param) - 1) == 0) {
            char digits[20];
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= sizeof(digits) || path[0] == '0' ||
                strspn(path, "0123456789") < n)
                return 0;
            memcpy(digits, path, n);
            digits[n] = '\0';
            if (num_parse_i64(digits, 1, INT64_MAX, id) != 0)
                return 0;
            pattern += sizeof(param) - 1;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *path == '\0';
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

/* A CORS preflight (or a plain OPTIONS): 204 with what the path allows. The
 * Access-Control-Allow-Origin / -Credentials headers are added for allowed
 * origins only, with every response, by client_decorate. */
static void answer_options(struct app *app, struct http_request *req, const struct route *route)
{
    struct http_response *resp = http_response_new(204, NULL, "", 0);

    if (resp == NULL) {
        http_request_respond(req, NULL);
        return;
    }
    http_response_header(resp, "Allow", route->allow);
    if (app_origin_allowed(app, http_request_header(req, "Origin"))) {
        http_response_header(resp, "Access-Control-Allow-Methods", route->allow);
        http_response_header(resp, "Access-Control-Allow-Headers",
                             "Authorization, Content-Type, X-Requested-With");
        http_response_header(resp, "Access-Control-Max-Age", "600");
    }
    http_request_respond(req, resp);
}

void router_handle(struct http_request *req, void *ctx)
{
    struct app *app = ctx;
    const char *path = http_request_path(req);
    const struct route *route = NULL;
    handler_fn fn = NULL;
    int64_t id = 0;
    size_t i, body_len;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].ui && app->cfg->ui == 0)
            continue;
        /* With LATCH_METRICS_LISTEN, /metrics lives on its own listener. */
        if (routes[i].get == handle_metrics && app->cfg->metrics_listen[0] != '\0')
            continue;
        if (match(routes[i].pattern, path, &id)) {
            route = &routes[i];
            access_note_route(req, (int)i);
            break;
        }
    }
    if (route == NULL) {
        reply_error(req, 404, "No such endpoint");
        return;
    }
    switch (method_bit(http_request_method(req))) {
    case M_GET:
    case M_HEAD:
        fn = route->get;
        break;
    case M_POST:
        fn = route->post;
        break;
    case M_PATCH:
        fn = route->patch;
        break;
    case M_DELETE:
        fn = route->del;
        break;
    case M_OPTIONS:
        /* Forward auth is never a browser's cross-origin target. */
        if (!route->ignore_body) {
            answer_options(app, req, route);
            return;
        }
        break;
    default:
        break;
    }
    if (fn == NULL) {
        struct http_response *resp = reply_new_error(405, "Method not allowed here");
        if (resp != NULL)
            http_response_header(resp, "Allow", route->allow);
        http_request_respond(req, resp);
        return;
    }
    if (route->ignore_body) {
        fn(app, req, id);
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
    if (route->store && app_offload_writer(app, req, fn, id))
        return;
    fn(app, req, id);
}

/* The route table as /metrics labels it (api/access.c counts by index). */
_Static_assert(sizeof(routes) / sizeof(routes[0]) <= ACCESS_MAX_ROUTES,
               "ACCESS_MAX_ROUTES must hold every route");

size_t router_route_count(void)
{
    return sizeof(routes) / sizeof(routes[0]);
}

const char *router_route_pattern(size_t index)
{
    return index < router_route_count() ? routes[index].pattern : NULL;
}

int router_route_index(const char *pattern)
{
    size_t i;

    for (i = 0; i < router_route_count(); i++)
        if (strcmp(routes[i].pattern, pattern) == 0)
            return (int)i;
    return -1;
}
