#include "store/usercache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define LOCK_STRIPES 64

struct entry {
    int64_t id;                       /* 0: empty */
    int64_t expires_ms;
    int64_t created_at;
    int disabled;
    int email_verified, mfa;
    char role[LATCH_MAX_ROLE_BYTES + 1];
    char email[LATCH_MAX_EMAIL_BYTES + 1];
};

struct set {
    struct entry e[WAYS];
};

struct usercache {
    pthread_mutex_t locks[LOCK_STRIPES];
    struct set *sets;
    size_t n_sets;                    /* a power of two, 0 when disabled */
    int64_t ttl_ms;
    uint64_t generation;
    uint64_t hits, misses;
};

int usercache_new(struct usercache **out, size_t entries, int64_t ttl_ms)
{
    struct usercache *c = calloc(1, sizeof(*c));
    size_t n = 1, i;

    if (c == NULL)
        return -1;
    for (i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    if (entries >= WAYS) {
        while (n * 2 * WAYS <= entries)
            n *= 2;
        /* calloc: untouched pages stay out of resident memory. */
        c->sets = calloc(n, sizeof(*c->sets));
        if (c->sets == NULL) {
            free(c);
            return -1;
        }
        c->n_sets = n;
    }
    c->ttl_ms = ttl_ms;
    *out = c;
    return 0;
}

void usercache_free(struct usercache *cache)
{
    size_t i;

    if (cache == NULL)
        return;
    for (i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&cache->locks[i]);
    free(cache->sets);
    free(cache);
}

/* Ids are assigned by the store, not chosen by clients; a multiplicative
 * mix spreads consecutive ids over the sets. */
static size_t set_of(const struct usercache *c, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

    return (size_t)(h >> 32) & (c->n_sets - 1);
}

int usercache_get(struct usercache *cache, int64_t id, int64_t now_ms, struct store_user *out)
{
    struct set *set;
    size_t s;
    int i, hit = 0;

    if (cache->n_sets == 0 || id <= 0) {
        __atomic_add_fetch(&cache->misses, 1, __ATOMIC_RELAXED);
        return 0;
    }
    s = set_of(cache, id);
    set = &cache->sets[s];
    pthread_mutex_lock(&cache->locks[s % LOCK_STRIPES]);
    for (i = 0; i < WAYS; i++) {
        struct entry *e = &set->e[i];
        if (e->id != id)
            continue;
        if (now_ms >= e->expires_ms) {
            e->id = 0;
            break;
        }
        memset(out, 0, sizeof(*out));
        out->id = id;
        memcpy(out->email, e->email, sizeof(out->email));
        memcpy(out->role, e->role, sizeof(out->role));
        out->created_at = e->created_at;
        out->disabled = e->disabled;
        out->email_verified = e->email_verified;
        out->mfa = e->mfa;
        hit = 1;
        break;
    }
    pthread_mutex_unlock(&cache->locks[s % LOCK_STRIPES]);
    __atomic_add_fetch(hit ? &cache->hits : &cache->misses, 1, __ATOMIC_RELAXED);
    return hit;
}

uint64_t usercache_generation(struct usercache *cache)
{
    return __atomic_load_n(&cache->generation, __ATOMIC_ACQUIRE);
}

void usercache_put(struct usercache *cache, const struct store_user *user, int64_t now_ms,
                   uint64_t generation)
{
    struct entry *victim = NULL;
    struct set *set;
    size_t s;
    int i;

    if (cache->n_sets == 0 || user->id <= 0)
        return;
    s = set_of(cache, user->id);
    set = &cache->sets[s];
    pthread_mutex_lock(&cache->locks[s % LOCK_STRIPES]);
    /* Checked under the lock: a drop moves the generation on before it
     * takes the lock, so a put either sees it here or lands first and is
     * then dropped. */
    if (__atomic_load_n(&cache->generation, __ATOMIC_ACQUIRE) == generation) {
        for (i = 0; i < WAYS && victim == NULL; i++)
            if (set->e[i].id == user->id)
                victim = &set->e[i];
        for (i = 0; i < WAYS && victim == NULL; i++)
            if (set->e[i].id == 0 || now_ms >= set->e[i].expires_ms)
                victim = &set->e[i];
        if (victim == NULL) {
            /* Full of fresh entries: the one closest to expiry goes. */
            victim = &set->e[0];
            for (i = 1; i < WAYS; i++)
                if (set->e[i].expires_ms < victim->expires_ms)
                    victim = &set->e[i];
        }
        victim->id = user->id;
        victim->expires_ms = now_ms + cache->ttl_ms;
        victim->created_at = user->created_at;
        victim->disabled = user->disabled;
        victim->email_verified = user->email_verified;
        victim->mfa = user->mfa;
        memcpy(victim->role, user->role, sizeof(victim->role));
        memcpy(victim->email, user->email, sizeof(victim->email));
    }
    pthread_mutex_unlock(&cache->locks[s % LOCK_STRIPES]);
}

void usercache_drop(struct usercache *cache, int64_t id)
{
    struct set *set;
    size_t s;
    int i;

    __atomic_add_fetch(&cache->generation, 1, __ATOMIC_ACQ_REL);
    if (cache->n_sets == 0)
        return;
    s = set_of(cache, id);
    set = &cache->sets[s];
    pthread_mutex_lock(&cache->locks[s % LOCK_STRIPES]);
    for (i = 0; i < WAYS; i++)
        if (set->e[i].id == id)
            set->e[i].id = 0;
    pthread_mutex_unlock(&cache->locks[s % LOCK_STRIPES]);
}

void usercache_clear(struct usercache *cache)
{
    size_t s;
    int i;

    __atomic_add_fetch(&cache->generation, 1, __ATOMIC_ACQ_REL);
    for (s = 0; s < cache->n_sets; s++) {
        pthread_mutex_lock(&cache->locks[s % LOCK_STRIPES]);
        for (i = 0; i < WAYS; i++)
            if (cache->sets[s].e[i].id != 0)   /* reads leave idle pages alone */
                cache->sets[s].e[i].id = 0;
        pthread_mutex_unlock(&cache->locks[s % LOCK_STRIPES]);
    }
}

void usercache_stats(struct usercache *cache, struct usercache_stats *out)
{
    out->hits = __atomic_load_n(&cache->hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n(&cache->misses, __ATOMIC_RELAXED);
}
