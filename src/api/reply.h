/*
 * reply.h - the JSON bodies latch answers with, and its one error shape:
 * {"error":"<reason phrase>","message":"<what is wrong>"}.
 */
#ifndef LATCH_API_REPLY_H
#define LATCH_API_REPLY_H

#include "http/server.h"
#include "util/num.h"

#include <jansson.h>
#include <stdbool.h>

/* Builds a JSON response; takes the reference to body. NULL on no memory. */
struct http_response *reply_new_json(int status, json_t *body);
struct http_response *reply_new_error(int status, const char *message);

/* Answers with an already serialised JSON body (copied). */
void reply_raw_json(struct http_request *req, int status, const char *body, size_t len);
/* Answers with body (reference taken). */
void reply_json(struct http_request *req, int status, json_t *body);
void reply_error(struct http_request *req, int status, const char *message);
/* 401 with WWW-Authenticate (RFC 6750 section 3): error="invalid_token" when
 * a token was presented. */
void reply_unauthorized(struct http_request *req, bool token_sent, const char *message);
/* A user as the API shows it: id, email, role, disabled, email_verified,
 * mfa, created_at (never the password hash). */
struct store_user;
json_t *reply_user(const struct store_user *user);
/* A user's created_at as the API writes it, "2026-12-01T17:21:17Z". */
void reply_created_at(const struct store_user *user, char out[NUM_UTC_BYTES + 1]);

/* 503 with Retry-After. */
void reply_busy(struct http_request *req);
/* A failed store call: 503 "Database unavailable" (Retry-After: 1) when the
 * database did not answer in time or is unreachable, else 500 "Storage
 * failure". */
void reply_store_error(struct http_request *req, int store_rc);

#endif
