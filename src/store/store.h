/*
 * store.h - everything latch keeps: users, login families with their
 * refresh tokens and sessions, the revocation log, lockout counters, and (on
 * PostgreSQL) the signing keys and sealed secrets.  One table of operations
 * (struct store_ops) that each backend fills (sqlite.c, postgres.c), with
 * one contract for all of them so the same integration suite runs against
 * each.
 *
 * A store is shared by every thread.  Each call may be made from any thread;
 * backends keep what they need per thread (SQLite: a connection per thread)
 * or in a pool (PostgreSQL: at most pool_size connections; a call waits for
 * one).  A call that leaves the process (PostgreSQL) is bounded by the
 * store's deadline (store_options.timeout_ms): past it the call gives up and
 * answers STORE_EUNAVAIL, never hangs.  The server never makes such a call
 * on an HTTP thread.
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
    STORE_ELASTADMIN = -5,   /* the change would leave no enabled admin */
    STORE_ESTALE = -6,       /* the password changed since the caller read the user */
    STORE_EDISABLED = -7,    /* the account is disabled */
    STORE_EUNAVAIL = -8,     /* the database did not answer in time or is unreachable */
    STORE_ENOTSUP = -9,      /* this backend does not keep that (SQLite: keys, secrets) */
    STORE_EREPLAY = -10,     /* a single-use value (TOTP step, recovery code, mfa_token)
                              * was used already */
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
    /* Bumped by every password change (not by a rehash of the same
     * password): a login or refresh that began under another generation is
     * stale. */
    int64_t password_gen;
    int email_verified;                  /* the address was proven (issue 11) */
    int mfa;                             /* a confirmed TOTP second factor */
};

struct store;

#define STORE_DIGEST_BYTES 32      /* SHA-256 of an opaque token */
#define STORE_SID_BYTES 64         /* a family / session id, text */

/* What refresh_rotate found. */
enum store_rotate_outcome {
    STORE_ROTATED = 0,        /* first use: the successor is now the live token */
    STORE_ROTATE_RETRY = 1,   /* reused within the window: hand out the same successor */
    STORE_ROTATE_REUSED = 2,  /* reused after the window: the family is now revoked */
    STORE_ROTATE_INVALID = 3, /* unknown, expired or revoked */
};

/* How a login was authenticated: the JWT's amr claim (RFC 8176), kept
 * with the family so that a refresh issues the same. */
#define STORE_AMR_BYTES 32
#define STORE_AMR_PWD "pwd"
#define STORE_AMR_OTP "pwd otp"              /* space-separated values */
#define STORE_AMR_RECOVERY "pwd recovery"

/* What refresh_rotate found: the family and its user as they are now. */
struct store_refresh {
    int64_t user_id;
    char sid[STORE_SID_BYTES + 1];
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    char role[LATCH_MAX_ROLE_BYTES + 1];
    int email_verified;
    char amr[STORE_AMR_BYTES + 1];
};

/* A login to record once its password has verified (login_commit). */
struct store_login {
    const char *sid;                      /* the new family */
    int64_t user_id;
    int64_t password_gen;                 /* the generation the password verified under */
    const unsigned char *refresh_digest;  /* NULL: no refresh token */
    int64_t refresh_expires_at;
    const unsigned char *session_digest;  /* NULL: no session */
    int64_t session_expires_at;
    const char *lockout_key;              /* its failure counter is cleared; NULL: none */
    const char *rehash;                   /* a new hash of the same password; NULL: none */
    int64_t now;
    /* The second step of a login with TOTP (issue 11).  mfa_digest NULL: a
     * password-only login, refused with STORE_ESTALE when the user has a
     * confirmed TOTP (it was enabled while the password was checked).
     * Otherwise the mfa_token with that digest is consumed, and either the
     * recovery code with recovery_digest is deleted or, when that is NULL,
     * totp_step becomes the user's last accepted step (only if later than
     * it); a token, code or step already used is STORE_EREPLAY and nothing
     * is recorded. */
    const unsigned char *mfa_digest;
    const unsigned char *recovery_digest;
    int64_t totp_step;
    const char *amr;                      /* NULL: STORE_AMR_PWD */
};

