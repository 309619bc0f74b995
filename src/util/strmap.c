#include "util/strmap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    int64_t value, expires_at;
    char key[];
};

struct strmap {
    struct entry **buckets;
    size_t n_buckets;          /* a power of two */
    size_t count;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

static size_t bucket_of(const struct strmap *map, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;

    crypto_shorthash(h, (const unsigned char *)key, strlen(key), map->hash_key);
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (map->n_buckets - 1));
}

struct strmap *strmap_new(void)
{
    struct strmap *map = calloc(1, sizeof(*map));

    if (map == NULL)
        return NULL;
    map->n_buckets = 64;
    map->buckets = calloc(map->n_buckets, sizeof(*map->buckets));
    if (map->buckets == NULL) {
        free(map);
        return NULL;
    }
    randombytes_buf(map->hash_key, sizeof(map->hash_key));
    return map;
}

void strmap_free(struct strmap *map)
{
    size_t i;

    if (map == NULL)
        return;
    for (i = 0; i < map->n_buckets; i++) {
        struct entry *e = map->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(map->buckets);
    free(map);
}

size_t strmap_count(const struct strmap *map)
{
    return map->count;
}

static void grow(struct strmap *map)
{
    size_t old_n = map->n_buckets, i;
    struct entry **old = map->buckets, **fresh;

    fresh = calloc(old_n * 2, sizeof(*fresh));
    if (fresh == NULL)
        return;   /* stay at the old size: slower, still correct */
    map->buckets = fresh;
    map->n_buckets = old_n * 2;
    for (i = 0; i < old_n; i++) {
        struct entry *e = old[i], *next;
        for (; e != NULL; e = next) {
            size_t b = bucket_of(map, e->key);
            next = e->next;
            e->next = map->buckets[b];
            map->buckets[b] = e;
        }
    }
    free(old);
}

int strmap_put(struct strmap *map, const char *key, int64_t value, int64_t expires_at)
{
    size_t b = bucket_of(map, key), len;
    struct entry *e;

    for (e = map->buckets[b]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            e->value = value;
            e->expires_at = expires_at;
            return 0;
        }
    }
    len = strlen(key);
    e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        return -1;
    memcpy(e->key, key, len + 1);
    e->value = value;
    e->expires_at = expires_at;
    e->next = map->buckets[b];
    map->buckets[b] = e;
    map->count++;
    if (map->count > map->n_buckets)
        grow(map);
    return 0;
}

int strmap_get(const struct strmap *map, const char *key, int64_t *value)
{
    const struct entry *e;

    if (map->count == 0)
        return 0;
    for (e = map->buckets[bucket_of(map, key)]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            *value = e->value;
            return 1;
        }
    }
    return 0;
}

void strmap_expire(struct strmap *map, int64_t now)
{
    size_t i;

    for (i = 0; i < map->n_buckets; i++) {
        struct entry **link = &map->buckets[i];
        while (*link != NULL) {
            struct entry *e = *link;
            if (e->expires_at <= now) {
                *link = e->next;
                free(e);
                map->count--;
            } else {
                link = &e->next;
            }
        }
    }
}

void strmap_del(struct strmap *map, const char *key)
{
    struct entry **link = &map->buckets[bucket_of(map, key)];

    while (*link != NULL) {
        struct entry *e = *link;
        if (strcmp(e->key, key) == 0) {
            *link = e->next;
            free(e);
            map->count--;
            return;
        }
        link = &e->next;
    }
}
