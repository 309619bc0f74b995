/*
 * main.c - the latch command: serve | user add | token decode | version.
 */
#include "api/access.h"
#include "api/app.h"
#include "api/client.h"
#include "api/events.h"
#include "api/router.h"
#include "auth/credentials.h"
#include "auth/keyring.h"
#include "auth/keys.h"
#include "auth/pwmem.h"
#include "cli/cli.h"
#include "config.h"
#include "http/server.h"
#include "http/tls.h"
#include "mail/outbox.h"
#include "mail/message.h"
#include "mail/smtp.h"
#include "latch_limits.h"
#include "latch_version.h"
#include "util/b64url.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static void usage(void)
{
    printf("latch %s - a small, fast authentication server\n\n"
           "usage:\n"
           "  latch serve [flags]                 run the server (see latch serve --help)\n"
           "  latch user add --email E [--role user|admin]\n"
           "                                      create a user; password on stdin\n"
           "  latch user logout --email E         end every session and token of a user\n"
           "  latch user import FILE [--strict]   bring users (JSON lines) with their hashes\n"
           "  latch user export FILE [--drop-mfa] write every user as JSON lines (0600)\n"
           "  latch user list [--email SUBSTRING] [--json]\n"
           "  latch user show|delete|disable|enable|unlock --email E\n"
           "  latch user set-role --email E --role user|admin\n"
           "  latch user mfa-reset --email E      remove a user's second factor (TOTP,\n"
           "                                      recovery codes) and end their logins\n"
           "  latch mail list                     print the mails waiting in the outbox\n"
           "                                      (their links too: needs the master key)\n"
           "  latch key rotate | list             add a signing key (published first) / show keys\n"
           "  latch key master-init FILE          create the master key for PostgreSQL mode\n"
           "  latch db migrate                    apply the database's schema migrations\n"
           "  latch db copy --from URL --to URL   copy every table (and the keys) between\n"
           "                                      SQLite and PostgreSQL\n"
           "  latch token decode TOKEN            print a token's header and payload, and\n"
           "                                      whether it verifies with this data dir's key\n"
           "  latch version | --version          the version and the commit it was built from\n"
           "\n`latch <command> --help` lists that command's flags.\n",
           LATCH_VERSION);
}

static enum log_level parse_log_level(const char *s)
{
    if (strcmp(s, "error") == 0)
        return LOG_ERROR;
    if (strcmp(s, "warn") == 0)
        return LOG_WARN;
    if (strcmp(s, "debug") == 0)
        return LOG_DEBUG;
    return LOG_INFO;
}

/* A misspelt LATCH_* variable would be ignored without a word. */
static void warn_unknown_env(void *ctx, const char *name, const char *closest)
{
    (void)ctx;
    log_event(LOG_WARN, "unknown environment variable", LOG_STR("name", name),
              LOG_STR("did_you_mean", closest));
}

/* Loads config for a subcommand; prints the error and returns -1 on failure,
 * 1 after --help. */
static int load_config(struct config *cfg, const char *command, int argc, char **argv,
                       const struct config_extra_flag *extras, const char **positional,
                       int max_positional, int *n_positional)
{
    char err[512];
    int rc;

    config_defaults(cfg);
    rc = config_load_command(cfg, command, argc, argv, extras, positional, max_positional,
                             n_positional, err, sizeof(err));
    if (rc == CONFIG_HELP) {
        config_usage(command, extras);
        return 1;
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "latch %s: %s\n", command, err);
        return -1;
    }
    pwmem_set_huge_pages(cfg->argon2_huge_pages != 0);
    log_set_level(parse_log_level(cfg->log_level));
    log_set_format(strcmp(cfg->log_format, "json") == 0 ? LOG_FORMAT_JSON
                   : strcmp(cfg->log_format, "text") == 0 || isatty(STDERR_FILENO)
                       ? LOG_FORMAT_TEXT
                       : LOG_FORMAT_JSON);
    (void)config_unknown_env(environ, warn_unknown_env, NULL);
    return 0;
}

/* Raises the file-descriptor limit to fit the connection limit. */
static unsigned fit_fd_limit(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max_connections;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        unsigned fit = rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64) : 64;
        log_warn("file-descriptor limit %llu is below what %u connections need; "
                 "accepting at most %u",
                 (unsigned long long)rl.rlim_cur, max_connections, fit);
        return fit;
    }
    return max_connections;
}

static int is_loopback(const char *host)
{
    struct in_addr a4;

    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return 0;
}

/*
 * The follower: once a second it puts on disk the logins and guesses the
 * store answered before their sync (store.h, flush), reads revocations
 * other processes logged in the store (the CLI, another latch), and once a
 * minute it purges rows whose tokens have all expired.
 */
struct follower {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, started;
    unsigned events;             /* what the store announced since the last round */
    struct app *app;
};

static void on_store_event(void *ctx, enum store_event event, int64_t user_id)
{
    struct follower *f = ctx;

    f->events |= (unsigned)event;
    if (event == STORE_EVENT_USER)
        app_user_changed(f->app, user_id);
    else if (event == STORE_EVENT_RESYNC)
        usercache_clear(f->app->usercache);
}

