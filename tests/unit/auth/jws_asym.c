/*
 * Tests the asymmetric half of src/auth/jws.c: EdDSA (Ed25519), ES256 and
 * RS256 keys, RFC 7638 key ids, the public JWK, and the attacks the issue
 * names (algorithm confusion, psychic ECDSA signatures, DER signatures).
 * Known-answer vectors come from RFC 7515 appendix A, RFC 7638 section 3.1
 * and RFC 8037 appendix A.
 */
#include "test.h"

#include "auth/jws.h"
#include "util/b64url.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>

#define TOKEN_BYTES 4096

/* ---- Vectors ------------------------------------------------------------- */

/* RFC 7515 A.1: HS256. */
static const char a1_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char a1_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/* RFC 7515 A.2: RS256, the RSA key of A.2.1 and the token of A.2.1-A.2.2. */
static const char a2_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char a2_e[] = "AQAB";
static const char a2_d[] =
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97I"
    "jlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0"
    "BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn"
    "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYT"
    "CBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLh"
    "BOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
static const char a2_p[] =
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdi"
    "YrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPG"
    "BY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
static const char a2_q[] =
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxa"
    "ewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA"
    "-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
static const char a2_dp[] =
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3Q"
    "CLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb"
    "34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
static const char a2_dq[] =
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa"
    "7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-ky"
    "NlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
static const char a2_qi[] =
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2o"
    "y26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLU"
    "W0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
