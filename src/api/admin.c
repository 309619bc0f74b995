/*
 * admin.c - /admin/users: list, read, create, change, delete, log out.
 * Every route re-reads the caller from the store and requires an enabled
 * admin; changes that would leave no enabled admin answer 409.
 */
#include "api/authn.h"
#include "api/body.h"
#include "api/events.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "util/num.h"

#include <sodium.h>
#include <string.h>

#define ADMIN_LIST_DEFAULT 50
#define ADMIN_LIST_MAX 200

static int require_admin(struct app *app, struct http_request *req)
{
    struct authn caller;
    struct store_user me;

    return authn_require_admin(app, req, &caller, &me);
}

static void collect(void *ctx, const struct store_user *user)
{
    json_array_append_new((json_t *)ctx, reply_user(user));
}

void handle_admin_list(struct app *app, struct http_request *req, int64_t id)
{
    const char *limit_s = http_request_query(req, "limit");
    const char *after_s = http_request_query(req, "after");
    int64_t limit = ADMIN_LIST_DEFAULT, after = 0;
    json_t *users, *last;
    int more = 0, rc;

    (void)id;
    if (require_admin(app, req) != 0)
        return;
    if (http_request_query(req, "email") != NULL) {
        admin_find_by_email(app, req, http_request_query(req, "email"));
        return;
    }
    if (limit_s != NULL && num_parse_i64(limit_s, 1, ADMIN_LIST_MAX, &limit) != 0) {
        reply_error(req, 400, "limit must be a whole number from 1 to 200");
        return;
    }
    if (after_s != NULL && num_parse_i64(after_s, 0, INT64_MAX, &after) != 0) {
        reply_error(req, 400, "after must be a user id");
        return;
    }
    users = json_array();
    rc = users == NULL ? STORE_ENOMEM
                       : STORE_CALL(app->store, user_list, after, (int)limit, collect, users,
                                    &more);
    if (rc != STORE_OK) {
        json_decref(users);
        reply_store_error(req, rc);
        return;
    }
    last = json_array_get(users, json_array_size(users) - 1);
    reply_json(req, 200,
               json_pack("{s:o,s:o}", "users", users, "next",
                         more && last != NULL ? json_incref(json_object_get(last, "id"))
                                              : json_null()));
}

void handle_admin_create(struct app *app, struct http_request *req, int64_t id)
{
    (void)id;
    if (require_admin(app, req) != 0)
        return;
    auth_create_user(app, req, 1);
}

void handle_admin_get(struct app *app, struct http_request *req, int64_t id)
{
    struct store_user user;
    int rc;

    if (require_admin(app, req) != 0)
        return;
    rc = store_user_by_id(app->store, id, &user);
    if (rc == STORE_ENOTFOUND)
        reply_error(req, 404, "No such user");
    else if (rc != STORE_OK)
        reply_store_error(req, rc);
    else
        reply_json(req, 200, reply_user(&user));
}

/* Ends every token and session of a user (cutoff now). */
static int end_all_logins(struct app *app, int64_t user_id, int64_t now)
{
    int rc = STORE_CALL(app->store, user_revoke, user_id, NULL, now, now,
                        app_memo_until(app, now));
    (void)revocation_sync(app->revocation, now);
    return rc;
}

int admin_apply_change(struct app *app, struct http_request *req, int64_t user_id,
                       struct store_user_change *change, int64_t now, struct store_user *after)
{
    int rc;

    /* Demoted, disabled (again, too) or given a new password: every login
     * of the user ends in the change's own transaction, so that neither old
     * tokens nor a login racing with the change keep the old rights. */
    change->end_logins = 1;
    change->keep_sid = NULL;
    change->memo_until = app_memo_until(app, now);
    rc = STORE_CALL(app->store, user_update, user_id, change, now, after);
    app_user_changed(app, user_id);
    (void)revocation_sync(app->revocation, now);
    if (rc == STORE_ENOTFOUND) {
        reply_error(req, 404, "No such user");
        return -1;
    }
    if (rc == STORE_ELASTADMIN) {
        reply_error(req, 409, "At least one enabled admin must remain");
        return -1;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return -1;
    }
    events_user_changed(req, "update", after, change->password_hash != NULL);
    if (change->password_hash != NULL)
        events_password_changed(user_id, "admin");
    return 0;
}

