/*
 * router.h - method + path to handler, and the checks every route shares, in
 * this order: unknown path 404, wrong method 405 (with Allow), body too large
 * 413, a body that is not application/json 415.  Authentication (401) and
 * validation (400) follow in the handlers.
 */
#ifndef LATCH_API_ROUTER_H
#define LATCH_API_ROUTER_H

#include "http/server.h"

#include <stddef.h>

/* The http_handler_fn of the server; ctx is the struct app. */
void router_handle(struct http_request *req, void *ctx);

/* The routes, for per-route metrics: how many, the pattern of each
 * ("/admin/users/{id}"), and the index of a pattern (-1 if none). */
size_t router_route_count(void);
const char *router_route_pattern(size_t index);
int router_route_index(const char *pattern);

#endif
