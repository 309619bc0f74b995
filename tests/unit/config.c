/* Tests src/config.c: defaults, then LATCH_* environment, then flags. */
#include "test.h"

#include "config.h"
#include "latch_limits.h"

#include <stdlib.h>

extern char **environ;

/*
 * Each test body runs with no LATCH_* variable set; what the environment
 * held before is put back afterwards, also when a CHECK fails.
 */
#define CONFIG_MAX_SAVED 128
static char *config_saved[CONFIG_MAX_SAVED];
static int config_n_saved;

static void config_clear_latch_env(void)
{
    char name[256];
    int again = 1;

    while (again) {
        char **e;
        again = 0;
        for (e = environ; e != NULL && *e != NULL; e++) {
            const char *eq = strchr(*e, '=');
            if (strncmp(*e, "LATCH_", 6) == 0 && eq != NULL &&
                (size_t)(eq - *e) < sizeof(name)) {
                memcpy(name, *e, (size_t)(eq - *e));
                name[eq - *e] = '\0';
                unsetenv(name);
                again = 1;   /* environ changed under us: start over */
                break;
            }
        }
    }
}

static void config_env_save(void)
{
    char **e;

    config_n_saved = 0;
    for (e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, "LATCH_", 6) == 0 && config_n_saved < CONFIG_MAX_SAVED)
            config_saved[config_n_saved++] = strdup(*e);
    config_clear_latch_env();
}

static void config_env_restore(void)
{
    int i;

    config_clear_latch_env();
    for (i = 0; i < config_n_saved; i++) {
        char *eq = strchr(config_saved[i], '=');
        if (eq != NULL) {
            *eq = '\0';
            setenv(config_saved[i], eq + 1, 1);
        }
        free(config_saved[i]);
    }
    config_n_saved = 0;
}

#define CONFIG_TEST(name)                                                       \
    static void name##_body(void);                                              \
    TEST(name)                                                                  \
    {                                                                           \
        config_env_save();                                                      \
        name##_body();                                                          \
        config_env_restore();                                                   \
    }                                                                           \
    static void name##_body(void)

/* config_load over argv (NULL-terminated list), with defaults first. */
static int config_run(struct config *cfg, char *err, size_t err_size, const char *const *args)
{
    char *argv[32];
    int argc = 0;

    while (args != NULL && args[argc] != NULL && argc < 31) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    config_defaults(cfg);
    err[0] = '\0';
    return config_load(cfg, argc, argv, NULL, NULL, 0, NULL, err, err_size);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void config_check_defaults(const struct config *cfg)
{
    char buf[CONFIG_MAX_STR + 16];

    CHECK_STR(cfg->listen, "127.0.0.1:8080");
    CHECK_STR(cfg->data_dir, "./var");
    CHECK_STR(cfg->db, "");
    CHECK_STR(config_db_path(cfg, buf, sizeof(buf)), "./var/latch.db");
    CHECK_STR(cfg->issuer, "latch");
    CHECK_INT(cfg->access_ttl_s, 900);
    CHECK_INT(cfg->leeway_s, 30);
    CHECK_INT(cfg->argon2_memory_kib, 19456);
    CHECK_INT(cfg->argon2_iterations, 2);
    CHECK_INT(cfg->hash_workers, 0);
    CHECK_INT(cfg->hash_queue, 64);
    CHECK_INT(cfg->max_connections, 16384);
    CHECK_INT(cfg->max_conn_per_ip, 256);
    CHECK_INT(cfg->idle_timeout_s, 60);
    CHECK_INT(cfg->header_timeout_s, 0);     /* 0: the idle timeout */
    CHECK_INT(cfg->body_timeout_s, 30);
    CHECK_INT(cfg->threads, 0);
    CHECK_STR(cfg->log_level, "info");
    CHECK_INT(cfg->ui, 0);
}

TEST(config_defaults_values)
{
    struct config cfg;

    memset(&cfg, 0x5A, sizeof(cfg));
    config_defaults(&cfg);
    config_check_defaults(&cfg);
    CHECK_INT(LATCH_DEFAULT_ACCESS_TTL_S, 900);
}

CONFIG_TEST(config_load_without_input_keeps_defaults)
{
    struct config cfg;
    char err[256];

    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_OK);
    config_check_defaults(&cfg);
}

