#include "api/mails.h"

#include "api/events.h"
#include "api/flow.h"
#include "auth/opaque.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mails_link(const struct config *cfg, enum mails_kind kind, const char *token, char *out,
               size_t size)
{
    const char *tmpl = kind == MAILS_RESET ? cfg->reset_url : cfg->verify_url;
    const char *p, *hit;
    size_t used = 0, base_len, n;
    int w;

    if (tmpl[0] == '\0') {
        /* No trailing slash doubled: https://app.example.com/ is common. */
        base_len = strlen(cfg->public_url);
        while (base_len > 0 && cfg->public_url[base_len - 1] == '/')
            base_len--;
        w = snprintf(out, size, "%.*s/%s#token=%s", (int)base_len, cfg->public_url,
                     kind == MAILS_RESET ? "reset" : "verify-email", token);
        return w < 0 || (size_t)w >= size ? -1 : 0;
    }
    for (p = tmpl; (hit = strstr(p, "{token}")) != NULL; p = hit + 7) {
        n = (size_t)(hit - p);
        w = snprintf(out + used, size - used, "%.*s%s", (int)n, p, token);
        if (w < 0 || (size_t)w >= size - used)
            return -1;
        used += (size_t)w;
    }
    w = snprintf(out + used, size - used, "%s", p);
    return w < 0 || (size_t)w >= size - used ? -1 : 0;
}

int mails_build(struct app *app, enum mails_kind kind, const char *to, const char *token,
                int64_t expires_at, struct outbox_mail *out)
{
    char link[LATCH_MAX_MAIL_LINK_BYTES], body[LATCH_MAX_MAIL_LINK_BYTES + 1024];
    const char *subject;
    int w, rc;

    if (!app->has_master_key)
        return -1;
    link[0] = '\0';
    if (kind != MAILS_PASSWORD_CHANGED &&
        mails_link(app->cfg, kind, token, link, sizeof(link)) != 0)
        return -1;
    switch (kind) {
    case MAILS_VERIFY:
        subject = "Confirm your email address";
        w = snprintf(body, sizeof(body),
                     "Hello,\n\n"
                     "someone, hopefully you, asked to confirm that this address belongs to "
                     "their account.\nOpen this link within 24 hours to confirm it:\n\n%s\n\n"
                     "If that was not you, ignore this mail: nothing changes.\n",
                     link);
        break;
    case MAILS_RESET:
        subject = "Reset your password";
        w = snprintf(body, sizeof(body),
                     "Hello,\n\n"
                     "someone, hopefully you, asked to reset the password of the account of "
                     "this address.\nOpen this link within 30 minutes to choose a new "
                     "password:\n\n%s\n\n"
                     "If that was not you, ignore this mail: your password stays as it is.\n",
                     link);
        break;
    default:
        subject = "Your password was changed";
        w = snprintf(body, sizeof(body),
                     "Hello,\n\n"
                     "the password of the account of this address was just reset, and every "
                     "session of it was ended.\n\n"
                     "If that was not you, ask for a password reset at once and tell the "
                     "service's support.\n");
        break;
    }
    rc = w < 0 || (size_t)w >= sizeof(body)
             ? -1
             : outbox_prepare(app->master_key, to, subject, body, expires_at, out);
    sodium_memzero(link, sizeof(link));
    sodium_memzero(body, sizeof(body));
    return rc;
}

void mails_wipe(struct outbox_mail *m)
{
    sodium_memzero(m, sizeof(*m));
}

void mails_queued(struct app *app)
{
    outbox_note_queued();
    outbox_sender_wake(app->outbox);
}

static const char *kind_name(enum mails_kind kind)
{
    return kind == MAILS_VERIFY ? "verify" : kind == MAILS_RESET ? "reset" : "password_changed";
}

int mails_issue(struct app *app, enum mails_kind kind, const struct store_user *user)
{
    struct opaque_token token;
    struct outbox_mail *mail = sodium_malloc(sizeof(*mail));
    int64_t now = app_now();
    int64_t expires_at = now + (kind == MAILS_RESET ? LATCH_RESET_TOKEN_TTL_S
                                                    : LATCH_VERIFY_TOKEN_TTL_S);
    int rc = STORE_ENOMEM;

    if (mail == NULL)
        return STORE_ENOMEM;
    opaque_new(&token);
    if (mails_build(app, kind, user->email, token.text, expires_at, mail) == 0)
        rc = STORE_CALL(app->store, email_token_issue, user->id,
                        kind == MAILS_RESET ? STORE_TOKEN_RESET : STORE_TOKEN_VERIFY,
                        token.digest, expires_at, &mail->row, now);
    if (rc == STORE_OK) {
        mails_queued(app);
        events_mail_queued(kind_name(kind), user->id);
    }
    sodium_memzero(&token, sizeof(token));
    mails_wipe(mail);
    sodium_free(mail);
    return rc;
}

struct mail_job {
    struct app *app;
    enum mails_kind kind;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
};

static void mail_job_run(void *arg)
{
    struct mail_job *job = arg;
    struct store_user user;
    const char *kind = kind_name(job->kind);
    int64_t retry = 0;
    int rc;

    rc = store_user_by_email(job->app->store, job->email, &user);
    if (rc != STORE_OK) {
        events_mail_not_sent(kind, rc == STORE_ENOTFOUND ? "unknown_email" : "store_failure");
        goto cleanup;
    }
    if (user.disabled) {
        events_mail_not_sent(kind, "disabled");
        goto cleanup;
    }
    if (job->kind == MAILS_VERIFY && user.email_verified) {
        events_mail_not_sent(kind, "already_verified");
        goto cleanup;
    }
    rc = flow_mail_allowance(job->app, kind, user.email, &retry);
    if (rc != 0) {
        events_mail_not_sent(kind, rc > 0 ? "limited" : "store_failure");
        goto cleanup;
    }
    if (mails_issue(job->app, job->kind, &user) != STORE_OK)
        events_mail_not_sent(kind, "store_failure");
cleanup:
    sodium_memzero(&user, sizeof(user));
    free(job);
}

int mails_request_in_background(struct app *app, enum mails_kind kind, const char *email)
{
    struct mail_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return -1;
    job->app = app;
    job->kind = kind;
    snprintf(job->email, sizeof(job->email), "%s", email);
    /* A queue of their own (bounded, LATCH_MAIL_JOB_QUEUE), off the HTTP
     * threads and apart from the password hashing, with its own store
     * connection on PostgreSQL. */
    if (work_pool_submit(app->mail_pool, mail_job_run, job) != WORK_OK) {
        free(job);
        return -1;
    }
    return 0;
}
