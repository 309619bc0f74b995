/*
 * app.h - what every handler needs: configuration, the store, the hashing
 * pool and the keys.  Built by main, shared read-only by all threads.
 */
#ifndef LATCH_API_APP_H
#define LATCH_API_APP_H

#include "auth/jws.h"
#include "auth/password.h"
#include "auth/tokens.h"
#include "config.h"
#include "store/store.h"
#include "work/pool.h"

struct app {
    const struct config *cfg;
    struct store *store;
    struct work_pool *pool;
    struct jws_key *signing_key;
    struct tokens_policy policy;
    struct pwhash_params pwhash;
};

/* The jws_key_lookup_fn for tokens presented to this app (ctx: struct app). */
const struct jws_key *app_key_lookup(void *ctx, const char *kid);

/* Seconds since the epoch. */
int64_t app_now(void);

#endif
