/*
 * latch-probe - drives the issue-11 building blocks from the integration
 * tests (tests/integration/test_smtp_client.py, test_totp_qr.py).  Built by
 * `make test` as $(BUILD)/asan/latch-probe; not installed, not part of latch.
 *
 *   latch-probe uri ISSUER EMAIL SECRET_B32      prints totp_uri's URI
 *   latch-probe qr TEXT                          prints qrsvg_render's SVG
 *   latch-probe totp SECRET_B32 UNIX_TIME        prints the 6-digit code
 *   latch-probe verify SECRET_B32 CODE NOW AFTER prints the matched step
 *   latch-probe smtp --url U --from A --to B --subject S --mail-id ID
 *                    --date UNIX_TIME --body-file F --save F
 *                    [--ca-file F] [--user U --password-file F] [--insecure]
 *       formats the message (message_format), writes it to --save, sends it
 *       (smtp_send) and prints "sent", or the error on stderr.
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
 */
#include "auth/qrsvg.h"
#include "auth/totp.h"
#include "mail/message.h"
#include "mail/smtp.h"
#include "util/base32.h"
#include "util/num.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: latch-probe uri|qr|totp|verify|smtp ... (see tests/tools/probe.c)\n", stderr);
    return 2;
}

static int decode_secret(const char *b32, unsigned char *secret, size_t *len)
{
    if (base32_decode(secret, LATCH_MAX_TOTP_SECRET_BYTES, len, b32, strlen(b32)) != 0 ||
        *len == 0) {
        fputs("latch-probe: bad base32 secret\n", stderr);
        return -1;
    }
    return 0;
}

static int cmd_uri(int argc, char **argv)
{
    char uri[LATCH_MAX_OTPAUTH_URI_BYTES];
    int rc;

    if (argc != 5)
        return usage();
    rc = totp_uri(argv[2], argv[3], argv[4], uri, sizeof(uri));
    if (rc != TOTP_OK) {
        fprintf(stderr, "latch-probe: %s\n", totp_strerror(rc));
        return 1;
    }
    puts(uri);
    return 0;
}

static int cmd_qr(int argc, char **argv)
{
    char *svg = NULL;
    int rc;

    if (argc != 3)
        return usage();
    rc = qrsvg_render(argv[2], &svg);
    if (rc != QRSVG_OK) {
        fprintf(stderr, "latch-probe: %s\n", qrsvg_strerror(rc));
        return 1;
    }
    fputs(svg, stdout);
    free(svg);
    return 0;
}

static int cmd_totp(int argc, char **argv)
{
    unsigned char secret[LATCH_MAX_TOTP_SECRET_BYTES];
    size_t len = 0;
    int64_t now;
    int32_t code;

    if (argc != 4)
        return usage();
    if (decode_secret(argv[2], secret, &len) != 0 ||
        num_parse_i64(argv[3], 0, INT64_MAX, &now) != 0)
        return 1;
    code = totp_code(secret, len, totp_step(now));
    sodium_memzero(secret, sizeof(secret));
    if (code < 0) {
        fprintf(stderr, "latch-probe: %s\n", totp_strerror(code));
        return 1;
    }
    printf("%06d\n", (int)code);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    unsigned char secret[LATCH_MAX_TOTP_SECRET_BYTES];
    size_t len = 0;
    int64_t now, after, matched = 0;
    int rc;

    if (argc != 6)
        return usage();
    if (decode_secret(argv[2], secret, &len) != 0 ||
        num_parse_i64(argv[4], INT64_MIN, INT64_MAX, &now) != 0 ||
        num_parse_i64(argv[5], INT64_MIN, INT64_MAX, &after) != 0)
        return 1;
    rc = totp_verify(secret, len, argv[3], now, after, &matched);
    sodium_memzero(secret, sizeof(secret));
    if (rc != TOTP_OK) {
        fprintf(stderr, "latch-probe: %s\n", totp_strerror(rc));
        return 1;
    }
    printf("%lld\n", (long long)matched);
    return 0;
}

