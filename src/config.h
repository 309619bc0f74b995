/*
 * config.h - one struct config, filled from defaults, then LATCH_* environment
 * variables, then command-line flags.  Every flag --foo-bar has the
 * environment twin LATCH_FOO_BAR.
 */
#ifndef LATCH_CONFIG_H
#define LATCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_STR 1024

struct config {
    char listen[CONFIG_MAX_STR];      /* host:port or [v6]:port */
    char data_dir[CONFIG_MAX_STR];
    char db[CONFIG_MAX_STR];          /* SQLite file; default <data_dir>/latch.db */
    char database_url[CONFIG_MAX_STR];/* LATCH_DATABASE_URL: sqlite:PATH, postgres://...,
                                       * or libpq key=value; "" = SQLite in the data dir */
    int64_t database_pool;            /* PostgreSQL connections; 0 = 2 per CPU */
    char master_key_file[CONFIG_MAX_STR]; /* LATCH_MASTER_KEY_FILE (32 bytes, 0600) */
    char issuer[CONFIG_MAX_STR];
    int64_t access_ttl_s;
    int64_t leeway_s;
    int64_t argon2_memory_kib;
    int64_t argon2_iterations;
    int64_t argon2_huge_pages;        /* 1: Argon2 areas on huge pages (auth/pwmem.h) */
    int64_t hash_workers;             /* 0: one per CPU latch may run on */
    int64_t hash_queue;
    int64_t max_connections;
    int64_t max_conn_per_ip;          /* 0: no limit */
    int64_t idle_timeout_s;
    int64_t header_timeout_s;         /* 0: the idle timeout */
    int64_t body_timeout_s;
    int64_t threads;                  /* 0: one per CPU latch may run on */
    char log_level[16];
    char log_format[16];              /* text | json | "": text on a terminal, else json */
    int64_t access_log;               /* 1: a log line per request */
    char metrics_listen[CONFIG_MAX_STR]; /* host:port for /metrics alone; "": public */

    /* The token lifecycle (sessions, refresh, revocation). */
    char auth_mode[16];               /* jwt | session | both */
    int64_t session_idle_s;
    int64_t session_max_s;
    int64_t refresh_ttl_s;
    int64_t refresh_max_s;            /* a family's absolute lifetime */
    int64_t refresh_reuse_window_s;
    char allowed_origins[CONFIG_MAX_STR]; /* comma-separated origins */
    char registration[16];            /* open | closed */

    /* Brute-force protection. */
    int64_t lockout_attempts;
    int64_t lockout_window_s;
    int64_t lockout_s;
    int64_t ip_rate_per_min;          /* 0: off */
    int64_t ip_rate_burst;
    char trusted_proxies[CONFIG_MAX_STR]; /* comma-separated CIDRs */

    /* Keys. */
    char jwt_alg[16];                 /* HS256 | EdDSA | ES256 | RS256; "": as recorded */
    char jwt_key_file[CONFIG_MAX_STR];/* PEM private key for the asymmetric algorithms */
    int64_t key_prepublish_s;
    int64_t token_cache_entries;      /* 0: no cache */

    /* TLS and privileges. */
    char tls_cert[CONFIG_MAX_STR];    /* PEM certificate chain; with tls_key: HTTPS */
    char tls_key[CONFIG_MAX_STR];     /* PEM private key, mode 0600 */
    char user[64];                    /* drop to this user after binding (as root) */

    /* The lesson page (src/ui/, src/api/ui.c): off unless asked for, so a
     * production server exposes nothing but its API. */
    int64_t ui;                       /* 0 | 1 */

