/*
 * mail.c - `latch mail list`: the mails waiting in the outbox, opened with
 * the master key and printed whole (links included), so that a developer
 * without an SMTP server can follow them.  It reads, never sends or
 * deletes.  The output holds live links: it is for the operator's
 * terminal, not for logs.
 */
#include "cli/cli.h"

#include "mail/outbox.h"
#include "util/log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct listing {
    const unsigned char *key;
    int n, failed;
};

/* outbox(id, recipient, sealed, attempts, next_attempt, expires_at,
 * created_at, lease_until): see store_tables. */
static int print_mail(void *ctx, const struct store_row *row)
{
    struct listing *l = ctx;
    char id[STORE_MAIL_ID_BYTES + 1], created[32], *plain;
    const char *subject, *body;
    time_t t;
    struct tm tm;

    if (row->n < 8 || row->v[0].type != STORE_TEXT || row->v[1].type != STORE_TEXT ||
        row->v[2].type != STORE_BLOB || row->v[0].len > STORE_MAIL_ID_BYTES) {
        l->failed = 1;
        return 1;
    }
    memcpy(id, row->v[0].p, row->v[0].len);
    id[row->v[0].len] = '\0';
    plain = sodium_malloc(OUTBOX_MAX_PLAIN_BYTES + 1);
    if (plain == NULL || outbox_open(l->key, id, row->v[2].p, row->v[2].len, plain,
                                     OUTBOX_MAX_PLAIN_BYTES + 1, &subject, &body) != 0) {
        fprintf(stderr, "latch mail list: mail %s does not open under the master key\n", id);
        if (plain != NULL)
            sodium_free(plain);
        l->failed = 1;
        return 0;
    }
    t = (time_t)row->v[6].i;
    gmtime_r(&t, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("Mail:     %s\nTo:       %.*s\nSubject:  %s\nQueued:   %s\nAttempts: %lld\n\n%s\n"
           "----\n",
           id, (int)row->v[1].len, (const char *)row->v[1].p, subject, created,
           (long long)row->v[3].i, body);
    sodium_free(plain);
    l->n++;
    return 0;
}

int cli_mail(int argc, char **argv)
{
    struct config cfg;
    struct cli_store cs;
    struct listing l;
    int64_t pending = 0;
    int rc, status = 1;

    if (argc < 1 || strcmp(argv[0], "list") != 0) {
        fprintf(stderr, "usage: latch mail list\n");
        return 2;
    }
    rc = cli_load_config(&cfg, "mail list", argc - 1, argv + 1, NULL, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 0, &cs) != 0)
        return 1;
    if (cli_master_key(&cfg, &cs, 0) != 0)
        goto cleanup;
    rc = STORE_CALL(cs.store, table_count, "outbox", &pending);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch mail list: %s\n", store_strerror(rc));
        goto cleanup;
    }
    if (pending == 0) {
        printf("no mail waiting\n");
        status = 0;
        goto cleanup;
    }
    if (!cs.has_master_key) {
        fprintf(stderr, "latch mail list: no master key to open the mails with\n");
        goto cleanup;
    }
    memset(&l, 0, sizeof(l));
    l.key = cs.master_key;
    rc = STORE_CALL(cs.store, table_rows, "outbox", print_mail, &l);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch mail list: %s\n", store_strerror(rc));
        goto cleanup;
    }
    printf("%d mail%s waiting\n", l.n, l.n == 1 ? "" : "s");
    status = l.failed ? 1 : 0;
cleanup:
    cli_close_store(&cs);
    return status;
}