/* Reads a whole small file (a test's body); NULL on failure. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    char *buf = malloc(LATCH_MAX_MAIL_BODY_BYTES + 1);
    size_t n;

    if (f == NULL || buf == NULL) {
        if (f != NULL)
            fclose(f);
        free(buf);
        return NULL;
    }
    n = fread(buf, 1, LATCH_MAX_MAIL_BODY_BYTES + 1, f);
    fclose(f);
    *len = n;
    return buf;
}

static int cmd_smtp(int argc, char **argv)
{
    struct smtp_config cfg = {0};
    struct message_fields m = {0};
    const char *body_file = NULL, *save = NULL, *password_file = NULL, *date = NULL;
    char password[LATCH_MAX_SMTP_PASSWORD_BYTES + 1], err[512];
    char *body = NULL, *msg = NULL;
    size_t body_len = 0, msg_len = 0;
    FILE *f;
    int i, rc, ret = 1;

    for (i = 2; i < argc; i++) {
        const char *opt = argv[i];

        if (strcmp(opt, "--insecure") == 0) {
            cfg.insecure = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(opt, "--url") == 0)
            cfg.url = argv[++i];
        else if (strcmp(opt, "--ca-file") == 0)
            cfg.ca_file = argv[++i];
        else if (strcmp(opt, "--user") == 0)
            cfg.user = argv[++i];
        else if (strcmp(opt, "--password-file") == 0)
            password_file = argv[++i];
        else if (strcmp(opt, "--from") == 0)
            cfg.from = m.from = argv[++i];
        else if (strcmp(opt, "--to") == 0)
            m.to = argv[++i];
        else if (strcmp(opt, "--subject") == 0)
            m.subject = argv[++i];
        else if (strcmp(opt, "--mail-id") == 0)
            m.mail_id = argv[++i];
        else if (strcmp(opt, "--date") == 0)
            date = argv[++i];
        else if (strcmp(opt, "--body-file") == 0)
            body_file = argv[++i];
        else if (strcmp(opt, "--save") == 0)
            save = argv[++i];
        else
            return usage();
    }
    if (cfg.url == NULL || m.to == NULL || date == NULL || body_file == NULL || save == NULL)
        return usage();
    if (num_parse_i64(date, INT64_MIN, INT64_MAX, &m.date_s) != 0)
        return usage();
    password[0] = '\0';
    if (password_file != NULL) {
        if (smtp_read_password(password_file, password, sizeof(password), err, sizeof(err)) !=
            SMTP_OK) {
            fprintf(stderr, "latch-probe: %s\n", err);
            return 1;
        }
        cfg.password = password;
    }
    body = read_all(body_file, &body_len);
    if (body == NULL) {
        fprintf(stderr, "latch-probe: cannot read %s\n", body_file);
        goto cleanup;
    }
    m.body = body;
    m.body_len = body_len;
    rc = message_format(&m, &msg, &msg_len);
    if (rc != MESSAGE_OK) {
        fprintf(stderr, "latch-probe: message: %s\n", message_strerror(rc));
        goto cleanup;
    }
    f = fopen(save, "wbe");
    if (f == NULL || fwrite(msg, 1, msg_len, f) != msg_len || fclose(f) != 0) {
        fprintf(stderr, "latch-probe: cannot write %s\n", save);
        goto cleanup;
    }
    rc = smtp_send(&cfg, NULL, m.to, msg, msg_len, err, sizeof(err));
    if (rc != SMTP_OK) {
        fprintf(stderr, "latch-probe: %s: %s\n", smtp_strerror(rc), err);
        goto cleanup;
    }
    puts("sent");
    ret = 0;
cleanup:
    sodium_memzero(password, sizeof(password));
    free(msg);
    free(body);
    return ret;
}

int main(int argc, char **argv)
{
    int ret;

    if (argc < 2)
        return usage();
    if (sodium_init() < 0 || smtp_global_init() != SMTP_OK) {
        fputs("latch-probe: libsodium or libcurl init failed\n", stderr);
        return 1;
    }
    if (strcmp(argv[1], "uri") == 0)
        ret = cmd_uri(argc, argv);
    else if (strcmp(argv[1], "qr") == 0)
        ret = cmd_qr(argc, argv);
    else if (strcmp(argv[1], "totp") == 0)
        ret = cmd_totp(argc, argv);
    else if (strcmp(argv[1], "verify") == 0)
        ret = cmd_verify(argc, argv);
    else if (strcmp(argv[1], "smtp") == 0)
        ret = cmd_smtp(argc, argv);
    else
        ret = usage();
    smtp_global_cleanup();
    return ret;
}