CONFIG_TEST(config_env_overrides_defaults)
{
    struct config cfg;
    char err[256], buf[CONFIG_MAX_STR + 16];

    setenv("LATCH_LISTEN", "0.0.0.0:9000", 1);
    setenv("LATCH_DATA_DIR", "/srv/latch", 1);
    setenv("LATCH_ISSUER", "https://auth.example.com", 1);
    setenv("LATCH_ACCESS_TTL_S", "60", 1);
    setenv("LATCH_LEEWAY_S", "0", 1);
    setenv("LATCH_ARGON2_MEMORY_KIB", "8", 1);
    setenv("LATCH_ARGON2_ITERATIONS", "1", 1);
    setenv("LATCH_HASH_WORKERS", "3", 1);
    setenv("LATCH_HASH_QUEUE", "7", 1);
    setenv("LATCH_MAX_CONNECTIONS", "100", 1);
    setenv("LATCH_MAX_CONN_PER_IP", "0", 1);
    setenv("LATCH_IDLE_TIMEOUT_S", "5", 1);
    setenv("LATCH_THREADS", "2", 1);
    setenv("LATCH_LOG_LEVEL", "debug", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_OK);
    CHECK_STR(cfg.listen, "0.0.0.0:9000");
    CHECK_STR(cfg.data_dir, "/srv/latch");
    CHECK_STR(config_db_path(&cfg, buf, sizeof(buf)), "/srv/latch/latch.db");
    CHECK_STR(cfg.issuer, "https://auth.example.com");
    CHECK_INT(cfg.access_ttl_s, 60);
    CHECK_INT(cfg.leeway_s, 0);
    CHECK_INT(cfg.argon2_memory_kib, 8);
    CHECK_INT(cfg.argon2_iterations, 1);
    CHECK_INT(cfg.hash_workers, 3);
    CHECK_INT(cfg.hash_queue, 7);
    CHECK_INT(cfg.max_connections, 100);
    CHECK_INT(cfg.max_conn_per_ip, 0);
    CHECK_INT(cfg.idle_timeout_s, 5);
    CHECK_INT(cfg.threads, 2);
    CHECK_STR(cfg.log_level, "debug");

    setenv("LATCH_DB", "/tmp/other.db", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_OK);
    CHECK_STR(config_db_path(&cfg, buf, sizeof(buf)), "/tmp/other.db");
}

CONFIG_TEST(config_flags_override_env)
{
    struct config cfg;
    char err[256];

    setenv("LATCH_ACCESS_TTL_S", "60", 1);
    setenv("LATCH_ISSUER", "from-env", 1);
    setenv("LATCH_LISTEN", "0.0.0.0:9000", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err),
                         ARGS("--access-ttl-s=120", "--issuer", "from-flag")),
              CONFIG_OK);
    CHECK_INT(cfg.access_ttl_s, 120);
    CHECK_STR(cfg.issuer, "from-flag");
    /* Not given as a flag: the environment's value stays. */
    CHECK_STR(cfg.listen, "0.0.0.0:9000");
}

/* The request deadlines: environment and flags, each range-checked. */
CONFIG_TEST(config_request_deadlines)
{
    struct config cfg;
    char err[256];

    setenv("LATCH_HEADER_TIMEOUT_S", "7", 1);
    setenv("LATCH_BODY_TIMEOUT_S", "9", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_OK);
    CHECK_INT(cfg.header_timeout_s, 7);
    CHECK_INT(cfg.body_timeout_s, 9);
    CHECK_INT(config_run(&cfg, err, sizeof(err),
                         ARGS("--header-timeout-s", "0", "--body-timeout-s=86400")), CONFIG_OK);
    CHECK_INT(cfg.header_timeout_s, 0);
    CHECK_INT(cfg.body_timeout_s, 86400);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--body-timeout-s", "0")), CONFIG_ERROR);
    CHECK(strstr(err, "--body-timeout-s") != NULL);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--header-timeout-s", "86401")),
              CONFIG_ERROR);
    CHECK(strstr(err, "--header-timeout-s") != NULL);
    setenv("LATCH_HEADER_TIMEOUT_S", "-1", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_HEADER_TIMEOUT_S") != NULL);
}

