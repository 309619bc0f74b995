/*
 * reset.c - a forgotten password: POST /password/forgot and POST
 * /password/reset.
 *
 * /password/forgot answers 202 at once whether the address has an account
 * or not: the request path does no store I/O at all (only the per-address
 * limit, in memory), and a background job looks the address up, applies
 * the per-address mail allowance and queues the mail.  This one endpoint's
 * 202 does not promise a queued mail (the job may find nothing to do, or
 * fail); a client that got no mail asks again.
 *
 * /password/reset checks the new password's length first (a weak one is
 * refused without consuming the token), finds the token's user, hashes on
 * the hashing pool, then consumes the token and replaces the password in
 * one transaction (store password_reset): every login of the user ends, the
 * lockout is cleared, the address counts as verified (the mail reached it),
 * and a notification mail is queued.
 */
#include "api/events.h"
#include "api/flow.h"
#include "api/handlers.h"
#include "api/mails.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "auth/opaque.h"

#include <sodium.h>
#include <string.h>

void handle_password_forgot(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"email", NULL};
    struct flow_fields f;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why;
    json_t *body;

    (void)id;
    body = flow_open(app, req, fields, &f);
    if (body == NULL)
        return;
    if (credentials_normalize_email(f.value[0], f.len[0], email, &why) != 0)
        reply_error(req, 400, why);
    else if (mails_request_in_background(app, MAILS_RESET, email) != 0)
        reply_busy(req);
    else
        reply_json(req, 202, json_pack("{s:s}", "status", "accepted"));
    json_decref(body);
}

struct reset_job {
    struct app *app;
    struct http_request *req;
    struct store_user user;            /* the token's user when the request began */
    unsigned char digest[STORE_DIGEST_BYTES];
    size_t password_len;
    char password[LATCH_MAX_PASSWORD_BYTES + 1];
};

static void reply_bad_token(struct http_request *req)
{
    reply_error(req, 400, "Invalid or expired token");
}

static void reset_job_run(void *arg)
{
    struct reset_job *job = arg;
    struct app *app = job->app;
    struct outbox_mail *mail = sodium_malloc(sizeof(*mail));
    struct store_user after;
    char hash[PWHASH_STR_BYTES];
    int64_t now = app_now();
    int rc;

    memset(&after, 0, sizeof(after));
    if (mail == NULL) {
        reply_error(job->req, 500, "Out of memory");
        goto cleanup;
    }
    if (pwhash_hash(&app->pwhash, job->password, job->password_len, hash) != PWHASH_OK) {
        reply_error(job->req, 500, "Password hashing failed");
        goto cleanup;
    }
    if (mails_build(app, MAILS_PASSWORD_CHANGED, job->user.email, NULL,
                    now + LATCH_NOTICE_MAIL_TTL_S, mail) != 0) {
        reply_error(job->req, 500, "Cannot write the notification mail");
        goto cleanup;
    }
    rc = STORE_CALL(app->store, password_reset, job->digest, job->user.id, hash, now,
                    app_memo_until(app, now), &mail->row, &after);
    app_user_changed(app, job->user.id);
    (void)revocation_sync(app->revocation, now);
    if (rc == STORE_ENOTFOUND) {
        reply_bad_token(job->req);
    } else if (rc != STORE_OK) {
        reply_store_error(job->req, rc);
    } else {
        mails_queued(app);
        events_mail_queued("password_changed", job->user.id);
        events_password_changed(job->user.id, "reset");
        http_request_respond(job->req, http_response_new(204, NULL, "", 0));
    }
cleanup:
    if (mail != NULL) {
        mails_wipe(mail);
        sodium_free(mail);
    }
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(&after, sizeof(after));
    sodium_free(job);
}

void handle_password_reset(struct app *app, struct http_request *req, int64_t id)
{
    static const char *const fields[] = {"token", "new_password", NULL};
    struct flow_fields f;
    struct opaque_token token;
    struct reset_job *job;
    const char *why;
    json_t *body;
    int rc;

    (void)id;
    body = flow_open(app, req, fields, &f);
    if (body == NULL)
        return;
    memset(&token, 0, sizeof(token));
    if (opaque_parse(f.value[0], f.len[0], &token) != 0) {
        reply_bad_token(req);
        goto cleanup;
    }
    /* Before the token is looked at: a weak password consumes nothing. */
    if (credentials_check_password(f.len[1], &why) != 0) {
        reply_error(req, 400, why);
        goto cleanup;
    }
    job = sodium_malloc(sizeof(*job));
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        goto cleanup;
    }
    memset(job, 0, sizeof(*job));
    /* Spare the hashing when the token is dead already; the reset's own
     * transaction decides races. */
    rc = STORE_CALL(app->store, email_token_find, STORE_TOKEN_RESET, token.digest, app_now(),
                    &job->user);
    if (rc != STORE_OK) {
        sodium_free(job);
        if (rc == STORE_ENOTFOUND)
            reply_bad_token(req);
        else
            reply_store_error(req, rc);
        goto cleanup;
    }
    job->app = app;
    job->req = req;
    memcpy(job->digest, token.digest, sizeof(job->digest));
    memcpy(job->password, f.value[1], f.len[1]);
    job->password_len = f.len[1];
    http_request_defer(req);
    if (work_pool_submit(app->pool, reset_job_run, job) != WORK_OK) {
        sodium_free(job);
        reply_busy(req);
    }
cleanup:
    sodium_memzero(&token, sizeof(token));
    flow_wipe(body, "token");
    flow_wipe(body, "new_password");
    json_decref(body);
}
