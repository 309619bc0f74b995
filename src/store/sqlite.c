/*
 * sqlite.c - the embedded store: one SQLite file in WAL mode, a connection
 * per thread (SQLite connections must not be shared without its own mutex),
 * prepared statements cached per connection, schema versioned through
 * PRAGMA user_version.
 */
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A user as store_user holds it; mfa: a confirmed TOTP enrolment. */
#define USER_COLUMNS                                                                  \
    "id, email, role, password_hash, created_at, disabled, password_gen, email_verified, " \
    "EXISTS (SELECT 1 FROM totp t WHERE t.user_id = users.id AND t.confirmed = 1)"

/* The same, of users joined as u. */
#define USER_COLUMNS_OF_U                                                                    \
    "u.id, u.email, u.role, u.password_hash, u.created_at, u.disabled, u.password_gen, "    \
    "u.email_verified, EXISTS (SELECT 1 FROM totp t WHERE t.user_id = u.id AND t.confirmed = 1)"

enum stmt_id {
    ST_USER_INSERT,
    ST_USER_IMPORT,
    ST_USER_BY_EMAIL,
    ST_USER_BY_ID,
    ST_USER_REHASH,
    ST_USER_LIST,
    ST_USER_ROLE,
    ST_ENABLED_ADMINS,
    ST_USER_UPDATE,
    ST_USER_DELETE,
    ST_FAMILY_INSERT,
    ST_FAMILY_SET_GEN,
    ST_REFRESH_INSERT,
    ST_SESSION_INSERT,
    ST_REFRESH_GET,
    ST_REFRESH_USE,
    ST_SESSION_GET,
    ST_SESSION_TOUCH,
    ST_SID_REVOKE_FAMILY,
    ST_SID_REVOKE_SESSIONS,
    ST_REVOCATION_INSERT,
    ST_USER_REVOKE_LOG,
    ST_USER_REVOKE_SESSIONS,
    ST_USER_REVOKE_FAMILIES,
    ST_REVOCATIONS_SINCE,
    ST_LOCKOUT_GET,
    ST_LOCKOUT_PUT,
    ST_LOCKOUT_DELETE,
    ST_USER_REGISTER,
    ST_FAMILY_INSERT_AMR,
    ST_TOKEN_INSERT,
    ST_TOKEN_SUPERSEDE,
    ST_TOKEN_FIND,
    ST_TOKEN_DELETE,
    ST_TOKEN_DELETE_USER_KIND,
    ST_USER_SET_VERIFIED,
    ST_USER_SET_PASSWORD,
    ST_MAIL_INSERT,
    ST_MAIL_DUE,
    ST_MAIL_LEASE,
    ST_MAIL_DELETE,
    ST_MAIL_RETRY,
    ST_MAIL_EXPIRE,
    ST_MAIL_STATS,
    ST_TOTP_GET,
    ST_TOTP_PUT,
    ST_TOTP_CONFIRM,
    ST_TOTP_USE_STEP,
    ST_TOTP_DELETE,
    ST_RECOVERY_INSERT,
    ST_RECOVERY_DELETE_USER,
    ST_RECOVERY_USE,
    ST_MFA_INSERT,
    ST_MFA_GET,
    ST_MFA_CONSUME,
    ST_MFA_FAIL,
    ST_MFA_DROP_SPENT,
    ST_MFA_DELETE_USER,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_USER_INSERT] =
        "INSERT INTO users (email, password_hash, role, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_USER_IMPORT] =
        "INSERT OR IGNORE INTO users (email, password_hash, role, created_at, updated_at, "
        "disabled, email_verified) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
    [ST_USER_BY_EMAIL] =
        "SELECT " USER_COLUMNS " FROM users WHERE email = ?1",
    [ST_USER_BY_ID] =
        "SELECT " USER_COLUMNS " FROM users WHERE id = ?1",
    [ST_USER_REHASH] =
        "UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2",
    [ST_USER_LIST] =
        "SELECT " USER_COLUMNS " FROM users WHERE id > ?1 "
        "ORDER BY id LIMIT ?2",
    [ST_USER_ROLE] = "SELECT role, disabled, password_gen FROM users WHERE id = ?1",
    [ST_ENABLED_ADMINS] =
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?1",
    [ST_USER_UPDATE] =
        "UPDATE users SET role = ?2, disabled = ?3, password_hash = coalesce(?4, password_hash), "
        "password_gen = password_gen + (?4 IS NOT NULL), updated_at = ?5 WHERE id = ?1",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [ST_FAMILY_INSERT] =
        "INSERT INTO families (sid, user_id, created_at, password_gen) VALUES (?1, ?2, ?3, ?4)",
    [ST_FAMILY_SET_GEN] = "UPDATE families SET password_gen = ?2 WHERE sid = ?1",
    [ST_REFRESH_INSERT] =
        "INSERT INTO refresh_tokens (digest, sid, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (digest, sid, created_at, last_seen, expires_at) "
        "VALUES (?1, ?2, ?3, ?3, ?4)",
    [ST_REFRESH_GET] =
        "SELECT r.sid, f.user_id, r.expires_at, r.used_at, r.successor, f.revoked_at, "
        "f.created_at, u.disabled, f.password_gen = u.password_gen, u.email, u.role, "
        "u.email_verified, f.amr "
        "FROM refresh_tokens r JOIN families f ON f.sid = r.sid JOIN users u ON u.id = f.user_id "
        "WHERE r.digest = ?1",
    [ST_REFRESH_USE] =
        "UPDATE refresh_tokens SET used_at = ?2, successor = ?3 WHERE digest = ?1",
    [ST_SESSION_GET] =
        "SELECT s.sid, f.user_id, s.created_at, s.last_seen, s.expires_at, f.revoked_at, "
        "u.disabled, f.password_gen = u.password_gen "
        "FROM sessions s JOIN families f ON f.sid = s.sid JOIN users u ON u.id = f.user_id "
        "WHERE s.digest = ?1",
    [ST_SESSION_TOUCH] = "UPDATE sessions SET last_seen = ?2 WHERE digest = ?1",
    [ST_SID_REVOKE_FAMILY] =
        "UPDATE families SET revoked_at = ?2 WHERE sid = ?1 AND revoked_at IS NULL",
    [ST_SID_REVOKE_SESSIONS] = "DELETE FROM sessions WHERE sid = ?1",
    [ST_REVOCATION_INSERT] =
        "INSERT INTO revocations (kind, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)",
    [ST_USER_REVOKE_LOG] =
        "INSERT INTO revocations (kind, key, value, expires_at) SELECT 1, sid, 0, ?3 "
        "FROM families WHERE user_id = ?1 AND revoked_at IS NULL AND sid IS NOT ?2",
    [ST_USER_REVOKE_SESSIONS] =
        "DELETE FROM sessions WHERE sid IN (SELECT sid FROM families WHERE user_id = ?1 "
        "AND revoked_at IS NULL AND sid IS NOT ?2)",
    [ST_USER_REVOKE_FAMILIES] =
        "UPDATE families SET revoked_at = ?3 WHERE user_id = ?1 AND revoked_at IS NULL "
        "AND sid IS NOT ?2",
    [ST_REVOCATIONS_SINCE] =
        "SELECT seq, kind, key, value, expires_at FROM revocations WHERE seq > ?1 "
        "AND expires_at > ?2 ORDER BY seq",
    [ST_LOCKOUT_GET] =
        "SELECT failures, window_start, locked_until FROM login_failures WHERE email = ?1",
    [ST_LOCKOUT_PUT] =
        "INSERT OR REPLACE INTO login_failures (email, failures, window_start, locked_until) "
        "VALUES (?1, ?2, ?3, ?4)",
    [ST_LOCKOUT_DELETE] = "DELETE FROM login_failures WHERE email = ?1",
    [ST_USER_REGISTER] =
        "INSERT INTO users (email, password_hash, role, created_at, updated_at, email_verified) "
        "VALUES (?1, ?2, ?3, ?4, ?4, 0)",
    [ST_FAMILY_INSERT_AMR] =
        "INSERT INTO families (sid, user_id, created_at, password_gen, amr) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TOKEN_INSERT] =
        "INSERT INTO email_tokens (digest, user_id, kind, password_gen, created_at, expires_at) "
        "SELECT ?1, id, ?3, password_gen, ?4, ?5 FROM users WHERE id = ?2",
    [ST_TOKEN_SUPERSEDE] = "DELETE FROM email_tokens WHERE user_id = ?1 AND kind = ?2",
    [ST_TOKEN_FIND] =
        "SELECT " USER_COLUMNS_OF_U " FROM email_tokens e JOIN users u ON u.id = e.user_id "
        "WHERE e.digest = ?1 AND e.kind = ?2 AND e.expires_at > ?3 "
        "AND (e.kind <> 2 OR e.password_gen = u.password_gen)",
    [ST_TOKEN_DELETE] = "DELETE FROM email_tokens WHERE digest = ?1 AND kind = ?2",
    [ST_TOKEN_DELETE_USER_KIND] = "DELETE FROM email_tokens WHERE user_id = ?1 AND kind = ?2",
    [ST_USER_SET_VERIFIED] = "UPDATE users SET email_verified = 1, updated_at = ?2 WHERE id = ?1",
    [ST_USER_SET_PASSWORD] =
        "UPDATE users SET password_hash = ?2, password_gen = password_gen + 1, "
        "email_verified = 1, updated_at = ?3 WHERE id = ?1",
    [ST_MAIL_INSERT] =
        "INSERT INTO outbox (id, recipient, sealed, attempts, next_attempt, expires_at, "
        "created_at, lease_until) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?4, 0)",
    [ST_MAIL_DUE] =
        "SELECT id, recipient, sealed, attempts, created_at, expires_at FROM outbox "
        "WHERE next_attempt <= ?1 AND lease_until <= ?1 AND expires_at > ?1 "
        "ORDER BY next_attempt, id LIMIT ?2",
    [ST_MAIL_LEASE] = "UPDATE outbox SET lease_until = ?2 WHERE id = ?1",
    [ST_MAIL_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [ST_MAIL_RETRY] =
        "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, lease_until = 0 "
        "WHERE id = ?1",
    [ST_MAIL_EXPIRE] = "DELETE FROM outbox WHERE expires_at <= ?1",
    [ST_MAIL_STATS] = "SELECT count(*), coalesce(min(created_at), 0) FROM outbox",
    [ST_TOTP_GET] = "SELECT sealed, confirmed, last_step FROM totp WHERE user_id = ?1",
    [ST_TOTP_PUT] =
        "INSERT INTO totp (user_id, sealed, confirmed, last_step, created_at) "
        "VALUES (?1, ?2, 0, -1, ?3) ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, "
        "created_at = excluded.created_at, last_step = -1 WHERE totp.confirmed = 0",
    [ST_TOTP_CONFIRM] =
        "UPDATE totp SET confirmed = 1, last_step = ?2 WHERE user_id = ?1 AND confirmed = 0 "
        "AND last_step < ?2",
    [ST_TOTP_USE_STEP] =
        "UPDATE totp SET last_step = ?2 WHERE user_id = ?1 AND confirmed = 1 AND last_step < ?2",
    [ST_TOTP_DELETE] = "DELETE FROM totp WHERE user_id = ?1",
    [ST_RECOVERY_INSERT] =
        "INSERT INTO recovery_codes (digest, user_id, created_at) VALUES (?1, ?2, ?3)",
    [ST_RECOVERY_DELETE_USER] = "DELETE FROM recovery_codes WHERE user_id = ?1",
    [ST_RECOVERY_USE] = "DELETE FROM recovery_codes WHERE digest = ?1 AND user_id = ?2",
    [ST_MFA_INSERT] =
        "INSERT INTO mfa_tokens (digest, user_id, password_gen, expires_at, failures) "
        "VALUES (?1, ?2, ?3, ?4, 0)",
    [ST_MFA_GET] =
        "SELECT user_id, password_gen FROM mfa_tokens WHERE digest = ?1 AND expires_at > ?2",
    [ST_MFA_CONSUME] = "DELETE FROM mfa_tokens WHERE digest = ?1 AND user_id = ?2",
    [ST_MFA_FAIL] = "UPDATE mfa_tokens SET failures = failures + 1 WHERE digest = ?1",
    [ST_MFA_DROP_SPENT] = "DELETE FROM mfa_tokens WHERE digest = ?1 AND failures >= ?2",
    [ST_MFA_DELETE_USER] = "DELETE FROM mfa_tokens WHERE user_id = ?1",
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
    /* 2: the token lifecycle.  A family (sid) is one login: its chain of
     * refresh tokens and/or its server-side session.  The revocation log is
     * what every latch process on this store follows (seq only grows). */
    "CREATE TABLE families ("
    "  sid TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER"
    ");"
    "CREATE INDEX families_user ON families(user_id);"
    "CREATE TABLE refresh_tokens ("
    "  digest BLOB PRIMARY KEY,"
    "  sid TEXT NOT NULL REFERENCES families(sid) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  successor BLOB"
    ");"
    "CREATE INDEX refresh_tokens_sid ON refresh_tokens(sid);"
    "CREATE TABLE sessions ("
    "  digest BLOB PRIMARY KEY,"
    "  sid TEXT NOT NULL REFERENCES families(sid) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX sessions_sid ON sessions(sid);"
    "CREATE TABLE revocations ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE rate_buckets ("
    "  key TEXT PRIMARY KEY,"
    "  tokens REAL NOT NULL,"
    "  updated_at REAL NOT NULL"
    ");"
    "CREATE TABLE login_failures ("
    "  email TEXT PRIMARY KEY,"
    "  failures INTEGER NOT NULL,"
    "  window_start INTEGER NOT NULL,"
    "  locked_until INTEGER NOT NULL DEFAULT 0"
    ");",
    /* 3: password generations, so that a login or refresh that began before
     * a password change cannot complete after it; per-address request
     * buckets moved into each process's memory. */
    "ALTER TABLE users ADD COLUMN password_gen INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE families ADD COLUMN password_gen INTEGER NOT NULL DEFAULT 0;"
    "DROP TABLE rate_buckets;",
    /* 4: accounts people can keep (issue 11).  Users that exist now were
     * created before anyone could prove an address: they start verified
     * (the DEFAULT), new self-registrations are inserted unverified.  Email
     * tokens, mfa_tokens and recovery codes are digests only; TOTP secrets
     * and outbox bodies are sealed under the master key. */
    "ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';"
    "CREATE TABLE email_tokens ("
    "  digest BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    "  password_gen INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX email_tokens_user ON email_tokens(user_id);"
    "CREATE TABLE outbox ("
    "  id TEXT PRIMARY KEY,"
    "  recipient TEXT NOT NULL,"
    "  sealed BLOB NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  lease_until INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX outbox_due ON outbox(next_attempt);"
    "CREATE TABLE totp ("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  sealed BLOB NOT NULL,"
    "  confirmed INTEGER NOT NULL DEFAULT 0,"
    "  last_step INTEGER NOT NULL DEFAULT -1,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE recovery_codes ("
    "  digest BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX recovery_codes_user ON recovery_codes(user_id);"
    "CREATE TABLE mfa_tokens ("
    "  digest BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  password_gen INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX mfa_tokens_user ON mfa_tokens(user_id);",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    pthread_mutex_t *write_gate;   /* the store's; NULL for none */
    struct conn *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock;          /* guards conns */
    /*
     * Taken by begin() and released by finish(): this process's write
     * transactions queue here, and the next one starts the moment the last
     * commits.  Left to SQLite's lock, a writer that found it taken slept
     * 1, 2, 5 ms and more before trying again (its busy handler polls),
     * while the holder was done within the fsync.  Other processes (the
     * CLI) still meet the busy timeout.
     */
    pthread_mutex_t write_gate;
    /* 1 while a commit made without its own fsync (a guess reservation, a
     * password login: see unsynced_begin) may not be on disk yet; sq_flush
     * syncs the log and clears it. */
    atomic_int unsynced;
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
    return STORE_OK;
fail:
    if (err != NULL)
        snprintf(err, err_size, "%s: %s", path, c->db ? sqlite3_errmsg(c->db) : "cannot open");
    conn_close(c);
    return STORE_EIO;
}

