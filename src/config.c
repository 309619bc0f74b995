#include "config.h"

#include "latch_limits.h"
#include "util/num.h"

#include <ctype.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT };

struct option_def {
    unsigned commands;         /* CONFIG_CMD_* it applies to (always serve) */
    const char *flag;          /* --flag; the environment twin is derived */
    enum opt_type type;
    size_t offset;
    size_t str_size;
    int64_t min, max;
    const char *help;
};

/* The commands an option applies to besides serve: `latch user --help`
 * lists only these, and a flag of another command is refused there. */
#define SERVE CONFIG_CMD_SERVE
#define STORE_CMDS (CONFIG_CMD_SERVE | CONFIG_CMD_USER | CONFIG_CMD_DB | CONFIG_CMD_MAIL)
#define KEY_CMDS (CONFIG_CMD_SERVE | CONFIG_CMD_KEY | CONFIG_CMD_TOKEN)
#define ALL_CMDS (CONFIG_CMD_SERVE | CONFIG_CMD_USER | CONFIG_CMD_KEY | CONFIG_CMD_TOKEN | \
                  CONFIG_CMD_DB | CONFIG_CMD_MAIL)

#define STR_OPT(cmds, name, field, help)                                                   \
    {cmds, name, OPT_STR, offsetof(struct config, field), sizeof(((struct config *)0)->field), \
     0, 0, help}
#define INT_OPT(cmds, name, field, lo, hi, help) \
    {cmds, name, OPT_INT, offsetof(struct config, field), 0, lo, hi, help}

