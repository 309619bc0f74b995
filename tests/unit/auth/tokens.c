/*
 * Tests src/auth/tokens.c: what an issued token holds, and each rule
 * tokens_check_claims applies (RFC 7519 section 4.1, RFC 8725).
 */
#include "test.h"

#include "auth/tokens.h"
#include "util/b64url.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKENS_NOW 1700000000LL

static const unsigned char tokens_secret[32] = "tokens-test-secret-0123456789abc";

static const struct tokens_policy tokens_policy = {
    .issuer = "latch",
    .access_ttl_s = 900,
    .leeway_s = 30,
};

static const struct jws_key *tokens_lookup(void *ctx, const char *kid)
{
    (void)kid;
    return ctx;
}

static struct jws_key *tokens_key(void)
{
    struct jws_key *key = NULL;

    if (jws_key_new_hs256(&key, tokens_secret, sizeof(tokens_secret), NULL) != JWS_OK)
        return NULL;
    return key;
}

/* A payload that passes every rule at TOKENS_NOW. */
static json_t *tokens_good_claims(void)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:s, s:s}", "sub", "42", "userId",
                     (json_int_t)42, "email", "ada@example.com", "role", "user", "iat",
                     (json_int_t)TOKENS_NOW, "exp", (json_int_t)(TOKENS_NOW + 900), "jti",
                     "abcdefghijklmnopqrstuv", "iss", "latch");
}

/* Checks claims at now; on failure also requires *out to be left alone. */
static int tokens_check_at(json_t *claims, int64_t now, struct token_claims *out)
{
    struct token_claims before;
    int rc;

    memset(out, 0xA5, sizeof(*out));
    memcpy(&before, out, sizeof(before));
    rc = tokens_check_claims(claims, &tokens_policy, now, out);
    if (rc != TOKENS_OK && memcmp(&before, out, sizeof(before)) != 0)
        return 999;
    return rc;
}

/* tokens_good_claims() with name set to value (NULL: removed). */
static int tokens_check_with(const char *name, json_t *value, int64_t now)
{
    json_t *claims = tokens_good_claims();
    struct token_claims out;
    int rc;

    if (value != NULL)
        json_object_set_new(claims, name, value);
    else
        json_object_del(claims, name);
    rc = tokens_check_at(claims, now, &out);
    json_decref(claims);
    return rc;
}

TEST(tokens_issue_verify_round_trip)
{
    struct jws_key *key = tokens_key();
    struct token_subject subject = {.user_id = 42, .email = "ada@example.com", .role = "admin"};
    struct token_claims claims;
    char tok[TOKENS_MAX_ISSUED_BYTES];
    size_t len = 0;
    int rc;

    CHECK(key != NULL);
    rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &claims);
    jws_key_free(key);
    CHECK_INT(rc, TOKENS_OK);
    CHECK_INT(len, strlen(tok));
    CHECK_INT(claims.user_id, 42);
    CHECK_STR(claims.role, "admin");
    CHECK_STR(claims.email, "ada@example.com");
    CHECK_INT(claims.iat, TOKENS_NOW);
    CHECK_INT(claims.exp, TOKENS_NOW + 900);
    CHECK_INT(strlen(claims.jti), 22);
    CHECK_STR(claims.sid, "");
}

TEST(tokens_issued_payload_has_every_claim)
{
    struct jws_key *key = tokens_key();
    struct token_subject subject = {.user_id = 7, .email = "b@example.org", .role = "user"};
    char tok[TOKENS_MAX_ISSUED_BYTES];
    unsigned char jti[32];
    size_t len = 0, jti_len = 0;
    json_t *p = NULL, *v;
    int rc;

    CHECK(key != NULL);
    rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = jws_verify(tok, len, tokens_lookup, key, &p);
    jws_key_free(key);
    CHECK_INT(rc, 0);
    CHECK_INT(json_object_size(p), 9);
    CHECK(json_is_false(json_object_get(p, "email_verified")));
    CHECK(json_object_get(p, "amr") == NULL);   /* a password-only login */
    CHECK_STR(json_string_value(json_object_get(p, "sub")), "7");
    v = json_object_get(p, "userId");
    CHECK(json_is_integer(v));
    CHECK_INT(json_integer_value(v), 7);
    CHECK_STR(json_string_value(json_object_get(p, "email")), "b@example.org");
    CHECK_STR(json_string_value(json_object_get(p, "role")), "user");
    CHECK_STR(json_string_value(json_object_get(p, "iss")), "latch");
    CHECK(json_is_integer(json_object_get(p, "iat")));
    CHECK_INT(json_integer_value(json_object_get(p, "iat")), TOKENS_NOW);
    CHECK(json_is_integer(json_object_get(p, "exp")));
    CHECK_INT(json_integer_value(json_object_get(p, "exp")), TOKENS_NOW + 900);
    /* jti: 128 random bits, base64url without padding. */
    v = json_object_get(p, "jti");
    CHECK(json_is_string(v));
    CHECK_INT(json_string_length(v), 22);
    CHECK(b64url_decode(jti, sizeof(jti), &jti_len, json_string_value(v), 22) == 0);
    CHECK_INT(jti_len, LATCH_JTI_BYTES);
    json_decref(p);
}

