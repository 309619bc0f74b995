/*
 * auth.c - the credential endpoints: POST /register, /login, /refresh,
 * /logout and /password.
 *
 * Anything that needs Argon2id (tens of milliseconds) is validated on the
 * HTTP thread, then the request is suspended and a job on the hashing pool
 * answers it.  A full pool queue answers 503 with Retry-After at once.
 */
#include "api/authn.h"
#include "api/body.h"
#include "api/client.h"
#include "api/events.h"
#include "api/flow.h"
#include "api/handlers.h"
#include "api/mails.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "auth/opaque.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_job {
    struct app *app;
    struct http_request *req;
    char email[LATCH_MAX_EMAIL_BYTES + 1];     /* normalised; "" when invalid */
    char lock_key[LATCH_MAX_EMAIL_BYTES + 1];  /* the lockout counter's key */
    char role[LATCH_MAX_ROLE_BYTES + 1];
    struct store_user user;                    /* the account, when found */
    int user_found;
    struct authn caller;                       /* /password: who asks */
    char caller_token[LATCH_MAX_TOKEN_BYTES + 1];
    size_t password_len, new_password_len;
    char password[LATCH_MAX_PASSWORD_BYTES + 1];
    char new_password[LATCH_MAX_PASSWORD_BYTES + 1];
    char rehash[PWHASH_STR_BYTES];             /* login: the new hash, or "" */
};

/*
 * Passwords live in sodium_malloc'd jobs: locked pages between guard pages.
 * sodium_malloc maps, guards and locks fresh pages for each, and
 * sodium_free unmaps them, which stops every CPU for a TLB flush: that was
 * a login's most expensive system call after its fsync.  So a finished job
 * is wiped, as sodium_free would wipe it, and kept for the next (at most
 * JOB_CACHE_MAX of them; the rest are freed).
 */
#define JOB_CACHE_MAX 8

static pthread_mutex_t job_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pw_job *job_cache[JOB_CACHE_MAX];
static int job_cached;

static struct pw_job *job_new(struct app *app, struct http_request *req)
{
    struct pw_job *job = NULL;

    pthread_mutex_lock(&job_cache_lock);
    if (job_cached > 0)
        job = job_cache[--job_cached];
    pthread_mutex_unlock(&job_cache_lock);
    if (job == NULL && (job = sodium_malloc(sizeof(*job))) == NULL)
        return NULL;
    memset(job, 0, sizeof(*job));
    job->app = app;
    job->req = req;
    return job;
}

static void job_free(struct pw_job *job)
{
    sodium_memzero(job, sizeof(*job));
    pthread_mutex_lock(&job_cache_lock);
    if (job_cached < JOB_CACHE_MAX) {
        job_cache[job_cached++] = job;
        job = NULL;
    }
    pthread_mutex_unlock(&job_cache_lock);
    if (job != NULL)
        sodium_free(job);
}

/* Suspends the request and queues fn(job); on a full queue answers 503. */
static void submit(struct pw_job *job, work_fn fn)
{
    struct http_request *req = job->req;

    http_request_defer(req);
    if (work_pool_submit(job->app->pool, fn, job) != WORK_OK) {
        job_free(job);
        reply_busy(req);
    }
}

/* ---- POST /register (and POST /admin/users) ---- */

/* A self-registration: the user starts unverified, and the verification
 * mail is queued in the same transaction (a 201 means it is queued). */
static int register_user(struct app *app, struct pw_job *job, const char *hash,
                         struct store_user *out)
{
    struct opaque_token token;
    struct outbox_mail *mail = sodium_malloc(sizeof(*mail));
    int64_t now = app_now(), expires_at = now + LATCH_VERIFY_TOKEN_TTL_S;
    int rc = STORE_ENOMEM;

