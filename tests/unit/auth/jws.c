/*
 * Tests src/auth/jws.c: RFC 7515 Appendix A.1, sign/verify, and every way a
 * token must be refused.  Tokens with chosen headers and payloads are minted
 * here with libsodium's HMAC-SHA256 (independent of the OpenSSL code under
 * test), so a refusal is known to come from the rule being tested and not
 * from a bad signature.
 */
#include "test.h"

#include "auth/jws.h"
#include "latch_limits.h"
#include "util/b64url.h"

#include <sodium.h>
#include <stdlib.h>

/* RFC 7515 Appendix A.1: the JWK "k" and the complete JWS. */
static const char rfc_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char rfc_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/* The signature's bytes, RFC 7515 A.1.1. */
static const unsigned char rfc_sig[32] = {
    116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
    187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83,
    132, 141, 121};

/* A 32-byte secret for tests that do not use the RFC key. */
static const unsigned char test_secret[32] = "0123456789abcdef0123456789abcdef";

#define TOK_MAX (2 * LATCH_MAX_TOKEN_BYTES)
#define MAX_KID_TEST 128   /* the longest kid jws.c accepts */

/* Lookup: returns key when the token's kid equals want_kid (both may be NULL). */
struct jws_lookup {
    const struct jws_key *key;
    const char *want_kid;
    int any_kid;          /* ignore want_kid */
    int calls;
    int saw_null_kid;
    char saw_kid[256];
};

static const struct jws_key *jws_test_lookup(void *ctx, const char *kid)
{
    struct jws_lookup *l = ctx;

    l->calls++;
    l->saw_null_kid = kid == NULL;
    snprintf(l->saw_kid, sizeof(l->saw_kid), "%s", kid != NULL ? kid : "");
    if (l->any_kid)
        return l->key;
    if (kid == NULL && l->want_kid == NULL)
        return l->key;
    if (kid != NULL && l->want_kid != NULL && strcmp(kid, l->want_kid) == 0)
        return l->key;
    return NULL;
}

static struct jws_key *jws_rfc_key(void)
{
    unsigned char k[64];
    size_t k_len = 0;
    struct jws_key *key = NULL;

    if (b64url_decode(k, sizeof(k), &k_len, rfc_k, strlen(rfc_k)) != 0 || k_len != 64)
        return NULL;
    if (jws_key_new_hs256(&key, k, k_len, NULL) != JWS_OK)
        return NULL;
    return key;
}

static struct jws_key *jws_test_key(const char *kid)
{
    struct jws_key *key = NULL;

    if (jws_key_new_hs256(&key, test_secret, sizeof(test_secret), kid) != JWS_OK)
        return NULL;
    return key;
}

static void jws_hmac(const unsigned char *secret, size_t secret_len, const char *input,
                     size_t len, unsigned char mac[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, len);
    crypto_auth_hmacsha256_final(&st, mac);
}

/* out = header_b64 "." payload_b64 "." b64url(HMAC(test_secret, signing input)). */
static void jws_mint_b64(char *out, size_t size, const char *header_b64, const char *payload_b64)
{
    unsigned char mac[32];
    size_t pos;

    snprintf(out, size, "%s.%s", header_b64, payload_b64);
    pos = strlen(out);
    jws_hmac(test_secret, sizeof(test_secret), out, pos, mac);
    out[pos++] = '.';
    b64url_encode(out + pos, size - pos, mac, sizeof(mac));
}

/* Mints a token from raw JSON texts, signed with test_secret. */
static void jws_mint(char *out, size_t size, const char *header_json, const char *payload_json)
{
    static char h[TOK_MAX], p[TOK_MAX];

    b64url_encode(h, sizeof(h), (const unsigned char *)header_json, strlen(header_json));
    b64url_encode(p, sizeof(p), (const unsigned char *)payload_json, strlen(payload_json));
    jws_mint_b64(out, size, h, p);
}

/* Verifies token with key (any kid); returns the code, frees any payload. */
static int jws_try(const struct jws_key *key, const char *token, size_t len)
{
    struct jws_lookup l = {.key = key, .any_kid = 1};
    json_t *payload = NULL;
    int rc = jws_verify(token, len, jws_test_lookup, &l, &payload);

    if (rc != JWS_OK && payload != NULL)
        rc = 999;   /* an output was written on failure */
    json_decref(payload);
    return rc;
}

#define PAYLOAD_OK "{\"sub\":\"1\",\"userId\":1,\"role\":\"user\"}"

