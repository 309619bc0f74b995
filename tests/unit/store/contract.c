/*
 * The store.h contract, run against every backend: each CONTRACT body runs
 * once on SQLite (a temp file) and once on PostgreSQL (a fresh schema in the
 * database named by LATCH_TEST_PG).  Without LATCH_TEST_PG the
 * PostgreSQL half is not registered, and says so on stderr.
 *
 * Concurrency tests open one store per thread: like separate latch
 * instances on one database.
 */
#include "test.h"

#include "store/fixture.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef void (*contract_fn)(struct fixture *f, struct store **s);

static void run_contract(int pg, contract_fn body)
{
    struct fixture f;
    struct store *s = NULL;
    char err[256] = "";
    int rc;

    if (fixture_make(&f, pg) != 0) {
        test_failed(__FILE__, __LINE__, "cannot make the %s database", pg ? "PostgreSQL" : "SQLite");
        fixture_remove(&f);
        return;
    }
    rc = fixture_open(&f, &s, err, sizeof(err));
    if (rc != STORE_OK)
        test_failed(__FILE__, __LINE__, "open: %d %s", rc, err);
    else
        body(&f, &s);
    store_close(s);
    fixture_remove(&f);
}

#define CONTRACT(name)                                                                      \
    static void name(struct fixture *f, struct store **s);                                  \
    static void contract_sqlite_##name(void)                                                \
    {                                                                                       \
        run_contract(0, name);                                                              \
    }                                                                                       \
    static void contract_pg_##name(void)                                                    \
    {                                                                                       \
        run_contract(1, name);                                                              \
    }                                                                                       \
    __attribute__((constructor)) static void register_contract_##name(void)                 \
    {                                                                                       \
        test_register("contract_sqlite_" #name, __FILE__, contract_sqlite_##name);          \
        if (fx_pg_base() != NULL)                                                           \
            test_register("contract_pg_" #name, __FILE__, contract_pg_##name);              \
    }                                                                                       \
    static void name(struct fixture *f, struct store **s)

__attribute__((constructor)) static void say_if_pg_not_run(void)
{
    if (fx_pg_base() == NULL)
        fprintf(stderr, "store contract: PostgreSQL half not run (LATCH_TEST_PG is not set)\n");
}

/* ---- helpers ---- */

static void digest_of(unsigned char d[STORE_DIGEST_BYTES], int seed)
{
    int i;

    for (i = 0; i < STORE_DIGEST_BYTES; i++)
        d[i] = (unsigned char)(seed * 31 + i);
}

static struct store_login login_for(const struct store_user *u, const char *sid,
                                    const unsigned char *refresh, const unsigned char *session)
{
    struct store_login l;

    memset(&l, 0, sizeof(l));
    l.sid = sid;
    l.user_id = u->id;
    l.password_gen = u->password_gen;
    l.refresh_digest = refresh;
    l.refresh_expires_at = 2000;
    l.session_digest = session;
    l.session_expires_at = 2000;
    l.now = 1000;
    return l;
}

/* What revocations_since delivered. */
struct rev_list {
    int n;
    struct store_revocation rows[64];
};

static void collect_rev(void *ctx, const struct store_revocation *rev)
{
    struct rev_list *l = ctx;

    if (l->n < 64)
        l->rows[l->n++] = *rev;
}

static int rev_find(const struct rev_list *l, enum store_revocation_kind kind, const char *key)
{
    int i;

    for (i = 0; i < l->n; i++)
        if (l->rows[i].kind == kind && strcmp(l->rows[i].key, key) == 0)
            return i;
    return -1;
}

static int rotate(struct store *s, const unsigned char *digest, const unsigned char *successor,
                  int64_t now, enum store_rotate_outcome *outcome, struct store_refresh *found)
{
    /* reuse window 10 s, successor ttl 100 s, family at most 1000 s */
    return STORE_CALL(s, refresh_rotate, digest, successor, now, 10, 100, 1000, 5000, outcome,
                      found);
}

static int64_t count_of(struct store *s, const char *table)
{
    int64_t n = -1;

    if (STORE_CALL(s, table_count, table, &n) != STORE_OK)
        return -1;
    return n;
}

/* ---- users ---- */

CONTRACT(users_create_and_read)
{
    struct store_user u, b, got;
    int rc;

    (void)f;
    CHECK_INT(store_user_create(*s, "ada@example.com", "$argon2id$h1", "user", 1700000000, &u),
              STORE_OK);
    CHECK(u.id > 0);
    CHECK_STR(u.email, "ada@example.com");
    CHECK_STR(u.role, "user");
    CHECK_INT(u.created_at, 1700000000);
    CHECK_INT(u.disabled, 0);
    CHECK_INT(u.password_gen, 0);
    CHECK_INT(store_user_by_email(*s, "ada@example.com", &got), STORE_OK);
    CHECK_INT(got.id, u.id);
    CHECK_STR(got.password_hash, "$argon2id$h1");
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.email, "ada@example.com");
    CHECK_STR(got.role, "user");
    CHECK_INT(got.created_at, 1700000000);
    /* Unique email; the first user is unchanged. */
    CHECK_INT(store_user_create(*s, "ada@example.com", "h2", "admin", 2, &b), STORE_ECONFLICT);
    CHECK_INT(store_user_by_email(*s, "ada@example.com", &got), STORE_OK);
    CHECK_STR(got.password_hash, "$argon2id$h1");
    CHECK_STR(got.role, "user");
    /* A role outside the schema is refused, and is not "the email is taken". */
    rc = store_user_create(*s, "eve@example.com", "h", "superuser", 1, &b);
    CHECK(rc != STORE_OK && rc != STORE_ECONFLICT);
    CHECK_INT(store_user_by_email(*s, "eve@example.com", &got), STORE_ENOTFOUND);
    /* Lookups are exact. */
    CHECK_INT(store_user_by_email(*s, "ADA@example.com", &got), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, u.id + 100, &got), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, -1, &got), STORE_ENOTFOUND);
    CHECK_INT(store_user_create(*s, "bob@example.com", "h3", "admin", 3, &b), STORE_OK);
    CHECK(b.id > u.id);
    CHECK_STR(b.role, "admin");
}

CONTRACT(users_rehash_only_over_the_old_hash)
{
    struct store_user u, got;

    (void)f;
    CHECK_INT(store_user_create(*s, "ada@example.com", "old", "user", 1, &u), STORE_OK);
    CHECK_INT(store_user_rehash(*s, u.id, "stale", "new", 2), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "old");
    CHECK_INT(store_user_rehash(*s, u.id, "old", "new", 3), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "new");
    CHECK_INT(got.password_gen, 0);
    CHECK_INT(store_user_rehash(*s, u.id + 100, "new", "x", 5), STORE_ENOTFOUND);
}

struct user_list {
    int n;
    int64_t ids[16];
    char emails[16][32];
};

static void collect_user(void *ctx, const struct store_user *u)
{
    struct user_list *l = ctx;

    if (l->n < 16) {
        l->ids[l->n] = u->id;
        snprintf(l->emails[l->n], sizeof(l->emails[0]), "%.31s", u->email);
        l->n++;
    }
}

CONTRACT(users_list_in_pages)
{
    struct store_user u[5];
    struct user_list l;
    char email[32];
    int i, more = -1;

    (void)f;
    for (i = 0; i < 5; i++) {
        snprintf(email, sizeof(email), "u%d@example.com", i);
        CHECK_INT(store_user_create(*s, email, "h", "user", i, &u[i]), STORE_OK);
    }
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, user_list, 0, 2, collect_user, &l, &more), STORE_OK);
    CHECK_INT(l.n, 2);
    CHECK_INT(more, 1);
    CHECK_INT(l.ids[0], u[0].id);
    CHECK_STR(l.emails[1], "u1@example.com");
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, user_list, u[1].id, 2, collect_user, &l, &more), STORE_OK);
    CHECK_INT(l.n, 2);
    CHECK_INT(more, 1);
    CHECK_INT(l.ids[0], u[2].id);
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, user_list, u[3].id, 2, collect_user, &l, &more), STORE_OK);
    CHECK_INT(l.n, 1);
    CHECK_INT(more, 0);
    CHECK_INT(l.ids[0], u[4].id);
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, user_list, u[4].id, 2, collect_user, &l, &more), STORE_OK);
    CHECK_INT(l.n, 0);
    CHECK_INT(more, 0);
}

CONTRACT(users_update_fields)
{
    struct store_user u, out, got;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;

    (void)f;
    CHECK_INT(store_user_create(*s, "ada@example.com", "h1", "user", 1, &u), STORE_OK);
    ch.role = "admin";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 2, &out), STORE_OK);
    CHECK_STR(out.role, "admin");
    CHECK_INT(out.password_gen, 0);
    CHECK_STR(out.password_hash, "h1");
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.password_hash = "h2";
    ch.expect_password_gen = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 3, &out), STORE_OK);
    CHECK_STR(out.password_hash, "h2");
    CHECK_INT(out.password_gen, 1);
    CHECK_STR(out.role, "admin");
    /* The generation moved on: a change expecting the old one is stale and
     * changes nothing. */
    ch.password_hash = "h3";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 4, &out), STORE_ESTALE);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "h2");
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.disabled = 1;
    /* The only admin cannot be disabled... */
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 5, &out), STORE_ELASTADMIN);
    ch.role = "user";
    /* ...but a plain user can; nothing else moves. */
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 5, &out), STORE_ELASTADMIN);
    CHECK_INT(store_user_create(*s, "root@example.com", "h", "admin", 1, &got), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 5, &out), STORE_OK);
    CHECK_INT(out.disabled, 1);
    CHECK_STR(out.role, "user");
    CHECK_INT(out.password_gen, 1);
    CHECK_STR(out.email, "ada@example.com");
    CHECK_INT(STORE_CALL(*s, user_update, u.id + 100, &ch, 5, &out), STORE_ENOTFOUND);
}

CONTRACT(users_last_enabled_admin_stays)
{
    struct store_user a, b, out;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;

    (void)f;
    CHECK_INT(store_user_create(*s, "a@example.com", "h", "admin", 1, &a), STORE_OK);
    ch.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, a.id, &ch, 2, &out), STORE_ELASTADMIN);
    CHECK_INT(STORE_CALL(*s, user_delete, a.id, 2, 100), STORE_ELASTADMIN);
    CHECK_INT(store_user_create(*s, "b@example.com", "h", "admin", 1, &b), STORE_OK);
    /* A disabled admin does not count. */
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, b.id, &ch, 3, &out), STORE_OK);
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, a.id, &ch, 4, &out), STORE_ELASTADMIN);
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, b.id, &ch, 5, &out), STORE_OK);
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, a.id, &ch, 6, &out), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_delete, b.id, 7, 100), STORE_ELASTADMIN);
    CHECK_INT(STORE_CALL(*s, user_delete, a.id, 7, 100), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_delete, a.id, 7, 100), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, b.id, &out), STORE_OK);
    CHECK_STR(out.role, "admin");
}

