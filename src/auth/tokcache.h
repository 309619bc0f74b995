/*
 * tokcache.h - a bounded cache of verified access tokens.
 *
 * Keyed by a 128-bit SipHash of the exact token bytes (so one changed
 * byte is another token), it holds the claims a full verification produced.
 * A client presenting the same token again pays a hash and a lookup instead
 * of a signature check and two JSON parses; the caller still applies the
 * expiry and revocation checks to the cached claims on every request.
 *
 * Memory is bounded: the table has a fixed number of entries, 4-way set
 * associative with two candidate sets per token (two-choice hashing), never
 * more entries than asked for (rounded down to a power of two); when both
 * sets are full and none of their entries can move to its other set, the
 * entry closest to expiry goes.  Safe to use from every thread (locks
 * striped over the sets).
 */
#ifndef LATCH_AUTH_TOKCACHE_H
#define LATCH_AUTH_TOKCACHE_H

#include "auth/tokens.h"

#include <stddef.h>
#include <stdint.h>

struct tokcache;

/* entries 0 disables the cache (every call misses, nothing is kept). */
int tokcache_new(struct tokcache **out, size_t entries);
void tokcache_free(struct tokcache *cache);

/* 1 and *claims filled when token is cached and not expired at now (with
 * leeway); 0 otherwise.  An expired entry is dropped. */
int tokcache_get(struct tokcache *cache, const char *token, size_t len, int64_t now,
                 int64_t leeway_s, struct token_claims *claims);
/* The cache's generation: read it before verifying a token, and hand it to
 * tokcache_put, so that a verification that began before a clear (the keys
 * changed) cannot put its result back after it. */
uint64_t tokcache_generation(struct tokcache *cache);
/* Remembers claims until until (the moment the key that verified them
 * retires) or the token's exp, whichever comes first, and never past
 * iat + max_life_s (latch's access TTL + leeway).  Nothing is kept when the
 * cache was cleared since generation was read. */
void tokcache_put(struct tokcache *cache, const char *token, size_t len,
                  const struct token_claims *claims, int64_t until, int64_t max_life_s,
                  uint64_t generation);
/* Forgets token (after its revocation was seen). */
void tokcache_drop(struct tokcache *cache, const char *token, size_t len);
/* Forgets everything (after the keys changed) and starts a new generation. */
void tokcache_clear(struct tokcache *cache);

struct tokcache_stats {
    uint64_t hits, misses, evictions;
    size_t capacity;
};
void tokcache_stats(struct tokcache *cache, struct tokcache_stats *out);

#endif
