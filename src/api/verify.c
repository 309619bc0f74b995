/*
 * verify.c - GET /verify, the forward-auth endpoint for reverse proxies
 * (nginx auth_request, Traefik forwardAuth, Caddy forward_auth): 200 with
 * X-Auth-* headers for a valid token or session, 401 otherwise, 403 when
 * ?role=admin is asked of a lower role.  For a JWT nothing is read from the
 * store: the claims (cached after the first verification) answer.
 */
#include "api/authn.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "util/num.h"

#include <stdio.h>
#include <string.h>

static int role_rank(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return 2;
    if (strcmp(role, "user") == 0)
        return 1;
    return 0;
}

static int is_printable_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

void handle_verify(struct app *app, struct http_request *req, int64_t id)
{
    const char *want = http_request_query(req, "role");
    struct authn caller;
    struct store_user user;
    struct http_response *resp;
    char user_id[NUM_I64_BYTES];

    /* A JWT is checked from memory on this thread; a session reads the
     * store, which on PostgreSQL must not happen here. */
    if (authn_uses_store(app, req) && app_offload(app, req, handle_verify, id))
        return;
    if (authn_require(app, req, &caller) != 0)
        return;
    if (caller.via != AUTHN_JWT) {
        /* A session names only the user: read role and email. */
        int rc = store_user_by_id(app->store, caller.user_id, &user);

        if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
            reply_store_error(req, rc);
            return;
        }
        if (rc != STORE_OK || user.disabled) {
            reply_unauthorized(req, true, "Invalid or expired token");
            return;
        }
        snprintf(caller.role, sizeof(caller.role), "%s", user.role);
        snprintf(caller.email, sizeof(caller.email), "%s", user.email);
        caller.email_verified = user.email_verified;
    }
    if (want != NULL && (role_rank(want) == 0 || role_rank(caller.role) < role_rank(want))) {
        reply_error(req, 403, "Insufficient role");
        return;
    }
    resp = http_response_new(200, "application/json", "{\"status\":\"ok\"}", 15);
    if (resp != NULL) {
        num_format_i64(caller.user_id, user_id);
        http_response_header(resp, "X-Auth-User-Id", user_id);
        /* Only printable ASCII goes into a header (the claims were checked
         * for controls; anything else non-ASCII is left out). */
        if (caller.email[0] != '\0' && is_printable_ascii(caller.email))
            http_response_header(resp, "X-Auth-Email", caller.email);
        http_response_header(resp, "X-Auth-Role", caller.role);
        http_response_header(resp, "X-Auth-Email-Verified",
                             caller.email_verified ? "true" : "false");
        http_response_header(resp, "Cache-Control", "no-store");
    }
    http_request_respond(req, resp);
}
