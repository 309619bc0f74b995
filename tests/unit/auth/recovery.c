/* Tests src/auth/recovery.c: code format, input normalisation, keyed
 * digests and the constant-time match. */
#include "test.h"

#include "auth/recovery.h"

static const unsigned char key_a[RECOVERY_KEY_BYTES] = {1, 2, 3, 4};
static const unsigned char key_b[RECOVERY_KEY_BYTES] = {1, 2, 3, 5};

static int in_alphabet(char c)
{
    return c != '\0' && strchr("0123456789abcdefghjkmnpqrstvwxyz", c) != NULL;
}

TEST(recovery_set_format_and_distinct)
{
    char codes[RECOVERY_CODE_COUNT][RECOVERY_TEXT_CHARS + 1];
    size_t i, j;

    recovery_new_set(codes);
    for (i = 0; i < RECOVERY_CODE_COUNT; i++) {
        CHECK_INT(strlen(codes[i]), 11);
        CHECK(codes[i][5] == '-');
        for (j = 0; j < 11; j++)
            if (j != 5)
                CHECK(in_alphabet(codes[i][j]));
        for (j = 0; j < i; j++)
            CHECK(strcmp(codes[i], codes[j]) != 0);
    }
}

TEST(recovery_normalize_accepts_what_people_type)
{
    static const struct {
        const char *in, *want;
    } ok[] = {
        {"abcde-fghjk", "abcdefghjk"},
        {"ABCDE-FGHJK", "abcdefghjk"},
        {"abcdefghjk", "abcdefghjk"},
        {"  abcde fghjk\n", "abcdefghjk"},
        {"a-b-c-d-e-f-g-h-j-k", "abcdefghjk"},
        {"\tABCDE--FGHJK\r\n", "abcdefghjk"},
        /* Crockford's look-alikes: o -> 0, i and l -> 1. */
        {"OoIiL-lmnpq", "001111mnpq"},
        {"01234-56789", "0123456789"},
    };
    char out[RECOVERY_CODE_CHARS + 1];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK_INT(recovery_normalize(ok[i].in, strlen(ok[i].in), out), RECOVERY_OK);
        CHECK_STR(out, ok[i].want);
    }
}

TEST(recovery_normalize_refuses_the_rest)
{
    static const char *const bad[] = {
        "",            "abcde",        "abcde-fghj",    "abcde-fghjkm", "abcde-fghju", /* u */
        "abcde_fghjk", "abcde.fghjk",  "abcde+fghjk",   "abcdé-fghjk",  "abcde-fghj\xff",
        "ａbcde-fghjk",
    };
    char out[RECOVERY_CODE_CHARS + 1] = "untouched!";
    char longer[LATCH_MAX_RECOVERY_INPUT_BYTES + 2];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (recovery_normalize(bad[i], strlen(bad[i]), out) != RECOVERY_EFORMAT) {
            test_failed(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
            return;
        }
    }
    CHECK_STR(out, "untouched!");
    CHECK_INT(recovery_normalize("abcde\0fghjk", 11, out), RECOVERY_EFORMAT);
    /* Dashes and spaces count toward the input bound. */
    memset(longer, '-', sizeof(longer));
    memcpy(longer, "abcdefghjk", 10);
    CHECK_INT(recovery_normalize(longer, LATCH_MAX_RECOVERY_INPUT_BYTES, out), RECOVERY_OK);
    CHECK_INT(recovery_normalize(longer, LATCH_MAX_RECOVERY_INPUT_BYTES + 1, out),
              RECOVERY_EFORMAT);
    CHECK_INT(recovery_normalize(NULL, 0, out), RECOVERY_EFORMAT);
}

