#include "api/authn.h"
#include "api/handlers.h"
#include "api/reply.h"

#include <time.h>

void handle_profile(struct app *app, struct http_request *req, int64_t id)
{
    struct authn caller;
    struct store_user user;
    char created[32];
    struct tm tm;
    time_t t;
    int rc;

    (void)id;
    if (authn_require(app, req, &caller) != 0)
        return;
    rc = store_user_by_id(app->store, caller.user_id, &user);
    if (rc == STORE_ENOTFOUND) {
        /* A valid signature for an account that is gone. */
        reply_unauthorized(req, true, "Invalid or expired token");
        return;
    }
    if (rc != STORE_OK) {
        reply_error(req, 500, "Storage failure");
        return;
    }
    t = (time_t)user.created_at;
    gmtime_r(&t, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    reply_json(req, 200,
               json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)user.id, "email", user.email,
                         "role", user.role, "created_at", created));
}