CONTRACT(users_delete_ends_everything)
{
    unsigned char r1[STORE_DIGEST_BYTES], s1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES],
        n[STORE_DIGEST_BYTES];
    struct store_user admin, u, cur, again;
    struct store_login l;
    struct store_session ses;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct rev_list revs;
    char key[32];
    int64_t last = -1;

    (void)f;
    digest_of(r1, 1);
    digest_of(s1, 2);
    digest_of(r2, 3);
    digest_of(n, 4);
    CHECK_INT(store_user_create(*s, "root@example.com", "h", "admin", 1, &admin), STORE_OK);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "fam-1", r1, s1);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = login_for(&u, "fam-2", r2, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_delete, u.id, 1001, 5000), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &cur), STORE_ENOTFOUND);
    CHECK_INT(rotate(*s, r1, n, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    CHECK_INT(STORE_CALL(*s, session_get, s1, 1002, 100, 10, &ses), STORE_ENOTFOUND);
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1002, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 3);
    CHECK(rev_find(&revs, STORE_REVOKE_SID, "fam-1") >= 0);
    CHECK(rev_find(&revs, STORE_REVOKE_SID, "fam-2") >= 0);
    snprintf(key, sizeof(key), "%lld", (long long)u.id);
    CHECK(rev_find(&revs, STORE_REVOKE_USER, key) >= 0);
    CHECK_INT(revs.rows[rev_find(&revs, STORE_REVOKE_USER, key)].value, 1001);
    CHECK_INT(revs.rows[0].expires_at, 5000);
    CHECK_INT(count_of(*s, "families"), 0);
    CHECK_INT(count_of(*s, "refresh_tokens"), 0);
    CHECK_INT(count_of(*s, "sessions"), 0);
    /* The id is never given again. */
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 2, &again), STORE_OK);
    CHECK(again.id > u.id);
}

/* ---- logins ---- */

CONTRACT(login_commit_sees_the_account_as_committed)
{
    unsigned char refresh[STORE_DIGEST_BYTES], next[STORE_DIGEST_BYTES];
    struct store_user u, other, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)f;
    digest_of(refresh, 1);
    digest_of(next, 2);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h1", "admin", 1, &u), STORE_OK);
    CHECK_INT(store_user_create(*s, "bob@example.com", "hb", "admin", 1, &other), STORE_OK);
    /* Demoted while the password was being checked: the role as committed. */
    ch.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 5, &cur), STORE_OK);
    l = login_for(&u, "sid-1", refresh, NULL);
    memset(&cur, 0, sizeof(cur));
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_STR(cur.role, "user");
    CHECK_INT(cur.id, u.id);
    CHECK_STR(cur.email, "ada@example.com");
    /* The same family twice is a conflict. */
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ECONFLICT);
    /* A new password: the login checked against the old one is stale, and
     * the family made before it no longer refreshes. */
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.password_hash = "h2";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 6, &cur), STORE_OK);
    l = login_for(&u, "sid-2", NULL, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ESTALE);
    CHECK_INT(rotate(*s, refresh, next, 1001, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* Disabled: refused after the password. */
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 7, &cur), STORE_OK);
    l = login_for(&cur, "sid-3", NULL, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_EDISABLED);
    /* Gone. */
    CHECK_INT(STORE_CALL(*s, user_delete, u.id, 8, 100), STORE_OK);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ENOTFOUND);
    CHECK_INT(count_of(*s, "families"), 0);
}

CONTRACT(login_commit_rehash_and_lockout)
{
    struct store_user u, cur, got;
    struct store_login l;
    int64_t retry = -1;
    int i;

    (void)f;
    CHECK_INT(store_user_create(*s, "ada@example.com", "old", "user", 1, &u), STORE_OK);
    for (i = 0; i < 2; i++) {
        CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 999, 3, 60, 30, &retry),
                  STORE_OK);
        CHECK_INT(retry, 0);
    }
    l = login_for(&u, "sid-1", NULL, NULL);
    l.rehash = "new";
    l.lockout_key = "ada@example.com";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "new");
    CHECK_INT(got.password_gen, 0);
    /* The counter was cleared: three more guesses before the lock. */
    for (i = 0; i < 3; i++) {
        CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 1001, 3, 60, 30, &retry),
                  STORE_OK);
        CHECK_INT(retry, 0);
    }
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 1001, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 30);
    /* A second rehash over a hash that changed meanwhile does nothing, and
     * the login still commits. */
    l.sid = "sid-2";
    l.rehash = "newer";
    l.lockout_key = NULL;
    CHECK_INT(store_user_rehash(*s, u.id, "new", "other", 2), STORE_OK);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "newer");
}

/* ---- refresh rotation ---- */

CONTRACT(refresh_rotate_outcomes)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], r3[STORE_DIGEST_BYTES],
        x[STORE_DIGEST_BYTES], unknown[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct rev_list revs;
    int64_t last = 0;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 2);
    digest_of(r3, 3);
    digest_of(x, 9);
    digest_of(unknown, 77);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "fam", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    memset(&found, 0, sizeof(found));
    CHECK_INT(rotate(*s, r1, r2, 1001, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_STR(found.sid, "fam");
    CHECK_INT(found.user_id, u.id);
    CHECK_STR(found.email, "ada@example.com");
    CHECK_STR(found.role, "user");
    /* Within the window, the same successor again. */
    CHECK_INT(rotate(*s, r1, r2, 1005, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_RETRY);
    CHECK_INT(rotate(*s, r2, r3, 1006, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    /* After the window: reuse, the family is revoked. */
    CHECK_INT(rotate(*s, r1, r2, 1011, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_REUSED);
    CHECK_STR(found.sid, "fam");
    CHECK_INT(rotate(*s, r3, x, 1012, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1012, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 1);
    CHECK_INT(revs.rows[0].kind, STORE_REVOKE_SID);
    CHECK_STR(revs.rows[0].key, "fam");
    CHECK_INT(revs.rows[0].expires_at, 5000);
    CHECK_INT(last, revs.rows[0].seq);
    CHECK_INT(rotate(*s, unknown, x, 1012, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);

    /* Within the window but with another successor: not the same client. */
    l = login_for(&u, "fam-b", x, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    digest_of(r1, 11);
    CHECK_INT(rotate(*s, x, r1, 1020, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_INT(rotate(*s, x, unknown, 1021, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_REUSED);
}

CONTRACT(refresh_rotate_lifetimes)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], r3[STORE_DIGEST_BYTES],
        r4[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 2);
    digest_of(r3, 3);
    digest_of(r4, 4);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    /* Expired (expires_at 2000). */
    l = login_for(&u, "old", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r1, r2, 2000, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* The family ends 1000 s after its login (at 2000) however often it is
     * refreshed: a successor made at 1950 lives 50 s, not 100. */
    l = login_for(&u, "capped", r2, NULL);
    l.refresh_expires_at = 5000;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r2, r3, 1950, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_INT(rotate(*s, r3, r4, 2000, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
}

CONTRACT(refresh_rotate_follows_the_account)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], r3[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 2);
    digest_of(r3, 3);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "fam", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    /* Disabled (without ending logins): refused while disabled... */
    ch.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1001, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r1, r2, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* ...and works again once enabled, with the role as it is now. */
    ch.disabled = 0;
    ch.role = "admin";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1003, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r1, r2, 1004, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_STR(found.role, "admin");
    /* A new password (even without ending logins) ends the family. */
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.password_hash = "h2";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1005, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r2, r3, 1006, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
}

/* ---- sessions ---- */

CONTRACT(session_get_idle_expiry_slide)
{
    unsigned char s1[STORE_DIGEST_BYTES], s2[STORE_DIGEST_BYTES], s3[STORE_DIGEST_BYTES],
        unknown[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_session ses;

    (void)f;
    digest_of(s1, 1);
    digest_of(s2, 2);
    digest_of(s3, 3);
    digest_of(unknown, 4);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "fam-1", NULL, s1);
    l.session_expires_at = 1500;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    /* idle 100 s, slides when last_seen is 10 s old or more */
    CHECK_INT(STORE_CALL(*s, session_get, s1, 1005, 100, 10, &ses), STORE_OK);
    CHECK_INT(ses.last_seen, 1000);
    CHECK_INT(ses.created_at, 1000);
    CHECK_INT(ses.expires_at, 1500);
    CHECK_INT(ses.user_id, u.id);
    CHECK_STR(ses.sid, "fam-1");
    CHECK_INT(STORE_CALL(*s, session_get, s1, 1050, 100, 10, &ses), STORE_OK);
    CHECK_INT(ses.last_seen, 1050);
    CHECK_INT(STORE_CALL(*s, session_get, s1, 1149, 100, 10, &ses), STORE_OK);
    CHECK_INT(ses.last_seen, 1149);
    /* Idle past 100 s. */
    CHECK_INT(STORE_CALL(*s, session_get, s1, 1249, 100, 10, &ses), STORE_ENOTFOUND);
    /* Expired, however recently used. */
    l = login_for(&u, "fam-2", NULL, s2);
    l.session_expires_at = 1100;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s2, 1095, 100, 10, &ses), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s2, 1100, 100, 10, &ses), STORE_ENOTFOUND);
    /* Revoked; the user disabled; unknown. */
    l = login_for(&u, "fam-3", NULL, s3);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s3, 1001, 100, 10, &ses), STORE_OK);
    ch.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1002, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s3, 1003, 100, 10, &ses), STORE_ENOTFOUND);
    ch.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1004, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s3, 1005, 100, 10, &ses), STORE_OK);
    CHECK_INT(STORE_CALL(*s, sid_revoke, "fam-3", 1006, 5000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, session_get, s3, 1007, 100, 10, &ses), STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, session_get, unknown, 1007, 100, 10, &ses), STORE_ENOTFOUND);
}

/* ---- the revocation log ---- */

CONTRACT(revocations_logged_in_order)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], r3[STORE_DIGEST_BYTES],
        n[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct rev_list revs;
    char key[32];
    int64_t last = -1, again = -1;
    int i;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 2);
    digest_of(r3, 3);
    digest_of(n, 4);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    /* Nothing to revoke and no cutoff: nothing logged. */
    CHECK_INT(STORE_CALL(*s, user_revoke, u.id, NULL, 0, 1000, 5000), STORE_OK);
    l = login_for(&u, "fam-1", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = login_for(&u, "fam-2", r2, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = login_for(&u, "fam-3", r3, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, sid_revoke, "fam-1", 1001, 5000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_revoke, u.id, "fam-3", 1002, 1002, 6000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, token_revoke, "abcdef0123", 1500), STORE_OK);
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1003, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 4);
    for (i = 1; i < revs.n; i++)
        CHECK(revs.rows[i].seq > revs.rows[i - 1].seq);
    CHECK_INT(last, revs.rows[3].seq);
    CHECK_INT(revs.rows[0].kind, STORE_REVOKE_SID);
    CHECK_STR(revs.rows[0].key, "fam-1");
    CHECK_INT(revs.rows[1].kind, STORE_REVOKE_SID);
    CHECK_STR(revs.rows[1].key, "fam-2");
    CHECK_INT(revs.rows[1].expires_at, 6000);
    snprintf(key, sizeof(key), "%lld", (long long)u.id);
    CHECK_INT(revs.rows[2].kind, STORE_REVOKE_USER);
    CHECK_STR(revs.rows[2].key, key);
    CHECK_INT(revs.rows[2].value, 1002);
    CHECK_INT(revs.rows[3].kind, STORE_REVOKE_TOKEN);
    CHECK_STR(revs.rows[3].key, "abcdef0123");
    CHECK_INT(revs.rows[3].expires_at, 1500);
    /* fam-3 was kept, the others are done. */
    CHECK_INT(rotate(*s, r3, n, 1003, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_INT(rotate(*s, r2, n, 1003, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* Nothing after the last seq; last stays. */
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, last, 1003, collect_rev, &revs, &again),
              STORE_OK);
    CHECK_INT(revs.n, 0);
    CHECK_INT(again, last);
    /* Expired rows are not delivered, then purged. */
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1500, collect_rev, &revs, &again), STORE_OK);
    CHECK_INT(revs.n, 3);
    CHECK_INT(STORE_CALL(*s, purge, 5500), STORE_OK);
    CHECK_INT(count_of(*s, "revocations"), 2);
}

