/* Tests src/mail/message.c: the exact message, line endings and wrapping,
 * and the refusal of header injection and unmailable addresses. */
#include "test.h"

#include "mail/message.h"

#include <stdlib.h>

static struct message_fields base(void)
{
    struct message_fields m;

    m.from = "no-reply@latch.example";
    m.to = "alice@example.com";
    m.subject = "Verify your email";
    m.mail_id = "42";
    m.date_s = 1700000000;   /* Tue, 14 Nov 2023 22:13:20 UTC */
    m.body = "Hello,\n\nopen https://latch.example/verify#t=abc to verify.\n";
    m.body_len = strlen(m.body);
    return m;
}

TEST(message_exact_bytes)
{
    struct message_fields m = base();
    char *out = NULL;
    size_t len = 0;

    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    CHECK_STR(out, "From: no-reply@latch.example\r\n"
                   "To: alice@example.com\r\n"
                   "Subject: Verify your email\r\n"
                   "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                   "Message-ID: <mail-42@latch.example>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n"
                   "Auto-Submitted: auto-generated\r\n"
                   "\r\n"
                   "Hello,\r\n"
                   "\r\n"
                   "open https://latch.example/verify#t=abc to verify.\r\n");
    CHECK_INT(len, strlen(out));
    free(out);
}

TEST(message_id_is_stable_and_dates_are_utc)
{
    struct message_fields m = base();
    char *a = NULL, *b = NULL;
    size_t la, lb;

    m.mail_id = "Zx_9-AbC";
    CHECK_INT(message_format(&m, &a, &la), MESSAGE_OK);
    m.date_s = 0;
    CHECK_INT(message_format(&m, &b, &lb), MESSAGE_OK);
    CHECK(strstr(a, "\r\nMessage-ID: <mail-Zx_9-AbC@latch.example>\r\n") != NULL);
    CHECK(strstr(b, "\r\nMessage-ID: <mail-Zx_9-AbC@latch.example>\r\n") != NULL);
    CHECK(strstr(b, "\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n") != NULL);
    free(a);
    free(b);
    m.date_s = 951782400;   /* a leap day */
    CHECK_INT(message_format(&m, &a, &la), MESSAGE_OK);
    CHECK(strstr(a, "\r\nDate: Tue, 29 Feb 2000 00:00:00 +0000\r\n") != NULL);
    free(a);
    m.date_s = -1;
    CHECK_INT(message_format(&m, &a, &la), MESSAGE_EHEADER);
    m.date_s = INT64_C(253402300800);
    CHECK_INT(message_format(&m, &a, &la), MESSAGE_EHEADER);
}

TEST(message_body_line_ends_become_crlf)
{
    struct message_fields m = base();
    char *out = NULL;
    size_t len;
    const char *body;

    m.body = "a\r\nb\nc";   /* mixed ends, no final one */
    m.body_len = strlen(m.body);
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    body = strstr(out, "\r\n\r\n") + 4;
    CHECK_STR(body, "a\r\nb\r\nc\r\n");
    free(out);
    /* A line that starts with a dot is left alone: curl dot-stuffs it. */
    m.body = ".\n..x\n";
    m.body_len = strlen(m.body);
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    CHECK_STR(strstr(out, "\r\n\r\n") + 4, ".\r\n..x\r\n");
    free(out);
    /* An empty body is an empty body. */
    m.body = "";
    m.body_len = 0;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    CHECK_STR(strstr(out, "\r\n\r\n") + 4, "");
    free(out);
}

/* Each line of text (CRLF-separated) is at most 998 bytes. */
static size_t longest_line(const char *s)
{
    size_t longest = 0;

    while (*s != '\0') {
        const char *e = strstr(s, "\r\n");
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);

        if (n > longest)
            longest = n;
        if (e == NULL)
            break;
        s = e + 2;
    }
    return longest;
}

TEST(message_long_lines_are_wrapped)
{
    struct message_fields m = base();
    char *body = malloc(3000), *out = NULL;
    const char *b;
    size_t len, i;

    CHECK(body != NULL);
    /* 2500 'x' with one space at 900: wraps there, then hard at 998. */
    memset(body, 'x', 2500);
    body[900] = ' ';
    m.body = body;
    m.body_len = 2500;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    b = strstr(out, "\r\n\r\n") + 4;
    CHECK(longest_line(b) <= LATCH_MAIL_MAX_LINE_BYTES);
    CHECK(strncmp(b + 900, "\r\n", 2) == 0);                 /* the space became the break */
    CHECK_INT(strlen(b), 2499 + 2 + 2 + 2);                   /* 900 + 998 + 601, 3 CRLF */
    free(out);
    /* No space, multi-byte characters: never cut inside one.  'a' and 1200
     * times U+00E9: byte 998 is the second byte of a character, so the cut
     * moves back to 997. */
    body[0] = 'a';
    for (i = 1; i + 1 < 2401; i += 2) {
        body[i] = (char)0xc3;
        body[i + 1] = (char)0xa9;
    }
    m.body_len = 2401;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    b = strstr(out, "\r\n\r\n") + 4;
    CHECK(longest_line(b) <= LATCH_MAIL_MAX_LINE_BYTES);
    CHECK(strncmp(b, "a\xc3\xa9", 3) == 0);
    CHECK(strncmp(b + 997, "\r\n\xc3\xa9", 4) == 0);
    free(out);
    free(body);
}