/* This thread's connection, opened on first use. */
static struct conn *get_conn(struct sqlite_store *s)
{
    struct conn *c = pthread_getspecific(s->key);

    if (c != NULL)
        return c;
    if (conn_open(s->path, &c, NULL, 0) != STORE_OK)
        return NULL;
    c->write_gate = &s->write_gate;
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

static int is_unique_violation(sqlite3 *db)
{
    int ext = sqlite3_extended_errcode(db);
    return ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY;
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
    out->password_gen = sqlite3_column_int64(st, 6);
    out->email_verified = sqlite3_column_int(st, 7);
    out->mfa = sqlite3_column_int(st, 8);
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
        out->email_verified = 1;    /* users not self-registered start verified */
        rc = STORE_OK;
    } else if (rc == SQLITE_CONSTRAINT) {
        rc = is_unique_violation(c->db) ? STORE_ECONFLICT : STORE_EIO;
    } else {
        rc = STORE_EIO;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int sq_users_import(struct store *store, const struct store_import_user *users, int n,
                           int *created)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    sqlite3_stmt *st;
    int i, rc = STORE_OK;

    if (c == NULL || (st = get_stmt(c, ST_USER_IMPORT)) == NULL)
        return STORE_EIO;
    /* One transaction: one fsync for the whole batch. */
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_EIO;
    for (i = 0; i < n && rc == STORE_OK; i++) {
        sqlite3_bind_text(st, 1, users[i].email, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, users[i].password_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, users[i].role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, users[i].created_at);
        sqlite3_bind_int(st, 5, users[i].disabled ? 1 : 0);
        sqlite3_bind_int(st, 6, users[i].email_verified ? 1 : 0);
        rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : STORE_EIO;
        created[i] = rc == STORE_OK && sqlite3_changes(c->db) == 1;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (rc == STORE_OK && sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return STORE_OK;
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return STORE_EIO;
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

/* ---- helpers for the operations below ---- */

/* Resets a statement for its next use. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows.  Only a unique or primary-key
 * violation is a conflict; any other constraint (a CHECK on role) is a
 * failure of the caller's validation. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int unique = rc == SQLITE_CONSTRAINT && is_unique_violation(sqlite3_db_handle(st));

    done(st);
    return rc == SQLITE_DONE ? STORE_OK : (unique ? STORE_ECONFLICT : STORE_EIO);
}

/* A write transaction: the process's write gate, then SQLite's lock.  On
 * STORE_OK the caller ends it with finish(). */
static int begin(struct conn *c)
{
    if (c->write_gate != NULL)
        pthread_mutex_lock(c->write_gate);
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
        return STORE_OK;
    if (c->write_gate != NULL)
        pthread_mutex_unlock(c->write_gate);
    return STORE_EIO;
}

/* Commits when rc is STORE_OK, else rolls back; returns rc (or EIO). */
static int finish(struct conn *c, int rc)
{
    if (rc == STORE_OK) {
        if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
            goto out;
        rc = STORE_EIO;
    }
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
    if (c->write_gate != NULL)
        pthread_mutex_unlock(c->write_gate);
    return rc;
}

#define CONN_AND_STMT(c, st, id)                                   \
    do {                                                           \
        if ((c) == NULL || ((st) = get_stmt((c), (id))) == NULL)   \
            return STORE_EIO;                                      \
    } while (0)

/* ---- users: listing and administration ---- */

static int sq_user_list(struct store *store, int64_t after_id, int limit, store_user_fn fn,
                        void *ctx, int *more)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    struct store_user user;
    sqlite3_stmt *st;
    int n = 0, rc;

    CONN_AND_STMT(c, st, ST_USER_LIST);
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, limit + 1);
    *more = 0;
    while ((rc = read_user(st, &user)) == STORE_OK) {
        if (n == limit) {
            *more = 1;
            break;
        }
        fn(ctx, &user);
        n++;
    }
    done(st);
    sodium_memzero(&user, sizeof(user));
    return rc == STORE_EIO ? STORE_EIO : STORE_OK;
}

/* Whether changing user id to (new_role, new_disabled) leaves an enabled
 * admin; call inside a transaction. */
static int keeps_an_admin(struct conn *c, int64_t id, const char *new_role, int new_disabled,
                          const char *old_role, int old_disabled)
{
    sqlite3_stmt *st = get_stmt(c, ST_ENABLED_ADMINS);
    int others, rc;

    if (strcmp(old_role, "admin") != 0 || old_disabled)
        return STORE_OK;           /* was not an enabled admin */
    if (new_role != NULL && strcmp(new_role, "admin") == 0 && !new_disabled)
        return STORE_OK;           /* stays one */
    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    others = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    done(st);
    if (others < 0)
        return STORE_EIO;
    return others > 0 ? STORE_OK : STORE_ELASTADMIN;
}

static int current_role(struct conn *c, int64_t id, char *role, size_t role_size, int *disabled,
                        int64_t *password_gen)
{
    sqlite3_stmt *st = get_stmt(c, ST_USER_ROLE);
    int rc;

    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(role, role_size, st, 0);
        *disabled = sqlite3_column_int(st, 1);
        *password_gen = sqlite3_column_int64(st, 2);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
    }
    done(st);
    return rc;
}

static int revoke_user_in_tx(struct conn *c, int64_t user_id, const char *except_sid,
                             int64_t cutoff, int64_t now, int64_t memo_until);

/* Removes a user's second factor: TOTP, recovery codes, pending
 * mfa_tokens; inside a transaction. */
static int mfa_off_in_tx(struct conn *c, int64_t id)
{
    static const enum stmt_id ids[] = {ST_TOTP_DELETE, ST_RECOVERY_DELETE_USER,
                                       ST_MFA_DELETE_USER};
    sqlite3_stmt *st;
    size_t i;
    int rc = STORE_OK;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]) && rc == STORE_OK; i++) {
        if ((st = get_stmt(c, ids[i])) == NULL)
            return STORE_EIO;
        sqlite3_bind_int64(st, 1, id);
        rc = run(st);
    }
    return rc;
}