/* One round: revocations other processes logged, the key set, and once a
 * minute the purge of rows whose tokens have all expired. */
static void follow_once(struct follower *f, int64_t *last_purge)
{
    int64_t now = app_now();
    unsigned events = f->events;
    char err[256];
    int rc;

    f->events = 0;
    if (store_flush(f->app->store) != STORE_OK)
        log_error("cannot sync the database's log");
    (void)revocation_sync(f->app->revocation, now);
    rc = keyring_reload(f->app->keyring, (events & (STORE_EVENT_KEYS | STORE_EVENT_RESYNC)) != 0,
                        err, sizeof(err));
    if (rc > 0) {
        tokcache_clear(f->app->tokcache);
        log_info("keys reloaded");
    } else if (rc < 0) {
        log_error("key reload: %s", err);
    }
    if (now - *last_purge >= 60) {
        (void)STORE_CALL(f->app->store, purge, now);
        *last_purge = now;
    }
}

/*
 * The follower keeps this process in step with the store.  SQLite: a round
 * every second (the CLI or another latch on the file may have written).
 * PostgreSQL: it waits for the store's announcements (LISTEN/NOTIFY), so a
 * revocation or key change made on another instance arrives in
 * milliseconds, and still does a round every half second: the revocation
 * log's sequence numbers make a round catch up whatever a lost connection
 * missed.
 */
