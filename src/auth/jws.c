#include "auth/jws.h"

#include "latch_limits.h"
#include "util/b64url.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HS256_MAC_BYTES 32
#define ED25519_KEY_BYTES 32
#define ED25519_SIG_BYTES 64
#define P256_SCALAR_BYTES 32
#define ES256_SIG_BYTES (2 * P256_SCALAR_BYTES)
/* A DER ECDSA-Sig-Value for P-256: SEQUENCE of two INTEGERs of up to 33 bytes. */
#define ES256_DER_MAX_BYTES 72
#define SHA256_BYTES 32
#define MAX_KID_BYTES 128
/* The encoded protected header of tokens latch issues. */
#define MAX_HEADER_B64_BYTES 256

/* The order n of the P-256 base point (SEC 2, FIPS 186-4 D.1.2.3), big-endian. */
static const unsigned char p256_order[P256_SCALAR_BYTES] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

struct jws_key {
    enum jws_alg alg;
    EVP_MAC_CTX *mac;                   /* HS256: keyed once; duplicated per use */
    EVP_PKEY *pkey;                     /* asymmetric: read-only, shared by all threads */
    int can_sign;
    size_t sig_bytes;                   /* length of this key's JWS signatures */
    unsigned char ed25519_pk[32];       /* EdDSA: the raw public key, for libsodium */
    char kid[MAX_KID_BYTES + 1];
    int has_kid;
    char header_b64[MAX_HEADER_B64_BYTES];
    size_t header_b64_len;
};

const char *jws_strerror(int err)
{
    switch (err) {
    case JWS_OK: return "ok";
    case JWS_EMALFORMED: return "malformed token";
    case JWS_EHEADER: return "forbidden or unsupported header parameter";
    case JWS_ENOKEY: return "no key for this token";
    case JWS_EALG: return "algorithm does not match the key";
    case JWS_ESIGNATURE: return "signature does not verify";
    case JWS_ENOMEM: return "out of memory";
    case JWS_EKEY: return "unusable key";
    default: return "unknown error";
    }
}

const char *jws_alg_name(enum jws_alg alg)
{
    switch (alg) {
    case JWS_ALG_HS256: return "HS256";
    case JWS_ALG_EDDSA: return "EdDSA";
    case JWS_ALG_ES256: return "ES256";
    case JWS_ALG_RS256: return "RS256";
    }
    return "?";
}

int jws_alg_from_name(const char *name, enum jws_alg *out)
{
    static const enum jws_alg all[] = {JWS_ALG_HS256, JWS_ALG_EDDSA, JWS_ALG_ES256,
                                       JWS_ALG_RS256};
    size_t i;

    if (name == NULL)
        return JWS_EALG;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, jws_alg_name(all[i])) == 0) {
            *out = all[i];
            return JWS_OK;
        }
    }
    return JWS_EALG;
}

enum jws_alg jws_key_alg(const struct jws_key *key)
{
    return key->alg;
}

const char *jws_key_kid(const struct jws_key *key)
{
    return key->has_kid ? key->kid : NULL;
}

int jws_key_is_private(const struct jws_key *key)
{
    return key->can_sign;
}

void jws_key_free(struct jws_key *key)
{
    if (key == NULL)
        return;
    EVP_MAC_CTX_free(key->mac);
    EVP_PKEY_free(key->pkey);
    OPENSSL_cleanse(key, sizeof(*key));
    free(key);
}

/* Writes a one-line reason for the caller to log; library code never logs. */
static void set_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* Encodes the protected header {"alg":..,"kid":..,"typ":"JWT"} for kid (NULL:
 * no kid) into dst. */
static int encode_header(enum jws_alg alg, const char *kid, char dst[MAX_HEADER_B64_BYTES],
                         size_t *dst_len)
{
    json_t *h;
    char *text;
    size_t len;
    int rc = JWS_ENOMEM;

    /* Member order is fixed by JSON_PRESERVE_ORDER so tokens are stable. */
    h = json_object();
    if (h == NULL)
        return JWS_ENOMEM;
    if (json_object_set_new(h, "alg", json_string(jws_alg_name(alg))) != 0 ||
        (kid != NULL && json_object_set_new(h, "kid", json_string(kid)) != 0) ||
        json_object_set_new(h, "typ", json_string("JWT")) != 0)
        goto cleanup;
    text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        goto cleanup;
    len = strlen(text);
    if (b64url_encoded_len(len) + 1 > MAX_HEADER_B64_BYTES) {
        rc = JWS_EKEY;
    } else {
        *dst_len = b64url_encode(dst, MAX_HEADER_B64_BYTES, (const unsigned char *)text, len);
        rc = JWS_OK;
    }
    free(text);
cleanup:
    json_decref(h);
    return rc;
}