/* The signing input of A.2 (its payload is the same as A.1's). */
static const char a2_input[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
static const char a2_sig[] =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 A.3: ES256, the public half of the A.3.1 key and the token. */
static const char a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/* RFC 7638 3.1: an RSA public key and its thumbprint. */
static const char t_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char t_thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 8037 A.1-A.5: Ed25519. */
static const char ed_d[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
static const char ed_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
static const char ed_thumbprint[] = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
static const char ed_input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
static const char ed_sig[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/* ---- Helpers ------------------------------------------------------------- */

static const struct jws_key *lookup_one(void *ctx, const char *kid)
{
    (void)kid;
    return ctx;
}

static size_t b64d(unsigned char *out, size_t size, const char *src)
{
    size_t n = 0;
    if (b64url_decode(out, size, &n, src, strlen(src)) != 0)
        return 0;
    return n;
}

static BIGNUM *bn_b64(const char *src)
{
    unsigned char buf[1024];
    size_t n = b64d(buf, sizeof(buf), src);
    return n == 0 ? NULL : BN_bin2bn(buf, (int)n, NULL);
}

/* PEM text of pkey (private: PKCS#8, else SubjectPublicKeyInfo); free(). */
static char *pem_of(EVP_PKEY *pkey, int private_key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *copy = NULL;
    long n;
    int ok;

    if (bio == NULL)
        return NULL;
    ok = private_key ? PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_PUBKEY(bio, pkey);
    n = BIO_get_mem_data(bio, &data);
    if (ok == 1 && n > 0 && (copy = malloc((size_t)n + 1)) != NULL) {
        memcpy(copy, data, (size_t)n);
        copy[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(bio);
    return copy;
}

/* Loads pkey into a jws key through the PEM loaders. */
static int key_via_pem(EVP_PKEY *pkey, int private_key, struct jws_key **out,
                       enum jws_alg *alg, char *err, size_t err_size)
{
    size_t len = 0;
    char *pem = pem_of(pkey, private_key, &len);
    int rc;

    if (pem == NULL)
        return -100;
    rc = private_key ? jws_key_from_pem(out, pem, len, alg, err, err_size)
                     : jws_key_from_public_pem(out, pem, len, alg, err, err_size);
    free(pem);
    return rc;
}

/* The RFC 7515 A.2.1 RSA private key, built from its JWK members. */
static EVP_PKEY *rfc7515_rsa_key(void)
{
    const char *const src[] = {a2_n, a2_e, a2_d, a2_p, a2_q, a2_dp, a2_dq, a2_qi};
    const char *const names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                                 OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                                 OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                 OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    BIGNUM *bn[8] = {0};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    size_t i;
    int ok = bld != NULL;

    for (i = 0; ok && i < 8; i++) {
        bn[i] = bn_b64(src[i]);
        ok = bn[i] != NULL && OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]) == 1;
    }
    if (ok)
        params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < 8; i++)
        BN_clear_free(bn[i]);
    return pkey;
}

/* An RSA public key from base64url n and e. */
static EVP_PKEY *rsa_public_key(const char *n_b64, const char *e_b64)
{
    BIGNUM *n = bn_b64(n_b64), *e = bn_b64(e_b64);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;

    if (n != NULL && e != NULL && bld != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
        params = OSSL_PARAM_BLD_to_param(bld);
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* A P-256 public key from base64url x and y. */
static EVP_PKEY *p256_public_key(const char *x_b64, const char *y_b64)
{
    unsigned char point[65];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    point[0] = 0x04;   /* uncompressed, SEC 1 2.3.3 */
    if (b64d(point + 1, 32, x_b64) != 32 || b64d(point + 33, 32, y_b64) != 32) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* base64url(SHA-256(text)), for checking thumbprints independently. */
static void sha256_b64(const char *text, char out[64])
{
    unsigned char digest[32];
    unsigned int n = 0;

    EVP_Digest(text, strlen(text), digest, &n, EVP_sha256(), NULL);
    b64url_encode(out, 64, digest, sizeof(digest));
}

/* The decoded protected header of a compact token, NUL-terminated. */
static int header_of(const char *token, char *out, size_t size)
{
    const char *dot = strchr(token, '.');
    size_t n = 0;

    if (dot == NULL || b64url_decode((unsigned char *)out, size - 1, &n, token,
                                     (size_t)(dot - token)) != 0)
        return -1;
    out[n] = '\0';
    return 0;
}

/* Replaces the signature part of token with sig (n bytes) into out. */
static void with_signature(const char *token, const unsigned char *sig, size_t n, char *out,
                           size_t size)
{
    const char *last = strrchr(token, '.');
    size_t input_len = (size_t)(last - token) + 1;

    memcpy(out, token, input_len);
    b64url_encode(out + input_len, size - input_len, sig, n);
}

static int verify(const char *token, const struct jws_key *key)
{
    json_t *payload = NULL;
    int rc = jws_verify(token, strlen(token), lookup_one, (void *)key, &payload);
    json_decref(payload);
    return rc;
}

static int sign(const struct jws_key *key, const char *payload, char out[TOKEN_BYTES])
{
    size_t len = 0;
    return jws_sign(key, payload, strlen(payload), out, TOKEN_BYTES, &len);
}

/* ---- Known answers ------------------------------------------------------- */

TEST(jwsa_rfc7515_a1_hs256_still_verifies)
{
    unsigned char k[64];
    struct jws_key *key = NULL;
    json_t *payload = NULL;

    CHECK_INT(b64d(k, sizeof(k), a1_k), 64);
    CHECK_INT(jws_key_new_hs256(&key, k, sizeof(k), NULL), JWS_OK);
    CHECK_INT(jws_key_is_private(key), 1);
    CHECK_INT(jws_verify(a1_token, strlen(a1_token), lookup_one, key, &payload), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(payload, "iss")), "joe");
    json_decref(payload);
    jws_key_free(key);
}

TEST(jwsa_rfc7515_a2_rs256_verify_and_sign)
{
    EVP_PKEY *pkey = rfc7515_rsa_key();
    struct jws_key *key = NULL;
    enum jws_alg alg = JWS_ALG_HS256;
    char err[160] = "", token[TOKEN_BYTES], sig_b64[512];
    unsigned char sig[JWS_MAX_SIGNATURE_BYTES];
    size_t sig_len = 0;
    json_t *payload = NULL;

    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 1, &key, &alg, err, sizeof(err)), JWS_OK);
    EVP_PKEY_free(pkey);
    CHECK_INT(alg, JWS_ALG_RS256);
    CHECK_STR(jws_alg_name(jws_key_alg(key)), "RS256");
    CHECK_INT(jws_key_is_private(key), 1);

    /* The RFC's exact token verifies... */
    snprintf(token, sizeof(token), "%s.%s", a2_input, a2_sig);
    CHECK_INT(jws_verify(token, strlen(token), lookup_one, key, &payload), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(payload, "iss")), "joe");
    CHECK(json_is_true(json_object_get(payload, "http://example.com/is_root")));
    json_decref(payload);

    /* ...and PKCS#1 v1.5 is deterministic, so signing its signing input
     * gives its signature byte for byte. */
    CHECK_INT(jws_sign_input(key, a2_input, strlen(a2_input), sig, sizeof(sig), &sig_len),
              JWS_OK);
    CHECK_INT(sig_len, 256);
    b64url_encode(sig_b64, sizeof(sig_b64), sig, sig_len);
    CHECK_STR(sig_b64, a2_sig);
    jws_key_free(key);
}

TEST(jwsa_rfc7515_a3_es256_verify)
{
    EVP_PKEY *pkey = p256_public_key(a3_x, a3_y);
    struct jws_key *key = NULL;
    enum jws_alg alg = JWS_ALG_HS256;
    char err[160] = "", out[TOKEN_BYTES], canonical[256], expected_kid[64];
    json_t *payload = NULL, *jwk = NULL;

    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 0, &key, &alg, err, sizeof(err)), JWS_OK);
    EVP_PKEY_free(pkey);
    CHECK_INT(alg, JWS_ALG_ES256);
    CHECK_INT(jws_key_is_private(key), 0);
    CHECK_INT(jws_verify(a3_token, strlen(a3_token), lookup_one, key, &payload), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(payload, "iss")), "joe");
    json_decref(payload);

    /* A public key verifies but never signs. */
    CHECK_INT(sign(key, "{}", out), JWS_EKEY);

    /* Its kid is the RFC 7638 thumbprint, recomputed here by hand. */
    snprintf(canonical, sizeof(canonical),
             "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a3_x, a3_y);
    sha256_b64(canonical, expected_kid);
    CHECK_STR(jws_key_kid(key), expected_kid);

    /* The public JWK reproduces the RFC's coordinates. */
    CHECK_INT(jws_key_public_jwk(key, &jwk), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(jwk, "kty")), "EC");
    CHECK_STR(json_string_value(json_object_get(jwk, "crv")), "P-256");
    CHECK_STR(json_string_value(json_object_get(jwk, "x")), a3_x);
    CHECK_STR(json_string_value(json_object_get(jwk, "y")), a3_y);
    CHECK_STR(json_string_value(json_object_get(jwk, "kid")), expected_kid);
    CHECK_STR(json_string_value(json_object_get(jwk, "alg")), "ES256");
    CHECK_STR(json_string_value(json_object_get(jwk, "use")), "sig");
    CHECK(json_object_get(jwk, "d") == NULL);
    json_decref(jwk);
    jws_key_free(key);
}

