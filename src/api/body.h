/*
 * body.h - reading the JSON object a request carries.
 */
#ifndef LATCH_API_BODY_H
#define LATCH_API_BODY_H

#include "http/server.h"

#include <jansson.h>
#include <stddef.h>

/* Parses the body as one JSON object (duplicate keys refused).  On failure
 * answers 400 itself and returns NULL. */
json_t *body_object(struct http_request *req);

/* The string member name of obj; on a missing or non-string member answers
 * 400 and returns NULL.  *len gets its length in bytes. */
const char *body_string(struct http_request *req, json_t *obj, const char *name, size_t *len);

#endif
