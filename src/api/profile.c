#include "api/authn.h"
#include "api/handlers.h"
#include "api/reply.h"

#include "util/jbuf.h"

#include <time.h>

void handle_profile(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct store_user user;
    char created[32], body[LATCH_MAX_EMAIL_BYTES * 6 + 256];
    struct jbuf b;
    struct tm tm;
    time_t t;
    int rc;

    /* A session reads the store to authenticate: off the HTTP threads on
     * PostgreSQL.  A JWT is checked from memory, and the user row usually
     * comes from the cache; only a miss goes to the store. */
    if (authn_uses_store(app, req) && app_offload(app, req, handle_profile, id))
        return;
    if (authn_require(app, req, &caller) != 0)
        return;
    if (usercache_get(app->usercache, caller.user_id, app_now_ms(), &user)) {
        rc = STORE_OK;
    } else {
        uint64_t generation = usercache_generation(app->usercache);

        if (app_offload(app, req, handle_profile, id))
            return;
        rc = store_user_by_id(app->store, caller.user_id, &user);
        if (rc == STORE_OK)
            usercache_put(app->usercache, &user, app_now_ms(), generation);
    }
    if (rc == STORE_ENOTFOUND || (rc == STORE_OK && user.disabled)) {
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
    t = (time_t)user.created_at;
    gmtime_r(&t, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The hot path: written directly rather than through a jansson tree. */
    jbuf_init(&b, body, sizeof(body));
    jbuf_raw(&b, "{\"id\":");
    jbuf_int(&b, user.id);
    jbuf_raw(&b, ",\"email\":");
    jbuf_str(&b, user.email);
    jbuf_raw(&b, ",\"role\":");
    jbuf_str(&b, user.role);
    jbuf_raw(&b, ",\"created_at\":");
    jbuf_str(&b, created);
    jbuf_raw(&b, "}");
    if (b.overflow) {
        reply_error(req, 500, "Reply too large");
        return;
    }
    reply_raw_json(req, 200, body, b.len);
}