CONFIG_TEST(config_flag_forms)
{
    struct config cfg;
    char err[256];

    CHECK_INT(config_run(&cfg, err, sizeof(err),
                         ARGS("--listen=[::1]:9001", "--leeway-s", "5", "--db", "/x/y.db",
                              "--log-level=warn", "--hash-workers=0")),
              CONFIG_OK);
    CHECK_STR(cfg.listen, "[::1]:9001");
    CHECK_INT(cfg.leeway_s, 5);
    CHECK_STR(cfg.db, "/x/y.db");
    CHECK_STR(cfg.log_level, "warn");
    /* A value may itself contain '='. */
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--issuer=a=b")), CONFIG_OK);
    CHECK_STR(cfg.issuer, "a=b");
    /* The last of two wins. */
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--leeway-s=1", "--leeway-s=2")),
              CONFIG_OK);
    CHECK_INT(cfg.leeway_s, 2);
}

CONFIG_TEST(config_unknown_flag_is_named)
{
    struct config cfg;
    char err[256];

    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--bogus=1")), CONFIG_ERROR);
    CHECK(strstr(err, "--bogus") != NULL);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--leeway-s=1", "--frobnicate", "x")),
              CONFIG_ERROR);
    CHECK(strstr(err, "--frobnicate") != NULL);
    /* An environment twin spelt as a flag is no flag. */
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--LATCH_LISTEN=0.0.0.0:1")),
              CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_LISTEN") != NULL);
}

CONFIG_TEST(config_flag_without_value)
{
    struct config cfg;
    char err[256];

    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--issuer")), CONFIG_ERROR);
    CHECK(strstr(err, "--issuer") != NULL);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--issuer=")), CONFIG_ERROR);
    CHECK(strstr(err, "issuer") != NULL);
}

CONFIG_TEST(config_malformed_number_names_flag)
{
    static const char *const bad[] = {"12x", "", " 12", "+12", "1e3", "0x10", "-1", "0",
                                      "2592001", "99999999999999999999"};
    struct config cfg;
    char err[256], arg[64];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(arg, sizeof(arg), "--access-ttl-s=%s", bad[i]);
        if (config_run(&cfg, err, sizeof(err), ARGS(arg)) != CONFIG_ERROR ||
            strstr(err, "--access-ttl-s") == NULL)
            test_failed(__FILE__, __LINE__, "%s: err \"%s\"", arg, err);
    }
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--access-ttl-s=2592000")), CONFIG_OK);
    CHECK_INT(cfg.access_ttl_s, 2592000);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--leeway-s", "601")), CONFIG_ERROR);
    CHECK(strstr(err, "--leeway-s") != NULL);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--argon2-memory-kib=7")), CONFIG_ERROR);
    CHECK(strstr(err, "--argon2-memory-kib") != NULL);
}

