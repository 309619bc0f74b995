/*
 * users.c - `latch user list|show|delete|disable|enable|unlock|set-role|mfa-reset`:
 * what an operator does to accounts from a shell, on the configured store
 * while the server runs.  Only store_ops are used, so it works on every
 * backend; a change that lowers a user's rights ends their logins as the
 * admin API does (the running server follows the revocation log within a
 * second), and the last enabled admin cannot be deleted or disabled.
 *
 * Exit status: 0 done; 1 the user is unknown, the change is refused (last
 * admin) or the store failed, with a message naming the email; 2 usage.
 */
#include "cli/cli.h"

#include "api/events.h"
#include "api/reply.h"
#include "auth/credentials.h"
#include "util/log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Users read per store call while listing. */
#define CLI_LIST_PAGE 200

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* As app_memo_until: a revocation made now is kept until every access
 * token issued before it has expired. */
static int64_t memo_until(const struct config *cfg, int64_t now)
{
    return now + cfg->access_ttl_s + 2 * cfg->leeway_s + 1;
}

static void created_text(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_user_text(const struct store_user *u)
{
    char created[32];

    created_text(u->created_at, created);
    printf("%-8lld %-40s %-6s %-9s %s\n", (long long)u->id, u->email, u->role,
           u->disabled ? "yes" : "no", created);
}

static int print_json(json_t *value)
{
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(value);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

struct list_ctx {
    const char *needle;          /* lower-cased substring, or NULL */
    json_t *json;                /* --json: the array being built */
    int64_t last_id;
    long long shown;
};

static void list_one(void *p, const struct store_user *u)
{
    struct list_ctx *ctx = p;

    ctx->last_id = u->id;
    if (ctx->needle != NULL && strstr(u->email, ctx->needle) == NULL)
        return;
    ctx->shown++;
    if (ctx->json != NULL)
        json_array_append_new(ctx->json, reply_user(u));
    else
        print_user_text(u);
}

static int cmd_list(struct store *store, const char *needle_arg, int json)
{
    char needle[LATCH_MAX_EMAIL_BYTES + 1];
    struct list_ctx ctx = {NULL, NULL, 0, 0};
    int more = 1, rc = STORE_OK;
    size_t i;

    if (needle_arg != NULL) {
        /* Stored addresses are lower-case ASCII: so is the search. */
        for (i = 0; needle_arg[i] != '\0' && i < LATCH_MAX_EMAIL_BYTES; i++)
            needle[i] = (char)tolower((unsigned char)needle_arg[i]);
        needle[i] = '\0';
        ctx.needle = needle;
    }
    if (json && (ctx.json = json_array()) == NULL)
        return 1;
    if (!json)
        printf("%-8s %-40s %-6s %-9s %s\n", "id", "email", "role", "disabled", "created");
    while (more && rc == STORE_OK) {
        more = 0;
        rc = STORE_CALL(store, user_list, ctx.last_id, CLI_LIST_PAGE, list_one, &ctx, &more);
    }
    if (rc != STORE_OK) {
        json_decref(ctx.json);
        fprintf(stderr, "latch user list: %s\n", store_strerror(rc));
        return 1;
    }
    if (json && print_json(ctx.json) != 0)
        return 1;
    return 0;
}

static int cmd_show(const struct store_user *u, int json)
{
    char created[32];

    if (json)
        return print_json(reply_user(u)) == 0 ? 0 : 1;
    created_text(u->created_at, created);
    printf("id:       %lld\nemail:    %s\nrole:     %s\ndisabled: %s\ncreated:  %s\n",
           (long long)u->id, u->email, u->role, u->disabled ? "yes" : "no", created);
    return 0;
}

/* disable, enable, set-role: one user_update, ending the user's logins
 * when it lowers their rights (as the admin API's PATCH). */
static int cmd_update(const char *sub, struct store *store, const struct config *cfg,
                      const struct store_user *u, const char *role, int disabled)
{
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after;
    int64_t now = now_s();
    int rc;

    change.role = role;
    change.disabled = disabled;
    change.end_logins = 1;
    change.memo_until = memo_until(cfg, now);
    rc = STORE_CALL(store, user_update, u->id, &change, now, &after);
    if (rc == STORE_ELASTADMIN) {
        fprintf(stderr, "latch user %s: %s is the last enabled admin; at least one must "
                        "remain\n", sub, u->email);
        return 1;
    }
    if (rc == STORE_ENOTFOUND) {
        fprintf(stderr, "latch user %s: no user %s\n", sub, u->email);
        return 1;
    }
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user %s: %s: %s\n", sub, u->email, store_strerror(rc));
        return 1;
    }
    events_user_changed(NULL, sub, &after, 0);
    printf("user %lld <%s>: role %s, %s\n", (long long)after.id, after.email, after.role,
           after.disabled ? "disabled" : "enabled");
    return 0;
}

static int cmd_delete(struct store *store, const struct config *cfg, const struct store_user *u)
{
    int64_t now = now_s();
    int rc = STORE_CALL(store, user_delete, u->id, now, memo_until(cfg, now));

    if (rc == STORE_ELASTADMIN) {
        fprintf(stderr, "latch user delete: %s is the last enabled admin; at least one must "
                        "remain\n", u->email);
        return 1;
    }
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user delete: %s: %s\n", u->email,
                rc == STORE_ENOTFOUND ? "no such user" : store_strerror(rc));
        return 1;
    }
    events_user_changed(NULL, "delete", u, 0);
    printf("deleted user %lld <%s>\n", (long long)u->id, u->email);
    return 0;
}