static int build_header(struct jws_key *key)
{
    return encode_header(key->alg, key->has_kid ? key->kid : NULL, key->header_b64,
                         &key->header_b64_len);
}

static int kid_is_valid(const char *kid)
{
    size_t len = strlen(kid);
    return len > 0 && len <= MAX_KID_BYTES;
}

int jws_key_set_kid(struct jws_key *key, const char *kid)
{
    char header_b64[MAX_HEADER_B64_BYTES];
    size_t header_b64_len = 0;
    int rc;

    if (kid != NULL && !kid_is_valid(kid))
        return JWS_EKEY;
    /* Build the new header first so that a failure leaves the key as it was. */
    rc = encode_header(key->alg, kid, header_b64, &header_b64_len);
    if (rc != JWS_OK)
        return rc;
    if (kid != NULL) {
        memcpy(key->kid, kid, strlen(kid) + 1);
        key->has_kid = 1;
    } else {
        memset(key->kid, 0, sizeof(key->kid));
        key->has_kid = 0;
    }
    memcpy(key->header_b64, header_b64, header_b64_len + 1);
    key->header_b64_len = header_b64_len;
    return JWS_OK;
}

int jws_key_new_hs256(struct jws_key **out, const unsigned char *secret, size_t secret_len,
                      const char *kid)
{
    struct jws_key *key;
    EVP_MAC *mac = NULL;
    OSSL_PARAM params[2];
    int rc = JWS_EKEY;

    if (secret_len < LATCH_MIN_SECRET_BYTES || secret_len > LATCH_MAX_SECRET_BYTES)
        return JWS_EKEY;
    if (kid != NULL && !kid_is_valid(kid))
        return JWS_EKEY;
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return JWS_ENOMEM;
    key->alg = JWS_ALG_HS256;
    key->can_sign = 1;
    key->sig_bytes = HS256_MAC_BYTES;
    if (kid != NULL) {
        memcpy(key->kid, kid, strlen(kid) + 1);
        key->has_kid = 1;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        goto cleanup;
    key->mac = EVP_MAC_CTX_new(mac);
    if (key->mac == NULL)
        goto cleanup;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(key->mac, secret, secret_len, params) != 1)
        goto cleanup;
    rc = build_header(key);

cleanup:
    EVP_MAC_free(mac);
    if (rc != JWS_OK) {
        ERR_clear_error();
        jws_key_free(key);
        return rc;
    }
    *out = key;
    return JWS_OK;
}

/* ---- Asymmetric keys ---------------------------------------------------- */

/* Sets member name of obj to the base64url encoding of n bytes. */
static int set_b64_member(json_t *obj, const char *name, const unsigned char *bytes, size_t n)
{
    size_t enc_size = b64url_encoded_len(n) + 1;
    char *enc = malloc(enc_size);
    int rc = JWS_ENOMEM;

    if (enc == NULL)
        return JWS_ENOMEM;
    if (b64url_encode(enc, enc_size, bytes, n) == b64url_encoded_len(n) &&
        json_object_set_new(obj, name, json_string(enc)) == 0)
        rc = JWS_OK;
    free(enc);
    return rc;
}

/*
 * Sets member name to a big-endian integer parameter of pkey: with width 0
 * in the fewest octets (RSA n and e, RFC 7518 6.3.1), else left-padded to
 * exactly width octets (EC coordinates, RFC 7518 6.2.1.2).
 */
static int set_bn_member(json_t *obj, const char *name, const EVP_PKEY *pkey,
                         const char *param, size_t width)
{
    BIGNUM *bn = NULL;
    unsigned char *buf = NULL;
    size_t n;
    int rc = JWS_EKEY;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        goto cleanup;
    n = width != 0 ? width : (size_t)BN_num_bytes(bn);
    if (n == 0 || n > JWS_MAX_SIGNATURE_BYTES)
        goto cleanup;
    buf = malloc(n);
    if (buf == NULL) {
        rc = JWS_ENOMEM;
        goto cleanup;
    }
    if (BN_bn2binpad(bn, buf, (int)n) != (int)n)
        goto cleanup;
    rc = set_b64_member(obj, name, buf, n);
cleanup:
    free(buf);
    BN_free(bn);
    return rc;
}