CONFIG_TEST(config_malformed_env_names_variable)
{
    struct config cfg;
    char err[256];

    setenv("LATCH_LEEWAY_S", "abc", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_LEEWAY_S") != NULL);
    CHECK(strstr(err, "abc") != NULL);
    unsetenv("LATCH_LEEWAY_S");
    setenv("LATCH_HASH_QUEUE", "0", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_HASH_QUEUE") != NULL);
    unsetenv("LATCH_HASH_QUEUE");
    setenv("LATCH_LOG_LEVEL", "loud", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_LOG_LEVEL") != NULL);
}

CONFIG_TEST(config_bad_listen_and_log_level)
{
    struct config cfg;
    char err[256];

    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--listen=localhost")), CONFIG_ERROR);
    CHECK(strstr(err, "--listen") != NULL);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--log-level=verbose")), CONFIG_ERROR);
    CHECK(strstr(err, "--log-level") != NULL);
}

/* The lesson page is off unless LATCH_UI=1 or --ui 1; nothing but 0 and 1. */
CONFIG_TEST(config_ui_switch)
{
    static const char *const bad[] = {"2", "-1", "yes", "true", ""};
    struct config cfg;
    char err[256], arg[32];
    size_t i;

    setenv("LATCH_UI", "1", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_OK);
    CHECK_INT(cfg.ui, 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--ui", "0")), CONFIG_OK);
    CHECK_INT(cfg.ui, 0);
    setenv("LATCH_UI", "on", 1);
    CHECK_INT(config_run(&cfg, err, sizeof(err), NULL), CONFIG_ERROR);
    CHECK(strstr(err, "LATCH_UI") != NULL);
    unsetenv("LATCH_UI");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(arg, sizeof(arg), "--ui=%s", bad[i]);
        if (config_run(&cfg, err, sizeof(err), ARGS(arg)) != CONFIG_ERROR ||
            strstr(err, "--ui") == NULL)
            test_failed(__FILE__, __LINE__, "%s: err \"%s\"", arg, err);
    }
    CHECK_INT(config_run(&cfg, err, sizeof(err), ARGS("--ui=1")), CONFIG_OK);
    CHECK_INT(cfg.ui, 1);
}

CONFIG_TEST(config_positional_arguments)
{
    struct config cfg;
    char err[256];
    char *argv[] = {(char *)"alice@example.com", (char *)"--leeway-s=3", (char *)"extra", NULL};
    const char *positional[2] = {NULL, NULL};
    int n = -1;

    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 1, argv, NULL, NULL, 0, NULL, err, sizeof(err)), CONFIG_ERROR);
    CHECK(strstr(err, "alice@example.com") != NULL);
    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 2, argv, NULL, positional, 2, &n, err, sizeof(err)), CONFIG_OK);
    CHECK_INT(n, 1);
    CHECK_STR(positional[0], "alice@example.com");
    CHECK_INT(cfg.leeway_s, 3);
    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 3, argv, NULL, positional, 1, &n, err, sizeof(err)),
              CONFIG_ERROR);
    CHECK(strstr(err, "extra") != NULL);
}

CONFIG_TEST(config_extra_flags_and_help)
{
    struct config cfg;
    char err[256];
    const char *email = NULL, *role = "user";
    const struct config_extra_flag extras[] = {
        {"email", &email, "the user's email"},
        {"role", &role, "user or admin"},
        {NULL, NULL, NULL},
    };
    char *argv[] = {(char *)"--email", (char *)"a@example.com", (char *)"--role=admin",
                    (char *)"--issuer=x", NULL};
    char *help[] = {(char *)"--leeway-s=3", (char *)"--help", NULL};

    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 4, argv, extras, NULL, 0, NULL, err, sizeof(err)), CONFIG_OK);
    CHECK_STR(email, "a@example.com");
    CHECK_STR(role, "admin");
    CHECK_STR(cfg.issuer, "x");
    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 2, help, NULL, NULL, 0, NULL, err, sizeof(err)), CONFIG_HELP);
}

/* Splits listen; returns 0 and "host|port", or -1. */
static int config_split(const char *listen, char *out, size_t size)
{
    char host[64];
    int port = -7;

    if (config_split_listen(listen, host, sizeof(host), &port) != 0)
        return -1;
    snprintf(out, size, "%s|%d", host, port);
    return 0;
}

