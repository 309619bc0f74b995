/*
 * client.h - facts about the client that depend on who stands in between:
 * its address (X-Forwarded-For believed only from LATCH_TRUSTED_PROXIES),
 * whether it reached latch over TLS, the per-address rate limit, and the
 * headers every response carries (CORS for allowed origins, HSTS on TLS).
 */
#ifndef LATCH_API_CLIENT_H
#define LATCH_API_CLIENT_H

#include "api/app.h"
#include "http/server.h"

#include <netinet/in.h>

#define CLIENT_IP_BYTES INET6_ADDRSTRLEN

/* The client's address: the peer, or, when the peer is a trusted proxy, the
 * rightmost X-Forwarded-For entry that is not itself a trusted proxy, every
 * X-Forwarded-For line read in order.  Entries are parsed as addresses
 * ("a.b.c.d", "a.b.c.d:port", v6, "[v6]:port"; ports dropped), those that
 * are not are skipped, and the result is the address's canonical text. */
void client_ip(const struct app *app, struct http_request *req, char out[CLIENT_IP_BYTES]);

/* Whether the client's connection is HTTPS (directly, or per a trusted
 * proxy's X-Forwarded-Proto). */
int client_is_secure(const struct app *app, struct http_request *req);

/* Takes one request from the client address's token bucket.  Returns 0, or
 * answers 429 with Retry-After and returns -1. */
int client_rate_limit(struct app *app, struct http_request *req);

/* The http_decorate_fn: CORS headers for allowed origins, HSTS on TLS. */
void client_decorate(struct http_request *req, struct http_response *resp, void *ctx);

#endif