TEST(jwsa_rfc7638_thumbprint)
{
    EVP_PKEY *pkey = rsa_public_key(t_n, "AQAB");
    struct jws_key *key = NULL;
    char err[160] = "";
    json_t *jwk = NULL;

    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 0, &key, NULL, err, sizeof(err)), JWS_OK);
    EVP_PKEY_free(pkey);
    CHECK_STR(jws_key_kid(key), t_thumbprint);
    CHECK_INT(jws_key_public_jwk(key, &jwk), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(jwk, "n")), t_n);
    CHECK_STR(json_string_value(json_object_get(jwk, "e")), "AQAB");
    CHECK_STR(json_string_value(json_object_get(jwk, "kty")), "RSA");
    json_decref(jwk);
    jws_key_free(key);
}

TEST(jwsa_rfc8037_a4_ed25519)
{
    unsigned char seed[32], sig[JWS_MAX_SIGNATURE_BYTES];
    EVP_PKEY *pkey;
    struct jws_key *key = NULL;
    enum jws_alg alg = JWS_ALG_HS256;
    char err[160] = "", sig_b64[128], token[512], bad[512];
    size_t sig_len = 0;
    json_t *jwk = NULL;

    CHECK_INT(b64d(seed, sizeof(seed), ed_d), 32);
    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, sizeof(seed));
    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 1, &key, &alg, err, sizeof(err)), JWS_OK);
    EVP_PKEY_free(pkey);
    CHECK_INT(alg, JWS_ALG_EDDSA);
    CHECK_STR(jws_alg_name(alg), "EdDSA");
    /* A.3: the thumbprint of the A.2 public key. */
    CHECK_STR(jws_key_kid(key), ed_thumbprint);
    CHECK_INT(jws_key_public_jwk(key, &jwk), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(jwk, "kty")), "OKP");
    CHECK_STR(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
    CHECK_STR(json_string_value(json_object_get(jwk, "x")), ed_x);
    CHECK(json_object_get(jwk, "d") == NULL);
    json_decref(jwk);

    /* A.4: Ed25519 is deterministic; the signature is the RFC's exactly. */
    CHECK_INT(jws_sign_input(key, ed_input, strlen(ed_input), sig, sizeof(sig), &sig_len),
              JWS_OK);
    CHECK_INT(sig_len, 64);
    b64url_encode(sig_b64, sizeof(sig_b64), sig, sig_len);
    CHECK_STR(sig_b64, ed_sig);
    /* A.5: and the RFC's token verifies (its payload is not JSON, so the
     * signature passes and the JSON payload check then refuses it). */
    snprintf(token, sizeof(token), "%s.%s", ed_input, ed_sig);
    CHECK_INT(verify(token, key), JWS_EMALFORMED);
    /* One flipped bit of the signature and it fails. */
    sig[10] ^= 0x01;
    with_signature(token, sig, sig_len, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    jws_key_free(key);
}

/* ---- Round trips --------------------------------------------------------- */

/* Signs and verifies with key, checks the header and the public JWK, then
 * persists the key as PEM and reloads it. */
static void round_trip(struct jws_key *key, enum jws_alg alg, const char *kty)
{
    char token[TOKEN_BYTES], header[512], expected[512], err[160] = "";
    json_t *payload = NULL, *jwk = NULL;
    struct jws_key *again = NULL;
    char *pem = NULL;
    size_t pem_len = 0;
    enum jws_alg loaded_alg = JWS_ALG_HS256;
    const char *kid = jws_key_kid(key);

    CHECK(kid != NULL);
    CHECK_INT(strlen(kid), 43);   /* base64url of a SHA-256 digest */
    CHECK_INT(jws_key_alg(key), alg);
    CHECK_INT(jws_key_is_private(key), 1);
    CHECK_INT(sign(key, "{\"sub\":\"42\"}", token), JWS_OK);
    CHECK_INT(header_of(token, header, sizeof(header)), 0);
    snprintf(expected, sizeof(expected), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
             jws_alg_name(alg), kid);
    CHECK_STR(header, expected);
    CHECK_INT(jws_verify(token, strlen(token), lookup_one, key, &payload), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(payload, "sub")), "42");
    json_decref(payload);

    CHECK_INT(jws_key_public_jwk(key, &jwk), JWS_OK);
    CHECK_STR(json_string_value(json_object_get(jwk, "kty")), kty);
    CHECK_STR(json_string_value(json_object_get(jwk, "kid")), kid);
    CHECK_STR(json_string_value(json_object_get(jwk, "alg")), jws_alg_name(alg));
    CHECK_STR(json_string_value(json_object_get(jwk, "use")), "sig");
    /* No private member of any key type. */
    CHECK(json_object_get(jwk, "d") == NULL);
    CHECK(json_object_get(jwk, "p") == NULL);
    CHECK(json_object_get(jwk, "q") == NULL);
    CHECK(json_object_get(jwk, "k") == NULL);
    json_decref(jwk);

    CHECK_INT(jws_key_to_pem(key, &pem, &pem_len), JWS_OK);
    CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
    CHECK_INT(strlen(pem), pem_len);
    CHECK_INT(jws_key_from_pem(&again, pem, pem_len, &loaded_alg, err, sizeof(err)), JWS_OK);
    jws_pem_free(pem, pem_len);
    CHECK_INT(loaded_alg, alg);
    CHECK_STR(jws_key_kid(again), kid);
    /* The reloaded key verifies the original's token and vice versa. */
    CHECK_INT(verify(token, again), JWS_OK);
    CHECK_INT(sign(again, "{\"sub\":\"43\"}", token), JWS_OK);
    CHECK_INT(verify(token, key), JWS_OK);
    jws_key_free(again);
}