    if (mail == NULL)
        return STORE_ENOMEM;
    opaque_new(&token);
    if (mails_build(app, MAILS_VERIFY, job->email, token.text, expires_at, mail) == 0)
        rc = STORE_CALL(app->store, user_register, job->email, hash, job->role, now,
                        token.digest, expires_at, &mail->row, out);
    if (rc == STORE_OK) {
        mails_queued(app);
        events_mail_queued("verify", out->id);
    }
    sodium_memzero(&token, sizeof(token));
    mails_wipe(mail);
    sodium_free(mail);
    return rc;
}

static void create_user_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    char hash[PWHASH_STR_BYTES];
    struct store_user user;
    int rc;

    memset(&user, 0, sizeof(user));
    if (pwhash_hash(&app->pwhash, job->password, job->password_len, hash) != PWHASH_OK) {
        reply_error(job->req, 500, "Password hashing failed");
        goto cleanup;
    }
    if (job->user_found)
        rc = store_user_create(app->store, job->email, hash, job->role, app_now(), &user);
    else
        rc = register_user(app, job, hash, &user);
    if (rc == STORE_ECONFLICT)
        reply_error(job->req, 409, "Email already registered");
    else if (rc != STORE_OK)
        reply_store_error(job->req, rc);
    else if (job->user_found) { /* set by the admin route: answer with the full user */
        events_user_changed(job->req, "create", &user, 1);
        reply_json(job->req, 201, reply_user(&user));
    }
    else
        reply_json(job->req, 201,
                   json_pack("{s:I,s:s,s:s}", "id", (json_int_t)user.id, "email", user.email,
                             "role", user.role));
cleanup:
    sodium_memzero(&user, sizeof(user));
    job_free(job);
}

/* Validates {"email","password"[,"role"]} and queues the creation. */
void auth_create_user(struct app *app, struct http_request *req, int allow_role)
{
    const char *raw_email, *password, *why, *role = "user";
    size_t email_len, password_len;
    struct store_user existing;
    struct pw_job *job;
    json_t *body, *role_v;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    int rc;

    body = body_object(req);
    if (body == NULL)
        return;
    raw_email = body_string(req, body, "email", &email_len);
    if (raw_email == NULL)
        goto cleanup;
    password = body_string(req, body, "password", &password_len);
    if (password == NULL)
        goto cleanup;
    role_v = json_object_get(body, "role");
    if (allow_role && role_v != NULL) {
        if (!json_is_string(role_v) || (strcmp(json_string_value(role_v), "user") != 0 &&
                                        strcmp(json_string_value(role_v), "admin") != 0)) {
            reply_error(req, 400, "Field \"role\" must be \"user\" or \"admin\"");
            goto cleanup;
        }
        role = json_string_value(role_v);
    }
    if (credentials_normalize_new_email(raw_email, email_len, email, &why) != 0 ||
        credentials_check_password(password_len, &why) != 0) {
        reply_error(req, 400, why);
        goto cleanup;
    }
    /* Spare the hashing when the answer is already known; the unique
     * constraint still decides races. */
    rc = store_user_by_email(app->store, email, &existing);
    if (rc == STORE_OK) {
        reply_error(req, 409, "Email already registered");
        goto cleanup;
    }
    if (rc != STORE_ENOTFOUND) {
        reply_store_error(req, rc);
        goto cleanup;
    }
    job = job_new(app, req);
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        goto cleanup;
    }
    memcpy(job->email, email, sizeof(email));
    snprintf(job->role, sizeof(job->role), "%s", role);
    memcpy(job->password, password, password_len);
    job->password_len = password_len;
    job->user_found = allow_role;
    submit(job, create_user_job);
cleanup:
    flow_wipe(body, "password");
    json_decref(body);
}

void handle_register(struct app *app, struct http_request *req, int64_t id)
{
    (void)id;
    if (client_rate_limit(app, req) != 0)
        return;
    if (strcmp(app->cfg->registration, "closed") == 0) {
        reply_error(req, 403, "Registration is closed");
        return;
    }
    auth_create_user(app, req, 0);
}

/* ---- issuing tokens ---- */