struct store_session {
    int64_t user_id;
    char sid[STORE_SID_BYTES + 1];
    int64_t created_at, last_seen, expires_at;
};

/* One row of the revocation log that every latch process follows. */
enum store_revocation_kind {
    STORE_REVOKE_SID = 1,     /* key: a family/session id */
    STORE_REVOKE_USER = 2,    /* key: user id; value: cutoff (tokens with iat < value) */
    STORE_REVOKE_TOKEN = 3,   /* key: hex SHA-256 of a token without sid */
};

struct store_revocation {
    int64_t seq;
    enum store_revocation_kind kind;
    char key[STORE_DIGEST_BYTES * 2 + 1];
    int64_t value;
    int64_t expires_at;       /* kept until then; dropped after */
};

/* A user brought from another system (`latch user import`). */
struct store_import_user {
    const char *email;            /* normalised */
    const char *password_hash;    /* a format auth/password.c verifies */
    const char *role;
    int64_t created_at;
    int disabled;
    int email_verified;           /* 1 unless the file says the address was never proven */
};

typedef void (*store_revocation_fn)(void *ctx, const struct store_revocation *rev);
typedef void (*store_user_fn)(void *ctx, const struct store_user *user);

/* A signing key as the store keeps it (PostgreSQL mode): the material is
 * sealed by the caller (auth/keyring.c) under the master key; the store
 * never sees it in clear. */
#define STORE_KID_BYTES 64
#define STORE_MAX_SEALED_BYTES 16384
struct store_key {
    char kid[STORE_KID_BYTES + 1];
    char alg[16];
    int64_t created_at;
    int64_t signs_from;
    const unsigned char *sealed;     /* owned by the store during the callback */
    size_t sealed_len;
};
typedef void (*store_key_fn)(void *ctx, const struct store_key *key);

/* Events the store can announce (store_ops.wait_events). */
enum store_event {
    STORE_EVENT_REVOCATION = 1 << 0, /* new revocation rows: call revocations_since */
    STORE_EVENT_KEYS = 1 << 1,       /* the key set changed: reload it */
    STORE_EVENT_USER = 1 << 2,       /* a user row changed or went: user_id given */
    STORE_EVENT_RESYNC = 1 << 3,     /* events may have been lost (a reconnect): resync all */
};
typedef void (*store_event_fn)(void *ctx, enum store_event event, int64_t user_id);

/*
 * Every table latch keeps, for `latch db copy` and its checks: a row is an
 * array of values in the column order given here, the same in every backend.
 * Later features add their tables at the end of this list.
 */
enum store_value_type { STORE_NULL, STORE_INT, STORE_TEXT, STORE_BLOB };
struct store_value {
    enum store_value_type type;
    int64_t i;                       /* STORE_INT */
    const void *p;                   /* STORE_TEXT (not NUL-terminated) / STORE_BLOB */
    size_t len;
};
#define STORE_MAX_COLUMNS 12
struct store_row {
    int n;
    struct store_value v[STORE_MAX_COLUMNS];
};
struct store_table {
    const char *name;
    const char *columns;             /* comma-separated, in row order */
};
/* users(id, email, password_hash, role, disabled, created_at, updated_at,
 *       password_gen)
 * families(sid, user_id, created_at, revoked_at, password_gen)
 * refresh_tokens(digest, sid, created_at, expires_at, used_at, successor)
 * sessions(digest, sid, created_at, last_seen, expires_at)
 * revocations(seq, kind, key, value, expires_at)
 * login_failures(email, failures, window_start, locked_until)
 * email_tokens(digest, user_id, kind, password_gen, created_at, expires_at)
 * outbox(id, recipient, sealed, attempts, next_attempt, expires_at, created_at,
 *        lease_until)
 * totp(user_id, sealed, confirmed, last_step, created_at)
 * recovery_codes(digest, user_id, created_at)
 * mfa_tokens(digest, user_id, password_gen, expires_at, failures)
 * In that order, parents before children (users gained email_verified and
 * families amr at the end of their columns). */
