/*
 * store.h - everything latch keeps: users now; sessions, refresh tokens and
 * revocations later.  One table of operations (struct store_ops) that each
 * backend fills (sqlite.c now, postgres.c later), with one contract for all
 * of them so the same integration suite runs against each.
 *
 * A store is shared by every thread.  Each call may be made from any thread;
 * backends keep what they need per thread (SQLite: a connection per thread).
 */
#ifndef LATCH_STORE_STORE_H
#define LATCH_STORE_STORE_H

#include "latch_limits.h"

#include <stddef.h>
#include <stdint.h>

enum store_err {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1,
    STORE_ECONFLICT = -2,    /* a unique value (email) is taken */
    STORE_EIO = -3,          /* the backend failed; the operation did not happen */
    STORE_ENOMEM = -4,
};

const char *store_strerror(int err);

/* Room for any password hash string (Argon2id from libsodium is ~100 bytes). */
#define STORE_MAX_HASH_BYTES 255

struct store_user {
    int64_t id;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    char role[LATCH_MAX_ROLE_BYTES + 1];
    char password_hash[STORE_MAX_HASH_BYTES + 1];
    int64_t created_at;                  /* seconds since the epoch, UTC */
    int disabled;
};

struct store;

struct store_ops {
    const char *name;
    void (*close)(struct store *store);
    /* Creates a user; fills *out (id, created_at). STORE_ECONFLICT if the
     * email is taken.  email is already normalised. */
    int (*user_create)(struct store *store, const char *email, const char *password_hash,
                       const char *role, int64_t now, struct store_user *out);
    int (*user_by_email)(struct store *store, const char *email, struct store_user *out);
    int (*user_by_id)(struct store *store, int64_t id, struct store_user *out);
    /* Replaces the hash only if it still equals old_hash (a rehash after
     * login must not undo a password change made meanwhile). */
    int (*user_rehash)(struct store *store, int64_t id, const char *old_hash,
                       const char *new_hash, int64_t now);
};

/* Every backend's handle starts with this. */
struct store {
    const struct store_ops *ops;
};

/* Opens the SQLite store at path, creating and migrating it as needed. */
int store_sqlite_open(struct store **out, const char *path, char *err, size_t err_size);

static inline void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

static inline int store_user_create(struct store *s, const char *email, const char *hash,
                                    const char *role, int64_t now, struct store_user *out)
{
    return s->ops->user_create(s, email, hash, role, now, out);
}

static inline int store_user_by_email(struct store *s, const char *email, struct store_user *out)
{
    return s->ops->user_by_email(s, email, out);
}

static inline int store_user_by_id(struct store *s, int64_t id, struct store_user *out)
{
    return s->ops->user_by_id(s, id, out);
}

static inline int store_user_rehash(struct store *s, int64_t id, const char *old_hash,
                                    const char *new_hash, int64_t now)
{
    return s->ops->user_rehash(s, id, old_hash, new_hash, now);
}

#endif
