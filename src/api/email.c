/*
 * email.c - proving an address: POST /email/verify/request and POST
 * /email/verify.
 *
 * An authenticated request asks for a new link for the caller's address
 * (202, 409 when already verified, 429 over the per-address mail
 * allowance).  An unauthenticated one names the address, and is answered
 * like /password/forgot: 202 at once, with no store I/O on the request path
 * (so neither the answer nor its timing tells whether the address has an
 * account); a background job does the rest, silently.
 */
#include "api/authn.h"
#include "api/client.h"
#include "api/events.h"
#include "api/flow.h"
#include "api/handlers.h"
#include "api/mails.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "auth/opaque.h"

#include <sodium.h>
#include <string.h>

static void reply_accepted(struct http_request *req)
{
    reply_json(req, 202, json_pack("{s:s}", "status", "accepted"));
}

/* The caller's own address; runs on a store worker on PostgreSQL. */
static void request_authenticated(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct store_user user;
    int64_t retry = 0;
    int rc;

    (void)id;
    if (authn_require(app, req, &caller) != 0)
        return;
    rc = store_user_by_id(app->store, caller.user_id, &user);
    if (rc == STORE_ENOTFOUND || (rc == STORE_OK && user.disabled)) {
        reply_unauthorized(req, true, "Invalid or expired token");
        return;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return;
    }
    if (user.email_verified) {
        reply_error(req, 409, "Email already verified");
        return;
    }
    rc = flow_mail_allowance(app, "verify", user.email, &retry);
    if (rc > 0) {
        flow_reply_locked(req, retry);
        return;
    }
    if (rc == 0)
        rc = mails_issue(app, MAILS_VERIFY, &user);
    if (rc != STORE_OK)
        reply_store_error(req, rc);
    else
        reply_accepted(req);
}

void handle_email_verify_request(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"email", NULL};
    struct flow_fields f;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why;
    json_t *body;

    if (authn_presented(app, req)) {
        if (client_rate_limit(app, req) != 0)
            return;
        if (app_offload(app, req, request_authenticated, id))
            return;
        request_authenticated(app, req, id);
        return;
    }
    body = flow_open(app, req, fields, &f);
    if (body == NULL)
        return;
    if (credentials_normalize_email(f.value[0], f.len[0], email, &why) != 0)
        reply_error(req, 400, why);
    else if (mails_request_in_background(app, MAILS_VERIFY, email) != 0)
        reply_busy(req);
    else
        reply_accepted(req);
    json_decref(body);
}

void handle_email_verify(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"token", NULL};
    struct flow_fields f;
    struct opaque_token token;
    struct store_user user;
    json_t *body;
    int rc;

    (void)id;
    body = flow_open(app, req, fields, &f);
    if (body == NULL)
        return;
    if (opaque_parse(f.value[0], f.len[0], &token) != 0) {
        reply_error(req, 400, "Invalid or expired token");
        goto cleanup;
    }
    rc = STORE_CALL(app->store, email_verify, token.digest, app_now(), &user);
    if (rc == STORE_ENOTFOUND) {
        reply_error(req, 400, "Invalid or expired token");
    } else if (rc != STORE_OK) {
        reply_store_error(req, rc);
    } else {
        app_user_changed(app, user.id);
        events_email_verified(req, user.id);
        http_request_respond(req, http_response_new(204, NULL, "", 0));
    }
cleanup:
    sodium_memzero(&token, sizeof(token));
    flow_wipe(body, "token");
    json_decref(body);
}
