/* Tests src/store/sqlite.c through the store.h contract, on a temp file. */
#include "test.h"

#include "store/store.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct store_tmp {
    char dir[512];
    char path[600];
};

static int store_tmp_make(struct store_tmp *t)
{
    const char *base = getenv("TMPDIR");

    snprintf(t->dir, sizeof(t->dir), "%s/latch-unit-store-XXXXXX",
             base != NULL && base[0] ? base : "/tmp");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/latch.db", t->dir);
    return 0;
}

/* Removes the database and its -wal / -shm files, then the directory. */
static void store_tmp_remove(struct store_tmp *t)
{
    DIR *d = opendir(t->dir);
    struct dirent *e;
    char path[1200];

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(t->dir);
}

/* Each test body gets an open store on a fresh file; it is closed and
 * removed afterwards even when a CHECK fails. */
#define STORE_TEST(name)                                                        \
    static void name##_body(struct store_tmp *t, struct store **s);             \
    TEST(name)                                                                  \
    {                                                                           \
        struct store_tmp t;                                                     \
        struct store *s = NULL;                                                 \
        char err[256] = "";                                                     \
        int rc;                                                                 \
        CHECK(store_tmp_make(&t) == 0);                                         \
        rc = store_sqlite_open(&s, t.path, err, sizeof(err));                   \
        if (rc != STORE_OK)                                                     \
            test_failed(__FILE__, __LINE__, "open: %d %s", rc, err);            \
        else                                                                    \
            name##_body(&t, &s);                                                \
        store_close(s);                                                         \
        store_tmp_remove(&t);                                                   \
    }                                                                           \
    static void name##_body(struct store_tmp *t, struct store **s)

STORE_TEST(store_create_and_read_back)
{
    struct store_user u, by_email, by_id;

    (void)t;
    CHECK_INT(store_user_create(*s, "ada@example.com", "$argon2id$h1", "user", 1700000000, &u),
              STORE_OK);
    CHECK(u.id > 0);
    CHECK_STR(u.email, "ada@example.com");
    CHECK_STR(u.role, "user");
    CHECK_STR(u.password_hash, "$argon2id$h1");
    CHECK_INT(u.created_at, 1700000000);
    CHECK_INT(u.disabled, 0);

    CHECK_INT(store_user_by_email(*s, "ada@example.com", &by_email), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &by_id), STORE_OK);
    CHECK_INT(by_email.id, u.id);
    CHECK_INT(by_id.id, u.id);
    CHECK_STR(by_id.email, "ada@example.com");
    CHECK_STR(by_id.role, "user");
    CHECK_STR(by_id.password_hash, "$argon2id$h1");
    CHECK_INT(by_id.created_at, 1700000000);
    CHECK_INT(by_id.disabled, 0);
    CHECK_STR(by_email.password_hash, "$argon2id$h1");
}

STORE_TEST(store_not_found)
{
    struct store_user u;

    (void)t;
    memset(&u, 0x5A, sizeof(u));
    CHECK_INT(store_user_by_email(*s, "nobody@example.com", &u), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, 1, &u), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_id(*s, -1, &u), STORE_ENOTFOUND);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id + 1, &u), STORE_ENOTFOUND);
    /* Emails arrive normalised; lookups are exact. */
    CHECK_INT(store_user_by_email(*s, "ADA@example.com", &u), STORE_ENOTFOUND);
    CHECK_INT(store_user_by_email(*s, "ada@example.co", &u), STORE_ENOTFOUND);
}

STORE_TEST(store_duplicate_email_conflicts)
{
    struct store_user a, b, again;

    (void)t;
    CHECK_INT(store_user_create(*s, "ada@example.com", "h1", "user", 1, &a), STORE_OK);
    memset(&b, 0x5A, sizeof(b));
    CHECK_INT(store_user_create(*s, "ada@example.com", "h2", "admin", 2, &b), STORE_ECONFLICT);
    /* The first user is unchanged. */
    CHECK_INT(store_user_by_email(*s, "ada@example.com", &again), STORE_OK);
    CHECK_INT(again.id, a.id);
    CHECK_STR(again.password_hash, "h1");
    CHECK_STR(again.role, "user");
    /* Another email works, with a new id; the statement was reset properly. */
    CHECK_INT(store_user_create(*s, "bob@example.com", "h3", "admin", 3, &b), STORE_OK);
    CHECK(b.id != a.id);
    CHECK_STR(b.role, "admin");
}

