#include "api/authn.h"

#include "api/access.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "util/log.h"

#include <string.h>

static const char *const via_names[] = {"jwt", "session_bearer", "session_cookie"};

/* LATCH_LOG_LEVEL=debug: each authentication's outcome and why (the
 * reason is a fixed word, never the credential), e.g.
 *   auth.decision result=refused reason=expired via=jwt */
static void decision(struct http_request *req, int accepted, const char *reason,
                     const char *via, int64_t user_id)
{
    if (accepted)
        access_note_user(req, user_id);
    if (!log_enabled(LOG_DEBUG))
        return;
    log_event(LOG_DEBUG, "auth.decision", LOG_STR("result", accepted ? "accepted" : "refused"),
              LOG_STR("reason", reason), LOG_STR("via", via),
              user_id > 0 ? LOG_INT("user_id", user_id) : LOG_NONE,
              LOG_STR("path", http_request_path(req)));
}

static const char *tokens_reason(int rc)
{
    switch (rc) {
    case TOKENS_EEXPIRED: return "expired";
    case TOKENS_ENOTYET: return "not_yet_valid";
    case TOKENS_EISSUER: return "wrong_issuer";
    case TOKENS_ECLAIMS: return "bad_claims";
    case TOKENS_ELIFETIME: return "lifetime_too_long";
    case TOKENS_EJWS: return "bad_signature_or_format";
    default: return "invalid";
    }
}

static int from_jwt(struct app *app, const char *token, size_t len, struct authn *out,
                    const char **why)
{
    struct token_claims claims;
    int64_t now = app_now(), key_until = 0;
    uint64_t generation;
    int rc;

    /* A token seen before skips the signature and the JSON; expiry and
     * revocation are checked on every request all the same. */
    if (!tokcache_get(app->tokcache, token, len, now, app->policy.leeway_s, &claims)) {
        generation = tokcache_generation(app->tokcache);
        rc = keyring_verify(app->keyring, token, len, &app->policy, now, &claims, &key_until);
        if (rc != TOKENS_OK) {
            *why = tokens_reason(rc);
            return -1;
        }
        /* Remembered no longer than its key verifies (a retired key's
         * tokens must fail even if their exp is far away), nor than a token
         * of latch's own could live. */
        tokcache_put(app->tokcache, token, len, &claims, key_until,
                     app->policy.access_ttl_s + app->policy.leeway_s, generation);
    }
    if (revocation_check(app->revocation, claims.user_id, claims.iat, claims.sid, token, len)) {
        tokcache_drop(app->tokcache, token, len);
        out->user_id = claims.user_id;
        *why = "revoked";
        return -1;
    }
    out->via = AUTHN_JWT;
    out->user_id = claims.user_id;
    memcpy(out->role, claims.role, sizeof(out->role));
    memcpy(out->email, claims.email, sizeof(out->email));
    memcpy(out->sid, claims.sid, sizeof(out->sid));
    out->email_verified = claims.email_verified;
    out->iat = claims.iat;
    out->exp = claims.exp;
    return 0;
}

/* 0, -1 (not a live session), or STORE_EUNAVAIL / STORE_EIO when the store
 * could not tell: that is not the client's fault, and must not answer 401. */
static int from_session(struct app *app, const char *token, size_t len, struct authn *out,
                        const char **why)
{
    struct opaque_token parsed;
    struct store_session session;
    int64_t idle = app->cfg->session_idle_s;
    int rc;

    if (opaque_parse(token, len, &parsed) != 0) {
        *why = "malformed_session_token";
        return -1;
    }
    /* Sliding idle timeout: write last_seen at most every idle/8 (and at
     * least every minute) rather than on every request. */
    rc = STORE_CALL(app->store, session_get, parsed.digest, app_now(), idle,
                    idle / 8 < 60 ? idle / 8 : 60, &session);
    if (rc == STORE_EUNAVAIL || rc == STORE_EIO || rc == STORE_ENOMEM) {
        *why = "store_failure";
        return rc;
    }
    if (rc != STORE_OK) {
        *why = "unknown_idle_expired_or_revoked_session";
        return -1;
    }
    out->user_id = session.user_id;
    memcpy(out->sid, session.sid, sizeof(session.sid) < sizeof(out->sid) ? sizeof(session.sid)
                                                                          : sizeof(out->sid));
    out->sid[sizeof(out->sid) - 1] = '\0';
    out->iat = session.created_at;
    out->exp = session.expires_at;
    return 0;
}

/*
 * The session cookie, looked for on every Cookie line (a proxy may split
 * them, RFC 9113 8.2.3).  Returns how many times it occurs, at most 2, and
 * the first in *value.  Two copies mean someone else set one (a sibling
 * domain "tossing" a cookie, RFC 6265 8.6), and latch could read the other
 * one than a proxy in front of it: the caller refuses the request.
 */
static int find_session_cookie(struct http_request *req, const char **value, size_t *len)
{
    const char *line, *rest, *v;
    size_t i, n;
    int found = 0;

    for (i = 0; found < 2 && (line = http_request_header_at(req, "Cookie", i)) != NULL; i++) {
        for (rest = line; found < 2 && opaque_find_cookie(rest, SESSION_COOKIE, &v, &n);
             rest = v + n) {
            if (found++ == 0) {
                *value = v;
                *len = n;
            }
        }
    }
    return found;
}

