/*
 * handlers.h - one function per route.  The router has already checked the
 * path, the method, the body size and its media type when these run.
 */
#ifndef LATCH_API_HANDLERS_H
#define LATCH_API_HANDLERS_H

#include "api/app.h"
#include "http/server.h"

void handle_health(struct app *app, struct http_request *req);
void handle_register(struct app *app, struct http_request *req);
void handle_login(struct app *app, struct http_request *req);
void handle_profile(struct app *app, struct http_request *req);

#endif