/*
 * The members RFC 7638 section 3.2 requires for the key's type; each is a
 * public value.  The same object, with kid/alg/use added, is the public JWK.
 */
static int required_members(const EVP_PKEY *pkey, enum jws_alg alg, json_t **out)
{
    json_t *obj = json_object();
    unsigned char pub[ED25519_KEY_BYTES];
    size_t pub_len = 0;
    int rc = JWS_ENOMEM;

    if (obj == NULL)
        return JWS_ENOMEM;
    switch (alg) {
    case JWS_ALG_EDDSA:
        /* RFC 8037 section 2. */
        if (json_object_set_new(obj, "kty", json_string("OKP")) != 0 ||
            json_object_set_new(obj, "crv", json_string("Ed25519")) != 0)
            goto cleanup;
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub),
                                            &pub_len) != 1 ||
            pub_len != ED25519_KEY_BYTES) {
            rc = JWS_EKEY;
            goto cleanup;
        }
        rc = set_b64_member(obj, "x", pub, pub_len);
        break;
    case JWS_ALG_ES256:
        if (json_object_set_new(obj, "kty", json_string("EC")) != 0 ||
            json_object_set_new(obj, "crv", json_string("P-256")) != 0)
            goto cleanup;
        rc = set_bn_member(obj, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, P256_SCALAR_BYTES);
        if (rc == JWS_OK)
            rc = set_bn_member(obj, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, P256_SCALAR_BYTES);
        break;
    case JWS_ALG_RS256:
        if (json_object_set_new(obj, "kty", json_string("RSA")) != 0)
            goto cleanup;
        rc = set_bn_member(obj, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        if (rc == JWS_OK)
            rc = set_bn_member(obj, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        break;
    case JWS_ALG_HS256:
        rc = JWS_EKEY;
        break;
    }
cleanup:
    if (rc != JWS_OK) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return JWS_OK;
}

/*
 * RFC 7638 section 3: SHA-256 over the required members, serialised with
 * their names in lexicographic order and no whitespace, base64url-encoded.
 * The member values are base64url strings and fixed names, so jansson's
 * compact, key-sorted output is exactly the canonical form.
 */
static int thumbprint(const EVP_PKEY *pkey, enum jws_alg alg, char *kid, size_t kid_size)
{
    json_t *members = NULL;
    char *text = NULL;
    unsigned char digest[SHA256_BYTES];
    unsigned int digest_len = 0;
    int rc;

    rc = required_members(pkey, alg, &members);
    if (rc != JWS_OK)
        return rc;
    text = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        rc = JWS_ENOMEM;
        goto cleanup;
    }
    if (EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL) != 1 ||
        digest_len != SHA256_BYTES ||
        b64url_encode(kid, kid_size, digest, sizeof(digest)) == 0) {
        rc = JWS_EKEY;
        goto cleanup;
    }
    rc = JWS_OK;
cleanup:
    free(text);
    json_decref(members);
    return rc;
}

/* Which algorithm a key is for, refusing curves and sizes latch does not use. */
static int classify(const EVP_PKEY *pkey, enum jws_alg *alg, char *err, size_t err_size)
{
    char group[64];
    size_t group_len = 0;
    int bits;

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *alg = JWS_ALG_EDDSA;
        return JWS_OK;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        /* A key with explicit curve parameters has no group name: refused. */
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), &group_len) != 1) {
            set_err(err, err_size, "EC key without a named curve; ES256 needs P-256");
            return JWS_EKEY;
        }
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0 &&
            strcmp(group, "secp256r1") != 0) {
            set_err(err, err_size, "EC key on curve %s; ES256 needs P-256 (prime256v1)",
                    group);
            return JWS_EKEY;
        }
        *alg = JWS_ALG_ES256;
        return JWS_OK;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        bits = EVP_PKEY_get_bits(pkey);
        if (bits < JWS_MIN_RSA_BITS) {
            set_err(err, err_size, "RSA key has %d bits; at least %d are required", bits,
                    JWS_MIN_RSA_BITS);
            return JWS_EKEY;
        }
        if (bits > JWS_MAX_RSA_BITS) {
            set_err(err, err_size, "RSA key has %d bits; at most %d are accepted", bits,
                    JWS_MAX_RSA_BITS);
            return JWS_EKEY;
        }
        *alg = JWS_ALG_RS256;
        return JWS_OK;
    }
    set_err(err, err_size, "unsupported key type %s; use Ed25519, EC P-256 or RSA",
            EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "?");
    return JWS_EKEY;
}

