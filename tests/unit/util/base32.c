/* Tests src/util/base32.c. */
#include "test.h"
#include "util/base32.h"

/* RFC 4648 section 10, with and without the padding. */
static const struct {
    const char *plain, *padded, *bare;
} rfc4648_vectors[] = {
    {"", "", ""},
    {"f", "MY======", "MY"},
    {"fo", "MZXQ====", "MZXQ"},
    {"foo", "MZXW6===", "MZXW6"},
    {"foob", "MZXW6YQ=", "MZXW6YQ"},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======", "MZXW6YTBOI"},
};

TEST(base32_rfc4648_vectors)
{
    unsigned char out[16];
    char enc[32];
    size_t i, len, n;

    for (i = 0; i < sizeof(rfc4648_vectors) / sizeof(rfc4648_vectors[0]); i++) {
        const char *plain = rfc4648_vectors[i].plain;

        n = strlen(plain);
        len = base32_encode(enc, sizeof(enc), (const unsigned char *)plain, n);
        CHECK_INT(len, strlen(rfc4648_vectors[i].bare));
        CHECK_STR(enc, rfc4648_vectors[i].bare);
        CHECK_INT(base32_encoded_len(n), len);
        /* Padded and bare both decode. */
        len = 99;
        CHECK(base32_decode(out, sizeof(out), &len, rfc4648_vectors[i].padded,
                            strlen(rfc4648_vectors[i].padded)) == 0);
        CHECK_INT(len, n);
        CHECK(memcmp(out, plain, n) == 0);
        len = 99;
        CHECK(base32_decode(out, sizeof(out), &len, rfc4648_vectors[i].bare,
                            strlen(rfc4648_vectors[i].bare)) == 0);
        CHECK_INT(len, n);
        CHECK(memcmp(out, plain, n) == 0);
    }
}

TEST(base32_round_trip_every_length_and_byte)
{
    unsigned char in[64], out[64];
    char enc[128];
    size_t i, n, len;

    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 53 + 7);
    for (n = 0; n <= sizeof(in); n++) {
        len = base32_encode(enc, sizeof(enc), in, n);
        CHECK_INT(len, base32_encoded_len(n));
        CHECK(base32_decode(out, sizeof(out), &len, enc, len) == 0);
        CHECK_INT(len, n);
        CHECK(memcmp(in, out, n) == 0);
    }
    /* Every 5-bit value appears: all 0xff and all 0x00 bytes. */
    memset(in, 0xff, 5);
    CHECK_INT(base32_encode(enc, sizeof(enc), in, 5), 8);
    CHECK_STR(enc, "77777777");
    memset(in, 0, 5);
    base32_encode(enc, sizeof(enc), in, 5);
    CHECK_STR(enc, "AAAAAAAA");
}

TEST(base32_decode_accepts_lower_and_mixed_case)
{
    unsigned char out[16];
    size_t len;

    CHECK(base32_decode(out, sizeof(out), &len, "mzxw6ytboi", 10) == 0);
    CHECK_INT(len, 6);
    CHECK(memcmp(out, "foobar", 6) == 0);
    CHECK(base32_decode(out, sizeof(out), &len, "MzXw6YtBoI======", 16) == 0);
    CHECK_INT(len, 6);
    CHECK(memcmp(out, "foobar", 6) == 0);
}

TEST(base32_decode_refuses_bad_input)
{
    static const char *const bad[] = {
        "MZXW6YTBOI=====",    /* one '=' short */
        "MZXW6YTBOI=======",  /* one '=' too many */
        "MY=",                /* partial padding */
        "MY==",
        "MZXW6YQ==",          /* 7 data characters want exactly one '=' */
        "MZXW6Y==",           /* 6 data characters: no byte string encodes so */
        "M",                  /* 1 data character */
        "MZX",                /* 3 */
        "MZXW6Y",             /* 6 */
        "M=======",           /* padding after 1 */
        "========",           /* padding alone */
        "MZ=XW6YQ",           /* '=' inside */
        "MZXW 6YQ",           /* white space */
        " MZXW6YQ",
        "MZXW6YQ\n",
        "MZXW0YQ",            /* not in the alphabet: 0 1 8 9 */
        "MZXW1YQ",
        "MZXW8YQ",
        "MZXW9YQ",
        "MZXW-YQ",
        "MZXW6YR",            /* non-zero unused bits (canonical form is MZXW6YQ) */
        "MZ",                 /* 'Z' leaves 2 unused bits set; "MY" is 'f' */
        "MZXR",               /* 4 unused bits set */
        "MZXW7",              /* 1 unused bit set */
    };
    unsigned char out[32];
    size_t i, len;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = 12345;
        if (base32_decode(out, sizeof(out), &len, bad[i], strlen(bad[i])) == 0) {
            test_failed(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
            return;
        }
        CHECK_INT(len, 12345);   /* untouched */
    }
    /* Bytes >= 0x80 and NUL are outside the alphabet. */
    CHECK(base32_decode(out, sizeof(out), &len, "MZ\xc6W6YQ", 7) != 0);
    CHECK(base32_decode(out, sizeof(out), &len, "MZX\0W6YQ", 8) != 0);
}

TEST(base32_buffer_bounds)
{
    unsigned char out[6];
    char enc[11];

    /* 6 bytes need 10 characters and a NUL. */
    CHECK_INT(base32_encode(enc, 10, (const unsigned char *)"foobar", 6), 0);
    CHECK_INT(base32_encode(enc, 11, (const unsigned char *)"foobar", 6), 10);
    {
        size_t len = 0;
        CHECK(base32_decode(out, 5, &len, "MZXW6YTBOI", 10) != 0);
        CHECK(base32_decode(out, 6, &len, "MZXW6YTBOI", 10) == 0);
        CHECK_INT(len, 6);
    }
}
