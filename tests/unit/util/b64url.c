/* Tests src/util/b64url.c. */
#include "test.h"
#include "util/b64url.h"

TEST(b64url_round_trip_every_length)
{
    unsigned char in[40], out[40];
    char enc[64];
    size_t i, n, len;

    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (n = 0; n <= sizeof(in); n++) {
        len = b64url_encode(enc, sizeof(enc), in, n);
        CHECK_INT(len, b64url_encoded_len(n));
        CHECK(b64url_decode(out, sizeof(out), &len, enc, len) == 0);
        CHECK_INT(len, n);
        CHECK(memcmp(in, out, n) == 0);
    }
}

TEST(b64url_refuses_non_canonical_input)
{
    unsigned char out[16];
    size_t len;

    /* "QQ" is 'A'; "QR" has non-zero trailing bits and must be refused. */
    CHECK(b64url_decode(out, sizeof(out), &len, "QQ", 2) == 0);
    CHECK_INT(out[0], 'A');
    CHECK(b64url_decode(out, sizeof(out), &len, "QR", 2) != 0);
    CHECK(b64url_decode(out, sizeof(out), &len, "QQ==", 4) != 0);   /* padding */
    CHECK(b64url_decode(out, sizeof(out), &len, "Q", 1) != 0);      /* dangling */
    CHECK(b64url_decode(out, sizeof(out), &len, "a+b/", 4) != 0);   /* other alphabet */
    CHECK(b64url_decode(out, sizeof(out), &len, "QQ QQ", 5) != 0);  /* white space */
}