static void *follower_main(void *p)
{
    struct follower *f = p;
    struct timespec deadline;
    int64_t last_purge = 0;

    pthread_mutex_lock(&f->lock);
    while (!f->stop) {
        if (f->app->store_remote) {
            pthread_mutex_unlock(&f->lock);
            (void)STORE_CALL(f->app->store, wait_events, 500, on_store_event, f);
            pthread_mutex_lock(&f->lock);
        } else {
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 1;
            pthread_cond_timedwait(&f->wake, &f->lock, &deadline);
        }
        if (f->stop)
            break;
        pthread_mutex_unlock(&f->lock);
        follow_once(f, &last_purge);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static void follower_start(struct follower *f, struct app *app)
{
    memset(f, 0, sizeof(*f));
    f->app = app;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    f->started = pthread_create(&f->thread, NULL, follower_main, f) == 0;
}

static void follower_stop(struct follower *f)
{
    if (!f->started)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
}

/* Drops root for user name: groups, gid, uid, in that order, and checks
 * that root cannot be regained. */
static int drop_privileges(const char *name)
{
    struct passwd *pw = getpwnam(name);

    if (pw == NULL) {
        log_error("--user / LATCH_USER: no such user \"%s\"", name);
        return -1;
    }
    if (geteuid() != 0) {
        log_error("--user / LATCH_USER needs latch to be started as root");
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_error("cannot switch to user %s: %s", name, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        log_error("dropped to %s but could regain root; refusing to run", name);
        return -1;
    }
    return 0;
}

/* After a drop: what latch reads and writes must belong to the user it now
 * runs as (a file of root's would be either unreadable or a way back). */
static int check_owner(const char *what, const char *path)
{
    struct stat st;

    if (path == NULL || path[0] == '\0' || stat(path, &st) != 0)
        return 0;   /* missing: created by the user later, or reported on use */
    if (st.st_uid != getuid()) {
        log_error("%s %s belongs to uid %u, not to the user latch runs as (uid %u): chown it",
                  what, path, (unsigned)st.st_uid, (unsigned)getuid());
        return -1;
    }
    return 0;
}


static void prepare_dummy_job(void *arg)
{
    pwhash_dummy_prepare(arg);
    /* Nothing else is hashed at start: a just-started server holds no
     * Argon2 area (the idle release would come 250 ms later). */
    pwmem_release();
}
static int cmd_serve(int argc, char **argv)
{
    struct config cfg;
    struct app app;
    struct cli_store cs;
    struct work_pool *pool = NULL, *store_pool = NULL, *mail_pool = NULL;
    struct keyring *keyring = NULL;
    struct keyring_options kopts;
    struct tokcache *tokcache = NULL;
    struct http_server *server = NULL;
    struct revocation *revocation = NULL;
    struct follower follower;
    struct http_server_options opts;
    struct tls_files tls;
    char host[CONFIG_MAX_STR], err[512], warning[256], db_path[PATH_MAX];
    sigset_t signals;
    int port, hash_workers, threads, db_pool, sig, rc, status = 1, listen_fd = -1;
    int metrics_fd = -1, metrics_port = 0;
    struct http_server *metrics_server = NULL;
    struct outbox_sender *outbox = NULL;
    struct outbox_sender_config ocfg;
    char smtp_password[LATCH_MAX_SMTP_PASSWORD_BYTES + 1] = "";

    memset(&cs, 0, sizeof(cs));
    rc = load_config(&cfg, "serve", argc, argv, NULL, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    config_split_listen(cfg.listen, host, sizeof(host), &port);
    umask(077);   /* the database and key files are for latch alone */

    memset(&app, 0, sizeof(app));
    memset(&tls, 0, sizeof(tls));
    if (app_configure(&app, &cfg, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return 2;
    }
    if (!pwhash_params_valid(&app.pwhash)) {
        log_error("LATCH_ARGON2_MEMORY_KIB / LATCH_ARGON2_ITERATIONS are outside libsodium's "
                  "bounds (memory at least 8 KiB)");
        return 2;
    }
    if (cfg.argon2_memory_kib < LATCH_DEFAULT_ARGON2_MEMORY_KIB ||
        cfg.argon2_iterations < LATCH_DEFAULT_ARGON2_ITERATIONS)
        log_warn("Argon2id parameters (memory %lld KiB, %lld iterations) are below the OWASP "
                 "minimum (19456 KiB, 2); use them for tests only",
                 (long long)cfg.argon2_memory_kib, (long long)cfg.argon2_iterations);

    if (cfg.argon2_huge_pages) {
        const char *thp = pwmem_kernel_mode();
        if (strcmp(thp, "always") != 0 && strcmp(thp, "madvise") != 0)
            log_warn("LATCH_ARGON2_HUGE_PAGES: transparent huge pages are %s in this kernel, so "
                     "Argon2id runs on 4 KiB pages (logins cost several times the CPU where "
                     "TLB misses dominate)", thp);
    }

    /* Signals are taken by sigwait below, never by a worker thread. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Bind first: with --user, root is needed for that alone. */
    if (http_listen(host, port, &listen_fd, &port, err, sizeof(err)) != 0 ||
        (cfg.metrics_listen[0] != '\0' &&
         access_metrics_listen(&cfg, &metrics_fd, &metrics_port, err, sizeof(err)) != 0)) {
        log_error("%s", err);
        goto cleanup;
    }
    if (cfg.user[0] != '\0') {
        char keys_path[PATH_MAX];
        snprintf(keys_path, sizeof(keys_path), "%s/%s", cfg.data_dir, KEYRING_FILE);
        if (drop_privileges(cfg.user) != 0 || check_owner("data directory", cfg.data_dir) != 0 ||
            check_owner("key file", keys_path) != 0 ||
            check_owner("database", config_db_path(&cfg, db_path, sizeof(db_path))) != 0 ||
            check_owner("LATCH_TLS_KEY", cfg.tls_key) != 0 ||
            check_owner("LATCH_JWT_KEY_FILE", cfg.jwt_key_file) != 0 ||
            check_owner("LATCH_MASTER_KEY_FILE", cfg.master_key_file) != 0)
            goto cleanup;
    }
    /* PostgreSQL: a pool of connections that the store workers share, each
     * call bounded by a request's deadline. */
    db_pool = cfg.database_pool > 0 ? (int)cfg.database_pool : 2 * config_cpu_count();
    hash_workers = cfg.hash_workers > 0 ? (int)cfg.hash_workers : config_cpu_count();
    /* Connections: one per store worker, per hashing worker (a login
     * commits from there), and for the follower, the mail sender and the
     * mail worker, so none waits for another. */
    if (cli_open_store(&cfg, CLI_REQUEST_TIMEOUT_MS, db_pool + hash_workers + 3, 1, &cs) != 0)
        goto cleanup;
    app.store = cs.store;
    app.store_remote = cs.remote;
    /* TOTP secrets and queued mail are sealed under the master key; in
     * SQLite mode it is made here while nothing sealed exists. */
    if (cli_master_key(&cfg, &cs, 1) != 0 || !cs.has_master_key) {
        if (!cs.has_master_key)
            log_error("no master key: TOTP secrets and mail cannot be sealed");
        goto cleanup;
    }
    app.has_master_key = 1;
    memcpy(app.master_key, cs.master_key, sizeof(app.master_key));
    /* The recovery-code key: derived, never stored (auth/recovery.h). */
    crypto_kdf_derive_from_key(app.recovery_key, sizeof(app.recovery_key), 1, "latchrec",
                               app.master_key);
    if (cfg.smtp_url[0] != '\0') {
        enum smtp_tls policy;
        /* libcurl is opened and initialised only when mail is configured,
         * here, before any thread that could send starts (mail/smtp.h). */
        if (smtp_global_init() != SMTP_OK) {
            const char *why = smtp_load_error();
            log_error("LATCH_SMTP_URL is set but libcurl cannot send mail: %s",
                      why[0] != '\0' ? why : "it failed to initialise or lacks TLS");
            goto cleanup;
        }
        if (smtp_tls_policy(cfg.smtp_url, (int)cfg.smtp_insecure, &policy) != SMTP_OK) {
            log_error("LATCH_SMTP_URL: expected smtp://host[:port] (STARTTLS) or "
                      "smtps://host[:port], without credentials, query or fragment");
            goto cleanup;
        }
        if (message_check_address(cfg.mail_from) != MESSAGE_OK) {
            log_error("LATCH_MAIL_FROM: \"%.64s\" is not a plain address like "
                      "no-reply@example.com", cfg.mail_from);
            goto cleanup;
        }
        if (cfg.smtp_user[0] != '\0') {
            if (cfg.smtp_password_file[0] == '\0') {
                log_error("LATCH_SMTP_USER needs LATCH_SMTP_PASSWORD_FILE");
                goto cleanup;
            }
            if (smtp_read_password(cfg.smtp_password_file, smtp_password,
                                   sizeof(smtp_password), err, sizeof(err)) != SMTP_OK) {
                log_error("LATCH_SMTP_PASSWORD_FILE: %s", err);
                goto cleanup;
            }
        }
    } else {
        log_warn("LATCH_SMTP_URL is not set: no mail is sent; verification and reset mails "
                 "wait in the outbox (`latch mail list` shows them)");
    }
    cli_keyring_options(&cfg, &cs, &kopts);
    if (keyring_open(&keyring, &kopts, 1, err, sizeof(err), warning, sizeof(warning)) != 0) {
        log_error("%s", err);
        goto cleanup;
    }
    if (warning[0] != '\0')
        log_warn("%s", warning);
    app.keyring = keyring;
    log_info("signing with %s (%s)", jws_alg_name(keyring_alg(keyring)),
             kopts.alg_explicit ? "LATCH_JWT_ALG" : "recorded with the keys");
    /* The secret now lives in OpenSSL's MAC context: wipe the environment's
     * copy so it is not left readable in this process's memory or passed on. */
    if (kopts.env_secret != NULL) {
        sodium_memzero((char *)kopts.env_secret, strlen(kopts.env_secret));
        unsetenv("LATCH_JWT_SECRET");
    }
    if (tokcache_new(&tokcache, (size_t)cfg.token_cache_entries) != 0 ||
        usercache_new(&app.usercache, LATCH_USER_CACHE_ENTRIES, LATCH_USER_CACHE_TTL_MS) != 0) {
        log_error("cannot allocate the token and user caches");
        goto cleanup;
    }
    app.tokcache = tokcache;
    if (cli_refresh_key(&cfg, &cs, 1, app.refresh_key) != 0)
        goto cleanup;
    if (revocation_new(&revocation, cs.store) != 0 ||
        revocation_sync(revocation, app_now()) != 0) {
        log_error("cannot load the revocation log from the store");
        goto cleanup;
    }
    app.revocation = revocation;
    if (ratelimit_new(&app.ratelimit, cfg.ip_rate_per_min, cfg.ip_rate_burst,
                      LATCH_MAX_RATE_KEYS) != 0) {
        log_error("cannot allocate the per-address rate limiter");
        goto cleanup;
    }

    /* nice +10: hashing yields the CPU to the HTTP threads under load. */
    if (work_pool_new(&pool, hash_workers, (int)cfg.hash_queue, 10) != WORK_OK) {
        log_error("cannot start the hashing workers");
        goto cleanup;
    }
    app.pool = pool;
    /* A hashing worker keeps its Argon2 area from one hash to the next
     * (auth/pwmem.h) while logins keep coming, and unmaps it when it has
     * waited this long for the next: an idle server holds none. */
    work_pool_on_idle(pool, pwmem_release, LATCH_HASH_AREA_IDLE_MS);
    /* The dummy hash (what a login for an unknown email verifies against)
     * costs one Argon2id hash: a hashing worker makes it, off the start-up
     * path; a login that needs it sooner waits for it on its own worker. */
    if (work_pool_submit(pool, prepare_dummy_job, &app.pwhash) != WORK_OK)
        pwhash_dummy_prepare(&app.pwhash);
    /* Handlers that reach the database run here, never on an HTTP thread;
     * on PostgreSQL one worker per pooled connection, so none waits for a
     * connection.  On SQLite the routes that write run here too (a writer
     * waits for the write lock and the fsync), on one worker: the writes
     * take turns on the write gate anyway, and one connection making
     * nearly all of them (a login's among them) keeps its page cache (a
     * commit from another connection empties it: about 23 page reads per
     * login, from the log or the file) and sleeps less.  Under a login
     * load with cheap Argon2 that is about 0.05 ms less CPU per login and
     * 12 fewer futex calls (bench/changes.md).
     * Reads of /profile and /verify stay inline. */
    if (work_pool_new(&store_pool, cs.remote ? db_pool : 1, LATCH_STORE_QUEUE, 0) != WORK_OK) {
        log_error("cannot start the database workers");
        goto cleanup;
    }
    app.store_pool = store_pool;
    if (work_pool_new(&mail_pool, 1, LATCH_MAIL_JOB_QUEUE, 0) != WORK_OK) {
        log_error("cannot start the mail worker");
        goto cleanup;
    }
    app.mail_pool = mail_pool;

    memset(&ocfg, 0, sizeof(ocfg));
    ocfg.store = app.store;
    ocfg.key = app.master_key;
    ocfg.smtp.url = cfg.smtp_url;
    ocfg.smtp.ca_file = cfg.smtp_ca_file[0] != '\0' ? cfg.smtp_ca_file : NULL;
    ocfg.smtp.user = cfg.smtp_user;
    ocfg.smtp.password = smtp_password;
    ocfg.smtp.insecure = (int)cfg.smtp_insecure;
    ocfg.smtp.from = cfg.mail_from;
    if (outbox_sender_start(&outbox, &ocfg) != 0) {
        log_error("cannot start the mail sender");
        goto cleanup;
    }
    app.outbox = outbox;
    threads = cfg.threads > 0 ? (int)cfg.threads : config_cpu_count();
    memset(&opts, 0, sizeof(opts));
    if (cfg.tls_cert[0] != '\0') {
        if (tls_files_load(&tls, cfg.tls_cert, cfg.tls_key, err, sizeof(err)) != 0) {
            log_error("TLS: %s", err);
            goto cleanup;
        }
        opts.tls_cert_pem = tls.cert_pem;
        opts.tls_key_pem = tls.key_pem;
    }
    opts.listen_fd = listen_fd;
    opts.threads = threads;
    opts.max_connections = fit_fd_limit((unsigned)cfg.max_connections);
    opts.max_conn_per_ip = (unsigned)cfg.max_conn_per_ip;
    opts.idle_timeout_s = (unsigned)cfg.idle_timeout_s;
    opts.header_timeout_s = (unsigned)(cfg.header_timeout_s != 0 ? cfg.header_timeout_s
                                                                  : cfg.idle_timeout_s);
    opts.body_timeout_s = (unsigned)cfg.body_timeout_s;
    opts.handler = access_handle;
    opts.decorate = access_decorate;
    opts.complete = access_complete;
    opts.before_wait = access_before_wait;
    opts.request_ctx_bytes = access_ctx_bytes();
    opts.handler_ctx = &app;
    if (http_server_start(&server, &opts, err, sizeof(err)) != 0) {
        log_error("%s", err);
        goto cleanup;
    }
    listen_fd = -1;   /* the server's now */
    app.server = server;
    if (!is_loopback(host) && opts.tls_cert_pem == NULL)
        log_warn("listening on a non-loopback address without TLS: put latch behind a "
                 "TLS-terminating proxy (see LATCH_TRUSTED_PROXIES) or tokens travel in clear");
    log_info("listening on %s://%s%s%s:%d (%d HTTP threads, %d hashing workers)",
             cfg.tls_cert[0] != '\0' ? "https" : "http",
             strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
             http_server_port(server), threads, hash_workers);
    if (cfg.ui)
        log_info("lesson page (LATCH_UI=1): open %s://%s%s%s:%d/",
                 cfg.tls_cert[0] != '\0' ? "https" : "http",
                 strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
                 http_server_port(server));
    if (cs.remote) {
        char target[CONFIG_MAX_STR], shown[CONFIG_MAX_STR];
        enum config_backend backend;
        (void)config_backend(&cfg, &backend, target, sizeof(target), err, sizeof(err));
        config_redact_url(target, shown, sizeof(shown));
        log_info("database: PostgreSQL %s (%d connections)", shown, db_pool);
    } else {
        log_info("data in %s (database %s)", cfg.data_dir, config_db_path(&cfg, db_path,
                                                                           sizeof(db_path)));
    }
    if (metrics_fd >= 0) {
        if (access_metrics_start(&app, metrics_fd, &metrics_server, err, sizeof(err)) != 0) {
            log_error("LATCH_METRICS_LISTEN: %s", err);
            goto cleanup;
        }
        metrics_fd = -1;
        config_split_listen(cfg.metrics_listen, host, sizeof(host), &port);
        log_info("/metrics served apart on http://%s%s%s:%d (not on the public listener)",
                 strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
                 metrics_port);
    }

    follower_start(&follower, &app);
    for (;;) {
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (keyring_reload(keyring, 1, err, sizeof(err)) < 0) {
                log_error("key reload: %s", err);
            } else {
                tokcache_clear(tokcache);
                log_info("keys reloaded");
            }
            continue;
        }
        break;
    }
    log_info("shutting down: finishing in-flight requests");
    follower_stop(&follower);
    http_server_quiesce(server);
    /* Each runs its queued jobs, and each job answers its request.  Store
     * jobs queue hashing jobs and hashing jobs queue login commits, so both
     * pools are drained (and then refuse jobs: a refused commit runs on the
     * hashing worker) before either is freed. */
    work_pool_stop(store_pool);
    work_pool_stop(pool);
    work_pool_free(store_pool);
    store_pool = NULL;
    work_pool_free(pool);
    pool = NULL;
    work_pool_free(mail_pool);   /* runs the queued lookups: their mails are queued */
    mail_pool = NULL;
    http_server_stop(server, LATCH_SHUTDOWN_GRACE_S);
    server = NULL;
    app.outbox = NULL;
    outbox_sender_stop(outbox);   /* finishes the mail being sent */
    outbox = NULL;
    http_server_stop(metrics_server, 0);
    metrics_server = NULL;
    status = 0;

cleanup:
    if (server != NULL)
        http_server_stop(server, 0);
    outbox_sender_stop(outbox);
    work_pool_free(store_pool);
    if (metrics_server != NULL)
        http_server_stop(metrics_server, 0);
    if (metrics_fd >= 0)
        close(metrics_fd);
    work_pool_free(pool);
    work_pool_free(mail_pool);
    if (listen_fd >= 0)
        close(listen_fd);
    tls_files_free(&tls);
    keyring_free(keyring);
    tokcache_free(tokcache);
    usercache_free(app.usercache);
    revocation_free(revocation);
    ratelimit_free(app.ratelimit);
    sodium_memzero(app.refresh_key, sizeof(app.refresh_key));
    sodium_memzero(app.master_key, sizeof(app.master_key));
    sodium_memzero(app.recovery_key, sizeof(app.recovery_key));
    sodium_memzero(smtp_password, sizeof(smtp_password));
    cli_close_store(&cs);
    return status;
}

/* Reads one line from stdin; on a terminal asks twice without echo. */
static int read_password(char *buf, size_t size, size_t *len)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char again[LATCH_MAX_PASSWORD_BYTES + 2];
    ssize_t n;
    int rc = -1;

    if (tty) {
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password: ");
    }
    if (fgets(buf, (int)size, stdin) == NULL)
        goto out;
    n = (ssize_t)strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(stdin))
        goto out;        /* longer than the buffer */
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    *len = (size_t)n;
    rc = 0;
    if (tty) {
        fprintf(stderr, "\nRepeat: ");
        if (fgets(again, sizeof(again), stdin) == NULL)
            rc = -1;
        else {
            again[strcspn(again, "\r\n")] = '\0';
            if (strcmp(again, buf) != 0) {
                fprintf(stderr, "\nlatch: the passwords differ\n");
                rc = -1;
            }
        }
        sodium_memzero(again, sizeof(again));
    }
out:
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    return rc;
}

static int cmd_user_add(int argc, char **argv)
{
    const char *email_arg = NULL, *role = "user", *why;
    struct config_extra_flag extras[] = {
        {"email", &email_arg, "the user's email address (required)"},
        {"role", &role, "user or admin (user)"},
        {NULL, NULL, NULL},
    };
    struct config cfg;
    struct cli_store cs;
    struct store_user user;
    struct pwhash_params params;
    char email[LATCH_MAX_EMAIL_BYTES + 1], password[LATCH_MAX_PASSWORD_BYTES + 2];
    char hash[PWHASH_STR_BYTES];
    size_t password_len = 0;
    int rc, status = 1;

    memset(&cs, 0, sizeof(cs));
    rc = load_config(&cfg, "user add", argc, argv, extras, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (email_arg == NULL) {
        fprintf(stderr, "latch user add: --email is required\n");
        return 2;
    }
    if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0) {
        fprintf(stderr, "latch user add: --role must be user or admin\n");
        return 2;
    }
    if (credentials_normalize_new_email(email_arg, strlen(email_arg), email, &why) != 0) {
        fprintf(stderr, "latch user add: --email: %s\n", why);
        return 2;
    }
    if (read_password(password, sizeof(password), &password_len) != 0) {
        fprintf(stderr, "latch user add: could not read the password from stdin (one line, at "
                        "most %d bytes)\n", LATCH_MAX_PASSWORD_BYTES);
        goto cleanup;
    }
    if (credentials_check_password(password_len, &why) != 0) {
        fprintf(stderr, "latch user add: %s\n", why);
        goto cleanup;
    }
    params.memory_kib = (uint64_t)cfg.argon2_memory_kib;
    params.iterations = (uint64_t)cfg.argon2_iterations;
    if (pwhash_hash(&params, password, password_len, hash) != PWHASH_OK) {
        fprintf(stderr, "latch user add: password hashing failed\n");
        goto cleanup;
    }
    umask(077);
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 1, &cs) != 0)
        goto cleanup;
    rc = store_user_create(cs.store, email, hash, role, app_now(), &user);
    if (rc == STORE_ECONFLICT) {
        fprintf(stderr, "latch user add: %s is already registered\n", email);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user add: %s\n", store_strerror(rc));
        goto cleanup;
    }
    printf("created user %lld <%s> with role %s\n", (long long)user.id, user.email, user.role);
    status = 0;
cleanup:
    sodium_memzero(password, sizeof(password));
    cli_close_store(&cs);
    return status;
}