TEST(jws_rfc7515_a1_key_and_mac)
{
    unsigned char k[64], mac[32], sig[40];
    size_t k_len = 0, sig_len = 0;
    const char *dot2 = strrchr(rfc_token, '.');

    CHECK(b64url_decode(k, sizeof(k), &k_len, rfc_k, strlen(rfc_k)) == 0);
    CHECK_INT(k_len, 64);
    /* The signature part decodes to the RFC's bytes ... */
    CHECK(b64url_decode(sig, sizeof(sig), &sig_len, dot2 + 1, strlen(dot2 + 1)) == 0);
    CHECK_INT(sig_len, 32);
    CHECK(memcmp(sig, rfc_sig, 32) == 0);
    /* ... which are HMAC-SHA256 over the signing input with that key. */
    jws_hmac(k, k_len, rfc_token, (size_t)(dot2 - rfc_token), mac);
    CHECK(memcmp(mac, rfc_sig, 32) == 0);
}

TEST(jws_rfc7515_a1_verifies)
{
    struct jws_key *key = jws_rfc_key();
    struct jws_lookup l = {0};
    json_t *payload = NULL;
    int rc;

    CHECK(key != NULL);
    l.key = key;
    rc = jws_verify(rfc_token, strlen(rfc_token), jws_test_lookup, &l, &payload);
    jws_key_free(key);
    CHECK_INT(rc, JWS_OK);
    CHECK(payload != NULL);
    CHECK_INT(l.calls, 1);
    CHECK(l.saw_null_kid);
    CHECK_STR(json_string_value(json_object_get(payload, "iss")), "joe");
    CHECK_INT(json_integer_value(json_object_get(payload, "exp")), 1300819380);
    CHECK(json_is_true(json_object_get(payload, "http://example.com/is_root")));
    CHECK_INT(json_object_size(payload), 3);
    json_decref(payload);
}

TEST(jws_rfc7515_a1_any_change_fails)
{
    struct jws_key *key = jws_rfc_key(), *other = jws_test_key(NULL);
    char tok[sizeof(rfc_token)];
    size_t len = strlen(rfc_token), i;
    int ok = 1;

    CHECK(key != NULL && other != NULL);
    /* The right token under another key. */
    if (jws_try(other, rfc_token, len) != JWS_ESIGNATURE)
        ok = 0;
    /* Each character of the payload part changed to another valid one. */
    for (i = strchr(rfc_token, '.') - rfc_token + 1; rfc_token[i] != '.'; i++) {
        memcpy(tok, rfc_token, sizeof(tok));
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        if (jws_try(key, tok, len) == JWS_OK) {
            ok = 0;
            test_failed(__FILE__, __LINE__, "payload changed at %zu verified", i);
            break;
        }
    }
    jws_key_free(key);
    jws_key_free(other);
    CHECK(ok);
}

TEST(jws_sign_verify_round_trip)
{
    struct jws_key *key = jws_test_key("k1");
    struct jws_lookup l = {0};
    char tok[TOK_MAX], header[128];
    unsigned char raw[128], mac[32], sig[40];
    size_t len = 0, n = 0, sig_len = 0;
    const char *dot1, *dot2;
    json_t *payload = NULL;
    int rc;

    CHECK(key != NULL);
    CHECK_STR(jws_key_kid(key), "k1");
    CHECK_INT(jws_key_alg(key), JWS_ALG_HS256);
    CHECK_STR(jws_alg_name(jws_key_alg(key)), "HS256");
    rc = jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, sizeof(tok), &len);
    if (rc != JWS_OK)
        jws_key_free(key);
    CHECK_INT(rc, JWS_OK);
    CHECK_INT(len, strlen(tok));

    /* Three parts; the header names the key's algorithm and kid. */
    dot1 = strchr(tok, '.');
    dot2 = strrchr(tok, '.');
    CHECK(dot1 != NULL && dot2 != NULL && dot1 != dot2);
    CHECK(memchr(dot1 + 1, '.', (size_t)(dot2 - dot1 - 1)) == NULL);
    CHECK(b64url_decode(raw, sizeof(raw) - 1, &n, tok, (size_t)(dot1 - tok)) == 0);
    raw[n] = '\0';
    snprintf(header, sizeof(header), "%s", (const char *)raw);
    CHECK_STR(header, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}");
    CHECK(b64url_decode(raw, sizeof(raw) - 1, &n, dot1 + 1, (size_t)(dot2 - dot1 - 1)) == 0);
    CHECK_INT(n, strlen(PAYLOAD_OK));
    CHECK(memcmp(raw, PAYLOAD_OK, n) == 0);
    /* The signature is HMAC-SHA256 over the signing input. */
    jws_hmac(test_secret, sizeof(test_secret), tok, (size_t)(dot2 - tok), mac);
    CHECK(b64url_decode(sig, sizeof(sig), &sig_len, dot2 + 1, strlen(dot2 + 1)) == 0);
    CHECK_INT(sig_len, 32);
    CHECK(memcmp(sig, mac, 32) == 0);

    l.key = key;
    l.want_kid = "k1";
    rc = jws_verify(tok, len, jws_test_lookup, &l, &payload);
    jws_key_free(key);
    CHECK_INT(rc, JWS_OK);
    CHECK_STR(l.saw_kid, "k1");
    CHECK_STR(json_string_value(json_object_get(payload, "role")), "user");
    CHECK_INT(json_integer_value(json_object_get(payload, "userId")), 1);
    json_decref(payload);
}

