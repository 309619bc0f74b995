#include "api/authn.h"

#include "api/reply.h"
#include "auth/credentials.h"

int authn_require(struct app *app, struct http_request *req, struct token_claims *claims)
{
    const char *token = NULL;
    size_t len = 0;

    switch (credentials_parse_bearer(http_request_header(req, "Authorization"), &token, &len)) {
    case BEARER_NONE:
        reply_unauthorized(req, false, "Missing token");
        return -1;
    case BEARER_MALFORMED:
        reply_unauthorized(req, true, "Invalid or expired token");
        return -1;
    case BEARER_OK:
        break;
    }
    if (tokens_verify(token, len, app_key_lookup, app, &app->policy, app_now(), claims) !=
        TOKENS_OK) {
        reply_unauthorized(req, true, "Invalid or expired token");
        return -1;
    }
    return 0;
}