TEST(config_split_listen_good)
{
    char out[96];

    CHECK_INT(config_split("127.0.0.1:8080", out, sizeof(out)), 0);
    CHECK_STR(out, "127.0.0.1|8080");
    CHECK_INT(config_split("localhost:1", out, sizeof(out)), 0);
    CHECK_STR(out, "localhost|1");
    CHECK_INT(config_split("[::1]:8080", out, sizeof(out)), 0);
    CHECK_STR(out, "::1|8080");
    CHECK_INT(config_split("[2001:db8::1]:65535", out, sizeof(out)), 0);
    CHECK_STR(out, "2001:db8::1|65535");
    CHECK_INT(config_split("0.0.0.0:0", out, sizeof(out)), 0);
    CHECK_STR(out, "0.0.0.0|0");
}

TEST(config_split_listen_bad)
{
    static const char *const bad[] = {
        "", "localhost", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:70000",
        "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:80 ",
        "127.0.0.1:80x", "127.0.0.1:0x50", "::1:80", "::1", "[::1]", "[::1]:", "[::1]80",
        "[::1:80", "[]:80", "[::1]:70000", "[::1]x:80",
    };
    char out[96];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (config_split(bad[i], out, sizeof(out)) != -1)
            test_failed(__FILE__, __LINE__, "\"%s\" was accepted as %s", bad[i], out);
}

TEST(config_split_listen_host_too_long)
{
    char listen[128], host[8];
    int port = -7;

    snprintf(listen, sizeof(listen), "%s:80", "abcdefgh");   /* 8 bytes + NUL > 8 */
    CHECK_INT(config_split_listen(listen, host, sizeof(host), &port), -1);
    CHECK_INT(port, -7);
    snprintf(listen, sizeof(listen), "%s:80", "abcdefg");
    CHECK_INT(config_split_listen(listen, host, sizeof(host), &port), 0);
    CHECK_STR(host, "abcdefg");
    CHECK_INT(port, 80);
}

TEST(config_cpu_count_positive)
{
    CHECK(config_cpu_count() >= 1);
}

/* ---- issue 10: selecting the backend, and never showing a password ---- */

static int backend_of(const char *url, const char *db, enum config_backend *backend,
                      char *target, size_t size)
{
    struct config cfg;
    char err[512];

    config_defaults(&cfg);
    snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", url);
    snprintf(cfg.db, sizeof(cfg.db), "%s", db);
    return config_backend(&cfg, backend, target, size, err, sizeof(err));
}

TEST(config_backend_forms)
{
    enum config_backend b;
    char t[CONFIG_MAX_STR];

    CHECK_INT(backend_of("", "", &b, t, sizeof(t)), 0);
    CHECK_INT(b, CONFIG_SQLITE);
    CHECK_STR(t, "./var/latch.db");
    CHECK_INT(backend_of("sqlite:/srv/l.db", "", &b, t, sizeof(t)), 0);
    CHECK_INT(b, CONFIG_SQLITE);
    CHECK_STR(t, "/srv/l.db");
    CHECK_INT(backend_of("sqlite:/srv/l.db", "/srv/l.db", &b, t, sizeof(t)), 0);
    CHECK_INT(backend_of("sqlite:/srv/l.db", "/other.db", &b, t, sizeof(t)), -1);
    CHECK_INT(backend_of("sqlite:", "", &b, t, sizeof(t)), -1);
    CHECK_INT(backend_of("postgres://latch@db/latch", "", &b, t, sizeof(t)), 0);
    CHECK_INT(b, CONFIG_POSTGRES);
    CHECK_INT(backend_of("postgresql://latch@db/latch", "", &b, t, sizeof(t)), 0);
    CHECK_INT(backend_of("host=/run/postgresql dbname=latch", "", &b, t, sizeof(t)), 0);
    CHECK_INT(b, CONFIG_POSTGRES);
    CHECK_STR(t, "host=/run/postgresql dbname=latch");
    CHECK_INT(backend_of("postgres://latch@db/latch", "/x.db", &b, t, sizeof(t)), -1);
    CHECK_INT(backend_of("mysql://db/latch", "", &b, t, sizeof(t)), -1);
    CHECK_INT(backend_of("latch.db", "", &b, t, sizeof(t)), -1);
}