static int sq_user_update(struct store *store, int64_t id, const struct store_user_change *change,
                          int64_t now, struct store_user *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    char role[LATCH_MAX_ROLE_BYTES + 1];
    const char *new_role;
    int disabled = 0, new_disabled, lowered, rc;
    int64_t gen = 0;
    sqlite3_stmt *st, *set_gen;

    CONN_AND_STMT(c, st, ST_USER_UPDATE);
    CONN_AND_STMT(c, set_gen, ST_FAMILY_SET_GEN);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    rc = current_role(c, id, role, sizeof(role), &disabled, &gen);
    if (rc != STORE_OK)
        return finish(c, rc);
    if (change->expect_password_gen >= 0 && change->expect_password_gen != gen)
        return finish(c, STORE_ESTALE);
    new_role = change->role != NULL ? change->role : role;
    new_disabled = change->disabled >= 0 ? change->disabled : disabled;
    rc = keeps_an_admin(c, id, new_role, new_disabled, role, disabled);
    if (rc != STORE_OK)
        return finish(c, rc);
    lowered = change->password_hash != NULL || change->disabled == 1 || change->mfa_off ||
              (strcmp(role, "admin") == 0 && strcmp(new_role, "admin") != 0);
    if (change->mfa_off && (rc = mfa_off_in_tx(c, id)) != STORE_OK)
        return finish(c, rc);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, new_role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, new_disabled ? 1 : 0);
    if (change->password_hash != NULL)
        sqlite3_bind_text(st, 4, change->password_hash, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now);
    rc = run(st);
    if (rc == STORE_OK && change->end_logins && lowered) {
        rc = revoke_user_in_tx(c, id, change->keep_sid, change->keep_sid != NULL ? 0 : now, now,
                               change->memo_until);
        /* The login that changed the password stays, under the new one. */
        if (rc == STORE_OK && change->keep_sid != NULL && change->password_hash != NULL) {
            sqlite3_bind_text(set_gen, 1, change->keep_sid, -1, SQLITE_STATIC);
            sqlite3_bind_int64(set_gen, 2, gen + 1);
            rc = run(set_gen);
        }
    }
    rc = finish(c, rc);
    if (rc != STORE_OK)
        return rc;
    return sq_user_by_id(store, id, out);
}

static int sq_user_delete(struct store *store, int64_t id, int64_t now, int64_t memo_until)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    char role[LATCH_MAX_ROLE_BYTES + 1];
    int disabled = 0, rc;
    int64_t gen = 0;
    sqlite3_stmt *st;

    CONN_AND_STMT(c, st, ST_USER_DELETE);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    rc = current_role(c, id, role, sizeof(role), &disabled, &gen);
    if (rc == STORE_OK)
        rc = keeps_an_admin(c, id, NULL, 1, role, disabled);
    /* The families go with the row (ON DELETE CASCADE): log them first,
     * with a cutoff for the user's sid-less tokens. */
    if (rc == STORE_OK)
        rc = revoke_user_in_tx(c, id, NULL, now, now, memo_until);
    if (rc == STORE_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = run(st);
    }
    return finish(c, rc);
}

/* ---- families, refresh tokens, sessions ---- */

/* Runs a statement and answers STORE_EREPLAY unless it changed one row. */
static int run_once(struct conn *c, sqlite3_stmt *st)
{
    int rc = run(st);

    if (rc == STORE_OK && sqlite3_changes(c->db) != 1)
        rc = STORE_EREPLAY;
    return rc;
}

/* The second step of a login (store_login.mfa_digest): the mfa_token is
 * consumed, and the recovery code deleted or the TOTP step moved on, each
 * only once; inside the login's transaction. */
static int second_factor_in_tx(struct conn *c, const struct store_login *l)
{
    sqlite3_stmt *mfa = get_stmt(c, ST_MFA_CONSUME), *rec = get_stmt(c, ST_RECOVERY_USE);
    sqlite3_stmt *step = get_stmt(c, ST_TOTP_USE_STEP);
    int rc;

    if (mfa == NULL || rec == NULL || step == NULL)
        return STORE_EIO;
    sqlite3_bind_blob(mfa, 1, l->mfa_digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(mfa, 2, l->user_id);
    if ((rc = run_once(c, mfa)) != STORE_OK)
        return rc;
    if (l->recovery_digest != NULL) {
        sqlite3_bind_blob(rec, 1, l->recovery_digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(rec, 2, l->user_id);
        return run_once(c, rec);
    }
    sqlite3_bind_int64(step, 1, l->user_id);
    sqlite3_bind_int64(step, 2, l->totp_step);
    return run_once(c, step);
}

/*
 * Two kinds of commit skip their own fsync: a guess reservation and a
 * password login (no second step, no rehash).  Each runs with
 * synchronous=NORMAL for its transaction alone (SQLite refuses the change
 * inside one), so it is in the WAL when it returns: a crash of latch keeps
 * it.  The next synced commit on the file, a checkpoint or sq_flush (the
 * follower calls it every second) puts it on disk, so a crash of the
 * machine can forget the last second of them, and forgetting them fails
 * closed: a guess uncounted, or a login's refresh token and session unknown
 * (its user logs in again).  Everything else, a password, a revocation, a
 * rotated refresh token, a used TOTP step, waits for its fsync before it is
 * answered.  On the benchmark's machine a sync per login cost about a tenth
 * of the login rate (bench/changes.md).
 */
static int unsynced_begin(struct conn *c)
{
    return sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) == SQLITE_OK
               ? STORE_OK
               : STORE_EIO;
}

static int unsynced_end(struct sqlite_store *s, struct conn *c, int rc)
{
    atomic_store(&s->unsynced, 1);
    if (sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_EIO;
    return rc;
}

/* fdatasync of the WAL through this connection's handle on it. */
static int wal_sync(struct conn *c)
{
    sqlite3_file *wal = NULL;

    if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK &&
        wal != NULL && wal->pMethods != NULL)
        return wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) == SQLITE_OK ? STORE_OK : STORE_EIO;
    /* Not open on this connection yet: a checkpoint syncs the log first. */
    return sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
                   SQLITE_OK
               ? STORE_OK
               : STORE_EIO;
}