TEST(jwsa_round_trip_eddsa)
{
    struct jws_key *key = NULL;

    CHECK_INT(jws_key_generate(&key, JWS_ALG_EDDSA), JWS_OK);
    round_trip(key, JWS_ALG_EDDSA, "OKP");
    jws_key_free(key);
}

TEST(jwsa_round_trip_es256)
{
    struct jws_key *key = NULL;

    CHECK_INT(jws_key_generate(&key, JWS_ALG_ES256), JWS_OK);
    round_trip(key, JWS_ALG_ES256, "EC");
    jws_key_free(key);
}

TEST(jwsa_round_trip_rs256)
{
    struct jws_key *key = NULL;

    CHECK_INT(jws_key_generate_rsa(&key, 2048), JWS_OK);
    round_trip(key, JWS_ALG_RS256, "RSA");
    jws_key_free(key);
}

TEST(jwsa_generate_refuses_hs256_and_small_rsa)
{
    struct jws_key *key = NULL;

    CHECK_INT(jws_key_generate(&key, JWS_ALG_HS256), JWS_EKEY);
    CHECK_INT(jws_key_generate_rsa(&key, 1024), JWS_EKEY);
    CHECK(key == NULL);
}

TEST(jwsa_alg_names)
{
    enum jws_alg alg = JWS_ALG_HS256;

    CHECK_INT(jws_alg_from_name("EdDSA", &alg), JWS_OK);
    CHECK_INT(alg, JWS_ALG_EDDSA);
    CHECK_INT(jws_alg_from_name("ES256", &alg), JWS_OK);
    CHECK_INT(alg, JWS_ALG_ES256);
    CHECK_INT(jws_alg_from_name("RS256", &alg), JWS_OK);
    CHECK_INT(alg, JWS_ALG_RS256);
    CHECK_INT(jws_alg_from_name("HS256", &alg), JWS_OK);
    CHECK_INT(alg, JWS_ALG_HS256);
    CHECK_INT(jws_alg_from_name("none", &alg), JWS_EALG);
    CHECK_INT(jws_alg_from_name("eddsa", &alg), JWS_EALG);
    CHECK_INT(jws_alg_from_name("ES384", &alg), JWS_EALG);
}

