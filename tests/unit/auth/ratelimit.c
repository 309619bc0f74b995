/* Tests src/auth/ratelimit.c: the per-address buckets in memory. */
#include "test.h"

#include "auth/ratelimit.h"

#define SEC 1000000LL

TEST(ratelimit_burst_then_rate)
{
    struct ratelimit *rl = NULL;
    int64_t retry = 0;
    int i, ok = 1;

    CHECK(ratelimit_new(&rl, 60, 5, 100) == 0);   /* one a second, five at once */
    for (i = 0; i < 5; i++)
        ok &= ratelimit_take(rl, "10.0.0.1", 100 * SEC, &retry);
    if (!ok || ratelimit_take(rl, "10.0.0.1", 100 * SEC, &retry)) {
        ratelimit_free(rl);
        CHECK(!"five at once, the sixth refused");
    }
    CHECK_INT(retry, 1);
    /* Another address has its own bucket. */
    ok = ratelimit_take(rl, "10.0.0.2", 100 * SEC, &retry);
    /* One more a second later, not two. */
    ok &= ratelimit_take(rl, "10.0.0.1", 101 * SEC, &retry);
    ok &= !ratelimit_take(rl, "10.0.0.1", 101 * SEC, &retry);
    /* Ten seconds idle: a full burst again. */
    for (i = 0; i < 5; i++)
        ok &= ratelimit_take(rl, "10.0.0.1", 111 * SEC, &retry);
    ok &= !ratelimit_take(rl, "10.0.0.1", 111 * SEC, &retry);
    ratelimit_free(rl);
    CHECK(ok);
}

TEST(ratelimit_retry_after_counts_the_wait)
{
    struct ratelimit *rl = NULL;
    int64_t retry = 0;
    int refused;

    CHECK(ratelimit_new(&rl, 2, 1, 100) == 0);    /* one every 30 s */
    CHECK(ratelimit_take(rl, "a", 0, &retry));
    refused = !ratelimit_take(rl, "a", 10 * SEC, &retry);
    ratelimit_free(rl);
    CHECK(refused);
    CHECK_INT(retry, 20);
}

/* Refilled buckets are dropped, so memory holds only recent clients; a
 * table full of draining buckets refuses new keys (fail closed). */
TEST(ratelimit_bounded_memory)
{
    struct ratelimit *rl = NULL;
    struct ratelimit_stats st;
    int64_t retry = 0;
    int ok = 1;

    CHECK(ratelimit_new(&rl, 60, 2, 2) == 0);
    ok &= ratelimit_take(rl, "a", 0, &retry);
    ok &= ratelimit_take(rl, "b", 0, &retry);
    ok &= !ratelimit_take(rl, "c", 0, &retry);
    ratelimit_stats(rl, &st);
    ok &= st.keys == 2 && st.table_full == 1 && st.refused == 1;
    /* Once "a" and "b" have refilled (1 s) they are dropped: room again. */
    ok &= ratelimit_take(rl, "c", 3 * SEC, &retry);
    ratelimit_stats(rl, &st);
    ratelimit_free(rl);
    CHECK(ok);
    CHECK_INT(st.keys, 1);
}

TEST(ratelimit_zero_is_off)
{
    struct ratelimit *rl = NULL;
    int64_t retry = 0;
    int i, ok = 1;

    CHECK(ratelimit_new(&rl, 0, 1, 1) == 0);
    for (i = 0; i < 100; i++)
        ok &= ratelimit_take(rl, i % 2 ? "a" : "b", 0, &retry);
    ratelimit_free(rl);
    CHECK(ok);
}
