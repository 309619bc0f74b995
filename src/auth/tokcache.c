#include "auth/tokcache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
/* SipHash-2-4 with a 128-bit output (crypto_shorthash_siphashx24) under a
 * key made at start and kept in this process.  The digest both places a
 * token and names it: a token that is not the cached one matches only by a
 * 128-bit collision under a key nobody outside sees (each try hits one of
 * the N entries with chance N / 2^128).  It replaces a keyed BLAKE2b-256,
 * which cost four compressions for an EdDSA token (0.86 us of a 13 us
 * request on the bench machine) where SipHash costs 0.12 us. */
#define DIGEST_BYTES crypto_shorthash_siphashx24_BYTES

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
    unsigned char key[crypto_shorthash_siphashx24_KEYBYTES];
    uint64_t generation;           /* moved on by every clear */
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

/*
 * Two-choice hashing: a token may live in either of two sets (from the two
 * halves of its digest) and goes to the one with more room.  When both are
 * full, one of their entries whose other set has room moves there first
 * (one step of cuckoo hashing), and only then is an entry evicted.  The
 * bench's 10,000 tokens in 16,384 entries evicted about one put in a
 * hundred with the first set with room and no move (0.9 % of its /verify
 * requests then paid a full signature check, worth 0.4 us a request for
 * EdDSA); the move makes that rare.
 */
static void digest_of(const struct tokcache *c, const char *token, size_t len,
                      unsigned char digest[DIGEST_BYTES])
{
    crypto_shorthash_siphashx24(digest, (const unsigned char *)token, len, c->key);
}

static struct set *set_at(struct tokcache *c, const unsigned char digest[DIGEST_BYTES],
                          int which, pthread_mutex_t **lock)
{
    uint64_t index;

    memcpy(&index, digest + 8 * which, sizeof(index));
    index &= c->n_sets - 1;
    *lock = &c->locks[index % LOCK_STRIPES];
    return &c->sets[index];
}

static struct slot *find_in(struct tokcache *c, struct set *set,
                            const unsigned char digest[DIGEST_BYTES])
{
    int i;

    for (i = 0; i < c->ways; i++)
        if (set->slots[i].used && memcmp(set->slots[i].digest, digest, DIGEST_BYTES) == 0)
            return &set->slots[i];
    return NULL;
}

int tokcache_get(struct tokcache *cache, const char *token, size_t len, int64_t now,
                 int64_t leeway_s, struct token_claims *claims)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock;
    struct set *set;
    struct slot *s;
    int which, hit = 0, found = 0;

    if (cache->n_sets == 0) {
        __atomic_add_fetch(&cache->misses, 1, __ATOMIC_RELAXED);
        return 0;
    }
    digest_of(cache, token, len, digest);
    for (which = 0; which < 2 && !found; which++) {
        set = set_at(cache, digest, which, &lock);
        pthread_mutex_lock(lock);
        s = find_in(cache, set, digest);
        if (s != NULL) {
            found = 1;
            if (now - leeway_s >= s->claims.exp || now >= s->until) {
                s->used = 0;      /* expired: the full check will refuse it */
            } else {
                *claims = s->claims;
                hit = 1;
            }
        }
        pthread_mutex_unlock(lock);
    }
    __atomic_add_fetch(hit ? &cache->hits : &cache->misses, 1, __ATOMIC_RELAXED);
    return hit;
}

/* Locks both candidate sets' stripes, in address order, once each. */
static void lock_pair(pthread_mutex_t *a, pthread_mutex_t *b)
{
    if (a == b) {
        pthread_mutex_lock(a);
    } else if (a < b) {
        pthread_mutex_lock(a);
        pthread_mutex_lock(b);
    } else {
        pthread_mutex_lock(b);
        pthread_mutex_lock(a);
    }
}

static void unlock_pair(pthread_mutex_t *a, pthread_mutex_t *b)
{
    pthread_mutex_unlock(a);
    if (a != b)
        pthread_mutex_unlock(b);
}

uint64_t tokcache_generation(struct tokcache *cache)
{
    return __atomic_load_n(&cache->generation, __ATOMIC_ACQUIRE);
}

static int used_in(const struct tokcache *c, const struct set *set)
{
    int i, n = 0;

    for (i = 0; i < c->ways; i++)
        n += set->slots[i].used != 0;
    return n;
}

static struct slot *free_in(const struct tokcache *c, struct set *set)
{
    int i;