static const struct option_def options[] = {
    STR_OPT(SERVE, "listen", listen,
            "address to listen on, host:port or [v6]:port (127.0.0.1:8080)"),
    STR_OPT(ALL_CMDS, "data-dir", data_dir, "directory for the database and key files (./var)"),
    STR_OPT(STORE_CMDS, "db", db, "SQLite database file (<data-dir>/latch.db); same as "
            "LATCH_DATABASE_URL=sqlite:PATH"),
    STR_OPT(ALL_CMDS, "database-url", database_url,
            "sqlite:PATH, postgres://... or a libpq key=value string (SQLite in the data dir); "
            "a password only in the environment (LATCH_DATABASE_URL), PGPASSWORD or a passfile"),
    INT_OPT(SERVE, "database-pool", database_pool, 0, 1024,
            "PostgreSQL connections per process; 0 = 2 per CPU (0)"),
    STR_OPT(ALL_CMDS, "master-key-file", master_key_file,
            "32-byte key sealing the secrets kept in PostgreSQL (mode 0600)"),
    STR_OPT(SERVE | CONFIG_CMD_TOKEN, "issuer", issuer,
            "the iss claim of issued tokens, required on input (latch)"),
    INT_OPT(ALL_CMDS & ~CONFIG_CMD_DB, "access-ttl-s", access_ttl_s, 1, 86400 * 30,
            "access token lifetime in seconds (900)"),
    INT_OPT(ALL_CMDS & ~CONFIG_CMD_DB, "leeway-s", leeway_s, 0, 600,
            "clock leeway for exp, nbf and iat in seconds (30)"),
    INT_OPT(SERVE | CONFIG_CMD_USER, "argon2-memory-kib", argon2_memory_kib, 8,
            LATCH_MAX_ARGON2_MEMORY_KIB, "Argon2id memory in KiB (19456, the OWASP minimum)"),
    INT_OPT(SERVE | CONFIG_CMD_USER, "argon2-iterations", argon2_iterations, 1,
            LATCH_MAX_ARGON2_ITERATIONS, "Argon2id iterations (2)"),
    INT_OPT(SERVE | CONFIG_CMD_USER, "argon2-huge-pages", argon2_huge_pages, 0, 1,
            "Argon2id working memory on transparent huge pages where the kernel allows; "
            "0 = 4 KiB pages (1)"),
    INT_OPT(SERVE, "hash-workers", hash_workers, 0, 256,
            "password hashing threads; 0 = one per CPU latch may run on (0)"),
    INT_OPT(SERVE, "hash-queue", hash_queue, 1, 65536,
            "hashing jobs that may wait; more get 503 (64)"),
    INT_OPT(SERVE, "max-connections", max_connections, 1, 1000000,
            "open connections in total (16384)"),
    INT_OPT(SERVE, "max-conn-per-ip", max_conn_per_ip, 0, 1000000,
            "open connections per client address; 0 = no limit (256)"),
    INT_OPT(SERVE, "idle-timeout-s", idle_timeout_s, 1, 86400,
            "close a connection idle this long (60)"),
    INT_OPT(SERVE, "header-timeout-s", header_timeout_s, 0, 86400,
            "close a connection that has not sent a whole request head this long after "
            "connecting or after its last response; 0 = the idle timeout (0)"),
    INT_OPT(SERVE, "body-timeout-s", body_timeout_s, 1, 86400,
            "close a connection whose request body is not complete this long after its "
            "head (30)"),
    INT_OPT(SERVE, "threads", threads, 0, 256,
            "HTTP threads; 0 = one per CPU latch may run on (0)"),
    STR_OPT(ALL_CMDS, "log-level", log_level, "error, warn, info or debug (info)"),
    STR_OPT(ALL_CMDS, "log-format", log_format,
            "text or json; default text when stderr is a terminal, json otherwise"),
    INT_OPT(SERVE, "access-log", access_log, 0, 1, "1: a log line per request; 0: none (1)"),
    STR_OPT(SERVE, "metrics-listen", metrics_listen,
            "host:port serving /metrics apart, then not on the public listener (none)"),
    STR_OPT(SERVE, "auth-mode", auth_mode, "jwt, session or both (jwt)"),
    INT_OPT(SERVE, "session-idle-s", session_idle_s, 1, 86400 * 30,
            "a session ends after this long unused (1800)"),
    INT_OPT(SERVE, "session-max-s", session_max_s, 1, 86400 * 365,
            "a session ends this long after login, used or not (43200)"),
    INT_OPT(SERVE, "refresh-ttl-s", refresh_ttl_s, 1, 86400 * 365,
            "refresh token lifetime (2592000, 30 days)"),
    INT_OPT(SERVE, "refresh-max-s", refresh_max_s, 1, 86400 * 3650,
            "a login's refresh tokens end this long after it, however often refreshed "
            "(7776000, 90 days)"),
    INT_OPT(SERVE, "refresh-reuse-window-s", refresh_reuse_window_s, 0, 300,
            "a rotated refresh token retried within this gets the same successor; 0 = off (10)"),
    STR_OPT(SERVE, "allowed-origins", allowed_origins,
            "comma-separated origins allowed cookie-authenticated requests and CORS (none)"),
    STR_OPT(SERVE, "registration", registration,
            "open or closed; closed: only admins create users (open)"),
    INT_OPT(SERVE, "lockout-attempts", lockout_attempts, 1, 1000,
            "failed logins of one email that lock it (5)"),
    INT_OPT(SERVE, "lockout-window-s", lockout_window_s, 1, 86400 * 30,
            "the window in which failed logins are counted (900)"),
    INT_OPT(SERVE, "lockout-s", lockout_s, 1, 86400 * 30,
            "how long a locked email stays locked (900)"),
    INT_OPT(SERVE, "ip-rate-per-min", ip_rate_per_min, 0, 1000000,
            "login/register/refresh/password requests per client address and minute; 0 = off "
            "(30)"),
    INT_OPT(SERVE, "ip-rate-burst", ip_rate_burst, 1, 1000000,
            "requests a client address may make at once before the rate applies (20)"),
    STR_OPT(KEY_CMDS, "jwt-alg", jwt_alg,
            "HS256, EdDSA, ES256 or RS256; recorded with the keys (HS256 for new keys)"),
    STR_OPT(KEY_CMDS, "jwt-key-file", jwt_key_file,
            "PEM private key (EdDSA, ES256, RS256); the only signing key (generated)"),
    INT_OPT(KEY_CMDS, "key-prepublish-s", key_prepublish_s, 0, 86400 * 30,
            "a rotated key is published this long before it signs (300)"),
    INT_OPT(SERVE, "token-cache-entries", token_cache_entries, 0, 16 * 1024 * 1024,
            "verified tokens remembered; 0 = no cache (16384)"),
    STR_OPT(SERVE, "tls-cert", tls_cert,
            "PEM certificate (chain) file; with --tls-key serves HTTPS"),
    STR_OPT(SERVE, "tls-key", tls_key, "PEM private key file for --tls-cert (mode 0600)"),
    STR_OPT(SERVE, "user", user, "when started as root: bind, then run as this user"),
    STR_OPT(SERVE, "trusted-proxies", trusted_proxies,
            "comma-separated CIDRs whose X-Forwarded-For / -Proto are believed (none)"),
    INT_OPT(SERVE, "ui", ui, 0, 1,
            "1: serve the lesson page at / (make run sets it); 0: / is 404 (0)"),
    STR_OPT(SERVE, "smtp-url", smtp_url,
            "smtp://host:port (STARTTLS required) or smtps://host:port (implicit TLS); "
            "unset: mails stay in the outbox (latch mail list)"),
    STR_OPT(SERVE, "smtp-ca-file", smtp_ca_file,
            "PEM CA certificates trusted for SMTP in addition to the system's"),
    STR_OPT(SERVE, "smtp-user", smtp_user, "SMTP AUTH user (none)"),
    STR_OPT(SERVE, "smtp-password-file", smtp_password_file,
            "file holding the SMTP password (mode 0600)"),
    INT_OPT(SERVE, "smtp-insecure", smtp_insecure, 0, 1,
            "1: accept an SMTP server without STARTTLS on a non-loopback host (0)"),
    STR_OPT(SERVE | CONFIG_CMD_MAIL, "mail-from", mail_from,
            "the From address of latch's mails (required with --smtp-url)"),
    STR_OPT(SERVE | CONFIG_CMD_MAIL, "public-url", public_url,
            "base of the links in mails, e.g. https://app.example.com (http://localhost:8080)"),
    STR_OPT(SERVE | CONFIG_CMD_MAIL, "reset-url", reset_url,
            "password reset link template with {token} (<public-url>/reset#token={token})"),
    STR_OPT(SERVE | CONFIG_CMD_MAIL, "verify-url", verify_url,
            "email verification link template with {token} "
            "(<public-url>/verify-email#token={token})"),
    INT_OPT(SERVE, "require-verified-email", require_verified_email, 0, 1,
            "1: users whose address is not verified cannot log in (0)"),
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8080");
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./var");
    snprintf(cfg->issuer, sizeof(cfg->issuer), "latch");
    snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
    cfg->access_ttl_s = LATCH_DEFAULT_ACCESS_TTL_S;
    cfg->leeway_s = LATCH_DEFAULT_LEEWAY_S;
    cfg->argon2_memory_kib = LATCH_DEFAULT_ARGON2_MEMORY_KIB;
    cfg->argon2_iterations = LATCH_DEFAULT_ARGON2_ITERATIONS;
    cfg->argon2_huge_pages = 1;
    cfg->hash_workers = 0;
    cfg->hash_queue = LATCH_DEFAULT_HASH_QUEUE;
    cfg->max_connections = LATCH_DEFAULT_MAX_CONNECTIONS;
    cfg->max_conn_per_ip = LATCH_DEFAULT_MAX_CONN_PER_IP;
    cfg->idle_timeout_s = LATCH_DEFAULT_IDLE_TIMEOUT_S;
    cfg->header_timeout_s = LATCH_DEFAULT_HEADER_TIMEOUT_S;
    cfg->body_timeout_s = LATCH_DEFAULT_BODY_TIMEOUT_S;
    cfg->threads = 0;
    snprintf(cfg->auth_mode, sizeof(cfg->auth_mode), "jwt");
    cfg->session_idle_s = 1800;
    cfg->session_max_s = 43200;
    cfg->refresh_ttl_s = 30 * 86400;
    cfg->refresh_max_s = 90 * 86400;
    cfg->refresh_reuse_window_s = 10;
    snprintf(cfg->registration, sizeof(cfg->registration), "open");
    snprintf(cfg->public_url, sizeof(cfg->public_url), "http://localhost:8080");
    cfg->lockout_attempts = 5;
    cfg->lockout_window_s = 900;
    cfg->lockout_s = 900;
    cfg->ip_rate_per_min = 30;
    cfg->ip_rate_burst = 20;
    cfg->key_prepublish_s = 300;
    cfg->token_cache_entries = 16384;
    cfg->ui = 0;
    cfg->access_log = 1;
}