/* Issue 11: email_verified as a boolean claim, amr (RFC 8176) as an
 * array after a second factor, and email_verified read back. */
TEST(tokens_email_verified_and_amr_claims)
{
    struct jws_key *key = tokens_key();
    struct token_subject subject = {.user_id = 7, .email = "b@example.org", .role = "user",
                                    .email_verified = 1, .amr = "pwd otp"};
    struct token_claims claims;
    char tok[TOKENS_MAX_ISSUED_BYTES];
    size_t len = 0;
    json_t *p = NULL, *amr;
    int rc;

    CHECK(key != NULL);
    rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = jws_verify(tok, len, tokens_lookup, key, &p);
    if (rc == 0)
        rc = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &claims);
    jws_key_free(key);
    CHECK_INT(rc, 0);
    CHECK(json_is_true(json_object_get(p, "email_verified")));
    amr = json_object_get(p, "amr");
    CHECK(json_is_array(amr));
    CHECK_INT(json_array_size(amr), 2);
    CHECK_STR(json_string_value(json_array_get(amr, 0)), "pwd");
    CHECK_STR(json_string_value(json_array_get(amr, 1)), "otp");
    CHECK_INT(claims.email_verified, 1);
    json_decref(p);
    /* Absent counts as false; anything but a boolean is refused. */
    CHECK_INT(tokens_check_with("email_verified", NULL, TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("email_verified", json_string("true"), TOKENS_NOW),
              TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("email_verified", json_true(), TOKENS_NOW), TOKENS_OK);
}

TEST(tokens_jti_differs_between_tokens)
{
    struct jws_key *key = tokens_key();
    struct token_subject subject = {.user_id = 1, .email = "a@example.com", .role = "user"};
    struct token_claims a, b;
    char tok[TOKENS_MAX_ISSUED_BYTES];
    size_t len = 0;
    int rc;

    CHECK(key != NULL);
    rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &a);
    if (rc == TOKENS_OK)
        rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &b);
    jws_key_free(key);
    CHECK_INT(rc, TOKENS_OK);
    CHECK(strcmp(a.jti, b.jti) != 0);
}

TEST(tokens_issue_longest_subject_fits)
{
    struct jws_key *key = tokens_key();
    char email[LATCH_MAX_EMAIL_BYTES + 1], role[LATCH_MAX_ROLE_BYTES + 1];
    struct token_subject subject = {.user_id = INT64_MAX, .email = email, .role = role};
    struct token_claims claims;
    char tok[TOKENS_MAX_ISSUED_BYTES];
    size_t len = 0;
    int rc;

    memset(email, 'e', sizeof(email));
    memcpy(email + LATCH_MAX_EMAIL_BYTES - 12, "@example.com", 12);
    email[LATCH_MAX_EMAIL_BYTES] = '\0';
    memset(role, 'r', sizeof(role));
    role[LATCH_MAX_ROLE_BYTES] = '\0';
    CHECK(key != NULL);
    rc = tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len);
    if (rc == TOKENS_OK)
        rc = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &claims);
    jws_key_free(key);
    CHECK_INT(rc, TOKENS_OK);
    CHECK_INT(claims.user_id, INT64_MAX);
    CHECK_STR(claims.email, email);
    CHECK_STR(claims.role, role);
}

