#include "api/handlers.h"
#include "api/reply.h"

void handle_health(struct app *app, struct http_request *req, int64_t id)
{
    (void)app;
    (void)id;
    reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}