STORE_TEST(store_role_outside_schema_is_not_a_conflict)
{
    struct store_user u;
    int rc;

    (void)t;
    /* The schema allows 'user' and 'admin' only.  Refusing another role is
     * right; calling it STORE_ECONFLICT ("the email is taken") is not. */
    rc = store_user_create(*s, "eve@example.com", "h", "superuser", 1, &u);
    CHECK(rc != STORE_OK);
    CHECK(rc != STORE_ECONFLICT);
    CHECK_INT(store_user_by_email(*s, "eve@example.com", &u), STORE_ENOTFOUND);
}

STORE_TEST(store_rehash_only_when_old_hash_matches)
{
    struct store_user u, now;

    (void)t;
    CHECK_INT(store_user_create(*s, "ada@example.com", "old", "user", 1, &u), STORE_OK);
    /* A password change happened meanwhile: the stored hash is no longer "stale". */
    CHECK(store_user_rehash(*s, u.id, "stale", "new", 2) != STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &now), STORE_OK);
    CHECK_STR(now.password_hash, "old");
    /* The expected old hash: replaced. */
    CHECK_INT(store_user_rehash(*s, u.id, "old", "new", 3), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &now), STORE_OK);
    CHECK_STR(now.password_hash, "new");
    CHECK_INT(now.created_at, 1);
    /* Doing it again with the same old hash finds nothing to replace. */
    CHECK(store_user_rehash(*s, u.id, "old", "newer", 4) != STORE_OK);
    CHECK_INT(store_user_by_email(*s, "ada@example.com", &now), STORE_OK);
    CHECK_STR(now.password_hash, "new");
    /* Unknown user. */
    CHECK_INT(store_user_rehash(*s, u.id + 100, "new", "x", 5), STORE_ENOTFOUND);
}

STORE_TEST(store_reopen_keeps_users)
{
    struct store_user a, b, c, got;
    char err[256];

    CHECK_INT(store_user_create(*s, "a@example.com", "ha", "admin", 10, &a), STORE_OK);
    CHECK_INT(store_user_create(*s, "b@example.com", "hb", "user", 11, &b), STORE_OK);
    store_close(*s);
    *s = NULL;
    CHECK_INT(store_sqlite_open(s, t->path, err, sizeof(err)), STORE_OK);
    CHECK_INT(store_user_by_email(*s, "a@example.com", &got), STORE_OK);
    CHECK_INT(got.id, a.id);
    CHECK_STR(got.role, "admin");
    CHECK_STR(got.password_hash, "ha");
    CHECK_INT(got.created_at, 10);
    CHECK_INT(store_user_by_id(*s, b.id, &got), STORE_OK);
    CHECK_STR(got.email, "b@example.com");
    /* Still unique after reopening, and new ids come after the old ones. */
    CHECK_INT(store_user_create(*s, "a@example.com", "x", "user", 12, &c), STORE_ECONFLICT);
    CHECK_INT(store_user_create(*s, "c@example.com", "hc", "user", 12, &c), STORE_OK);
    CHECK(c.id > a.id && c.id > b.id);
}

