/*
 * db.c - latch db migrate | copy.
 *
 * `latch db copy --from URL --to URL` moves a deployment between backends
 * (SQLite -> PostgreSQL and back) so that its users stay logged in: every
 * table with ids and sequence numbers as they are, the signing keys with
 * their timeline, and the refresh-token key (refresh tokens are checked
 * against successors derived with it).  Secrets are re-sealed under the
 * target's master key, and so are the sealed columns of totp and outbox
 * (each under its row's associated data).  The source is only read.
 */
#include "cli/cli.h"

#include "auth/keys.h"
#include "auth/seal.h"
#include "util/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COPY_BATCH_ROWS 256

static int load_db_config(struct config *cfg, const char *command, int argc, char **argv,
                          const struct config_extra_flag *extras)
{
    return cli_load_config(cfg, command, argc, argv, extras, NULL, 0, NULL);
}

static int cmd_migrate(int argc, char **argv)
{
    struct config cfg;
    struct cli_store cs;
    int rc = load_db_config(&cfg, "db migrate", argc, argv, NULL);

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    umask(077);
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 1, &cs) != 0)
        return 1;
    printf("the database schema is up to date\n");
    cli_close_store(&cs);
    return 0;
}

/* ---- copy ---- */

/* One batch of rows, copied out of the source's callback. */
struct batch {
    struct store *target;
    const char *table;
    struct store_row rows[COPY_BATCH_ROWS];
    void *owned[COPY_BATCH_ROWS][STORE_MAX_COLUMNS];
    int n;
    int64_t copied;
    int rc;
    /* Sealed column of this table (-1: none) and its associated data's
     * column (the row id), re-sealed from from_key to to_key. */
    int sealed_col, ad_col;
    const char *ad_prefix;
    const unsigned char *from_key, *to_key;
};

/* Opens a sealed value under the source's key and seals it under the
 * target's; the new value replaces *v (owned by *owned). */
static int reseal(struct batch *b, const struct store_row *row, struct store_value *v,
                  void **owned)
{
    const struct store_value *id = &row->v[b->ad_col];
    unsigned char *plain, *out;
    char ad[STORE_MAIL_ID_BYTES + 32];
    size_t plain_len = 0, out_len = 0;
    int rc = -1;

    if (v->type != STORE_BLOB || v->len < SEAL_OVERHEAD || v->len > STORE_MAX_SEALED_BYTES)
        return -1;
    if (id->type == STORE_INT)
        snprintf(ad, sizeof(ad), "%s%lld", b->ad_prefix, (long long)id->i);
    else
        snprintf(ad, sizeof(ad), "%s%.*s", b->ad_prefix, (int)id->len, (const char *)id->p);
    plain = sodium_malloc(v->len);
    out = malloc(v->len);
    if (plain != NULL && out != NULL &&
        seal_open(b->from_key, ad, v->p, v->len, plain, v->len, &plain_len) == SEAL_OK &&
        seal(b->to_key, ad, plain, plain_len, out, v->len, &out_len) == SEAL_OK) {
        sodium_memzero(*owned, v->len);
        free(*owned);
        *owned = out;
        v->p = out;
        v->len = out_len;
        out = NULL;
        rc = 0;
    }
    if (plain != NULL)
        sodium_free(plain);
    free(out);
    return rc;
}

static void batch_clear(struct batch *b)
{
    int i, j;

    for (i = 0; i < b->n; i++)
        for (j = 0; j < STORE_MAX_COLUMNS; j++) {
            if (b->owned[i][j] != NULL)
                sodium_memzero(b->owned[i][j], b->rows[i].v[j].len);
            free(b->owned[i][j]);
            b->owned[i][j] = NULL;
        }
    b->n = 0;
}

static int batch_flush(struct batch *b)
{
    if (b->n > 0 && b->rc == STORE_OK) {
        b->rc = STORE_CALL(b->target, table_insert, b->table, b->rows, b->n);
        if (b->rc == STORE_OK)
            b->copied += b->n;
    }
    batch_clear(b);
    return b->rc;
}