/* RFC 6265bis / OWASP: a cookie rides along on cross-site requests, so a
 * state-changing one must show it came from a page allowed to make it. */
static int same_site_request(struct app *app, struct http_request *req)
{
    const char *method = http_request_method(req);

    if (strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0 &&
        strcmp(method, "DELETE") != 0 && strcmp(method, "PUT") != 0)
        return 1;
    if (http_request_header(req, "X-Requested-With") != NULL)
        return 1;
    return app_origin_allowed(app, http_request_header(req, "Origin"));
}

int authn_require(struct app *app, struct http_request *req, struct authn *out)
{
    const char *token = NULL, *cookie = NULL, *why = "invalid", *via;
    size_t len = 0;
    int rc, cookies;

    memset(out, 0, sizeof(*out));
    switch (credentials_parse_bearer(http_request_header(req, "Authorization"), &token, &len)) {
    case BEARER_MALFORMED:
        decision(req, 0, "malformed_bearer", "bearer", 0);
        reply_unauthorized(req, true, "Invalid or expired token");
        return -1;
    case BEARER_OK:
        out->token = token;
        out->token_len = len;
        /* A JWS has two dots; an opaque session token has none. */
        if (memchr(token, '.', len) != NULL) {
            via = via_names[AUTHN_JWT];
            why = "jwt_not_accepted_in_session_mode";
            rc = app->mode != AUTH_MODE_SESSION ? from_jwt(app, token, len, out, &why) : -1;
        } else if (app->mode != AUTH_MODE_JWT) {
            via = via_names[AUTHN_SESSION_BEARER];
            rc = from_session(app, token, len, out, &why);
            out->via = AUTHN_SESSION_BEARER;
        } else {
            via = "bearer";
            why = "not_a_jwt";
            rc = -1;
        }
        decision(req, rc == 0, rc == 0 ? "valid" : why, via, out->user_id);
        if (rc < -1) {
            reply_store_error(req, rc);
            return -1;
        }
        if (rc != 0) {
            reply_unauthorized(req, true, "Invalid or expired token");
            return -1;
        }
        return 0;
    case BEARER_NONE:
        break;
    }

    cookies = app->mode != AUTH_MODE_JWT ? find_session_cookie(req, &cookie, &len) : 0;
    via = via_names[AUTHN_SESSION_COOKIE];
    if (cookies > 1) {
        decision(req, 0, "cookie_sent_twice", via, 0);
        reply_error(req, 400, "More than one " SESSION_COOKIE " cookie");
        return -1;
    }
    if (cookies == 1) {
        out->token = cookie;
        out->token_len = len;
        rc = from_session(app, cookie, len, out, &why);
        if (rc != 0)
            decision(req, 0, why, via, 0);
        if (rc < -1) {
            reply_store_error(req, rc);
            return -1;
        }
        if (rc != 0) {
            reply_unauthorized(req, true, "Invalid or expired token");
            return -1;
        }
        out->via = AUTHN_SESSION_COOKIE;
        if (!same_site_request(app, req)) {
            decision(req, 0, "cross_site", via, out->user_id);
            reply_error(req, 403, "Cross-site request refused");
            return -1;
        }
        decision(req, 1, "valid", via, out->user_id);
        return 0;
    }
    decision(req, 0, "missing", "none", 0);
    reply_unauthorized(req, false, "Missing token");
    return -1;
}

int authn_uses_store(struct app *app, struct http_request *req)
{
    const char *token = NULL, *cookie;
    size_t len = 0;

    switch (credentials_parse_bearer(http_request_header(req, "Authorization"), &token, &len)) {
    case BEARER_OK:
        return memchr(token, '.', len) == NULL;
    case BEARER_MALFORMED:
        return 0;
    case BEARER_NONE:
        break;
    }
    return app->mode != AUTH_MODE_JWT &&
           opaque_find_cookie(http_request_header(req, "Cookie"), SESSION_COOKIE, &cookie, &len);
}

int authn_require_admin(struct app *app, struct http_request *req, struct authn *out,
                        struct store_user *user)
{
    int rc;

    if (authn_require(app, req, out) != 0)
        return -1;
    /* The role is read from the store, not the token: a demoted admin's
     * older token cannot administer. */
    rc = store_user_by_id(app->store, out->user_id, user);
    if (rc == STORE_ENOTFOUND) {
        reply_unauthorized(req, true, "Invalid or expired token");
        return -1;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return -1;
    }
    if (strcmp(user->role, "admin") != 0 || user->disabled) {
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "auth.decision", LOG_STR("result", "refused"),
                      LOG_STR("reason", user->disabled ? "admin_disabled" : "not_admin"),
                      LOG_INT("user_id", user->id), LOG_STR("path", http_request_path(req)));
        reply_error(req, 403, "Insufficient role");
        return -1;
    }
    return 0;
}

int authn_presented(struct app *app, struct http_request *req)
{
    const char *cookie;
    size_t len = 0;

    if (http_request_header(req, "Authorization") != NULL)
        return 1;
    return app->mode != AUTH_MODE_JWT &&
           opaque_find_cookie(http_request_header(req, "Cookie"), SESSION_COOKIE, &cookie, &len);
}