extern const struct store_table store_tables[];
extern const int store_n_tables;
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);   /* non-zero stops */

/*
 * What a user change asks for; a NULL / negative field is left alone.
 *
 * With end_logins, the change also ends the user's logins in the same
 * transaction when it lowers their rights: a new password, disabled set to
 * true (even if it already was), or admin turned into another role.  Then
 * every family but keep_sid is revoked, and without keep_sid a USER cutoff
 * at now is logged too (sid-less tokens); the log rows are kept until
 * memo_until.  keep_sid's family follows the new password generation.
 * Because the user row and the revocations commit together, a login that
 * commits later sees the new state, and one that committed earlier has its
 * family revoked.
 */
struct store_user_change {
    const char *role;
    int disabled;             /* -1: unchanged */
    const char *password_hash;
    int64_t expect_password_gen; /* >= 0: STORE_ESTALE unless the user's is this */
    int end_logins;
    const char *keep_sid;     /* NULL: none */
    int64_t memo_until;
    /* Removes the second factor (TOTP, recovery codes, pending mfa_tokens)
     * in the same transaction; with end_logins it counts as lowering the
     * account's protection, so its logins end too. */
    int mfa_off;
};

#define STORE_USER_CHANGE_INIT {NULL, -1, NULL, -1, 0, NULL, 0, 0}

/* ---- issue 11: mail, email tokens, the second factor ---- */

/* What an email token is for. */
enum store_token_kind {
    STORE_TOKEN_VERIFY = 1,   /* proves the address (24 h) */
    STORE_TOKEN_RESET = 2,    /* sets a new password (30 min) */
};

#define STORE_MAIL_ID_BYTES 40
/* A mail to queue in the outbox with the change that carries it.  The body
 * is sealed by the caller under the master key with id as associated data:
 * the store never holds a link in clear. */
struct store_mail {
    const char *id;                       /* unique, [A-Za-z0-9_-] */
    const char *recipient;
    const unsigned char *sealed;
    size_t sealed_len;                    /* at most STORE_MAX_SEALED_BYTES */
    int64_t expires_at;                   /* dropped unsent after this (its token's end) */
};

/* An outbox row handed to the sender (values the store's during the
 * callback). */
struct store_outbox_row {
    char id[STORE_MAIL_ID_BYTES + 1];
    char recipient[LATCH_MAX_EMAIL_BYTES + 1];
    const unsigned char *sealed;
    size_t sealed_len;
    int64_t attempts, created_at, expires_at;
};
typedef void (*store_outbox_fn)(void *ctx, const struct store_outbox_row *row);

/* A user's TOTP enrolment. */
#define STORE_MAX_TOTP_SEALED 160
struct store_totp {
    unsigned char sealed[STORE_MAX_TOTP_SEALED];
    size_t sealed_len;
    int confirmed;
    int64_t last_step;        /* the last accepted time step; -1: none */
};

struct store_ops {
    const char *name;
    void (*close)(struct store *store);

    /* ---- users ---- */
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
    /* Inserts n users in one transaction; an email that exists is left as it
     * is.  created[i] becomes 1 for a user inserted, 0 for one skipped. */
    int (*users_import)(struct store *store, const struct store_import_user *users, int n,
                        int *created);
    /* Users with id > after_id in id order, at most limit; *more is set when
     * further users follow. */
    int (*user_list)(struct store *store, int64_t after_id, int limit, store_user_fn fn,
                     void *ctx, int *more);
    /* Applies change atomically (see struct store_user_change);
     * STORE_ELASTADMIN when it would leave no enabled admin.  Fills *out
     * with the user after the change. */
    int (*user_update)(struct store *store, int64_t id, const struct store_user_change *change,
                       int64_t now, struct store_user *out);
    /* Deletes a user and everything of theirs, logging each live family as
     * revoked and a USER cutoff at now (all kept until memo_until) in the
     * same transaction; STORE_ELASTADMIN as above. */
    int (*user_delete)(struct store *store, int64_t id, int64_t now, int64_t memo_until);