STORE_TEST(store_open_refuses_newer_schema)
{
    struct store *again = NULL;
    sqlite3 *db = NULL;
    char err[256] = "";
    int rc;

    store_close(*s);
    *s = NULL;
    CHECK(sqlite3_open(t->path, &db) == SQLITE_OK);
    rc = sqlite3_exec(db, "PRAGMA user_version = 9999", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_INT(rc, SQLITE_OK);
    rc = store_sqlite_open(&again, t->path, err, sizeof(err));
    if (rc == STORE_OK)
        store_close(again);
    CHECK(rc != STORE_OK);
    CHECK(err[0] != '\0');
}

TEST(store_open_fails_in_missing_directory)
{
    struct store *s = (struct store *)&s, *const sentinel = s;
    char err[256] = "";
    int rc;

    rc = store_sqlite_open(&s, "/nonexistent-latch-dir/sub/latch.db", err, sizeof(err));
    CHECK(rc != STORE_OK);
    CHECK(s == sentinel);
    CHECK(err[0] != '\0');
}

/* Several threads create users at once, each through its own connection. */
struct store_worker {
    struct store *store;
    int index, failures;
    int64_t ids[25];
};

static void *store_worker_main(void *arg)
{
    struct store_worker *w = arg;
    struct store_user u, got;
    char email[64];
    int i;

    for (i = 0; i < 25; i++) {
        snprintf(email, sizeof(email), "t%d-u%d@example.com", w->index, i);
        w->ids[i] = 0;
        if (store_user_create(w->store, email, "h", "user", i, &u) != STORE_OK) {
            w->failures++;
            continue;
        }
        w->ids[i] = u.id;
        if (store_user_by_id(w->store, u.id, &got) != STORE_OK || strcmp(got.email, email) != 0)
            w->failures++;
    }
    return NULL;
}

STORE_TEST(store_concurrent_creates_from_threads)
{
    enum { THREADS = 4 };
    struct store_worker w[THREADS];
    pthread_t th[THREADS];
    int64_t all[THREADS * 25];
    int i, j, n = 0, started = 0, failures = 0, dups = 0;

    (void)t;
    memset(w, 0, sizeof(w));
    for (i = 0; i < THREADS; i++) {
        w[i].store = *s;
        w[i].index = i;
        if (pthread_create(&th[i], NULL, store_worker_main, &w[i]) == 0)
            started++;
    }
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(started, THREADS);
    for (i = 0; i < THREADS; i++) {
        failures += w[i].failures;
        for (j = 0; j < 25; j++)
            all[n++] = w[i].ids[j];
    }
    CHECK_INT(failures, 0);
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++)
            if (all[i] == all[j])
                dups++;
    CHECK_INT(dups, 0);
    /* And this thread sees every one of them. */
    for (i = 0; i < THREADS; i++) {
        struct store_user u;
        char email[64];
        snprintf(email, sizeof(email), "t%d-u24@example.com", i);
        CHECK_INT(store_user_by_email(*s, email, &u), STORE_OK);
        CHECK_INT(u.id, w[i].ids[24]);
    }
}

TEST(store_strerror_names_every_code)
{
    int codes[] = {STORE_OK, STORE_ENOTFOUND, STORE_ECONFLICT, STORE_EIO, STORE_ENOMEM};
    size_t i, j;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK(strcmp(store_strerror(codes[i]), store_strerror(-1000)) != 0);
        for (j = 0; j < i; j++)
            CHECK(strcmp(store_strerror(codes[i]), store_strerror(codes[j])) != 0);
    }
}

/* ---- issue 9: logins against the account's state, the lockout ---- */

static struct store_login store_login_for(const struct store_user *u, const char *sid,
                                          const unsigned char refresh[STORE_DIGEST_BYTES])
{
    struct store_login l;

    memset(&l, 0, sizeof(l));
    l.sid = sid;
    l.user_id = u->id;
    l.password_gen = u->password_gen;
    l.refresh_digest = refresh;
    l.refresh_expires_at = 2000;
    l.now = 1000;
    return l;
}

STORE_TEST(store_login_commit_sees_the_account_as_it_is)
{
    unsigned char refresh[STORE_DIGEST_BYTES], next[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)t;
    memset(refresh, 1, sizeof(refresh));
    memset(next, 2, sizeof(next));
    CHECK_INT(store_user_create(*s, "ada@example.com", "h1", "admin", 1, &u), STORE_OK);
    CHECK_INT(store_user_create(*s, "bob@example.com", "hb", "admin", 1, &cur), STORE_OK);
    CHECK_INT(u.password_gen, 0);
    /* Demoted while the password was being checked: the login gets the
     * role as committed. */
    change.role = "user";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 5, &cur), STORE_OK);
    l = store_login_for(&u, "sid-1", refresh);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_STR(cur.role, "user");
    /* A new password: a login checked against the old one is stale, and the
     * family made before it no longer refreshes. */
    change = (struct store_user_change)STORE_USER_CHANGE_INIT;
    change.password_hash = "h2";
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 6, &cur), STORE_OK);
    CHECK_INT(cur.password_gen, 1);
    l = store_login_for(&u, "sid-2", NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ESTALE);
    CHECK_INT(STORE_CALL(*s, refresh_rotate, refresh, next, 1001, 10, 100, 1000, 2000,
                         &outcome, &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
    /* Disabled: refused after the password, whatever the generation. */
    change = (struct store_user_change)STORE_USER_CHANGE_INIT;
    change.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 7, &cur), STORE_OK);
    l = store_login_for(&cur, "sid-3", NULL);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_EDISABLED);
    /* Gone. */
    CHECK_INT(STORE_CALL(*s, user_delete, u.id, 8, 100), STORE_OK);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_ENOTFOUND);
}

