/*
 * sqlite.c - the embedded store: one SQLite file in WAL mode, a connection
 * per thread (SQLite connections must not be shared without its own mutex),
 * prepared statements cached per connection, schema versioned through
 * PRAGMA user_version.
 */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum stmt_id {
    ST_USER_INSERT,
    ST_USER_BY_EMAIL,
    ST_USER_BY_ID,
    ST_USER_REHASH,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_USER_INSERT] =
        "INSERT INTO users (email, password_hash, role, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_USER_BY_EMAIL] =
        "SELECT id, email, role, password_hash, created_at, disabled FROM users WHERE email = ?1",
    [ST_USER_BY_ID] =
        "SELECT id, email, role, password_hash, created_at, disabled FROM users WHERE id = ?1",
    [ST_USER_REHASH] =
        "UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2",
};

/*
 * Migrations, applied in order; PRAGMA user_version holds how many ran.
 * Never edit one that has shipped: add the next.
 */
static const char *const migrations[] = {
    /* 1: users.  AUTOINCREMENT so a deleted user's id is never given to a new
     * user: tokens name users by id. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  email TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct conn *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock;          /* guards conns */
    struct conn *conns;
};

static void conn_close(struct conn *c)
{
    int i;

    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

static int conn_open(const char *path, struct conn **out, char *err, size_t err_size)
{
    struct conn *c = calloc(1, sizeof(*c));
    int i;

    if (c == NULL)
        return STORE_ENOMEM;
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(c->db, LATCH_STORE_BUSY_TIMEOUT_MS);
    /*
     * synchronous=FULL: in WAL mode the log is synced at every commit, so a
     * write acknowledged to a client survives power loss.
     */
    if (sqlite3_exec(c->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    *out = c;
    (void)i;
    return STORE_OK;
fail:
    if (err != NULL)
        snprintf(err, err_size, "%s: %s", path, c->db ? sqlite3_errmsg(c->db) : "cannot open");
    conn_close(c);
    return STORE_EIO;
}

static void conn_destructor(void *p)
{
    struct conn *c = p;
    /* The conn stays on the store's list; store close frees it. Nothing to
     * do here beyond forgetting it for this thread, which pthread does. */
    (void)c;
}

/* This thread's connection, opened on first use. */
static struct conn *get_conn(struct sqlite_store *s)
{
    struct conn *c = pthread_getspecific(s->key);

    if (c != NULL)
        return c;
    if (conn_open(s->path, &c, NULL, 0) != STORE_OK)
        return NULL;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    pthread_setspecific(s->key, c);
    return c;
}

static sqlite3_stmt *get_stmt(struct conn *c, enum stmt_id id)
{
    if (c->stmt[id] == NULL &&
        sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                           NULL) != SQLITE_OK)
        return NULL;
    return c->stmt[id];
}

static int migrate(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int version = 0, i;
    char pragma[64];

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > N_MIGRATIONS) {
        snprintf(err, err_size, "database schema version %d is newer than this latch (%d)",
                 version, N_MIGRATIONS);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return STORE_EIO;
    }
    for (i = version; i < N_MIGRATIONS; i++)
        if (sqlite3_exec(db, migrations[i], NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", N_MIGRATIONS);
    if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return STORE_OK;
fail:
    snprintf(err, err_size, "database migration failed: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return STORE_EIO;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t != NULL ? (const char *)t : "");
}

static int read_user(sqlite3_stmt *st, struct store_user *out)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_DONE)
        return STORE_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return STORE_EIO;
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(st, 0);
    copy_text(out->email, sizeof(out->email), st, 1);
    copy_text(out->role, sizeof(out->role), st, 2);
    copy_text(out->password_hash, sizeof(out->password_hash), st, 3);
    out->created_at = sqlite3_column_int64(st, 4);
    out->disabled = sqlite3_column_int(st, 5);
    return STORE_OK;
}

static int sq_user_create(struct store *store, const char *email, const char *hash,
                          const char *role, int64_t now, struct store_user *out)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    sqlite3_stmt *st;
    int rc;

    if (c == NULL || (st = get_stmt(c, ST_USER_INSERT)) == NULL)
        return STORE_EIO;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        memset(out, 0, sizeof(*out));
        out->id = sqlite3_last_insert_rowid(c->db);
        snprintf(out->email, sizeof(out->email), "%s", email);
        snprintf(out->role, sizeof(out->role), "%s", role);
        snprintf(out->password_hash, sizeof(out->password_hash), "%s", hash);
        out->created_at = now;
        rc = STORE_OK;
    } else if (rc == SQLITE_CONSTRAINT) {
        rc = STORE_ECONFLICT;
    } else {
        rc = STORE_EIO;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int sq_user_by_email(struct store *store, const char *email, struct store_user *out)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    sqlite3_stmt *st;
    int rc;

    if (c == NULL || (st = get_stmt(c, ST_USER_BY_EMAIL)) == NULL)
        return STORE_EIO;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    rc = read_user(st, out);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int sq_user_by_id(struct store *store, int64_t id, struct store_user *out)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    sqlite3_stmt *st;
    int rc;

    if (c == NULL || (st = get_stmt(c, ST_USER_BY_ID)) == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = read_user(st, out);
    sqlite3_reset(st);
    return rc;
}

static int sq_user_rehash(struct store *store, int64_t id, const char *old_hash,
                          const char *new_hash, int64_t now)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    sqlite3_stmt *st;
    int rc;

    if (c == NULL || (st = get_stmt(c, ST_USER_REHASH)) == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, old_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, new_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = sqlite3_step(st) == SQLITE_DONE
             ? (sqlite3_changes(c->db) == 1 ? STORE_OK : STORE_ENOTFOUND)
             : STORE_EIO;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void sq_close(struct store *store)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c, *next;

    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .user_create = sq_user_create,
    .user_by_email = sq_user_by_email,
    .user_by_id = sq_user_by_id,
    .user_rehash = sq_user_rehash,
};

int store_sqlite_open(struct store **out, const char *path, char *err, size_t err_size)
{
    struct sqlite_store *s;
    struct conn *c = NULL;
    int rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return STORE_ENOMEM;
    s->base.ops = &sqlite_ops;
    s->path = strdup(path);
    pthread_mutex_init(&s->lock, NULL);
    if (s->path == NULL || pthread_key_create(&s->key, conn_destructor) != 0) {
        free(s->path);
        free(s);
        return STORE_ENOMEM;
    }
    rc = conn_open(path, &c, err, err_size);
    if (rc == STORE_OK)
        rc = migrate(c->db, err, err_size);
    if (rc != STORE_OK) {
        if (c != NULL)
            conn_close(c);
        pthread_key_delete(s->key);
        free(s->path);
        free(s);
        return rc;
    }
    c->next = NULL;
    s->conns = c;
    pthread_setspecific(s->key, c);
    *out = &s->base;
    return STORE_OK;
}

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_ECONFLICT: return "already exists";
    case STORE_EIO: return "storage failure";
    case STORE_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}
