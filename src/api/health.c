#include "api/handlers.h"
#include "api/reply.h"

void handle_health(struct app *app, struct http_request *req, int64_t id)
{
    (void)app;
    (void)id;
    reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * GET /readyz: whether this instance can serve what needs the database, for
 * load balancers (/healthz stays the liveness check: the process answers).
 * One round trip within the request deadline.
 */
void handle_ready(struct app *app, struct http_request *req, int64_t id)
{
    char why[160] = "";
    int rc;

    (void)id;
    rc = app->store->ops->ping(app->store, why, sizeof(why));
    if (rc == STORE_OK)
        reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
    else
        reply_json(req, 503, json_pack("{s:s,s:s}", "status", "unavailable", "reason",
                                       why[0] != '\0' ? why : store_strerror(rc)));
}