TEST(tokens_verify_rejects_bad_tokens)
{
    struct jws_key *key = tokens_key();
    struct token_subject subject = {.user_id = 1, .email = "a@example.com", .role = "user"};
    struct token_claims claims;
    char tok[TOKENS_MAX_ISSUED_BYTES];
    size_t len = 0;
    int rc_sig, rc_late, rc_issuer, rc_garbage;
    struct tokens_policy other = tokens_policy;

    CHECK(key != NULL);
    CHECK_INT(tokens_issue(key, &tokens_policy, &subject, TOKENS_NOW, tok, sizeof(tok), &len),
              TOKENS_OK);
    rc_late = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW + 930,
                            &claims);
    other.issuer = "someone-else";
    rc_issuer = tokens_verify(tok, len, tokens_lookup, key, &other, TOKENS_NOW, &claims);
    rc_garbage = tokens_verify("a.b.c", 5, tokens_lookup, key, &tokens_policy, TOKENS_NOW,
                               &claims);
    tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
    rc_sig = tokens_verify(tok, len, tokens_lookup, key, &tokens_policy, TOKENS_NOW, &claims);
    jws_key_free(key);
    CHECK_INT(rc_sig, TOKENS_EJWS);
    CHECK_INT(rc_late, TOKENS_EEXPIRED);
    CHECK_INT(rc_issuer, TOKENS_EISSUER);
    CHECK_INT(rc_garbage, TOKENS_EJWS);
}

TEST(tokens_good_claims_pass)
{
    json_t *claims = tokens_good_claims();
    struct token_claims out;
    int rc = tokens_check_at(claims, TOKENS_NOW, &out);

    json_decref(claims);
    CHECK_INT(rc, TOKENS_OK);
    CHECK_INT(out.user_id, 42);
    CHECK_STR(out.role, "user");
    CHECK_STR(out.email, "ada@example.com");
    CHECK_STR(out.jti, "abcdefghijklmnopqrstuv");
    CHECK_STR(out.sid, "");
    CHECK_INT(out.iat, TOKENS_NOW);
    CHECK_INT(out.exp, TOKENS_NOW + 900);
}

TEST(tokens_exp_and_leeway_boundary)
{
    const int64_t exp = TOKENS_NOW + 900, leeway = tokens_policy.leeway_s;

    /* Before exp, and after it but within the leeway: accepted. */
    CHECK_INT(tokens_check_with("exp", NULL, 0) != TOKENS_OK, 1);
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp - 1), TOKENS_OK);
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp), TOKENS_OK);
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp + leeway - 1), TOKENS_OK);
    /* RFC 7519 4.1.4: now must be before exp (+ leeway); now == exp + leeway is expired. */
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp + leeway), TOKENS_EEXPIRED);
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp + leeway + 1), TOKENS_EEXPIRED);
    CHECK_INT(tokens_check_with("exp", json_integer(exp), exp + 86400), TOKENS_EEXPIRED);
    CHECK_INT(tokens_check_with("exp", json_integer(0), TOKENS_NOW), TOKENS_EEXPIRED);
    CHECK_INT(tokens_check_with("exp", json_integer(-1), TOKENS_NOW), TOKENS_EEXPIRED);
}

TEST(tokens_exp_without_leeway)
{
    struct tokens_policy strict = tokens_policy;
    json_t *claims = tokens_good_claims();
    struct token_claims out;
    int rc_before, rc_at;

    strict.leeway_s = 0;
    rc_before = tokens_check_claims(claims, &strict, TOKENS_NOW + 899, &out);
    rc_at = tokens_check_claims(claims, &strict, TOKENS_NOW + 900, &out);
    json_decref(claims);
    CHECK_INT(rc_before, TOKENS_OK);
    CHECK_INT(rc_at, TOKENS_EEXPIRED);
}

TEST(tokens_exp_as_number_forms)
{
    /* A NumericDate may be a non-integer number (RFC 7519 2). */
    CHECK_INT(tokens_check_with("exp", json_real((double)TOKENS_NOW + 900.5), TOKENS_NOW),
              TOKENS_OK);
    CHECK_INT(tokens_check_with("exp", json_real((double)TOKENS_NOW - 100.5), TOKENS_NOW),
              TOKENS_EEXPIRED);
    CHECK_INT(tokens_check_with("exp", json_real(1e300), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("exp", json_string("1700000900"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("exp", json_true(), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("exp", json_null(), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("iat", json_string("now"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("nbf", json_string("now"), TOKENS_NOW), TOKENS_ECLAIMS);
}

/*
 * A token whose exp is the largest JSON integer is far in the future.
 * Checking it must not overflow (exp + leeway is signed arithmetic): run in a
 * child so that a sanitizer abort fails this test instead of the run.
 */
TEST(tokens_exp_int64_max_does_not_overflow)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int rc = tokens_check_with("exp", json_integer(INT64_MAX), TOKENS_NOW);
        _exit(rc == TOKENS_ELIFETIME ? 0 : 3);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        test_failed(__FILE__, __LINE__, "child died of signal %d", WTERMSIG(status));
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

TEST(tokens_nbf_and_iat_in_future)
{
    const int64_t leeway = tokens_policy.leeway_s;

    CHECK_INT(tokens_check_with("nbf", json_integer(TOKENS_NOW), TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("nbf", json_integer(TOKENS_NOW + leeway), TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("nbf", json_integer(TOKENS_NOW + leeway + 1), TOKENS_NOW),
              TOKENS_ENOTYET);
    CHECK_INT(tokens_check_with("nbf", json_integer(TOKENS_NOW + 3600), TOKENS_NOW),
              TOKENS_ENOTYET);
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW + leeway), TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW + leeway + 1), TOKENS_NOW),
              TOKENS_ENOTYET);
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW + 3600), TOKENS_NOW),
              TOKENS_ENOTYET);
    /* An old iat makes the token live longer than latch's own would. */
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW - 86400), TOKENS_NOW),
              TOKENS_ELIFETIME);
}