static int batch_add(void *ctx, const struct store_row *row)
{
    struct batch *b = ctx;
    struct store_row *r = &b->rows[b->n];
    int j;

    *r = *row;
    for (j = 0; j < row->n; j++) {
        b->owned[b->n][j] = NULL;
        if ((row->v[j].type == STORE_TEXT || row->v[j].type == STORE_BLOB) && row->v[j].len > 0) {
            void *copy = malloc(row->v[j].len);
            if (copy == NULL) {
                b->rc = STORE_ENOMEM;
                return 1;
            }
            memcpy(copy, row->v[j].p, row->v[j].len);
            b->owned[b->n][j] = copy;
            r->v[j].p = copy;
        }
    }
    if (b->sealed_col >= 0 && b->sealed_col < row->n && b->ad_col < row->n &&
        reseal(b, row, &r->v[b->sealed_col], &b->owned[b->n][b->sealed_col]) != 0) {
        b->n++;   /* so that batch_clear frees it */
        fprintf(stderr, "latch db copy: table %s: a sealed value does not open under the "
                        "source's master key\n", b->table);
        b->rc = STORE_EIO;
        return 1;
    }
    b->n++;
    if (b->n == COPY_BATCH_ROWS && batch_flush(b) != STORE_OK)
        return 1;
    return 0;
}

struct key_list {
    struct keyring_export_key keys[64];
    char *material[64];
    int n;
};

static int collect_key(void *ctx, const struct keyring_export_key *key)
{
    struct key_list *kl = ctx;

    if (kl->n >= 64)
        return -1;
    kl->keys[kl->n] = *key;
    kl->material[kl->n] = strdup(key->material);
    if (kl->material[kl->n] == NULL)
        return -1;
    kl->keys[kl->n].material = kl->material[kl->n];
    kl->n++;
    return 0;
}

static void key_list_free(struct key_list *kl)
{
    int i;

    for (i = 0; i < kl->n; i++) {
        sodium_memzero(kl->material[i], strlen(kl->material[i]));
        free(kl->material[i]);
    }
    kl->n = 0;
}

/* One side of a copy: its URL as given, what it selects, and the store. */
struct side {
    const char *name;                  /* "--from" or "--to" */
    struct config cfg;
    struct cli_store cs;
};

static int open_side(struct side *s, const struct config *base, const char *url,
                     const char *master_key_file, int migrate)
{
    char err[512];
    enum config_backend backend;
    char target[CONFIG_MAX_STR];

    s->cfg = *base;
    s->cfg.db[0] = '\0';
    snprintf(s->cfg.database_url, sizeof(s->cfg.database_url), "%s", url);
    if (master_key_file != NULL)
        snprintf(s->cfg.master_key_file, sizeof(s->cfg.master_key_file), "%s", master_key_file);
    if (config_backend(&s->cfg, &backend, target, sizeof(target), err, sizeof(err)) != 0 ||
        (backend == CONFIG_SQLITE && strncmp(url, "sqlite:", 7) != 0)) {
        fprintf(stderr, "latch db copy: %s: give sqlite:PATH or a PostgreSQL URL / conninfo\n",
                s->name);
        return -1;
    }
    if (backend == CONFIG_SQLITE && !migrate) {
        struct stat st;
        if (stat(target, &st) != 0) {
            fprintf(stderr, "latch db copy: %s: %s does not exist\n", s->name, target);
            return -1;
        }
    }
    if (cli_open_store(&s->cfg, CLI_COMMAND_TIMEOUT_MS, 1, migrate, &s->cs) != 0)
        return -1;
    /* A SQLite side keeps its key files beside the database, the master
     * key too (the target's is made when missing: it holds nothing yet). */
    if (!s->cs.remote) {
        snprintf(s->cfg.data_dir, sizeof(s->cfg.data_dir), "%s", s->cs.sqlite_dir);
        /* LATCH_MASTER_KEY_FILE names the PostgreSQL side's key; a SQLite
         * side's is its own unless --from/--to-master-key names it. */
        if (master_key_file == NULL)
            s->cfg.master_key_file[0] = '\0';
        if (cli_master_key(&s->cfg, &s->cs, migrate) != 0)
            return -1;
    }
    return 0;
}

