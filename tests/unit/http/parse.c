/* Tests src/http/parse.c: the request head, chunked bodies, and the small
 * readings the server makes of a head. */
#include "test.h"

#include "http/parse.h"

#include <stdio.h>

#define FIELDS 8
/* A string literal and its length, NULs included. */
#define LIT(s) (s), (sizeof(s) - 1)

struct parsed {
    struct http_head head;
    struct framing_field fields[FIELDS];
    const char *reason;
    int rc;
};

static int parse_n(struct parsed *p, const char *buf, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->rc = http_parse_head(buf, len, 0, &p->head, p->fields, FIELDS, &p->reason);
    return p->rc;
}

static int parse(struct parsed *p, const char *text)
{
    return parse_n(p, text, strlen(text));
}

static int field_is(const struct framing_field *f, const char *name, const char *value)
{
    return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0 &&
           f->value_len == strlen(value) && memcmp(f->value, value, f->value_len) == 0;
}

TEST(parse_plain_get)
{
    static const char req[] = "GET /verify?role=admin HTTP/1.1\r\nHost: x\r\n"
                              "Authorization:  Bearer abc \t\r\nX-Empty:\r\n\r\n";
    struct parsed p;

    CHECK_INT(parse(&p, req), (int)strlen(req));
    CHECK_INT(p.head.method_len, 3);
    CHECK(memcmp(p.head.method, "GET", 3) == 0);
    CHECK_INT(p.head.target_len, strlen("/verify?role=admin"));
    CHECK(memcmp(p.head.target, "/verify?role=admin", p.head.target_len) == 0);
    CHECK_INT(p.head.minor_version, 1);
    CHECK_INT(p.head.n_fields, 3);
    CHECK(field_is(&p.fields[0], "Host", "x"));
    CHECK(field_is(&p.fields[1], "Authorization", "Bearer abc"));
    CHECK(field_is(&p.fields[2], "X-Empty", ""));
}

TEST(parse_every_prefix_is_incomplete)
{
    static const char req[] = "POST /login HTTP/1.0\r\nContent-Length: 2\r\nA: b\r\n\r\n";
    struct parsed p;
    size_t n, last = 0;

    for (n = 0; n < strlen(req); n++) {
        CHECK_INT(parse_n(&p, req, n), HTTP_PARSE_INCOMPLETE);
    }
    /* The same a byte at a time with last_len: only a new LF parses again. */
    for (n = 1; n <= strlen(req); n++) {
        int rc = http_parse_head(req, n, last, &p.head, p.fields, FIELDS, &p.reason);
        if (n < strlen(req)) {
            CHECK_INT(rc, HTTP_PARSE_INCOMPLETE);
            last = n;
        } else {
            CHECK_INT(rc, (int)strlen(req));
        }
    }
    CHECK_INT(p.head.minor_version, 0);
}

TEST(parse_stops_at_the_end_of_the_first_head)
{
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct parsed p;

    CHECK_INT(parse(&p, two), (int)(strlen(two) / 2));
    CHECK_INT(p.head.target_len, 2);
    CHECK(memcmp(p.head.target, "/a", 2) == 0);
}

TEST(parse_empty_lines_before_the_request_line_and_bare_lf)
{
    struct parsed p;
    static const char req[] = "\r\n\n\r\nGET / HTTP/1.1\nHost: x\n\n";

    CHECK_INT(parse(&p, req), (int)strlen(req));
    CHECK_INT(p.head.n_fields, 1);
    CHECK(field_is(&p.fields[0], "Host", "x"));
    CHECK_INT(parse(&p, "\r\n\r\n\r\n"), HTTP_PARSE_INCOMPLETE);
    CHECK_INT(parse(&p, "\r"), HTTP_PARSE_INCOMPLETE);
}

TEST(parse_request_line_errors)
{
    static const char *const bad[] = {
        "GET  /healthz HTTP/1.1\r\n\r\n",   /* two spaces */
        "GET /healthz  HTTP/1.1\r\n\r\n",
        "GET /healthz\r\n\r\n",             /* HTTP/0.9: no version */
        "GET /healthz HTTQ/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1x\r\n\r\n",
        "GET /healthz HTTP/11.1\r\n\r\n",
        "GET /healthz http/1.1\r\n\r\n",
        "G\x7fT / HTTP/1.1\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET\t/ HTTP/1.1\r\n\r\n",
        "\x01\x02garbage\xff\xfe\r\n\r\n",
        "GET / HTTP/1.1\rX\n\r\n",        /* a bare CR */
        "\rGET / HTTP/1.1\r\n\r\n",
    };
    struct parsed p;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(&p, bad[i]) != HTTP_PARSE_BAD_REQUEST) {
            test_failed(__FILE__, __LINE__, "case %zu: rc %d", i, p.rc);
            return;
        }
        CHECK_STR(p.reason, "Malformed request line");
    }
    CHECK_INT(parse_n(&p, LIT("GE\0T / HTTP/1.1\r\n\r\n")), HTTP_PARSE_BAD_REQUEST);
    CHECK_INT(parse_n(&p, LIT("GET /he\0z HTTP/1.1\r\n\r\n")), HTTP_PARSE_BAD_REQUEST);
    /* A garbage method is decided before the line is even complete. */
    CHECK_INT(parse(&p, "\x16\x03\x01"), HTTP_PARSE_BAD_REQUEST);
}

