/* Tests src/auth/totp.c: RFC 6238 and RFC 4226 vectors, the window, the
 * replay rule, code syntax and the enrolment URI. */
#include "test.h"

#include "auth/totp.h"
#include "util/base32.h"

#define RFC_SECRET "12345678901234567890"   /* RFC 4226 App. D, RFC 6238 App. B (SHA-1) */
#define RFC_SECRET_LEN 20

static const unsigned char *rfc_secret(void)
{
    return (const unsigned char *)RFC_SECRET;
}

TEST(totp_rfc4226_appendix_d_hotp_values)
{
    static const int32_t want[10] = {755224, 287082, 359152, 969429, 338314,
                                     254676, 287922, 162583, 399871, 520489};
    int64_t counter;

    for (counter = 0; counter < 10; counter++)
        CHECK_INT(totp_code(rfc_secret(), RFC_SECRET_LEN, counter), want[counter]);
}

TEST(totp_rfc6238_appendix_b_sha1_vectors)
{
    /* The RFC lists 8-digit values; 6 digits are their last six
     * (binary mod 10^8, then mod 10^6). */
    static const struct {
        int64_t time;
        const char *eight;
    } vectors[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
    };
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        int64_t matched = -5;
        int32_t six = 0;
        const char *code = vectors[i].eight + 2;
        int k;

        for (k = 0; k < 6; k++)
            six = six * 10 + (code[k] - '0');
        CHECK_INT(totp_code(rfc_secret(), RFC_SECRET_LEN, totp_step(vectors[i].time)), six);
        CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, vectors[i].time, TOTP_NO_STEP,
                              &matched),
                  TOTP_OK);
        CHECK_INT(matched, vectors[i].time / 30);
    }
}

TEST(totp_step_boundaries)
{
    CHECK_INT(totp_step(0), 0);
    CHECK_INT(totp_step(29), 0);
    CHECK_INT(totp_step(30), 1);
    CHECK_INT(totp_step(59), 1);
    CHECK(totp_step(-1) < 0);
    CHECK(totp_code(rfc_secret(), RFC_SECRET_LEN, -1) < 0);
    CHECK(totp_code(rfc_secret(), 0, 1) < 0);
    CHECK(totp_code(rfc_secret(), LATCH_MAX_TOTP_SECRET_BYTES + 1, 1) < 0);
}

/* The code of step as six characters. */
static void code_at(int64_t step, char out[7])
{
    int32_t c = totp_code(rfc_secret(), RFC_SECRET_LEN, step);
    int i;

    for (i = 5; i >= 0; i--) {
        out[i] = (char)('0' + c % 10);
        c /= 10;
    }
    out[6] = '\0';
}

TEST(totp_window_is_one_step_each_way)
{
    const int64_t now = 1111111111, step = 1111111111 / 30;
    char code[7];
    int64_t matched = 0, d;

    for (d = -3; d <= 3; d++) {
        int rc;

        code_at(step + d, code);
        matched = -7;
        rc = totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, TOTP_NO_STEP, &matched);
        if (d >= -1 && d <= 1) {
            CHECK_INT(rc, TOTP_OK);
            CHECK_INT(matched, step + d);
        } else {
            CHECK_INT(rc, TOTP_EMISMATCH);
            CHECK_INT(matched, -7);   /* untouched */
        }
    }
    /* At the very start of time there is no previous step. */
    code_at(0, code);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, 0, TOTP_NO_STEP, &matched),
              TOTP_OK);
    CHECK_INT(matched, 0);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, -30, TOTP_NO_STEP, &matched),
              TOTP_EINVAL);
}

TEST(totp_replay_refused_at_or_before_last_step)
{
    const int64_t now = 1234567890, step = 1234567890 / 30;
    char code[7];
    int64_t matched = -1;

    code_at(step, code);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, step - 1, &matched), TOTP_OK);
    CHECK_INT(matched, step);
    /* The same code again, with the step just accepted recorded. */
    matched = -9;
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, step, &matched),
              TOTP_EREPLAY);
    CHECK_INT(matched, -9);
    /* ... and 30 s later, while it is still in the window as "previous". */
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now + 30, step, &matched),
              TOTP_EREPLAY);
    /* A previous-step code after a next-step code was accepted: refused. */
    code_at(step + 1, code);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, TOTP_NO_STEP, &matched),
              TOTP_OK);
    CHECK_INT(matched, step + 1);
    code_at(step, code);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, step + 1, &matched),
              TOTP_EREPLAY);
    /* A wrong code after acceptance is a mismatch, not a replay: take a
     * code that none of the window's steps gives. */
    {
        char wrong[7] = "000000", w0[7], w1[7], w2[7];
        code_at(step - 1, w0);
        code_at(step, w1);
        code_at(step + 1, w2);
        while (strcmp(wrong, w0) == 0 || strcmp(wrong, w1) == 0 || strcmp(wrong, w2) == 0)
            wrong[0]++;
        CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, wrong, now, step, &matched),
                  TOTP_EMISMATCH);
    }
    /* after_step below TOTP_NO_STEP means none. */
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, code, now, INT64_MIN, &matched),
              TOTP_OK);
}

