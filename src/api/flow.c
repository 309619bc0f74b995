#include "api/flow.h"

#include "api/body.h"
#include "api/client.h"
#include "api/events.h"
#include "api/reply.h"
#include "auth/credentials.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

json_t *flow_open(struct app *app, struct http_request *req, const char *const *names,
                  struct flow_fields *out)
{
    json_t *body;
    int i;

    memset(out, 0, sizeof(*out));
    if (client_rate_limit(app, req) != 0)
        return NULL;
    body = body_object(req);
    if (body == NULL)
        return NULL;
    for (i = 0; names[i] != NULL && i < FLOW_MAX_FIELDS; i++) {
        const char *name = names[i];
        if (name[0] == '?') {
            name++;
            if (json_object_get(body, name) == NULL)
                continue;
        }
        out->value[i] = body_string(req, body, name, &out->len[i]);
        if (out->value[i] == NULL) {
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

void flow_wipe(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);

    if (json_is_string(v))
        sodium_memzero((void *)json_string_value(v), json_string_length(v));
}

void flow_lock_key(const char *raw, size_t len, char out[LATCH_MAX_EMAIL_BYTES + 1])
{
    const char *why;

    if (credentials_normalize_email(raw, len, out, &why) == 0)
        return;
    snprintf(out, LATCH_MAX_EMAIL_BYTES + 1, "invalid:%.*s",
             (int)(len > LATCH_MAX_EMAIL_BYTES - 8 ? LATCH_MAX_EMAIL_BYTES - 8 : len), raw);
}

void flow_reply_locked(struct http_request *req, int64_t retry_after)
{
    struct http_response *resp = reply_new_error(429, "Too many attempts, try again later");
    char retry[24];

    snprintf(retry, sizeof(retry), "%lld", (long long)(retry_after > 0 ? retry_after : 1));
    if (resp != NULL)
        http_response_header(resp, "Retry-After", retry);
    http_request_respond(req, resp);
}

int flow_reserve_guess(struct app *app, struct http_request *req, const char *key)
{
    int64_t retry_after = 0;
    int rc = STORE_CALL(app->store, lockout_reserve, key, app_now(),
                        (int)app->cfg->lockout_attempts, app->cfg->lockout_window_s,
                        app->cfg->lockout_s, &retry_after);

    return flow_reservation_answer(req, key, rc, retry_after);
}

int flow_reservation_answer(struct http_request *req, const char *key, int rc,
                            int64_t retry_after)
{
    if (rc != STORE_OK) {
        reply_store_error(req, rc);
        return -1;
    }
    if (retry_after > 0) {
        events_login_locked(req, key, retry_after);
        flow_reply_locked(req, retry_after);
        return -1;
    }
    return 0;
}

int flow_mail_allowance(struct app *app, const char *kind, const char *address,
                        int64_t *retry_after_s)
{
    char key[LATCH_MAX_EMAIL_BYTES + 32];
    int rc;

    /* The lockout counter's table holds it under a key no address can
     * have ("mail:" has no '@' before the colon): the reservation is
     * atomic on both backends, and the purge drops it once it is old.  The
     * LATCH_MAIL_PER_ADDRESS-th reservation of a window is granted and
     * locks the key; the next ones are refused until the window ends. */
    snprintf(key, sizeof(key), "mail:%s:%s", kind, address);
    *retry_after_s = 0;
    rc = STORE_CALL(app->store, lockout_reserve, key, app_now(), LATCH_MAIL_PER_ADDRESS,
                    LATCH_MAIL_PER_ADDRESS_WINDOW_S, LATCH_MAIL_PER_ADDRESS_WINDOW_S,
                    retry_after_s);
    if (rc != STORE_OK)
        return rc;
    return *retry_after_s > 0 ? 1 : 0;
}