CONTRACT(user_update_ends_logins_when_lowered)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES];
    struct store_user admin, u, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct rev_list revs;
    int64_t last = 0;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 3);
    digest_of(n, 2);
    CHECK_INT(store_user_create(*s, "root@example.com", "h", "admin", 1, &admin), STORE_OK);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "sid-1", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    ch.role = "admin";         /* raised: nothing ends */
    ch.end_logins = 1;
    ch.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1001, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r1, n, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_STR(found.role, "admin");
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1002, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 0);
    /* Demoted: the family ends, with a cutoff. */
    ch.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1003, &cur), STORE_OK);
    CHECK_INT(rotate(*s, n, r2, 1004, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1004, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 2);
    CHECK(rev_find(&revs, STORE_REVOKE_SID, "sid-1") >= 0);
    /* Disabling an already disabled user ends a family made meanwhile. */
    ch = (struct store_user_change)STORE_USER_CHANGE_INIT;
    ch.disabled = 1;
    ch.end_logins = 1;
    ch.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1005, &cur), STORE_OK);
    ch.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1006, &cur), STORE_OK);
    l = login_for(&cur, "sid-2", r2, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    ch.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1007, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1008, &cur), STORE_OK);
    ch.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1009, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r2, n, 1010, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
}

CONTRACT(password_change_keeps_the_callers_family)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES],
        n2[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct rev_list revs;
    int64_t last = 0;

    (void)f;
    digest_of(r1, 1);
    digest_of(r2, 3);
    digest_of(n, 2);
    digest_of(n2, 5);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "mine", r1, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = login_for(&u, "other", r2, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    ch.password_hash = "h2";
    ch.expect_password_gen = 0;
    ch.end_logins = 1;
    ch.keep_sid = "mine";
    ch.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1001, &cur), STORE_OK);
    CHECK_INT(cur.password_gen, 1);
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &ch, 1001, &cur), STORE_ESTALE);
    CHECK_INT(rotate(*s, r1, n, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_INT(rotate(*s, r2, n2, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* The other family is logged; no cutoff (the caller's tokens carry a
     * sid). */
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 1002, collect_rev, &revs, &last), STORE_OK);
    CHECK_INT(revs.n, 1);
    CHECK_STR(revs.rows[0].key, "other");
}

CONTRACT(purge_drops_what_expired)
{
    unsigned char r1[STORE_DIGEST_BYTES], s1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_login l;
    int64_t retry;

    (void)f;
    digest_of(r1, 1);
    digest_of(s1, 2);
    digest_of(r2, 3);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = login_for(&u, "old", r1, s1);          /* both expire at 2000 */
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = login_for(&u, "live", r2, NULL);
    l.refresh_expires_at = 900000;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 1000, 5, 60, 60, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, token_revoke, "aa", 3000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, purge, 1999), STORE_OK);
    CHECK_INT(count_of(*s, "refresh_tokens"), 2);
    CHECK_INT(count_of(*s, "sessions"), 1);
    CHECK_INT(count_of(*s, "revocations"), 1);
    CHECK_INT(count_of(*s, "login_failures"), 1);
    /* The tokens go at their expiry, the family with nothing left a day
     * after its login, the counter a day after its window. */
    CHECK_INT(STORE_CALL(*s, purge, 100000), STORE_OK);
    CHECK_INT(count_of(*s, "refresh_tokens"), 1);
    CHECK_INT(count_of(*s, "sessions"), 0);
    CHECK_INT(count_of(*s, "families"), 1);
    CHECK_INT(count_of(*s, "revocations"), 0);
    CHECK_INT(count_of(*s, "login_failures"), 0);
    CHECK_INT(count_of(*s, "users"), 1);
}

/* ---- the lockout ---- */

CONTRACT(login_lookup_reads_the_account_and_reserves_a_guess)
{
    struct store_user u, out;
    int64_t retry = -1;
    int found = -1;

    (void)f;
    CHECK_INT(store_user_create(*s, "ada@example.com", "h1", "user", 1, &u), STORE_OK);
    memset(&out, 0, sizeof(out));
    CHECK_INT(STORE_CALL(*s, login_lookup, "ada@example.com", "ada@example.com", 100, 3, 60, 30,
                         &out, &found, &retry),
              STORE_OK);
    CHECK_INT(found, 1);
    CHECK_INT(out.id, u.id);
    CHECK_STR(out.email, "ada@example.com");
    CHECK_STR(out.password_hash, "h1");
    CHECK_INT(retry, 0);
    /* No such account, or no address at all: a guess counted all the same. */
    CHECK_INT(STORE_CALL(*s, login_lookup, "eve@example.com", "ada@example.com", 100, 3, 60, 30,
                         &out, &found, &retry),
              STORE_OK);
    CHECK_INT(found, 0);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, login_lookup, NULL, "ada@example.com", 100, 3, 60, 30, &out, &found,
                         &retry),
              STORE_OK);
    CHECK_INT(found, 0);
    CHECK_INT(retry, 0);
    /* The fourth guess in the window: locked, the account still read. */
    CHECK_INT(STORE_CALL(*s, login_lookup, "ada@example.com", "ada@example.com", 101, 3, 60, 30,
                         &out, &found, &retry),
              STORE_OK);
    CHECK_INT(found, 1);
    CHECK_INT(retry, 29);
    /* The same counter as lockout_reserve's. */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 28);
    CHECK_INT(STORE_CALL(*s, lockout_reset, "ada@example.com"), STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 103, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 103, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, login_lookup, "ada@example.com", "ada@example.com", 103, 3, 60, 30,
                         &out, &found, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, login_lookup, "ada@example.com", "ada@example.com", 104, 3, 60, 30,
                         &out, &found, &retry),
              STORE_OK);
    CHECK_INT(retry, 29);
}

CONTRACT(lockout_reserve_and_reset)
{
    int64_t retry = -1;
    int i;

    (void)f;
    for (i = 0; i < 3; i++) {
        CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 100, 3, 60, 30, &retry),
                  STORE_OK);
        CHECK_INT(retry, 0);
    }
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 101, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 29);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "bob@example.com", 101, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, lockout_reset, "ada@example.com"), STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 103, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 29);
    /* After the lock and the window, guesses are allowed again; a window
     * that passed without a lock starts over. */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 162, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "bob@example.com", 101 + 60, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "bob@example.com", 101 + 61, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
}

/* ---- health and events ---- */

CONTRACT(ping_answers)
{
    char why[128] = "";

    (void)f;
    CHECK_INT(STORE_CALL(*s, ping, why, sizeof(why)), STORE_OK);
}

struct events {
    int n, resync, revocation, keys, user;
    int64_t user_ids[16];
    int n_users;
};

static void on_event(void *ctx, enum store_event event, int64_t user_id)
{
    struct events *e = ctx;

    e->n++;
    if (event == STORE_EVENT_RESYNC)
        e->resync++;
    if (event == STORE_EVENT_REVOCATION)
        e->revocation++;
    if (event == STORE_EVENT_KEYS)
        e->keys++;
    if (event == STORE_EVENT_USER) {
        e->user++;
        if (e->n_users < 16)
            e->user_ids[e->n_users++] = user_id;
    }
}

/* Waits (at most 3 s) until pred holds for e. */
static int wait_until(struct store *s, struct events *e, int (*pred)(const struct events *))
{
    int64_t end = fx_now_ms() + 3000;

    while (!pred(e) && fx_now_ms() < end)
        STORE_CALL(s, wait_events, 200, on_event, e);
    return pred(e);
}

static int got_resync(const struct events *e)
{
    return e->resync > 0;
}

static int got_revocation(const struct events *e)
{
    return e->revocation > 0;
}

static int got_user(const struct events *e)
{
    return e->user > 0;
}

static int got_keys(const struct events *e)
{
    return e->keys > 0;
}