/* Issue 9: a token may not outlive what the revocation set remembers. */
TEST(tokens_lifetime_at_most_ttl_plus_leeway)
{
    const int64_t most = tokens_policy.access_ttl_s + tokens_policy.leeway_s;

    CHECK_INT(tokens_check_with("exp", json_integer(TOKENS_NOW + most), TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("exp", json_integer(TOKENS_NOW + most + 1), TOKENS_NOW),
              TOKENS_ELIFETIME);
    CHECK_INT(tokens_check_with("exp", json_integer(TOKENS_NOW + 86400 * 365), TOKENS_NOW),
              TOKENS_ELIFETIME);
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW + 900 - most), TOKENS_NOW),
              TOKENS_OK);
    CHECK_INT(tokens_check_with("iat", json_integer(TOKENS_NOW + 900 - most - 1), TOKENS_NOW),
              TOKENS_ELIFETIME);
    CHECK_INT(tokens_check_with("iat", json_integer(INT64_MIN), TOKENS_NOW), TOKENS_ELIFETIME);
}

/* Issue 9: controls, line separators and bidi controls in role or email. */
TEST(tokens_unsafe_characters_refused)
{
    /* Adjacent literals keep a hex escape from swallowing the next letter. */
    static const char *const bad[] = {
        "a\x01" "b",         "a\x1f" "b",         "a\x7f",           "a\xc2\x80" "b",
        "a\xc2\x9f" "b",     "a\xe2\x80\xa8" "b", "a\xe2\x80\xa9" "b", "a\xe2\x80\x8e" "b",
        "a\xe2\x80\x8f" "b", "a\xe2\x80\xaa" "b", "a\xe2\x80\xae" "b", "a\xe2\x81\xa6" "b",
        "a\xe2\x81\xa9" "b", "a\xd8\x9c" "b",     "a\tb",            "a\nb",
    };
    static const char *const good[] = {
        "admin", "a b", "caf\xc3\xa9", "a\xc2\xa0" "b", "\xe2\x80\x94", "\xe2\x81\xaa",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(tokens_check_with("role", json_string(bad[i]), TOKENS_NOW), TOKENS_ECLAIMS);
        CHECK_INT(tokens_check_with("email", json_string(bad[i]), TOKENS_NOW), TOKENS_ECLAIMS);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_INT(tokens_check_with("role", json_string(good[i]), TOKENS_NOW), TOKENS_OK);
        CHECK_INT(tokens_check_with("email", json_string(good[i]), TOKENS_NOW), TOKENS_OK);
    }
}

TEST(tokens_issuer_rules)
{
    CHECK_INT(tokens_check_with("iss", json_string("other"), TOKENS_NOW), TOKENS_EISSUER);
    CHECK_INT(tokens_check_with("iss", json_string("Latch"), TOKENS_NOW), TOKENS_EISSUER);
    CHECK_INT(tokens_check_with("iss", json_string("latch "), TOKENS_NOW), TOKENS_EISSUER);
    CHECK_INT(tokens_check_with("iss", json_string(""), TOKENS_NOW), TOKENS_EISSUER);
    CHECK_INT(tokens_check_with("iss", NULL, TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("iss", json_integer(1), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("iss", json_pack("[s]", "latch"), TOKENS_NOW), TOKENS_ECLAIMS);
}

TEST(tokens_each_required_claim_missing)
{
    static const char *const required[] = {"sub", "userId", "role", "iat", "exp", "iss"};
    static const char *const optional[] = {"email", "jti", "nbf", "sid"};
    size_t i;
    int rc;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        rc = tokens_check_with(required[i], NULL, TOKENS_NOW);
        if (rc != TOKENS_ECLAIMS)
            test_failed(__FILE__, __LINE__, "without %s: got %d, want TOKENS_ECLAIMS",
                        required[i], rc);
    }
    for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        rc = tokens_check_with(optional[i], NULL, TOKENS_NOW);
        if (rc != TOKENS_OK)
            test_failed(__FILE__, __LINE__, "without %s: got %d, want TOKENS_OK", optional[i],
                        rc);
    }
}