struct issued {
    char access[TOKENS_MAX_ISSUED_BYTES];
    struct opaque_token refresh;
    struct opaque_token session;
    char sid[SID_TEXT_BYTES + 1];
};

static int issue_access(struct app *app, int64_t user_id, const char *email, const char *role,
                        int email_verified, const char *amr, const char *sid, char *out,
                        size_t size)
{
    struct token_subject subject;
    size_t len;

    subject.user_id = user_id;
    subject.email = email;
    subject.role = role;
    subject.sid = sid;
    subject.email_verified = email_verified;
    subject.amr = amr;
    return keyring_issue(app->keyring, &app->policy, &subject, app_now(), out, size, &len);
}

static void add_session_cookie(struct app *app, struct http_request *req,
                               struct http_response *resp, const char *value, int64_t max_age)
{
    char cookie[256];

    snprintf(cookie, sizeof(cookie), "%s=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld%s",
             SESSION_COOKIE, value, (long long)max_age,
             client_is_secure(app, req) ? "; Secure" : "");
    http_response_header(resp, "Set-Cookie", cookie);
}

/*
 * A login whose password verified: records the family in the same
 * transaction that re-reads the account, so that a change made while the
 * password was being checked (disabled, demoted, a new password) is either
 * seen here or ends this family.  The token carries the role as committed.
 */
int auth_issue_login(struct app *app, struct http_request *req, const struct store_user *user,
                     const char *lock_key, const char *rehash, const struct store_login *second)
{
    struct store_login login;
    struct store_user current;
    struct issued t;
    struct http_response *resp;
    int64_t now = app_now();
    int jwt = app->mode != AUTH_MODE_SESSION, session = app->mode != AUTH_MODE_JWT;
    json_t *body;
    int rc;

    memset(&t, 0, sizeof(t));
    opaque_new_sid(t.sid);
    if (jwt)
        opaque_new(&t.refresh);
    if (session)
        opaque_new(&t.session);
    memset(&login, 0, sizeof(login));
    login.sid = t.sid;
    login.user_id = user->id;
    login.password_gen = user->password_gen;
    login.refresh_digest = jwt ? t.refresh.digest : NULL;
    login.refresh_expires_at = now + (app->cfg->refresh_ttl_s < app->cfg->refresh_max_s
                                          ? app->cfg->refresh_ttl_s
                                          : app->cfg->refresh_max_s);
    login.session_digest = session ? t.session.digest : NULL;
    login.session_expires_at = now + app->cfg->session_max_s;
    login.lockout_key = lock_key;
    login.rehash = rehash;
    login.now = now;
    if (second != NULL) {
        login.mfa_digest = second->mfa_digest;
        login.recovery_digest = second->recovery_digest;
        login.totp_step = second->totp_step;
        login.amr = second->amr;
    }
    rc = STORE_CALL(app->store, login_commit, &login, &current);
    if (rc == STORE_EREPLAY)
        goto cleanup;   /* the caller answers: a code or mfa_token was used already */
    if (rc == STORE_EDISABLED) {
        events_login_failure(req, "disabled", user->email, user->id);
        reply_error(req, 403, "Account disabled");
        goto cleanup;
    }
    if (rc == STORE_ESTALE || rc == STORE_ENOTFOUND) {
        /* The password checked is no longer the account's, or the account
         * is gone. */
        events_login_failure(req, rc == STORE_ESTALE ? "password_changed" : "unknown_email",
                             user->email, user->id);
        /* At the second step no password was sent: the mfa_token it
         * carried is what went stale. */
        reply_unauthorized(req, false, second != NULL ? "Invalid or expired code"
                                                      : "Invalid email or password");
        goto cleanup;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        goto cleanup;
    }
    if (jwt) {
        if (issue_access(app, current.id, current.email, current.role, current.email_verified,
                         login.amr, t.sid, t.access, sizeof(t.access)) != TOKENS_OK) {
            reply_error(req, 500, "Token signing failed");
            goto cleanup;
        }
        body = json_pack("{s:s,s:s,s:I,s:s}", "token", t.access, "token_type", "Bearer",
                         "expires_in", (json_int_t)app->policy.access_ttl_s, "refresh_token",
                         t.refresh.text);
    } else {
        body = json_pack("{s:s,s:s,s:I}", "token", t.session.text, "token_type", "Bearer",
                         "expires_in", (json_int_t)app->cfg->session_max_s);
    }
    resp = reply_new_json(200, body);
    if (resp != NULL && session)
        add_session_cookie(app, req, resp, t.session.text, app->cfg->session_max_s);
    events_login_success(req, &current);
    http_request_respond(req, resp);
cleanup:
    sodium_memzero(&current, sizeof(current));
    sodium_memzero(&t, sizeof(t));
    return rc;
}

