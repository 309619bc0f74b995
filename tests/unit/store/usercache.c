/* Tests src/store/usercache.c: freshness and races of the user-row cache. */
#include "test.h"

#include "store/usercache.h"

static struct store_user usercache_user(int64_t id, const char *role)
{
    struct store_user u;

    memset(&u, 0, sizeof(u));
    u.id = id;
    snprintf(u.email, sizeof(u.email), "u%lld@example.com", (long long)id);
    snprintf(u.role, sizeof(u.role), "%s", role);
    snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$secret");
    u.created_at = 1700000000;
    return u;
}

TEST(usercache_hit_until_ttl_without_the_hash)
{
    struct usercache *c = NULL;
    struct store_user in = usercache_user(7, "admin"), out;
    int before, after;

    CHECK(usercache_new(&c, 64, 1000) == 0);
    usercache_put(c, &in, 5000, usercache_generation(c));
    before = usercache_get(c, 7, 5999, &out);
    after = usercache_get(c, 7, 6000, &out);
    usercache_free(c);
    CHECK_INT(before, 1);
    CHECK_INT(after, 0);
    CHECK_STR(out.role, "admin");
    CHECK_STR(out.password_hash, "");
}

/* A read that began before a drop must not put the old row back. */
TEST(usercache_drop_beats_a_stale_put)
{
    struct usercache *c = NULL;
    struct store_user old = usercache_user(7, "admin"), out;
    uint64_t gen;
    int hit;

    CHECK(usercache_new(&c, 64, 1000) == 0);
    gen = usercache_generation(c);        /* a reader starts ... */
    usercache_drop(c, 7);                 /* ... the user is demoted meanwhile ... */
    usercache_put(c, &old, 0, gen);       /* ... and the reader comes back */
    hit = usercache_get(c, 7, 1, &out);
    usercache_put(c, &old, 0, usercache_generation(c));
    usercache_clear(c);
    hit += usercache_get(c, 7, 1, &out);
    usercache_free(c);
    CHECK_INT(hit, 0);
}

TEST(usercache_bounded)
{
    struct usercache *c = NULL;
    struct store_user u, out;
    int64_t id;
    int hits = 0;

    CHECK(usercache_new(&c, 16, 1000) == 0);
    for (id = 1; id <= 1000; id++) {
        u = usercache_user(id, "user");
        usercache_put(c, &u, 0, usercache_generation(c));
    }
    for (id = 1; id <= 1000; id++)
        hits += usercache_get(c, id, 1, &out);
    usercache_free(c);
    CHECK(hits > 0);
    CHECK(hits <= 16);
}
