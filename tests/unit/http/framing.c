/* Tests src/http/framing.c: the request-head verdict, rule by rule. */
#include "test.h"

#include "http/framing.h"

#include <stdio.h>

#define MAX_TEST_FIELDS (FRAMING_MAX_FIELDS + 8)

/* A head under construction: fields given as "Name: value" strings (split
 * at the first ": "), or with explicit lengths for embedded NULs. */
struct head {
    struct framing_field f[MAX_TEST_FIELDS];
    size_t n;
};

static void add_n(struct head *h, const char *name, size_t name_len, const char *value,
                  size_t value_len)
{
    if (h->n < MAX_TEST_FIELDS)
        h->f[h->n++] = (struct framing_field){name, name_len, value, value_len};
}

static void add(struct head *h, const char *name, const char *value)
{
    add_n(h, name, strlen(name), value, strlen(value));
}

/* The verdict, with reason checked against want_reason (NULL: untouched). */
static int verdict(const struct head *h, int minor, const char **reason)
{
    *reason = NULL;
    return framing_check(h->f, h->n, minor, reason);
}

#define CHECK_VERDICT(h, minor, want, want_reason)                                  \
    do {                                                                            \
        const char *r_;                                                             \
        CHECK_INT(verdict((h), (minor), &r_), (want));                              \
        if ((want_reason) == NULL)                                                  \
            CHECK(r_ == NULL);                                                      \
        else                                                                        \
            CHECK_STR(r_, (const char *)(want_reason));                            \
    } while (0)

static const char *const MALFORMED = "Malformed header field";

TEST(framing_accepts_a_plain_head)
{
    struct head h = {.n = 0};

    add(&h, "Host", "example.com");
    add(&h, "Accept", "*/*");
    add(&h, "Content-Length", "2");
    add(&h, "Content-Type", "application/json");
    add(&h, "Authorization", "Bearer x");
    add(&h, "Origin", "https://a.example");
    add(&h, "Cookie", "a=b");
    add(&h, "Cookie", "c=d");                 /* Cookie may come on several lines */
    add(&h, "X-Forwarded-For", "1.2.3.4");
    add(&h, "X-Forwarded-For", "5.6.7.8");
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
}

TEST(framing_host_rules)
{
    struct head h = {.n = 0};

    add(&h, "Accept", "*/*");
    CHECK_VERDICT(&h, 0, FRAMING_OK, NULL);   /* HTTP/1.0 needs no Host */
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Missing Host header");
    add(&h, "host", "a");
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    add(&h, "HOST", "b");
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "More than one Host header");
    CHECK_VERDICT(&h, 0, FRAMING_BAD_REQUEST, "More than one Host header");
}

TEST(framing_count_and_bytes_limits)
{
    struct head h = {.n = 0};
    static char big[LATCH_MAX_HEADER_BYTES];
    size_t i;

    add(&h, "Host", "x");
    for (i = 1; i < LATCH_MAX_HEADER_COUNT; i++)
        add(&h, "X-A", "v");
    CHECK_INT(h.n, LATCH_MAX_HEADER_COUNT);
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    add(&h, "X-A", "v");
    CHECK_VERDICT(&h, 1, FRAMING_FIELDS_TOO_LARGE, "Request headers exceed 8 KiB or 100 fields");

    /* Names and values summed: exactly the limit passes, one more byte not. */
    memset(big, 'b', sizeof(big));
    h.n = 0;
    add(&h, "Host", "x");
    add_n(&h, "X-Big", 5, big, LATCH_MAX_HEADER_BYTES - 4 - 1 - 5);
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    h.f[1].value_len++;
    CHECK_VERDICT(&h, 1, FRAMING_FIELDS_TOO_LARGE, "Request headers exceed 8 KiB or 100 fields");
    /* 431 is decided before the 400s. */
    add(&h, "Bad Name", "x");
    CHECK_VERDICT(&h, 1, FRAMING_FIELDS_TOO_LARGE, "Request headers exceed 8 KiB or 100 fields");
}

TEST(framing_names_must_be_tokens)
{
    static const char *const bad[] = {
        "", "X A", "X\tA", "X(A)", "X@A", "X/A", "X\"A", "X{A}", "X,A", "X=A", "X:A",
        "X;A", "X?A", "X[A]", "X\\A", "X<A>", "X\x7f", "X\x01", "X\xe9", " X", "X ",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct head h = {.n = 0};
        const char *r;

        add(&h, "Host", "x");
        add(&h, bad[i], "v");
        if (verdict(&h, 1, &r) != FRAMING_BAD_REQUEST || r == NULL ||
            strcmp(r, MALFORMED) != 0) {
            test_failed(__FILE__, __LINE__, "name \"%s\" was not refused", bad[i]);
            return;
        }
    }
    CHECK(framing_is_token("!#$%&'*+-.^_`|~09AZaz", 21));
    CHECK(!framing_is_token("", 0));
}

TEST(framing_nul_in_a_name)
{
    struct head h = {.n = 0};

    add(&h, "Host", "x");
    add_n(&h, "X-A\0B", 5, "v", 1);
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, MALFORMED);
}

TEST(framing_bad_bytes_in_a_value)
{
    static const char *const values[] = {"a\0b", "a\rb", "a\nb"};
    size_t i;

    for (i = 0; i < 3; i++) {
        struct head h = {.n = 0};

        add(&h, "Host", "x");
        add_n(&h, "X-A", 3, values[i], 3);
        CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, MALFORMED);
    }
}

