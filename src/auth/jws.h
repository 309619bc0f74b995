/*
 * jws.h - JWS compact serialisation (RFC 7515 section 7.1): sign and verify.
 *
 * A key carries its algorithm.  Verification picks the key from the token's
 * "kid" through a caller-supplied lookup, then requires the token's "alg" to
 * equal that key's algorithm before any cryptography runs, so the token never
 * chooses how it is checked (RFC 8725 section 3.1).  Headers that would make
 * the verifier fetch or trust key material from the token itself (jku, x5u,
 * jwk, x5c) and unknown critical extensions are refused.
 *
 * The decoder does no I/O and never logs: it takes a buffer and returns an
 * error code, so it can be unit-tested and fuzzed alone.
 */
#ifndef LATCH_AUTH_JWS_H
#define LATCH_AUTH_JWS_H

#include <jansson.h>
#include <stddef.h>

enum jws_alg {
    JWS_ALG_HS256,
};

enum jws_err {
    JWS_OK = 0,
    JWS_EMALFORMED = -1,   /* not three base64url parts of sane length and JSON */
    JWS_EHEADER = -2,      /* a forbidden or unsupported header parameter */
    JWS_ENOKEY = -3,       /* no key for the token's kid */
    JWS_EALG = -4,         /* the token's alg is not the key's algorithm */
    JWS_ESIGNATURE = -5,   /* the signature does not verify */
    JWS_ENOMEM = -6,
    JWS_EKEY = -7,         /* an unusable key (too short, crypto library failure) */
};

const char *jws_strerror(int err);

/* A signing/verification key; immutable once built, safe to share between
 * threads. */
struct jws_key;

/*
 * Builds an HS256 key from secret (copied into OpenSSL's MAC context; the
 * caller wipes its own copy).  kid may be NULL: then issued tokens carry no
 * kid.  Returns JWS_OK and sets *out, or an error.
 */
int jws_key_new_hs256(struct jws_key **out, const unsigned char *secret, size_t secret_len,
                      const char *kid);
void jws_key_free(struct jws_key *key);
enum jws_alg jws_key_alg(const struct jws_key *key);
const char *jws_key_kid(const struct jws_key *key);     /* NULL when none */
const char *jws_alg_name(enum jws_alg alg);

/*
 * Signs payload (the exact JSON bytes) with key.  Writes the NUL-terminated
 * compact token into out and its length into *out_len.
 */
int jws_sign(const struct jws_key *key, const char *payload, size_t payload_len,
             char *out, size_t out_size, size_t *out_len);

/*
 * Returns the key that should verify a token: kid is the header's "kid"
 * (NULL when the header has none).  NULL means no such key.
 */
typedef const struct jws_key *(*jws_key_lookup_fn)(void *ctx, const char *kid);

/*
 * Verifies token (token_len bytes, need not be NUL-terminated).  On success
 * *payload_out receives the decoded payload, a JSON object parsed with
 * duplicate keys refused; the caller owns it (json_decref).
 */
int jws_verify(const char *token, size_t token_len, jws_key_lookup_fn lookup, void *lookup_ctx,
               json_t **payload_out);

#endif