TEST(jws_sign_without_kid_has_no_kid_header)
{
    struct jws_key *key = jws_test_key(NULL);
    struct jws_lookup l = {0};
    char tok[TOK_MAX];
    unsigned char raw[128];
    size_t len = 0, n = 0;
    json_t *payload = NULL;
    int rc;

    CHECK(key != NULL);
    CHECK(jws_key_kid(key) == NULL);
    rc = jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, sizeof(tok), &len);
    if (rc == JWS_OK) {
        l.key = key;
        rc = jws_verify(tok, len, jws_test_lookup, &l, &payload);
    }
    jws_key_free(key);
    CHECK_INT(rc, JWS_OK);
    json_decref(payload);
    CHECK(l.saw_null_kid);
    CHECK(b64url_decode(raw, sizeof(raw) - 1, &n, tok, (size_t)(strchr(tok, '.') - tok)) == 0);
    raw[n] = '\0';
    CHECK_STR((const char *)raw, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
}

TEST(jws_sign_refuses_small_buffer)
{
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t len = 12345, need;
    int rc, rc_exact;

    CHECK(key != NULL);
    rc = jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, sizeof(tok), &len);
    need = len + 1;
    memset(tok, 'Z', sizeof(tok));
    len = 12345;
    rc_exact = jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, need, &len);
    memset(tok, 'Z', sizeof(tok));
    len = 12345;
    rc = rc == JWS_OK && rc_exact == JWS_OK
             ? jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, need - 1, &len)
             : -100;
    jws_key_free(key);
    CHECK(rc != JWS_OK && rc != -100);
    CHECK_INT(len, 12345);
    CHECK(tok[0] == 'Z');
}

TEST(jws_key_refuses_short_or_long_secret_and_bad_kid)
{
    unsigned char secret[LATCH_MAX_SECRET_BYTES + 1];
    struct jws_key *key = (struct jws_key *)&key, *const sentinel = key;
    char kid[MAX_KID_TEST + 2];

    memset(secret, 'x', sizeof(secret));
    CHECK_INT(jws_key_new_hs256(&key, secret, 31, NULL), JWS_EKEY);
    CHECK(key == sentinel);
    CHECK_INT(jws_key_new_hs256(&key, secret, 0, NULL), JWS_EKEY);
    CHECK_INT(jws_key_new_hs256(&key, secret, 1, NULL), JWS_EKEY);
    CHECK_INT(jws_key_new_hs256(&key, secret, LATCH_MAX_SECRET_BYTES + 1, NULL), JWS_EKEY);
    CHECK_INT(jws_key_new_hs256(&key, secret, 32, ""), JWS_EKEY);
    memset(kid, 'k', sizeof(kid));
    kid[MAX_KID_TEST + 1] = '\0';
    CHECK_INT(jws_key_new_hs256(&key, secret, 32, kid), JWS_EKEY);
    CHECK(key == sentinel);

    CHECK_INT(jws_key_new_hs256(&key, secret, 32, NULL), JWS_OK);
    CHECK(key != sentinel);
    jws_key_free(key);
    kid[MAX_KID_TEST] = '\0';
    CHECK_INT(jws_key_new_hs256(&key, secret, LATCH_MAX_SECRET_BYTES, kid), JWS_OK);
    jws_key_free(key);
    jws_key_free(NULL);
}

TEST(jws_rejects_alg_none_variants)
{
    static const char *const algs[] = {"none", "None", "NONE", "nOnE", ""};
    struct jws_key *key = jws_test_key(NULL);
    char header[128], tok[TOK_MAX];
    size_t i;
    int bad = -1;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]) && bad < 0; i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[i]);
        /* With a valid HS256 MAC ... */
        jws_mint(tok, sizeof(tok), header, PAYLOAD_OK);
        if (jws_try(key, tok, strlen(tok)) != JWS_EALG)
            bad = (int)i;
        /* ... and the classic unsecured form with an empty signature. */
        *(strrchr(tok, '.') + 1) = '\0';
        if (jws_try(key, tok, strlen(tok)) != JWS_EALG)
            bad = (int)i;
    }
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "alg \"%s\" was not refused with JWS_EALG", algs[bad]);
}