static int sq_flush(struct store *store)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c;

    if (!atomic_exchange(&s->unsynced, 0))
        return STORE_OK;
    if ((c = get_conn(s)) != NULL && wal_sync(c) == STORE_OK)
        return STORE_OK;
    atomic_store(&s->unsynced, 1);
    return STORE_EIO;
}

static int sq_login_commit(struct store *store, const struct store_login *l,
                           struct store_user *current)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    int unsynced = l->mfa_digest == NULL && l->rehash == NULL;
    sqlite3_stmt *by_id, *fam, *ref, *ses, *unlock, *rehash;
    struct store_user user;
    int rc;

    CONN_AND_STMT(c, by_id, ST_USER_BY_ID);
    CONN_AND_STMT(c, fam, ST_FAMILY_INSERT_AMR);
    CONN_AND_STMT(c, ref, ST_REFRESH_INSERT);
    CONN_AND_STMT(c, ses, ST_SESSION_INSERT);
    CONN_AND_STMT(c, unlock, ST_LOCKOUT_DELETE);
    CONN_AND_STMT(c, rehash, ST_USER_REHASH);
    if (unsynced && unsynced_begin(c) != STORE_OK)
        return STORE_EIO;
    /* BEGIN IMMEDIATE: the user row read here is the one the family is
     * recorded against; an admin change commits wholly before or after. */
    if (begin(c) != STORE_OK)
        return unsynced ? unsynced_end(s, c, STORE_EIO) : STORE_EIO;
    sqlite3_bind_int64(by_id, 1, l->user_id);
    rc = read_user(by_id, &user);
    done(by_id);
    if (rc == STORE_OK && user.password_gen != l->password_gen)
        rc = STORE_ESTALE;
    else if (rc == STORE_OK && user.disabled)
        rc = STORE_EDISABLED;
    else if (rc == STORE_OK && l->mfa_digest == NULL && user.mfa)
        rc = STORE_ESTALE;   /* TOTP was confirmed while the password was checked */
    if (rc == STORE_OK && l->mfa_digest != NULL)
        rc = second_factor_in_tx(c, l);
    if (rc == STORE_OK) {
        sqlite3_bind_text(fam, 1, l->sid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(fam, 2, l->user_id);
        sqlite3_bind_int64(fam, 3, l->now);
        sqlite3_bind_int64(fam, 4, user.password_gen);
        sqlite3_bind_text(fam, 5, l->amr != NULL ? l->amr : STORE_AMR_PWD, -1, SQLITE_STATIC);
        rc = run(fam);
    }
    if (rc == STORE_OK && l->refresh_digest != NULL) {
        sqlite3_bind_blob(ref, 1, l->refresh_digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(ref, 2, l->sid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ref, 3, l->now);
        sqlite3_bind_int64(ref, 4, l->refresh_expires_at);
        rc = run(ref);
    }
    if (rc == STORE_OK && l->session_digest != NULL) {
        sqlite3_bind_blob(ses, 1, l->session_digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(ses, 2, l->sid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ses, 3, l->now);
        sqlite3_bind_int64(ses, 4, l->session_expires_at);
        rc = run(ses);
    }
    if (rc == STORE_OK && l->lockout_key != NULL) {
        sqlite3_bind_text(unlock, 1, l->lockout_key, -1, SQLITE_STATIC);
        rc = run(unlock);
    }
    if (rc == STORE_OK && l->rehash != NULL) {
        /* Only over the hash that was verified: same password, new cost. */
        sqlite3_bind_int64(rehash, 1, l->user_id);
        sqlite3_bind_text(rehash, 2, user.password_hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(rehash, 3, l->rehash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(rehash, 4, l->now);
        rc = run(rehash);
    }
    rc = finish(c, rc);
    if (unsynced)
        rc = unsynced_end(s, c, rc);
    if (rc == STORE_OK)
        *current = user;
    sodium_memzero(&user, sizeof(user));
    return rc;
}

/* Revokes a family inside a transaction. */
static int revoke_sid_in_tx(struct conn *c, const char *sid, int64_t now, int64_t memo_until)
{
    sqlite3_stmt *fam = get_stmt(c, ST_SID_REVOKE_FAMILY);
    sqlite3_stmt *ses = get_stmt(c, ST_SID_REVOKE_SESSIONS);
    sqlite3_stmt *log = get_stmt(c, ST_REVOCATION_INSERT);
    int rc;

    if (fam == NULL || ses == NULL || log == NULL)
        return STORE_EIO;
    sqlite3_bind_text(fam, 1, sid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(fam, 2, now);
    rc = run(fam);
    if (rc != STORE_OK)
        return rc;
    sqlite3_bind_text(ses, 1, sid, -1, SQLITE_TRANSIENT);
    rc = run(ses);
    if (rc != STORE_OK)
        return rc;
    sqlite3_bind_int(log, 1, STORE_REVOKE_SID);
    sqlite3_bind_text(log, 2, sid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(log, 3, 0);
    sqlite3_bind_int64(log, 4, memo_until);
    return run(log);
}

static int sq_refresh_rotate(struct store *store, const unsigned char *digest,
                             const unsigned char *successor, int64_t now, int64_t reuse_window_s,
                             int64_t ttl_s, int64_t family_max_s, int64_t memo_until,
                             enum store_rotate_outcome *outcome, struct store_refresh *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *get, *use, *ins;
    struct store_refresh found;
    int64_t expires_at, used_at, family_end, successor_end;
    int used, revoked, same_successor, user_ok, rc;

    CONN_AND_STMT(c, get, ST_REFRESH_GET);
    CONN_AND_STMT(c, use, ST_REFRESH_USE);
    CONN_AND_STMT(c, ins, ST_REFRESH_INSERT);
    /* BEGIN IMMEDIATE takes the write lock first: two refreshes of one token
     * run one after the other, and the second sees the first's successor. */
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    memset(&found, 0, sizeof(found));
    sqlite3_bind_blob(get, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        done(get);
        *outcome = STORE_ROTATE_INVALID;
        return finish(c, rc == SQLITE_DONE ? STORE_OK : STORE_EIO);
    }
    copy_text(found.sid, sizeof(found.sid), get, 0);
    found.user_id = sqlite3_column_int64(get, 1);
    expires_at = sqlite3_column_int64(get, 2);
    used = sqlite3_column_type(get, 3) != SQLITE_NULL;
    used_at = sqlite3_column_int64(get, 3);
    same_successor = sqlite3_column_bytes(get, 4) == STORE_DIGEST_BYTES &&
                     sodium_memcmp(sqlite3_column_blob(get, 4), successor,
                                   STORE_DIGEST_BYTES) == 0;
    revoked = sqlite3_column_type(get, 5) != SQLITE_NULL;
    family_end = sqlite3_column_int64(get, 6) + family_max_s;
    /* The account as it is now: disabled, or a password changed since the
     * login, ends the family's refreshes whatever raced with what. */
    user_ok = sqlite3_column_int(get, 7) == 0 && sqlite3_column_int(get, 8) == 1;
    copy_text(found.email, sizeof(found.email), get, 9);
    copy_text(found.role, sizeof(found.role), get, 10);
    found.email_verified = sqlite3_column_int(get, 11);
    copy_text(found.amr, sizeof(found.amr), get, 12);
    done(get);

    /* A family lives at most family_max_s from its login (ASVS 7.3.2),
     * however often it is refreshed. */
    if (revoked || !user_ok || (!used && (expires_at <= now || family_end <= now))) {
        *outcome = STORE_ROTATE_INVALID;
        return finish(c, STORE_OK);
    }
    if (!used) {
        sqlite3_bind_blob(use, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(use, 2, now);
        sqlite3_bind_blob(use, 3, successor, STORE_DIGEST_BYTES, SQLITE_STATIC);
        rc = run(use);
        if (rc == STORE_OK) {
            sqlite3_bind_blob(ins, 1, successor, STORE_DIGEST_BYTES, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, found.sid, -1, SQLITE_STATIC);
            successor_end = now + ttl_s < family_end ? now + ttl_s : family_end;
            sqlite3_bind_int64(ins, 3, now);
            sqlite3_bind_int64(ins, 4, successor_end);
            rc = run(ins);
        }
        *outcome = STORE_ROTATED;
    } else if (same_successor && now - used_at < reuse_window_s) {
        /* Two tabs refreshing at once: the late one gets the same successor. */
        rc = STORE_OK;
        *outcome = STORE_ROTATE_RETRY;
    } else {
        /* RFC 9700 4.14.2: a rotated token used again means it leaked; end
         * the whole family. */
        rc = revoke_sid_in_tx(c, found.sid, now, memo_until);
        *outcome = STORE_ROTATE_REUSED;
    }
    rc = finish(c, rc);
    if (rc == STORE_OK)
        *out = found;
    return rc;
}

static int sq_session_get(struct store *store, const unsigned char *digest, int64_t now,
                          int64_t idle_s, int64_t slide_after_s, struct store_session *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *get, *touch;
    struct store_session found;
    int revoked, user_ok, rc;

    CONN_AND_STMT(c, get, ST_SESSION_GET);
    CONN_AND_STMT(c, touch, ST_SESSION_TOUCH);
    memset(&found, 0, sizeof(found));
    sqlite3_bind_blob(get, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        done(get);
        return rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
    }
    copy_text(found.sid, sizeof(found.sid), get, 0);
    found.user_id = sqlite3_column_int64(get, 1);
    found.created_at = sqlite3_column_int64(get, 2);
    found.last_seen = sqlite3_column_int64(get, 3);
    found.expires_at = sqlite3_column_int64(get, 4);
    revoked = sqlite3_column_type(get, 5) != SQLITE_NULL;
    user_ok = sqlite3_column_int(get, 6) == 0 && sqlite3_column_int(get, 7) == 1;
    done(get);
    if (revoked || !user_ok || found.expires_at <= now || now - found.last_seen >= idle_s)
        return STORE_ENOTFOUND;
    if (now - found.last_seen >= slide_after_s) {
        sqlite3_bind_blob(touch, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(touch, 2, now);
        if (run(touch) != STORE_OK)
            return STORE_EIO;
        found.last_seen = now;
    }
    *out = found;
    return STORE_OK;
}

static int sq_sid_revoke(struct store *store, const char *sid, int64_t now, int64_t memo_until)
{
    struct conn *c = get_conn((struct sqlite_store *)store);

    if (c == NULL || begin(c) != STORE_OK)
        return STORE_EIO;
    return finish(c, revoke_sid_in_tx(c, sid, now, memo_until));
}

/* Revokes every family of user_id but except_sid, and logs a USER cutoff
 * when cutoff is non-zero; inside a transaction. */
static int revoke_user_in_tx(struct conn *c, int64_t user_id, const char *except_sid,
                             int64_t cutoff, int64_t now, int64_t memo_until)
{
    sqlite3_stmt *log = get_stmt(c, ST_USER_REVOKE_LOG);
    sqlite3_stmt *ses = get_stmt(c, ST_USER_REVOKE_SESSIONS);
    sqlite3_stmt *fam = get_stmt(c, ST_USER_REVOKE_FAMILIES);
    sqlite3_stmt *ins = get_stmt(c, ST_REVOCATION_INSERT);
    char key[32];
    int rc;

    if (log == NULL || ses == NULL || fam == NULL || ins == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(log, 1, user_id);
    if (except_sid != NULL)
        sqlite3_bind_text(log, 2, except_sid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(log, 3, memo_until);
    rc = run(log);
    if (rc == STORE_OK) {
        sqlite3_bind_int64(ses, 1, user_id);
        if (except_sid != NULL)
            sqlite3_bind_text(ses, 2, except_sid, -1, SQLITE_STATIC);
        rc = run(ses);
    }
    if (rc == STORE_OK) {
        sqlite3_bind_int64(fam, 1, user_id);
        if (except_sid != NULL)
            sqlite3_bind_text(fam, 2, except_sid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(fam, 3, now);
        rc = run(fam);
    }
    if (rc == STORE_OK && cutoff != 0) {
        snprintf(key, sizeof(key), "%lld", (long long)user_id);
        sqlite3_bind_int(ins, 1, STORE_REVOKE_USER);
        sqlite3_bind_text(ins, 2, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, cutoff);
        sqlite3_bind_int64(ins, 4, memo_until);
        rc = run(ins);
    }
    return rc;
}

static int sq_user_revoke(struct store *store, int64_t user_id, const char *except_sid,
                          int64_t cutoff, int64_t now, int64_t memo_until)
{
    struct conn *c = get_conn((struct sqlite_store *)store);

    if (c == NULL || begin(c) != STORE_OK)
        return STORE_EIO;
    return finish(c, revoke_user_in_tx(c, user_id, except_sid, cutoff, now, memo_until));
}

static int sq_token_revoke(struct store *store, const char *digest_hex, int64_t memo_until)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *ins;

    CONN_AND_STMT(c, ins, ST_REVOCATION_INSERT);
    sqlite3_bind_int(ins, 1, STORE_REVOKE_TOKEN);
    sqlite3_bind_text(ins, 2, digest_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 3, 0);
    sqlite3_bind_int64(ins, 4, memo_until);
    return run(ins);
}

static int sq_revocations_since(struct store *store, int64_t after_seq, int64_t now,
                                store_revocation_fn fn, void *ctx, int64_t *last_seq)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    struct store_revocation rev;
    sqlite3_stmt *st;
    int64_t highest = after_seq;
    int rc;

    CONN_AND_STMT(c, st, ST_REVOCATIONS_SINCE);
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&rev, 0, sizeof(rev));
        rev.seq = sqlite3_column_int64(st, 0);
        rev.kind = (enum store_revocation_kind)sqlite3_column_int(st, 1);
        copy_text(rev.key, sizeof(rev.key), st, 2);
        rev.value = sqlite3_column_int64(st, 3);
        rev.expires_at = sqlite3_column_int64(st, 4);
        if (rev.seq > highest)
            highest = rev.seq;
        fn(ctx, &rev);
    }
    done(st);
    if (rc != SQLITE_DONE)
        return STORE_EIO;
    *last_seq = highest;
    return STORE_OK;
}

static int sq_purge(struct store *store, int64_t now)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st = NULL;
    static const char *const sql[] = {
        "DELETE FROM revocations WHERE expires_at <= ?1",
        "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
        "DELETE FROM sessions WHERE expires_at <= ?1",
        /* A family with nothing left: no live access token of it can remain
         * a day after its last refresh token or session went. */
        "DELETE FROM families WHERE created_at <= ?1 - 86400 AND "
        "NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.sid = families.sid) AND "
        "NOT EXISTS (SELECT 1 FROM sessions s WHERE s.sid = families.sid)",
        "DELETE FROM login_failures WHERE locked_until <= ?1 AND window_start <= ?1 - 86400",
        "DELETE FROM email_tokens WHERE expires_at <= ?1",
        "DELETE FROM mfa_tokens WHERE expires_at <= ?1",
    };
    size_t i;
    int rc = STORE_OK;

    if (c == NULL)
        return STORE_EIO;
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == STORE_OK; i++) {
        if (sqlite3_prepare_v2(c->db, sql[i], -1, &st, NULL) != SQLITE_OK)
            return STORE_EIO;
        sqlite3_bind_int64(st, 1, now);
        rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : STORE_EIO;
        sqlite3_finalize(st);
    }
    return rc;
}

/* ---- the per-account lockout ---- */

static int lockout_reserve_tx(struct conn *c, const char *key, int64_t now, int attempts,
                              int64_t window_s, int64_t lockout_s, int64_t *retry_after_s)
{
    sqlite3_stmt *get, *put;
    int64_t failures = 0, window_start = now, locked_until = 0;
    int rc;

    CONN_AND_STMT(c, get, ST_LOCKOUT_GET);
    CONN_AND_STMT(c, put, ST_LOCKOUT_PUT);
    /* BEGIN IMMEDIATE: concurrent reservations of one key run one after the
     * other, each seeing the guesses counted before it. */
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    sqlite3_bind_text(get, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        failures = sqlite3_column_int64(get, 0);
        window_start = sqlite3_column_int64(get, 1);
        locked_until = sqlite3_column_int64(get, 2);
    }
    done(get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return finish(c, STORE_EIO);
    if (locked_until > now) {
        *retry_after_s = locked_until - now;
        return finish(c, STORE_OK);
    }
    if (now - window_start >= window_s) {
        failures = 0;
        window_start = now;
    }
    failures++;
    if (failures >= attempts)
        locked_until = now + lockout_s;
    sqlite3_bind_text(put, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(put, 2, failures);
    sqlite3_bind_int64(put, 3, window_start);
    sqlite3_bind_int64(put, 4, locked_until);
    rc = finish(c, run(put));
    if (rc == STORE_OK)
        *retry_after_s = 0;
    return rc;
}

static int sq_lockout_reserve(struct store *store, const char *key, int64_t now, int attempts,
                              int64_t window_s, int64_t lockout_s, int64_t *retry_after_s)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c = get_conn(s);
    int rc;

    if (c == NULL || unsynced_begin(c) != STORE_OK)
        return STORE_EIO;
    rc = lockout_reserve_tx(c, key, now, attempts, window_s, lockout_s, retry_after_s);
    return unsynced_end(s, c, rc);
}

static int sq_login_lookup(struct store *store, const char *email, const char *key, int64_t now,
                           int attempts, int64_t window_s, int64_t lockout_s,
                           struct store_user *out, int *found, int64_t *retry_after_s)
{
    int rc = STORE_ENOTFOUND;

    *found = 0;
    if (email != NULL)
        rc = sq_user_by_email(store, email, out);
    if (rc == STORE_OK)
        *found = 1;
    else if (rc != STORE_ENOTFOUND)
        return rc;
    return sq_lockout_reserve(store, key, now, attempts, window_s, lockout_s, retry_after_s);
}

static int sq_lockout_reset(struct store *store, const char *email)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *del;

    CONN_AND_STMT(c, del, ST_LOCKOUT_DELETE);
    sqlite3_bind_text(del, 1, email, -1, SQLITE_STATIC);
    return run(del);
}

/* ---- health and events ---- */

static int sq_ping(struct store *store, char *why, size_t why_size)
{
    struct conn *c = get_conn((struct sqlite_store *)store);

    if (c == NULL) {
        snprintf(why, why_size, "cannot open the database file");
        return STORE_EUNAVAIL;
    }
    if (sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, why_size, "%s", sqlite3_errmsg(c->db));
        return STORE_EUNAVAIL;
    }
    return STORE_OK;
}

/* SQLite announces nothing: other processes on the file are seen by
 * polling (revocations_since), so this only paces the follower. */
static int sq_wait_events(struct store *store, int timeout_ms, store_event_fn fn, void *ctx)
{
    struct timespec left;

    (void)store;
    (void)fn;
    (void)ctx;
    if (timeout_ms <= 0)
        return STORE_OK;
    left.tv_sec = timeout_ms / 1000;
    left.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
    return STORE_OK;
}

/* ---- keys and secrets: kept in files next to the SQLite database ---- */

static int sq_keys_list(struct store *store, store_key_fn fn, void *ctx, int64_t *version)
{
    (void)store;
    (void)fn;
    (void)ctx;
    (void)version;
    return STORE_ENOTSUP;
}

static int sq_keys_apply(struct store *store, int64_t expect_version, const struct store_key *add,
                         const char *const *drop, int n_drop)
{
    (void)store;
    (void)expect_version;
    (void)add;
    (void)drop;
    (void)n_drop;
    return STORE_ENOTSUP;
}

static int sq_secret_put(struct store *store, const char *name, const unsigned char *value,
                         size_t len)
{
    (void)store;
    (void)name;
    (void)value;
    (void)len;
    return STORE_ENOTSUP;
}

static int sq_secret_get_or_put(struct store *store, const char *name,
                                const unsigned char *candidate, size_t candidate_len,
                                unsigned char *out, size_t out_size, size_t *out_len)
{
    (void)store;
    (void)name;
    (void)candidate;
    (void)candidate_len;
    (void)out;
    (void)out_size;
    (void)out_len;
    return STORE_ENOTSUP;
}

/* ---- mail and email tokens ---- */

static int mail_insert(struct conn *c, const struct store_mail *m, int64_t now)
{
    sqlite3_stmt *st = get_stmt(c, ST_MAIL_INSERT);

    if (st == NULL || m->sealed_len > STORE_MAX_SEALED_BYTES)
        return STORE_EIO;
    sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, m->sealed, (int)m->sealed_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, m->expires_at);
    return run(st);
}

/* Inserts an email token for user_id (its current password generation);
 * STORE_ENOTFOUND when the user is gone. */
static int token_insert(struct conn *c, int64_t user_id, enum store_token_kind kind,
                        const unsigned char *digest, int64_t now, int64_t expires_at)
{
    sqlite3_stmt *st = get_stmt(c, ST_TOKEN_INSERT);

    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int(st, 3, (int)kind);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, expires_at);
    return run_once(c, st) == STORE_EREPLAY ? STORE_ENOTFOUND : STORE_OK;
}

static int sq_user_register(struct store *store, const char *email, const char *hash,
                            const char *role, int64_t now, const unsigned char *token_digest,
                            int64_t token_expires_at, const struct store_mail *mail,
                            struct store_user *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    struct store_user user;
    int rc;

    CONN_AND_STMT(c, st, ST_USER_REGISTER);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = run(st);
    memset(&user, 0, sizeof(user));
    if (rc == STORE_OK) {
        user.id = sqlite3_last_insert_rowid(c->db);
        rc = token_insert(c, user.id, STORE_TOKEN_VERIFY, token_digest, now, token_expires_at);
    }
    if (rc == STORE_OK)
        rc = mail_insert(c, mail, now);
    rc = finish(c, rc);
    if (rc != STORE_OK)
        return rc;
    snprintf(user.email, sizeof(user.email), "%s", email);
    snprintf(user.role, sizeof(user.role), "%s", role);
    snprintf(user.password_hash, sizeof(user.password_hash), "%s", hash);
    user.created_at = now;
    *out = user;
    sodium_memzero(&user, sizeof(user));
    return STORE_OK;
}

static int sq_email_token_issue(struct store *store, int64_t user_id, enum store_token_kind kind,
                                const unsigned char *digest, int64_t expires_at,
                                const struct store_mail *mail, int64_t now)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *sup;
    int rc = STORE_OK;

    CONN_AND_STMT(c, sup, ST_TOKEN_SUPERSEDE);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    /* A newer reset request supersedes the older links. */
    if (kind == STORE_TOKEN_RESET) {
        sqlite3_bind_int64(sup, 1, user_id);
        sqlite3_bind_int(sup, 2, (int)kind);
        rc = run(sup);
    }
    if (rc == STORE_OK)
        rc = token_insert(c, user_id, kind, digest, now, expires_at);
    if (rc == STORE_OK)
        rc = mail_insert(c, mail, now);
    return finish(c, rc);
}

/* Reads the user of a live token into *out (inside or outside a
 * transaction). */
static int token_user(struct conn *c, enum store_token_kind kind, const unsigned char *digest,
                      int64_t now, struct store_user *out)
{
    sqlite3_stmt *st = get_stmt(c, ST_TOKEN_FIND);
    int rc;

    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_int64(st, 3, now);
    rc = read_user(st, out);
    done(st);
    return rc;
}

static int sq_email_token_find(struct store *store, enum store_token_kind kind,
                               const unsigned char *digest, int64_t now, struct store_user *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);

    if (c == NULL)
        return STORE_EIO;
    return token_user(c, kind, digest, now, out);
}

