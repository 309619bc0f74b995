/*
 * mfa.c - the second factor: TOTP (RFC 6238) with recovery codes.
 *
 *   POST   /mfa/totp          {"password"}          enrol: a new secret, its otpauth URI
 *                                                   and QR code (nothing changes for
 *                                                   login until it is confirmed)
 *   POST   /mfa/totp/confirm  {"code"}              confirm: TOTP on, 10 recovery codes
 *   DELETE /mfa/totp          {"password","code"}   TOTP off
 *   POST   /login/mfa         {"mfa_token","code"} or {"mfa_token","recovery_code"}
 *
 * Every password or code checked here reserves a guess against the
 * account's lockout first (as /login does), and the per-address limit
 * applies (flow_open).  A wrong password counts as a failed login; so does
 * a wrong code.  On the authenticated routes a wrong code is 403 (a 401
 * would tell clients their token is dead); on /login/mfa it is 401.
 *
 * A code is accepted once: only for a time step later than the user's last
 * accepted step, which the store moves on with a compare-and-set in the
 * transaction that accepts it (RFC 6238 section 5.2), so two instances
 * cannot both accept one code.  A recovery code is deleted with a
 * compare-and-delete in the login's transaction, so it works once.  Its
 * digest is HMAC-SHA-256 under a key derived from the master key (never
 * stored; auth/recovery.h).  The TOTP secret is sealed under the master key
 * with "totp:<user id>" as associated data.
 */
#include "api/authn.h"
#include "api/events.h"
#include "api/flow.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "auth/opaque.h"
#include "auth/qrsvg.h"
#include "auth/totp.h"
#include "util/base32.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void totp_ad(int64_t user_id, char out[32])
{
    snprintf(out, 32, "totp:%lld", (long long)user_id);
}

static void reply_bad_code(struct http_request *req)
{
    reply_error(req, 403, "Invalid or expired code");
}

/* The user's confirmed (or, with any, unconfirmed too) TOTP secret, opened.
 * Returns 0, or a store error / STORE_ENOTFOUND. */
static int open_secret(struct app *app, int64_t user_id, int want_confirmed,
                       unsigned char secret[TOTP_SECRET_BYTES], int64_t *last_step,
                       int *confirmed)
{
    struct store_totp t;
    char ad[32];
    size_t len = 0;
    int rc = STORE_CALL(app->store, totp_get, user_id, &t);

    if (rc != STORE_OK)
        return rc;
    if (want_confirmed && !t.confirmed)
        return STORE_ENOTFOUND;
    totp_ad(user_id, ad);
    rc = seal_open(app->master_key, ad, t.sealed, t.sealed_len, secret, TOTP_SECRET_BYTES,
                   &len) == SEAL_OK && len == TOTP_SECRET_BYTES
             ? STORE_OK
             : STORE_EIO;
    *last_step = t.last_step;
    *confirmed = t.confirmed;
    sodium_memzero(&t, sizeof(t));
    return rc;
}

/* Checks a typed code (ASCII spaces dropped) against the user's secret and
 * last step; 0 and *step on success. */
static int check_code(struct app *app, int64_t user_id, int want_confirmed, const char *typed,
                      size_t len, int64_t *step, int *confirmed)
{
    unsigned char secret[TOTP_SECRET_BYTES];
    char code[TOTP_DIGITS + 1];
    int64_t last = TOTP_NO_STEP;
    size_t i, n = 0;
    int rc;

    if (len > LATCH_MAX_CODE_INPUT_BYTES)
        return -1;
    for (i = 0; i < len; i++) {
        if (typed[i] == ' ')
            continue;
        if (n == TOTP_DIGITS)
            return -1;
        code[n++] = typed[i];
    }
    code[n] = '\0';
    rc = open_secret(app, user_id, want_confirmed, secret, &last, confirmed);
    if (rc != STORE_OK) {
        sodium_memzero(code, sizeof(code));
        return rc == STORE_ENOTFOUND ? -1 : rc;
    }
    rc = totp_verify(secret, sizeof(secret), code, app_now(), last, step) == TOTP_OK ? 0 : -1;
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(code, sizeof(code));
    return rc;
}

/* ---- jobs on the hashing pool (a password to verify) ---- */

struct mfa_job {
    struct app *app;
    struct http_request *req;
    struct store_user user;
    size_t password_len, code_len;
    char password[LATCH_MAX_PASSWORD_BYTES + 1];
    char code[LATCH_MAX_CODE_INPUT_BYTES + 1];
};