    for (i = 0; i < c->ways; i++)
        if (!set->slots[i].used)
            return &set->slots[i];
    return NULL;
}

/*
 * Both of a token's sets are full (their locks held: held_a, held_b): moves
 * one of their entries to its own other set when that has room, and returns
 * the slot it left, or NULL.  The other set's lock is only tried, never
 * waited for, so no order among locks is needed; a busy one is passed over.
 */
static struct slot *make_room(struct tokcache *c, struct set *sets[2], pthread_mutex_t *held_a,
                              pthread_mutex_t *held_b)
{
    pthread_mutex_t *lock;
    struct set *other;
    struct slot *from, *to;
    int which, i, k;

    for (which = 0; which < 2; which++) {
        for (i = 0; i < c->ways; i++) {
            from = &sets[which]->slots[i];
            for (k = 0; k < 2; k++) {
                other = set_at(c, from->digest, k, &lock);
                if (other != sets[0] && other != sets[1])
                    break;
            }
            if (k == 2)
                continue;           /* both of its sets are these two */
            if (lock != held_a && lock != held_b && pthread_mutex_trylock(lock) != 0)
                continue;
            to = free_in(c, other);
            if (to != NULL) {
                *to = *from;
                from->used = 0;
            }
            if (lock != held_a && lock != held_b)
                pthread_mutex_unlock(lock);
            if (to != NULL)
                return from;
        }
    }
    return NULL;
}

void tokcache_put(struct tokcache *cache, const char *token, size_t len,
                  const struct token_claims *claims, int64_t until, int64_t max_life_s,
                  uint64_t generation)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock_a, *lock_b;
    struct set *sets[2];
    struct slot *victim = NULL;
    int which, i;

    if (cache->n_sets == 0)
        return;
    /* claims->iat is at most now + leeway (checked), so no overflow. */
    if (claims->iat + max_life_s < until)
        until = claims->iat + max_life_s;
    digest_of(cache, token, len, digest);
    sets[0] = set_at(cache, digest, 0, &lock_a);
    sets[1] = set_at(cache, digest, 1, &lock_b);
    lock_pair(lock_a, lock_b);
    /*
     * Checked under the sets' locks: a clear moves the generation on before
     * it sweeps, and sweeps each set under its lock, so a put either sees
     * the new generation here or lands before the sweep reaches its set.
     * The same holds for an entry make_room moves: both sets it touches are
     * locked, so a sweep that passed the one it lands in would show here.
     */
    if (__atomic_load_n(&cache->generation, __ATOMIC_ACQUIRE) != generation) {
        unlock_pair(lock_a, lock_b);
        return;
    }
    /* Already there; or a free slot in the emptier set; or room made by
     * moving an entry; or else the entry closest to expiry of both. */
    for (which = 0; which < 2 && victim == NULL; which++)
        victim = find_in(cache, sets[which], digest);
    /* (The emptier set is full only when both are.) */
    if (victim == NULL)
        victim = free_in(cache, sets[used_in(cache, sets[1]) < used_in(cache, sets[0])]);
    if (victim == NULL)
        victim = make_room(cache, sets, lock_a, lock_b);
    if (victim == NULL) {
        for (which = 0; which < 2; which++)
            for (i = 0; i < cache->ways; i++)
                if (victim == NULL || sets[which]->slots[i].claims.exp < victim->claims.exp)
                    victim = &sets[which]->slots[i];
        __atomic_add_fetch(&cache->evictions, 1, __ATOMIC_RELAXED);
    }
    memcpy(victim->digest, digest, DIGEST_BYTES);
    victim->claims = *claims;
    victim->until = until;
    victim->used = 1;
    unlock_pair(lock_a, lock_b);
}

void tokcache_drop(struct tokcache *cache, const char *token, size_t len)
{
    unsigned char digest[DIGEST_BYTES];
    pthread_mutex_t *lock;
    struct set *set;
    struct slot *s;
    int which;

    if (cache->n_sets == 0)
        return;
    digest_of(cache, token, len, digest);
    for (which = 0; which < 2; which++) {
        set = set_at(cache, digest, which, &lock);
        pthread_mutex_lock(lock);
        s = find_in(cache, set, digest);
        if (s != NULL)
            s->used = 0;
        pthread_mutex_unlock(lock);
    }
}

void tokcache_clear(struct tokcache *cache)
{
    size_t i;
    int j;

    __atomic_add_fetch(&cache->generation, 1, __ATOMIC_ACQ_REL);
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