TEST(totp_code_syntax)
{
    static const char *const bad[] = {
        "", "12345", "1234567", "12345a", " 123456", "123456 ", "123 456", "12345\n",
        "+12345", "-12345", "１２３４５６", "12345\xb9",
    };
    int64_t matched = 3;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (totp_verify(rfc_secret(), RFC_SECRET_LEN, bad[i], 59, TOTP_NO_STEP, &matched) !=
            TOTP_EFORMAT) {
            test_failed(__FILE__, __LINE__, "code \"%s\" not refused as malformed", bad[i]);
            return;
        }
    }
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, NULL, 59, TOTP_NO_STEP, &matched),
              TOTP_EFORMAT);
    CHECK_INT(matched, 3);
    /* A right code followed by more characters is still malformed. */
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, "2870820", 59, TOTP_NO_STEP, &matched),
              TOTP_EFORMAT);
    CHECK_INT(totp_verify(rfc_secret(), RFC_SECRET_LEN, "287082", 59, TOTP_NO_STEP, &matched),
              TOTP_OK);
}

TEST(totp_new_secret_is_random_and_encodes_to_32_chars)
{
    unsigned char a[TOTP_SECRET_BYTES], b[TOTP_SECRET_BYTES];
    char text[TOTP_SECRET_B32_CHARS + 1];

    totp_new_secret(a);
    totp_new_secret(b);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_INT(base32_encode(text, sizeof(text), a, sizeof(a)), TOTP_SECRET_B32_CHARS);
}

TEST(totp_uri_plain)
{
    char uri[LATCH_MAX_OTPAUTH_URI_BYTES];

    CHECK_INT(totp_uri("latch", "alice@example.com", "JBSWY3DPEHPK3PXP", uri, sizeof(uri)),
              TOTP_OK);
    CHECK_STR(uri, "otpauth://totp/latch:alice%40example.com?secret=JBSWY3DPEHPK3PXP"
                   "&issuer=latch&algorithm=SHA1&digits=6&period=30");
}

TEST(totp_uri_escapes_hostile_issuer_and_email)
{
    char uri[LATCH_MAX_OTPAUTH_URI_BYTES];

    /* Parameters, a fragment, a path and spaces in the issuer stay inside it. */
    CHECK_INT(totp_uri("Acme & Co?secret=AAAA#x/y", "a+b&secret=AAAA@example.com",
                       "JBSWY3DPEHPK3PXP", uri, sizeof(uri)),
              TOTP_OK);
    CHECK_STR(uri, "otpauth://totp/Acme%20%26%20Co%3Fsecret%3DAAAA%23x%2Fy:"
                   "a%2Bb%26secret%3DAAAA%40example.com?secret=JBSWY3DPEHPK3PXP"
                   "&issuer=Acme%20%26%20Co%3Fsecret%3DAAAA%23x%2Fy"
                   "&algorithm=SHA1&digits=6&period=30");
    /* Percent signs, colons in the email and UTF-8 bytes are escaped. */
    CHECK_INT(totp_uri("Bücher 100%", "x:y%41@example.com", "AB", uri, sizeof(uri)), TOTP_OK);
    CHECK_STR(uri, "otpauth://totp/B%C3%BCcher%20100%25:x%3Ay%2541%40example.com?secret=AB"
                   "&issuer=B%C3%BCcher%20100%25&algorithm=SHA1&digits=6&period=30");
    /* The unreserved set goes through as is. */
    CHECK_INT(totp_uri("a-b.c_d~e", "A-Z.0_9~@x.y", "AB", uri, sizeof(uri)), TOTP_OK);
    CHECK_STR(uri, "otpauth://totp/a-b.c_d~e:A-Z.0_9~%40x.y?secret=AB&issuer=a-b.c_d~e"
                   "&algorithm=SHA1&digits=6&period=30");
}

TEST(totp_uri_refusals_and_bounds)
{
    char uri[LATCH_MAX_OTPAUTH_URI_BYTES], small[40], issuer[LATCH_MAX_TOTP_ISSUER_BYTES + 2];
    char email[LATCH_MAX_EMAIL_BYTES + 1];

    CHECK_INT(totp_uri("a:b", "x@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("", "x@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a\nb", "x@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "x\r@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "x\x7f@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "x@y.z", "", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "x@y.z", "ab", uri, sizeof(uri)), TOTP_EINVAL);   /* lower case */
    CHECK_INT(totp_uri("a", "x@y.z", "AB&x=1", uri, sizeof(uri)), TOTP_EINVAL);
    CHECK_INT(totp_uri("a", "x@y.z", "AB==", uri, sizeof(uri)), TOTP_EINVAL);
    memset(issuer, 'i', sizeof(issuer) - 1);
    issuer[sizeof(issuer) - 1] = '\0';
    CHECK_INT(totp_uri(issuer, "x@y.z", "AB", uri, sizeof(uri)), TOTP_EINVAL);
    /* The longest inputs, all escaped, fit in LATCH_MAX_OTPAUTH_URI_BYTES. */
    memset(issuer, '&', LATCH_MAX_TOTP_ISSUER_BYTES);
    issuer[LATCH_MAX_TOTP_ISSUER_BYTES] = '\0';
    memset(email, '%', LATCH_MAX_EMAIL_BYTES);
    email[LATCH_MAX_EMAIL_BYTES] = '\0';
    {
        char secret[LATCH_MAX_TOTP_SECRET_B32_CHARS + 1];
        memset(secret, 'A', LATCH_MAX_TOTP_SECRET_B32_CHARS);
        secret[LATCH_MAX_TOTP_SECRET_B32_CHARS] = '\0';
        CHECK_INT(totp_uri(issuer, email, secret, uri, sizeof(uri)), TOTP_OK);
    }
    /* Too small a buffer: refused and left as it was. */
    memset(small, 'Q', sizeof(small));
    CHECK_INT(totp_uri("latch", "alice@example.com", "JBSWY3DPEHPK3PXP", small, sizeof(small)),
              TOTP_ETOOBIG);
    CHECK(small[0] == 'Q' && small[sizeof(small) - 1] == 'Q');
}