TEST(tokens_user_id_must_match_sub)
{
    CHECK_INT(tokens_check_with("sub", json_string("43"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sub", json_string("042"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sub", json_string("42 "), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sub", json_string("+42"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sub", json_string(""), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sub", json_integer(42), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_integer(41), TOKENS_NOW), TOKENS_ECLAIMS);
}

TEST(tokens_user_id_must_be_positive_integer)
{
    CHECK_INT(tokens_check_with("userId", json_string("42"), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_real(42.0), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_real(42.5), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_true(), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_null(), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_pack("[i]", 42), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_integer(0), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("userId", json_integer(-42), TOKENS_NOW), TOKENS_ECLAIMS);
}

TEST(tokens_role_rules)
{
    char role[LATCH_MAX_ROLE_BYTES + 2];

    CHECK_INT(tokens_check_with("role", json_string(""), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("role", json_integer(1), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("role", json_null(), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("role", json_stringn("admin\0user", 10), TOKENS_NOW),
              TOKENS_ECLAIMS);
    memset(role, 'r', sizeof(role));
    role[LATCH_MAX_ROLE_BYTES] = '\0';
    CHECK_INT(tokens_check_with("role", json_string(role), TOKENS_NOW), TOKENS_OK);
    role[LATCH_MAX_ROLE_BYTES] = 'r';
    role[LATCH_MAX_ROLE_BYTES + 1] = '\0';
    CHECK_INT(tokens_check_with("role", json_string(role), TOKENS_NOW), TOKENS_ECLAIMS);
}

TEST(tokens_optional_string_claims_bounded)
{
    char email[LATCH_MAX_EMAIL_BYTES + 2], id[TOKENS_MAX_ID_BYTES + 2];

    memset(email, 'e', sizeof(email));
    email[LATCH_MAX_EMAIL_BYTES] = '\0';
    CHECK_INT(tokens_check_with("email", json_string(email), TOKENS_NOW), TOKENS_OK);
    email[LATCH_MAX_EMAIL_BYTES] = 'e';
    email[LATCH_MAX_EMAIL_BYTES + 1] = '\0';
    CHECK_INT(tokens_check_with("email", json_string(email), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("email", json_integer(1), TOKENS_NOW), TOKENS_ECLAIMS);

    memset(id, 'j', sizeof(id));
    id[TOKENS_MAX_ID_BYTES] = '\0';
    CHECK_INT(tokens_check_with("jti", json_string(id), TOKENS_NOW), TOKENS_OK);
    CHECK_INT(tokens_check_with("sid", json_string(id), TOKENS_NOW), TOKENS_OK);
    id[TOKENS_MAX_ID_BYTES] = 'j';
    id[TOKENS_MAX_ID_BYTES + 1] = '\0';
    CHECK_INT(tokens_check_with("jti", json_string(id), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("sid", json_string(id), TOKENS_NOW), TOKENS_ECLAIMS);
    CHECK_INT(tokens_check_with("jti", json_integer(5), TOKENS_NOW), TOKENS_ECLAIMS);
}

TEST(tokens_sid_is_read)
{
    json_t *claims = tokens_good_claims();
    struct token_claims out;
    int rc;

    json_object_set_new(claims, "sid", json_string("session-1"));
    rc = tokens_check_at(claims, TOKENS_NOW, &out);
    json_decref(claims);
    CHECK_INT(rc, TOKENS_OK);
    CHECK_STR(out.sid, "session-1");
}

TEST(tokens_strerror_names_every_code)
{
    int codes[] = {TOKENS_OK, TOKENS_EJWS, TOKENS_ECLAIMS, TOKENS_EEXPIRED, TOKENS_ENOTYET,
                   TOKENS_EISSUER, TOKENS_ENOMEM, TOKENS_ELIFETIME};
    size_t i, j;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK(strcmp(tokens_strerror(codes[i]), tokens_strerror(-1000)) != 0);
        for (j = 0; j < i; j++)
            CHECK(strcmp(tokens_strerror(codes[i]), tokens_strerror(codes[j])) != 0);
    }
}