TEST(message_refuses_header_injection)
{
    static const char *const subjects[] = {
        "Hi\r\nBcc: eve@evil.example", "Hi\nBcc: eve@evil.example", "Hi\rX", "Hi\tthere",
        "Hi\x7f", "Grüße", "",
    };
    static const char *const ids[] = {"", "4 2", "42>", "42\r\nX: y", "a@b", "a.b", "<42>"};
    struct message_fields m = base();
    char *out = (char *)"untouched", longs[LATCH_MAX_MAIL_SUBJECT_BYTES + 2];
    size_t len = 77, i;

    for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        m.subject = subjects[i];
        if (message_format(&m, &out, &len) != MESSAGE_EHEADER) {
            test_failed(__FILE__, __LINE__, "subject \"%s\" accepted", subjects[i]);
            return;
        }
    }
    m = base();
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        m.mail_id = ids[i];
        if (message_format(&m, &out, &len) != MESSAGE_EHEADER) {
            test_failed(__FILE__, __LINE__, "mail id \"%s\" accepted", ids[i]);
            return;
        }
    }
    m = base();
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    m.subject = longs;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_EHEADER);
    m.subject = NULL;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_EHEADER);
    CHECK_STR(out, "untouched");
    CHECK_INT(len, 77);
}

TEST(message_refuses_unmailable_addresses)
{
    static const char *const bad[] = {
        "alice@example.com\r\nBcc: eve@evil.example",
        "alice@example.com\nX",
        "alice@example.com>",
        "<alice@example.com>",
        "Alice <alice@example.com>",
        "alice@example.com, eve@evil.example",
        "alice,eve@example.com",
        " alice@example.com",
        "alice@example.com ",
        "al ice@example.com",
        "\"al ice\"@example.com",
        "al(ice)@example.com",
        "a:b@example.com",
        "a;b@example.com",
        "alice@[127.0.0.1]",
        "alice@exa_mple.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@example..com",
        "alice@.example.com",
        "alice@example.com.",
        "alice@example",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "alice@@example.com",
        "@example.com",
        "alicé@example.com",
        "alice@exämple.com",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct message_fields m = base();
        char *out = NULL;
        size_t len;

        if (message_check_address(bad[i]) != MESSAGE_EADDRESS) {
            test_failed(__FILE__, __LINE__, "address \"%s\" accepted", bad[i]);
            return;
        }
        m.to = bad[i];
        CHECK_INT(message_format(&m, &out, &len), MESSAGE_EADDRESS);
        m = base();
        m.from = bad[i];
        CHECK_INT(message_format(&m, &out, &len), MESSAGE_EADDRESS);
    }
    CHECK_INT(message_check_address(NULL), MESSAGE_EADDRESS);
    CHECK_INT(message_check_address("a.b+tag!#$%&'*/=?^_`{|}~-@sub-1.Example.COM"), MESSAGE_OK);
    CHECK_INT(message_check_address("No-Reply@Latch.Example"), MESSAGE_OK);
}

TEST(message_refuses_bad_bodies)
{
    static const struct {
        const char *body;
        size_t len;
    } bad[] = {
        {"a\rb", 3},            /* lone CR */
        {"a\r", 2},
        {"a\0b", 3},            /* NUL */
        {"a\x01" "b", 3},       /* control */
        {"a\x1b[31mb", 8},      /* escape sequence */
        {"a\x7f", 2},
        {"\xc3", 1},            /* truncated UTF-8 */
        {"\xc0\xaf", 2},        /* overlong '/' */
        {"\xe0\x80\xaf", 3},    /* overlong */
        {"\xed\xa0\x80", 3},    /* surrogate */
        {"\xf4\x90\x80\x80", 4},/* above U+10FFFF */
        {"\xff", 1},
        {"\x80", 1},
    };
    struct message_fields m = base();
    char *out = NULL, *big;
    size_t len, i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m.body = bad[i].body;
        m.body_len = bad[i].len;
        if (message_format(&m, &out, &len) != MESSAGE_EBODY) {
            test_failed(__FILE__, __LINE__, "body %zu accepted", i);
            return;
        }
    }
    /* Valid UTF-8 of every length, and tabs, pass. */
    m.body = "\t\x41\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\n";
    m.body_len = strlen(m.body);
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    free(out);
    /* The size bound: the largest body of line ends fits the message bound. */
    big = malloc(LATCH_MAX_MAIL_BODY_BYTES + 1);
    CHECK(big != NULL);
    memset(big, '\n', LATCH_MAX_MAIL_BODY_BYTES + 1);
    m.body = big;
    m.body_len = LATCH_MAX_MAIL_BODY_BYTES;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_OK);
    CHECK(len <= LATCH_MAX_MAIL_MESSAGE_BYTES);
    free(out);
    m.body_len = LATCH_MAX_MAIL_BODY_BYTES + 1;
    CHECK_INT(message_format(&m, &out, &len), MESSAGE_EBODY);
    free(big);
}