    /* ---- families (a login's refresh chain and/or session) ---- */
    /* Records a login whose password verified, in one transaction that
     * first re-reads the user: STORE_ENOTFOUND when deleted, STORE_ESTALE
     * when the password generation moved on, STORE_EDISABLED when disabled;
     * otherwise creates the family with its first refresh token and/or
     * session, clears the lockout counter, applies the rehash when the hash
     * is still the one verified, and fills *current with the user as
     * committed (its role now, not when the login began). */
    int (*login_commit)(struct store *store, const struct store_login *login,
                        struct store_user *current);
    /* Rotates the refresh token with digest; see enum store_rotate_outcome.
     * successor is the digest of the successor the caller derived; it lives
     * ttl_s, and never past family_max_s after the family's login.  A family
     * whose user is disabled or whose password generation is not the
     * user's is STORE_ROTATE_INVALID.  *out receives the user's current
     * role and email. */
    int (*refresh_rotate)(struct store *store, const unsigned char *digest,
                          const unsigned char *successor, int64_t now, int64_t reuse_window_s,
                          int64_t ttl_s, int64_t family_max_s, int64_t memo_until,
                          enum store_rotate_outcome *outcome, struct store_refresh *out);
    /* The live session with digest; slides last_seen when it is older than
     * slide_after_s.  STORE_ENOTFOUND when unknown, idle past idle_s,
     * expired or revoked. */
    int (*session_get)(struct store *store, const unsigned char *digest, int64_t now,
                       int64_t idle_s, int64_t slide_after_s, struct store_session *out);
    /* Revokes one family: its refresh tokens, its session, and a SID row in
     * the revocation log kept until memo_until. */
    int (*sid_revoke)(struct store *store, const char *sid, int64_t now, int64_t memo_until);
    /* Revokes every family of user except except_sid (NULL: all).  When
     * cutoff is non-zero also logs a USER row (tokens with iat < cutoff). */
    int (*user_revoke)(struct store *store, int64_t user_id, const char *except_sid,
                       int64_t cutoff, int64_t now, int64_t memo_until);
    /* Logs a TOKEN row for a token without sid. */
    int (*token_revoke)(struct store *store, const char *digest_hex, int64_t memo_until);
    /* Calls fn for each revocation row with seq > after_seq that has not
     * expired at now; sets *last_seq to the highest seq seen. */
    int (*revocations_since)(struct store *store, int64_t after_seq, int64_t now,
                             store_revocation_fn fn, void *ctx, int64_t *last_seq);
    /* Drops expired revocation rows, refresh tokens and sessions. */
    int (*purge)(struct store *store, int64_t now);

    /* ---- the per-account lockout ---- */
    /*
     * Reserves one password guess for key, atomically: while key is locked
     * sets *retry_after_s > 0 and counts nothing; otherwise counts the guess
     * as a failure up front (a success clears the counter afterwards), locks
     * key once attempts guesses fell within window_s, and sets
     * *retry_after_s = 0.  So however many guesses run at once, no more than
     * attempts of them per window reach the password hash.
     */
    int (*lockout_reserve)(struct store *store, const char *key, int64_t now, int attempts,
                           int64_t window_s, int64_t lockout_s, int64_t *retry_after_s);
    int (*lockout_reset)(struct store *store, const char *key);
    /*
     * A password login's first step, as user_by_email (when email is not
     * NULL) then lockout_reserve: *found is 1 and *out the account when one
     * has that email, else 0.  On a failure no guess is counted.  One round
     * trip on PostgreSQL.
     */
    int (*login_lookup)(struct store *store, const char *email, const char *key, int64_t now,
                        int attempts, int64_t window_s, int64_t lockout_s, struct store_user *out,
                        int *found, int64_t *retry_after_s);

    /*
     * Puts on disk the commits a store made without waiting for their own
     * sync (a guess reservation, a password login: answered once they are
     * in the log, so a crash of latch keeps them, a crash of the machine can
     * forget the last moments of them).  The follower calls it every
     * second.  SQLite syncs its WAL when such a commit came since the last
     * call; PostgreSQL's WAL writer already does this within
     * 3 × wal_writer_delay, so it answers STORE_OK.
     */
    int (*flush)(struct store *store);