static int copy_keys(struct side *from, struct side *to)
{
    struct keyring_options fo, to_opts;
    struct key_list kl;
    unsigned char refresh[32];
    char err[512];
    int rc = -1;

    memset(&kl, 0, sizeof(kl));
    cli_keyring_options(&from->cfg, &from->cs, &fo);
    cli_keyring_options(&to->cfg, &to->cs, &to_opts);
    fo.env_secret = to_opts.env_secret = NULL;       /* the stored keys, not an outside one */
    fo.key_file = to_opts.key_file = NULL;
    if (keyring_export(&fo, collect_key, &kl, err, sizeof(err)) != 0) {
        fprintf(stderr, "latch db copy: reading the signing keys: %s\n", err);
        goto cleanup;
    }
    if (kl.n > 0 && keyring_import(&to_opts, kl.keys, kl.n, err, sizeof(err)) != 0) {
        fprintf(stderr, "latch db copy: writing the signing keys: %s\n", err);
        goto cleanup;
    }
    printf("%-16s %8d\n", "signing keys", kl.n);
    if (keys_read_refresh_key(from->cfg.data_dir, from->cs.remote ? from->cs.store : NULL,
                              from->cs.master_key, refresh, err, sizeof(err)) == 0) {
        if (keys_write_refresh_key(to->cfg.data_dir, to->cs.remote ? to->cs.store : NULL,
                                   to->cs.master_key, refresh, err, sizeof(err)) != 0) {
            fprintf(stderr, "latch db copy: writing the refresh-token key: %s\n", err);
            goto cleanup;
        }
        printf("%-16s %8s\n", "refresh-token key", "copied");
    } else {
        printf("%-16s %8s\n", "refresh-token key", "none");
    }
    rc = 0;
cleanup:
    sodium_memzero(refresh, sizeof(refresh));
    key_list_free(&kl);
    return rc;
}