/* A rehash in the login's commit keeps the generation (it is the same
 * password) and only replaces the hash that was verified. */
STORE_TEST(store_login_commit_rehash)
{
    struct store_user u, cur, again;
    struct store_login l;

    (void)t;
    CHECK_INT(store_user_create(*s, "ada@example.com", "old", "user", 1, &u), STORE_OK);
    l = store_login_for(&u, "sid-1", NULL);
    l.rehash = "new";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(store_user_by_id(*s, u.id, &again), STORE_OK);
    CHECK_STR(again.password_hash, "new");
    CHECK_INT(again.password_gen, 0);
    l.sid = "sid-2";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
}

/* A change that lowers the user's rights revokes their families in its own
 * transaction; one that does not, does not; disabling twice revokes twice. */
STORE_TEST(store_user_update_ends_logins_when_lowered)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES];
    struct store_user admin, u, cur;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)t;
    memset(r1, 1, sizeof(r1));
    memset(r2, 3, sizeof(r2));
    memset(n, 2, sizeof(n));
    CHECK_INT(store_user_create(*s, "root@example.com", "h", "admin", 1, &admin), STORE_OK);
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = store_login_for(&u, "sid-1", r1);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    change.role = "admin";         /* raised: nothing ends */
    change.end_logins = 1;
    change.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1001, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, refresh_rotate, r1, n, 1002, 10, 100, 1000, 2000, &outcome,
                         &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_STR(found.role, "admin");
    /* Disabling an already disabled user ends a family made meanwhile. */
    change = (struct store_user_change)STORE_USER_CHANGE_INIT;
    change.disabled = 1;
    change.end_logins = 1;
    change.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1003, &cur), STORE_OK);
    change.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1004, &cur), STORE_OK);
    l = store_login_for(&cur, "sid-2", r2);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    change.disabled = 1;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1005, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1006, &cur), STORE_OK);
    change.disabled = 0;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1007, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, refresh_rotate, r2, n, 1008, 10, 100, 1000, 2000, &outcome,
                         &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
}

/* The user's own password change keeps their own login, under the new
 * generation, and ends the others; a change expecting an old generation is
 * stale. */
STORE_TEST(store_password_change_keeps_the_callers_family)
{
    unsigned char r1[STORE_DIGEST_BYTES], r2[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES];
    struct store_user u, cur;
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;

    (void)t;
    memset(r1, 1, sizeof(r1));
    memset(r2, 3, sizeof(r2));
    memset(n, 2, sizeof(n));
    CHECK_INT(store_user_create(*s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    l = store_login_for(&u, "mine", r1);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    l = store_login_for(&u, "other", r2);
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    change.password_hash = "h2";
    change.expect_password_gen = 0;
    change.end_logins = 1;
    change.keep_sid = "mine";
    change.memo_until = 5000;
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1001, &cur), STORE_OK);
    CHECK_INT(STORE_CALL(*s, user_update, u.id, &change, 1001, &cur), STORE_ESTALE);
    CHECK_INT(STORE_CALL(*s, refresh_rotate, r1, n, 1002, 10, 100, 1000, 2000, &outcome,
                         &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK_INT(STORE_CALL(*s, refresh_rotate, r2, n, 1002, 10, 100, 1000, 2000, &outcome,
                         &found), STORE_OK);
    CHECK_INT(outcome, STORE_ROTATE_INVALID);
}

STORE_TEST(store_lockout_reserve_counts_every_guess)
{
    int64_t retry = -1;
    int i;

    (void)t;
    /* Three guesses per window: each is counted when reserved, the third
     * locks at once (it still runs), the fourth is refused. */
    for (i = 0; i < 3; i++) {
        CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 100, 3, 60, 30, &retry),
                  STORE_OK);
        CHECK_INT(retry, 0);
    }
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 101, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 29);
    /* Another key is not affected; a reset clears the counter. */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "bob@example.com", 101, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    CHECK_INT(STORE_CALL(*s, lockout_reset, "ada@example.com"), STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
    /* After the lock and the window, guesses are allowed again. */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 103, 3, 60, 30, &retry),
              STORE_OK);
    CHECK(retry > 0);
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 102 + 60, 3, 60, 30, &retry),
              STORE_OK);
    CHECK_INT(retry, 0);
}

struct reserve_worker {
    const char *path;
    int granted;
};