/* ---- ES256 signature form (CVE-2022-21449) ------------------------------- */

TEST(jwsa_es256_rejects_out_of_range_and_der_signatures)
{
    static const unsigned char order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    };
    struct jws_key *key = NULL;
    char token[TOKEN_BYTES], bad[TOKEN_BYTES];
    unsigned char good[64], sig[80], der[80], *p;
    const char *last;
    size_t n = 0;
    ECDSA_SIG *ecdsa;
    int der_len;

    CHECK_INT(jws_key_generate(&key, JWS_ALG_ES256), JWS_OK);
    CHECK_INT(sign(key, "{\"sub\":\"1\"}", token), JWS_OK);
    CHECK_INT(verify(token, key), JWS_OK);
    last = strrchr(token, '.');
    CHECK(b64url_decode(good, sizeof(good), &n, last + 1, strlen(last + 1)) == 0);
    CHECK_INT(n, 64);

    /* The psychic signature: r = s = 0. */
    memset(sig, 0, 64);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    /* r = 0 with the real s; the real r with s = 0. */
    memcpy(sig, good, 64);
    memset(sig, 0, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    memcpy(sig, good, 64);
    memset(sig + 32, 0, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    /* r = n, s = n, s = n + 1, s = 2^256 - 1. */
    memcpy(sig, good, 64);
    memcpy(sig, order, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    memcpy(sig, good, 64);
    memcpy(sig + 32, order, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    sig[63] = (unsigned char)(order[31] + 1);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    memset(sig + 32, 0xff, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    /* r = n, s = n together (what a "reduce mod n" bug would read as 0, 0). */
    memcpy(sig, order, 32);
    memcpy(sig + 32, order, 32);
    with_signature(token, sig, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);

    /* 63 and 65 bytes. */
    with_signature(token, good, 63, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);
    memcpy(sig, good, 64);
    sig[64] = 0;
    with_signature(token, sig, 65, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);

    /* The same, valid, signature in DER form (what OpenSSL itself takes). */
    ecdsa = ECDSA_SIG_new();
    CHECK(ecdsa != NULL);
    CHECK(ECDSA_SIG_set0(ecdsa, BN_bin2bn(good, 32, NULL), BN_bin2bn(good + 32, 32, NULL)) == 1);
    p = der;
    der_len = i2d_ECDSA_SIG(ecdsa, &p);
    ECDSA_SIG_free(ecdsa);
    CHECK(der_len > 64 && der_len <= 72);
    with_signature(token, der, (size_t)der_len, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_ESIGNATURE);

    /* And the untouched signature still verifies. */
    with_signature(token, good, 64, bad, sizeof(bad));
    CHECK_INT(verify(bad, key), JWS_OK);
    jws_key_free(key);
}

/* ---- Algorithm binding --------------------------------------------------- */

TEST(jwsa_cross_algorithm_rejected)
{
    struct jws_key *ed = NULL, *ec = NULL, *ec2 = NULL, *hs = NULL;
    const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    char ed_token[TOKEN_BYTES], ec_token[TOKEN_BYTES], hs_token[TOKEN_BYTES];

    CHECK_INT(jws_key_generate(&ed, JWS_ALG_EDDSA), JWS_OK);
    CHECK_INT(jws_key_generate(&ec, JWS_ALG_ES256), JWS_OK);
    CHECK_INT(jws_key_generate(&ec2, JWS_ALG_ES256), JWS_OK);
    CHECK_INT(jws_key_new_hs256(&hs, secret, sizeof(secret), NULL), JWS_OK);
    CHECK_INT(sign(ed, "{}", ed_token), JWS_OK);
    CHECK_INT(sign(ec, "{}", ec_token), JWS_OK);
    CHECK_INT(sign(hs, "{}", hs_token), JWS_OK);

    /* Each token against a key of another algorithm: refused before crypto. */
    CHECK_INT(verify(ed_token, ec), JWS_EALG);
    CHECK_INT(verify(ed_token, hs), JWS_EALG);
    CHECK_INT(verify(ec_token, ed), JWS_EALG);
    CHECK_INT(verify(ec_token, hs), JWS_EALG);
    CHECK_INT(verify(hs_token, ed), JWS_EALG);
    CHECK_INT(verify(hs_token, ec), JWS_EALG);
    /* Same algorithm, another key: the signature fails. */
    CHECK_INT(verify(ec_token, ec2), JWS_ESIGNATURE);
    CHECK_INT(verify(ec_token, ec), JWS_OK);
    jws_key_free(ed);
    jws_key_free(ec);
    jws_key_free(ec2);
    jws_key_free(hs);
}

/* RFC 8725 2.1: an HS256 token whose MAC key is the verifier's public key
 * bytes must not be checked with HMAC over those bytes. */
static void confusion(EVP_PKEY *pkey)
{
    struct jws_key *asym = NULL, *forged_key = NULL;
    char err[160] = "", forged[TOKEN_BYTES], *pub_pem;
    unsigned char *der = NULL;
    size_t pem_len = 0;
    int der_len;

    CHECK_INT(key_via_pem(pkey, 1, &asym, NULL, err, sizeof(err)), JWS_OK);

    /* The attacker's secret: the public key as PEM... */
    pub_pem = pem_of(pkey, 0, &pem_len);
    CHECK(pub_pem != NULL);
    CHECK_INT(jws_key_new_hs256(&forged_key, (const unsigned char *)pub_pem, pem_len,
                                jws_key_kid(asym)),
              JWS_OK);
    free(pub_pem);
    CHECK_INT(sign(forged_key, "{\"sub\":\"1\",\"role\":\"admin\"}", forged), JWS_OK);
    jws_key_free(forged_key);
    forged_key = NULL;
    CHECK_INT(verify(forged, asym), JWS_EALG);

    /* ...and as DER (SubjectPublicKeyInfo). */
    der_len = i2d_PUBKEY(pkey, &der);
    CHECK(der_len >= 32);
    CHECK_INT(jws_key_new_hs256(&forged_key, der, (size_t)der_len, jws_key_kid(asym)), JWS_OK);
    OPENSSL_free(der);
    CHECK_INT(sign(forged_key, "{\"sub\":\"1\",\"role\":\"admin\"}", forged), JWS_OK);
    jws_key_free(forged_key);
    CHECK_INT(verify(forged, asym), JWS_EALG);
    jws_key_free(asym);
}

TEST(jwsa_algorithm_confusion_rs256)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

    CHECK(pkey != NULL);
    confusion(pkey);
    EVP_PKEY_free(pkey);
}

TEST(jwsa_algorithm_confusion_eddsa_and_es256)
{
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    CHECK(ed != NULL && ec != NULL);
    confusion(ed);
    confusion(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
}

/* ---- Refused keys -------------------------------------------------------- */

TEST(jwsa_rsa_1024_refused)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    struct jws_key *key = NULL;
    char err[160] = "";

    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 1, &key, NULL, err, sizeof(err)), JWS_EKEY);
    CHECK(key == NULL);
    CHECK(strstr(err, "1024") != NULL);
    CHECK(strstr(err, "2048") != NULL);
    err[0] = '\0';
    CHECK_INT(key_via_pem(pkey, 0, &key, NULL, err, sizeof(err)), JWS_EKEY);
    CHECK(strstr(err, "2048") != NULL);
    EVP_PKEY_free(pkey);
}

TEST(jwsa_other_curves_and_types_refused)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    struct jws_key *key = NULL;
    char err[160] = "";

    CHECK(p384 != NULL && x25519 != NULL);
    CHECK_INT(key_via_pem(p384, 1, &key, NULL, err, sizeof(err)), JWS_EKEY);
    CHECK(strstr(err, "P-256") != NULL);
    CHECK_INT(key_via_pem(x25519, 1, &key, NULL, err, sizeof(err)), JWS_EKEY);
    CHECK(key == NULL);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(x25519);
}