TEST(parse_versions)
{
    struct parsed p;

    CHECK(parse(&p, "GET / HTTP/1.9\r\n\r\n") > 0);
    CHECK_INT(p.head.minor_version, 9);
    CHECK_INT(parse(&p, "GET / HTTP/2.0\r\n\r\n"), HTTP_PARSE_BAD_VERSION);
    CHECK_INT(parse(&p, "GET / HTTP/3.0\r\n\r\n"), HTTP_PARSE_BAD_VERSION);
    CHECK_INT(parse(&p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), HTTP_PARSE_BAD_VERSION);
    CHECK_INT(parse(&p, "GET / HTTP/0.9\r\n\r\n"), HTTP_PARSE_BAD_VERSION);
}

TEST(parse_field_errors)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",            /* obs-fold */
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 69\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n",
        "GET / HTTP/1.1\r\n X-A: b\r\nHost: x\r\n\r\n",                /* ws before 1st */
        "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",                     /* empty name */
        "GET / HTTP/1.1\r\n: v\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",                 /* ws before : */
        "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX\xe9: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",                      /* bare CR */
        "GET / HTTP/1.1\r\nHost: x\r\n\rX",
    };
    struct parsed p;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(&p, bad[i]) != HTTP_PARSE_BAD_REQUEST) {
            test_failed(__FILE__, __LINE__, "case %zu: rc %d", i, p.rc);
            return;
        }
        CHECK_STR(p.reason, "Malformed header field");
    }
    /* NUL in a value or a name. */
    CHECK_INT(parse_n(&p, LIT("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n")), HTTP_PARSE_BAD_REQUEST);
    CHECK_INT(parse_n(&p, LIT("GET / HTTP/1.1\r\nX-\0A: b\r\n\r\n")), HTTP_PARSE_BAD_REQUEST);
}

