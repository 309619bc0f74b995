/*
 * app.h - what every handler needs: configuration, the store, the hashing
 * pool, the keys and the revocation set.  Built by main, shared by all
 * threads; nothing in it changes while the server runs except through the
 * thread-safe objects it points to.
 */
#ifndef LATCH_API_APP_H
#define LATCH_API_APP_H

#include "auth/jws.h"
#include "auth/keyring.h"
#include "auth/opaque.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/revocation.h"
#include "auth/tokcache.h"
#include "auth/tokens.h"
#include "config.h"
#include "http/server.h"
#include "store/store.h"
#include "util/cidr.h"
#include "work/pool.h"

#define APP_MAX_ORIGINS 16

enum auth_mode { AUTH_MODE_JWT, AUTH_MODE_SESSION, AUTH_MODE_BOTH };

struct app {
    const struct config *cfg;
    struct store *store;
    struct work_pool *pool;
    struct keyring *keyring;
    struct tokcache *tokcache;
    struct http_server *server;       /* set once it runs; for /metrics */
    struct revocation *revocation;
    struct ratelimit *ratelimit;      /* per client address, this process only */
    struct tokens_policy policy;
    struct pwhash_params pwhash;
    enum auth_mode mode;
    unsigned char refresh_key[OPAQUE_KEY_BYTES];
    struct cidr_list trusted_proxies;
    char origins[APP_MAX_ORIGINS][256];
    int n_origins;
};

/* Fills the parts of app derived from cfg (mode, policy, origins, proxies).
 * Returns 0, or -1 with err naming the bad setting. */
int app_configure(struct app *app, const struct config *cfg, char *err, size_t err_size);

/* Seconds since the epoch. */
int64_t app_now(void);

/* Until when a revocation made now must be remembered: the last moment an
 * access token issued before it can still be valid. */
int64_t app_memo_until(const struct app *app, int64_t now);

/* Whether origin is one of LATCH_ALLOWED_ORIGINS. */
int app_origin_allowed(const struct app *app, const char *origin);

#endif