CONTRACT(wait_events_announces_other_writers)
{
    struct store *other = NULL;
    struct store_user u, cur;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_key key;
    struct events e;
    char err[256];
    int64_t t0, version = -1;
    unsigned char sealed[4] = {1, 2, 3, 4};

    memset(&e, 0, sizeof(e));
    if (!f->pg) {
        /* SQLite announces nothing: the call paces a poller and returns. */
        t0 = fx_now_ms();
        CHECK_INT(STORE_CALL(*s, wait_events, 150, on_event, &e), STORE_OK);
        CHECK(fx_now_ms() - t0 >= 140);
        CHECK_INT(e.n, 0);
        return;
    }
    /* The first connection: nothing before its LISTEN was heard. */
    CHECK(wait_until(*s, &e, got_resync));
    CHECK_INT(fixture_open(f, &other, err, sizeof(err)), STORE_OK);
    CHECK_INT(store_user_create(other, "root@example.com", "h", "admin", 1, &cur), STORE_OK);
    CHECK_INT(store_user_create(other, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    memset(&e, 0, sizeof(e));
    CHECK_INT(STORE_CALL(other, token_revoke, "ff00", 5000), STORE_OK);
    CHECK(wait_until(*s, &e, got_revocation));
    memset(&e, 0, sizeof(e));
    ch.role = "admin";
    CHECK_INT(STORE_CALL(other, user_update, u.id, &ch, 2, &cur), STORE_OK);
    CHECK(wait_until(*s, &e, got_user));
    CHECK_INT(e.user_ids[0], u.id);
    memset(&e, 0, sizeof(e));
    CHECK_INT(STORE_CALL(other, keys_list, NULL, NULL, &version), STORE_OK);
    memset(&key, 0, sizeof(key));
    snprintf(key.kid, sizeof(key.kid), "k1");
    snprintf(key.alg, sizeof(key.alg), "EdDSA");
    key.sealed = sealed;
    key.sealed_len = sizeof(sealed);
    CHECK_INT(STORE_CALL(other, keys_apply, version, &key, NULL, 0), STORE_OK);
    CHECK(wait_until(*s, &e, got_keys));
    memset(&e, 0, sizeof(e));
    CHECK_INT(STORE_CALL(other, user_delete, u.id, 3, 100), STORE_OK);
    CHECK(wait_until(*s, &e, got_user));
    CHECK_INT(e.user_ids[0], u.id);
    /* The listening connection is killed: the next wait makes it again and
     * says events may have been lost. */
    CHECK(fx_pg_int(f->conninfo, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND query LIKE 'LISTEN%'") ==
          1);
    memset(&e, 0, sizeof(e));
    CHECK(wait_until(*s, &e, got_resync));
    /* And it hears again. */
    memset(&e, 0, sizeof(e));
    CHECK_INT(STORE_CALL(other, token_revoke, "ff01", 5000), STORE_OK);
    CHECK(wait_until(*s, &e, got_revocation));
    store_close(other);
}

/* ---- keys and secrets ---- */

struct key_list {
    int n;
    char kids[8][STORE_KID_BYTES + 1];
    char algs[8][16];
    int64_t signs_from[8];
    unsigned char sealed[8][64];
    size_t sealed_len[8];
};

static void collect_key(void *ctx, const struct store_key *k)
{
    struct key_list *l = ctx;

    if (l->n >= 8 || k->sealed_len > 64)
        return;
    snprintf(l->kids[l->n], sizeof(l->kids[0]), "%s", k->kid);
    snprintf(l->algs[l->n], sizeof(l->algs[0]), "%s", k->alg);
    l->signs_from[l->n] = k->signs_from;
    memcpy(l->sealed[l->n], k->sealed, k->sealed_len);
    l->sealed_len[l->n] = k->sealed_len;
    l->n++;
}

static struct store_key key_named(const char *kid, int64_t signs_from,
                                  const unsigned char *sealed, size_t len)
{
    struct store_key k;

    memset(&k, 0, sizeof(k));
    snprintf(k.kid, sizeof(k.kid), "%s", kid);
    snprintf(k.alg, sizeof(k.alg), "ES256");
    k.created_at = signs_from - 10;
    k.signs_from = signs_from;
    k.sealed = sealed;
    k.sealed_len = len;
    return k;
}

struct apply_worker {
    struct fixture *f;
    pthread_barrier_t *start;
    int64_t version;
    int index, rc;
};

static void *apply_main(void *arg)
{
    struct apply_worker *w = arg;
    struct store *s = NULL;
    struct store_key k;
    unsigned char sealed[3] = {9, 9, 9};
    char err[256], kid[16];
    int opened = fixture_open(w->f, &s, err, sizeof(err));

    pthread_barrier_wait(w->start);
    w->rc = -1000;
    if (opened != STORE_OK)
        return NULL;
    snprintf(kid, sizeof(kid), "w%d", w->index);
    k = key_named(kid, 100, sealed, sizeof(sealed));
    w->rc = STORE_CALL(s, keys_apply, w->version, &k, NULL, 0);
    store_close(s);
    return NULL;
}

CONTRACT(keys_compare_and_set)
{
    static const unsigned char a[] = {0, 1, 0, 2, 0xff}, b[] = {7};
    struct store_key k;
    struct key_list l;
    struct apply_worker w[4];
    pthread_barrier_t start;
    pthread_t th[4];
    const char *drop[1] = {"k1"};
    int64_t v0 = -1, v1 = -1, v2 = -1;
    int i, won = 0, lost = 0;

    memset(&l, 0, sizeof(l));
    if (!f->pg) {
        k = key_named("k1", 100, a, sizeof(a));
        CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v0), STORE_ENOTSUP);
        CHECK_INT(STORE_CALL(*s, keys_apply, 0, &k, NULL, 0), STORE_ENOTSUP);
        return;
    }
    CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v0), STORE_OK);
    CHECK_INT(l.n, 0);
    k = key_named("k1", 200, a, sizeof(a));
    CHECK_INT(STORE_CALL(*s, keys_apply, v0, &k, NULL, 0), STORE_OK);
    /* Another instance that read v0 too loses. */
    k = key_named("k2", 100, b, sizeof(b));
    CHECK_INT(STORE_CALL(*s, keys_apply, v0, &k, NULL, 0), STORE_ECONFLICT);
    CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v1), STORE_OK);
    CHECK(v1 != v0);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.kids[0], "k1");
    CHECK_STR(l.algs[0], "ES256");
    CHECK_INT(l.sealed_len[0], sizeof(a));
    CHECK(memcmp(l.sealed[0], a, sizeof(a)) == 0);
    /* Add k2 (signs from earlier: listed first) and drop k1 at once. */
    CHECK_INT(STORE_CALL(*s, keys_apply, v1, &k, NULL, 0), STORE_OK);
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v2), STORE_OK);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.kids[0], "k2");
    CHECK_STR(l.kids[1], "k1");
    CHECK_INT(STORE_CALL(*s, keys_apply, v2, NULL, drop, 1), STORE_OK);
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v2), STORE_OK);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.kids[0], "k2");
    /* Four instances rotating at once from one version: one wins. */
    pthread_barrier_init(&start, NULL, 4);
    for (i = 0; i < 4; i++) {
        w[i].f = f;
        w[i].start = &start;
        w[i].version = v2;
        w[i].index = i;
        pthread_create(&th[i], NULL, apply_main, &w[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        won += w[i].rc == STORE_OK;
        lost += w[i].rc == STORE_ECONFLICT;
    }
    pthread_barrier_destroy(&start);
    CHECK_INT(won, 1);
    CHECK_INT(lost, 3);
    memset(&l, 0, sizeof(l));
    CHECK_INT(STORE_CALL(*s, keys_list, collect_key, &l, &v2), STORE_OK);
    CHECK_INT(l.n, 2);
}

struct secret_worker {
    struct fixture *f;
    pthread_barrier_t *start;
    int index, rc;
    unsigned char got[32];
    size_t got_len;
};

static void *secret_main(void *arg)
{
    struct secret_worker *w = arg;
    struct store *s = NULL;
    unsigned char candidate[32];
    char err[256];
    int opened = fixture_open(w->f, &s, err, sizeof(err));

    pthread_barrier_wait(w->start);
    w->rc = -1000;
    if (opened != STORE_OK)
        return NULL;
    memset(candidate, 'a' + w->index, sizeof(candidate));
    w->rc = STORE_CALL(s, secret_get_or_put, "race", candidate, sizeof(candidate), w->got,
                       sizeof(w->got), &w->got_len);
    store_close(s);
    return NULL;
}

CONTRACT(secret_first_writer_wins)
{
    static const unsigned char a[] = {1, 0, 2}, b[] = {3, 3, 3, 3};
    unsigned char out[16], small[2];
    size_t len = 0;
    struct secret_worker w[4];
    pthread_barrier_t start;
    pthread_t th[4];
    int i;

    if (!f->pg) {
        CHECK_INT(STORE_CALL(*s, secret_get_or_put, "hs", a, sizeof(a), out, sizeof(out), &len),
                  STORE_ENOTSUP);
        return;
    }
    CHECK_INT(STORE_CALL(*s, secret_get_or_put, "hs", a, sizeof(a), out, sizeof(out), &len),
              STORE_OK);
    CHECK_INT(len, sizeof(a));
    CHECK(memcmp(out, a, sizeof(a)) == 0);
    CHECK_INT(STORE_CALL(*s, secret_get_or_put, "hs", b, sizeof(b), out, sizeof(out), &len),
              STORE_OK);
    CHECK_INT(len, sizeof(a));
    CHECK(memcmp(out, a, sizeof(a)) == 0);
    CHECK(STORE_CALL(*s, secret_get_or_put, "hs", b, sizeof(b), small, sizeof(small), &len) !=
          STORE_OK);
    pthread_barrier_init(&start, NULL, 4);
    for (i = 0; i < 4; i++) {
        w[i].f = f;
        w[i].start = &start;
        w[i].index = i;
        pthread_create(&th[i], NULL, secret_main, &w[i]);
    }
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < 4; i++) {
        CHECK_INT(w[i].rc, STORE_OK);
        CHECK_INT(w[i].got_len, 32);
        CHECK(memcmp(w[i].got, w[0].got, 32) == 0);
    }
}


/* ---- issue 11: email tokens, the outbox, the second factor ---- */

static struct store_mail mail_of(const char *id, const char *to, int64_t expires_at)
{
    static const unsigned char sealed[] = "sealed body, not a link";
    struct store_mail m;

    m.id = id;
    m.recipient = to;
    m.sealed = sealed;
    m.sealed_len = sizeof(sealed);
    m.expires_at = expires_at;
    return m;
}

struct mail_list {
    int n;
    char ids[16][STORE_MAIL_ID_BYTES + 1];
    int64_t attempts[16];
    size_t sealed_len[16];
};

static void collect_mail(void *ctx, const struct store_outbox_row *row)
{
    struct mail_list *l = ctx;

    if (l->n < 16) {
        snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", row->id);
        l->attempts[l->n] = row->attempts;
        l->sealed_len[l->n++] = row->sealed_len;
    }
}

/* A row written the way latch wrote users before issue 11 (no
 * email_verified): it reads as verified, which is what the migration gives
 * the users that exist when it runs (ADD COLUMN ... DEFAULT 1). */
CONTRACT(users_from_before_verification_count_as_verified)
{
    static const char sql[] =
        "INSERT INTO users (email, password_hash, role, created_at, updated_at) "
        "VALUES ('old@example.com', 'h', 'user', 1, 1)";
    struct store_user got;
    sqlite3 *db = NULL;
    int rc;

    if (f->pg) {
        rc = fx_pg_exec(f->conninfo, sql);
    } else {
        rc = sqlite3_open(f->path, &db) == SQLITE_OK &&
                     sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -1;
        sqlite3_close(db);
    }
    CHECK_INT(rc, 0);
    CHECK_INT(store_user_by_email(*s, "old@example.com", &got), STORE_OK);
    CHECK_INT(got.email_verified, 1);
    CHECK_INT(got.mfa, 0);
}

