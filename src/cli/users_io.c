/*
 * users_io.c - latch user import FILE | export FILE: bringing users along
 * from another system, and taking them out again.
 *
 * The format is JSON lines, one user each:
 *   {"email", "password_hash", "role"?, "created_at"?, "disabled"?,
 *    "email_verified"?, "mfa"?}
 * created_at is seconds since the epoch or an RFC 3339 UTC time;
 * email_verified defaults to true (imported users start verified, as users
 * an admin creates do).  "mfa" is what export says of a user's second
 * factor: a TOTP secret never leaves the store (it is sealed under the
 * master key and would be a second password in clear), so export refuses
 * users with one unless --drop-mfa (then it says how many lost it), and
 * import counts them: they enrol again after the move.  Hashes are
 * kept as they are: latch verifies bcrypt, Argon2id/Argon2i, PBKDF2-SHA256
 * (Django's and passlib's forms) and its own, and replaces a foreign one
 * with Argon2id at the user's first successful login.
 *
 * Import reports every line it cannot use with its number and skips it
 * (--strict stops at the first, keeping the lines before it, and exits 1);
 * existing emails are skipped and counted; rows go to the store in batches,
 * one transaction each.
 */
#include "cli/cli.h"

#include "auth/credentials.h"
#include "auth/password.h"
#include "latch_limits.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IMPORT_BATCH 1000

struct pending {
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    char hash[LATCH_MAX_IMPORT_HASH_BYTES + 1];
    char role[LATCH_MAX_ROLE_BYTES + 1];
    long line;
    int mfa;         /* the line says the user had a second factor */
};

struct import_state {
    struct store *store;
    struct pending *batch;
    struct store_import_user users[IMPORT_BATCH];
    int created[IMPORT_BATCH];
    int n;
    long imported, existing, refused, mfa_dropped;
};

/* An RFC 3339 UTC time ("2024-05-01T12:00:00Z", fractions ignored) or a
 * number of seconds. */
static int parse_created(json_t *v, int64_t *out)
{
    struct tm tm;
    const char *s, *end;
    time_t t;

    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return *out >= 0 ? 0 : -1;
    }
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    if (*end == '.')
        end += 1 + strspn(end + 1, "0123456789");
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t;
    return 0;
}

static int flush(struct import_state *st)
{
    int i, rc;

    if (st->n == 0)
        return 0;
    rc = STORE_CALL(st->store, users_import, st->users, st->n, st->created);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user import: lines %ld to %ld not imported: %s\n",
                st->batch[0].line, st->batch[st->n - 1].line, store_strerror(rc));
        return -1;
    }
    for (i = 0; i < st->n; i++) {
        if (st->created[i]) {
            st->imported++;
            st->mfa_dropped += st->batch[i].mfa;
        } else
            st->existing++;
        sodium_memzero(st->batch[i].hash, sizeof(st->batch[i].hash));
    }
    st->n = 0;
    return 0;
}

