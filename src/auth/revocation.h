/*
 * revocation.h - what makes a token stop working before its exp, checked on
 * every authenticated request without a store query:
 *   - revoked families (the token's sid),
 *   - per-user cutoffs (tokens of that user issued before T),
 *   - revoked tokens without sid (by the SHA-256 digest of their signing
 *     input, header.payload: an ES256 signature has a twin (r, n - s) that
 *     verifies too, and revoking the signing input covers both).
 * The set mirrors the store's revocation log: loaded at start, then followed
 * (revocation_sync) so revocations made by another process on the same store
 * (the CLI, another latch) arrive within one sync period.  Entries are kept
 * until the tokens they cover have expired.
 */
#ifndef LATCH_AUTH_REVOCATION_H
#define LATCH_AUTH_REVOCATION_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct revocation;

int revocation_new(struct revocation **out, struct store *store);
void revocation_free(struct revocation *rev);

/* Reads log rows added since the last sync and drops expired entries.
 * Thread-safe; call it after every local revocation, and periodically. */
int revocation_sync(struct revocation *rev, int64_t now);

/* 1 when a token of user_id issued at iat, with sid (may be "" for none) and
 * exact bytes token/len, has been revoked. */
int revocation_check(struct revocation *rev, int64_t user_id, int64_t iat, const char *sid,
                     const char *token, size_t len);

/* Entries held now (families, user cutoffs, tokens), for /metrics. */
size_t revocation_count(struct revocation *rev);

/* The hex SHA-256 of a token's signing input (everything before its last
 * '.'), as the TOKEN log rows hold it. */
void revocation_token_digest_hex(const char *token, size_t len,
                                 char hex[STORE_DIGEST_BYTES * 2 + 1]);

#endif