/* ---- POST /login ---- */

/*
 * The password step of a user with TOTP: an opaque mfa_token (its digest
 * in the store, so any instance can finish the login) and nothing else: no
 * access token, refresh token or cookie.  The lockout counter is not
 * cleared: only a successful second step clears it.
 */
static void answer_mfa_required(struct app *app, struct pw_job *job)
{
    struct opaque_token token;
    int rc;

    opaque_new(&token);
    rc = STORE_CALL(app->store, mfa_token_issue, token.digest, job->user.id,
                    job->user.password_gen, app_now() + LATCH_MFA_TOKEN_TTL_S);
    if (rc != STORE_OK) {
        reply_store_error(job->req, rc);
    } else {
        events_login_mfa_required(job->req, job->user.id);
        reply_json(job->req, 200,
                   json_pack("{s:b,s:s,s:I}", "mfa_required", 1, "mfa_token", token.text,
                             "expires_in", (json_int_t)LATCH_MFA_TOKEN_TTL_S));
    }
    sodium_memzero(&token, sizeof(token));
}

/* The commit of a login whose password verified.  It waits for the
 * database (SQLite's write lock, PostgreSQL's round trips, and the disk's
 * sync after a second step or a rehash: store/sqlite.c, unsynced_begin),
 * so it runs on a database worker while the hashing worker starts the next
 * verify: a hashing worker waiting there left its CPU idle.  When the
 * database pool refuses it (a full queue, or shutdown) it runs where it
 * is. */
static void login_commit_job(void *arg)
{
    struct pw_job *job = arg;

    (void)auth_issue_login(job->app, job->req, &job->user, job->lock_key,
                           job->rehash[0] != '\0' ? job->rehash : NULL, NULL);
    job_free(job);
}

static void login_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    int ok;

    if (job->user_found) {
        ok = pwhash_verify(job->user.password_hash, job->password, job->password_len) ==
             PWHASH_OK;
    } else {
        /* Pay for one verify anyway so timing does not reveal accounts. */
        pwhash_dummy_verify(&app->pwhash, job->password, job->password_len);
        ok = 0;
    }
    if (!ok) {
        /* The guess was counted when it was reserved. */
        events_login_failure(job->req, job->user_found ? "wrong_password" : "unknown_email",
                             job->email, job->user_found ? job->user.id : 0);
        reply_unauthorized(job->req, false, "Invalid email or password");
        goto cleanup;
    }
    /* After the password check: the answer tells nothing to someone
     * without the password. */
    if (app->cfg->require_verified_email && !job->user.email_verified) {
        (void)STORE_CALL(app->store, lockout_reset, job->lock_key);
        events_login_failure(job->req, "email_not_verified", job->email, job->user.id);
        reply_error(job->req, 403, "Email not verified");
        goto cleanup;
    }
    if (job->user.mfa) {
        answer_mfa_required(app, job);
        goto cleanup;
    }
    /* A hash of older parameters is replaced, in the login's own commit. */
    if (pwhash_needs_rehash(&app->pwhash, job->user.password_hash) &&
        pwhash_hash(&app->pwhash, job->password, job->password_len, job->rehash) != PWHASH_OK)
        job->rehash[0] = '\0';
    if (app->store_pool == NULL ||
        work_pool_submit(app->store_pool, login_commit_job, job) != WORK_OK)
        login_commit_job(job);
    return;