static int cmd_copy(int argc, char **argv)
{
    const char *from_url = NULL, *to_url = NULL, *force_s = NULL;
    const char *from_mk = NULL, *to_mk = NULL;
    struct config_extra_flag extras[] = {
        {"from", &from_url, "the source: sqlite:PATH, postgres://... or a libpq string"},
        {"to", &to_url, "the target, in the same forms"},
        {"force", &force_s, "replace everything in a target that holds users", 1},
        {"from-master-key", &from_mk, "the source's master key file (LATCH_MASTER_KEY_FILE)"},
        {"to-master-key", &to_mk, "the target's master key file (LATCH_MASTER_KEY_FILE)"},
        {NULL, NULL, NULL},
    };
    struct config base;
    struct side from = {"--from"}, to = {"--to"};
    struct batch *batch = NULL;
    int64_t users = 0, n_from, n_to;
    int i, rc, status = 1, mismatch = 0;

    memset(&from.cs, 0, sizeof(from.cs));
    memset(&to.cs, 0, sizeof(to.cs));
    rc = load_db_config(&base, "db copy", argc, argv, extras);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (from_url == NULL || to_url == NULL) {
        fprintf(stderr, "latch db copy: give --from URL and --to URL\n");
        return 2;
    }
    /* Both refusals before either side is opened. */
    if (config_url_has_password(from_url) || config_url_has_password(to_url)) {
        fprintf(stderr, "latch db copy: %s must not carry a password (the process list shows "
                        "it): use PGPASSWORD, a passfile or PGSERVICE\n",
                config_url_has_password(from_url) ? "--from" : "--to");
        return 2;
    }
    umask(077);
    if (open_side(&from, &base, from_url, from_mk, 0) != 0 ||
        open_side(&to, &base, to_url, to_mk, 1) != 0)
        goto cleanup;
    rc = STORE_CALL(to.cs.store, table_count, "users", &users);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch db copy: counting the target's users: %s\n", store_strerror(rc));
        goto cleanup;
    }
    if (users > 0) {
        if (force_s == NULL) {
            fprintf(stderr, "latch db copy: the target holds %lld users already; --force "
                            "replaces everything in it\n", (long long)users);
            goto cleanup;
        }
        rc = to.cs.store->ops->tables_clear(to.cs.store);
        if (rc != STORE_OK) {
            fprintf(stderr, "latch db copy: emptying the target: %s\n", store_strerror(rc));
            goto cleanup;
        }
    }
    batch = calloc(1, sizeof(*batch));
    if (batch == NULL)
        goto cleanup;
    printf("%-16s %8s\n", "table", "rows");
    for (i = 0; i < store_n_tables; i++) {
        memset(batch, 0, sizeof(*batch));
        batch->target = to.cs.store;
        batch->table = store_tables[i].name;
        batch->sealed_col = -1;
        batch->from_key = from.cs.master_key;
        batch->to_key = to.cs.master_key;
        if (strcmp(batch->table, "totp") == 0) {
            batch->sealed_col = 1;
            batch->ad_col = 0;
            batch->ad_prefix = "totp:";
        } else if (strcmp(batch->table, "outbox") == 0) {
            batch->sealed_col = 2;
            batch->ad_col = 0;
            batch->ad_prefix = "";
        }
        if (batch->sealed_col >= 0 && (!from.cs.has_master_key || !to.cs.has_master_key)) {
            int64_t n_sealed = 0;
            if (STORE_CALL(from.cs.store, table_count, batch->table, &n_sealed) != STORE_OK ||
                n_sealed > 0) {
                fprintf(stderr, "latch db copy: table %s holds sealed rows: both sides need "
                                "their master key\n", batch->table);
                goto cleanup;
            }
        }
        rc = STORE_CALL(from.cs.store, table_rows, store_tables[i].name, batch_add, batch);
        if (rc == STORE_OK && batch->rc == STORE_OK)
            rc = batch_flush(batch);
        else if (rc == STORE_OK)
            rc = batch->rc;
        batch_clear(batch);
        if (rc != STORE_OK) {
            fprintf(stderr, "latch db copy: table %s: %s\n", store_tables[i].name,
                    store_strerror(rc));
            goto cleanup;
        }
        printf("%-16s %8lld\n", store_tables[i].name, (long long)batch->copied);
    }
    /* Recovery-code digests are keyed by a key derived from the master key
     * (auth/recovery.h); the codes themselves are nowhere, so they cannot
     * be re-keyed.  TOTP secrets and mail were re-sealed above. */
    if (from.cs.has_master_key && to.cs.has_master_key &&
        sodium_memcmp(from.cs.master_key, to.cs.master_key, SEAL_KEY_BYTES) != 0 &&
        STORE_CALL(from.cs.store, table_count, "recovery_codes", &n_from) == STORE_OK &&
        n_from > 0)
        fprintf(stderr, "latch db copy: warning: the target's master key is not the source's: "
                        "the %lld recovery codes copied will not match (TOTP still works; "
                        "users make new codes by turning TOTP off and on).  Give the target "
                        "the source's master key to keep them.\n", (long long)n_from);
    rc = to.cs.store->ops->table_copy_done(to.cs.store);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch db copy: finishing: %s\n", store_strerror(rc));
        goto cleanup;
    }
    if (copy_keys(&from, &to) != 0)
        goto cleanup;
    /* The check: every table holds as many rows on both sides. */
    for (i = 0; i < store_n_tables; i++) {
        if (STORE_CALL(from.cs.store, table_count, store_tables[i].name, &n_from) != STORE_OK ||
            STORE_CALL(to.cs.store, table_count, store_tables[i].name, &n_to) != STORE_OK ||
            n_from != n_to) {
            fprintf(stderr, "latch db copy: table %s: %lld rows in the source, %lld in the "
                            "target\n", store_tables[i].name, (long long)n_from, (long long)n_to);
            mismatch = 1;
        }
    }
    if (mismatch)
        goto cleanup;
    printf("copied; every table's count matches\n");
    status = 0;
cleanup:
    free(batch);
    cli_close_store(&from.cs);
    cli_close_store(&to.cs);
    return status;
}

int cli_db(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "copy") == 0)
        return cmd_copy(argc - 1, argv + 1);
    fprintf(stderr, "usage: latch db migrate | latch db copy --from URL --to URL [--force] "
                    "[--from-master-key FILE] [--to-master-key FILE]\n");
    return 2;
}
