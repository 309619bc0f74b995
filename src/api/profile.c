/*
 * profile.c - GET /profile: the caller's user as the store has it now.
 *
 * The hot path: a JWT is checked from memory, the user row usually comes
 * from the user cache, and the body is written directly.  Only a cache miss
 * (or a session, which the store authenticates) reads the store, and on
 * PostgreSQL that runs on a store worker, never on an HTTP thread.
 */
#include "api/authn.h"
#include "api/handlers.h"
#include "api/reply.h"

#include "util/jbuf.h"

static void answer(struct http_request *req, int rc, const struct store_user *user)
{
    char created[NUM_UTC_BYTES + 1], body[LATCH_MAX_EMAIL_BYTES * 6 + 256];
    struct jbuf b;

    if (rc == STORE_ENOTFOUND || (rc == STORE_OK && user->disabled)) {
        /* A valid signature for an account that is gone or disabled (its
         * tokens were revoked with the change; this holds even for one the
         * revocation has not reached yet). */
        reply_unauthorized(req, true, "Invalid or expired token");
        return;
    }
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return;
    }
    reply_created_at(user, created);
    jbuf_init(&b, body, sizeof(body));
    jbuf_raw(&b, "{\"id\":");
    jbuf_int(&b, user->id);
    jbuf_raw(&b, ",\"email\":");
    jbuf_str(&b, user->email);
    jbuf_raw(&b, ",\"role\":");
    jbuf_str(&b, user->role);
    jbuf_raw(&b, user->email_verified ? ",\"email_verified\":true" : ",\"email_verified\":false");
    jbuf_raw(&b, user->mfa ? ",\"mfa\":true" : ",\"mfa\":false");
    jbuf_raw(&b, ",\"created_at\":");
    jbuf_str(&b, created);
    jbuf_raw(&b, "}");
    if (b.overflow) {
        reply_error(req, 500, "Reply too large");
        return;
    }
    reply_raw_json(req, 200, body, b.len);
}

/* The user row from the store (a cache miss); user_id is the caller,
 * authenticated already.  Runs on a store worker when the store is remote. */
static void from_store(struct app *app, struct http_request *req, int64_t user_id)
{
    uint64_t generation = usercache_generation(app->usercache);
    struct store_user user;
    int rc = store_user_by_id(app->store, user_id, &user);

    if (rc == STORE_OK)
        usercache_put(app->usercache, &user, app_now_ms(), generation);
    answer(req, rc, &user);
}

void handle_profile(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct store_user user;

    /* A session reads the store to authenticate. */
    if (authn_uses_store(app, req) && app_offload(app, req, handle_profile, id))
        return;
    if (authn_require(app, req, &caller) != 0)
        return;
    if (usercache_get(app->usercache, caller.user_id, app_now_ms(), &user)) {
        answer(req, STORE_OK, &user);
        return;
    }
    if (app_offload(app, req, from_store, caller.user_id))
        return;
    from_store(app, req, caller.user_id);
}