TEST(jwsa_bad_pem_refused)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct jws_key *key = NULL;
    char err[160] = "", *pem;
    BIO *bio;
    long n;
    size_t len = 0;
    static const char junk[] =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";

    CHECK(pkey != NULL);
    CHECK_INT(jws_key_from_pem(&key, junk, strlen(junk), NULL, err, sizeof(err)), JWS_EKEY);
    CHECK(err[0] != '\0');
    CHECK_INT(jws_key_from_pem(&key, "", 0, NULL, err, sizeof(err)), JWS_EKEY);
    /* A public key is not a private key, and the reverse. */
    pem = pem_of(pkey, 0, &len);
    CHECK(pem != NULL);
    CHECK_INT(jws_key_from_pem(&key, pem, len, NULL, err, sizeof(err)), JWS_EKEY);
    free(pem);
    pem = pem_of(pkey, 1, &len);
    CHECK(pem != NULL);
    CHECK_INT(jws_key_from_public_pem(&key, pem, len, NULL, err, sizeof(err)), JWS_EKEY);
    free(pem);
    /* An encrypted key is refused without asking for a passphrase. */
    bio = BIO_new(BIO_s_mem());
    CHECK(bio != NULL);
    CHECK(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                        (void *)"passphrase") == 1);
    n = BIO_get_mem_data(bio, &pem);
    CHECK_INT(jws_key_from_pem(&key, pem, (size_t)n, NULL, err, sizeof(err)), JWS_EKEY);
    BIO_free(bio);
    CHECK(key == NULL);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
}

