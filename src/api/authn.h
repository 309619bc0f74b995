/*
 * authn.h - who is calling: the Bearer token of a request, verified.
 */
#ifndef LATCH_API_AUTHN_H
#define LATCH_API_AUTHN_H

#include "api/app.h"
#include "http/server.h"

/* Verifies the request's Bearer token into *claims and returns 0; otherwise
 * answers 401 (Missing token / Invalid or expired token) and returns -1. */
int authn_require(struct app *app, struct http_request *req, struct token_claims *claims);

#endif