static void *reserve_main(void *arg)
{
    struct reserve_worker *w = arg;
    struct store *s = NULL;
    char err[256];
    int64_t retry = 0;
    int i;

    /* A store of its own: like another process on the same file. */
    if (store_sqlite_open(&s, w->path, err, sizeof(err)) != STORE_OK)
        return NULL;
    for (i = 0; i < 10; i++)
        if (STORE_CALL(s, lockout_reserve, "ada@example.com", 100, 5, 60, 60, &retry) ==
                STORE_OK &&
            retry == 0)
            w->granted++;
    store_close(s);
    return NULL;
}

/* However many reserve at once, no more than attempts guesses are granted. */
STORE_TEST(store_lockout_reserve_is_atomic)
{
    struct reserve_worker w[4];
    pthread_t th[4];
    int i, total = 0;

    (void)s;
    for (i = 0; i < 4; i++) {
        w[i].path = t->path;
        w[i].granted = 0;
        CHECK(pthread_create(&th[i], NULL, reserve_main, &w[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += w[i].granted;
    }
    CHECK_INT(total, 5);
}

/* ---- which commits wait for their own fsync ---- */

/*
 * libsqlite3 syncs its files with fdatasync (fsync where it has none); the
 * definitions here come before libc's for it too, so these tests count the
 * syncs a store call makes.
 */
static atomic_int store_file_syncs;

int fdatasync(int fd)
{
    atomic_fetch_add(&store_file_syncs, 1);
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
    atomic_fetch_add(&store_file_syncs, 1);
    return (int)syscall(SYS_fsync, fd);
}

/* The syncs since the last call. */
static int syncs_since(int *mark)
{
    int now = atomic_load(&store_file_syncs), n = now - *mark;

    *mark = now;
    return n;
}

STORE_TEST(store_password_login_is_synced_by_the_flush_not_before)
{
    unsigned char refresh[STORE_DIGEST_BYTES], other[STORE_DIGEST_BYTES], next[STORE_DIGEST_BYTES];
    struct store_user u, cur, again;
    struct store_login l;
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct store *reopened = NULL;
    char err[256] = "";
    int64_t retry = -1;
    int mark = 0;

    memset(refresh, 7, sizeof(refresh));
    memset(other, 8, sizeof(other));
    memset(next, 9, sizeof(next));
    CHECK_INT(store_user_create(*s, "ada@example.com", "$argon2id$h1", "user", 1, &u), STORE_OK);
    (void)syncs_since(&mark);
    CHECK_INT(store_flush(*s), STORE_OK);
    CHECK_INT(syncs_since(&mark), 0);       /* the account was synced when created */
    /* A guess and a password login are answered from the log, unsynced... */
    CHECK_INT(STORE_CALL(*s, lockout_reserve, "ada@example.com", 100, 5, 60, 60, &retry),
              STORE_OK);
    l = store_login_for(&u, "sid-unsynced", refresh);
    l.lockout_key = "ada@example.com";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK_INT(syncs_since(&mark), 0);
    /* ...and one flush puts both on disk; a second has nothing to do. */
    CHECK_INT(store_flush(*s), STORE_OK);
    CHECK_INT(syncs_since(&mark), 1);
    CHECK_INT(store_flush(*s), STORE_OK);
    CHECK_INT(syncs_since(&mark), 0);
    /* A login that rehashes the password waits for its sync. */
    l = store_login_for(&u, "sid-rehash", other);
    l.rehash = "$argon2id$h2";
    CHECK_INT(STORE_CALL(*s, login_commit, &l, &cur), STORE_OK);
    CHECK(syncs_since(&mark) >= 1);
    /* So do a rotation and a revocation. */
    CHECK_INT(STORE_CALL(*s, refresh_rotate, other, next, 1001, 0, 1000, 100000, 5000, &outcome,
                         &found),
              STORE_OK);
    CHECK_INT(outcome, STORE_ROTATED);
    CHECK(syncs_since(&mark) >= 1);
    CHECK_INT(STORE_CALL(*s, sid_revoke, "sid-unsynced", 1002, 5000), STORE_OK);
    CHECK(syncs_since(&mark) >= 1);
    /* What was answered is there for another connection. */
    CHECK_INT(store_sqlite_open(&reopened, t->path, err, sizeof(err)), STORE_OK);
    if (reopened != NULL) {
        CHECK_INT(store_user_by_id(reopened, u.id, &again), STORE_OK);
        CHECK_STR(again.password_hash, "$argon2id$h2");
        store_close(reopened);
    }
}