/* latch user logout --email E: ends every session and token of a user, as
 * POST /admin/users/{id}/logout does; a running server on the same store
 * follows the revocation log within a second. */
static int cmd_user_logout(int argc, char **argv)
{
    const char *email_arg = NULL, *why;
    struct config_extra_flag extras[] = {
        {"email", &email_arg, "the user's email address (required)"},
        {NULL, NULL, NULL},
    };
    struct config cfg;
    struct cli_store cs;
    struct store_user user;
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    int64_t now = app_now();
    int rc, status = 1;

    memset(&cs, 0, sizeof(cs));
    rc = load_config(&cfg, "user logout", argc, argv, extras, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (email_arg == NULL ||
        credentials_normalize_email(email_arg, strlen(email_arg), email, &why) != 0) {
        fprintf(stderr, "latch user logout: --email with a valid address is required\n");
        return 2;
    }
    umask(077);
    if (cli_open_store(&cfg, CLI_COMMAND_TIMEOUT_MS, 1, 1, &cs) != 0)
        return 1;
    rc = store_user_by_email(cs.store, email, &user);
    if (rc == STORE_ENOTFOUND) {
        fprintf(stderr, "latch user logout: no user %s\n", email);
        goto cleanup;
    }
    if (rc == STORE_OK)
        rc = STORE_CALL(cs.store, user_revoke, user.id, NULL, now, now,
                        now + cfg.access_ttl_s + 2 * cfg.leeway_s + 1);
    if (rc != STORE_OK) {
        fprintf(stderr, "latch user logout: %s\n", store_strerror(rc));
        goto cleanup;
    }
    events_token_revoked(user.id, "all", "cli");
    printf("ended every session and token of user %lld <%s>\n", (long long)user.id, email);
    status = 0;
cleanup:
    cli_close_store(&cs);
    return status;
}

static void print_part(const char *label, const char *b64, size_t len)
{
    unsigned char buf[LATCH_MAX_JWS_PART_BYTES];
    size_t n;
    json_t *obj;
    char *text;

    if (b64url_decode(buf, sizeof(buf), &n, b64, len) != 0) {
        printf("%s: (not valid base64url)\n", label);
        return;
    }
    obj = json_loadb((const char *)buf, n, 0, NULL);
    text = obj != NULL ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text != NULL)
        printf("%s:\n%s\n", label, text);
    else
        printf("%s: (not JSON) %.*s\n", label, (int)n, (const char *)buf);
    free(text);
    json_decref(obj);
}

