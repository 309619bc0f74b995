/* Tests src/auth/tokcache.c: bounds on what the verified-token cache keeps. */
#include "test.h"

#include "auth/tokcache.h"

static struct token_claims tokcache_claims(int64_t iat, int64_t exp)
{
    struct token_claims c;

    memset(&c, 0, sizeof(c));
    c.user_id = 7;
    snprintf(c.role, sizeof(c.role), "user");
    c.iat = iat;
    c.exp = exp;
    return c;
}

/* A put that began before a clear (the keys changed meanwhile) is dropped. */
TEST(tokcache_stale_generation_not_kept)
{
    struct tokcache *c = NULL;
    struct token_claims in = tokcache_claims(1000, 1900), out;
    uint64_t gen;
    int hit_stale, hit_fresh;

    CHECK(tokcache_new(&c, 64) == 0);
    gen = tokcache_generation(c);
    tokcache_clear(c);
    tokcache_put(c, "tok", 3, &in, INT64_MAX, 930, gen);
    hit_stale = tokcache_get(c, "tok", 3, 1000, 30, &out);
    tokcache_put(c, "tok", 3, &in, INT64_MAX, 930, tokcache_generation(c));
    hit_fresh = tokcache_get(c, "tok", 3, 1000, 30, &out);
    tokcache_free(c);
    CHECK_INT(hit_stale, 0);
    CHECK_INT(hit_fresh, 1);
}

/* An entry lives no longer than its key, nor than iat + the longest life. */
TEST(tokcache_entry_capped)
{
    struct tokcache *c = NULL;
    struct token_claims in = tokcache_claims(1000, 5000), out;
    int before_cap, after_cap, before_key, after_key;

    CHECK(tokcache_new(&c, 64) == 0);
    tokcache_put(c, "a", 1, &in, INT64_MAX, 930, tokcache_generation(c));
    before_cap = tokcache_get(c, "a", 1, 1929, 30, &out);
    after_cap = tokcache_get(c, "a", 1, 1930, 30, &out);
    tokcache_put(c, "b", 1, &in, 1500, 930, tokcache_generation(c));
    before_key = tokcache_get(c, "b", 1, 1499, 30, &out);
    after_key = tokcache_get(c, "b", 1, 1500, 30, &out);
    tokcache_free(c);
    CHECK_INT(before_cap, 1);
    CHECK_INT(after_cap, 0);
    CHECK_INT(before_key, 1);
    CHECK_INT(after_key, 0);
}

/* Puts n tokens ("token-0", ...) into a new cache of entries, then reads
 * them all back: returns the hits, and the cache's counters in *st. */
static int tokcache_fill_and_read(size_t entries, int n, struct tokcache_stats *st)
{
    struct tokcache *c = NULL;
    struct token_claims in = tokcache_claims(1000, 1900), out;
    char tok[32];
    int i, len, hits = 0;

    if (tokcache_new(&c, entries) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        len = snprintf(tok, sizeof(tok), "token-%d", i);
        tokcache_put(c, tok, (size_t)len, &in, INT64_MAX, 930, tokcache_generation(c));
    }
    for (i = 0; i < n; i++) {
        len = snprintf(tok, sizeof(tok), "token-%d", i);
        hits += tokcache_get(c, tok, (size_t)len, 1000, 30, &out);
    }
    tokcache_stats(c, st);
    tokcache_free(c);
    return hits;
}

/* Filled to 61 % (the bench's 10,000 tokens in 16,384 entries), the cache
 * keeps nearly every token: the emptier of two sets, and a move to an
 * entry's other set before anything is evicted. */
TEST(tokcache_fills_without_evicting)
{
    struct tokcache_stats st;
    int hits = tokcache_fill_and_read(16384, 10000, &st);

    CHECK_INT(st.capacity, 16384);
    /* Before the move (first set with room, no move) about 120 of these
     * 10,000 puts evicted an entry. */
    CHECK(st.evictions <= 5);
    CHECK(hits >= 9995);
}

/* A full cache still answers for what it holds and evicts to take more. */
TEST(tokcache_full_evicts)
{
    struct tokcache_stats st;
    int hits = tokcache_fill_and_read(64, 1000, &st);

    CHECK(hits <= 64);
    CHECK(hits >= 32);
    CHECK(st.evictions >= 1000 - 64);
}
