#include "api/body.h"

#include "api/reply.h"
#include "latch_limits.h"

#include <stdio.h>

/* Request bodies are flat objects: refuse deep nesting before parsing, so
 * the parser's recursion stays shallow whatever a client sends. */
static int too_deep(const char *text, size_t len)
{
    size_t i, depth = 0;
    int in_string = 0, escaped = 0;

    for (i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > LATCH_MAX_JSON_DEPTH)
                return 1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

json_t *body_object(struct http_request *req)
{
    size_t len;
    const char *text = http_request_body(req, &len);
    json_t *obj;

    if (len == 0) {
        reply_error(req, 400, "Request body must be a JSON object");
        return NULL;
    }
    if (too_deep(text, len)) {
        reply_error(req, 400, "JSON nested too deeply");
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