/*
 * Builds a key around pkey, taking ownership of it (freed on failure).
 * can_sign says whether pkey holds the private half.
 */
static int key_from_pkey(struct jws_key **out, EVP_PKEY *pkey, int can_sign,
                         enum jws_alg *alg_out, char *err, size_t err_size)
{
    struct jws_key *key = NULL;
    EVP_PKEY_CTX *check = NULL;
    enum jws_alg alg = JWS_ALG_HS256;
    int rc, ok;

    rc = classify(pkey, &alg, err, err_size);
    if (rc != JWS_OK)
        goto cleanup;

    /* Refuse inconsistent key material once, here, rather than produce
     * signatures nobody can verify: a private key must match its public half,
     * a public EC point must lie on the curve. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) {
        rc = JWS_ENOMEM;
        goto cleanup;
    }
    ok = can_sign ? EVP_PKEY_pairwise_check(check) : EVP_PKEY_public_check(check);
    if (ok != 1) {
        set_err(err, err_size, "%s key fails its consistency check",
                can_sign ? "private" : "public");
        rc = JWS_EKEY;
        goto cleanup;
    }

    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        rc = JWS_ENOMEM;
        goto cleanup;
    }
    key->alg = alg;
    key->can_sign = can_sign;
    key->pkey = pkey;
    pkey = NULL;
    switch (alg) {
    case JWS_ALG_EDDSA: {
        size_t pk_len = sizeof(key->ed25519_pk);
        key->sig_bytes = ED25519_SIG_BYTES;
        if (EVP_PKEY_get_raw_public_key(key->pkey, key->ed25519_pk, &pk_len) != 1 ||
            pk_len != sizeof(key->ed25519_pk))
            key->sig_bytes = 0;
        break;
    }
    case JWS_ALG_ES256: key->sig_bytes = ES256_SIG_BYTES; break;
    case JWS_ALG_RS256: key->sig_bytes = (size_t)EVP_PKEY_get_size(key->pkey); break;
    case JWS_ALG_HS256: break;
    }
    if (key->sig_bytes == 0 || key->sig_bytes > JWS_MAX_SIGNATURE_BYTES) {
        set_err(err, err_size, "unexpected signature size");
        rc = JWS_EKEY;
        goto cleanup;
    }
    rc = thumbprint(key->pkey, alg, key->kid, sizeof(key->kid));
    if (rc != JWS_OK) {
        set_err(err, err_size, "cannot compute the key's JWK thumbprint");
        goto cleanup;
    }
    key->has_kid = 1;
    rc = build_header(key);

cleanup:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_free(pkey);
    /* Leave no OpenSSL errors behind for unrelated code to misreport. */
    ERR_clear_error();
    if (rc != JWS_OK) {
        if (rc == JWS_ENOMEM)
            set_err(err, err_size, "out of memory");
        jws_key_free(key);
        return rc;
    }
    if (alg_out != NULL)
        *alg_out = alg;
    *out = key;
    return JWS_OK;
}

