/* src/mail/outbox.c: sealed bodies (the seal's associated data is the row
 * id: a body moved to another row, or opened under another key, does not
 * open) and the limits on what is sealed. */
#include "test.h"

#include "mail/outbox.h"

#include <sodium.h>
#include <string.h>

static const unsigned char key_a[SEAL_KEY_BYTES] = {1, 2, 3};
static const unsigned char key_b[SEAL_KEY_BYTES] = {3, 2, 1};

TEST(outbox_prepare_open_round_trip)
{
    static struct outbox_mail m;
    char buf[OUTBOX_MAX_PLAIN_BYTES + 1];
    const char *subject = NULL, *body = NULL;

    CHECK(sodium_init() >= 0);
    CHECK_INT(outbox_prepare(key_a, "ada@example.com", "Reset your password",
                             "line one\nhttps://app.example.com/reset#token=abc\n", 1234, &m),
              0);
    CHECK(m.id[0] == 'm');
    CHECK_INT(strlen(m.id), 25);
    CHECK(m.row.id == m.id);
    CHECK_STR(m.row.recipient, "ada@example.com");
    CHECK_INT(m.row.expires_at, 1234);
    CHECK(m.sealed_len > SEAL_OVERHEAD);
    /* Sealed: the link is not in the bytes. */
    CHECK(memmem(m.sealed, m.sealed_len, "token=abc", 9) == NULL);
    CHECK_INT(outbox_open(key_a, m.id, m.sealed, m.sealed_len, buf, sizeof(buf), &subject, &body),
              0);
    CHECK_STR(subject, "Reset your password");
    CHECK_STR(body, "line one\nhttps://app.example.com/reset#token=abc\n");
}

TEST(outbox_open_refuses_another_row_or_key)
{
    static struct outbox_mail m, other;
    char buf[OUTBOX_MAX_PLAIN_BYTES + 1];
    const char *subject, *body;

    CHECK(sodium_init() >= 0);
    CHECK_INT(outbox_prepare(key_a, "ada@example.com", "S", "B", 1, &m), 0);
    CHECK_INT(outbox_prepare(key_a, "ada@example.com", "S", "B", 1, &other), 0);
    CHECK(strcmp(m.id, other.id) != 0);
    CHECK_INT(outbox_open(key_a, other.id, m.sealed, m.sealed_len, buf, sizeof(buf), &subject,
                          &body),
              -1);
    CHECK_INT(outbox_open(key_b, m.id, m.sealed, m.sealed_len, buf, sizeof(buf), &subject,
                          &body),
              -1);
    m.sealed[m.sealed_len - 1] ^= 1;
    CHECK_INT(outbox_open(key_a, m.id, m.sealed, m.sealed_len, buf, sizeof(buf), &subject,
                          &body),
              -1);
}

TEST(outbox_prepare_refuses_what_does_not_fit)
{
    static struct outbox_mail m;
    static char big[OUTBOX_MAX_PLAIN_BYTES + 2];

    CHECK(sodium_init() >= 0);
    memset(big, 'x', sizeof(big) - 1);
    CHECK_INT(outbox_prepare(key_a, "a@example.com", "S", big, 1, &m), -1);
    CHECK_INT(outbox_prepare(key_a, "a@example.com", "two\nlines", "B", 1, &m), -1);
}
