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
#include "auth/recovery.h"
#include "auth/revocation.h"
#include "auth/seal.h"
#include "auth/tokcache.h"
#include "auth/tokens.h"
#include "config.h"
#include "http/server.h"
#include "store/store.h"
#include "store/usercache.h"
#include "util/cidr.h"
#include "work/pool.h"

#define APP_MAX_ORIGINS 16

enum auth_mode { AUTH_MODE_JWT, AUTH_MODE_SESSION, AUTH_MODE_BOTH };

struct app;
/* A route's handler; id is the {id} of the path, 0 when it has none. */
typedef void (*app_handler_fn)(struct app *app, struct http_request *req, int64_t id);

struct app {
    const struct config *cfg;
    struct store *store;
    struct work_pool *pool;           /* password hashing */
    struct work_pool *store_pool;     /* store calls that leave the process */
    int store_remote;                 /* the store is across the network (PostgreSQL) */
    struct keyring *keyring;
    struct tokcache *tokcache;
    struct http_server *server;       /* set once it runs; for /metrics */
    struct revocation *revocation;
    struct usercache *usercache;      /* user rows for /profile */
    struct ratelimit *ratelimit;      /* per client address, this process only */
    struct tokens_policy policy;
    struct pwhash_params pwhash;
    enum auth_mode mode;
    unsigned char refresh_key[OPAQUE_KEY_BYTES];
    struct cidr_list trusted_proxies;
    char origins[APP_MAX_ORIGINS][256];
    int n_origins;
    /* Issue 11: the master key seals TOTP secrets and outbox bodies; the
     * recovery-code key is derived from it (never stored). */
    int has_master_key;
    unsigned char master_key[SEAL_KEY_BYTES];
    unsigned char recovery_key[RECOVERY_KEY_BYTES];
    struct outbox_sender *outbox;     /* woken when a mail is queued; may be NULL */
    struct work_pool *mail_pool;      /* /password/forgot's background lookups */
};

/* Fills the parts of app derived from cfg (mode, policy, origins, proxies).
 * Returns 0, or -1 with err naming the bad setting. */
int app_configure(struct app *app, const struct config *cfg, char *err, size_t err_size);

/* Seconds since the epoch. */
int64_t app_now(void);
/* Milliseconds of a monotonic clock (cache lifetimes). */
int64_t app_now_ms(void);

/* A user row changed or went: forget what the caches hold of it. */
void app_user_changed(struct app *app, int64_t user_id);

/* Until when a revocation made now must be remembered: the last moment an
 * access token issued before it can still be valid. */
int64_t app_memo_until(const struct app *app, int64_t now);

/*
 * Keeps network round trips off the HTTP threads: when the store is remote
 * and this is an HTTP thread, suspends req and runs fn(app, req, id) on the
 * store pool (answering 503 at once when its queue is full) and returns 1;
 * the caller returns.  Otherwise returns 0 and the caller goes on inline.
 */
int app_offload(struct app *app, struct http_request *req, app_handler_fn fn, int64_t id);

/*
 * The same for a route that may write (the router's store routes), on both
 * backends: on SQLite a writer can wait for the database's write lock and
 * its fsync, and an HTTP thread waiting there stalls every connection it
 * serves (issue 14: the /profile tail under a login storm).
 */
int app_offload_writer(struct app *app, struct http_request *req, app_handler_fn fn, int64_t id);

/* Whether origin is one of LATCH_ALLOWED_ORIGINS. */
int app_origin_allowed(const struct app *app, const char *origin);

#endif