/* An encrypted PEM must fail, never prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int load_pem(struct jws_key **out, const char *pem, size_t len, int private_key,
                    enum jws_alg *alg_out, char *err, size_t err_size)
{
    BIO *bio;
    EVP_PKEY *pkey;

    if (pem == NULL || len == 0 || len > JWS_MAX_PEM_BYTES) {
        set_err(err, err_size, "key PEM is empty or larger than %d bytes", JWS_MAX_PEM_BYTES);
        return JWS_EKEY;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        set_err(err, err_size, "out of memory");
        return JWS_ENOMEM;
    }
    if (private_key)
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL, NULL, NULL);
    else
        pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, no_passphrase, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        ERR_clear_error();
        set_err(err, err_size,
                private_key ? "no unencrypted PEM private key (PKCS#8 or traditional) found"
                            : "no PEM public key (\"BEGIN PUBLIC KEY\") found");
        return JWS_EKEY;
    }
    return key_from_pkey(out, pkey, private_key, alg_out, err, err_size);
}

int jws_key_from_pem(struct jws_key **out, const char *pem, size_t len, enum jws_alg *alg_out,
                     char *err, size_t err_size)
{
    return load_pem(out, pem, len, 1, alg_out, err, err_size);
}

int jws_key_from_public_pem(struct jws_key **out, const char *pem, size_t len,
                            enum jws_alg *alg_out, char *err, size_t err_size)
{
    return load_pem(out, pem, len, 0, alg_out, err, err_size);
}

int jws_key_generate_rsa(struct jws_key **out, unsigned int bits)
{
    EVP_PKEY *pkey;

    if (bits < JWS_MIN_RSA_BITS || bits > JWS_MAX_RSA_BITS)
        return JWS_EKEY;
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (pkey == NULL) {
        ERR_clear_error();
        return JWS_EKEY;
    }
    return key_from_pkey(out, pkey, 1, NULL, NULL, 0);
}

int jws_key_generate(struct jws_key **out, enum jws_alg alg)
{
    EVP_PKEY *pkey = NULL;

    switch (alg) {
    case JWS_ALG_EDDSA: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    case JWS_ALG_ES256: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case JWS_ALG_RS256: return jws_key_generate_rsa(out, JWS_DEFAULT_RSA_BITS);
    case JWS_ALG_HS256: return JWS_EKEY;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return JWS_EKEY;
    }
    return key_from_pkey(out, pkey, 1, NULL, NULL, 0);
}

int jws_key_to_pem(const struct jws_key *key, char **pem_out, size_t *len)
{
    BIO *bio = NULL;
    char *data = NULL, *copy;
    long n;
    int rc = JWS_EKEY;

    if (key->pkey == NULL || !key->can_sign)
        return JWS_EKEY;
    /* A secure-heap memory BIO is wiped when freed. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return JWS_ENOMEM;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto cleanup;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || data == NULL)
        goto cleanup;
    copy = OPENSSL_malloc((size_t)n + 1);
    if (copy == NULL) {
        rc = JWS_ENOMEM;
        goto cleanup;
    }
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *pem_out = copy;
    *len = (size_t)n;
    rc = JWS_OK;
cleanup:
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

void jws_pem_free(char *pem, size_t len)
{
    if (pem != NULL)
        OPENSSL_clear_free(pem, len + 1);
}

int jws_key_public_jwk(const struct jws_key *key, json_t **out)
{
    json_t *jwk = NULL;
    int rc;

    /* A symmetric key has no public half: publishing it would hand out the
     * secret. */
    if (key->alg == JWS_ALG_HS256 || key->pkey == NULL)
        return JWS_EKEY;
    rc = required_members(key->pkey, key->alg, &jwk);
    if (rc != JWS_OK) {
        ERR_clear_error();
        return rc;
    }
    if ((key->has_kid && json_object_set_new(jwk, "kid", json_string(key->kid)) != 0) ||
        json_object_set_new(jwk, "alg", json_string(jws_alg_name(key->alg))) != 0 ||
        json_object_set_new(jwk, "use", json_string("sig")) != 0) {
        json_decref(jwk);
        return JWS_ENOMEM;
    }
    *out = jwk;
    return JWS_OK;
}

/* ---- Signatures --------------------------------------------------------- */

/* HMAC-SHA256 over the signing input, from a copy of the keyed context. */
static int hs256(const struct jws_key *key, const char *input, size_t len,
                 unsigned char mac_out[HS256_MAC_BYTES])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->mac);
    size_t out_len = 0;
    int ok;

    if (ctx == NULL)
        return JWS_ENOMEM;
    ok = EVP_MAC_update(ctx, (const unsigned char *)input, len) == 1 &&
         EVP_MAC_final(ctx, mac_out, &out_len, HS256_MAC_BYTES) == 1 &&
         out_len == HS256_MAC_BYTES;
    EVP_MAC_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok ? JWS_OK : JWS_EKEY;
}

