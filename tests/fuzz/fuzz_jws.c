/*
 * fuzz_jws - the JWS compact decoder and verifier (src/auth/jws.c) and the
 * access-token claims policy on top of it (src/auth/tokens.c).
 *
 * The first input byte chooses what the rest is:
 *
 *   bit 0 clear  "token mode": the rest is a token, as a Bearer credential
 *                would carry it.  jws_verify() runs with a fixed HS256 key
 *                that the lookup returns for no kid and for kid "k1"; a
 *                payload that verifies goes through tokens_check_claims(),
 *                and tokens_verify() must agree with the two steps.
 *
 *   bit 0 set    "sign mode": the rest is payload JSON.  A random token
 *                almost never carries a good MAC, so the claims code would
 *                stay out of reach; here the payload is jws_sign()ed with the
 *                key, so every input reaches the payload parser and
 *                tokens_check_claims().  bit 1 picks the key with kid "k1"
 *                instead of the one without a kid.  The signed token must
 *                verify exactly when the payload is a JSON object (without
 *                duplicate keys) within the size limits, and must verify to
 *                the same JSON.
 *                bit 2 set: the input continues with two bytes of position
 *                and one byte of XOR mask before the payload; that byte of
 *                the signed token is changed, and the changed token must not
 *                verify (RFC 7515 section 5.2: any change breaks the MAC).
 */
#include "fuzz.h"

#include "auth/jws.h"
#include "auth/tokens.h"
#include "latch_limits.h"

#include <jansson.h>
#include <string.h>

/* 34 bytes: above LATCH_MIN_SECRET_BYTES (RFC 7518 section 3.2). */
#define FUZZ_SECRET "latch-fuzz-secret-0123456789abcdef"
#define FUZZ_NOW 1700000000

static struct jws_key *key_nokid, *key_k1;

static const struct tokens_policy policy = {
    .issuer = "latch",
    .access_ttl_s = 900,
    .leeway_s = 30,
};

static const struct jws_key *lookup(void *ctx, const char *kid)
{
    (void)ctx;
    if (kid == NULL)
        return key_nokid;
    if (strcmp(kid, "k1") == 0)
        return key_k1;
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (jws_key_new_hs256(&key_nokid, (const unsigned char *)FUZZ_SECRET,
                          strlen(FUZZ_SECRET), NULL) != JWS_OK ||
        jws_key_new_hs256(&key_k1, (const unsigned char *)FUZZ_SECRET, strlen(FUZZ_SECRET),
                          "k1") != JWS_OK) {
        fprintf(stderr, "fuzz_jws: cannot build the keys\n");
        abort();
    }
    return 0;
}

/* What a verified, policy-checked token may claim. */
static void check_claims_invariants(const struct token_claims *c)
{
    FUZZ_CHECK(c->user_id > 0);
    FUZZ_CHECK(c->role[0] != '\0');
    FUZZ_CHECK(strlen(c->role) <= LATCH_MAX_ROLE_BYTES);
    FUZZ_CHECK(strlen(c->email) <= LATCH_MAX_EMAIL_BYTES);
    FUZZ_CHECK(strlen(c->jti) <= TOKENS_MAX_ID_BYTES);
    FUZZ_CHECK(strlen(c->sid) <= TOKENS_MAX_ID_BYTES);
    FUZZ_CHECK(c->exp > FUZZ_NOW - policy.leeway_s);
    FUZZ_CHECK(c->iat <= FUZZ_NOW + policy.leeway_s);
}

/* Runs the claims policy on a verified payload; returns its result. */
static int check_payload(json_t *payload)
{
    struct token_claims claims;
    int rc;

    memset(&claims, 0xa5, sizeof(claims));
    rc = tokens_check_claims(payload, &policy, FUZZ_NOW, &claims);
    if (rc == TOKENS_OK)
        check_claims_invariants(&claims);
    return rc;
}

static void token_mode(const char *token, size_t len)
{
    json_t *payload = NULL;
    struct token_claims claims;
    int rc, expected;

    rc = jws_verify(token, len, lookup, NULL, &payload);
    FUZZ_CHECK(rc <= 0 && jws_strerror(rc) != NULL);
    FUZZ_CHECK((rc == JWS_OK) == (payload != NULL));
    if (rc != JWS_OK)
        return;
    FUZZ_CHECK(json_is_object(payload));
    expected = check_payload(payload);
    json_decref(payload);

    /* The one-call form used by the handlers must agree with the two steps. */
    rc = tokens_verify(token, len, lookup, NULL, &policy, FUZZ_NOW, &claims);
    FUZZ_CHECK(rc == expected);
}

static void sign_mode(uint8_t mode, const uint8_t *data, size_t size)
{
    const struct jws_key *key = (mode & 2) ? key_k1 : key_nokid;
    char token[2 * LATCH_MAX_TOKEN_BYTES + 256];
    size_t token_len = 0, tamper_pos = 0;
    uint8_t tamper_mask = 0;
    const char *payload;
    size_t payload_len;
    json_t *expected, *verified = NULL;
    int rc;

    if (mode & 4) {
        if (size < 3)
            return;
        tamper_pos = (size_t)data[0] << 8 | data[1];
        tamper_mask = data[2];
        data += 3;
        size -= 3;
    }
    payload = (const char *)data;
    payload_len = size;

    rc = jws_sign(key, payload, payload_len, token, sizeof(token), &token_len);
    if (rc != JWS_OK) {
        /* Only a too-small output buffer may refuse to sign. */
        FUZZ_CHECK(rc == JWS_ENOMEM);
        return;
    }
    FUZZ_CHECK(token_len < sizeof(token));
    FUZZ_CHECK(token[token_len] == '\0' && strlen(token) == token_len);

    if (mode & 4) {
        tamper_pos %= token_len;
        if (tamper_mask == 0)
            tamper_mask = 1;
        token[tamper_pos] = (char)(token[tamper_pos] ^ tamper_mask);
        rc = jws_verify(token, token_len, lookup, NULL, &verified);
        if (rc == JWS_OK) {
            FUZZ_FAIL("tampered token verified (byte %zu ^ 0x%02x)", tamper_pos, tamper_mask);
        }
        FUZZ_CHECK(verified == NULL);
        return;
    }

    rc = jws_verify(token, token_len, lookup, NULL, &verified);
    expected = json_loadb(payload, payload_len, JSON_REJECT_DUPLICATES, NULL);
    if (expected != NULL && json_is_object(expected) &&
        payload_len <= LATCH_MAX_JWS_PART_BYTES && token_len <= LATCH_MAX_TOKEN_BYTES) {
        /* Our own signature over an acceptable payload must verify, to the same JSON. */
        if (rc != JWS_OK) {
            FUZZ_FAIL("our own signed token does not verify: %s", jws_strerror(rc));
        }
        FUZZ_CHECK(json_equal(verified, expected));
        (void)check_payload(verified);
    } else {
        FUZZ_CHECK(rc == JWS_EMALFORMED);
        FUZZ_CHECK(verified == NULL);
    }
    json_decref(expected);
    json_decref(verified);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        sign_mode(data[0], data + 1, size - 1);
    else
        token_mode((const char *)data + 1, size - 1);
    return 0;
}
