/*
 * admin_users.c - the admin routes for operators: find a user by email
 * (GET /admin/users?email=E) and clear an account's lockout
 * (POST /admin/users/{id}/unlock).
 */
#include "api/authn.h"
#include "api/events.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "auth/credentials.h"

#include <string.h>

/* GET /admin/users?email=E: exact match after normalisation, in the list's
 * shape, so a client pages and searches with one parser. */
void admin_find_by_email(struct app *app, struct http_request *req, const char *raw)
{
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    struct store_user user;
    const char *why;
    json_t *users;
    int rc;

    if (credentials_normalize_email(raw, strlen(raw), email, &why) != 0) {
        reply_error(req, 400, "email must be an email address");
        return;
    }
    rc = store_user_by_email(app->store, email, &user);
    if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
        reply_store_error(req, rc);
        return;
    }
    users = json_array();
    if (users != NULL && rc == STORE_OK)
        json_array_append_new(users, reply_user(&user));
    reply_json(req, 200, json_pack("{s:o,s:n}", "users", users, "next"));
}

/* POST /admin/users/{id}/unlock: the lockout counter is kept per email
 * (normalised, as /login keys it), so an admin unlocks the account's. */
void handle_admin_unlock(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct store_user me, user;
    int rc;

    if (authn_require_admin(app, req, &caller, &me) != 0)
        return;
    rc = store_user_by_id(app->store, id, &user);
    if (rc == STORE_OK)
        rc = STORE_CALL(app->store, lockout_reset, user.email);
    if (rc == STORE_ENOTFOUND) {
        reply_error(req, 404, "No such user");
        return;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return;
    }
    events_user_changed(req, "unlock", &user, 0);
    http_request_respond(req, http_response_new(204, NULL, "", 0));
}