/* Checks one line and adds it to the batch; -1 with *why when unusable. */
static int take_line(struct import_state *st, const char *text, size_t len, long line,
                     const char **why)
{
    struct pending *p = &st->batch[st->n];
    json_t *doc, *v;
    json_error_t jerr;
    const char *email, *hash, *role = "user";
    int64_t created = (int64_t)time(NULL);
    int disabled = 0, verified = 1, rc = -1;

    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        *why = "not a JSON object";
        goto cleanup;
    }
    email = json_string_value(json_object_get(doc, "email"));
    hash = json_string_value(json_object_get(doc, "password_hash"));
    if (email == NULL || hash == NULL) {
        *why = "\"email\" and \"password_hash\" must be strings";
        goto cleanup;
    }
    if (credentials_normalize_new_email(email, strlen(email), p->email, why) != 0)
        goto cleanup;
    if (pwhash_identify(hash, why) == PWHASH_UNKNOWN)
        goto cleanup;
    v = json_object_get(doc, "role");
    if (v != NULL) {
        role = json_string_value(v);
        if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)) {
            *why = "\"role\" must be \"user\" or \"admin\"";
            goto cleanup;
        }
    }
    v = json_object_get(doc, "created_at");
    if (v != NULL && parse_created(v, &created) != 0) {
        *why = "\"created_at\" must be seconds or an RFC 3339 UTC time";
        goto cleanup;
    }
    v = json_object_get(doc, "disabled");
    if (v != NULL && !json_is_boolean(v)) {
        *why = "\"disabled\" must be true or false";
        goto cleanup;
    }
    disabled = json_is_true(v);
    v = json_object_get(doc, "email_verified");
    if (v != NULL && !json_is_boolean(v)) {
        *why = "\"email_verified\" must be true or false";
        goto cleanup;
    }
    if (v != NULL)
        verified = json_is_true(v);
    v = json_object_get(doc, "mfa");
    if (v != NULL && !json_is_boolean(v)) {
        *why = "\"mfa\" must be true or false";
        goto cleanup;
    }
    p->mfa = json_is_true(v);
    snprintf(p->hash, sizeof(p->hash), "%s", hash);
    snprintf(p->role, sizeof(p->role), "%s", role);
    p->line = line;
    st->users[st->n].email = p->email;
    st->users[st->n].password_hash = p->hash;
    st->users[st->n].role = p->role;
    st->users[st->n].created_at = created;
    st->users[st->n].disabled = disabled;
    st->users[st->n].email_verified = verified;
    st->n++;
    rc = 0;
cleanup:
    if (doc != NULL && json_is_string(json_object_get(doc, "password_hash"))) {
        json_t *h = json_object_get(doc, "password_hash");
        sodium_memzero((void *)json_string_value(h), json_string_length(h));
    }
    json_decref(doc);
    return rc;
}

static int cmd_import(struct store *store, const char *path, int strict)
{
    struct import_state *st = calloc(1, sizeof(*st));
    char *line = malloc(LATCH_MAX_IMPORT_LINE_BYTES + 2);
    const char *why;
    struct timespec t0, t1;
    long n_line = 0;
    FILE *f = NULL;
    int status = 1;

    if (st == NULL || line == NULL || (st->batch = calloc(IMPORT_BATCH, sizeof(*st->batch))) ==
                                          NULL)
        goto cleanup;
    st->store = store;
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "latch user import: %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (fgets(line, LATCH_MAX_IMPORT_LINE_BYTES + 2, f) != NULL) {
        size_t len = strlen(line);

        n_line++;
        if (len > LATCH_MAX_IMPORT_LINE_BYTES) {
            int c;
            /* The rest of an over-long line is not another line. */
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            why = "line longer than 4096 bytes";
        } else {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len == 0)
                continue;
            if (take_line(st, line, len, n_line, &why) == 0) {
                if (st->n == IMPORT_BATCH && flush(st) != 0)
                    goto cleanup;
                continue;
            }
        }
        st->refused++;
        fprintf(stderr, "latch user import: line %ld: %s\n", n_line, why);
        if (strict) {
            fprintf(stderr, "latch user import: stopped at line %ld (--strict)\n", n_line);
            break;
        }
    }
    /* What was usable before a --strict stop is imported all the same, as
     * earlier batches were. */
    if (flush(st) != 0)
        goto cleanup;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("imported %ld users, skipped %ld existing emails and %ld unusable lines "
           "(%ld lines in %.2f s)\n", st->imported, st->existing, st->refused, n_line,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (st->mfa_dropped > 0)
        fprintf(stderr, "latch user import: %ld imported users had a second factor (\"mfa\": "
                        "true); TOTP secrets are not exported, so they log in with their "
                        "password alone until they enrol again\n", st->mfa_dropped);
    status = strict && st->refused > 0 ? 1 : 0;
cleanup:
    if (f != NULL && f != stdin)
        fclose(f);
    if (line != NULL)
        sodium_memzero(line, LATCH_MAX_IMPORT_LINE_BYTES + 2);
    free(line);
    if (st != NULL) {
        if (st->batch != NULL)
            sodium_memzero(st->batch, IMPORT_BATCH * sizeof(*st->batch));
        free(st->batch);
        free(st);
    }
    return status;
}

