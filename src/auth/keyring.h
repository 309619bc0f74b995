/*
 * keyring.h - the signing and verification keys, their kids and their
 * rotation.
 *
 * Generated keys live in <data_dir>/keys.json (mode 0600, written
 * atomically), each with its algorithm and the moment it starts signing
 * (signs_from).  Given the time, every key is in one state:
 *   next         published in the JWKS, not signing yet (pre-publication);
 *   signing      the newest started key;
 *   verify-only  replaced, kept until every token it signed has expired;
 *   retired      dropped from verification and the JWKS.
 * The keys record the algorithm: it is the newest key's (a pre-published
 * one included), so a data dir keeps its algorithm without LATCH_JWT_ALG; an
 * explicit LATCH_JWT_ALG that differs is refused at start.  `latch key
 * rotate` adds a key of the recorded algorithm (or of an explicit one, which
 * is how the algorithm changes) that signs from now + prepublish; a running
 * server notices the file change within a second (at once on SIGHUP).
 *
 * A key given from outside (LATCH_JWT_SECRET for HS256, LATCH_JWT_KEY_FILE
 * for the asymmetric algorithms) is the only key: rotation refuses, and is
 * done by changing it and restarting.
 *
 * Readers (issue, verify, JWKS) may run on every thread at once; a reload
 * swaps the whole set under a write lock.
 */
#ifndef LATCH_AUTH_KEYRING_H
#define LATCH_AUTH_KEYRING_H

#include "auth/jws.h"
#include "auth/tokens.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define KEYRING_FILE "keys.json"
#define KEYRING_LEGACY_SECRET_FILE "jwt-secret"

struct store;

struct keyring_options {
    const char *data_dir;
    /* PostgreSQL mode: the keys live in the store, sealed under master_key
     * (32 bytes), and keys.json is not used. */
    struct store *store;
    const unsigned char *master_key;
    enum jws_alg alg;            /* LATCH_JWT_ALG, when alg_explicit */
    int alg_explicit;            /* 0: the keys' recorded algorithm (HS256 when none) */
    const char *env_secret;      /* LATCH_JWT_SECRET or NULL */
    const char *key_file;        /* LATCH_JWT_KEY_FILE or NULL */
    int64_t prepublish_s;        /* LATCH_KEY_PREPUBLISH_S */
    int64_t verify_keep_s;       /* access lifetime + leeway */
};

enum keyring_state { KEY_NEXT, KEY_SIGNING, KEY_VERIFY_ONLY, KEY_RETIRED };
const char *keyring_state_name(enum keyring_state state);

struct keyring;

/*
 * Opens the keyring.  With create, a missing or empty keys.json gets a new
 * key that signs at once.  Refuses an explicit algorithm that differs from
 * the recorded one, naming both.  *warning may receive a message to log
 * (e.g. LATCH_JWT_SECRET ignored).
 */
int keyring_open(struct keyring **out, const struct keyring_options *opts, int create,
                 char *err, size_t err_size, char *warning, size_t warning_size);
void keyring_free(struct keyring *kr);

/* The algorithm new tokens are signed with (the recorded one), and how many
 * keys the keyring holds. */
enum jws_alg keyring_alg(struct keyring *kr);
int keyring_count(struct keyring *kr);

/* Reloads keys.json when it changed since the last load (always when force).
 * Returns 1 when reloaded, 0 when unchanged, -1 on error (old keys stay). */
int keyring_reload(struct keyring *kr, int force, char *err, size_t err_size);

/* Issues an access token with the signing key at now. */
int keyring_issue(struct keyring *kr, const struct tokens_policy *policy,
                  const struct token_subject *subject, int64_t now, char *out, size_t out_size,
                  size_t *out_len);

/* Verifies a token against the keys in force at now (tokens_verify).  When
 * key_until is not NULL it receives the moment the verifying key retires
 * (INT64_MAX when no retirement is scheduled yet). */
int keyring_verify(struct keyring *kr, const char *token, size_t len,
                   const struct tokens_policy *policy, int64_t now, struct token_claims *claims,
                   int64_t *key_until);

/* Verifies only the signature (for `latch token decode`). */
int keyring_verify_signature(struct keyring *kr, const char *token, size_t len, int64_t now,
                             json_t **payload);

/* The JWKS document at now: {"keys":[...]} of every public key in states
 * next, signing and verify-only.  The caller frees it (free). */
char *keyring_jwks(struct keyring *kr, int64_t now);

/* One line per key for `latch key list`. */
typedef void (*keyring_list_fn)(void *ctx, const char *kid, const char *alg, int64_t created_at,
                                int64_t signs_from, enum keyring_state state);
void keyring_list(struct keyring *kr, int64_t now, keyring_list_fn fn, void *ctx);

/* Adds a key that signs from now + prepublish_s (CLI): of opts->alg when
 * explicit, else of the recorded algorithm.  Refuses with an explanation
 * when the key comes from outside.  *alg_out receives the new key's. */
int keyring_rotate(const struct keyring_options *opts, int64_t now, char *kid_out,
                   size_t kid_size, enum jws_alg *alg_out, char *err, size_t err_size);

/* A key with its material in clear, as `latch db copy` moves it between a
 * keys.json and a store.  material is NUL-terminated. */
struct keyring_export_key {
    char kid[STORE_KID_BYTES + 1];
    char alg[16];
    int64_t created_at;
    int64_t signs_from;
    const char *material;
};
typedef int (*keyring_export_fn)(void *ctx, const struct keyring_export_key *key);

/* Calls fn for every key of o's source (keys.json in o->data_dir, or the
 * store, unsealed with o->master_key); nothing when there is none. */
int keyring_export(const struct keyring_options *o, keyring_export_fn fn, void *ctx, char *err,
                   size_t err_size);

/* Makes keys the whole key set of o's source (sealed under o->master_key in
 * a store), replacing whatever it held. */
int keyring_import(const struct keyring_options *o, const struct keyring_export_key *keys, int n,
                   char *err, size_t err_size);

#endif
