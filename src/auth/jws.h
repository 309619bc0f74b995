/*
 * jws.h - JWS compact serialisation (RFC 7515 section 7.1): sign and verify
 * with HS256, EdDSA (Ed25519, RFC 8037), ES256 and RS256 (RFC 7518 3.2-3.4).
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
    JWS_ALG_EDDSA,   /* "EdDSA" with Ed25519 only */
    JWS_ALG_ES256,   /* ECDSA on P-256 with SHA-256 */
    JWS_ALG_RS256,   /* RSASSA-PKCS1-v1_5 with SHA-256 */
};

/* RSA moduli latch accepts: below the minimum a key is refused (RFC 7518 3.3
 * requires 2048); above the maximum a key is refused so that a verification
 * key cannot make each token check arbitrarily slow. */
#define JWS_MIN_RSA_BITS 2048
#define JWS_MAX_RSA_BITS 8192
#define JWS_DEFAULT_RSA_BITS 3072    /* jws_key_generate; NIST 128-bit level */
/* The longest decoded JWS signature: RS256 at JWS_MAX_RSA_BITS. */
#define JWS_MAX_SIGNATURE_BYTES (JWS_MAX_RSA_BITS / 8)
/* The largest PEM text the loaders accept. */
#define JWS_MAX_PEM_BYTES (64 * 1024)

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
/* Parses "HS256", "EdDSA", "ES256" or "RS256" (case-sensitive, as in a JWS
 * header).  Returns JWS_OK and sets *out, or JWS_EALG. */
int jws_alg_from_name(const char *name, enum jws_alg *out);

/* 1 when key can sign (an HS256 secret or an asymmetric private key), 0 for
 * a verification-only public key. */
int jws_key_is_private(const struct jws_key *key);

/*
 * Loads an asymmetric PRIVATE key from PEM text (PKCS#8 "PRIVATE KEY" or the
 * traditional "RSA/EC PRIVATE KEY" forms; len bytes, need not be
 * NUL-terminated; encrypted keys are refused, never prompted for).  The
 * algorithm follows from the key: Ed25519 -> EdDSA, EC P-256 -> ES256 (other
 * curves refused), RSA -> RS256 (JWS_MIN_RSA_BITS..JWS_MAX_RSA_BITS; RSA-PSS
 * keys refused).  The kid is the key's RFC 7638 JWK thumbprint.  On failure
 * returns JWS_EKEY (or JWS_ENOMEM) and writes a one-line reason into err
 * (err may be NULL); *out and *alg_out are untouched.  alg_out may be NULL.
 */
int jws_key_from_pem(struct jws_key **out, const char *pem, size_t len, enum jws_alg *alg_out,
                     char *err, size_t err_size);

/* The same for a verification-only PUBLIC key ("PUBLIC KEY", RFC 5280
 * SubjectPublicKeyInfo; OpenSSL 3 also reads "RSA PUBLIC KEY"); the key
 * cannot sign. */
int jws_key_from_public_pem(struct jws_key **out, const char *pem, size_t len,
                            enum jws_alg *alg_out, char *err, size_t err_size);

/*
 * Generates a fresh private key for alg: Ed25519, EC P-256, or RSA with
 * JWS_DEFAULT_RSA_BITS.  HS256 gives JWS_EKEY (secrets are made by the
 * keyring).  The kid is the RFC 7638 thumbprint.
 */
int jws_key_generate(struct jws_key **out, enum jws_alg alg);
/* An RS256 key of the given size (JWS_MIN_RSA_BITS..JWS_MAX_RSA_BITS). */
int jws_key_generate_rsa(struct jws_key **out, unsigned int bits);

/*
 * Writes the private key as unencrypted PKCS#8 PEM ("PRIVATE KEY") into a
 * new NUL-terminated buffer, so a generated key can be persisted.  The
 * caller owns *pem_out and releases it with jws_pem_free (which wipes it).
 * JWS_EKEY for HS256 and for public-only keys.
 */
int jws_key_to_pem(const struct jws_key *key, char **pem_out, size_t *len);
void jws_pem_free(char *pem, size_t len);

/*
 * Sets (or with NULL, removes) the kid and rebuilds the protected header so
 * issued tokens carry it.  Meant for HS256 keys, whose kid the keyring
 * assigns; asymmetric keys already carry their thumbprint.  This is the one
 * mutation of a key: call it before the key is shared between threads.
 * kid: 1..128 bytes.  On failure the key is unchanged.
 */
int jws_key_set_kid(struct jws_key *key, const char *kid);

/*
 * The public JWK of an asymmetric key (RFC 7517/7518 6, RFC 8037 2):
 * {"kty","crv","x"} (OKP), {"kty","crv","x","y"} (EC) or {"kty","n","e"}
 * (RSA), plus "kid", "alg" and "use":"sig".  Never any private or symmetric
 * material: an HS256 key gives JWS_EKEY.  The caller owns *out (json_decref).
 */
int jws_key_public_jwk(const struct jws_key *key, json_t **out);

/*
 * Signs payload (the exact JSON bytes) with key.  Writes the NUL-terminated
 * compact token into out and its length into *out_len.
 */
int jws_sign(const struct jws_key *key, const char *payload, size_t payload_len,
             char *out, size_t out_size, size_t *out_len);

/*
 * The JWS Signature (RFC 7515 5.1 step 5) over an already-built signing
 * input BASE64URL(header) "." BASE64URL(payload), in its JWS form (HS256: 32
 * bytes, EdDSA and ES256: 64 bytes, raw r||s for ES256; RS256: the modulus
 * size).  jws_sign uses it; it is exposed for the RFC test vectors, whose
 * headers differ from the ones latch writes.  sig_size >= the signature
 * length (JWS_MAX_SIGNATURE_BYTES always suffices).
 */
int jws_sign_input(const struct jws_key *key, const char *input, size_t input_len,
                   unsigned char *sig, size_t sig_size, size_t *sig_len);

/*
 * Returns the key that should verify a token: kid is the header's "kid"
 * (NULL when the header has none).  NULL means no such key.
 */
typedef const struct jws_key *(*jws_key_lookup_fn)(void *ctx, const char *kid);

/*
 * Verifies token (token_len bytes, need not be NUL-terminated).  The
 * signature must have its exact JWS length; an ES256 signature is the raw
 * r||s form (RFC 7518 3.4), never DER, with r and s each in [1, n-1], so
 * the all-zero "psychic signature" (CVE-2022-21449) cannot pass.  On success
 * *payload_out receives the decoded payload, a JSON object parsed with
 * duplicate keys refused; the caller owns it (json_decref).
 */
int jws_verify(const char *token, size_t token_len, jws_key_lookup_fn lookup, void *lookup_ctx,
               json_t **payload_out);

#endif