TEST(config_redact_url_masks_passwords)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"postgres://latch:s3cret@db:5432/latch", "postgres://latch:***@db:5432/latch"},
        {"postgresql://u:p%40ss@h/d?sslmode=verify-full", "postgresql://u:***@h/d?sslmode=verify-full"},
        {"postgres://latch@db/latch", "postgres://latch@db/latch"},
        {"postgres://db/latch?password=x1&sslmode=require", "postgres://db/latch?password=***&sslmode=require"},
        {"host=db password=s3cret dbname=latch", "host=db password=*** dbname=latch"},
        {"host=db password = 'a b\\' c' dbname=latch", "host=db password = *** dbname=latch"},
        {"password=*", "password=***"},
        {"host=db dbname=latch", "host=db dbname=latch"},
        {"host=db passwordfile=/x dbname=latch", "host=db passwordfile=/x dbname=latch"},
    };
    char out[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config_redact_url(cases[i].in, out, sizeof(out));
        CHECK_STR(out, cases[i].out);
    }
    CHECK_INT(config_url_has_password("postgres://latch:x@db/l"), 1);
    CHECK_INT(config_url_has_password("postgres://latch@db/l"), 0);
    CHECK_INT(config_url_has_password("host=db password=x"), 1);
    CHECK_INT(config_url_has_password("host=db passfile=/p"), 0);
}

TEST(config_database_url_flag_refuses_a_password)
{
    struct config cfg;
    char err[512] = "";
    char *argv[] = {"--database-url", "postgres://latch:s3cret@db/latch"};
    char *ok[] = {"--database-url", "postgres://latch@db/latch"};

    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 2, argv, NULL, NULL, 0, NULL, err, sizeof(err)), CONFIG_ERROR);
    CHECK(strstr(err, "s3cret") == NULL);
    CHECK(strstr(err, "password") != NULL);
    config_defaults(&cfg);
    CHECK_INT(config_load(&cfg, 2, ok, NULL, NULL, 0, NULL, err, sizeof(err)), CONFIG_OK);
}

static char last_unknown[64], last_closest[64];
static void note_unknown(void *ctx, const char *name, const char *closest)
{
    (*(int *)ctx)++;
    snprintf(last_unknown, sizeof(last_unknown), "%s", name);
    snprintf(last_closest, sizeof(last_closest), "%s", closest);
}

CONFIG_TEST(config_unknown_env_names_the_closest_known)
{
    char *env[] = {"LATCH_LISTEN=1", "LATCH_JWT_SECRET=x", "LATCH_METRICS_TOKEN=y", "PATH=/bin",
                   "LATCH_LISTN=127.0.0.1:1", NULL};
    char *env2[] = {"LATCH_METRICS_TOKN=z", NULL};
    int calls = 0;

    CHECK_INT((int64_t)config_unknown_env(env, note_unknown, &calls), 1);
    CHECK_INT(calls, 1);
    CHECK_STR(last_unknown, "LATCH_LISTN");
    CHECK_STR(last_closest, "LATCH_LISTEN");
    CHECK_INT((int64_t)config_unknown_env(env2, note_unknown, &calls), 1);
    CHECK_STR(last_closest, "LATCH_METRICS_TOKEN");
}

CONFIG_TEST(config_flags_apply_to_their_commands)
{
    struct config cfg;
    char err[256];
    char *listen[] = {"--listen", "127.0.0.1:1", NULL};
    char *data[] = {"--data-dir", "/tmp/x", NULL};

    config_defaults(&cfg);
    CHECK_INT(config_load_command(&cfg, "user add", 2, listen, NULL, NULL, 0, NULL, err,
                                  sizeof(err)), CONFIG_ERROR);
    CHECK(strstr(err, "--listen does not apply to latch user add") != NULL);
    CHECK_INT(config_load_command(&cfg, "user add", 2, data, NULL, NULL, 0, NULL, err,
                                  sizeof(err)), CONFIG_OK);
    CHECK_INT(config_load_command(&cfg, "serve", 2, listen, NULL, NULL, 0, NULL, err,
                                  sizeof(err)), CONFIG_OK);
}