cleanup:
    job_free(job);
}

void handle_login(struct app *app, struct http_request *req, int64_t id)
{
    const char *raw_email, *password, *why;
    size_t email_len, password_len;
    struct pw_job *job = NULL;
    int64_t retry_after = 0;
    json_t *body;
    int valid, rc;

    (void)id;
    /* The order: per-address limit, body, account lockout, hashing. */
    if (client_rate_limit(app, req) != 0)
        return;
    body = body_object(req);
    if (body == NULL)
        return;
    raw_email = body_string(req, body, "email", &email_len);
    if (raw_email == NULL)
        goto cleanup;
    password = body_string(req, body, "password", &password_len);
    if (password == NULL)
        goto cleanup;
    if (email_len > LATCH_MAX_EMAIL_BYTES + 64 || password_len > LATCH_MAX_PASSWORD_BYTES) {
        reply_error(req, 400, email_len > LATCH_MAX_EMAIL_BYTES + 64
                                  ? "Email must be at most 254 bytes"
                                  : "Password must be at most 256 bytes");
        goto cleanup;
    }
    job = job_new(app, req);
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        goto cleanup;
    }
    flow_lock_key(raw_email, email_len, job->lock_key);
    /* The account, and the guess reserved on the lockout counter.  An
     * address that could never have been registered is an unknown account:
     * same answer, same cost. */
    valid = credentials_normalize_email(raw_email, email_len, job->email, &why) == 0;
    rc = STORE_CALL(app->store, login_lookup, valid ? job->email : NULL, job->lock_key,
                    app_now(), (int)app->cfg->lockout_attempts, app->cfg->lockout_window_s,
                    app->cfg->lockout_s, &job->user, &job->user_found, &retry_after);
    if (flow_reservation_answer(req, job->lock_key, rc, retry_after) != 0) {
        job_free(job);
        goto cleanup;
    }
    memcpy(job->password, password, password_len);
    job->password_len = password_len;
    submit(job, login_job);
cleanup:
    flow_wipe(body, "password");
    json_decref(body);
}

/* ---- POST /refresh ---- */

static void reply_bad_refresh(struct http_request *req)
{
    reply_unauthorized(req, true, "Invalid or expired refresh token");
}

void handle_refresh(struct app *app, struct http_request *req, int64_t id)
{
    struct opaque_token presented, successor;
    enum store_rotate_outcome outcome = STORE_ROTATE_INVALID;
    struct store_refresh found;
    char access[TOKENS_MAX_ISSUED_BYTES];
    const char *text;
    size_t len;
    int64_t now = app_now();
    json_t *body;
    int rc;

    (void)id;
    if (client_rate_limit(app, req) != 0)
        return;
    body = body_object(req);
    if (body == NULL)
        return;
    text = body_string(req, body, "refresh_token", &len);
    if (text == NULL)
        goto cleanup;
    /* An access token (or anything else) is not 43 base64url characters. */
    if (app->mode == AUTH_MODE_SESSION || opaque_parse(text, len, &presented) != 0) {
        reply_bad_refresh(req);
        goto cleanup;
    }
    opaque_successor(app->refresh_key, &presented, &successor);
    rc = STORE_CALL(app->store, refresh_rotate, presented.digest, successor.digest, now,
                    app->cfg->refresh_reuse_window_s, app->cfg->refresh_ttl_s,
                    app->cfg->refresh_max_s, app_memo_until(app, now), &outcome, &found);
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        goto cleanup;
    }
    if (outcome == STORE_ROTATE_REUSED) {
        (void)revocation_sync(app->revocation, now);
        events_refresh_reuse(found.user_id);
    }
    if (outcome != STORE_ROTATED && outcome != STORE_ROTATE_RETRY) {
        reply_bad_refresh(req);
        goto cleanup;
    }
    /* The role and email as they are now (refresh_rotate read them with the
     * family, and refused a disabled account or a changed password). */
    if (issue_access(app, found.user_id, found.email, found.role, found.email_verified, found.amr,
                     found.sid, access, sizeof(access)) != TOKENS_OK) {
        reply_error(req, 500, "Token signing failed");
        goto cleanup;
    }
    reply_json(req, 200,
               json_pack("{s:s,s:s,s:I,s:s}", "token", access, "token_type", "Bearer",
                         "expires_in", (json_int_t)app->policy.access_ttl_s, "refresh_token",
                         successor.text));