CONTRACT(register_and_verify_email)
{
    unsigned char t1[STORE_DIGEST_BYTES], t2[STORE_DIGEST_BYTES];
    struct store_mail m = mail_of("mail-1", "ada@example.com", 2000);
    struct store_user u, got, dup;
    int64_t pending = -1, oldest = -1;

    (void)f;
    digest_of(t1, 1);
    digest_of(t2, 2);
    CHECK_INT(STORE_CALL(*s, user_register, "ada@example.com", "h", "user", 1000, t1, 1000 + 86400,
                         &m, &u),
              STORE_OK);
    CHECK(u.id > 0);
    CHECK_INT(u.email_verified, 0);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_INT(got.email_verified, 0);
    CHECK_INT(got.mfa, 0);
    /* The mail was queued with the user, in the same transaction. */
    CHECK_INT(STORE_CALL(*s, outbox_stats, &pending, &oldest), STORE_OK);
    CHECK_INT(pending, 1);
    CHECK_INT(oldest, 1000);
    /* A taken email queues nothing. */
    m.id = "mail-2";
    CHECK_INT(STORE_CALL(*s, user_register, "ada@example.com", "h", "user", 1000, t2, 99999, &m,
                         &dup),
              STORE_ECONFLICT);
    CHECK_INT(STORE_CALL(*s, outbox_stats, &pending, &oldest), STORE_OK);
    CHECK_INT(pending, 1);
    /* Users made otherwise start verified. */
    CHECK_INT(store_user_create(*s, "bob@example.com", "h", "user", 1000, &dup), STORE_OK);
    CHECK_INT(store_user_by_id(*s, dup.id, &got), STORE_OK);
    CHECK_INT(got.email_verified, 1);
    /* The token: found while live, of its kind only; used once. */
    CHECK_INT(STORE_CALL(*s, email_token_find, STORE_TOKEN_VERIFY, t1, 1001, &got), STORE_OK);
    CHECK_INT(got.id, u.id);
    CHECK_INT(STORE_CALL(*s, email_token_find, STORE_TOKEN_RESET, t1, 1001, &got),
              STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, email_verify, t1, 1000 + 86400, &got), STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, email_verify, t1, 1002, &got), STORE_OK);
    CHECK_INT(got.id, u.id);
    CHECK_INT(got.email_verified, 1);
    CHECK_INT(STORE_CALL(*s, email_verify, t1, 1003, &got), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_INT(got.email_verified, 1);
    /* A verify token issued later works too; an unknown user gets none. */
    m.id = "mail-3";
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_VERIFY, t2, 5000, &m, 1004),
              STORE_OK);
    m.id = "mail-4";
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id + 100, STORE_TOKEN_VERIFY, t1, 5000, &m,
                         1004),
              STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, outbox_stats, &pending, &oldest), STORE_OK);
    CHECK_INT(pending, 2);
    CHECK_INT(count_of(*s, "email_tokens"), 1);
}

CONTRACT(password_reset_is_single_use_and_ends_logins)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], r3[STORE_DIGEST_BYTES],
        ref[STORE_DIGEST_BYTES], succ[STORE_DIGEST_BYTES];
    struct store_mail m = mail_of("m1", "ada@example.com", 5000);
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user u, other, got, cur;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    int64_t retry = 0;

    (void)f;
    digest_of(r1, 11);
    digest_of(r2, 12);
    digest_of(r3, 13);
    digest_of(ref, 14);
    digest_of(succ, 15);
    CHECK_INT(store_user_create(*s, "ada@example.com", "old", "user", 1000, &u), STORE_OK);
    CHECK_INT(store_user_create(*s, "bob@example.com", "h", "user", 1000, &other), STORE_OK);
    l = login_for(&u, "fam-a", ref, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 1000, 5, 600, 600, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_RESET, r1, 3000, &m, 1000),
              STORE_OK);
    /* A newer request supersedes the older link. */
    m.id = "m2";
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_RESET, r2, 3000, &m, 1001),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, email_token_find, STORE_TOKEN_RESET, r1, 1002, &got),
              STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, email_token_find, STORE_TOKEN_RESET, r2, 1002, &got), STORE_OK);
    /* Another user's id, an expired token: nothing changes. */
    m.id = "m3";
    CHECK_INT(STORE_CALL(*s, password_reset, r2, other.id, "new", 1003, 9000, &m, &got),
              STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, password_reset, r2, u.id, "new", 3000, 9000, &m, &got),
              STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "old");
    CHECK_INT(STORE_CALL(*s, password_reset, r2, u.id, "new", 1003, 9000, &m, &got), STORE_OK);
    CHECK_STR(got.password_hash, "new");
    CHECK_INT(got.password_gen, u.password_gen + 1);
    CHECK_INT(got.email_verified, 1);
    CHECK_INT(count_of(*s, "login_failures"), 0);
    /* Once only; the login before it is over. */
    m.id = "m4";
    CHECK_INT(STORE_CALL(*s, password_reset, r2, u.id, "newer", 1004, 9000, &m, &got),
              STORE_ENOTFOUND);
    CHECK_INT(rotate(*s, ref, succ, 1005, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* Any password change ends a reset token issued before it. */
    m.id = "m5";
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_RESET, r3, 3000, &m, 1006),
              STORE_OK);
    change.password_hash = "by-admin";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1007, &got), STORE_OK);
    CHECK_INT(STORE_CALL(*s, email_token_find, STORE_TOKEN_RESET, r3, 1008, &got),
              STORE_ENOTFOUND);
    m.id = "m6";
    CHECK_INT(STORE_CALL(*s, password_reset, r3, u.id, "x", 1008, 9000, &m, &got),
              STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_STR(got.password_hash, "by-admin");
}

CONTRACT(outbox_claim_retry_done_expire)
{
    struct store_mail m1 = mail_of("a1", "ada@example.com", 5000);
    struct store_mail m2 = mail_of("a2", "ada@example.com", 1500);
    unsigned char t1[STORE_DIGEST_BYTES], t2[STORE_DIGEST_BYTES];
    struct store_user u;
    struct mail_list got;
    int64_t dropped = -1, pending = -1, oldest = -1;

    (void)f;
    digest_of(t1, 21);
    digest_of(t2, 22);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1000, &u), STORE_OK);
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_VERIFY, t1, 5000, &m1, 1000),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_VERIFY, t2, 1500, &m2, 1001),
              STORE_OK);
    memset(&got, 0, sizeof(got));
    CHECK_INT(STORE_CALL(*s, outbox_claim, 1002, 1062, 10, collect_mail, &got), STORE_OK);
    CHECK_INT(got.n, 2);
    CHECK_STR(got.ids[0], "a1");
    CHECK(got.sealed_len[0] > 0);
    /* Leased: not claimed again until the lease runs out. */
    memset(&got, 0, sizeof(got));
    CHECK_INT(STORE_CALL(*s, outbox_claim, 1003, 1063, 10, collect_mail, &got), STORE_OK);
    CHECK_INT(got.n, 0);
    CHECK_INT(STORE_CALL(*s, outbox_retry, "a1", 1100), STORE_OK);
    /* a2's lease ran out (a sender that died): claimed again; a1 waits
     * for its next attempt. */
    memset(&got, 0, sizeof(got));
    CHECK_INT(STORE_CALL(*s, outbox_claim, 1099, 1159, 10, collect_mail, &got), STORE_OK);
    CHECK_INT(got.n, 1);
    CHECK_STR(got.ids[0], "a2");
    memset(&got, 0, sizeof(got));
    CHECK_INT(STORE_CALL(*s, outbox_claim, 1100, 1160, 10, collect_mail, &got), STORE_OK);
    CHECK_INT(got.n, 1);
    CHECK_STR(got.ids[0], "a1");
    CHECK_INT(got.attempts[0], 1);
    CHECK_INT(STORE_CALL(*s, outbox_done, "a1"), STORE_OK);
    /* a2's lease ran out, but so did its token: dropped, never sent. */
    memset(&got, 0, sizeof(got));
    CHECK_INT(STORE_CALL(*s, outbox_claim, 1500, 1560, 10, collect_mail, &got), STORE_OK);
    CHECK_INT(got.n, 0);
    CHECK_INT(STORE_CALL(*s, outbox_expire, 1500, &dropped), STORE_OK);
    CHECK_INT(dropped, 1);
    CHECK_INT(STORE_CALL(*s, outbox_stats, &pending, &oldest), STORE_OK);
    CHECK_INT(pending, 0);
    CHECK_INT(oldest, 0);
}

CONTRACT(totp_enrol_confirm_and_steps)
{
    unsigned char codes[3][STORE_DIGEST_BYTES], sealed[60];
    struct store_totp t;
    struct store_user u, got;
    char ad[64];
    size_t len = 0;

    (void)f;
    memset(sealed, 7, sizeof(sealed));
    digest_of(codes[0], 31);
    digest_of(codes[1], 32);
    digest_of(codes[2], 33);
    CHECK_INT(STORE_CALL(*s, sealed_any, ad, sizeof(ad), sealed, sizeof(sealed), &len),
              STORE_ENOTFOUND);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1000, &u), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_put, u.id + 100, sealed, sizeof(sealed), 1000), STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, totp_get, u.id, &t), STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, totp_put, u.id, sealed, sizeof(sealed), 1000), STORE_OK);
    /* Unconfirmed: replaced by a new enrolment, and the user has no mfa. */
    sealed[0] = 8;
    CHECK_INT(STORE_CALL(*s, totp_put, u.id, sealed, sizeof(sealed), 1001), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_get, u.id, &t), STORE_OK);
    CHECK_INT(t.confirmed, 0);
    CHECK_INT(t.last_step, -1);
    CHECK_INT((int)t.sealed_len, (int)sizeof(sealed));
    CHECK_INT(t.sealed[0], 8);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_INT(got.mfa, 0);
    CHECK_INT(STORE_CALL(*s, totp_use_step, u.id, 50), STORE_ENOTFOUND);
    CHECK_INT(STORE_CALL(*s, totp_confirm, u.id, 50, codes, 3, 1002), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_confirm, u.id, 51, codes, 3, 1002), STORE_ECONFLICT);
    CHECK_INT(STORE_CALL(*s, totp_put, u.id, sealed, sizeof(sealed), 1003), STORE_ECONFLICT);
    CHECK_INT(count_of(*s, "recovery_codes"), 3);
    CHECK_INT(store_user_by_id(*s, u.id, &got), STORE_OK);
    CHECK_INT(got.mfa, 1);
    CHECK_INT(store_user_by_email(*s, "ada@example.com", &got), STORE_OK);
    CHECK_INT(got.mfa, 1);
    /* Steps only move forward: the confirming step and older are spent. */
    CHECK_INT(STORE_CALL(*s, totp_use_step, u.id, 50), STORE_EREPLAY);
    CHECK_INT(STORE_CALL(*s, totp_use_step, u.id, 49), STORE_EREPLAY);
    CHECK_INT(STORE_CALL(*s, totp_use_step, u.id, 51), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_use_step, u.id, 51), STORE_EREPLAY);
    CHECK_INT(STORE_CALL(*s, totp_get, u.id, &t), STORE_OK);
    CHECK_INT(t.last_step, 51);
    CHECK_INT(STORE_CALL(*s, sealed_any, ad, sizeof(ad), sealed, sizeof(sealed), &len), STORE_OK);
    CHECK(strncmp(ad, "totp:", 5) == 0);
    CHECK_INT((int)len, (int)sizeof(sealed));
}