/*
 * Starts a one-shot EVP_DigestSign/EVP_DigestVerify on a fresh context: the
 * key is shared between threads, a context never is.  Ed25519 hashes
 * internally (no digest); RS256 is pinned to PKCS#1 v1.5 (RFC 7518 3.3).
 */
static EVP_MD_CTX *start_digest(const struct jws_key *key, int sign)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *md = key->alg == JWS_ALG_EDDSA ? NULL : "SHA256";
    OSSL_PARAM pad[2], *params = NULL;
    int ok;

    if (ctx == NULL)
        return NULL;
    if (key->alg == JWS_ALG_RS256) {
        pad[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
                                                  (char *)OSSL_PKEY_RSA_PAD_MODE_PKCSV15, 0);
        pad[1] = OSSL_PARAM_construct_end();
        params = pad;
    }
    if (sign)
        ok = EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, key->pkey, params);
    else
        ok = EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, key->pkey, params);
    if (ok != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * DER ECDSA-Sig-Value (what OpenSSL produces) -> JWS r||s (RFC 7518 3.4),
 * with s in the lower half of the group order: (r, s) and (r, n - s) both
 * verify, and signing only the low one means latch never hands out both
 * twins itself.  Verification still accepts either (RFC 7518 does not
 * require low s; jose and PyJWT emit both).
 */
static int es256_der_to_raw(const unsigned char *der, size_t der_len,
                            unsigned char raw[ES256_SIG_BYTES])
{
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    BIGNUM *order = BN_bin2bn(p256_order, P256_SCALAR_BYTES, NULL);
    BIGNUM *half = BN_new(), *low_s = BN_new();
    int ok = 0;

    if (sig == NULL || order == NULL || half == NULL || low_s == NULL)
        goto cleanup;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_rshift1(half, order) != 1)
        goto cleanup;
    if (BN_cmp(s, half) > 0) {
        if (BN_sub(low_s, order, s) != 1)
            goto cleanup;
        s = low_s;
    }
    ok = p == der + der_len && BN_bn2binpad(r, raw, P256_SCALAR_BYTES) == P256_SCALAR_BYTES &&
         BN_bn2binpad(s, raw + P256_SCALAR_BYTES, P256_SCALAR_BYTES) == P256_SCALAR_BYTES;
cleanup:
    ECDSA_SIG_free(sig);
    BN_free(order);
    BN_free(half);
    BN_free(low_s);
    return ok;
}

/* 1 when the big-endian scalar is in [1, n-1] for the P-256 order n. */
static int p256_scalar_in_range(const unsigned char scalar[P256_SCALAR_BYTES])
{
    unsigned char any = 0;
    size_t i;

    for (i = 0; i < P256_SCALAR_BYTES; i++)
        any |= scalar[i];
    return any != 0 && memcmp(scalar, p256_order, P256_SCALAR_BYTES) < 0;
}

/* JWS r||s -> DER for OpenSSL; *der_len receives the length. */
static int es256_raw_to_der(const unsigned char raw[ES256_SIG_BYTES],
                            unsigned char der[ES256_DER_MAX_BYTES], size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, P256_SCALAR_BYTES, NULL);
    BIGNUM *s = BN_bin2bn(raw + P256_SCALAR_BYTES, P256_SCALAR_BYTES, NULL);
    unsigned char *p = der;
    int n, ok = 0;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto cleanup;
    }
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || n > ES256_DER_MAX_BYTES || i2d_ECDSA_SIG(sig, &p) != n)
        goto cleanup;
    *der_len = (size_t)n;
    ok = 1;
cleanup:
    ECDSA_SIG_free(sig);
    return ok;
}

