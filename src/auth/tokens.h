/*
 * tokens.h - the access-token policy on top of JWS: which claims latch puts
 * in a token and which it requires of one (RFC 7519, RFC 8725).
 *
 * Issued: sub (user id as a string), userId, email, email_verified, role,
 * iat, exp, jti, iss, sid (the login's family) when there is one, and amr
 * (RFC 8176: ["pwd","otp"] or ["pwd","recovery"]) when the login used a
 * second factor.
 * Required on input: sub, userId (equal to sub), role, iat, exp, iss (equal
 * to the configured issuer).  email, email_verified (a boolean), jti, nbf,
 * sid and amr are optional, so tokens
 * minted elsewhere with the required claims are accepted.  A token may not
 * live longer than latch's own (exp - iat at most access TTL + leeway), so
 * that the revocation set, which remembers that long, covers every token;
 * role and email may not contain control, line-separator or bidi
 * characters (they end up in headers and logs).
 */
#ifndef LATCH_AUTH_TOKENS_H
#define LATCH_AUTH_TOKENS_H

#include "auth/jws.h"
#include "latch_limits.h"

#include <stdint.h>

enum tokens_err {
    TOKENS_OK = 0,
    TOKENS_EJWS = -1,      /* malformed, bad signature, bad header: see jws */
    TOKENS_ECLAIMS = -2,   /* a required claim is missing or of the wrong type */
    TOKENS_EEXPIRED = -3,
    TOKENS_ENOTYET = -4,   /* nbf or iat in the future */
    TOKENS_EISSUER = -5,
    TOKENS_ENOMEM = -6,
    TOKENS_ELIFETIME = -7, /* exp - iat exceeds the access TTL + leeway */
};

const char *tokens_strerror(int err);

#define TOKENS_MAX_ID_BYTES 64

struct token_claims {
    int64_t user_id;
    char role[LATCH_MAX_ROLE_BYTES + 1];
    char email[LATCH_MAX_EMAIL_BYTES + 1];   /* "" when absent */
    char jti[TOKENS_MAX_ID_BYTES + 1];       /* "" when absent */
    char sid[TOKENS_MAX_ID_BYTES + 1];       /* "" when absent */
    int email_verified;                      /* 1 only when the claim is true */
    int64_t iat, exp;
};

/* What a token is issued for. */
struct token_subject {
    int64_t user_id;
    const char *email;
    const char *role;
    const char *sid;          /* the family id; NULL for none */
    int email_verified;
    const char *amr;          /* space-separated methods; NULL or "pwd": no amr claim */
};

struct tokens_policy {
    const char *issuer;
    int64_t access_ttl_s;
    int64_t leeway_s;
};

/* Room for any token latch issues. */
#define TOKENS_MAX_ISSUED_BYTES 2560

/* Issues an access token signed with key at time now (seconds). */
int tokens_issue(const struct jws_key *key, const struct tokens_policy *policy,
                 const struct token_subject *subject, int64_t now,
                 char *out, size_t out_size, size_t *out_len);

/* Verifies a token's signature (through lookup) and its claims at time now. */
int tokens_verify(const char *token, size_t token_len, jws_key_lookup_fn lookup,
                  void *lookup_ctx, const struct tokens_policy *policy, int64_t now,
                  struct token_claims *out);

/* Checks the claims of an already verified payload (exposed for tests). */
int tokens_check_claims(json_t *payload, const struct tokens_policy *policy, int64_t now,
                        struct token_claims *out);

#endif