CONTRACT(mfa_login_second_step)
{
    unsigned char m1[STORE_DIGEST_BYTES], m2[STORE_DIGEST_BYTES], m3[STORE_DIGEST_BYTES],
        rec[2][STORE_DIGEST_BYTES], sealed[60], ref[STORE_DIGEST_BYTES], succ[STORE_DIGEST_BYTES];
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user u, cur, got;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    int64_t uid = 0, gen = -1;
    int i;

    (void)f;
    memset(sealed, 1, sizeof(sealed));
    digest_of(m1, 41);
    digest_of(m2, 42);
    digest_of(m3, 43);
    digest_of(rec[0], 44);
    digest_of(rec[1], 45);
    digest_of(ref, 46);
    digest_of(succ, 47);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1000, &u), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_put, u.id, sealed, sizeof(sealed), 1000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, totp_confirm, u.id, 10, rec, 2, 1000), STORE_OK);
    /* The password alone no longer makes a login. */
    l = login_for(&u, "fam-pwd", NULL, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ESTALE);
    CHECK_INT(STORE_CALL(*s, mfa_token_issue, m1, u.id, u.password_gen, 1300), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m1, 1000, &uid, &gen), STORE_OK);
    CHECK_INT(uid, u.id);
    CHECK_INT(gen, u.password_gen);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m1, 1300, &uid, &gen), STORE_ENOTFOUND);
    /* A spent step: nothing recorded, the mfa_token stays. */
    l = login_for(&u, "fam-otp", ref, NULL);
    l.mfa_digest = m1;
    l.totp_step = 10;
    l.amr = STORE_AMR_OTP;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_EREPLAY);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m1, 1001, &uid, &gen), STORE_OK);
    l.totp_step = 11;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m1, 1001, &uid, &gen), STORE_ENOTFOUND);
    /* The mfa_token once; the refresh keeps the amr. */
    l.sid = "fam-otp-2";
    l.totp_step = 12;
    l.refresh_digest = NULL;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_EREPLAY);
    CHECK_INT(rotate(*s, ref, succ, 1002, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_STR(found.amr, "pwd otp");
    CHECK_INT(found.email_verified, 1);
    /* A recovery code once. */
    CHECK_INT(STORE_CALL(*s, mfa_token_issue, m2, u.id, u.password_gen, 1300), STORE_OK);
    l = login_for(&u, "fam-rec", NULL, NULL);
    l.mfa_digest = m2;
    l.recovery_digest = rec[0];
    l.amr = STORE_AMR_RECOVERY;
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_issue, m3, u.id, u.password_gen, 1300), STORE_OK);
    l.mfa_digest = m3;
    l.sid = "fam-rec-2";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_EREPLAY);
    CHECK_INT(count_of(*s, "recovery_codes"), 1);
    /* Five wrong codes end an mfa_token. */
    for (i = 0; i < 4; i++)
        CHECK_INT(STORE_CALL(*s, mfa_token_fail, m3, 5), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m3, 1001, &uid, &gen), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_fail, m3, 5), STORE_OK);
    CHECK_INT(STORE_CALL(*s, mfa_token_get, m3, 1001, &uid, &gen), STORE_ENOTFOUND);
    /* mfa off (an admin): the factor, the codes and the logins go. */
    CHECK_INT(STORE_CALL(*s, mfa_token_issue, m3, u.id, u.password_gen, 1300), STORE_OK);
    change.mfa_off = 1;
    change.end_logins = 1;
    change.memo_until = 9000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1010, &got), STORE_OK);
    CHECK_INT(got.mfa, 0);
    CHECK_INT(count_of(*s, "totp"), 0);
    CHECK_INT(count_of(*s, "recovery_codes"), 0);
    CHECK_INT(count_of(*s, "mfa_tokens"), 0);
    CHECK_INT(rotate(*s, succ, ref, 1011, &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    l = login_for(&u, "fam-after", NULL, NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
}

/* ---- moving between backends ---- */

/* A table's rows, deep-copied. */
struct table_copy {
    int n, cap;
    struct store_row *rows;
    int failed;
};

static int keep_row(void *ctx, const struct store_row *row)
{
    struct table_copy *t = ctx;
    struct store_row *r;
    int i;

    if (t->n == t->cap) {
        struct store_row *grown = realloc(t->rows, sizeof(*grown) * (size_t)(t->cap * 2 + 8));
        if (grown == NULL) {
            t->failed = 1;
            return 1;
        }
        t->rows = grown;
        t->cap = t->cap * 2 + 8;
    }
    r = &t->rows[t->n++];
    *r = *row;
    for (i = 0; i < row->n; i++) {
        if (row->v[i].type == STORE_TEXT || row->v[i].type == STORE_BLOB) {
            void *p = malloc(row->v[i].len + 1);
            if (p == NULL) {
                t->failed = 1;
                return 1;
            }
            if (row->v[i].len > 0)
                memcpy(p, row->v[i].p, row->v[i].len);
            r->v[i].p = p;
        } else {
            r->v[i].p = NULL;
        }
    }
    return 0;
}

static void table_copy_free(struct table_copy *t)
{
    int i, k;

    for (i = 0; i < t->n; i++)
        for (k = 0; k < t->rows[i].n; k++)
            free((void *)t->rows[i].v[k].p);
    free(t->rows);
    memset(t, 0, sizeof(*t));
}

/* Whether a and b hold the same rows, value for value; says where not. */
static int same_rows(const char *table, const struct table_copy *a, const struct table_copy *b)
{
    int i, k;

    if (a->n != b->n) {
        test_failed(__FILE__, __LINE__, "%s: %d rows != %d rows", table, a->n, b->n);
        return 0;
    }
    for (i = 0; i < a->n; i++) {
        if (a->rows[i].n != b->rows[i].n) {
            test_failed(__FILE__, __LINE__, "%s row %d: column counts", table, i);
            return 0;
        }
        for (k = 0; k < a->rows[i].n; k++) {
            const struct store_value *x = &a->rows[i].v[k], *y = &b->rows[i].v[k];
            if (x->type != y->type || (x->type == STORE_INT && x->i != y->i) ||
                ((x->type == STORE_TEXT || x->type == STORE_BLOB) &&
                 (x->len != y->len || (x->len > 0 && memcmp(x->p, y->p, x->len) != 0)))) {
                test_failed(__FILE__, __LINE__, "%s row %d column %d differs (types %d/%d)",
                            table, i, k, x->type, y->type);
                return 0;
            }
        }
    }
    return 1;
}

/* Copies every table of from into to, as `latch db copy` would. */
static int copy_all(struct store *from, struct store *to)
{
    struct table_copy t;
    int i, rc = STORE_OK;

    for (i = 0; i < store_n_tables && rc == STORE_OK; i++) {
        memset(&t, 0, sizeof(t));
        rc = STORE_CALL(from, table_rows, store_tables[i].name, keep_row, &t);
        if (rc == STORE_OK && t.failed)
            rc = STORE_ENOMEM;
        if (rc == STORE_OK && t.n > 0)
            rc = STORE_CALL(to, table_insert, store_tables[i].name, t.rows, t.n);
        table_copy_free(&t);
    }
    return rc == STORE_OK ? to->ops->table_copy_done(to) : rc;
}

/* Whether every table of a equals the same table of b. */
static int same_tables(struct store *a, struct store *b)
{
    struct table_copy x, y;
    int i, same = 1;

    for (i = 0; i < store_n_tables && same; i++) {
        memset(&x, 0, sizeof(x));
        memset(&y, 0, sizeof(y));
        if (STORE_CALL(a, table_rows, store_tables[i].name, keep_row, &x) != STORE_OK ||
            STORE_CALL(b, table_rows, store_tables[i].name, keep_row, &y) != STORE_OK ||
            x.failed || y.failed) {
            test_failed(__FILE__, __LINE__, "%s: reading rows failed", store_tables[i].name);
            same = 0;
        } else {
            same = same_rows(store_tables[i].name, &x, &y) && count_of(a, store_tables[i].name) ==
                                                                  x.n;
        }
        table_copy_free(&x);
        table_copy_free(&y);
    }
    return same;
}

static int stop_at_first(void *ctx, const struct store_row *row)
{
    (void)row;
    (*(int *)ctx)++;
    return 1;
}

/*
 * Every table filled, copied into the other backend (PostgreSQL when this
 * runs on SQLite and LATCH_TEST_PG is set, and the other way round; else a
 * second SQLite), compared, cleared here and copied back.  Ids and seqs
 * keep going after the largest copied.
 */
CONTRACT(tables_copy_round_trip)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], s1[STORE_DIGEST_BYTES],
        s2[STORE_DIGEST_BYTES];
    struct store_user a, u, gone, cur, next;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct fixture other_f;
    struct store *other = NULL;
    struct rev_list revs;
    struct table_copy t;
    char err[256] = "";
    int64_t retry, last = 0, max_seq = 0;
    int i, seen = 0, other_pg = !f->pg && fx_pg_base() != NULL;

    digest_of(r1, 1);
    digest_of(r2, 2);
    digest_of(s1, 3);
    digest_of(s2, 4);
    CHECK_INT(store_user_create(*s, "root@example.com", "$argon2id$x", "admin", 10, &a), STORE_OK);
    CHECK_INT(store_user_create(*s, "gone@example.com", "h", "user", 11, &gone), STORE_OK);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h'\\\"", "user", 12, &u), STORE_OK);
    l = login_for(&u, "fam-1", r1, s1);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(rotate(*s, r1, r2, 1001, &outcome, &found), STORE_OK);
    CHECK_INT(STORE_CALL(*s, sid_revoke, "fam-1", 1002, 9000), STORE_OK);
    l = login_for(&u, "fam-2", NULL, s2);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_delete, gone.id, 1003, 9000), STORE_OK);
    CHECK_INT(STORE_CALL(*s, token_revoke, "", 9000), STORE_OK);   /* an empty text value */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 1000, 5, 60, 60, &retry),
              STORE_OK);
    {
        unsigned char tok[STORE_DIGEST_BYTES], mfa[STORE_DIGEST_BYTES], sealed[60],
            codes[2][STORE_DIGEST_BYTES];
        struct store_mail m = mail_of("copy-mail", "ada@example.com", 9000);
        digest_of(tok, 90);
        digest_of(mfa, 91);
        digest_of(codes[0], 92);
        digest_of(codes[1], 93);
        memset(sealed, 0xAB, sizeof(sealed));
        CHECK_INT(STORE_CALL(*s, email_token_issue, u.id, STORE_TOKEN_RESET, tok, 9000, &m, 1004),
                  STORE_OK);
        CHECK_INT(STORE_CALL(*s, totp_put, u.id, sealed, sizeof(sealed), 1004), STORE_OK);
        CHECK_INT(STORE_CALL(*s, totp_confirm, u.id, 5, codes, 2, 1004), STORE_OK);
        CHECK_INT(STORE_CALL(*s, mfa_token_issue, mfa, u.id, 0, 9000), STORE_OK);
    }
    memset(&revs, 0, sizeof(revs));
    CHECK_INT(STORE_CALL(*s, revocations_since, 0, 0, collect_rev, &revs, &max_seq), STORE_OK);
    for (i = 0; i < store_n_tables; i++)
        CHECK(count_of(*s, store_tables[i].name) > 0);

    if (fixture_make(&other_f, other_pg) != 0 ||
        fixture_open(&other_f, &other, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "the other store: %s", err);
        goto cleanup;
    }
    if (copy_all(*s, other) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "copy into %s failed", other->ops->name);
        goto cleanup;
    }
    if (!same_tables(*s, other))
        goto cleanup;
    /* A stopping callback stops. */
    if (STORE_CALL(other, table_rows, "users", stop_at_first, &seen) != STORE_OK || seen != 1) {
        test_failed(__FILE__, __LINE__, "table_rows did not stop: %d", seen);
        goto cleanup;
    }
    /* An unknown table is refused (names go into SQL). */
    memset(&t, 0, sizeof(t));
    if (STORE_CALL(other, table_rows, "users; DROP TABLE users", keep_row, &t) == STORE_OK) {
        test_failed(__FILE__, __LINE__, "an unknown table was read");
        goto cleanup;
    }
    /* Back: cleared here, filled from the other. */
    if ((*s)->ops->tables_clear(*s) != STORE_OK || count_of(*s, "users") != 0 ||
        count_of(*s, "revocations") != 0 || count_of(*s, "families") != 0) {
        test_failed(__FILE__, __LINE__, "tables_clear left rows");
        goto cleanup;
    }
    if (copy_all(other, *s) != STORE_OK || !same_tables(*s, other)) {
        test_failed(__FILE__, __LINE__, "copy back failed");
        goto cleanup;
    }
    /* Ids and seqs continue after the largest copied, on both sides; the
     * deleted user's id is not given again. */
    if (store_user_create(other, "new@example.com", "h", "user", 20, &next) != STORE_OK ||
        next.id <= u.id || store_user_create(*s, "new@example.com", "h", "user", 20, &next) !=
                               STORE_OK ||
        next.id <= u.id) {
        test_failed(__FILE__, __LINE__, "a new id after the copy is not past %lld",
                    (long long)u.id);
        goto cleanup;
    }
    if (STORE_CALL(other, token_revoke, "new", 9000) != STORE_OK ||
        STORE_CALL(other, revocations_since, max_seq, 0, collect_rev, &revs, &last) != STORE_OK ||
        last <= max_seq) {
        test_failed(__FILE__, __LINE__, "a new seq after the copy is not past %lld",
                    (long long)max_seq);
        goto cleanup;
    }
