#include "api/body.h"

#include "api/reply.h"

#include <stdio.h>

json_t *body_object(struct http_request *req)
{
    size_t len;
    const char *text = http_request_body(req, &len);
    json_t *obj;

    if (len == 0) {
        reply_error(req, 400, "Request body must be a JSON object");
        return NULL;
    }
    obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (obj == NULL) {
        reply_error(req, 400, "Malformed JSON");
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        reply_error(req, 400, "Request body must be a JSON object");
        return NULL;
    }
    return obj;
}

const char *body_string(struct http_request *req, json_t *obj, const char *name, size_t *len)
{
    json_t *v = json_object_get(obj, name);
    char message[96];

    if (v == NULL) {
        snprintf(message, sizeof(message), "Field \"%s\" is required", name);
        reply_error(req, 400, message);
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(message, sizeof(message), "Field \"%s\" must be a string", name);
        reply_error(req, 400, message);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}