TEST(recovery_digest_is_keyed_per_user_and_normalised)
{
    unsigned char d1[RECOVERY_DIGEST_BYTES], d2[RECOVERY_DIGEST_BYTES];

    CHECK_INT(recovery_digest(key_a, 42, "abcde-fghjk", 11, d1), RECOVERY_OK);
    /* The same code as typed differently: the same digest. */
    CHECK_INT(recovery_digest(key_a, 42, " ABCDE FGHJK ", 13, d2), RECOVERY_OK);
    CHECK(memcmp(d1, d2, sizeof(d1)) == 0);
    /* Another key, another user, another code: other digests. */
    CHECK_INT(recovery_digest(key_b, 42, "abcde-fghjk", 11, d2), RECOVERY_OK);
    CHECK(memcmp(d1, d2, sizeof(d1)) != 0);
    CHECK_INT(recovery_digest(key_a, 43, "abcde-fghjk", 11, d2), RECOVERY_OK);
    CHECK(memcmp(d1, d2, sizeof(d1)) != 0);
    CHECK_INT(recovery_digest(key_a, 42, "abcde-fghjm", 11, d2), RECOVERY_OK);
    CHECK(memcmp(d1, d2, sizeof(d1)) != 0);
    /* A malformed code has no digest; the output is untouched. */
    memset(d2, 0x5a, sizeof(d2));
    CHECK_INT(recovery_digest(key_a, 42, "abcde", 5, d2), RECOVERY_EFORMAT);
    CHECK_INT(d2[0], 0x5a);
}

TEST(recovery_digest_known_value)
{
    /* HMAC-SHA-256(key_a, "latch recovery code v1\0" || 00..00 2a || "abcdefghjk"),
     * computed independently with Python's hmac module: pins the storage
     * format, which must not change while stored digests exist. */
    static const unsigned char want[RECOVERY_DIGEST_BYTES] = {
        0x6d, 0x8c, 0x32, 0xfa, 0xa5, 0xf8, 0x93, 0x62,
        0x43, 0xb8, 0xe9, 0xb0, 0x22, 0x91, 0x6b, 0x5e,
        0x3b, 0x7c, 0xc2, 0x7e, 0x00, 0xef, 0xb3, 0x57,
        0x19, 0x7e, 0xe6, 0x33, 0xeb, 0xab, 0x6c, 0x7e,
    };
    unsigned char d[RECOVERY_DIGEST_BYTES];

    CHECK_INT(recovery_digest(key_a, 42, "abcde-fghjk", 11, d), RECOVERY_OK);
    CHECK(memcmp(d, want, sizeof(d)) == 0);
}

TEST(recovery_match_finds_each_code_once)
{
    char codes[RECOVERY_CODE_COUNT][RECOVERY_TEXT_CHARS + 1];
    unsigned char stored[RECOVERY_CODE_COUNT][RECOVERY_DIGEST_BYTES];
    unsigned char presented[RECOVERY_DIGEST_BYTES];
    size_t i;

    recovery_new_set(codes);
    for (i = 0; i < RECOVERY_CODE_COUNT; i++)
        CHECK_INT(recovery_digest(key_a, 7, codes[i], strlen(codes[i]), stored[i]),
                  RECOVERY_OK);
    for (i = 0; i < RECOVERY_CODE_COUNT; i++) {
        CHECK_INT(recovery_digest(key_a, 7, codes[i], strlen(codes[i]), presented),
                  RECOVERY_OK);
        CHECK_INT(recovery_match(presented, (const unsigned char(*)[RECOVERY_DIGEST_BYTES])stored,
                                 RECOVERY_CODE_COUNT),
                  (int)i);
    }
    /* Another user's digest of the same code does not match. */
    CHECK_INT(recovery_digest(key_a, 8, codes[3], strlen(codes[3]), presented), RECOVERY_OK);
    CHECK_INT(recovery_match(presented, (const unsigned char(*)[RECOVERY_DIGEST_BYTES])stored,
                             RECOVERY_CODE_COUNT),
              RECOVERY_ENOMATCH);
    CHECK_INT(recovery_match(presented, NULL, 0), RECOVERY_ENOMATCH);
}
