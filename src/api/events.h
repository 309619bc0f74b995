/*
 * events.h - security events, each its own log line with a stable name,
 * and the login counters of /metrics:
 *
 *   login.success           user_id, email
 *   login.failure           reason (unknown_email | wrong_password | disabled |
 *                           password_changed), email when it is an address, user_id
 *                           when known.  The answer never tells the reasons apart;
 *                           only this line does.
 *   login.locked            email (when it is an address), retry_after_s, path
 *   refresh.reuse_detected  user_id (the login's refresh tokens are revoked)
 *   token.revoked           user_id, scope (login | all | token), by (self | admin | cli)
 *   admin.user_changed      action (create | update | delete | unlock | enable |
 *                           disable | set-role), user_id, email, role, disabled,
 *                           password (true when set), by (admin | cli), actor_id
 *   password.changed        user_id, by (self | admin | reset)
 *   login.mfa_required      user_id (the password was right; a code is asked for)
 *   login.mfa_failure       reason (bad_code | bad_recovery_code | replay | unknown_token),
 *                           user_id when known
 *   mfa.enabled             user_id
 *   mfa.disabled            user_id, by (self | admin | cli)
 *   email.verified          user_id
 *   mail.queued             kind (verify | reset | password_changed), user_id
 *   mail.not_sent           kind, reason (unknown_email | limited | disabled |
 *                           already_verified): a background request that queued nothing
 *   key.rotated             kid, alg (the CLI, main.c)
 *
 * Every line carries the request id (util/log.h).  Never a password, token,
 * code, link, cookie, secret or key.
 */
#ifndef LATCH_API_EVENTS_H
#define LATCH_API_EVENTS_H

#include "http/server.h"
#include "store/store.h"

#include <stdint.h>

enum events_login_outcome {
    EVENTS_LOGIN_SUCCESS,
    EVENTS_LOGIN_FAILURE,
    EVENTS_LOGIN_LOCKED,
    EVENTS_LOGIN_MFA_REQUIRED,      /* the password step of a user with TOTP */
    EVENTS_LOGIN_N_OUTCOMES,
};
extern const char *const events_login_outcome_names[EVENTS_LOGIN_N_OUTCOMES];
uint64_t events_logins(enum events_login_outcome outcome);

void events_login_success(struct http_request *req, const struct store_user *user);
/* email: the normalised address ("" or NULL when it is not one). */
void events_login_failure(struct http_request *req, const char *reason, const char *email,
                          int64_t user_id);
/* key: the lockout key (an address, or "invalid:..." which is not logged). */
void events_login_locked(struct http_request *req, const char *key, int64_t retry_after_s);
void events_refresh_reuse(int64_t user_id);
void events_token_revoked(int64_t user_id, const char *scope, const char *by);
/* The admin API (actor: the authenticated caller) or the CLI (req NULL). */
void events_user_changed(struct http_request *req, const char *action,
                         const struct store_user *user, int password_set);
void events_password_changed(int64_t user_id, const char *by);
void events_login_mfa_required(struct http_request *req, int64_t user_id);
void events_login_mfa_failure(struct http_request *req, const char *reason, int64_t user_id);
void events_mfa_changed(struct http_request *req, int64_t user_id, int enabled, const char *by);
void events_email_verified(struct http_request *req, int64_t user_id);
void events_mail_queued(const char *kind, int64_t user_id);
void events_mail_not_sent(const char *kind, const char *reason);

#endif