/* A user who lost their authenticator and recovery codes: the second
 * factor goes, and with it every login (as the admin API's "mfa": false). */
static int cmd_mfa_reset(struct store *store, const struct config *cfg, const struct store_user *u)
{
    struct store_user_change change = STORE_USER_CHANGE_INIT;
    struct store_user after;
    int64_t now = now_s();
    int rc;

    change.mfa_off = 1;
    change.end_logins = 1;
    change.memo_until = memo_until(cfg, now);
    rc = STORE_CALL(store, user_update, u->id, &change, now, &after);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user mfa-reset: %s: %s\n", u->email,
                rc == STORE_ENOTFOUND ? "no such user" : store_strerror(rc));
        return 1;
    }
    events_mfa_changed(NULL, u->id, 0, "cli");
    printf("%s: second factor %s; every login of the user ended\n", u->email,
           u->mfa ? "removed" : "was not set (nothing to remove)");
    return 0;
}

static int cmd_unlock(struct store *store, const struct store_user *u)
{
    /* The lockout counter is keyed by the normalised email, as /login
     * keys it; the stored address is normalised. */
    int rc = STORE_CALL(store, lockout_reset, u->email);

    if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
        fprintf(stderr, "latch user unlock: %s: %s\n", u->email, store_strerror(rc));
        return 1;
    }
    events_user_changed(NULL, "unlock", u, 0);
    printf("unlocked %s\n", u->email);
    return 0;
}

int cli_user(int argc, char **argv)
{
    static const char *const subs[] = {"list", "show", "delete", "disable", "enable",
                                       "unlock", "set-role", "mfa-reset"};
    const char *sub, *email_arg = NULL, *role = NULL, *json = NULL, *why;
    struct config_extra_flag extras[4];
    struct config cfg;
    struct cli_store cs;
    struct store *store;
    struct store_user user;
    char command[32], email[LATCH_MAX_EMAIL_BYTES + 1];
    size_t i;
    int rc, status = 1, n = 0;

    if (argc < 1)
        return CLI_NOT_MINE;
    sub = argv[0];
    for (i = 0; i < sizeof(subs) / sizeof(subs[0]) && strcmp(subs[i], sub) != 0; i++)
        ;
    if (i == sizeof(subs) / sizeof(subs[0]))
        return CLI_NOT_MINE;
    snprintf(command, sizeof(command), "user %s", sub);
    memset(extras, 0, sizeof(extras));
    if (strcmp(sub, "list") == 0)
        extras[n++] = (struct config_extra_flag){"email", &email_arg,
                                                 "only users whose email contains this", 0};
    else
        extras[n++] = (struct config_extra_flag){"email", &email_arg,
                                                 "the user's email address (required)", 0};
    if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0)
        extras[n++] = (struct config_extra_flag){"json", &json, "print JSON", 1};
    if (strcmp(sub, "set-role") == 0)
        extras[n++] = (struct config_extra_flag){"role", &role, "user or admin (required)", 0};

    rc = cli_load_config(&cfg, command, argc - 1, argv + 1, extras, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (strcmp(sub, "set-role") == 0 &&
        (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0))) {
        fprintf(stderr, "latch user set-role: --role user or --role admin is required\n");
        return 2;
    }
    if (strcmp(sub, "list") != 0) {
        if (email_arg == NULL ||
            credentials_normalize_email(email_arg, strlen(email_arg), email, &why) != 0) {
            fprintf(stderr, "latch %s: --email with a valid address is required\n", command);
            return 2;
        }
    }
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 1, &cs) != 0)
        return 1;
    store = cs.store;
    if (strcmp(sub, "list") == 0) {
        status = cmd_list(store, email_arg, json != NULL);
        goto cleanup;
    }
    rc = store_user_by_email(store, email, &user);
    if (rc == STORE_ENOTFOUND) {
        fprintf(stderr, "latch %s: no user %s\n", command, email);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        fprintf(stderr, "latch %s: %s: %s\n", command, email, store_strerror(rc));
        goto cleanup;
    }
    if (strcmp(sub, "show") == 0)
        status = cmd_show(&user, json != NULL);
    else if (strcmp(sub, "delete") == 0)
        status = cmd_delete(store, &cfg, &user);
    else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0)
        status = cmd_update(sub, store, &cfg, &user, NULL, strcmp(sub, "disable") == 0);
    else if (strcmp(sub, "set-role") == 0)
        status = cmd_update(sub, store, &cfg, &user, role, -1);
    else if (strcmp(sub, "mfa-reset") == 0)
        status = cmd_mfa_reset(store, &cfg, &user);
    else
        status = cmd_unlock(store, &user);
cleanup:
    cli_close_store(&cs);
    return status;
}