static void env_name(const char *flag, char *buf, size_t size)
{
    size_t i = 0, j;

    j = (size_t)snprintf(buf, size, "LATCH_");
    for (; flag[i] != '\0' && j + 1 < size; i++, j++)
        buf[j] = flag[i] == '-' ? '_' : (char)toupper((unsigned char)flag[i]);
    buf[j] = '\0';
}

static int set_value(struct config *cfg, const struct option_def *o, const char *source,
                     const char *value, char *err, size_t err_size)
{
    char *field = (char *)cfg + o->offset;

    if (o->type == OPT_STR) {
        size_t len = strlen(value);
        if (len >= o->str_size) {
            snprintf(err, err_size, "%s: value must be at most %zu bytes long", source,
                     o->str_size - 1);
            return CONFIG_ERROR;
        }
        memcpy(field, value, len + 1);
        return CONFIG_OK;
    }
    if (num_parse_i64(value, o->min, o->max, (int64_t *)(void *)field) != 0) {
        snprintf(err, err_size, "%s: expected a whole number from %lld to %lld, got \"%.64s\"",
                 source, (long long)o->min, (long long)o->max, value);
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}

static int validate(const struct config *cfg, char *err, size_t err_size)
{
    char host[CONFIG_MAX_STR];
    int port;

    if (config_split_listen(cfg->listen, host, sizeof(host), &port) != 0) {
        snprintf(err, err_size,
                 "--listen / LATCH_LISTEN: expected host:port or [v6]:port, got \"%.64s\"",
                 cfg->listen);
        return CONFIG_ERROR;
    }
    if (cfg->data_dir[0] == '\0' || cfg->issuer[0] == '\0') {
        snprintf(err, err_size, "--data-dir and --issuer must not be empty");
        return CONFIG_ERROR;
    }
    if (strcmp(cfg->log_level, "error") != 0 && strcmp(cfg->log_level, "warn") != 0 &&
        strcmp(cfg->log_level, "info") != 0 && strcmp(cfg->log_level, "debug") != 0) {
        snprintf(err, err_size, "--log-level / LATCH_LOG_LEVEL: expected error, warn, info or "
                 "debug, got \"%.16s\"", cfg->log_level);
        return CONFIG_ERROR;
    }
    if (cfg->log_format[0] != '\0' && strcmp(cfg->log_format, "text") != 0 &&
        strcmp(cfg->log_format, "json") != 0) {
        snprintf(err, err_size, "--log-format / LATCH_LOG_FORMAT: expected text or json, got "
                 "\"%.16s\"", cfg->log_format);
        return CONFIG_ERROR;
    }
    if (cfg->metrics_listen[0] != '\0' &&
        config_split_listen(cfg->metrics_listen, host, sizeof(host), &port) != 0) {
        snprintf(err, err_size, "--metrics-listen / LATCH_METRICS_LISTEN: expected host:port or "
                 "[v6]:port, got \"%.64s\"", cfg->metrics_listen);
        return CONFIG_ERROR;
    }
    if (strcmp(cfg->auth_mode, "jwt") != 0 && strcmp(cfg->auth_mode, "session") != 0 &&
        strcmp(cfg->auth_mode, "both") != 0) {
        snprintf(err, err_size, "--auth-mode / LATCH_AUTH_MODE: expected jwt, session or both, "
                 "got \"%.16s\"", cfg->auth_mode);
        return CONFIG_ERROR;
    }
    if (cfg->jwt_alg[0] != '\0' && strcmp(cfg->jwt_alg, "HS256") != 0 &&
        strcmp(cfg->jwt_alg, "EdDSA") != 0 &&
        strcmp(cfg->jwt_alg, "ES256") != 0 && strcmp(cfg->jwt_alg, "RS256") != 0) {
        snprintf(err, err_size, "--jwt-alg / LATCH_JWT_ALG: expected HS256, EdDSA, ES256 or "
                 "RS256, got \"%.16s\"", cfg->jwt_alg);
        return CONFIG_ERROR;
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        snprintf(err, err_size, "LATCH_TLS_CERT and LATCH_TLS_KEY go together: give both or "
                 "neither");
        return CONFIG_ERROR;
    }
    if (strcmp(cfg->registration, "open") != 0 && strcmp(cfg->registration, "closed") != 0) {
        snprintf(err, err_size, "--registration / LATCH_REGISTRATION: expected open or closed, "
                 "got \"%.16s\"", cfg->registration);
        return CONFIG_ERROR;
    }
    {
        enum config_backend backend;
        char target[CONFIG_MAX_STR];
        if (config_backend(cfg, &backend, target, sizeof(target), err, err_size) != 0)
            return CONFIG_ERROR;
    }
    if (strncmp(cfg->public_url, "https://", 8) != 0 &&
        strncmp(cfg->public_url, "http://", 7) != 0) {
        snprintf(err, err_size, "--public-url / LATCH_PUBLIC_URL: expected an http:// or "
                 "https:// URL like https://app.example.com");
        return CONFIG_ERROR;
    }
    if ((cfg->reset_url[0] != '\0' && strstr(cfg->reset_url, "{token}") == NULL) ||
        (cfg->verify_url[0] != '\0' && strstr(cfg->verify_url, "{token}") == NULL)) {
        snprintf(err, err_size, "LATCH_RESET_URL and LATCH_VERIFY_URL are templates: they must "
                 "contain {token}");
        return CONFIG_ERROR;
    }
    if (cfg->smtp_url[0] != '\0' && cfg->mail_from[0] == '\0') {
        snprintf(err, err_size, "LATCH_SMTP_URL needs LATCH_MAIL_FROM (the From address)");
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}

/* The commands by their first word; a command not listed is served all
 * options (as serve is). */
static const struct {
    const char *word;
    unsigned bit;
} commands[] = {
    {"serve", CONFIG_CMD_SERVE}, {"user", CONFIG_CMD_USER}, {"key", CONFIG_CMD_KEY},
    {"token", CONFIG_CMD_TOKEN}, {"db", CONFIG_CMD_DB}, {"mail", CONFIG_CMD_MAIL},
};

static unsigned command_bit(const char *command)
{
    size_t i, n = command != NULL ? strcspn(command, " ") : 0;

    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strlen(commands[i].word) == n && strncmp(commands[i].word, command, n) == 0)
            return commands[i].bit;
    return CONFIG_CMD_SERVE;
}

int config_load(struct config *cfg, int argc, char **argv,
                const struct config_extra_flag *extras,
                const char **positional, int max_positional, int *n_positional,
                char *err, size_t err_size)
{
    return config_load_command(cfg, "serve", argc, argv, extras, positional, max_positional,
                               n_positional, err, err_size);
}

int config_load_command(struct config *cfg, const char *command, int argc, char **argv,
                        const struct config_extra_flag *extras,
                        const char **positional, int max_positional, int *n_positional,
                        char *err, size_t err_size)
{
    unsigned bit = command_bit(command);
    char name[64];
    size_t i;
    int a, npos = 0;

    for (i = 0; i < N_OPTIONS; i++) {
        const char *v;
        env_name(options[i].flag, name, sizeof(name));
        v = getenv(name);
        if (v != NULL && set_value(cfg, &options[i], name, v, err, err_size) != CONFIG_OK)
            return CONFIG_ERROR;
    }

    for (a = 0; a < argc; a++) {
        const char *arg = argv[a], *value = NULL, *eq;
        char flag[64];
        size_t flag_len;
        int found = 0;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return CONFIG_HELP;
        if (strncmp(arg, "--", 2) != 0) {
            if (positional == NULL || npos >= max_positional) {
                snprintf(err, err_size, "unexpected argument \"%.64s\"", arg);
                return CONFIG_ERROR;
            }
            positional[npos++] = arg;
            continue;
        }
        arg += 2;
        eq = strchr(arg, '=');
        flag_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        if (flag_len == 0 || flag_len >= sizeof(flag)) {
            snprintf(err, err_size, "unknown flag \"--%.64s\"", arg);
            return CONFIG_ERROR;
        }
        memcpy(flag, arg, flag_len);
        flag[flag_len] = '\0';
        for (i = 0; extras != NULL && extras[i].name != NULL; i++)
            if (extras[i].boolean && strcmp(extras[i].name, flag) == 0)
                break;
        if (extras != NULL && extras[i].name != NULL) {
            /* A switch: present means "1"; it takes no value. */
            if (eq != NULL) {
                snprintf(err, err_size, "flag --%s takes no value", flag);
                return CONFIG_ERROR;
            }
            *extras[i].value = "1";
            continue;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (a + 1 < argc) {
            value = argv[++a];
        } else {
            snprintf(err, err_size, "flag --%s needs a value", flag);
            return CONFIG_ERROR;
        }

        for (i = 0; extras != NULL && extras[i].name != NULL; i++) {
            if (strcmp(extras[i].name, flag) == 0) {
                *extras[i].value = value;
                found = 1;
                break;
            }
        }
        for (i = 0; !found && i < N_OPTIONS; i++) {
            if (strcmp(options[i].flag, flag) == 0) {
                char source[80];
                if ((options[i].commands & bit) == 0) {
                    snprintf(err, err_size, "flag --%s does not apply to latch %s (see --help)",
                             flag, command);
                    return CONFIG_ERROR;
                }
                snprintf(source, sizeof(source), "--%s", flag);
                /* A command line shows in the process list. */
                if (options[i].offset == offsetof(struct config, database_url) &&
                    config_url_has_password(value)) {
                    snprintf(err, err_size, "--database-url must not carry a password (the "
                             "process list shows it): put it in LATCH_DATABASE_URL, PGPASSWORD "
                             "or a passfile");
                    return CONFIG_ERROR;
                }
                if (set_value(cfg, &options[i], source, value, err, err_size) != CONFIG_OK)
                    return CONFIG_ERROR;
                found = 1;
            }
        }
        if (!found) {
            snprintf(err, err_size, "unknown flag \"--%s\" (see --help)", flag);
            return CONFIG_ERROR;
        }
    }
    if (n_positional != NULL)
        *n_positional = npos;
    return validate(cfg, err, err_size);
}

/*
 * Variables latch reads from the environment only, never from a flag (kept
 * out of the process list), with the commands that read them.  This is the
 * one list: a LATCH_* variable that is neither here nor an option's twin is
 * warned about at start, and `--help` prints these.  Add each new one here
 * (LATCH_DATABASE_URL, LATCH_MASTER_KEY_FILE, LATCH_DATABASE_POOL, unless
 * they become options with flags, whose twins are known already).
 */
static const struct {
    const char *name;
    unsigned commands;
    const char *help;
} env_only[] = {
    {"LATCH_JWT_SECRET", KEY_CMDS,
     "HS256 signing secret, used verbatim as bytes (at least 32)"},
    {"LATCH_METRICS_TOKEN", SERVE,
     "GET /metrics requires Authorization: Bearer <this> (else 401)"},
};

void config_usage(const char *command, const struct config_extra_flag *extras)
{
    unsigned bit = command_bit(command);
    char name[64];
    size_t i;
    int header = 0;

    printf("usage: latch %s [flags]\n\nflags (each has an environment twin):\n", command);
    for (i = 0; extras != NULL && extras[i].name != NULL; i++)
        printf("  --%-22s %s\n", extras[i].name, extras[i].help);
    for (i = 0; i < N_OPTIONS; i++) {
        if ((options[i].commands & bit) == 0)
            continue;
        env_name(options[i].flag, name, sizeof(name));
        printf("  --%-22s %-28s %s\n", options[i].flag, name, options[i].help);
    }
    for (i = 0; i < sizeof(env_only) / sizeof(env_only[0]); i++) {
        if ((env_only[i].commands & bit) == 0)
            continue;
        if (!header++)
            printf("\nenvironment only (kept out of flags so they never show in the process "
                   "list):\n");
        printf("  %-26s %s\n", env_only[i].name, env_only[i].help);
    }
}

/* Levenshtein distance of two short names (at most 64 bytes each). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 64), lb = strnlen(b, 64), i, j;
    size_t row[65];

    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t diag = row[0], next;
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            next = row[j];
            row[j] = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < row[j])
                row[j] = row[j - 1] + 1;
            if (next + 1 < row[j])
                row[j] = next + 1;
            diag = next;
        }
    }
    return row[lb];
}

size_t config_unknown_env(char *const *env, config_unknown_fn fn, void *ctx)
{
    char name[64], known[64], best[64];
    size_t i, count = 0;

    for (; env != NULL && *env != NULL; env++) {
        const char *var = *env, *eq = strchr(var, '=');
        size_t len = eq != NULL ? (size_t)(eq - var) : strlen(var), best_d = SIZE_MAX, d;
        int found = 0;

        if (strncmp(var, "LATCH_", 6) != 0 || len >= sizeof(name))
            continue;
        memcpy(name, var, len);
        name[len] = '\0';
        for (i = 0; i < N_OPTIONS && !found; i++) {
            env_name(options[i].flag, known, sizeof(known));
            found = strcmp(known, name) == 0;
            if (!found && (d = edit_distance(name, known)) < best_d) {
                best_d = d;
                memcpy(best, known, sizeof(best));
            }
        }
        for (i = 0; i < sizeof(env_only) / sizeof(env_only[0]) && !found; i++) {
            found = strcmp(env_only[i].name, name) == 0;
            if (!found && (d = edit_distance(name, env_only[i].name)) < best_d) {
                best_d = d;
                snprintf(best, sizeof(best), "%s", env_only[i].name);
            }
        }
        if (found)
            continue;
        count++;
        if (fn != NULL)
            fn(ctx, name, best);
    }
    return count;
}

int config_split_listen(const char *listen, char *host, size_t host_size, int *port)
{
    const char *colon, *host_start = listen, *host_end;
    int64_t p;

    if (listen[0] == '[') {
        host_end = strchr(listen, ']');
        if (host_end == NULL || host_end[1] != ':')
            return -1;
        host_start = listen + 1;
        colon = host_end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL)
            return -1;
        host_end = colon;
    }
    if (host_end == host_start || (size_t)(host_end - host_start) >= host_size)
        return -1;
    if (num_parse_i64(colon + 1, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, host_start, (size_t)(host_end - host_start));
    host[host_end - host_start] = '\0';
    *port = (int)p;
    return 0;
}

const char *config_db_path(const struct config *cfg, char *buf, size_t size)
{
    if (cfg->db[0] != '\0')
        snprintf(buf, size, "%s", cfg->db);
    else
        snprintf(buf, size, "%s/latch.db", cfg->data_dir);
    return buf;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int config_backend(const struct config *cfg, enum config_backend *backend, char *target,
                   size_t size, char *err, size_t err_size)
{
    const char *url = cfg->database_url;
    char shown[CONFIG_MAX_STR];

    if (url[0] == '\0') {
        *backend = CONFIG_SQLITE;
        config_db_path(cfg, target, size);
        return 0;
    }
    if (starts_with(url, "sqlite:")) {
        if (url[7] == '\0') {
            snprintf(err, err_size, "LATCH_DATABASE_URL: sqlite: needs a path (sqlite:PATH)");
            return -1;
        }
        if (cfg->db[0] != '\0' && strcmp(cfg->db, url + 7) != 0) {
            snprintf(err, err_size, "LATCH_DB (%.200s) and LATCH_DATABASE_URL (%.200s) name "
                     "different databases: set one of them", cfg->db, url);
            return -1;
        }
        *backend = CONFIG_SQLITE;
        snprintf(target, size, "%s", url + 7);
        return 0;
    }
    config_redact_url(url, shown, sizeof(shown));
    if (starts_with(url, "postgres://") || starts_with(url, "postgresql://") ||
        strchr(url, '=') != NULL) {
        if (cfg->db[0] != '\0') {
            snprintf(err, err_size, "LATCH_DB names a SQLite file but LATCH_DATABASE_URL "
                     "(%.200s) is PostgreSQL: set one of them", shown);
            return -1;
        }
        *backend = CONFIG_POSTGRES;
        snprintf(target, size, "%s", url);
        return 0;
    }
    snprintf(err, err_size, "LATCH_DATABASE_URL: \"%.200s\" is not a database: use sqlite:PATH, "
             "postgres://user@host/db (or postgresql://), or a libpq key=value string such as "
             "\"host=/run/postgresql dbname=latch\"", shown);
    return -1;
}

/* The password of a URL: between the ':' of user:password and the '@' of
 * the authority.  Returns its start and length, or 0. */
static int url_password(const char *url, size_t *start, size_t *len)
{
    const char *auth = strstr(url, "://"), *end, *at, *colon;

    if (auth == NULL)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    at = memrchr(auth, '@', (size_t)(end - auth));
    if (at == NULL)
        return 0;
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL)
        return 0;
    *start = (size_t)(colon + 1 - url);
    *len = (size_t)(at - colon - 1);
    return 1;
}

/* The value of "password=" in a key=value string (also inside a URL's
 * query, ?password=...).  Returns its start and length, or 0. */
static int kv_password(const char *s, size_t *start, size_t *len)
{
    const char *p = s;

    while ((p = strstr(p, "password")) != NULL) {
        const char *v = p + 8;
        int boundary = p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '?' || p[-1] == '&';

        while (*v == ' ' || *v == '\t')
            v++;
        if (boundary && *v == '=') {
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            *start = (size_t)(v - s);
            if (*v == '\'') {
                const char *q = v + 1;
                while (*q != '\0' && *q != '\'')
                    q += q[0] == '\\' && q[1] != '\0' ? 2 : 1;
                *len = (size_t)(q - v) + (*q == '\'');
            } else {
                *len = strcspn(v, " \t&#");
            }
            return 1;
        }
        p += 8;
    }
    return 0;
}

int config_url_has_password(const char *url)
{
    size_t start, len;

    return (url_password(url, &start, &len) && len > 0) || kv_password(url, &start, &len);
}

void config_redact_url(const char *url, char *out, size_t size)
{
    char buf[CONFIG_MAX_STR * 2];
    size_t start, len;
    int guard = 0;

    snprintf(buf, sizeof(buf), "%s", url);
    /* Each pass masks one password; a string may hold two (URL and query). */
    while (guard++ < 4 && ((url_password(buf, &start, &len) && len > 0 &&
                            !(len == 3 && memcmp(buf + start, "***", 3) == 0)) ||
                           (kv_password(buf, &start, &len) &&
                            !(len == 3 && memcmp(buf + start, "***", 3) == 0)))) {
        char tail[CONFIG_MAX_STR * 2];
        snprintf(tail, sizeof(tail), "%s", buf + start + len);
        snprintf(buf + start, sizeof(buf) - start, "***%s", tail);
    }
    snprintf(out, size, "%s", buf);
}

int config_cpu_count(void)
{
    cpu_set_t set;
    int n;

    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}