    /* Mail, email verification, password reset (issue 11). */
    char smtp_url[CONFIG_MAX_STR];    /* smtp://host:port (STARTTLS) | smtps://; "": no mail sent */
    char smtp_ca_file[CONFIG_MAX_STR];/* PEM CAs trusted in addition to the system's */
    char smtp_user[256];
    char smtp_password_file[CONFIG_MAX_STR]; /* mode 0600 */
    int64_t smtp_insecure;            /* 1: a server without STARTTLS on any host */
    char mail_from[CONFIG_MAX_STR];
    char public_url[CONFIG_MAX_STR];  /* the base of links in mails */
    char reset_url[CONFIG_MAX_STR];   /* a template with {token}; "": public_url/reset#token= */
    char verify_url[CONFIG_MAX_STR];  /* likewise; "": public_url/verify-email#token= */
    int64_t require_verified_email;   /* 1: an unverified user cannot log in (403) */
};

/* A flag a subcommand adds to the shared ones; its value lands in *value.
 * A boolean one is a switch: given, *value becomes "1" (it takes no value). */
struct config_extra_flag {
    const char *name;                 /* without the leading "--" */
    const char **value;
    const char *help;
    int boolean;
};

/* The commands an option applies to (--help lists only those; a flag of
 * another command is refused).  The environment twins apply everywhere. */
#define CONFIG_CMD_SERVE (1u << 0)
#define CONFIG_CMD_USER  (1u << 1)
#define CONFIG_CMD_KEY   (1u << 2)
#define CONFIG_CMD_TOKEN (1u << 3)
#define CONFIG_CMD_DB    (1u << 4)
#define CONFIG_CMD_MAIL  (1u << 5)

enum config_result {
    CONFIG_OK = 0,
    CONFIG_HELP = 1,                  /* --help was given; usage was printed */
    CONFIG_ERROR = -1,                /* err holds a message naming the input */
};

void config_defaults(struct config *cfg);

/* Applies LATCH_* environment variables, then argv (argv[0] is the first
 * argument, not the program).  Positional arguments are refused unless
 * positional is non-NULL: then they are stored there, up to max_positional. */
int config_load(struct config *cfg, int argc, char **argv,
                const struct config_extra_flag *extras,
                const char **positional, int max_positional, int *n_positional,
                char *err, size_t err_size);

/* config_load for a command ("serve", "user add", "key rotate", ...; its
 * first word picks the options that apply). */
int config_load_command(struct config *cfg, const char *command, int argc, char **argv,
                        const struct config_extra_flag *extras,
                        const char **positional, int max_positional, int *n_positional,
                        char *err, size_t err_size);

/* Prints the flags of command and their environment twins. */
void config_usage(const char *command, const struct config_extra_flag *extras);

/* Calls fn for each LATCH_* variable in env (an environ-style array) that
 * latch does not know, with the closest known name (edit distance), and
 * returns how many there were.  A misspelt variable is otherwise silently
 * ignored. */
typedef void (*config_unknown_fn)(void *ctx, const char *name, const char *closest);
size_t config_unknown_env(char *const *env, config_unknown_fn fn, void *ctx);

/* Splits cfg->listen into host and port.  Returns 0 or -1. */
int config_split_listen(const char *listen, char *host, size_t host_size, int *port);

/* The database path: cfg->db, or <data_dir>/latch.db when it is empty. */
const char *config_db_path(const struct config *cfg, char *buf, size_t size);

enum config_backend { CONFIG_SQLITE, CONFIG_POSTGRES };

/*
 * Which store cfg selects, and where: the SQLite file's path, or the libpq
 * conninfo (a postgres:// URL or a keyword/value string), into target.
 * Returns 0, or -1 with err naming the accepted forms (checked at load).
 */
int config_backend(const struct config *cfg, enum config_backend *backend, char *target,
                   size_t size, char *err, size_t err_size);

/* A database URL or conninfo with its password masked (for every message
 * that names the database). */
void config_redact_url(const char *url, char *out, size_t size);

/* Whether a URL or conninfo carries a password. */
int config_url_has_password(const char *url);

/* Number of CPUs this process may run on (its affinity mask). */
int config_cpu_count(void);

#endif