TEST(jws_rejects_other_algorithms)
{
    static const char *const algs[] = {"HS384", "HS512", "hs256", "Hs256", "HS256 ", " HS256",
                                       "HS2560", "HS25", "RS256", "ES256", "PS256", "EdDSA"};
    struct jws_key *key = jws_test_key(NULL);
    char header[128], tok[TOK_MAX];
    size_t i;
    int bad = -1, rc = 0, rc_good;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]) && bad < 0; i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[i]);
        jws_mint(tok, sizeof(tok), header, PAYLOAD_OK);
        rc = jws_try(key, tok, strlen(tok));
        if (rc != JWS_EALG)
            bad = (int)i;
    }
    /* The same token with "HS256" verifies: the MAC was never the problem. */
    jws_mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD_OK);
    rc_good = jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "alg \"%s\": got %d, want JWS_EALG", algs[bad], rc);
    CHECK_INT(rc_good, JWS_OK);
}

TEST(jws_rejects_missing_or_non_string_alg)
{
    static const char *const headers[] = {
        "{\"typ\":\"JWT\"}", "{\"alg\":null}", "{\"alg\":256}", "{\"alg\":[\"HS256\"]}",
        "{\"alg\":{\"name\":\"HS256\"}}", "{\"alg\":true}", "{}"};
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t i;
    int bad = -1, rc = 0;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(headers) / sizeof(headers[0]) && bad < 0; i++) {
        jws_mint(tok, sizeof(tok), headers[i], PAYLOAD_OK);
        rc = jws_try(key, tok, strlen(tok));
        if (rc == JWS_OK || rc == 999)
            bad = (int)i;
    }
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "header %s: got %d", headers[bad], rc);
}

TEST(jws_unknown_kid_is_enokey)
{
    struct jws_key *key = jws_test_key("k1");
    struct jws_lookup l = {0};
    char tok[TOK_MAX];
    json_t *payload = NULL;
    int rc_other, rc_none, rc_known;

    CHECK(key != NULL);
    l.key = key;
    l.want_kid = "k1";
    jws_mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"kid\":\"k2\"}", PAYLOAD_OK);
    rc_other = jws_verify(tok, strlen(tok), jws_test_lookup, &l, &payload);
    CHECK_STR(l.saw_kid, "k2");
    jws_mint(tok, sizeof(tok), "{\"alg\":\"HS256\"}", PAYLOAD_OK);
    rc_none = jws_verify(tok, strlen(tok), jws_test_lookup, &l, &payload);
    CHECK(l.saw_null_kid);
    CHECK(payload == NULL);
    jws_mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"kid\":\"k1\"}", PAYLOAD_OK);
    rc_known = jws_verify(tok, strlen(tok), jws_test_lookup, &l, &payload);
    json_decref(payload);
    jws_key_free(key);
    CHECK_INT(rc_other, JWS_ENOKEY);
    CHECK_INT(rc_none, JWS_ENOKEY);
    CHECK_INT(rc_known, JWS_OK);
}

TEST(jws_rejects_bad_kid_values)
{
    static const char *const headers[] = {
        "{\"alg\":\"HS256\",\"kid\":1}", "{\"alg\":\"HS256\",\"kid\":null}",
        "{\"alg\":\"HS256\",\"kid\":[\"k1\"]}"};
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX], header[512];
    size_t i;
    int bad = -1, rc = 0;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(headers) / sizeof(headers[0]) && bad < 0; i++) {
        jws_mint(tok, sizeof(tok), headers[i], PAYLOAD_OK);
        rc = jws_try(key, tok, strlen(tok));
        if (rc == JWS_OK || rc == 999)
            bad = (int)i;
    }
    /* A kid longer than any latch accepts (128 bytes). */
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%0300d\"}", 0);
    jws_mint(tok, sizeof(tok), header, PAYLOAD_OK);
    i = (size_t)jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "header %s: got %d", headers[bad], rc);
    CHECK((int)i != JWS_OK);
}