static int delete_token(struct conn *c, const unsigned char *digest, enum store_token_kind kind)
{
    sqlite3_stmt *st = get_stmt(c, ST_TOKEN_DELETE);

    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kind);
    return run_once(c, st) == STORE_OK ? STORE_OK : STORE_ENOTFOUND;
}

static int sq_email_verify(struct store *store, const unsigned char *digest, int64_t now,
                           struct store_user *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *set;
    struct store_user user;
    int rc;

    CONN_AND_STMT(c, set, ST_USER_SET_VERIFIED);
    /* BEGIN IMMEDIATE: of two uses of one token the second finds it gone. */
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    rc = token_user(c, STORE_TOKEN_VERIFY, digest, now, &user);
    if (rc == STORE_OK)
        rc = delete_token(c, digest, STORE_TOKEN_VERIFY);
    if (rc == STORE_OK) {
        sqlite3_bind_int64(set, 1, user.id);
        sqlite3_bind_int64(set, 2, now);
        rc = run(set);
    }
    rc = finish(c, rc);
    if (rc == STORE_OK) {
        user.email_verified = 1;
        *out = user;
    }
    sodium_memzero(&user, sizeof(user));
    return rc;
}

static int sq_password_reset(struct store *store, const unsigned char *digest, int64_t user_id,
                             const char *new_hash, int64_t now, int64_t memo_until,
                             const struct store_mail *mail, struct store_user *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *set, *others, *unlock, *mfa;
    struct store_user user;
    int rc;

    CONN_AND_STMT(c, set, ST_USER_SET_PASSWORD);
    CONN_AND_STMT(c, others, ST_TOKEN_DELETE_USER_KIND);
    CONN_AND_STMT(c, unlock, ST_LOCKOUT_DELETE);
    CONN_AND_STMT(c, mfa, ST_MFA_DELETE_USER);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    /* The token is live only under the generation it was issued with: any
     * password change since (another reset too) ends it. */
    rc = token_user(c, STORE_TOKEN_RESET, digest, now, &user);
    if (rc == STORE_OK && user.id != user_id)
        rc = STORE_ENOTFOUND;
    if (rc == STORE_OK) {
        sqlite3_bind_int64(others, 1, user_id);
        sqlite3_bind_int(others, 2, STORE_TOKEN_RESET);
        rc = run(others);
    }
    if (rc == STORE_OK) {
        sqlite3_bind_int64(set, 1, user_id);
        sqlite3_bind_text(set, 2, new_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(set, 3, now);
        rc = run(set);
    }
    if (rc == STORE_OK)
        rc = revoke_user_in_tx(c, user_id, NULL, now, now, memo_until);
    if (rc == STORE_OK) {
        sqlite3_bind_text(unlock, 1, user.email, -1, SQLITE_TRANSIENT);
        rc = run(unlock);
    }
    if (rc == STORE_OK) {
        sqlite3_bind_int64(mfa, 1, user_id);
        rc = run(mfa);
    }
    if (rc == STORE_OK)
        rc = mail_insert(c, mail, now);
    rc = finish(c, rc);
    sodium_memzero(&user, sizeof(user));
    if (rc != STORE_OK)
        return rc;
    return sq_user_by_id(store, user_id, out);
}

/* ---- the outbox ---- */

static int sq_outbox_claim(struct store *store, int64_t now, int64_t lease_until, int limit,
                           store_outbox_fn fn, void *ctx)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *due, *lease;
    struct store_outbox_row row;
    int rc;

    CONN_AND_STMT(c, due, ST_MAIL_DUE);
    CONN_AND_STMT(c, lease, ST_MAIL_LEASE);
    /* BEGIN IMMEDIATE: two senders on one file (two processes) claim one
     * after the other, and the second skips the first's leased rows. */
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    sqlite3_bind_int64(due, 1, now);
    sqlite3_bind_int(due, 2, limit);
    while ((rc = sqlite3_step(due)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        copy_text(row.id, sizeof(row.id), due, 0);
        copy_text(row.recipient, sizeof(row.recipient), due, 1);
        row.sealed = sqlite3_column_blob(due, 2);
        row.sealed_len = (size_t)sqlite3_column_bytes(due, 2);
        row.attempts = sqlite3_column_int64(due, 3);
        row.created_at = sqlite3_column_int64(due, 4);
        row.expires_at = sqlite3_column_int64(due, 5);
        sqlite3_bind_text(lease, 1, row.id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(lease, 2, lease_until);
        if (run(lease) != STORE_OK) {
            rc = SQLITE_ERROR;
            break;
        }
        fn(ctx, &row);
    }
    done(due);
    return finish(c, rc == SQLITE_DONE ? STORE_OK : STORE_EIO);
}

static int sq_outbox_done(struct store *store, const char *id)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;

    CONN_AND_STMT(c, st, ST_MAIL_DELETE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return run(st);
}

static int sq_outbox_retry(struct store *store, const char *id, int64_t next_attempt)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;

    CONN_AND_STMT(c, st, ST_MAIL_RETRY);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, next_attempt);
    return run(st);
}

