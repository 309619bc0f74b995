#include "auth/jws.h"

#include "latch_limits.h"
#include "util/b64url.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HS256_MAC_BYTES 32
#define MAX_KID_BYTES 128
/* The encoded protected header of tokens latch issues. */
#define MAX_HEADER_B64_BYTES 256

struct jws_key {
    enum jws_alg alg;
    EVP_MAC_CTX *mac;                   /* keyed once; duplicated per use */
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
    }
    return "?";
}

enum jws_alg jws_key_alg(const struct jws_key *key)
{
    return key->alg;
}

const char *jws_key_kid(const struct jws_key *key)
{
    return key->has_kid ? key->kid : NULL;
}

void jws_key_free(struct jws_key *key)
{
    if (key == NULL)
        return;
    EVP_MAC_CTX_free(key->mac);
    OPENSSL_cleanse(key, sizeof(*key));
    free(key);
}

static int build_header(struct jws_key *key)
{
    json_t *h;
    char *text;
    size_t len;
    int rc = JWS_ENOMEM;

    /* Member order is fixed by JSON_PRESERVE_ORDER so tokens are stable. */
    h = json_object();
    if (h == NULL)
        return JWS_ENOMEM;
    if (json_object_set_new(h, "alg", json_string(jws_alg_name(key->alg))) != 0 ||
        (key->has_kid && json_object_set_new(h, "kid", json_string(key->kid)) != 0) ||
        json_object_set_new(h, "typ", json_string("JWT")) != 0)
        goto cleanup;
    text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        goto cleanup;
    len = strlen(text);
    if (b64url_encoded_len(len) + 1 > sizeof(key->header_b64)) {
        rc = JWS_EKEY;
    } else {
        key->header_b64_len = b64url_encode(key->header_b64, sizeof(key->header_b64),
                                            (const unsigned char *)text, len);
        rc = JWS_OK;
    }
    free(text);
cleanup:
    json_decref(h);
    return rc;
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
    if (kid != NULL && (strlen(kid) == 0 || strlen(kid) > MAX_KID_BYTES))
        return JWS_EKEY;
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return JWS_ENOMEM;
    key->alg = JWS_ALG_HS256;
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
        jws_key_free(key);
        return rc;
    }
    *out = key;
    return JWS_OK;
}

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
    return ok ? JWS_OK : JWS_EKEY;
}

int jws_sign(const struct jws_key *key, const char *payload, size_t payload_len,
             char *out, size_t out_size, size_t *out_len)
{
    unsigned char mac[HS256_MAC_BYTES];
    size_t pos, need, n;
    int rc;

    need = key->header_b64_len + 1 + b64url_encoded_len(payload_len) + 1 +
           b64url_encoded_len(sizeof(mac)) + 1;
    if (need > out_size)
        return JWS_ENOMEM;
    memcpy(out, key->header_b64, key->header_b64_len);
    pos = key->header_b64_len;
    out[pos++] = '.';
    n = b64url_encode(out + pos, out_size - pos, (const unsigned char *)payload, payload_len);
    pos += n;
    rc = hs256(key, out, pos, mac);
    if (rc != JWS_OK)
        return rc;
    out[pos++] = '.';
    pos += b64url_encode(out + pos, out_size - pos, mac, sizeof(mac));
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
    unsigned char sig[HS256_MAC_BYTES + 1], mac[HS256_MAC_BYTES];
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
    /* The key decides the algorithm; "none", "HS512", "hs256" all fail here,
     * before any MAC is computed. */
    if (strcmp(alg, jws_alg_name(key->alg)) != 0) {
        rc = JWS_EALG;
        goto cleanup;
    }

    if (b64url_decode(sig, sizeof(sig), &sig_len, dot2 + 1,
                      token_len - (size_t)(dot2 + 1 - token)) != 0 ||
        sig_len != HS256_MAC_BYTES) {
        rc = JWS_ESIGNATURE;
        goto cleanup;
    }
    rc = hs256(key, token, (size_t)(dot2 - token), mac);
    if (rc != JWS_OK)
        goto cleanup;
    if (CRYPTO_memcmp(mac, sig, HS256_MAC_BYTES) != 0) {
        rc = JWS_ESIGNATURE;
        goto cleanup;
    }

    /* Only now, with the signature good, is the payload parsed. */
    rc = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload);
    if (rc != JWS_OK)
        goto cleanup;
    *payload_out = payload;

cleanup:
    json_decref(header);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}