cleanup:
    sodium_memzero(&presented, sizeof(presented));
    sodium_memzero(&successor, sizeof(successor));
    json_decref(body);
}

/* ---- POST /logout ---- */

void handle_logout(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct http_response *resp;
    const char *scope = http_request_query(req, "scope");
    int64_t now = app_now();
    int rc;

    (void)id;
    if (authn_require(app, req, &caller) != 0)
        return;
    if (scope != NULL && strcmp(scope, "all") == 0) {
        rc = STORE_CALL(app->store, user_revoke, caller.user_id, NULL, now, now,
                        app_memo_until(app, now));
    } else if (scope != NULL && scope[0] != '\0') {
        reply_error(req, 400, "scope must be \"all\" or absent");
        return;
    } else if (caller.sid[0] != '\0') {
        rc = STORE_CALL(app->store, sid_revoke, caller.sid, now, app_memo_until(app, now));
    } else {
        /* A token minted elsewhere, without sid: revoke exactly it. */
        char hex[STORE_DIGEST_BYTES * 2 + 1];
        revocation_token_digest_hex(caller.token, caller.token_len, hex);
        rc = STORE_CALL(app->store, token_revoke, hex, caller.exp + app->policy.leeway_s + 1);
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return;
    }
    (void)revocation_sync(app->revocation, now);
    events_token_revoked(caller.user_id,
                         scope != NULL && strcmp(scope, "all") == 0 ? "all"
                         : caller.sid[0] != '\0'                    ? "login"
                                                                    : "token",
                         "self");
    resp = http_response_new(204, NULL, "", 0);
    if (resp != NULL && app->mode != AUTH_MODE_JWT) {
        char cookie[128];
        snprintf(cookie, sizeof(cookie), "%s=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0%s",
                 SESSION_COOKIE, client_is_secure(app, req) ? "; Secure" : "");
        http_response_header(resp, "Set-Cookie", cookie);
    }
    http_request_respond(req, resp);
}

/* ---- POST /password ---- */

static void password_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after;
    char hash[PWHASH_STR_BYTES];
    int64_t now = app_now();
    int rc;

    memset(&after, 0, sizeof(after));
    if (pwhash_verify(job->user.password_hash, job->password, job->password_len) != PWHASH_OK) {
        /* The guess was counted when it was reserved. */
        reply_error(job->req, 403, "Current password is incorrect");
        goto cleanup;
    }
    if (pwhash_hash(&app->pwhash, job->new_password, job->new_password_len, hash) != PWHASH_OK) {
        reply_error(job->req, 500, "Password hashing failed");
        goto cleanup;
    }
    /* Every other login of the user ends with the change, in its
     * transaction; the one that made it stays.  A token without sid cannot
     * be told apart from the rest: then every token ends.  A password
     * changed meanwhile (by an admin) wins: this one is stale. */
    change.password_hash = hash;
    change.expect_password_gen = job->user.password_gen;
    change.end_logins = 1;
    change.keep_sid = job->caller.sid[0] != '\0' ? job->caller.sid : NULL;
    change.memo_until = app_memo_until(app, now);
    rc = STORE_CALL(app->store, user_update, job->user.id, &change, now, &after);
    app_user_changed(app, job->user.id);
    (void)revocation_sync(app->revocation, now);
    if (rc == STORE_OK)
        (void)STORE_CALL(app->store, lockout_reset, job->lock_key);
    if (rc == STORE_ENOTFOUND || rc == STORE_ESTALE)
        reply_unauthorized(job->req, true, "Invalid or expired token");
    else if (rc != STORE_OK)
        reply_store_error(job->req, rc);
    else {
        events_password_changed(job->user.id, "self");
        http_request_respond(job->req, http_response_new(204, NULL, "", 0));
    }
