/*
 * handlers.h - one function per route.  The router has already checked the
 * path, the method, the body size and its media type when these run; id is
 * the {id} of the path, 0 when the route has none.
 */
#ifndef LATCH_API_HANDLERS_H
#define LATCH_API_HANDLERS_H

#include "api/app.h"
#include "http/server.h"

void handle_health(struct app *app, struct http_request *req, int64_t id);
void handle_ready(struct app *app, struct http_request *req, int64_t id);
void handle_register(struct app *app, struct http_request *req, int64_t id);
void handle_login(struct app *app, struct http_request *req, int64_t id);
void handle_refresh(struct app *app, struct http_request *req, int64_t id);
void handle_logout(struct app *app, struct http_request *req, int64_t id);
void handle_password(struct app *app, struct http_request *req, int64_t id);
void handle_profile(struct app *app, struct http_request *req, int64_t id);

void handle_verify(struct app *app, struct http_request *req, int64_t id);
void handle_jwks(struct app *app, struct http_request *req, int64_t id);
void handle_metrics(struct app *app, struct http_request *req, int64_t id);
/* GET /openapi.json: the OpenAPI document compiled into the binary. */
void handle_openapi(struct app *app, struct http_request *req, int64_t id);
/* The lesson page and its files (LATCH_UI=1; the router hides them otherwise). */
void handle_ui(struct app *app, struct http_request *req, int64_t id);

void handle_admin_list(struct app *app, struct http_request *req, int64_t id);
void handle_admin_create(struct app *app, struct http_request *req, int64_t id);
void handle_admin_get(struct app *app, struct http_request *req, int64_t id);
void handle_admin_patch(struct app *app, struct http_request *req, int64_t id);
void handle_admin_delete(struct app *app, struct http_request *req, int64_t id);
void handle_admin_logout(struct app *app, struct http_request *req, int64_t id);
/* admin_users.c: POST /admin/users/{id}/unlock, GET /admin/users?email= */
void handle_admin_unlock(struct app *app, struct http_request *req, int64_t id);
void admin_find_by_email(struct app *app, struct http_request *req, const char *email);

/* Issue 11: email verification, password reset, the second factor. */
void handle_email_verify_request(struct app *app, struct http_request *req, int64_t id);
void handle_email_verify(struct app *app, struct http_request *req, int64_t id);
void handle_password_forgot(struct app *app, struct http_request *req, int64_t id);
void handle_password_reset(struct app *app, struct http_request *req, int64_t id);
void handle_mfa_totp_enrol(struct app *app, struct http_request *req, int64_t id);
void handle_mfa_totp_confirm(struct app *app, struct http_request *req, int64_t id);
void handle_mfa_totp_delete(struct app *app, struct http_request *req, int64_t id);
void handle_login_mfa(struct app *app, struct http_request *req, int64_t id);

/*
 * Records a login of user (its password verified; user->password_gen the
 * generation it verified under) and answers with the login body (tokens,
 * and the session cookie in session modes).  second (NULL: none) carries
 * the second step of a TOTP login: mfa_digest, recovery_digest or
 * totp_step, and amr.  Returns the store's answer; on STORE_EREPLAY (a
 * code, recovery code or mfa_token used already) nothing is answered and
 * the caller answers.
 */
int auth_issue_login(struct app *app, struct http_request *req, const struct store_user *user,
                     const char *lock_key, const char *rehash, const struct store_login *second);

/* Shared by /register and POST /admin/users (allow_role: admins may set it). */
void auth_create_user(struct app *app, struct http_request *req, int allow_role);
/* PATCH with a password: hashes on the pool, then applies the change. */
void auth_admin_set_password(struct app *app, struct http_request *req, int64_t user_id,
                             const char *role, int disabled, int mfa_off, const char *password,
                             size_t len);
/* Applies an admin change and ends the user's tokens when it lowers their
 * rights.  Returns 0 with *after filled, or answers the error and returns -1. */
int admin_apply_change(struct app *app, struct http_request *req, int64_t user_id,
                       struct store_user_change *change, int64_t now, struct store_user *after);

#endif