static void job_submit(struct mfa_job *job, work_fn fn)
{
    struct http_request *req = job->req;

    http_request_defer(req);
    if (work_pool_submit(job->app->pool, fn, job) != WORK_OK) {
        sodium_free(job);
        reply_busy(req);
    }
}

/* Verifies the job's password; answers 403 and returns -1 when wrong (the
 * guess was counted when it was reserved). */
static int job_password_ok(struct mfa_job *job)
{
    if (pwhash_verify(job->user.password_hash, job->password, job->password_len) == PWHASH_OK)
        return 0;
    events_login_failure(job->req, "wrong_password", job->user.email, job->user.id);
    reply_error(job->req, 403, "Current password is incorrect");
    return -1;
}

/* ---- POST /mfa/totp ---- */

static void enrol_job(void *arg)
{
    struct mfa_job *job = arg;
    struct app *app = job->app;
    unsigned char secret[TOTP_SECRET_BYTES], sealed[TOTP_SECRET_BYTES + SEAL_OVERHEAD];
    char b32[TOTP_SECRET_B32_CHARS + 1], uri[LATCH_MAX_OTPAUTH_URI_BYTES], ad[32];
    char *svg = NULL;
    size_t sealed_len = 0;
    int rc;

    if (job_password_ok(job) != 0)
        goto cleanup;
    totp_new_secret(secret);
    totp_ad(job->user.id, ad);
    if (base32_encode(b32, sizeof(b32), secret, sizeof(secret)) == 0 ||
        totp_uri(app->cfg->issuer, job->user.email, b32, uri, sizeof(uri)) != TOTP_OK ||
        qrsvg_render(uri, &svg) != QRSVG_OK ||
        seal(app->master_key, ad, secret, sizeof(secret), sealed, sizeof(sealed), &sealed_len) !=
            SEAL_OK) {
        reply_error(job->req, 500, "Cannot make the TOTP secret");
        goto cleanup;
    }
    rc = STORE_CALL(app->store, totp_put, job->user.id, sealed, sealed_len, app_now());
    if (rc == STORE_ECONFLICT) {
        reply_error(job->req, 409, "TOTP already enabled");
    } else if (rc != STORE_OK) {
        reply_store_error(job->req, rc);
    } else {
        (void)STORE_CALL(app->store, lockout_reset, job->user.email);
        reply_json(job->req, 200,
                   json_pack("{s:s,s:s,s:s}", "secret", b32, "otpauth_uri", uri, "qr_svg", svg));
    }
cleanup:
    free(svg);
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(b32, sizeof(b32));
    sodium_memzero(uri, sizeof(uri));
    sodium_free(job);
}

/*
 * The opening of the authenticated routes: the caller, the body's members,
 * the caller's row, and a guess reserved against its lockout.  Returns a
 * job (the caller fills and submits or frees it) and the body, or NULL
 * after answering.
 */
static struct mfa_job *open_authenticated(struct app *app, struct http_request *req,
                                          const char *const *fields, struct flow_fields *f,
                                          json_t **body)
{
    struct authn caller;
    struct mfa_job *job;
    int rc;

    *body = flow_open(app, req, fields, f);
    if (*body == NULL)
        return NULL;
    if (authn_require(app, req, &caller) != 0)
        return NULL;
    job = sodium_malloc(sizeof(*job));
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        return NULL;
    }
    memset(job, 0, sizeof(*job));
    job->app = app;
    job->req = req;
    rc = store_user_by_id(app->store, caller.user_id, &job->user);
    if (rc != STORE_OK || job->user.disabled) {
        if (rc == STORE_OK || rc == STORE_ENOTFOUND)
            reply_unauthorized(req, true, "Invalid or expired token");
        else
            reply_store_error(req, rc);
        sodium_free(job);
        return NULL;
    }
    return job;
}

void handle_mfa_totp_enrol(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"password", NULL};
    struct flow_fields f;
    struct mfa_job *job;
    json_t *body = NULL;

    (void)id;
    job = open_authenticated(app, req, fields, &f, &body);
    if (job == NULL)
        goto cleanup;
    if (job->user.mfa) {
        reply_error(req, 409, "TOTP already enabled");
        sodium_free(job);
        goto cleanup;
    }
    if (f.len[0] > LATCH_MAX_PASSWORD_BYTES) {
        reply_error(req, 400, "Password must be at most 256 bytes");
        sodium_free(job);
        goto cleanup;
    }
    if (flow_reserve_guess(app, req, job->user.email) != 0) {
        sodium_free(job);
        goto cleanup;
    }
    memcpy(job->password, f.value[0], f.len[0]);
    job->password_len = f.len[0];
    job_submit(job, enrol_job);