int jws_sign_input(const struct jws_key *key, const char *input, size_t input_len,
                   unsigned char *sig, size_t sig_size, size_t *sig_len)
{
    unsigned char der[ES256_DER_MAX_BYTES];
    unsigned char *dst;
    EVP_MD_CTX *ctx;
    size_t n;
    int rc = JWS_EKEY;

    if (!key->can_sign)
        return JWS_EKEY;
    if (sig_size < key->sig_bytes)
        return JWS_ENOMEM;
    if (key->alg == JWS_ALG_HS256) {
        rc = hs256(key, input, input_len, sig);
        if (rc == JWS_OK)
            *sig_len = HS256_MAC_BYTES;
        return rc;
    }

    ctx = start_digest(key, 1);
    if (ctx == NULL)
        goto cleanup;
    /* ES256 comes out of OpenSSL as DER and is rewritten as r||s below. */
    dst = key->alg == JWS_ALG_ES256 ? der : sig;
    n = key->alg == JWS_ALG_ES256 ? sizeof(der) : sig_size;
    if (EVP_DigestSign(ctx, dst, &n, (const unsigned char *)input, input_len) != 1)
        goto cleanup;
    if (key->alg == JWS_ALG_ES256) {
        if (!es256_der_to_raw(der, n, sig))
            goto cleanup;
        n = ES256_SIG_BYTES;
    }
    if (n != key->sig_bytes)
        goto cleanup;
    *sig_len = n;
    rc = JWS_OK;
cleanup:
    EVP_MD_CTX_free(ctx);
    if (rc != JWS_OK)
        ERR_clear_error();
    return rc;
}

/* Checks sig (already of the key's exact JWS length) over input. */
static int verify_signature(const struct jws_key *key, const char *input, size_t input_len,
                            const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[HS256_MAC_BYTES], der[ES256_DER_MAX_BYTES];
    EVP_MD_CTX *ctx;
    size_t der_len = 0;
    int rc, ok;

    if (key->alg == JWS_ALG_HS256) {
        rc = hs256(key, input, input_len, mac);
        if (rc == JWS_OK && CRYPTO_memcmp(mac, sig, HS256_MAC_BYTES) != 0)
            rc = JWS_ESIGNATURE;
        OPENSSL_cleanse(mac, sizeof(mac));
        return rc;
    }
    if (key->alg == JWS_ALG_EDDSA) {
        /* libsodium's Ed25519 verification is about three times faster than
         * OpenSSL 3.0's here, and also refuses non-canonical signatures and
         * small-order keys (RFC 8032 5.1.7). */
        return crypto_sign_verify_detached(sig, (const unsigned char *)input, input_len,
                                           key->ed25519_pk) == 0
                   ? JWS_OK
                   : JWS_ESIGNATURE;
    }
    if (key->alg == JWS_ALG_ES256) {
        /* r = 0 or s = 0 is never a valid ECDSA signature; an implementation
         * that forgot the range check accepted (0, 0) for every message
         * (CVE-2022-21449).  OpenSSL checks too; this is the belt for its
         * braces, and it also refuses r or s >= n, which DER could not carry
         * from a conforming signer. */
        if (!p256_scalar_in_range(sig) || !p256_scalar_in_range(sig + P256_SCALAR_BYTES))
            return JWS_ESIGNATURE;
        if (!es256_raw_to_der(sig, der, &der_len)) {
            ERR_clear_error();
            return JWS_ENOMEM;
        }
        sig = der;
        sig_len = der_len;
    }
    ctx = start_digest(key, 0);
    if (ctx == NULL) {
        ERR_clear_error();
        return JWS_EKEY;
    }
    ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len);
    EVP_MD_CTX_free(ctx);
    if (ok != 1) {
        ERR_clear_error();
        return JWS_ESIGNATURE;
    }
    return JWS_OK;
}

int jws_sign(const struct jws_key *key, const char *payload, size_t payload_len,
             char *out, size_t out_size, size_t *out_len)
{
    unsigned char sig[JWS_MAX_SIGNATURE_BYTES];
    size_t pos, need, n, sig_len = 0;
    int rc;

    if (!key->can_sign)
        return JWS_EKEY;
    need = key->header_b64_len + 1 + b64url_encoded_len(payload_len) + 1 +
           b64url_encoded_len(key->sig_bytes) + 1;
    if (need > out_size)
        return JWS_ENOMEM;
    memcpy(out, key->header_b64, key->header_b64_len);
    pos = key->header_b64_len;
    out[pos++] = '.';
    n = b64url_encode(out + pos, out_size - pos, (const unsigned char *)payload, payload_len);
    pos += n;
    rc = jws_sign_input(key, out, pos, sig, sizeof(sig), &sig_len);
    if (rc != JWS_OK)
        return rc;
    out[pos++] = '.';
    pos += b64url_encode(out + pos, out_size - pos, sig, sig_len);
    *out_len = pos;
    return JWS_OK;
}

