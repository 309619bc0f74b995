/*
 * usercache.h - a bounded in-process cache of user rows, so that GET
 * /profile reads no store for a user seen a moment ago.
 *
 * Entries hold what /profile shows (id, email, role, created_at, disabled,
 * email_verified, mfa)
 * and never a password hash.  An entry lives at most ttl_ms (1 s by
 * default): changes made by another process (another instance, the CLI)
 * show within that even without a notification, and PostgreSQL's
 * notifications drop an entry at once.  Changes made by this process drop
 * their entry before they answer.
 *
 * A reader takes the cache's generation before it reads the store and
 * hands it to usercache_put: a drop or clear that happened meanwhile moves
 * the generation on, and the possibly stale row is not kept.
 *
 * Fixed size: entries rounded down to a power of two, 4-way sets, one lock
 * per stripe of sets; pages of sets never used are never touched.
 */
#ifndef LATCH_STORE_USERCACHE_H
#define LATCH_STORE_USERCACHE_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct usercache;

/* entries 0 disables the cache (every get misses). */
int usercache_new(struct usercache **out, size_t entries, int64_t ttl_ms);
void usercache_free(struct usercache *cache);

/* 1 and *out filled (password_hash empty) when id is cached and fresh at
 * now_ms (a monotonic clock); 0 otherwise. */
int usercache_get(struct usercache *cache, int64_t id, int64_t now_ms, struct store_user *out);
uint64_t usercache_generation(struct usercache *cache);
void usercache_put(struct usercache *cache, const struct store_user *user, int64_t now_ms,
                   uint64_t generation);
/* Forgets a user (changed or deleted), or everyone. */
void usercache_drop(struct usercache *cache, int64_t id);
void usercache_clear(struct usercache *cache);

struct usercache_stats {
    uint64_t hits, misses;
};
void usercache_stats(struct usercache *cache, struct usercache_stats *out);

#endif