cleanup:
    flow_wipe(body, "password");
    json_decref(body);
}

/* ---- POST /mfa/totp/confirm ---- */

void handle_mfa_totp_confirm(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"code", NULL};
    char codes[RECOVERY_CODE_COUNT][RECOVERY_TEXT_CHARS + 1];
    unsigned char digests[RECOVERY_CODE_COUNT][STORE_DIGEST_BYTES];
    struct flow_fields f;
    struct mfa_job *job;
    json_t *body = NULL, *list;
    int64_t step = 0;
    int i, rc, confirmed = 0;

    (void)id;
    memset(codes, 0, sizeof(codes));
    job = open_authenticated(app, req, fields, &f, &body);
    if (job == NULL)
        goto cleanup;
    if (job->user.mfa) {
        reply_error(req, 409, "TOTP already enabled");
        goto done;
    }
    if (flow_reserve_guess(app, req, job->user.email) != 0)
        goto done;
    rc = check_code(app, job->user.id, 0, f.value[0], f.len[0], &step, &confirmed);
    if (rc > 0 || rc < -1) {
        reply_store_error(req, rc);
        goto done;
    }
    if (rc != 0) {
        events_login_mfa_failure(req, "bad_code", job->user.id);
        reply_bad_code(req);
        goto done;
    }
    recovery_new_set(codes);
    for (i = 0; i < RECOVERY_CODE_COUNT; i++)
        (void)recovery_digest(app->recovery_key, job->user.id, codes[i], strlen(codes[i]),
                              digests[i]);
    rc = STORE_CALL(app->store, totp_confirm, job->user.id, step,
                    (const unsigned char(*)[STORE_DIGEST_BYTES])digests, RECOVERY_CODE_COUNT,
                    app_now());
    app_user_changed(app, job->user.id);
    if (rc == STORE_ECONFLICT) {
        reply_error(req, 409, "TOTP already enabled");
    } else if (rc == STORE_EREPLAY || rc == STORE_ENOTFOUND) {
        events_login_mfa_failure(req, "replay", job->user.id);
        reply_bad_code(req);
    } else if (rc != STORE_OK) {
        reply_store_error(req, rc);
    } else {
        (void)STORE_CALL(app->store, lockout_reset, job->user.email);
        list = json_array();
        for (i = 0; i < RECOVERY_CODE_COUNT && list != NULL; i++)
            json_array_append_new(list, json_string(codes[i]));
        events_mfa_changed(req, job->user.id, 1, "self");
        reply_json(req, 200, json_pack("{s:o}", "recovery_codes", list));
    }
done:
    sodium_free(job);
cleanup:
    sodium_memzero(codes, sizeof(codes));
    sodium_memzero(digests, sizeof(digests));
    flow_wipe(body, "code");
    json_decref(body);
}

/* ---- DELETE /mfa/totp ---- */

static void disable_job(void *arg)
{
    struct mfa_job *job = arg;
    struct app *app = job->app;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after;
    int64_t step = 0;
    int rc, confirmed = 0;

    memset(&after, 0, sizeof(after));
    if (job_password_ok(job) != 0)
        goto cleanup;
    rc = check_code(app, job->user.id, 1, job->code, job->code_len, &step, &confirmed);
    if (rc == 0)
        rc = STORE_CALL(app->store, totp_use_step, job->user.id, step);
    if (rc == -1 || rc == STORE_EREPLAY || rc == STORE_ENOTFOUND) {
        events_login_mfa_failure(job->req, rc == STORE_EREPLAY ? "replay" : "bad_code",
                                 job->user.id);
        reply_bad_code(job->req);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        reply_store_error(job->req, rc);
        goto cleanup;
    }
    /* The owner turning it off with both factors: their logins stay. */
    change.mfa_off = 1;
    rc = STORE_CALL(app->store, user_update, job->user.id, &change, app_now(), &after);
    app_user_changed(app, job->user.id);
    if (rc != STORE_OK) {
        reply_store_error(job->req, rc);
        goto cleanup;
    }
    (void)STORE_CALL(app->store, lockout_reset, job->user.email);
    events_mfa_changed(job->req, job->user.id, 0, "self");
    http_request_respond(job->req, http_response_new(204, NULL, "", 0));
cleanup:
    sodium_memzero(&after, sizeof(after));
    sodium_free(job);
}

