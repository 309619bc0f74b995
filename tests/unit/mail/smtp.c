/* Tests src/mail/smtp.c without a network: the transport policy per URL, the
 * password file, and the refusals that happen before libcurl connects.
 * Sending to real servers is tests/integration/test_smtp_client.py. */
#include "test.h"

#include "mail/smtp.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(smtp_tls_policy_per_url)
{
    static const struct {
        const char *url;
        int insecure;
        int want;   /* an enum smtp_tls, or -1 for SMTP_EURL */
    } cases[] = {
        {"smtps://mail.example.com", 0, SMTP_TLS_IMPLICIT},
        {"smtps://mail.example.com:465", 1, SMTP_TLS_IMPLICIT},
        {"smtps://127.0.0.1:465", 0, SMTP_TLS_IMPLICIT},
        {"smtp://mail.example.com:587", 0, SMTP_TLS_STARTTLS},
        {"smtp://mail.example.com:587/latch.example", 0, SMTP_TLS_STARTTLS},
        {"smtp://mail.example.com:587", 1, SMTP_TLS_OPPORTUNISTIC},
        /* The loopback exemption: 127.0.0.0/8, ::1, localhost. */
        {"smtp://127.0.0.1:2525", 0, SMTP_TLS_OPPORTUNISTIC},
        {"smtp://127.8.9.10", 0, SMTP_TLS_OPPORTUNISTIC},
        {"smtp://[::1]:2525", 0, SMTP_TLS_OPPORTUNISTIC},
        {"smtp://localhost:25", 0, SMTP_TLS_OPPORTUNISTIC},
        {"smtp://LocalHost:25", 0, SMTP_TLS_OPPORTUNISTIC},
        {"smtp://[::ffff:127.0.0.1]:25", 0, SMTP_TLS_OPPORTUNISTIC},
        /* Not loopback as written: STARTTLS required. */
        {"smtp://128.0.0.1", 0, SMTP_TLS_STARTTLS},
        {"smtp://126.255.255.255", 0, SMTP_TLS_STARTTLS},
        {"smtp://0.0.0.0:25", 0, SMTP_TLS_STARTTLS},
        {"smtp://[::2]:25", 0, SMTP_TLS_STARTTLS},
        {"smtp://localhost.example.com", 0, SMTP_TLS_STARTTLS},
        {"smtp://127.0.0.1.example.com", 0, SMTP_TLS_STARTTLS},
        {"smtp://mylocalhost", 0, SMTP_TLS_STARTTLS},
        /* URLs that are refused: credentials, query, fragment, login
         * options, other schemes, no scheme, no host. */
        {"smtp://127.0.0.1@mail.example.com", 0, -1},
        {"smtp://user:pw@mail.example.com", 0, -1},
        {"smtp://mail.example.com;AUTH=PLAIN", 0, -1},
        {"smtp://mail.example.com?x=1", 0, -1},
        {"smtp://mail.example.com#@127.0.0.1", 0, -1},
        {"http://127.0.0.1", 0, -1},
        {"file:///etc/passwd", 0, -1},
        {"127.0.0.1:25", 0, -1},
        {"mail.example.com", 0, -1},
        {"smtp://", 0, -1},
        {"", 0, -1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum smtp_tls got = (enum smtp_tls)99;
        int rc = smtp_tls_policy(cases[i].url, cases[i].insecure, &got);
        int result = rc == SMTP_OK ? (int)got : rc == SMTP_EURL ? -1 : -100 + rc;

        if (result != cases[i].want) {
            test_failed(__FILE__, __LINE__, "%s (insecure %d): %d, want %d", cases[i].url,
                        cases[i].insecure, result, cases[i].want);
            return;
        }
    }
    {
        enum smtp_tls got = SMTP_TLS_IMPLICIT;
        CHECK_INT(smtp_tls_policy(NULL, 0, &got), SMTP_EURL);
        CHECK_INT(got, SMTP_TLS_IMPLICIT);   /* untouched */
    }
}

static int tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, size, "%s/latch-unit-smtp-XXXXXX", base != NULL && base[0] ? base : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok;

    if (fd < 0)
        return -1;
    ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

TEST(smtp_read_password_file_rules)
{
    char dir[256], path[300], pw[LATCH_MAX_SMTP_PASSWORD_BYTES + 1], err[200];
    char big[LATCH_MAX_SMTP_PASSWORD_BYTES + 2];

    CHECK(tmpdir(dir, sizeof(dir)) == 0);
    snprintf(path, sizeof(path), "%s/pw", dir);

    CHECK(write_file(path, "s3cret pass\n", 12, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_OK);
    CHECK_STR(pw, "s3cret pass");
    CHECK(write_file(path, "s3cret\r\n", 8, 0400) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_OK);
    CHECK_STR(pw, "s3cret");
    CHECK(write_file(path, "no newline", 10, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_OK);
    CHECK_STR(pw, "no newline");

    /* Readable by others: refused, and the error names the rule. */
    CHECK(write_file(path, "s3cret\n", 7, 0644) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    CHECK(strstr(err, "group or others") != NULL);
    CHECK(strstr(err, "s3cret") == NULL);
    CHECK(write_file(path, "s3cret\n", 7, 0640) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);

    /* Empty, two lines, a NUL, too long. */
    CHECK(write_file(path, "\n", 1, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    CHECK(write_file(path, "one\ntwo\n", 8, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    CHECK(strstr(err, "one") == NULL && strstr(err, "two") == NULL);
    CHECK(write_file(path, "a\0b", 3, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    memset(big, 'p', sizeof(big));
    CHECK(write_file(path, big, LATCH_MAX_SMTP_PASSWORD_BYTES, 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_OK);
    CHECK(write_file(path, big, sizeof(big), 0600) == 0);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    unlink(path);
    CHECK_INT(smtp_read_password(path, pw, sizeof(pw), err, sizeof(err)), SMTP_EFILE);
    CHECK(strstr(err, "no such file") != NULL);
    rmdir(dir);
}

TEST(smtp_send_refuses_before_connecting)
{
    static const char msg[] = "From: a@b.example\r\n\r\nx\r\n";
    struct smtp_config cfg = {"smtp://mail.example.com", NULL, NULL, NULL, 0, "a@b.example"};
    char err[256];

    /* Envelope addresses that would inject SMTP commands or recipients. */
    CHECK_INT(smtp_send(&cfg, NULL, "x@y.example>\r\nRCPT TO:<eve@evil.example", msg,
                        sizeof(msg) - 1, err, sizeof(err)),
              SMTP_EADDRESS);
    CHECK_INT(smtp_send(&cfg, "a@b.example> SIZE=1", "x@y.example", msg, sizeof(msg) - 1, err,
                        sizeof(err)),
              SMTP_EADDRESS);
    cfg.from = NULL;
    CHECK_INT(smtp_send(&cfg, NULL, "x@y.example", msg, sizeof(msg) - 1, err, sizeof(err)),
              SMTP_EADDRESS);
    cfg.from = "a@b.example";
    CHECK_INT(smtp_send(&cfg, NULL, "x@y.example", msg, 0, err, sizeof(err)), SMTP_EMESSAGE);
    CHECK_INT(smtp_send(&cfg, NULL, "x@y.example", msg, LATCH_MAX_MAIL_MESSAGE_BYTES + 1, err,
                        sizeof(err)),
              SMTP_EMESSAGE);
    /* A URL with the password in it never gets as far as libcurl. */
    cfg.url = "smtp://user:hunter2@mail.example.com";
    CHECK_INT(smtp_send(&cfg, NULL, "x@y.example", msg, sizeof(msg) - 1, err, sizeof(err)),
              SMTP_EURL);
    CHECK(strstr(err, "hunter2") == NULL);
    CHECK_INT(smtp_send(NULL, NULL, "x@y.example", msg, sizeof(msg) - 1, err, sizeof(err)),
              SMTP_EURL);
}