static int sq_outbox_expire(struct store *store, int64_t now, int64_t *dropped)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    int rc;

    CONN_AND_STMT(c, st, ST_MAIL_EXPIRE);
    sqlite3_bind_int64(st, 1, now);
    rc = run(st);
    if (rc == STORE_OK)
        *dropped = sqlite3_changes(c->db);
    return rc;
}

static int sq_outbox_stats(struct store *store, int64_t *pending, int64_t *oldest_created_at)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    int rc;

    CONN_AND_STMT(c, st, ST_MAIL_STATS);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *pending = sqlite3_column_int64(st, 0);
        *oldest_created_at = sqlite3_column_int64(st, 1);
    }
    done(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_EIO;
}

/* ---- the second factor ---- */

static int user_exists(struct conn *c, int64_t id)
{
    char role[LATCH_MAX_ROLE_BYTES + 1];
    int disabled;
    int64_t gen;

    return current_role(c, id, role, sizeof(role), &disabled, &gen);
}

static int sq_totp_put(struct store *store, int64_t user_id, const unsigned char *sealed,
                       size_t sealed_len, int64_t now)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    int rc;

    CONN_AND_STMT(c, st, ST_TOTP_PUT);
    if (sealed_len > STORE_MAX_TOTP_SEALED || begin(c) != STORE_OK)
        return STORE_EIO;
    rc = user_exists(c, user_id);
    if (rc == STORE_OK) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, sealed, (int)sealed_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        /* The upsert changes nothing over a confirmed enrolment. */
        rc = run_once(c, st) == STORE_EREPLAY ? STORE_ECONFLICT : STORE_OK;
    }
    return finish(c, rc);
}