    /* ---- health and events ---- */
    /* A round trip to the database within the deadline: STORE_OK or
     * STORE_EUNAVAIL (with a reason for /readyz in why). */
    int (*ping)(struct store *store, char *why, size_t why_size);
    /* Waits up to timeout_ms for events other writers announced (calling fn
     * for each) and returns STORE_OK, also when none came.  SQLite has no
     * announcements: it sleeps and returns; its followers poll.  PostgreSQL
     * listens (LISTEN/NOTIFY) on a connection of its own, outside the pool;
     * whenever that connection is made (the first time too: nothing
     * committed before it listened was heard) it reports STORE_EVENT_RESYNC
     * first.  While the database cannot be reached it keeps trying until
     * timeout_ms has passed, then answers STORE_EUNAVAIL (so a loop around
     * it never spins).  Called from one background thread only. */
    int (*wait_events)(struct store *store, int timeout_ms, store_event_fn fn, void *ctx);

    /* ---- keys and secrets (PostgreSQL; SQLite answers STORE_ENOTSUP) ---- */
    /* Every key, oldest signs_from first; *version receives the key set's
     * version, which every keys_apply moves on (fn may be NULL: the
     * version only). */
    int (*keys_list)(struct store *store, store_key_fn fn, void *ctx, int64_t *version);
    /* In one transaction: when the key set's version is still
     * expect_version, adds add (may be NULL), deletes the kids in drop (n_drop
     * of them) and moves the version on; otherwise STORE_ECONFLICT and
     * nothing changes.  So concurrent rotations (or starts creating the
     * first key) cannot both win. */
    int (*keys_apply)(struct store *store, int64_t expect_version, const struct store_key *add,
                      const char *const *drop, int n_drop);
    /* The sealed secret called name: when absent, candidate is stored first
     * (the first writer wins); *out (at most out_size bytes) receives the
     * stored value, so every instance ends up with the same.  candidate
     * NULL only reads (STORE_ENOTFOUND when absent); a value larger than
     * out_size is STORE_ENOMEM. */
    int (*secret_get_or_put)(struct store *store, const char *name,
                             const unsigned char *candidate, size_t candidate_len,
                             unsigned char *out, size_t out_size, size_t *out_len);
    /* Stores value under name, replacing what was there (latch db copy). */
    int (*secret_put)(struct store *store, const char *name, const unsigned char *value,
                      size_t len);

    /* ---- mail and email tokens (issue 11) ---- */
    /* user_create for a self-registration: the user starts with
     * email_verified false, and a verification token (digest, expiring at
     * token_expires_at) and its mail are recorded in the same transaction. */
    int (*user_register)(struct store *store, const char *email, const char *password_hash,
                         const char *role, int64_t now, const unsigned char *token_digest,
                         int64_t token_expires_at, const struct store_mail *mail,
                         struct store_user *out);
    /* Records an email token of kind for user_id (under the user's current
     * password generation) and queues mail, in one transaction.  A reset
     * token supersedes the user's older reset tokens (they are deleted).
     * STORE_ENOTFOUND when the user is gone. */
    int (*email_token_issue)(struct store *store, int64_t user_id, enum store_token_kind kind,
                             const unsigned char *digest, int64_t expires_at,
                             const struct store_mail *mail, int64_t now);
    /* The user of a live token of kind (not expired at now; a reset token
     * only while the user's password generation is still the one it was
     * issued under); STORE_ENOTFOUND otherwise.  Consumes nothing. */
    int (*email_token_find)(struct store *store, enum store_token_kind kind,
                            const unsigned char *digest, int64_t now, struct store_user *out);
    /* Consumes a live verification token and marks its user's address
     * verified, atomically: of two requests with one token, one succeeds.
     * *out: the user after.  STORE_ENOTFOUND for an unknown, used or
     * expired token. */
    int (*email_verify)(struct store *store, const unsigned char *digest, int64_t now,
                        struct store_user *out);
    /* A password reset, in one transaction: consumes the live reset token
     * with digest (it must belong to user_id and to the user's current
     * password generation, else STORE_ENOTFOUND and nothing changes),
     * deletes the user's other reset tokens, sets new_hash (a new password
     * generation), marks the address verified, ends every login (families
     * revoked, a USER cutoff at now, log rows kept until memo_until), clears
     * the lockout counter of the user's email, deletes pending mfa_tokens,
     * and queues mail (the notification).  *out: the user after. */
    int (*password_reset)(struct store *store, const unsigned char *digest, int64_t user_id,
                          const char *new_hash, int64_t now, int64_t memo_until,
                          const struct store_mail *mail, struct store_user *out);
    /* Claims up to limit due mails (next attempt at or before now, not
     * claimed by a live lease) for the caller until lease_until and calls fn
     * for each: instances sharing the store never claim one row at once. */
    int (*outbox_claim)(struct store *store, int64_t now, int64_t lease_until, int limit,
                        store_outbox_fn fn, void *ctx);
    /* A mail was sent: its row goes. */
    int (*outbox_done)(struct store *store, const char *id);
    /* A send failed: counts the attempt, next try at next_attempt. */
    int (*outbox_retry)(struct store *store, const char *id, int64_t next_attempt);
    /* Deletes mails whose token expired (expires_at <= now); *dropped
     * receives how many. */
    int (*outbox_expire)(struct store *store, int64_t now, int64_t *dropped);
    /* Mails waiting, and the creation time of the oldest (0 when none). */
    int (*outbox_stats)(struct store *store, int64_t *pending, int64_t *oldest_created_at);