TEST(jws_rejects_key_bearing_and_crit_headers)
{
    static const char *const headers[] = {
        "{\"alg\":\"HS256\",\"jku\":\"https://evil.example/jwks.json\"}",
        "{\"alg\":\"HS256\",\"x5u\":\"https://evil.example/cert.pem\"}",
        "{\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}}",
        "{\"alg\":\"HS256\",\"x5c\":[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"]}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\",\"crit\":[]}",
        "{\"jku\":null,\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}",
        "{\"alg\":\"HS256\",\"b64\":false}",
    };
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t i;
    int bad = -1, rc = 0;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(headers) / sizeof(headers[0]) && bad < 0; i++) {
        jws_mint(tok, sizeof(tok), headers[i], PAYLOAD_OK);
        rc = jws_try(key, tok, strlen(tok));
        if (rc != JWS_EHEADER)
            bad = (int)i;
    }
    /* Unknown, harmless parameters are ignored (RFC 7515 4: no crit). */
    jws_mint(tok, sizeof(tok), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"cty\":\"x\",\"zzz\":1}",
             PAYLOAD_OK);
    i = (size_t)jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "header %s: got %d, want JWS_EHEADER", headers[bad], rc);
    CHECK_INT((int)i, JWS_OK);
}

TEST(jws_rejects_tampered_payload)
{
    struct jws_key *key = jws_test_key(NULL);
    char good[TOK_MAX], evil[TOK_MAX], tok[TOK_MAX];
    size_t len = 0;
    int rc;

    CHECK(key != NULL);
    CHECK_INT(jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), good, sizeof(good), &len), JWS_OK);
    CHECK_INT(jws_try(key, good, len), JWS_OK);
    /* The same header and signature around a payload that says admin. */
    jws_mint(evil, sizeof(evil), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
             "{\"sub\":\"1\",\"userId\":1,\"role\":\"admin\"}");
    snprintf(tok, sizeof(tok), "%.*s.%.*s%s", (int)(strchr(good, '.') - good), good,
             (int)(strrchr(evil, '.') - strchr(evil, '.') - 1), strchr(evil, '.') + 1,
             strrchr(good, '.'));
    rc = jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    CHECK_INT(rc, JWS_ESIGNATURE);
}

TEST(jws_rejects_bad_signatures)
{
    struct jws_key *key = jws_test_key(NULL);
    char good[TOK_MAX], tok[TOK_MAX];
    unsigned char sig[32];
    size_t len = 0, sig_len = 0, prefix, byte;
    int bit, rc, failures = 0;

    CHECK(key != NULL);
    CHECK_INT(jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), good, sizeof(good), &len), JWS_OK);
    prefix = (size_t)(strrchr(good, '.') - good) + 1;
    CHECK(b64url_decode(sig, sizeof(sig), &sig_len, good + prefix, len - prefix) == 0);

    /* Every single-bit flip of the MAC. */
    for (byte = 0; byte < 32; byte++) {
        for (bit = 0; bit < 8; bit++) {
            sig[byte] ^= (unsigned char)(1u << bit);
            memcpy(tok, good, prefix);
            b64url_encode(tok + prefix, sizeof(tok) - prefix, sig, 32);
            sig[byte] ^= (unsigned char)(1u << bit);
            rc = jws_try(key, tok, strlen(tok));
            if (rc != JWS_ESIGNATURE && failures++ == 0)
                test_failed(__FILE__, __LINE__, "flip byte %zu bit %d: got %d", byte, bit, rc);
        }
    }
    CHECK_INT(failures, 0);

    /* Truncated: the first 31 bytes of the MAC, correctly encoded. */
    memcpy(tok, good, prefix);
    b64url_encode(tok + prefix, sizeof(tok) - prefix, sig, 31);
    CHECK_INT(jws_try(key, tok, strlen(tok)), JWS_ESIGNATURE);
    /* Truncated by characters. */
    CHECK_INT(jws_try(key, good, len - 1), JWS_ESIGNATURE);
    CHECK_INT(jws_try(key, good, len - 4), JWS_ESIGNATURE);
    CHECK_INT(jws_try(key, good, prefix + 1), JWS_ESIGNATURE);
    /* Stripped: "header.payload." */
    CHECK_INT(jws_try(key, good, prefix), JWS_ESIGNATURE);
    /* Extended: the MAC plus one byte, and the MAC twice. */
    memcpy(tok, good, prefix);
    {
        unsigned char longer[64];
        memcpy(longer, sig, 32);
        memcpy(longer + 32, sig, 32);
        b64url_encode(tok + prefix, sizeof(tok) - prefix, longer, 33);
        CHECK_INT(jws_try(key, tok, strlen(tok)), JWS_ESIGNATURE);
        b64url_encode(tok + prefix, sizeof(tok) - prefix, longer, 64);
        CHECK_INT(jws_try(key, tok, strlen(tok)), JWS_ESIGNATURE);
    }
    /* All-zero MAC. */
    memset(sig, 0, sizeof(sig));
    b64url_encode(tok + prefix, sizeof(tok) - prefix, sig, 32);
    rc = jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    CHECK_INT(rc, JWS_ESIGNATURE);
}