cleanup:
    store_close(other);
    fixture_remove(&other_f);
}

/* ---- concurrency: one store per thread, like separate instances ---- */

#define RACERS 4

/* RACERS stores on the fixture's database, opened once per test. */
struct instances {
    struct store *s[RACERS];
};

static int instances_open(struct fixture *f, struct instances *in)
{
    char err[256];
    int i;

    memset(in, 0, sizeof(*in));
    for (i = 0; i < RACERS; i++)
        if (fixture_open(f, &in->s[i], err, sizeof(err)) != STORE_OK) {
            test_failed(__FILE__, __LINE__, "instance %d: %s", i, err);
            return -1;
        }
    return 0;
}

static void instances_close(struct instances *in)
{
    int i;

    for (i = 0; i < RACERS; i++)
        store_close(in->s[i]);
}

struct race {
    pthread_barrier_t start;
    void *arg;
};

struct racer {
    struct race *race;
    struct store *store;
    int index;
    void (*body)(struct store *s, struct racer *r);
    int results[32];
    int64_t values[32];
    int n;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;

    /* All start at once. */
    pthread_barrier_wait(&r->race->start);
    r->body(r->store, r);
    return NULL;
}

/* Runs body on the first threads instances at once, one thread each (arg
 * for them in r->race->arg). */
static void race_run(struct instances *in, int threads, struct racer *racers,
                     void (*body)(struct store *s, struct racer *r), void *arg)
{
    struct race race;
    pthread_t th[RACERS];
    int i;

    race.arg = arg;
    pthread_barrier_init(&race.start, NULL, (unsigned)threads);
    for (i = 0; i < threads; i++) {
        memset(&racers[i], 0, sizeof(racers[i]));
        racers[i].race = &race;
        racers[i].store = in->s[i];
        racers[i].index = i;
        racers[i].body = body;
        if (pthread_create(&th[i], NULL, racer_main, &racers[i]) != 0) {
            /* The barrier would never open: nothing to recover in a test
             * binary, so say so loudly. */
            fprintf(stderr, "race_run: pthread_create failed\n");
            abort();
        }
    }
    for (i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&race.start);
}

/* Runs a race test with its instances open, closing them after. */
#define WITH_INSTANCES(f, in, call)                                             \
    do {                                                                        \
        if (instances_open((f), (in)) == 0)                                     \
            call;                                                               \
        instances_close(in);                                                    \
    } while (0)

static void reserve_body(struct store *s, struct racer *r)
{
    int64_t retry = -1;
    int i;

    struct store_user user;
    int found;

    /* Half the guesses reserved as a login does (login_lookup), half as
     * /password does: one counter. */
    for (i = 0; i < 10; i++) {
        if (i % 2 == 0)
            r->results[r->n] = STORE_CALL(s, lockout_reserve, "ada@example.com", 100, 5, 60,
                                          60, &retry);
        else
            r->results[r->n] = STORE_CALL(s, login_lookup, "ada@example.com", "ada@example.com",
                                          100, 5, 60, 60, &user, &found, &retry);
        r->values[r->n++] = retry;
    }
}

static void lockout_race(struct instances *in)
{
    struct racer racers[RACERS];
    int i, k, granted = 0;

    race_run(in, RACERS, racers, reserve_body, NULL);
    for (i = 0; i < RACERS; i++)
        for (k = 0; k < racers[i].n; k++) {
            CHECK_INT(racers[i].results[k], STORE_OK);
            granted += racers[i].values[k] == 0;
        }
    CHECK_INT(granted, 5);
}

CONTRACT(race_lockout_never_grants_more_than_attempts)
{
    struct instances in;

    (void)s;
    WITH_INSTANCES(f, &in, lockout_race(&in));
}

static void rotate_body(struct store *s, struct racer *r)
{
    unsigned char next[STORE_DIGEST_BYTES];
    struct store_refresh found;
    enum store_rotate_outcome outcome = STORE_ROTATE_INVALID;
    const unsigned char *d = r->race->arg;

    /* Every thread presents the token with the same successor: two tabs
     * refreshing at once. */
    digest_of(next, d[0] + 1);
    r->results[0] = rotate(s, d, next, 1001, &outcome, &found);
    r->values[0] = outcome;
    r->n = 1;
}

