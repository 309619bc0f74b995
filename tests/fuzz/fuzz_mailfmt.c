/*
 * fuzz_mailfmt - the mail message formatter (src/mail/message.c): header
 * validation (addresses, subject, mail id) and the body's line handling.
 *
 * Input: the first byte's bit 0 set -> the rest is the body (NULs and all)
 * with valid headers; else the rest is split at NUL into body, subject, to,
 * from and mail id (missing ones get valid defaults).
 *
 * Invariants of an accepted message:
 *   - every line ends in CRLF, no CR or LF elsewhere, no line over 998 bytes;
 *   - the header block is exactly the nine expected headers in order, and
 *     To, From and Subject carry the given values verbatim;
 *   - the body equals the input body with CR, LF and spaces removed on both
 *     sides (wrapping may only turn a space into a line break or add one);
 *   - the size is within LATCH_MAX_MAIL_MESSAGE_BYTES;
 * and of a refusal: none for a header value with CR or LF is ever missed
 * (a value with CR/LF is always refused).  message_check_address accepts
 * nothing with a space, control, '<', '>', ',', '"', '(', ')', ';', ':' or
 * '\\'.
 */
#include "fuzz.h"

#include "mail/message.h"

#include <string.h>

static const char *const header_names[] = {
    "From: ", "To: ", "Subject: ", "Date: ", "Message-ID: <mail-", "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
    "Auto-Submitted: auto-generated",
};

static void check_address(const char *a)
{
    const char *p;

    if (message_check_address(a) != MESSAGE_OK)
        return;
    for (p = a; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        FUZZ_CHECK(c > 0x20 && c < 0x7f && strchr("<>,\"();:\\[]", c) == NULL);
    }
}

/* Copies s without CR, LF and spaces into out; returns the length. */
static size_t squeeze(const char *s, size_t n, char *out)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ')
            out[k++] = s[i];
    return k;
}

static void check_message(const struct message_fields *m, const char *msg, size_t len)
{
    const char *p = msg, *end = msg + len, *body;
    char *a, *b;
    size_t i, na, nb;

    FUZZ_CHECK(len <= LATCH_MAX_MAIL_MESSAGE_BYTES && strlen(msg) == len);
    /* Lines. */
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        FUZZ_CHECK(e != NULL);
        FUZZ_CHECK(e > msg && e[-1] == '\r');
        FUZZ_CHECK((size_t)(e - 1 - p) <= LATCH_MAIL_MAX_LINE_BYTES);
        FUZZ_CHECK(memchr(p, '\r', (size_t)(e - 1 - p)) == NULL);
        p = e + 1;
    }
    /* Headers, in order. */
    p = msg;
    for (i = 0; i < sizeof(header_names) / sizeof(header_names[0]); i++) {
        const char *e = strstr(p, "\r\n");
        FUZZ_CHECK(strncmp(p, header_names[i], strlen(header_names[i])) == 0);
        if (i < 3) {
            const char *v = i == 0 ? m->from : i == 1 ? m->to : m->subject;
            FUZZ_CHECK((size_t)(e - p) == strlen(header_names[i]) + strlen(v));
            FUZZ_CHECK(memcmp(p + strlen(header_names[i]), v, strlen(v)) == 0);
        }
        p = e + 2;
    }
    FUZZ_CHECK(strncmp(p, "\r\n", 2) == 0);
    body = p + 2;
    /* Body content survives. */
    a = malloc(m->body_len + 1);
    b = malloc((size_t)(end - body) + 1);
    FUZZ_CHECK(a != NULL && b != NULL);
    na = squeeze(m->body, m->body_len, a);
    nb = squeeze(body, (size_t)(end - body), b);
    FUZZ_CHECK(na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
}

static int has_crlf(const char *s)
{
    return strchr(s, '\r') != NULL || strchr(s, '\n') != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct message_fields m = {"no-reply@latch.example", "alice@example.com", "Subject",
                               "1", 1700000000, "", 0};
    char *text, *parts[5] = {0}, *msg = NULL;
    size_t n = 0, msg_len = 0;
    int rc;

    if (size == 0)
        return 0;
    text = malloc(size);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1) {
        m.body = text;
        m.body_len = size - 1;
    } else {
        char *p = text, *end = text + size - 1;

        while (n < 5) {
            parts[n++] = p;
            p = memchr(p, '\0', (size_t)(end - p) + 1);
            if (p == NULL || p >= end)
                break;
            p++;
        }
        m.body = parts[0];
        m.body_len = strlen(parts[0]);
        if (n > 1)
            m.subject = parts[1];
        if (n > 2)
            m.to = parts[2];
        if (n > 3)
            m.from = parts[3];
        if (n > 4)
            m.mail_id = parts[4];
    }
    check_address(m.to);
    check_address(m.from);
    rc = message_format(&m, &msg, &msg_len);
    if (rc == MESSAGE_OK) {
        FUZZ_CHECK(!has_crlf(m.subject) && !has_crlf(m.to) && !has_crlf(m.from) &&
                   !has_crlf(m.mail_id));
        check_message(&m, msg, msg_len);
        free(msg);
    } else {
        FUZZ_CHECK(msg == NULL && msg_len == 0);
    }
    free(text);
    return 0;
}