TEST(jws_wrong_key_is_esignature)
{
    struct jws_key *key = jws_test_key(NULL), *other = NULL;
    unsigned char secret[32];
    char tok[TOK_MAX];
    size_t len = 0;
    int rc;

    memcpy(secret, test_secret, 32);
    secret[31] ^= 1;
    CHECK(key != NULL);
    CHECK_INT(jws_key_new_hs256(&other, secret, 32, NULL), JWS_OK);
    rc = jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, sizeof(tok), &len);
    if (rc == JWS_OK)
        rc = jws_try(other, tok, len);
    jws_key_free(key);
    jws_key_free(other);
    CHECK_INT(rc, JWS_ESIGNATURE);
}

TEST(jws_rejects_duplicate_keys)
{
    static const char *const cases[][2] = {
        {"{\"alg\":\"HS256\",\"alg\":\"HS256\"}", PAYLOAD_OK},
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"typ\":\"JWS\"}", PAYLOAD_OK},
        {"{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}", PAYLOAD_OK},
        {"{\"alg\":\"HS256\"}", "{\"sub\":\"1\",\"userId\":1,\"role\":\"user\",\"role\":\"admin\"}"},
        {"{\"alg\":\"HS256\"}", "{\"sub\":\"1\",\"sub\":\"2\",\"userId\":1,\"role\":\"user\"}"},
        {"{\"alg\":\"HS256\"}", "{\"a\":{\"b\":1,\"b\":2}}"},
    };
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t i;
    int bad = -1, rc = 0;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && bad < 0; i++) {
        jws_mint(tok, sizeof(tok), cases[i][0], cases[i][1]);
        rc = jws_try(key, tok, strlen(tok));
        if (rc != JWS_EMALFORMED)
            bad = (int)i;
    }
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "%s . %s: got %d, want JWS_EMALFORMED", cases[bad][0],
                    cases[bad][1], rc);
}

/* Adds 1 to the last character's unused low bits: same bytes for a lax
 * decoder, a different string for the MAC. */
static void jws_bump_last(char *part, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(alphabet, part[len - 1]);

    part[len - 1] = alphabet[(p - alphabet) + 1];
}

TEST(jws_rejects_non_canonical_base64url)
{
    /* 22 bytes of JSON each: both encodings end with 4 unused bits. */
    const char *header = "{\"alg\":\"HS256\",\"x\":12}", *payload = "{\"sub\":\"1\",\"role\":\"u\"}";
    struct jws_key *key = jws_test_key(NULL);
    char h[128], p[128], odd[256], tok[TOK_MAX], good[LATCH_MAX_TOKEN_BYTES];
    size_t hl, pl, len;
    int rc_ok, rc_h, rc_p, rc_s, rc_pad_h, rc_pad_p;

    CHECK(key != NULL);
    CHECK_INT(strlen(header) % 3, 1);
    CHECK_INT(strlen(payload) % 3, 1);
    hl = b64url_encode(h, sizeof(h), (const unsigned char *)header, strlen(header));
    pl = b64url_encode(p, sizeof(p), (const unsigned char *)payload, strlen(payload));
    jws_mint_b64(good, sizeof(good), h, p);
    rc_ok = jws_try(key, good, strlen(good));

    /* Each time with a valid MAC over the odd encoding, so only the
     * encoding rule can refuse it. */
    memcpy(odd, h, hl + 1);
    jws_bump_last(odd, hl);
    jws_mint_b64(tok, sizeof(tok), odd, p);
    rc_h = jws_try(key, tok, strlen(tok));

    memcpy(odd, p, pl + 1);
    jws_bump_last(odd, pl);
    jws_mint_b64(tok, sizeof(tok), h, odd);
    rc_p = jws_try(key, tok, strlen(tok));

    /* The signature: 32 bytes leave 2 unused bits in the last character. */
    snprintf(tok, sizeof(tok), "%s", good);
    len = strlen(tok);
    jws_bump_last(tok, len);
    rc_s = jws_try(key, tok, len);

    /* Padding is not base64url as JWS uses it. */
    snprintf(odd, sizeof(odd), "%s==", h);
    jws_mint_b64(tok, sizeof(tok), odd, p);
    rc_pad_h = jws_try(key, tok, strlen(tok));
    snprintf(odd, sizeof(odd), "%s==", p);
    jws_mint_b64(tok, sizeof(tok), h, odd);
    rc_pad_p = jws_try(key, tok, strlen(tok));

    jws_key_free(key);
    CHECK_INT(rc_ok, JWS_OK);
    CHECK_INT(rc_h, JWS_EMALFORMED);
    CHECK_INT(rc_p, JWS_EMALFORMED);
    CHECK_INT(rc_s, JWS_ESIGNATURE);
    CHECK_INT(rc_pad_h, JWS_EMALFORMED);
    CHECK_INT(rc_pad_p, JWS_EMALFORMED);
}