static void rotate_race(struct store *s, struct instances *in)
{
    unsigned char d[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_login l;
    struct racer racers[RACERS];
    char sid[16];
    int i, round, rotated, retried;

    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    for (round = 0; round < 12; round++) {
        digest_of(d, 10 * round);
        snprintf(sid, sizeof(sid), "fam-%d", round);
        l = login_for(&u, sid, d, NULL);
        CHECK_INT(STORE_CALL(s, login_commit, &l, &cur), STORE_OK);
        race_run(in, RACERS, racers, rotate_body, d);
        rotated = retried = 0;
        for (i = 0; i < RACERS; i++) {
            CHECK_INT(racers[i].results[0], STORE_OK);
            rotated += racers[i].values[0] == STORE_ROTATED;
            retried += racers[i].values[0] == STORE_ROTATE_RETRY;
        }
        CHECK_INT(rotated, 1);
        CHECK_INT(retried, RACERS - 1);
    }
    /* One successor per family, no more. */
    CHECK_INT(count_of(s, "refresh_tokens"), 24);
}

CONTRACT(race_refresh_rotates_once)
{
    struct instances in;

    WITH_INSTANCES(f, &in, rotate_race(*s, &in));
}

/* What the two threads of a last-admins race do: kind 0 demotes, 1
 * disables (ending logins), 2 deletes targets[index]. */
struct admin_race {
    int kind;
    int64_t targets[2];
};

static void take_admin_body(struct store *s, struct racer *r)
{
    const struct admin_race *a = r->race->arg;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_user out;
    int64_t id = a->targets[r->index];

    if (a->kind == 0) {
        ch.role = "user";
        r->results[0] = STORE_CALL(s, user_update, id, &ch, 2, &out);
    } else if (a->kind == 1) {
        ch.disabled = 1;
        ch.end_logins = 1;
        ch.memo_until = 100;
        r->results[0] = STORE_CALL(s, user_update, id, &ch, 2, &out);
    } else {
        r->results[0] = STORE_CALL(s, user_delete, id, 2, 100);
    }
    r->n = 1;
}

/*
 * The last two enabled admins taken away at once by two instances: at most
 * one change succeeds (here exactly one: the first to commit still sees
 * the other admin).
 */
static void admins_race(struct store *s, struct instances *in)
{
    struct store_user_change demote = STORE_USER_CHANGE_INIT;
    struct store_user a, b, out;
    struct admin_race race;
    struct racer racers[2];
    int64_t survivor = 0;
    char email[32];
    int round, ok, refused;

    demote.role = "user";
    for (round = 0; round < 9; round++) {
        snprintf(email, sizeof(email), "r%d-a@example.com", round);
        CHECK_INT(store_user_create(s, email, "h", "admin", 1, &a), STORE_OK);
        snprintf(email, sizeof(email), "r%d-b@example.com", round);
        CHECK_INT(store_user_create(s, email, "h", "admin", 1, &b), STORE_OK);
        /* The last round's survivor steps down: a and b are the only ones. */
        if (survivor != 0)
            CHECK_INT(STORE_CALL(s, user_update, survivor, &demote, 1, &out), STORE_OK);
        race.kind = round % 3;
        race.targets[0] = a.id;
        race.targets[1] = b.id;
        race_run(in, 2, racers, take_admin_body, &race);
        ok = (racers[0].results[0] == STORE_OK) + (racers[1].results[0] == STORE_OK);
        refused = (racers[0].results[0] == STORE_ELASTADMIN) +
                  (racers[1].results[0] == STORE_ELASTADMIN);
        if (ok != 1 || refused != 1)
            test_failed(__FILE__, __LINE__, "round %d: %d and %d", round, racers[0].results[0],
                        racers[1].results[0]);
        CHECK_INT(ok, 1);
        CHECK_INT(refused, 1);
        survivor = racers[0].results[0] == STORE_OK ? b.id : a.id;
        CHECK_INT(store_user_by_id(s, survivor, &out), STORE_OK);
        CHECK_STR(out.role, "admin");
        CHECK_INT(out.disabled, 0);
    }
}

CONTRACT(race_last_two_admins)
{
    struct instances in;

    WITH_INSTANCES(f, &in, admins_race(*s, &in));
}

/* A login committing while an admin disables the account (ending its
 * logins): the login is refused, or it committed first and its family was
 * revoked with the change.  Never a live family on a disabled account. */
struct login_race {
    struct store_login login;
    int64_t user_id;
};

static void login_or_disable_body(struct store *s, struct racer *r)
{
    struct login_race *lr = r->race->arg;
    struct store_user_change ch = STORE_USER_CHANGE_INIT;
    struct store_user out;

    if (r->index == 0) {
        r->results[0] = STORE_CALL(s, login_commit, &lr->login, &out);
    } else {
        ch.disabled = 1;
        ch.end_logins = 1;
        ch.memo_until = 5000;
        r->results[0] = STORE_CALL(s, user_update, lr->user_id, &ch, 1000, &out);
    }
    r->n = 1;
}

static void login_race(struct store *s, struct instances *in)
{
    unsigned char d[STORE_DIGEST_BYTES], next[STORE_DIGEST_BYTES];
    struct store_user_change enable = STORE_USER_CHANGE_INIT;
    struct store_user u, out;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct login_race lr;
    struct racer racers[2];
    char sid[16];
    int round, committed = 0, refused = 0;

    enable.disabled = 0;
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    for (round = 0; round < 12; round++) {
        digest_of(d, 50 + round);
        digest_of(next, 80 + round);
        snprintf(sid, sizeof(sid), "fam-%d", round);
        lr.login = login_for(&u, sid, d, NULL);
        lr.user_id = u.id;
        race_run(in, 2, racers, login_or_disable_body, &lr);
        CHECK_INT(racers[1].results[0], STORE_OK);
        CHECK_INT(STORE_CALL(s, user_update, u.id, &enable, 1001, &out), STORE_OK);
        if (racers[0].results[0] == STORE_EDISABLED) {
            refused++;
            continue;
        }
        CHECK_INT(racers[0].results[0], STORE_OK);
        committed++;
        /* Enabled again, the family made before the disable stays ended. */
        CHECK_INT(rotate(s, d, next, 1002, &outcome, &found), STORE_OK);
        CHECK_INT(outcome, STORE_ROTATE_INVALID);
    }
    CHECK_INT(committed + refused, 12);
}

CONTRACT(race_login_while_disabled)
{
    struct instances in;

    WITH_INSTANCES(f, &in, login_race(*s, &in));
}

static void create_body(struct store *s, struct racer *r)
{
    struct store_user u;

    r->results[0] = store_user_create(s, r->race->arg, "h", "user", 1, &u);
    r->n = 1;
}

static void create_race(struct store *s, struct instances *in)
{
    struct racer racers[RACERS];
    char email[32];
    int i, round, ok, conflict;

    for (round = 0; round < 10; round++) {
        snprintf(email, sizeof(email), "same%d@example.com", round);
        race_run(in, RACERS, racers, create_body, email);
        ok = conflict = 0;
        for (i = 0; i < RACERS; i++) {
            ok += racers[i].results[0] == STORE_OK;
            conflict += racers[i].results[0] == STORE_ECONFLICT;
        }
        CHECK_INT(ok, 1);
        CHECK_INT(conflict, RACERS - 1);
    }
    CHECK_INT(count_of(s, "users"), 10);
}

CONTRACT(race_user_create_one_email)
{
    struct instances in;

    WITH_INSTANCES(f, &in, create_race(*s, &in));
}

/*
 * Writers append to the revocation log while a follower reads it the way
 * every instance does (seq > the last seen): it must miss nothing, which
 * holds only if seq order is commit order.
 */
#define FOLLOW_WRITERS (RACERS - 1)
#define FOLLOW_EACH 30

struct follow {
    int writers_done;
    int seen[FOLLOW_WRITERS * FOLLOW_EACH];
};

static void follow_rev(void *ctx, const struct store_revocation *rev)
{
    struct follow *fo = ctx;
    char *end = NULL;
    long n = strtol(rev->key, &end, 10);

    if (end != rev->key && *end == '\0' && n >= 0 && n < FOLLOW_WRITERS * FOLLOW_EACH)
        fo->seen[n]++;
}

static void follow_body(struct store *s, struct racer *r)
{
    struct follow *fo = r->race->arg;
    char key[16];
    int64_t last = 0;
    int i, done;

    if (r->index < FOLLOW_WRITERS) {
        for (i = 0; i < FOLLOW_EACH; i++) {
            snprintf(key, sizeof(key), "%d", r->index * FOLLOW_EACH + i);
            if (STORE_CALL(s, token_revoke, key, 5000) != STORE_OK)
                r->results[r->n++] = i;
        }
        __atomic_add_fetch(&fo->writers_done, 1, __ATOMIC_SEQ_CST);
        return;
    }
    /* The follower: polls until the writers are done, then once more. */
    do {
        done = __atomic_load_n(&fo->writers_done, __ATOMIC_SEQ_CST) == FOLLOW_WRITERS;
        if (STORE_CALL(s, revocations_since, last, 0, follow_rev, fo, &last) != STORE_OK)
            r->results[r->n++] = -1;
    } while (!done && r->n < 32);
}

static void follow_race(struct instances *in)
{
    struct racer racers[RACERS];
    struct follow fo;
    int i;

    memset(&fo, 0, sizeof(fo));
    race_run(in, RACERS, racers, follow_body, &fo);
    for (i = 0; i <= FOLLOW_WRITERS; i++)
        CHECK_INT(racers[i].n, 0);
    for (i = 0; i < FOLLOW_WRITERS * FOLLOW_EACH; i++) {
        if (fo.seen[i] != 1)
            test_failed(__FILE__, __LINE__, "row %d seen %d times", i, fo.seen[i]);
        CHECK_INT(fo.seen[i], 1);
    }
}

CONTRACT(race_revocation_follower_misses_nothing)
{
    struct instances in;

    (void)s;
    WITH_INSTANCES(f, &in, follow_race(&in));
}

/* Four instances accept one TOTP step at once: one wins. */
static void step_body(struct store *s, struct racer *r)
{
    r->results[r->n++] = STORE_CALL(s, totp_use_step, *(int64_t *)r->race->arg, 77);
}

static void step_race(struct store *s, struct instances *in)
{
    unsigned char sealed[60] = {0};
    struct racer racers[RACERS];
    struct store_user u;
    int i, ok = 0, replay = 0;

    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1000, &u), STORE_OK);
    CHECK_INT(STORE_CALL(s, totp_put, u.id, sealed, sizeof(sealed), 1000), STORE_OK);
    CHECK_INT(STORE_CALL(s, totp_confirm, u.id, 10, NULL, 0, 1000), STORE_OK);
    race_run(in, RACERS, racers, step_body, &u.id);
    for (i = 0; i < RACERS; i++) {
        ok += racers[i].results[0] == STORE_OK;
        replay += racers[i].results[0] == STORE_EREPLAY;
    }
    CHECK_INT(ok, 1);
    CHECK_INT(replay, RACERS - 1);
}

CONTRACT(race_totp_step_accepted_once)
{
    struct instances in;

    WITH_INSTANCES(f, &in, step_race(*s, &in));
}

/* Four logins with one recovery code (each its own mfa_token): one. */
struct recovery_race {
    struct store_user u;
    unsigned char code[STORE_DIGEST_BYTES];
    unsigned char mfa[RACERS][STORE_DIGEST_BYTES];
};

static void recovery_body(struct store *s, struct racer *r)
{
    struct recovery_race *rr = r->race->arg;
    struct store_user cur;
    struct store_login l;
    char sid[32];

    snprintf(sid, sizeof(sid), "fam-%d", r->index);
    l = login_for(&rr->u, sid, NULL, NULL);
    l.mfa_digest = rr->mfa[r->index];
    l.recovery_digest = rr->code;
    l.amr = STORE_AMR_RECOVERY;
    r->results[r->n++] = STORE_CALL(s, login_commit, &l, &cur);
}

static void recovery_race(struct store *s, struct instances *in)
{
    unsigned char sealed[60] = {0}, codes[1][STORE_DIGEST_BYTES];
    struct racer racers[RACERS];
    struct recovery_race rr;
    int i, ok = 0, replay = 0;

    digest_of(rr.code, 51);
    memcpy(codes[0], rr.code, sizeof(rr.code));
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1000, &rr.u), STORE_OK);
    CHECK_INT(STORE_CALL(s, totp_put, rr.u.id, sealed, sizeof(sealed), 1000), STORE_OK);
    CHECK_INT(STORE_CALL(s, totp_confirm, rr.u.id, 10, codes, 1, 1000), STORE_OK);
    for (i = 0; i < RACERS; i++) {
        digest_of(rr.mfa[i], 60 + i);
        CHECK_INT(STORE_CALL(s, mfa_token_issue, rr.mfa[i], rr.u.id, 0, 5000), STORE_OK);
    }
    race_run(in, RACERS, racers, recovery_body, &rr);
    for (i = 0; i < RACERS; i++) {
        ok += racers[i].results[0] == STORE_OK;
        replay += racers[i].results[0] == STORE_EREPLAY;
    }
    CHECK_INT(ok, 1);
    CHECK_INT(replay, RACERS - 1);
    CHECK_INT(count_of(s, "families"), 1);
}

CONTRACT(race_recovery_code_works_once)
{
    struct instances in;

    WITH_INSTANCES(f, &in, recovery_race(*s, &in));
}

/* Four uses of one verification link at once: one. */
static void verify_body(struct store *s, struct racer *r)
{
    struct store_user got;

    r->results[r->n++] = STORE_CALL(s, email_verify, (const unsigned char *)r->race->arg, 1001,
                                    &got);
}

static void verify_race(struct store *s, struct instances *in)
{
    unsigned char t[STORE_DIGEST_BYTES];
    struct store_mail m = mail_of("v1", "ada@example.com", 5000);
    struct racer racers[RACERS];
    struct store_user u;
    int i, ok = 0;

    digest_of(t, 71);
    CHECK_INT(STORE_CALL(s, user_register, "ada@example.com", "h", "user", 1000, t, 5000, &m, &u),
              STORE_OK);
    race_run(in, RACERS, racers, verify_body, t);
    for (i = 0; i < RACERS; i++) {
        ok += racers[i].results[0] == STORE_OK;
        if (racers[i].results[0] != STORE_OK)
            CHECK_INT(racers[i].results[0], STORE_ENOTFOUND);
    }
    CHECK_INT(ok, 1);
}

CONTRACT(race_verification_link_used_once)
{
    struct instances in;

    WITH_INSTANCES(f, &in, verify_race(*s, &in));
}

/* Four senders claim at once: every mail is claimed by exactly one. */
static void claim_body(struct store *s, struct racer *r)
{
    struct mail_list got;
    int i;

    memset(&got, 0, sizeof(got));
    r->results[r->n++] = STORE_CALL(s, outbox_claim, 1001, 1061, 16, collect_mail, &got);
    for (i = 0; i < got.n && r->n < 32; i++)
        r->values[r->n++] = got.ids[i][1];    /* "m<letter>": the letter */
}

static void claim_race(struct store *s, struct instances *in)
{
    unsigned char t[STORE_DIGEST_BYTES];
    struct racer racers[RACERS];
    struct store_user u;
    char id[8];
    int i, k, seen[12] = {0}, total = 0;

    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1000, &u), STORE_OK);
    for (i = 0; i < 12; i++) {
        struct store_mail m;
        snprintf(id, sizeof(id), "m%c", 'a' + i);
        m = mail_of(id, "ada@example.com", 5000);
        digest_of(t, 80 + i);
        CHECK_INT(STORE_CALL(s, email_token_issue, u.id, STORE_TOKEN_VERIFY, t, 5000, &m, 1000),
                  STORE_OK);
    }
    race_run(in, RACERS, racers, claim_body, NULL);
    for (i = 0; i < RACERS; i++) {
        CHECK_INT(racers[i].results[0], STORE_OK);
        for (k = 1; k < racers[i].n; k++) {
            int letter = (int)racers[i].values[k] - 'a';
            if (letter >= 0 && letter < 12)
                seen[letter]++;
            total++;
        }
    }
    CHECK_INT(total, 12);
    for (i = 0; i < 12; i++)
        CHECK_INT(seen[i], 1);
}

CONTRACT(race_outbox_claims_each_mail_once)
{
    struct instances in;

    WITH_INSTANCES(f, &in, claim_race(*s, &in));
}