/* The store the keys live in: none for SQLite (keys.json in the data dir),
 * the database for PostgreSQL.  Returns 0 or -1 (logged). */
static int open_key_store(const struct config *cfg, int migrate, struct cli_store *cs)
{
    enum config_backend backend;
    char target[CONFIG_MAX_STR], err[512];

    memset(cs, 0, sizeof(*cs));
    if (config_backend(cfg, &backend, target, sizeof(target), err, sizeof(err)) != 0 ||
        backend == CONFIG_SQLITE)
        return 0;
    return cli_open_store(cfg, CLI_COMMAND_TIMEOUT_MS, 1, migrate, cs);
}

static int cmd_token_decode(int argc, char **argv)
{
    const char *positional[1];
    struct cli_store cs;
    struct config cfg;
    struct keyring *keyring = NULL;
    struct keyring_options kopts;
    struct tokens_policy policy;
    struct token_claims claims;
    json_t *payload = NULL;
    const char *token, *dot1, *dot2;
    char err[512], warning[256];
    int n_pos = 0, rc;

    rc = load_config(&cfg, "token decode", argc, argv, NULL, positional, 1, &n_pos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (n_pos != 1) {
        fprintf(stderr, "latch token decode: give the token as the argument\n");
        return 2;
    }
    token = positional[0];
    dot1 = strchr(token, '.');
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL) {
        fprintf(stderr, "latch token decode: not a JWS compact token (header.payload.signature)\n");
        return 1;
    }
    print_part("header", token, (size_t)(dot1 - token));
    print_part("payload", dot1 + 1, (size_t)(dot2 - dot1 - 1));

    if (open_key_store(&cfg, 0, &cs) != 0) {
        printf("signature: not checked (the database could not be opened)\n");
        return 0;
    }
    cli_keyring_options(&cfg, &cs, &kopts);
    if (keyring_open(&keyring, &kopts, 0, err, sizeof(err), warning, sizeof(warning)) != 0) {
        printf("signature: not checked (%s)\n", err);
        cli_close_store(&cs);
        return 0;
    }
    rc = keyring_verify_signature(keyring, token, strlen(token), app_now(), &payload);
    printf("signature: %s\n", rc == JWS_OK ? "valid" : jws_strerror(rc));
    if (rc == JWS_OK) {
        policy.issuer = cfg.issuer;
        policy.access_ttl_s = cfg.access_ttl_s;
        policy.leeway_s = cfg.leeway_s;
        rc = tokens_check_claims(payload, &policy, app_now(), &claims);
        printf("claims: %s\n", rc == TOKENS_OK ? "valid" : tokens_strerror(rc));
        json_decref(payload);
    }
    keyring_free(keyring);
    cli_close_store(&cs);
    return rc == 0 ? 0 : 1;
}