/* ---- export ---- */

struct export_state {
    FILE *out;
    int64_t last_id;
    long written, mfa;
    int failed;
};

static void write_user(void *ctx, const struct store_user *u)
{
    struct export_state *st = ctx;
    char created[32];
    struct tm tm;
    time_t t = (time_t)u->created_at;
    json_t *doc;
    char *text;

    st->last_id = u->id;
    gmtime_r(&t, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    doc = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b}", "email", u->email, "password_hash",
                    u->password_hash, "role", u->role, "created_at", created, "disabled",
                    u->disabled ? 1 : 0, "email_verified", u->email_verified ? 1 : 0, "mfa",
                    u->mfa ? 1 : 0);
    st->mfa += u->mfa ? 1 : 0;
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text == NULL || fprintf(st->out, "%s\n", text) < 0)
        st->failed = 1;
    else
        st->written++;
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    json_decref(doc);
}

static int cmd_export(struct store *store, const char *path, int drop_mfa)
{
    struct export_state st = {NULL, 0, 0, 0, 0};
    char tmp[4096];
    int more = 1, fd, rc = STORE_OK;

    /* Password hashes: the file is for its owner alone (0600), written
     * whole before it appears under its name. */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (st.out = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "latch user export: %s: %s\n", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    /* Pages in id order; each starts after the last id written. */
    while (more && rc == STORE_OK && !st.failed)
        rc = STORE_CALL(store, user_list, st.last_id, 500, write_user, &st, &more);
    if (fflush(st.out) != 0 || fsync(fileno(st.out)) != 0)
        st.failed = 1;
    fclose(st.out);
    if (rc != STORE_OK || st.failed) {
        fprintf(stderr, "latch user export: %s\n",
                rc != STORE_OK ? store_strerror(rc) : strerror(errno));
        unlink(tmp);
        return 1;
    }
    if (st.mfa > 0 && !drop_mfa) {
        fprintf(stderr, "latch user export: %ld users have a second factor (TOTP), which an "
                        "export cannot carry (its secret stays sealed in the store); "
                        "--drop-mfa exports them without it, nothing written\n", st.mfa);
        unlink(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "latch user export: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("exported %ld users to %s\n", st.written, path);
    if (st.mfa > 0)
        fprintf(stderr, "latch user export: %ld users lost their second factor in the file "
                        "(--drop-mfa; \"mfa\": true marks them): they log in with the password "
                        "alone where it is imported, until they enrol again\n", st.mfa);
    return 0;
}

int cli_user_io(int argc, char **argv)
{
    const char *strict = NULL, *drop_mfa = NULL, *positional[1];
    struct config_extra_flag import_extras[] = {
        {"strict", &strict, "stop at the first unusable line", 1},
        {NULL, NULL, NULL, 0},
    };
    struct config_extra_flag export_extras[] = {
        {"drop-mfa", &drop_mfa, "export users with a second factor without it", 1},
        {NULL, NULL, NULL, 0},
    };
    struct config cfg;
    struct cli_store cs;
    int rc, n_pos = 0, import;

    if (argc < 1 || (strcmp(argv[0], "import") != 0 && strcmp(argv[0], "export") != 0))
        return CLI_NOT_MINE;
    import = strcmp(argv[0], "import") == 0;
    rc = cli_load_config(&cfg, import ? "user import" : "user export", argc - 1, argv + 1,
                         import ? import_extras : export_extras, positional, 1, &n_pos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (n_pos != 1) {
        fprintf(stderr, "usage: latch user %s FILE\n", argv[0]);
        return 2;
    }
    umask(077);
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 1, &cs) != 0)
        return 1;
    rc = import ? cmd_import(cs.store, positional[0], strict != NULL)
                : cmd_export(cs.store, positional[0], drop_mfa != NULL);
    cli_close_store(&cs);
    return rc;
}
