#include "auth/revocation.h"

#include "util/strmap.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct revocation {
    struct store *store;
    pthread_rwlock_t lock;        /* readers: every request; writer: sync */
    pthread_mutex_t sync_lock;    /* one sync at a time */
    struct strmap *entries;
    int64_t last_seq;
    int64_t last_expire;
    int has_tokens;               /* any TOKEN entry: only then hash tokens */
};

int revocation_new(struct revocation **out, struct store *store)
{
    struct revocation *rev = calloc(1, sizeof(*rev));

    if (rev == NULL)
        return -1;
    rev->entries = strmap_new();
    if (rev->entries == NULL) {
        free(rev);
        return -1;
    }
    rev->store = store;
    pthread_rwlock_init(&rev->lock, NULL);
    pthread_mutex_init(&rev->sync_lock, NULL);
    *out = rev;
    return 0;
}

void revocation_free(struct revocation *rev)
{
    if (rev == NULL)
        return;
    strmap_free(rev->entries);
    pthread_rwlock_destroy(&rev->lock);
    pthread_mutex_destroy(&rev->sync_lock);
    free(rev);
}

struct sync_ctx {
    struct revocation *rev;
    int failed;
};

static void apply(void *p, const struct store_revocation *row)
{
    struct sync_ctx *ctx = p;
    struct revocation *rev = ctx->rev;
    char key[sizeof(row->key) + 3];
    int64_t old;
    int64_t value = row->value;

    switch (row->kind) {
    case STORE_REVOKE_SID:
        snprintf(key, sizeof(key), "s:%s", row->key);
        break;
    case STORE_REVOKE_USER:
        snprintf(key, sizeof(key), "u:%s", row->key);
        /* The latest cutoff wins. */
        if (strmap_get(rev->entries, key, &old) && old > value)
            value = old;
        break;
    case STORE_REVOKE_TOKEN:
        snprintf(key, sizeof(key), "t:%s", row->key);
        rev->has_tokens = 1;
        break;
    default:
        return;
    }
    if (strmap_put(rev->entries, key, value, row->expires_at) != 0)
        ctx->failed = 1;
}

int revocation_sync(struct revocation *rev, int64_t now)
{
    struct sync_ctx ctx = {rev, 0};
    int64_t last = 0;
    int rc;

    pthread_mutex_lock(&rev->sync_lock);
    pthread_rwlock_wrlock(&rev->lock);
    rc = STORE_CALL(rev->store, revocations_since, rev->last_seq, now, apply, &ctx, &last);
    if (rc == STORE_OK && !ctx.failed)
        rev->last_seq = last;
    if (now != rev->last_expire) {
        strmap_expire(rev->entries, now);
        rev->last_expire = now;
    }
    pthread_rwlock_unlock(&rev->lock);
    pthread_mutex_unlock(&rev->sync_lock);
    return rc == STORE_OK && !ctx.failed ? 0 : -1;
}

void revocation_token_digest_hex(const char *token, size_t len,
                                 char hex[STORE_DIGEST_BYTES * 2 + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    const char *dot = memrchr(token, '.', len);

    if (dot != NULL)
        len = (size_t)(dot - token);
    crypto_hash_sha256(digest, (const unsigned char *)token, len);
    sodium_bin2hex(hex, STORE_DIGEST_BYTES * 2 + 1, digest, sizeof(digest));
}

int revocation_check(struct revocation *rev, int64_t user_id, int64_t iat, const char *sid,
                     const char *token, size_t len)
{
    char key[STORE_DIGEST_BYTES * 2 + 4];
    int64_t value;
    int revoked = 0;

    pthread_rwlock_rdlock(&rev->lock);
    if (strmap_count(rev->entries) > 0) {
        snprintf(key, sizeof(key), "u:%lld", (long long)user_id);
        /* A cutoff ends tokens issued before it.  A token without sid ends
         * also when issued in the cutoff's own second (iat has 1 s
         * resolution); one with sid was ended with its family, and a new
         * login in that same second must work. */
        if (strmap_get(rev->entries, key, &value) &&
            (sid[0] == '\0' ? iat <= value : iat < value))
            revoked = 1;
        if (!revoked && sid[0] != '\0') {
            snprintf(key, sizeof(key), "s:%s", sid);
            revoked = strmap_get(rev->entries, key, &value);
        }
        if (!revoked && sid[0] == '\0' && rev->has_tokens) {
            key[0] = 't';
            key[1] = ':';
            revocation_token_digest_hex(token, len, key + 2);
            revoked = strmap_get(rev->entries, key, &value);
        }
    }
    pthread_rwlock_unlock(&rev->lock);
    return revoked;
}

size_t revocation_count(struct revocation *rev)
{
    size_t n;

    pthread_rwlock_rdlock(&rev->lock);
    n = strmap_count(rev->entries);
    pthread_rwlock_unlock(&rev->lock);
    return n;
}
