/*
 * ratelimit.h - per-client request buckets, kept in this process's memory.
 *
 * Each key (a client address) has a token bucket of `burst` requests that
 * refills at `per_min` a minute, stored as one number: the moment the bucket
 * will be full again (the generic cell rate algorithm).  A full bucket is the
 * same as no bucket, so an entry is dropped once it has refilled; memory
 * holds only the clients seen within the last burst * 60 / per_min seconds,
 * at most `max_keys` of them.  When that many buckets are all still
 * refilling, a new key is refused (fail closed) and counted.
 *
 * The buckets protect this process: each latch instance counts for itself.
 * The per-account lockout, which must hold across instances, is in the store.
 * Thread-safe.
 */
#ifndef LATCH_AUTH_RATELIMIT_H
#define LATCH_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* per_min 0 disables the limit (every take succeeds). */
int ratelimit_new(struct ratelimit **out, int64_t per_min, int64_t burst, size_t max_keys);
void ratelimit_free(struct ratelimit *rl);

/* Takes one request from key's bucket at now_us (a monotonic clock, in
 * microseconds).  Returns 1, or 0 with *retry_after_s (at least 1) when the
 * bucket is empty or the table is full. */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_us,
                   int64_t *retry_after_s);

struct ratelimit_stats {
    uint64_t refused;        /* requests answered 429 */
    uint64_t table_full;     /* of those, refused because max_keys buckets were in use */
    size_t keys;             /* buckets held now */
};
void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out);

#endif