static int sq_totp_get(struct store *store, int64_t user_id, struct store_totp *out)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    int rc;
    size_t len;

    CONN_AND_STMT(c, st, ST_TOTP_GET);
    sqlite3_bind_int64(st, 1, user_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        len = (size_t)sqlite3_column_bytes(st, 0);
        if (len > sizeof(out->sealed)) {
            rc = STORE_EIO;
        } else {
            memcpy(out->sealed, sqlite3_column_blob(st, 0), len);
            out->sealed_len = len;
            out->confirmed = sqlite3_column_int(st, 1);
            out->last_step = sqlite3_column_int64(st, 2);
            rc = STORE_OK;
        }
    } else {
        rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
    }
    done(st);
    return rc;
}

static int sq_totp_confirm(struct store *store, int64_t user_id, int64_t step,
                           const unsigned char (*digests)[STORE_DIGEST_BYTES], int n, int64_t now)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *get, *confirm, *del, *ins;
    int rc, i, confirmed = 0;
    int64_t last = 0;

    CONN_AND_STMT(c, get, ST_TOTP_GET);
    CONN_AND_STMT(c, confirm, ST_TOTP_CONFIRM);
    CONN_AND_STMT(c, del, ST_RECOVERY_DELETE_USER);
    CONN_AND_STMT(c, ins, ST_RECOVERY_INSERT);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    sqlite3_bind_int64(get, 1, user_id);
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        confirmed = sqlite3_column_int(get, 1);
        last = sqlite3_column_int64(get, 2);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
    }
    done(get);
    if (rc == STORE_OK && confirmed)
        rc = STORE_ECONFLICT;
    else if (rc == STORE_OK && step <= last)
        rc = STORE_EREPLAY;
    if (rc == STORE_OK) {
        sqlite3_bind_int64(confirm, 1, user_id);
        sqlite3_bind_int64(confirm, 2, step);
        rc = run_once(c, confirm);
    }
    if (rc == STORE_OK) {
        sqlite3_bind_int64(del, 1, user_id);
        rc = run(del);
    }
    for (i = 0; i < n && rc == STORE_OK; i++) {
        sqlite3_bind_blob(ins, 1, digests[i], STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, user_id);
        sqlite3_bind_int64(ins, 3, now);
        rc = run(ins);
    }
    return finish(c, rc);
}

static int sq_totp_use_step(struct store *store, int64_t user_id, int64_t step)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    struct store_totp t;
    sqlite3_stmt *st;
    int rc;

    CONN_AND_STMT(c, st, ST_TOTP_USE_STEP);
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, step);
    rc = run_once(c, st);
    if (rc == STORE_EREPLAY && (sq_totp_get(store, user_id, &t) != STORE_OK || !t.confirmed))
        rc = STORE_ENOTFOUND;
    sodium_memzero(&t, sizeof(t));
    return rc;
}

static int sq_mfa_token_issue(struct store *store, const unsigned char *digest, int64_t user_id,
                              int64_t password_gen, int64_t expires_at)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;

    CONN_AND_STMT(c, st, ST_MFA_INSERT);
    sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, password_gen);
    sqlite3_bind_int64(st, 4, expires_at);
    return run(st);
}

static int sq_mfa_token_get(struct store *store, const unsigned char *digest, int64_t now,
                            int64_t *user_id, int64_t *password_gen)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st;
    int rc;

    CONN_AND_STMT(c, st, ST_MFA_GET);
    sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *user_id = sqlite3_column_int64(st, 0);
        *password_gen = sqlite3_column_int64(st, 1);
        rc = STORE_OK;
    } else {
        rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
    }
    done(st);
    return rc;
}

static int sq_mfa_token_fail(struct store *store, const unsigned char *digest, int max_failures)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *fail, *drop;
    int rc;

    CONN_AND_STMT(c, fail, ST_MFA_FAIL);
    CONN_AND_STMT(c, drop, ST_MFA_DROP_SPENT);
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    sqlite3_bind_blob(fail, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
    rc = run(fail);
    if (rc == STORE_OK) {
        sqlite3_bind_blob(drop, 1, digest, STORE_DIGEST_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(drop, 2, max_failures);
        rc = run(drop);
    }
    return finish(c, rc);
}

static int sq_sealed_any(struct store *store, char *ad, size_t ad_size, unsigned char *out,
                         size_t out_size, size_t *out_len)
{
    static const char *const sql[] = {
        "SELECT 'totp:' || user_id, sealed FROM totp LIMIT 1",
        "SELECT id, sealed FROM outbox LIMIT 1",
    };
    struct conn *c = get_conn((struct sqlite_store *)store);
    sqlite3_stmt *st = NULL;
    size_t i, len;
    int rc = STORE_ENOTFOUND;

    if (c == NULL)
        return STORE_EIO;
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == STORE_ENOTFOUND; i++) {
        if (sqlite3_prepare_v2(c->db, sql[i], -1, &st, NULL) != SQLITE_OK)
            return STORE_EIO;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            len = (size_t)sqlite3_column_bytes(st, 1);
            if (len > out_size) {
                rc = STORE_ENOMEM;
            } else {
                copy_text(ad, ad_size, st, 0);
                memcpy(out, sqlite3_column_blob(st, 1), len);
                *out_len = len;
                rc = STORE_OK;
            }
        } else {
            rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : STORE_EIO;
        }
        sqlite3_finalize(st);
    }
    return rc;
}