cleanup:
    sodium_memzero(&after, sizeof(after));
    sodium_memzero(hash, sizeof(hash));
    job_free(job);
}

void handle_password(struct app *app, struct http_request *req, int64_t id)
{
    const char *current, *fresh, *why;
    size_t current_len, fresh_len;
    struct pw_job *job = NULL;
    struct authn caller;
    json_t *body = NULL;
    int rc;

    (void)id;
    if (client_rate_limit(app, req) != 0)
        return;
    if (authn_require(app, req, &caller) != 0)
        return;
    body = body_object(req);
    if (body == NULL)
        return;
    current = body_string(req, body, "current_password", &current_len);
    if (current == NULL)
        goto cleanup;
    fresh = body_string(req, body, "new_password", &fresh_len);
    if (fresh == NULL)
        goto cleanup;
    if (current_len > LATCH_MAX_PASSWORD_BYTES || credentials_check_password(fresh_len, &why) != 0) {
        reply_error(req, 400, current_len > LATCH_MAX_PASSWORD_BYTES
                                  ? "Password must be at most 256 bytes"
                                  : why);
        goto cleanup;
    }
    job = job_new(app, req);
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        goto cleanup;
    }
    rc = store_user_by_id(app->store, caller.user_id, &job->user);
    if (rc != STORE_OK) {
        job_free(job);
        if (rc == STORE_ENOTFOUND)
            reply_unauthorized(req, true, "Invalid or expired token");
        else
            reply_store_error(req, rc);
        goto cleanup;
    }
    /* The same counter as /login's: the stored email is normalised. */
    snprintf(job->lock_key, sizeof(job->lock_key), "%s", job->user.email);
    if (flow_reserve_guess(app, req, job->lock_key) != 0) {
        job_free(job);
        goto cleanup;
    }
    job->caller = caller;
    job->caller.token = NULL;
    memcpy(job->password, current, current_len);
    job->password_len = current_len;
    memcpy(job->new_password, fresh, fresh_len);
    job->new_password_len = fresh_len;
    submit(job, password_job);
cleanup:
    flow_wipe(body, "current_password");
    flow_wipe(body, "new_password");
    json_decref(body);
}

/* ---- PATCH /admin/users/{id} with a password: hashing on the pool ---- */

static void admin_password_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after;
    char hash[PWHASH_STR_BYTES];
    int64_t now = app_now();
    int rc;

    if (pwhash_hash(&app->pwhash, job->new_password, job->new_password_len, hash) != PWHASH_OK) {
        reply_error(job->req, 500, "Password hashing failed");
        goto cleanup;
    }
    change.role = job->role[0] != '\0' ? job->role : NULL;
    change.disabled = job->user_found;   /* carries the requested disabled (-1/0/1) */
    change.password_hash = hash;
    change.mfa_off = job->user.mfa;
    rc = admin_apply_change(app, job->req, job->user.id, &change, now, &after);
    if (rc == 0)
        reply_json(job->req, 200, reply_user(&after));
    sodium_memzero(hash, sizeof(hash));
cleanup:
    job_free(job);
}

void auth_admin_set_password(struct app *app, struct http_request *req, int64_t user_id,
                             const char *role, int disabled, int mfa_off, const char *password,
                             size_t len)
{
    struct pw_job *job = job_new(app, req);

    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        return;
    }
    job->user.id = user_id;
    snprintf(job->role, sizeof(job->role), "%s", role != NULL ? role : "");
    job->user_found = disabled;
    job->user.mfa = mfa_off;             /* carries the requested mfa: false */
    memcpy(job->new_password, password, len);
    job->new_password_len = len;
    submit(job, admin_password_job);
}
