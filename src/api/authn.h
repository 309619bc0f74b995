/*
 * authn.h - who is calling.  A request authenticates with
 *   - Authorization: Bearer <JWT> (modes jwt, both),
 *   - Authorization: Bearer <opaque session token> (modes session, both),
 *   - the latch_session cookie (modes session, both);
 * the Authorization header wins when both are sent.  Cookie-authenticated
 * state-changing requests must also prove they are not cross-site (CSRF).
 */
#ifndef LATCH_API_AUTHN_H
#define LATCH_API_AUTHN_H

#include "api/app.h"
#include "http/server.h"

#define SESSION_COOKIE "latch_session"

enum authn_via { AUTHN_JWT, AUTHN_SESSION_BEARER, AUTHN_SESSION_COOKIE };

struct authn {
    enum authn_via via;
    int64_t user_id;
    char role[LATCH_MAX_ROLE_BYTES + 1];     /* JWT: from the claims; session: "" */
    char email[LATCH_MAX_EMAIL_BYTES + 1];   /* JWT: from the claims ("" if none) */
    char sid[TOKENS_MAX_ID_BYTES + 1];       /* "" when the token has none */
    int email_verified;                      /* JWT: the claim; session: 0 (read the user) */
    int64_t iat, exp;
    const char *token;                       /* the presented credential */
    size_t token_len;
};

/* Authenticates req into *out and returns 0; otherwise answers 401 (or 403
 * for a cross-site cookie request) and returns -1. */
int authn_require(struct app *app, struct http_request *req, struct authn *out);

/* Whether req presents a credential at all (an Authorization header or the
 * session cookie): a route open to both decides by this. */
int authn_presented(struct app *app, struct http_request *req);

/* Whether authenticating req reads the store (a session, not a JWT): such
 * a request must run off the HTTP threads when the store is remote. */
int authn_uses_store(struct app *app, struct http_request *req);

/* Like authn_require, then re-reads the user and requires an enabled admin
 * (403 "Insufficient role" otherwise).  *user receives the caller. */
int authn_require_admin(struct app *app, struct http_request *req, struct authn *out,
                        struct store_user *user);

#endif