    /* ---- the second factor (issue 11) ---- */
    /* Stores a new, unconfirmed TOTP secret (sealed by the caller, the
     * user's "totp:<id>" as associated data), replacing an unconfirmed one;
     * STORE_ECONFLICT when a confirmed one exists, STORE_ENOTFOUND when the
     * user is gone. */
    int (*totp_put)(struct store *store, int64_t user_id, const unsigned char *sealed,
                    size_t sealed_len, int64_t now);
    /* The user's enrolment; STORE_ENOTFOUND when there is none. */
    int (*totp_get)(struct store *store, int64_t user_id, struct store_totp *out);
    /* Confirms the unconfirmed enrolment with the step of a correct code and
     * replaces the user's recovery codes with n digests, atomically.
     * STORE_ENOTFOUND: no enrolment; STORE_ECONFLICT: already confirmed;
     * STORE_EREPLAY: step is not later than the last accepted one. */
    int (*totp_confirm)(struct store *store, int64_t user_id, int64_t step,
                        const unsigned char (*digests)[STORE_DIGEST_BYTES], int n, int64_t now);
    /* Compare-and-set of a confirmed enrolment's last accepted step: sets
     * step only when it is later; STORE_EREPLAY otherwise (so one code is
     * accepted once, whichever instance sees it), STORE_ENOTFOUND without a
     * confirmed enrolment. */
    int (*totp_use_step)(struct store *store, int64_t user_id, int64_t step);
    /* The first step of a login with TOTP: records an mfa_token (digest)
     * for user_id under the generation the password verified with. */
    int (*mfa_token_issue)(struct store *store, const unsigned char *digest, int64_t user_id,
                           int64_t password_gen, int64_t expires_at);
    /* The user and password generation of a live mfa_token; STORE_ENOTFOUND
     * for an unknown, used or expired one. */
    int (*mfa_token_get)(struct store *store, const unsigned char *digest, int64_t now,
                         int64_t *user_id, int64_t *password_gen);
    /* Counts a wrong code against an mfa_token; the max_failures-th ends it
     * (the row goes). */
    int (*mfa_token_fail)(struct store *store, const unsigned char *digest, int max_failures);
    /* One sealed value the store holds (a TOTP secret or an outbox body)
     * with the associated data it was sealed under, to check the master key
     * at start; STORE_ENOTFOUND when nothing sealed is kept. */
    int (*sealed_any)(struct store *store, char *ad, size_t ad_size, unsigned char *out,
                      size_t out_size, size_t *out_len);

