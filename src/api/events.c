#include "api/events.h"

#include "api/access.h"
#include "util/log.h"

#include <string.h>

const char *const events_login_outcome_names[EVENTS_LOGIN_N_OUTCOMES] = {
    "success", "failure", "locked", "mfa_required",
};

static uint64_t logins[EVENTS_LOGIN_N_OUTCOMES];

static void count(enum events_login_outcome outcome)
{
    __atomic_add_fetch(&logins[outcome], 1, __ATOMIC_RELAXED);
}

uint64_t events_logins(enum events_login_outcome outcome)
{
    return __atomic_load_n(&logins[outcome], __ATOMIC_RELAXED);
}

static int is_login(struct http_request *req)
{
    return req != NULL && strcmp(http_request_path(req), "/login") == 0;
}

void events_login_success(struct http_request *req, const struct store_user *user)
{
    count(EVENTS_LOGIN_SUCCESS);
    access_note_user(req, user->id);
    log_event(LOG_INFO, "login.success", LOG_INT("user_id", user->id),
              LOG_STR("email", user->email));
}

void events_login_failure(struct http_request *req, const char *reason, const char *email,
                          int64_t user_id)
{
    count(EVENTS_LOGIN_FAILURE);
    if (user_id > 0)
        access_note_user(req, user_id);
    log_event(LOG_INFO, "login.failure", LOG_STR("reason", reason),
              LOG_STR("email", email != NULL && email[0] != '\0' ? email : NULL),
              user_id > 0 ? LOG_INT("user_id", user_id) : LOG_NONE);
}

void events_login_locked(struct http_request *req, const char *key, int64_t retry_after_s)
{
    /* /password shares the lockout; only /login's count as logins. */
    if (is_login(req))
        count(EVENTS_LOGIN_LOCKED);
    /* An "invalid:" key holds whatever was typed as the email: not an
     * address, perhaps a password typed in the wrong field. */
    log_event(LOG_WARN, "login.locked",
              LOG_STR("email", strncmp(key, "invalid:", 8) != 0 ? key : NULL),
              LOG_INT("retry_after_s", retry_after_s),
              LOG_STR("path", req != NULL ? http_request_path(req) : NULL));
}

void events_refresh_reuse(int64_t user_id)
{
    log_event(LOG_WARN, "refresh.reuse_detected", LOG_INT("user_id", user_id),
              LOG_STR("action", "the login's tokens are revoked"));
}

void events_token_revoked(int64_t user_id, const char *scope, const char *by)
{
    log_event(LOG_INFO, "token.revoked", LOG_INT("user_id", user_id), LOG_STR("scope", scope),
              LOG_STR("by", by));
}

void events_user_changed(struct http_request *req, const char *action,
                         const struct store_user *user, int password_set)
{
    int64_t actor = req != NULL ? access_user_id(req) : 0;

    log_event(LOG_INFO, "admin.user_changed", LOG_STR("action", action),
              LOG_INT("user_id", user->id), LOG_STR("email", user->email),
              LOG_STR("role", user->role[0] != '\0' ? user->role : NULL),
              LOG_BOOL("disabled", user->disabled), LOG_BOOL("password", password_set),
              LOG_STR("by", req != NULL ? "admin" : "cli"),
              actor > 0 ? LOG_INT("actor_id", actor) : LOG_NONE);
}

void events_password_changed(int64_t user_id, const char *by)
{
    log_event(LOG_INFO, "password.changed", LOG_INT("user_id", user_id), LOG_STR("by", by));
}

void events_login_mfa_required(struct http_request *req, int64_t user_id)
{
    count(EVENTS_LOGIN_MFA_REQUIRED);
    access_note_user(req, user_id);
    log_event(LOG_INFO, "login.mfa_required", LOG_INT("user_id", user_id));
}

void events_login_mfa_failure(struct http_request *req, const char *reason, int64_t user_id)
{
    count(EVENTS_LOGIN_FAILURE);
    if (user_id > 0)
        access_note_user(req, user_id);
    log_event(LOG_INFO, "login.mfa_failure", LOG_STR("reason", reason),
              user_id > 0 ? LOG_INT("user_id", user_id) : LOG_NONE);
}

void events_mfa_changed(struct http_request *req, int64_t user_id, int enabled, const char *by)
{
    if (req != NULL)
        access_note_user(req, user_id);
    if (enabled)
        log_event(LOG_INFO, "mfa.enabled", LOG_INT("user_id", user_id));
    else
        log_event(LOG_INFO, "mfa.disabled", LOG_INT("user_id", user_id), LOG_STR("by", by));
}

void events_email_verified(struct http_request *req, int64_t user_id)
{
    access_note_user(req, user_id);
    log_event(LOG_INFO, "email.verified", LOG_INT("user_id", user_id));
}

void events_mail_queued(const char *kind, int64_t user_id)
{
    log_event(LOG_INFO, "mail.queued", LOG_STR("kind", kind), LOG_INT("user_id", user_id));
}

void events_mail_not_sent(const char *kind, const char *reason)
{
    log_event(LOG_INFO, "mail.not_sent", LOG_STR("kind", kind), LOG_STR("reason", reason));
}
