#include "auth/tokcache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define DIGEST_BYTES 32

struct slot {
    unsigned char digest[DIGEST_BYTES];
    int used;
    int64_t until;                 /* the entry is good while now < until */
    struct token_claims claims;
};

/* Locks are striped over the sets and kept apart from them, so that the
 * sets' pages stay untouched (and not resident) until a token lands there. */
#define LOCK_STRIPES 256

struct set {
    struct slot slots[WAYS];
};

struct tokcache {
    pthread_mutex_t locks[LOCK_STRIPES];
    struct set *sets;
    size_t n_sets;                 /* a power of two, or 0 when disabled */
    int ways;                      /* slots used per set: WAYS, fewer for a tiny bound */
    unsigned char key[crypto_generichash_KEYBYTES];
    uint64_t hits, misses, evictions;
};

int tokcache_new(struct tokcache **out, size_t entries)
{
    struct tokcache *c = calloc(1, sizeof(*c));
    size_t n = 1, i;

    if (c == NULL)
        return -1;
    for (i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    if (entries > 0) {
        /* The largest power of two of sets that stays within the bound
         * (a bound under WAYS still gets one set). */
        while (n * 2 * WAYS <= entries)
            n *= 2;
        /* calloc: pages of sets never used are never touched, so an idle
         * server does not pay for the cache in resident memory. */
        c->sets = calloc(n, sizeof(*c->sets));
        if (c->sets == NULL) {
            free(c);
            return -1;
        }
        c->n_sets = n;
        c->ways = entries < WAYS ? (int)entries : WAYS;
    }
    /* Keyed, so nobody can aim tokens at one set. */
    randombytes_buf(c->key, sizeof(c->key));
    *out = c;
    return 0;
}

void tokcache_free(struct tokcache *cache)
{
    size_t i;

    if (cache == NULL)
        return;
    for (i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&cache->locks[i]);
    free(cache->sets);
    sodium_memzero(cache->key, sizeof(cache->key));
    free(cache);
}

static struct set *find_set(struct tokcache *c, const char *token, size_t len,
                            unsigned char digest[DIGEST_BYTES], pthread_mutex_t **lock)
{
    uint64_t index;

    crypto_generichash(digest, DIGEST_BYTES, (const unsigned char *)token, len, c->key,
                       sizeof(c->key));
    memcpy(&index, digest, sizeof(index));
    index &= c->n_sets - 1;
    *lock = &c->locks[index % LOCK_STRIPES];
    return &c->sets[index];
}

int tokcache_get(struct tokcache *cache, const char *token, size_t len, int64_t now,
                 int64_t leeway_s, struct token_claims *claims)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock;
    struct set *set;
    int i, hit = 0;

    if (cache->n_sets == 0) {
        __atomic_add_fetch(&cache->misses, 1, __ATOMIC_RELAXED);
        return 0;
    }
    set = find_set(cache, token, len, digest, &lock);
    pthread_mutex_lock(lock);
    for (i = 0; i < cache->ways; i++) {
        struct slot *s = &set->slots[i];
        if (!s->used || memcmp(s->digest, digest, DIGEST_BYTES) != 0)
            continue;
        if (now - leeway_s >= s->claims.exp || now >= s->until) {
            s->used = 0;      /* expired: the full check will refuse it */
        } else {
            *claims = s->claims;
            hit = 1;
        }
        break;
    }
    pthread_mutex_unlock(lock);
    __atomic_add_fetch(hit ? &cache->hits : &cache->misses, 1, __ATOMIC_RELAXED);
    return hit;
}

void tokcache_put(struct tokcache *cache, const char *token, size_t len,
                  const struct token_claims *claims, int64_t until)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock;
    struct set *set;
    struct slot *victim = NULL;
    int i;

    if (cache->n_sets == 0)
        return;
    set = find_set(cache, token, len, digest, &lock);
    pthread_mutex_lock(lock);
    for (i = 0; i < cache->ways; i++) {
        struct slot *s = &set->slots[i];
        if (!s->used || memcmp(s->digest, digest, DIGEST_BYTES) == 0) {
            victim = s;
            break;
        }
        if (victim == NULL || s->claims.exp < victim->claims.exp)
            victim = s;
    }
    if (victim->used && memcmp(victim->digest, digest, DIGEST_BYTES) != 0)
        __atomic_add_fetch(&cache->evictions, 1, __ATOMIC_RELAXED);
    memcpy(victim->digest, digest, DIGEST_BYTES);
    victim->claims = *claims;
    victim->until = until;
    victim->used = 1;
    pthread_mutex_unlock(lock);
}

void tokcache_drop(struct tokcache *cache, const char *token, size_t len)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock;
    struct set *set;
    int i;

    if (cache->n_sets == 0)
        return;
    set = find_set(cache, token, len, digest, &lock);
    pthread_mutex_lock(lock);
    for (i = 0; i < cache->ways; i++)
        if (set->slots[i].used && memcmp(set->slots[i].digest, digest, DIGEST_BYTES) == 0)
            set->slots[i].used = 0;
    pthread_mutex_unlock(lock);
}

void tokcache_clear(struct tokcache *cache)
{
    size_t i;
    int j;

    for (i = 0; i < cache->n_sets; i++) {
        pthread_mutex_lock(&cache->locks[i % LOCK_STRIPES]);
        for (j = 0; j < cache->ways; j++)
            if (cache->sets[i].slots[j].used)   /* reads leave idle pages alone */
                cache->sets[i].slots[j].used = 0;
        pthread_mutex_unlock(&cache->locks[i % LOCK_STRIPES]);
    }
}

void tokcache_stats(struct tokcache *cache, struct tokcache_stats *out)
{
    out->hits = __atomic_load_n(&cache->hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n(&cache->misses, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&cache->evictions, __ATOMIC_RELAXED);
    out->capacity = cache->n_sets * (size_t)cache->ways;
}