/* ---- HS256 keys and the keyring's needs ---------------------------------- */

TEST(jwsa_hs256_public_jwk_and_pem_refused)
{
    const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    struct jws_key *key = NULL;
    json_t *jwk = NULL;
    char *pem = NULL;
    size_t len = 0;

    CHECK_INT(jws_key_new_hs256(&key, secret, sizeof(secret), "k1"), JWS_OK);
    CHECK_INT(jws_key_public_jwk(key, &jwk), JWS_EKEY);
    CHECK(jwk == NULL);
    CHECK_INT(jws_key_to_pem(key, &pem, &len), JWS_EKEY);
    CHECK(pem == NULL);
    jws_key_free(key);
}

TEST(jwsa_public_only_key_cannot_sign_or_export)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct jws_key *key = NULL;
    char err[160] = "", token[TOKEN_BYTES], *pem = NULL;
    unsigned char sig[64];
    size_t len = 0;

    CHECK(pkey != NULL);
    CHECK_INT(key_via_pem(pkey, 0, &key, NULL, err, sizeof(err)), JWS_OK);
    EVP_PKEY_free(pkey);
    CHECK_INT(jws_key_is_private(key), 0);
    CHECK_INT(sign(key, "{}", token), JWS_EKEY);
    CHECK_INT(jws_sign_input(key, "a.b", 3, sig, sizeof(sig), &len), JWS_EKEY);
    CHECK_INT(jws_key_to_pem(key, &pem, &len), JWS_EKEY);
    jws_key_free(key);
}