TEST(framing_guarded_names_extended)
{
    /* What 0.9.75 makes of "Content-Length:" + " 69", and the like. */
    static const char *const bad[] = {
        "Content-Length69", "content-lengthX", "Transfer-Encodingchunked", "Hostevil.example",
        "hostname", "Authorization2", "AUTHORIZATIONBearer", "Cookies", "Cookie2",
        "Content-Type-X", "Content-Typeapplication/json", "Origin-X", "originhttps",
    };
    static const char *const fine[] = {
        "X-Content-Length", "X-Host", "Content-Lengt", "Content-Language", "Content-Encoding",
        "Authorizatio", "X-Origin", "Orig", "Cooki", "Content-",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct head h = {.n = 0};
        const char *r;

        add(&h, "Host", "x");
        add(&h, bad[i], "");
        if (verdict(&h, 1, &r) != FRAMING_BAD_REQUEST || strcmp(r, MALFORMED) != 0) {
            test_failed(__FILE__, __LINE__, "name \"%s\" was not refused", bad[i]);
            return;
        }
    }
    for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        struct head h = {.n = 0};
        const char *r;

        add(&h, "Host", "x");
        add(&h, fine[i], "v");
        if (verdict(&h, 1, &r) != FRAMING_OK) {
            test_failed(__FILE__, __LINE__, "name \"%s\" was refused: %s", fine[i], r);
            return;
        }
    }
}

TEST(framing_repeated_singletons)
{
    static const char *const names[][3] = {
        {"Authorization", "authorization", "More than one Authorization header"},
        {"Origin", "ORIGIN", "More than one Origin header"},
        {"Content-Type", "content-type", "More than one Content-Type header"},
    };
    size_t i;

    for (i = 0; i < 3; i++) {
        struct head h = {.n = 0};

        add(&h, "Host", "x");
        add(&h, names[i][0], "a");
        CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
        add(&h, names[i][1], "a");          /* even the same value */
        CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, names[i][2]);
    }
}

TEST(framing_transfer_encoding)
{
    struct head h = {.n = 0};

    add(&h, "Host", "x");
    add(&h, "Transfer-Encoding", "chunked");
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    h.f[1].value = "CHUNKED";
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    h.f[1].value = "gzip, chunked";
    h.f[1].value_len = strlen(h.f[1].value);
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Only chunked Transfer-Encoding is accepted");
    h.f[1].value = "chunkedx";
    h.f[1].value_len = strlen(h.f[1].value);
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Only chunked Transfer-Encoding is accepted");
    h.f[1].value = "chunked";
    h.f[1].value_len = 7;
    add(&h, "Content-Length", "5");
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST,
                  "Both Content-Length and Transfer-Encoding are present");
}

TEST(framing_content_length)
{
    static const char *const bad[] = {
        "", "+1", "-1", " 1", "1 ", "1a", "0x10", "1,1", "18446744073709551616",
        "99999999999999999999",
    };
    struct head h = {.n = 0};
    size_t i;

    add(&h, "Host", "x");
    add(&h, "Content-Length", "16384");
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    h.f[1].value = "00016384";
    h.f[1].value_len = 8;
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    h.f[1].value = "16385";
    h.f[1].value_len = 5;
    CHECK_VERDICT(&h, 1, FRAMING_BODY_TOO_LARGE, "Request body exceeds 16 KiB");
    h.f[1].value = "18446744073709551615";
    h.f[1].value_len = 20;
    CHECK_VERDICT(&h, 1, FRAMING_BODY_TOO_LARGE, "Request body exceeds 16 KiB");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *r;

        h.f[1].value = bad[i];
        h.f[1].value_len = strlen(bad[i]);
        if (verdict(&h, 1, &r) != FRAMING_BAD_REQUEST ||
            strcmp(r, "Malformed Content-Length") != 0) {
            test_failed(__FILE__, __LINE__, "Content-Length \"%s\" was not refused", bad[i]);
            return;
        }
    }
    /* RFC 9112 6.3: repeated, even with the same value. */
    h.f[1].value = "2";
    h.f[1].value_len = 1;
    add(&h, "content-length", "2");
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Malformed Content-Length");
}

TEST(framing_order_of_the_400s)
{
    struct head h = {.n = 0};

    /* Every rule broken at once: the malformed name is named first. */
    add(&h, "Host", "a");
    add(&h, "Host", "b");
    add(&h, "Transfer-Encoding", "gzip");
    add(&h, "Content-Length", "x");
    add(&h, "Origin", "a");
    add(&h, "Origin", "b");
    add(&h, "X A", "v");
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, MALFORMED);
    h.n--;
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "More than one Host header");
    h.f[1].name = "X-B";
    h.f[1].name_len = 3;
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Only chunked Transfer-Encoding is accepted");
}

TEST(framing_null_value_and_no_fields)
{
    struct head h = {.n = 0};

    CHECK_VERDICT(&h, 0, FRAMING_OK, NULL);
    add_n(&h, "Host", 4, NULL, 0);
    CHECK_VERDICT(&h, 1, FRAMING_OK, NULL);
    add_n(&h, "Content-Length", 14, NULL, 0);
    CHECK_VERDICT(&h, 1, FRAMING_BAD_REQUEST, "Malformed Content-Length");
}
