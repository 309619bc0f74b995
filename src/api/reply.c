#include "api/reply.h"

#include "api/access.h"
#include "latch_limits.h"
#include "store/stats.h"
#include "store/store.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The "error" word of an error body: the status's reason phrase, and
 * "Internal Server Error" for any status that is not an error latch names. */
static const char *reason(int status)
{
    const char *phrase = http_reason_phrase(status);

    return status >= 400 && phrase[0] != '\0' ? phrase : "Internal Server Error";
}

static struct http_response *new_raw(int status, const char *text, size_t len)
{
    struct http_response *resp = http_response_new(status, "application/json", text, len);

    if (resp != NULL) {
        /* Bodies carry tokens and personal data: never cache them
         * (RFC 6749 5.1 for token responses). */
        http_response_header(resp, "Cache-Control", "no-store");
        http_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    return resp;
}

void reply_raw_json(struct http_request *req, int status, const char *body, size_t len)
{
    http_request_respond(req, new_raw(status, body, len));
}

struct http_response *reply_new_json(int status, json_t *body)
{
    struct http_response *resp = NULL;
    char *text;

    if (body == NULL)
        return NULL;
    text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL)
        return NULL;
    resp = new_raw(status, text, strlen(text));
    free(text);
    return resp;
}

struct http_response *reply_new_error(int status, const char *message)
{
    return reply_new_json(status, json_pack("{s:s,s:s}", "error", reason(status), "message",
                                            message));
}

void reply_json(struct http_request *req, int status, json_t *body)
{
    http_request_respond(req, reply_new_json(status, body));
}

/* A 500 says what failed in the log (the answer says little): the message,
 * the route, and the store operation that failed for this request, if one
 * did.  access.c logs the 500s that bypass this. */
static void log_server_error(struct http_request *req, const char *message)
{
    const char *op = NULL;
    int rc = 0;

    if (store_last_failure(&op, &rc))
        log_event(LOG_ERROR, "http.server_error", LOG_INT("status", 500),
                  LOG_STR("cause", message), LOG_STR("method", http_request_method(req)),
                  LOG_STR("path", http_request_path(req)), LOG_STR("store_op", op),
                  LOG_STR("store_error", store_strerror(rc)));
    else
        log_event(LOG_ERROR, "http.server_error", LOG_INT("status", 500),
                  LOG_STR("cause", message), LOG_STR("method", http_request_method(req)),
                  LOG_STR("path", http_request_path(req)));
    access_note_error_logged(req);
}

void reply_error(struct http_request *req, int status, const char *message)
{
    if (status == 500)
        log_server_error(req, message);
    http_request_respond(req, reply_new_error(status, message));
}

void reply_unauthorized(struct http_request *req, bool token_sent, const char *message)
{
    struct http_response *resp = reply_new_error(401, message);

    if (resp != NULL)
        http_response_header(resp, "WWW-Authenticate",
                             token_sent ? "Bearer error=\"invalid_token\"" : "Bearer");
    http_request_respond(req, resp);
}

void reply_store_error(struct http_request *req, int store_rc)
{
    struct http_response *resp;

    if (store_rc != STORE_EUNAVAIL) {
        reply_error(req, 500, "Storage failure");
        return;
    }
    resp = reply_new_error(503, "Database unavailable");
    if (resp != NULL)
        http_response_header(resp, "Retry-After", "1");
    http_request_respond(req, resp);
}

void reply_busy(struct http_request *req)
{
    struct http_response *resp = reply_new_error(503, "Server busy, try again shortly");
    char retry[16];

    snprintf(retry, sizeof(retry), "%d", LATCH_HASH_RETRY_AFTER_S);
    if (resp != NULL)
        http_response_header(resp, "Retry-After", retry);
    http_request_respond(req, resp);
}

void reply_created_at(const struct store_user *user, char out[NUM_UTC_BYTES + 1])
{
    size_t n = num_format_utc(user->created_at, out);

    out[n] = 'Z';
    out[n + 1] = '\0';
}

json_t *reply_user(const struct store_user *user)
{
    char created[NUM_UTC_BYTES + 1];

    reply_created_at(user, created);
    return json_pack("{s:I,s:s,s:s,s:b,s:b,s:b,s:s}", "id", (json_int_t)user->id, "email",
                     user->email, "role", user->role, "disabled", user->disabled ? 1 : 0,
                     "email_verified", user->email_verified ? 1 : 0, "mfa", user->mfa ? 1 : 0,
                     "created_at", created);
}