void handle_admin_patch(struct app *app, struct http_request *req, int64_t id)
{
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after, existing;
    const char *password = NULL, *why;
    size_t password_len = 0;
    json_t *body, *v;
    const char *key;
    int rc;

    if (require_admin(app, req) != 0)
        return;
    body = body_object(req);
    if (body == NULL)
        return;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "role") != 0 && strcmp(key, "disabled") != 0 &&
            strcmp(key, "password") != 0 && strcmp(key, "mfa") != 0) {
            reply_error(req, 400, "Only role, disabled, password and mfa can be changed");
            goto cleanup;
        }
    }
    /* An admin can take a second factor away (a lost phone), never add
     * one: only its owner can enrol. */
    v = json_object_get(body, "mfa");
    if (v != NULL) {
        if (!json_is_false(v)) {
            reply_error(req, 400, "Field \"mfa\" can only be set to false");
            goto cleanup;
        }
        change.mfa_off = 1;
    }
    v = json_object_get(body, "role");
    if (v != NULL) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "user") != 0 &&
                                   strcmp(json_string_value(v), "admin") != 0)) {
            reply_error(req, 400, "Field \"role\" must be \"user\" or \"admin\"");
            goto cleanup;
        }
        change.role = json_string_value(v);
    }
    v = json_object_get(body, "disabled");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            reply_error(req, 400, "Field \"disabled\" must be true or false");
            goto cleanup;
        }
        change.disabled = json_is_true(v) ? 1 : 0;
    }
    if (json_object_get(body, "password") != NULL) {
        password = body_string(req, body, "password", &password_len);
        if (password == NULL)
            goto cleanup;
        if (credentials_check_password(password_len, &why) != 0) {
            reply_error(req, 400, why);
            goto cleanup;
        }
    }
    rc = store_user_by_id(app->store, id, &existing);
    if (rc == STORE_ENOTFOUND) {
        reply_error(req, 404, "No such user");
        goto cleanup;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        goto cleanup;
    }
    if (password != NULL) {
        auth_admin_set_password(app, req, id, change.role, change.disabled, change.mfa_off,
                                password, password_len);
        goto cleanup;
    }
    if (admin_apply_change(app, req, id, &change, app_now(), &after) == 0) {
        if (change.mfa_off && existing.mfa)
            events_mfa_changed(req, id, 0, "admin");
        reply_json(req, 200, reply_user(&after));
    }
cleanup:
    if (password != NULL)
        sodium_memzero((void *)password, password_len);
    json_decref(body);
}

void handle_admin_delete(struct app *app, struct http_request *req, int64_t id)
{
    struct store_user user;
    int64_t now = app_now();
    int rc;

    if (require_admin(app, req) != 0)
        return;
    rc = store_user_by_id(app->store, id, &user);
    if (rc == STORE_OK) {
        /* The store logs the user's families and a cutoff for sid-less
         * tokens in the same transaction that deletes the row. */
        rc = STORE_CALL(app->store, user_delete, id, now, app_memo_until(app, now));
        app_user_changed(app, id);
        (void)revocation_sync(app->revocation, now);
    }
    if (rc == STORE_ENOTFOUND)
        reply_error(req, 404, "No such user");
    else if (rc == STORE_ELASTADMIN)
        reply_error(req, 409, "At least one enabled admin must remain");
    else if (rc != STORE_OK)
        reply_store_error(req, rc);
    else {
        events_user_changed(req, "delete", &user, 0);
        http_request_respond(req, http_response_new(204, NULL, "", 0));
    }
}

void handle_admin_logout(struct app *app, struct http_request *req, int64_t id)
{
    struct store_user user;
    int rc;

    if (require_admin(app, req) != 0)
        return;
    rc = store_user_by_id(app->store, id, &user);
    if (rc == STORE_OK)
        rc = end_all_logins(app, id, app_now());
    if (rc == STORE_ENOTFOUND)
        reply_error(req, 404, "No such user");
    else if (rc != STORE_OK)
        reply_store_error(req, rc);
    else {
        events_token_revoked(id, "all", "admin");
        http_request_respond(req, http_response_new(204, NULL, "", 0));
    }
}
