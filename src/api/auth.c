/*
 * auth.c - POST /register and POST /login.
 *
 * Both need an Argon2id computation, which takes tens of milliseconds: the
 * handler validates the body on the HTTP thread, suspends the request and
 * hands a job to the hashing pool; the job answers.  A full pool queue
 * answers 503 with Retry-After at once.
 */
#include "api/body.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "auth/credentials.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct pw_job {
    struct app *app;
    struct http_request *req;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    struct store_user user;        /* login: the account, when found */
    int user_found;
    size_t password_len;
    char password[LATCH_MAX_PASSWORD_BYTES + 1];
};

static struct pw_job *job_new(struct app *app, struct http_request *req, const char *email,
                              const char *password, size_t password_len)
{
    /* sodium_malloc: guarded pages, wiped on free; the password lives here. */
    struct pw_job *job = sodium_malloc(sizeof(*job));

    if (job == NULL)
        return NULL;
    memset(job, 0, sizeof(*job));
    job->app = app;
    job->req = req;
    memcpy(job->email, email, strlen(email) + 1);
    memcpy(job->password, password, password_len);
    job->password_len = password_len;
    return job;
}

static void job_free(struct pw_job *job)
{
    sodium_free(job);   /* zeroes the memory first */
}

/* Suspends req and queues fn(job); on a full queue answers 503. */
static void submit(struct pw_job *job, work_fn fn)
{
    struct http_request *req = job->req;

    http_request_defer(req);
    if (work_pool_submit(job->app->pool, fn, job) != WORK_OK) {
        job_free(job);
        reply_busy(req);
    }
}

/* ---- POST /register ---- */

static void register_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    char hash[PWHASH_STR_BYTES];
    struct store_user user;
    int rc;

    if (pwhash_hash(&app->pwhash, job->password, job->password_len, hash) != PWHASH_OK) {
        reply_error(job->req, 500, "Password hashing failed");
        goto cleanup;
    }
    rc = store_user_create(app->store, job->email, hash, "user", app_now(), &user);
    if (rc == STORE_ECONFLICT)
        reply_error(job->req, 409, "Email already registered");
    else if (rc != STORE_OK)
        reply_error(job->req, 500, "Storage failure");
    else
        reply_json(job->req, 201,
                   json_pack("{s:I,s:s,s:s}", "id", (json_int_t)user.id, "email", user.email,
                             "role", user.role));
cleanup:
    sodium_memzero(&user, sizeof(user));
    job_free(job);
}

void handle_register(struct app *app, struct http_request *req)
{
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *raw_email, *password, *why;
    size_t email_len, password_len;
    struct store_user existing;
    struct pw_job *job;
    json_t *body;
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
    if (credentials_normalize_email(raw_email, email_len, email, &why) != 0 ||
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
        reply_error(req, 500, "Storage failure");
        goto cleanup;
    }
    job = job_new(app, req, email, password, password_len);
    if (job == NULL)
        reply_error(req, 500, "Out of memory");
    else
        submit(job, register_job);
cleanup:
    /* jansson's copy of the password: wipe it before the object goes. */
    if (json_is_string(json_object_get(body, "password")))
        sodium_memzero((void *)json_string_value(json_object_get(body, "password")),
                       json_string_length(json_object_get(body, "password")));
    json_decref(body);
}

/* ---- POST /login ---- */

static void login_job(void *arg)
{
    struct pw_job *job = arg;
    struct app *app = job->app;
    char token[TOKENS_MAX_ISSUED_BYTES];
    size_t token_len;
    struct token_subject subject;

    if (!job->user_found) {
        /* Pay for one verify anyway so timing does not reveal accounts. */
        pwhash_dummy_verify(&app->pwhash, job->password, job->password_len);
        reply_unauthorized(job->req, false, "Invalid email or password");
        goto cleanup;
    }
    if (pwhash_verify(job->user.password_hash, job->password, job->password_len) != PWHASH_OK) {
        reply_unauthorized(job->req, false, "Invalid email or password");
        goto cleanup;
    }
    /* Only after the right password may the account's state show. */
    if (job->user.disabled) {
        reply_error(job->req, 403, "Account disabled");
        goto cleanup;
    }
    if (pwhash_needs_rehash(&app->pwhash, job->user.password_hash)) {
        char hash[PWHASH_STR_BYTES];
        if (pwhash_hash(&app->pwhash, job->password, job->password_len, hash) == PWHASH_OK)
            (void)store_user_rehash(app->store, job->user.id, job->user.password_hash, hash,
                                    app_now());
    }
    subject.user_id = job->user.id;
    subject.email = job->user.email;
    subject.role = job->user.role;
    if (tokens_issue(app->signing_key, &app->policy, &subject, app_now(), token, sizeof(token),
                     &token_len) != TOKENS_OK) {
        reply_error(job->req, 500, "Token signing failed");
        goto cleanup;
    }
    reply_json(job->req, 200,
               json_pack("{s:s,s:s,s:I}", "token", token, "token_type", "Bearer", "expires_in",
                         (json_int_t)app->policy.access_ttl_s));
cleanup:
    job_free(job);
}

void handle_login(struct app *app, struct http_request *req)
{
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *raw_email, *password, *why;
    size_t email_len, password_len;
    struct pw_job *job;
    json_t *body;
    int valid_email, rc;

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
    /* An address that could never have been registered is an unknown
     * account: same answer, same cost. */
    valid_email = credentials_normalize_email(raw_email, email_len, email, &why) == 0;
    if (!valid_email)
        email[0] = '\0';
    job = job_new(app, req, email, password, password_len);
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        goto cleanup;
    }
    if (valid_email) {
        rc = store_user_by_email(app->store, email, &job->user);
        if (rc == STORE_OK) {
            job->user_found = 1;
        } else if (rc != STORE_ENOTFOUND) {
            job_free(job);
            reply_error(req, 500, "Storage failure");
            goto cleanup;
        }
    }
    submit(job, login_job);
cleanup:
    if (json_is_string(json_object_get(body, "password")))
        sodium_memzero((void *)json_string_value(json_object_get(body, "password")),
                       json_string_length(json_object_get(body, "password")));
    json_decref(body);
}