TEST(parse_field_count_limit)
{
    char buf[1024];
    struct parsed p;
    size_t n = 0;
    int i;

    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "GET / HTTP/1.1\r\n");
    for (i = 0; i < FIELDS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
    CHECK(parse_n(&p, buf, (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n") + n) > 0);
    CHECK_INT(p.head.n_fields, FIELDS);
    /* One more field: 431 as soon as its first byte is there. */
    CHECK_INT(parse_n(&p, buf, n + 1), HTTP_PARSE_INCOMPLETE);   /* "\r" of the end */
    buf[n] = 'Y';
    CHECK_INT(parse_n(&p, buf, n + 1), HTTP_PARSE_TOO_MANY_FIELDS);
    buf[n] = ' ';
    CHECK_INT(parse_n(&p, buf, n + 1), HTTP_PARSE_BAD_REQUEST);
}

/* ---- chunked ---- */

struct decoded {
    struct http_chunked c;
    char out[64];
    size_t out_len, consumed;
    int rc;
};

static int decode_all(struct decoded *d, const char *in, size_t len, size_t cap)
{
    memset(d, 0, sizeof(*d));
    d->rc = http_chunked_decode(&d->c, in, len, &d->consumed, d->out, cap, &d->out_len);
    return d->rc;
}

TEST(chunked_decodes_whole_and_byte_by_byte)
{
    static const char body[] = "5\r\nhello\r\n6;name=\"v\"\r\n world\r\n0\r\nX-T: a\r\n\r\nNEXT";
    size_t end = strlen(body) - 4, i;
    struct decoded d;
    struct http_chunked c;
    char out[64];
    size_t out_len = 0;

    CHECK_INT(decode_all(&d, body, strlen(body), sizeof(d.out)), HTTP_CHUNK_DONE);
    CHECK_INT(d.consumed, end);
    CHECK_INT(d.out_len, 11);
    CHECK(memcmp(d.out, "hello world", 11) == 0);
    CHECK_INT(d.c.data_bytes, 11);

    memset(&c, 0, sizeof(c));
    for (i = 0; i < end; i++) {
        size_t used = 0;
        int rc = http_chunked_decode(&c, body + i, 1, &used, out, sizeof(out), &out_len);

        CHECK_INT(used, 1);
        CHECK_INT(rc, i + 1 == end ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE);
    }
    CHECK_INT(out_len, 11);
    CHECK(memcmp(out, "hello world", 11) == 0);
}

TEST(chunked_bare_lf_and_ext_whitespace)
{
    struct decoded d;

    CHECK_INT(decode_all(&d, "2\n{}\n0\n\n", 8, sizeof(d.out)), HTTP_CHUNK_DONE);
    CHECK_INT(d.out_len, 2);
    CHECK_INT(decode_all(&d, "2 ;x\r\n{}\r\n0\r\n\r\n", 15, sizeof(d.out)), HTTP_CHUNK_DONE);
    CHECK_INT(decode_all(&d, "000\r\n\r\n", 7, sizeof(d.out)), HTTP_CHUNK_DONE);
    CHECK_INT(d.out_len, 0);
}

TEST(chunked_errors)
{
    static const struct {
        const char *data;
        size_t len;
    } bad[] = {
        {LIT("zz\r\nhello\r\n0\r\n\r\n")}, {LIT("-5\r\nhello\r\n0\r\n\r\n")},
        {LIT("1\r\nhello\r\n0\r\n\r\n")}, {LIT("\r\n")}, {LIT("5 \r\nhello\r\n0\r\n\r\n")},
        {LIT("5\rhello")}, {LIT("5\r\nhello\rx")}, {LIT("0\r\n folded\r\n\r\n")},
        {LIT("0\r\nX\0: y\r\n\r\n")}, {LIT("5;\x01\r\n")},
    };
    struct decoded d;
    char line[LATCH_MAX_CHUNK_LINE_BYTES + 8];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (decode_all(&d, bad[i].data, bad[i].len, sizeof(d.out)) != HTTP_CHUNK_BAD) {
            test_failed(__FILE__, __LINE__, "case %zu: rc %d", i, d.rc);
            return;
        }
    }
    CHECK_INT(decode_all(&d, "fffffffffffffffffffffffff\r\n", 27, sizeof(d.out)),
              HTTP_CHUNK_TOO_LARGE);
    memset(line, '0', sizeof(line));
    CHECK_INT(decode_all(&d, line, sizeof(line), sizeof(d.out)), HTTP_CHUNK_BAD);
}

TEST(chunked_counts_what_does_not_fit)
{
    struct decoded d;

    CHECK_INT(decode_all(&d, "a\r\n0123456789\r\n0\r\n\r\n", 20, 4), HTTP_CHUNK_DONE);
    CHECK_INT(d.out_len, 4);
    CHECK_INT(d.c.data_bytes, 10);
    CHECK(memcmp(d.out, "0123", 4) == 0);
}

/* ---- small readings ---- */

TEST(pct_decode)
{
    char out[32];
    size_t n;

    n = http_pct_decode("a%20b+c%2Bd", 11, out, true);
    CHECK_INT(n, 7);
    CHECK(memcmp(out, "a b c+d", 7) == 0);
    n = http_pct_decode("a+b%zz%4", 8, out, false);
    CHECK_INT(n, 8);
    CHECK(memcmp(out, "a+b%zz%4", 8) == 0);
    n = http_pct_decode("/heal%74hz%00", 13, out, false);
    CHECK_INT(n, 9);
    CHECK(memcmp(out, "/healthz\0", 9) == 0);
}

TEST(list_tokens)
{
    CHECK(http_list_has_token("close", 5, "close"));
    CHECK(http_list_has_token(" Keep-Alive ,\tCLOSE ", 20, "close"));
    CHECK(http_list_has_token("a, keep-alive", 13, "keep-alive"));
    CHECK(!http_list_has_token("closer", 6, "close"));
    CHECK(!http_list_has_token("", 0, "close"));
}

TEST(content_length_values)
{
    uint64_t v = 1;

    CHECK(http_parse_content_length("0", 1, &v) && v == 0);
    CHECK(http_parse_content_length("16384", 5, &v) && v == 16384);
    CHECK(http_parse_content_length("18446744073709551615", 20, &v) && v == UINT64_MAX);
    CHECK(!http_parse_content_length("18446744073709551616", 20, &v));
    CHECK(!http_parse_content_length("", 0, &v));
    CHECK(!http_parse_content_length("-1", 2, &v));
}