    /* ---- moving between backends (latch db copy) ---- */
    /* Calls fn for every row of table (one of store_tables), in primary-key
     * order (byte order for text keys, in every backend); the values are
     * the store's during the callback.  fn returning non-zero stops it
     * (STORE_OK).  A name not in store_tables is STORE_EIO. */
    int (*table_rows)(struct store *store, const char *table, store_row_fn fn, void *ctx);
    int (*table_count)(struct store *store, const char *table, int64_t *count);
    /* Inserts rows as given (ids and seqs kept) into table, in one
     * transaction (within one call's deadline: copy in batches); after the
     * last table the backend's id/seq generators are moved past the largest
     * ids copied (table_copy_done). */
    int (*table_insert)(struct store *store, const char *table, const struct store_row *rows,
                        int n_rows);
    int (*table_copy_done)(struct store *store);
    /* Deletes every row of every table (copy --force), children first. */
    int (*tables_clear)(struct store *store);
};

/* Every backend's handle starts with this. */
struct store {
    const struct store_ops *ops;
};

struct store_options {
    int pool_size;           /* PostgreSQL connections (at least 1) */
    int timeout_ms;          /* deadline of each call that leaves the process */
    int migrate;             /* apply missing migrations at open (else refuse to run
                              * on an older schema) */
};

/* Opens the SQLite store at path, creating and migrating it as needed. */
int store_sqlite_open(struct store **out, const char *path, char *err, size_t err_size);

/* Opens the PostgreSQL store at conninfo (a postgres:// URL or a libpq
 * keyword/value string), applying missing migrations under an advisory lock
 * when opts->migrate, and refusing a schema newer than this latch knows.
 * Messages in err never contain the password. */
int store_pg_open(struct store **out, const char *conninfo, const struct store_options *opts,
                  char *err, size_t err_size);

/* The newest PostgreSQL schema version (number of migrations) this latch
 * knows. */
int store_pg_schema_version(void);

/* Copies text into out (always NUL-terminated, truncated to out_size) with
 * every password a libpq connection string could carry masked: a URL's
 * user:pass@, password=... (quoted or not), and each literal occurrence of
 * password (NULL: none).  For messages that may quote a conninfo. */
void store_pg_redact(const char *text, const char *password, char *out, size_t out_size);


/*
 * Every call through STORE_CALL and the store_user_* helpers below is timed
 * and counted for /metrics (store/stats.c), and a failure (STORE_EIO,
 * STORE_ENOMEM, STORE_EUNAVAIL) is remembered for the calling thread's
 * request, so that the 500 it leads to can say which operation failed.
 * Costs two clock reads and two atomic adds per call.
 */
uint64_t store_clock_us(void);
int store_observe(const char *op, uint64_t started_us, int rc);

#define STORE_CALL(s, op, ...)                                                      \
    __extension__({                                                                 \
        uint64_t store_call_t0_ = store_clock_us();                                 \
        store_observe(#op, store_call_t0_, (s)->ops->op((s), __VA_ARGS__));         \
    })

/* STORE_CALL for flush, which takes no argument but the store. */
static inline int store_flush(struct store *s)
{
    uint64_t t0 = store_clock_us();

    return store_observe("flush", t0, s->ops->flush(s));
}

static inline void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

static inline int store_user_create(struct store *s, const char *email, const char *hash,
                                    const char *role, int64_t now, struct store_user *out)
{
    uint64_t t0 = store_clock_us();

    return store_observe("user_create", t0, s->ops->user_create(s, email, hash, role, now, out));
}

static inline int store_user_by_email(struct store *s, const char *email, struct store_user *out)
{
    uint64_t t0 = store_clock_us();

    return store_observe("user_by_email", t0, s->ops->user_by_email(s, email, out));
}

static inline int store_user_by_id(struct store *s, int64_t id, struct store_user *out)
{
    uint64_t t0 = store_clock_us();

    return store_observe("user_by_id", t0, s->ops->user_by_id(s, id, out));
}

static inline int store_user_rehash(struct store *s, int64_t id, const char *old_hash,
                                    const char *new_hash, int64_t now)
{
    uint64_t t0 = store_clock_us();

    return store_observe("user_rehash", t0, s->ops->user_rehash(s, id, old_hash, new_hash, now));
}

#endif