TEST(jws_rejects_wrong_number_of_dots)
{
    struct jws_key *key = jws_test_key(NULL);
    char good[LATCH_MAX_TOKEN_BYTES], tok[TOK_MAX];
    size_t len = 0;
    const char *dot1;
    int rc[8], i;

    CHECK(key != NULL);
    CHECK_INT(jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), good, sizeof(good), &len), JWS_OK);
    dot1 = strchr(good, '.');
    /* Four parts: an extra "." plus a copy of the signature. */
    snprintf(tok, sizeof(tok), "%s%s", good, strrchr(good, '.'));
    rc[0] = jws_try(key, tok, strlen(tok));
    /* Two parts: header.payload, and header.signature. */
    rc[1] = jws_try(key, good, (size_t)(strrchr(good, '.') - good));
    snprintf(tok, sizeof(tok), "%.*s%s", (int)(dot1 - good), good, strrchr(good, '.'));
    rc[2] = jws_try(key, tok, strlen(tok));
    /* One part. */
    rc[3] = jws_try(key, good, (size_t)(dot1 - good));
    /* Empty parts and empty tokens. */
    rc[4] = jws_try(key, "..", 2);
    rc[5] = jws_try(key, "", 0);
    snprintf(tok, sizeof(tok), ".%s", good);
    rc[6] = jws_try(key, tok, strlen(tok));
    snprintf(tok, sizeof(tok), "%s.", good);
    rc[7] = jws_try(key, tok, strlen(tok));
    jws_key_free(key);
    for (i = 0; i < 8; i++) {
        if (rc[i] != JWS_EMALFORMED)
            test_failed(__FILE__, __LINE__, "case %d: got %d, want JWS_EMALFORMED", i, rc[i]);
    }
}

TEST(jws_rejects_bytes_outside_base64url)
{
    static const char bad_chars[] = " \t\r\n+/=!\"\\\x01\x7f\x80\xff";
    struct jws_key *key = jws_test_key(NULL);
    char good[TOK_MAX], tok[TOK_MAX];
    size_t len = 0, i, where[3];
    int j, rc, failures = 0;

    CHECK(key != NULL);
    CHECK_INT(jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), good, sizeof(good), &len), JWS_OK);
    where[0] = 0;                                           /* in the header */
    where[1] = (size_t)(strchr(good, '.') - good) + 1;       /* in the payload */
    where[2] = len - 1;                                     /* in the signature */
    for (i = 0; i < sizeof(bad_chars) - 1; i++) {
        for (j = 0; j < 3; j++) {
            memcpy(tok, good, len + 1);
            tok[where[j]] = bad_chars[i];
            rc = jws_try(key, tok, len);
            if (rc != JWS_EMALFORMED && failures++ == 0)
                test_failed(__FILE__, __LINE__, "byte 0x%02x at %zu: got %d",
                            (unsigned char)bad_chars[i], where[j], rc);
        }
    }
    /* A NUL inside the given length. */
    memcpy(tok, good, len + 1);
    tok[where[1]] = '\0';
    rc = jws_try(key, tok, len);
    jws_key_free(key);
    CHECK_INT(failures, 0);
    CHECK_INT(rc, JWS_EMALFORMED);
}

TEST(jws_verify_uses_token_len_not_nul)
{
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t len = 0;
    int rc_exact, rc_short;

    CHECK(key != NULL);
    CHECK_INT(jws_sign(key, PAYLOAD_OK, strlen(PAYLOAD_OK), tok, sizeof(tok), &len), JWS_OK);
    /* The token followed by junk that is not part of it. */
    memcpy(tok + len, ".junk", 6);
    rc_exact = jws_try(key, tok, len);
    rc_short = jws_try(key, tok, len - 1);
    jws_key_free(key);
    CHECK_INT(rc_exact, JWS_OK);
    CHECK(rc_short != JWS_OK);
}