void handle_mfa_totp_delete(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"password", "code", NULL};
    struct flow_fields f;
    struct mfa_job *job;
    json_t *body = NULL;

    (void)id;
    job = open_authenticated(app, req, fields, &f, &body);
    if (job == NULL)
        goto cleanup;
    if (!job->user.mfa) {
        reply_error(req, 409, "TOTP not enabled");
        sodium_free(job);
        goto cleanup;
    }
    if (f.len[0] > LATCH_MAX_PASSWORD_BYTES || f.len[1] > LATCH_MAX_CODE_INPUT_BYTES) {
        /* An over-long code is a wrong code: 403 like every other one on
         * the authenticated /mfa routes. */
        if (f.len[0] > LATCH_MAX_PASSWORD_BYTES)
            reply_error(req, 400, "Password must be at most 256 bytes");
        else
            reply_error(req, 403, "Invalid or expired code");
        sodium_free(job);
        goto cleanup;
    }
    if (flow_reserve_guess(app, req, job->user.email) != 0) {
        sodium_free(job);
        goto cleanup;
    }
    memcpy(job->password, f.value[0], f.len[0]);
    job->password_len = f.len[0];
    memcpy(job->code, f.value[1], f.len[1]);
    job->code_len = f.len[1];
    job_submit(job, disable_job);
cleanup:
    flow_wipe(body, "password");
    flow_wipe(body, "code");
    json_decref(body);
}

/* ---- POST /login/mfa ---- */

static void reply_login_bad_code(struct http_request *req)
{
    reply_unauthorized(req, false, "Invalid or expired code");
}

void handle_login_mfa(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"mfa_token", "?code", "?recovery_code", NULL};
    unsigned char rec_digest[RECOVERY_DIGEST_BYTES];
    struct opaque_token token;
    struct store_login second;
    struct store_user user;
    struct flow_fields f;
    int64_t user_id = 0, gen = 0, step = 0;
    const char *reason = "bad_code";
    json_t *body;
    int rc, confirmed = 0, ok;

    (void)id;
    memset(&token, 0, sizeof(token));
    memset(&user, 0, sizeof(user));
    body = flow_open(app, req, fields, &f);
    if (body == NULL)
        return;
    if ((f.value[1] == NULL) == (f.value[2] == NULL)) {
        reply_error(req, 400, "Send either \"code\" or \"recovery_code\"");
        goto cleanup;
    }
    if (opaque_parse(f.value[0], f.len[0], &token) != 0) {
        events_login_mfa_failure(req, "unknown_token", 0);
        reply_login_bad_code(req);
        goto cleanup;
    }
    rc = STORE_CALL(app->store, mfa_token_get, token.digest, app_now(), &user_id, &gen);
    if (rc == STORE_OK)
        rc = store_user_by_id(app->store, user_id, &user);
    if (rc == STORE_ENOTFOUND) {
        events_login_mfa_failure(req, "unknown_token", user_id);
        reply_login_bad_code(req);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        goto cleanup;
    }
    /* The login is against the password generation the first step
     * verified: a password changed in between ends it (login_commit). */
    user.password_gen = gen;
    if (flow_reserve_guess(app, req, user.email) != 0)
        goto cleanup;
    memset(&second, 0, sizeof(second));
    second.mfa_digest = token.digest;
    if (f.value[1] != NULL) {
        rc = check_code(app, user.id, 1, f.value[1], f.len[1], &step, &confirmed);
        if (rc > 0 || rc < -1) {
            reply_store_error(req, rc);
            goto cleanup;
        }
        ok = rc == 0;
        second.totp_step = step;
        second.amr = STORE_AMR_OTP;
    } else {
        reason = "bad_recovery_code";
        ok = f.len[2] <= LATCH_MAX_RECOVERY_INPUT_BYTES &&
             recovery_digest(app->recovery_key, user.id, f.value[2], f.len[2], rec_digest) ==
                 RECOVERY_OK;
        second.recovery_digest = rec_digest;
        second.amr = STORE_AMR_RECOVERY;
    }
    if (ok) {
        rc = auth_issue_login(app, req, &user, user.email, NULL, &second);
        if (rc != STORE_EREPLAY)
            goto cleanup;   /* answered */
        reason = "replay";
    }
    /* A wrong code counted as a failed login when it was reserved; five
     * end the mfa_token. */
    (void)STORE_CALL(app->store, mfa_token_fail, token.digest, LATCH_MFA_MAX_FAILURES);
    events_login_mfa_failure(req, reason, user.id);
    reply_login_bad_code(req);
cleanup:
    sodium_memzero(&token, sizeof(token));
    sodium_memzero(&user, sizeof(user));
    sodium_memzero(rec_digest, sizeof(rec_digest));
    flow_wipe(body, "code");
    flow_wipe(body, "recovery_code");
    flow_wipe(body, "mfa_token");
    json_decref(body);
}