static void print_key(void *ctx, const char *kid, const char *alg, int64_t created_at,
                      int64_t signs_from, enum keyring_state state)
{
    char created[32], from[32];
    time_t a = (time_t)created_at, b = (time_t)signs_from;
    struct tm tm;

    (void)ctx;
    gmtime_r(&a, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&b, &tm);
    strftime(from, sizeof(from), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-44s %-6s %-21s %-21s %s\n", kid, alg, created, signs_from > 0 ? from : "-",
           keyring_state_name(state));
}

/* latch key master-init FILE: a new master key (32 random bytes, 0600). */
static int cmd_key_master_init(int argc, char **argv)
{
    const char *why = "";

    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: latch key master-init FILE\n");
        return 2;
    }
    umask(077);
    if (seal_create_master_key(argv[0], &why) != SEAL_OK) {
        fprintf(stderr, "latch key master-init: %s: %s\n", argv[0], why);
        return 1;
    }
    printf("wrote a new master key to %s (32 bytes, mode 0600); give every instance the same "
           "file as LATCH_MASTER_KEY_FILE and keep a copy apart from the database's backups\n",
           argv[0]);
    return 0;
}

static int cmd_key(const char *what, int argc, char **argv)
{
    struct config cfg;
    struct cli_store cs;
    struct keyring_options kopts;
    struct keyring *keyring = NULL;
    enum jws_alg alg;
    char err[512], warning[256], kid[64];
    int rc, status = 1, rotate = strcmp(what, "rotate") == 0;

    rc = load_config(&cfg, rotate ? "key rotate" : "key list", argc, argv, NULL, NULL, 0, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    umask(077);
    /* Listing creates nothing: not the data dir, not a key, not a table. */
    if (open_key_store(&cfg, rotate, &cs) != 0)
        return 1;
    cli_keyring_options(&cfg, &cs, &kopts);
    if (rotate) {
        if (!cs.remote && fsutil_mkdir(cfg.data_dir) != FSUTIL_OK) {
            fprintf(stderr, "latch key: cannot create %s: %s\n", cfg.data_dir, strerror(errno));
            goto cleanup;
        }
        if (keyring_rotate(&kopts, app_now(), kid, sizeof(kid), &alg, err, sizeof(err)) != 0) {
            fprintf(stderr, "latch key rotate: %s\n", err);
            goto cleanup;
        }
        log_event(LOG_INFO, "key.rotated", LOG_STR("kid", kid), LOG_STR("alg", jws_alg_name(alg)),
                  LOG_INT("signs_in_s", cfg.key_prepublish_s));
        printf("added %s key %s; it is published now and signs from %lld s on\n",
               jws_alg_name(alg), kid, (long long)cfg.key_prepublish_s);
        status = 0;
        goto cleanup;
    }
    if (keyring_open(&keyring, &kopts, 0, err, sizeof(err), warning, sizeof(warning)) != 0) {
        fprintf(stderr, "latch key list: %s\n", err);
        goto cleanup;
    }
    if (keyring_count(keyring) == 0) {
        if (cs.remote)
            fprintf(stderr, "latch key list: no keys in the database (latch serve creates the "
                            "first one)\n");
        else
            fprintf(stderr, "latch key list: no keys in %s/%s (latch serve creates the first "
                            "one)\n", cfg.data_dir, KEYRING_FILE);
        goto cleanup;
    }
    printf("%-44s %-6s %-21s %-21s %s\n", "kid", "alg", "created", "signs from", "state");
    keyring_list(keyring, app_now(), print_key, NULL);
    status = 0;
cleanup:
    keyring_free(keyring);
    cli_close_store(&cs);
    return status;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "latch: libsodium failed to initialise\n");
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0) {
        int rc = cmd_serve(argc - 2, argv + 2);
        /* A no-op unless mail was configured (cmd_serve opened libcurl). */
        smtp_global_cleanup();
        return rc;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("latch %s (commit %s)\n", LATCH_VERSION, LATCH_COMMIT);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_user_add(argc - 3, argv + 3);
    if (argc >= 3 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "logout") == 0)
        return cmd_user_logout(argc - 3, argv + 3);
    if (argc >= 3 && strcmp(argv[1], "key") == 0 && strcmp(argv[2], "master-init") == 0)
        return cmd_key_master_init(argc - 3, argv + 3);
    if (argc >= 2 && strcmp(argv[1], "db") == 0)
        return cli_db(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "mail") == 0)
        return cli_mail(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "user") == 0) {
        int rc = cli_user(argc - 2, argv + 2);
        if (rc == CLI_NOT_MINE)
            rc = cli_user_io(argc - 2, argv + 2);
        if (rc != CLI_NOT_MINE)
            return rc;
    }
    if (argc >= 3 && strcmp(argv[1], "key") == 0 &&
        (strcmp(argv[2], "rotate") == 0 || strcmp(argv[2], "list") == 0))
        return cmd_key(argv[2], argc - 3, argv + 3);
    if (argc >= 3 && strcmp(argv[1], "token") == 0 && strcmp(argv[2], "decode") == 0)
        return cmd_token_decode(argc - 3, argv + 3);
    fprintf(stderr, "latch: unknown command \"%s\"\n\n", argv[1]);
    usage();
    return 2;
}

/* For the subcommands in src/cli/ (cli.h). */
int cli_load_config(struct config *cfg, const char *command, int argc, char **argv,
                    const struct config_extra_flag *extras, const char **positional,
                    int max_positional, int *n_positional)
{
    return load_config(cfg, command, argc, argv, extras, positional, max_positional,
                       n_positional);
}