/* A well-formed, correctly signed token of exactly want bytes, or 0. */
static size_t jws_token_of_len(char *out, size_t size, size_t want)
{
    static char header[256], payload[LATCH_MAX_TOKEN_BYTES];
    size_t pad_h, pad_p;

    for (pad_h = 0; pad_h < 4; pad_h++) {
        for (pad_p = 0; pad_p < LATCH_MAX_TOKEN_BYTES - 64; pad_p++) {
            size_t len;
            snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"x\":\"%.*s\"}", (int)pad_h,
                     "hhhh");
            snprintf(payload, sizeof(payload), "{\"sub\":\"1\",\"pad\":\"%0*d\"}", (int)pad_p + 1,
                     0);
            len = b64url_encoded_len(strlen(header)) + 1 + b64url_encoded_len(strlen(payload)) +
                  1 + 43;
            if (len == want) {
                jws_mint(out, size, header, payload);
                return strlen(out);
            }
            if (len > want)
                break;
        }
    }
    return 0;
}

TEST(jws_token_length_limit)
{
    struct jws_key *key = jws_test_key(NULL);
    struct jws_lookup l = {0};
    static char tok[TOK_MAX];
    json_t *payload = NULL;
    size_t len;
    int rc_max, rc_over;

    CHECK(key != NULL);
    l.key = key;
    l.any_kid = 1;
    /* Exactly LATCH_MAX_TOKEN_BYTES: accepted. */
    len = jws_token_of_len(tok, sizeof(tok), LATCH_MAX_TOKEN_BYTES);
    CHECK_INT(len, LATCH_MAX_TOKEN_BYTES);
    rc_max = jws_try(key, tok, len);
    /* One byte more: refused before any key is looked up. */
    len = jws_token_of_len(tok, sizeof(tok), LATCH_MAX_TOKEN_BYTES + 1);
    CHECK_INT(len, LATCH_MAX_TOKEN_BYTES + 1);
    rc_over = jws_verify(tok, len, jws_test_lookup, &l, &payload);
    jws_key_free(key);
    CHECK_INT(rc_max, JWS_OK);
    CHECK_INT(rc_over, JWS_EMALFORMED);
    CHECK_INT(l.calls, 0);
    CHECK(payload == NULL);
}

TEST(jws_rejects_non_object_json)
{
    static const char *const cases[][2] = {
        {"[\"alg\",\"HS256\"]", PAYLOAD_OK},
        {"[{\"alg\":\"HS256\"}]", PAYLOAD_OK},
        {"\"HS256\"", PAYLOAD_OK},
        {"null", PAYLOAD_OK},
        {"{\"alg\":\"HS256\"", PAYLOAD_OK},                  /* truncated */
        {"{\"alg\":\"HS256\"}x", PAYLOAD_OK},                /* trailing bytes */
        {"{\"alg\":\"HS256\"}{}", PAYLOAD_OK},
        {"{\"alg\":\"HS256\"}", "[1,2,3]"},
        {"{\"alg\":\"HS256\"}", "\"sub\""},
        {"{\"alg\":\"HS256\"}", "42"},
        {"{\"alg\":\"HS256\"}", "not json"},
        {"{\"alg\":\"HS256\"}", "{\"sub\":\"1\"} trailing"},
        {"{\"alg\":\"HS256\"}", "{\"sub\":\"a\\u0000b\"}"},   /* NUL in a string */
    };
    struct jws_key *key = jws_test_key(NULL);
    char tok[TOK_MAX];
    size_t i;
    int bad = -1, rc = 0;

    CHECK(key != NULL);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && bad < 0; i++) {
        jws_mint(tok, sizeof(tok), cases[i][0], cases[i][1]);
        rc = jws_try(key, tok, strlen(tok));
        if (rc != JWS_EMALFORMED)
            bad = (int)i;
    }
    jws_key_free(key);
    if (bad >= 0)
        test_failed(__FILE__, __LINE__, "%s . %s: got %d, want JWS_EMALFORMED", cases[bad][0],
                    cases[bad][1], rc);
}

TEST(jws_strerror_names_every_code)
{
    int codes[] = {JWS_OK, JWS_EMALFORMED, JWS_EHEADER, JWS_ENOKEY, JWS_EALG,
                   JWS_ESIGNATURE, JWS_ENOMEM, JWS_EKEY};
    size_t i, j;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK(jws_strerror(codes[i]) != NULL);
        CHECK(strcmp(jws_strerror(codes[i]), jws_strerror(-1000)) != 0);
        for (j = 0; j < i; j++)
            CHECK(strcmp(jws_strerror(codes[i]), jws_strerror(codes[j])) != 0);
    }
}