/* ---- moving between backends ---- */

/* The table called name, or NULL: names and columns are pasted into SQL, so
 * only the ones in store_tables are accepted. */
static const struct store_table *find_table(const char *name, int *n_columns)
{
    const char *p;
    int i;

    for (i = 0; i < store_n_tables; i++) {
        if (strcmp(store_tables[i].name, name) != 0)
            continue;
        *n_columns = 1;
        for (p = store_tables[i].columns; *p != '\0'; p++)
            *n_columns += *p == ',';
        return &store_tables[i];
    }
    return NULL;
}

static int sq_table_rows(struct store *store, const char *table, store_row_fn fn, void *ctx)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    const struct store_table *t;
    struct store_row row;
    sqlite3_stmt *st = NULL;
    char sql[512];
    const char *first_end;
    int n, i, rc, key_len;

    if ((t = find_table(table, &n)) == NULL || n > STORE_MAX_COLUMNS)
        return STORE_EIO;
    if (c == NULL)
        return STORE_EIO;
    /* The primary key is the first column of every table. */
    first_end = strchr(t->columns, ',');
    key_len = first_end != NULL ? (int)(first_end - t->columns) : (int)strlen(t->columns);
    snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %.*s", t->columns, t->name, key_len,
             t->columns);
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return STORE_EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.n = n;
        for (i = 0; i < n; i++) {
            struct store_value *v = &row.v[i];
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v->type = STORE_INT;
                v->i = sqlite3_column_int64(st, i);
                break;
            case SQLITE_TEXT:
                v->type = STORE_TEXT;
                v->p = sqlite3_column_text(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                break;
            case SQLITE_BLOB:
                v->type = STORE_BLOB;
                v->p = sqlite3_column_blob(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                break;
            case SQLITE_NULL:
                v->type = STORE_NULL;
                break;
            default:
                /* No latch column holds a float. */
                sqlite3_finalize(st);
                return STORE_EIO;
            }
        }
        if (fn(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_EIO;
}

static int sq_table_count(struct store *store, const char *table, int64_t *count)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    const struct store_table *t;
    sqlite3_stmt *st = NULL;
    char sql[128];
    int n, rc;

    if ((t = find_table(table, &n)) == NULL || c == NULL)
        return STORE_EIO;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return STORE_EIO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? STORE_OK : STORE_EIO;
}

static int sq_table_insert(struct store *store, const char *table, const struct store_row *rows,
                           int n_rows)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    const struct store_table *t;
    sqlite3_stmt *st = NULL;
    char sql[640];
    size_t used;
    int n, r, i, rc = STORE_OK;

    if ((t = find_table(table, &n)) == NULL || c == NULL)
        return STORE_EIO;
    used = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s (%s) VALUES (?", t->name,
                            t->columns);
    for (i = 1; i < n && used < sizeof(sql); i++)
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, ",?");
    if (used >= sizeof(sql) - 1)
        return STORE_EIO;
    snprintf(sql + used, sizeof(sql) - used, ")");
    if (begin(c) != STORE_OK)
        return STORE_EIO;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return finish(c, STORE_EIO);
    for (r = 0; r < n_rows && rc == STORE_OK; r++) {
        if (rows[r].n != n) {
            rc = STORE_EIO;
            break;
        }
        for (i = 0; i < n; i++) {
            const struct store_value *v = &rows[r].v[i];
            switch (v->type) {
            case STORE_INT:
                sqlite3_bind_int64(st, i + 1, v->i);
                break;
            case STORE_TEXT:
                /* A NULL pointer would bind SQL NULL, not an empty string. */
                sqlite3_bind_text64(st, i + 1, v->p != NULL ? v->p : "", v->len, SQLITE_STATIC,
                                    SQLITE_UTF8);
                break;
            case STORE_BLOB:
                if (v->len == 0)
                    sqlite3_bind_zeroblob(st, i + 1, 0);
                else
                    sqlite3_bind_blob64(st, i + 1, v->p, v->len, SQLITE_STATIC);
                break;
            default:
                sqlite3_bind_null(st, i + 1);
                break;
            }
        }
        rc = run(st);
    }
    sqlite3_finalize(st);
    return finish(c, rc);
}

/* Rows copied in keep their ids; AUTOINCREMENT must still never hand out an
 * id or seq at or below the largest one copied (a deleted user's id is never
 * reused: tokens name users by id). */
static int sq_table_copy_done(struct store *store)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    static const char *const sql =
        "UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM users) "
        "  WHERE name = 'users' AND seq < (SELECT max(id) FROM users);"
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'users', m FROM "
        "  (SELECT max(id) AS m FROM users) WHERE m IS NOT NULL AND "
        "  NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users');"
        "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM revocations) "
        "  WHERE name = 'revocations' AND seq < (SELECT max(seq) FROM revocations);"
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'revocations', m FROM "
        "  (SELECT max(seq) AS m FROM revocations) WHERE m IS NOT NULL AND "
        "  NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'revocations');";

    if (c == NULL || begin(c) != STORE_OK)
        return STORE_EIO;
    return finish(c, sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? STORE_OK
                                                                             : STORE_EIO);
}

static int sq_tables_clear(struct store *store)
{
    struct conn *c = get_conn((struct sqlite_store *)store);
    char sql[128];
    int i, rc = STORE_OK;

    if (c == NULL || begin(c) != STORE_OK)
        return STORE_EIO;
    /* store_tables lists parents first: delete from the end. */
    for (i = store_n_tables - 1; i >= 0 && rc == STORE_OK; i--) {
        snprintf(sql, sizeof(sql), "DELETE FROM %s", store_tables[i].name);
        if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = STORE_EIO;
    }
    return finish(c, rc);
}

static void sq_close(struct store *store)
{
    struct sqlite_store *s = (struct sqlite_store *)store;
    struct conn *c, *next;

    if (s->conns != NULL && atomic_load(&s->unsynced))
        (void)wal_sync(s->conns);
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->write_gate);
    free(s->path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .user_create = sq_user_create,
    .users_import = sq_users_import,
    .user_by_email = sq_user_by_email,
    .user_by_id = sq_user_by_id,
    .user_rehash = sq_user_rehash,
    .user_list = sq_user_list,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .login_commit = sq_login_commit,
    .refresh_rotate = sq_refresh_rotate,
    .session_get = sq_session_get,
    .sid_revoke = sq_sid_revoke,
    .user_revoke = sq_user_revoke,
    .token_revoke = sq_token_revoke,
    .revocations_since = sq_revocations_since,
    .purge = sq_purge,
    .lockout_reserve = sq_lockout_reserve,
    .login_lookup = sq_login_lookup,
    .lockout_reset = sq_lockout_reset,
    .flush = sq_flush,
    .ping = sq_ping,
    .wait_events = sq_wait_events,
    .keys_list = sq_keys_list,
    .keys_apply = sq_keys_apply,
    .secret_get_or_put = sq_secret_get_or_put,
    .secret_put = sq_secret_put,
    .table_rows = sq_table_rows,
    .table_count = sq_table_count,
    .table_insert = sq_table_insert,
    .table_copy_done = sq_table_copy_done,
    .tables_clear = sq_tables_clear,
    .user_register = sq_user_register,
    .email_token_issue = sq_email_token_issue,
    .email_token_find = sq_email_token_find,
    .email_verify = sq_email_verify,
    .password_reset = sq_password_reset,
    .outbox_claim = sq_outbox_claim,
    .outbox_done = sq_outbox_done,
    .outbox_retry = sq_outbox_retry,
    .outbox_expire = sq_outbox_expire,
    .outbox_stats = sq_outbox_stats,
    .totp_put = sq_totp_put,
    .totp_get = sq_totp_get,
    .totp_confirm = sq_totp_confirm,
    .totp_use_step = sq_totp_use_step,
    .mfa_token_issue = sq_mfa_token_issue,
    .mfa_token_get = sq_mfa_token_get,
    .mfa_token_fail = sq_mfa_token_fail,
    .sealed_any = sq_sealed_any,
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
    pthread_mutex_init(&s->write_gate, NULL);
    if (s->path == NULL || pthread_key_create(&s->key, NULL) != 0) {
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
    c->write_gate = &s->write_gate;
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
    case STORE_ELASTADMIN: return "no enabled admin would remain";
    case STORE_ESTALE: return "the account changed meanwhile";
    case STORE_EDISABLED: return "the account is disabled";
    case STORE_EUNAVAIL: return "the database is unavailable";
    case STORE_ENOTSUP: return "not kept by this backend";
    case STORE_EREPLAY: return "already used";
    default: return "unknown error";
    }
}