TEST(jwsa_set_kid_rebuilds_header)
{
    const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    struct jws_key *key = NULL;
    char token[TOKEN_BYTES], header[256], long_kid[200];

    CHECK_INT(jws_key_new_hs256(&key, secret, sizeof(secret), NULL), JWS_OK);
    CHECK(jws_key_kid(key) == NULL);
    CHECK_INT(sign(key, "{}", token), JWS_OK);
    CHECK_INT(header_of(token, header, sizeof(header)), 0);
    CHECK_STR(header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");

    CHECK_INT(jws_key_set_kid(key, "hs-2024-01"), JWS_OK);
    CHECK_STR(jws_key_kid(key), "hs-2024-01");
    CHECK_INT(sign(key, "{}", token), JWS_OK);
    CHECK_INT(header_of(token, header, sizeof(header)), 0);
    CHECK_STR(header, "{\"alg\":\"HS256\",\"kid\":\"hs-2024-01\",\"typ\":\"JWT\"}");
    CHECK_INT(verify(token, key), JWS_OK);

    /* A refused kid leaves the key as it was. */
    memset(long_kid, 'a', sizeof(long_kid) - 1);
    long_kid[sizeof(long_kid) - 1] = '\0';
    CHECK_INT(jws_key_set_kid(key, long_kid), JWS_EKEY);
    CHECK_INT(jws_key_set_kid(key, ""), JWS_EKEY);
    CHECK_STR(jws_key_kid(key), "hs-2024-01");

    CHECK_INT(jws_key_set_kid(key, NULL), JWS_OK);
    CHECK(jws_key_kid(key) == NULL);
    CHECK_INT(sign(key, "{}", token), JWS_OK);
    CHECK_INT(header_of(token, header, sizeof(header)), 0);
    CHECK_STR(header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    jws_key_free(key);
}

/* ---- Sharing between threads --------------------------------------------- */

struct share {
    const struct jws_key *key;
    int failures;
};

static void *share_worker(void *arg)
{
    struct share *s = arg;
    char token[TOKEN_BYTES];
    int i;

    for (i = 0; i < 25; i++)
        if (sign(s->key, "{\"sub\":\"t\"}", token) != JWS_OK || verify(token, s->key) != JWS_OK)
            s->failures++;
    return NULL;
}

TEST(jwsa_keys_shared_between_threads)
{
    struct jws_key *keys[2] = {NULL, NULL};
    struct share shares[8];
    pthread_t threads[8];
    int i;

    CHECK_INT(jws_key_generate(&keys[0], JWS_ALG_ES256), JWS_OK);
    CHECK_INT(jws_key_generate(&keys[1], JWS_ALG_EDDSA), JWS_OK);
    for (i = 0; i < 8; i++) {
        shares[i].key = keys[i % 2];
        shares[i].failures = 0;
        CHECK_INT(pthread_create(&threads[i], NULL, share_worker, &shares[i]), 0);
    }
    for (i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    for (i = 0; i < 8; i++)
        CHECK_INT(shares[i].failures, 0);
    jws_key_free(keys[0]);
    jws_key_free(keys[1]);
}
