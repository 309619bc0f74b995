/*
 * strmap.h - a hash map from short strings to (value, expires_at), keyed with
 * SipHash (libsodium crypto_shorthash) under a random key so that chosen keys
 * cannot flood one bucket.  Not thread-safe: the owner locks.
 */
#ifndef LATCH_UTIL_STRMAP_H
#define LATCH_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *map);
size_t strmap_count(const struct strmap *map);

/* Inserts or replaces key.  Returns 0, or -1 on no memory. */
int strmap_put(struct strmap *map, const char *key, int64_t value, int64_t expires_at);
/* Returns 1 and sets *value when key is present, else 0. */
int strmap_get(const struct strmap *map, const char *key, int64_t *value);
/* Removes key if present. */
void strmap_del(struct strmap *map, const char *key);
/* Drops every entry with expires_at <= now. */
void strmap_expire(struct strmap *map, int64_t now);

#endif