static int is_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Decodes one base64url part and parses it as a JSON object. */
static int decode_json_part(const char *src, size_t len, json_t **out)
{
    unsigned char buf[LATCH_MAX_JWS_PART_BYTES];
    size_t n = 0;
    json_t *obj;

    if (len == 0 || b64url_decode(buf, sizeof(buf), &n, src, len) != 0)
        return JWS_EMALFORMED;
    /* JSON_REJECT_DUPLICATES: {"role":"user","role":"admin"} must not be
     * read one way here and another way by a different parser. */
    obj = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES,
                     NULL);
    if (obj == NULL)
        return JWS_EMALFORMED;
    if (!json_is_object(obj)) {
        json_decref(obj);
        return JWS_EMALFORMED;
    }
    *out = obj;
    return JWS_OK;
}

/* RFC 7515 4.1: parameters latch refuses outright. */
static int check_header(json_t *header, const char **alg, const char **kid)
{
    static const char *const forbidden[] = {"jku", "jwk", "x5u", "x5c", "crit"};
    json_t *v;
    size_t i;

    for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
        if (json_object_get(header, forbidden[i]) != NULL)
            return JWS_EHEADER;
    v = json_object_get(header, "alg");
    if (!json_is_string(v))
        return JWS_EMALFORMED;
    *alg = json_string_value(v);
    v = json_object_get(header, "kid");
    if (v == NULL) {
        *kid = NULL;
    } else if (json_is_string(v) && json_string_length(v) <= MAX_KID_BYTES) {
        *kid = json_string_value(v);
    } else {
        return JWS_EMALFORMED;
    }
    /* "b64": false (RFC 7797) changes what is signed; refuse it. */
    v = json_object_get(header, "b64");
    if (v != NULL && !json_is_true(v))
        return JWS_EHEADER;
    return JWS_OK;
}

int jws_verify(const char *token, size_t token_len, jws_key_lookup_fn lookup, void *lookup_ctx,
               json_t **payload_out)
{
    const char *dot1 = NULL, *dot2 = NULL, *alg = NULL, *kid = NULL;
    const struct jws_key *key;
    unsigned char sig[JWS_MAX_SIGNATURE_BYTES + 1];
    size_t i, sig_len = 0;
    json_t *header = NULL, *payload = NULL;
    int rc;

    if (token_len == 0 || token_len > LATCH_MAX_TOKEN_BYTES)
        return JWS_EMALFORMED;
    for (i = 0; i < token_len; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c == '.') {
            if (dot1 == NULL)
                dot1 = token + i;
            else if (dot2 == NULL)
                dot2 = token + i;
            else
                return JWS_EMALFORMED;
        } else if (!is_b64url_char(c)) {
            return JWS_EMALFORMED;
        }
    }
    if (dot2 == NULL)
        return JWS_EMALFORMED;

    rc = decode_json_part(token, (size_t)(dot1 - token), &header);
    if (rc != JWS_OK)
        return rc;
    rc = check_header(header, &alg, &kid);
    if (rc != JWS_OK)
        goto cleanup;
    key = lookup(lookup_ctx, kid);
    if (key == NULL) {
        rc = JWS_ENOKEY;
        goto cleanup;
    }
    /* The key decides the algorithm; "none", "HS512", "hs256", and an HS256
     * token presented to a public key (algorithm confusion, RFC 8725 2.1) all
     * fail here, before any cryptography runs. */
    if (strcmp(alg, jws_alg_name(key->alg)) != 0) {
        rc = JWS_EALG;
        goto cleanup;
    }

    /* Each algorithm has one signature length (RFC 7518 3.2-3.4, RFC 8037
     * 3.1); anything else, such as a DER-encoded ECDSA signature, fails. */
    if (b64url_decode(sig, sizeof(sig), &sig_len, dot2 + 1,
                      token_len - (size_t)(dot2 + 1 - token)) != 0 ||
        sig_len != key->sig_bytes) {
        rc = JWS_ESIGNATURE;
        goto cleanup;
    }
    rc = verify_signature(key, token, (size_t)(dot2 - token), sig, sig_len);
    if (rc != JWS_OK)
        goto cleanup;

    /* Only now, with the signature good, is the payload parsed. */
    rc = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload);
    if (rc != JWS_OK)
        goto cleanup;
    *payload_out = payload;

cleanup:
    json_decref(header);
    return rc;
}
