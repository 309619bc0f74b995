/*
 * Tests what src/store/postgres.c does beyond the store contract (that is
 * contract.c): messages without the password, deadlines against a server
 * that accepts and never answers, the pool, reconnecting, migrations.
 *
 * Tests that need no database always run; the others are registered only
 * when LATCH_TEST_PG is set.  A small TCP proxy in front of the cluster
 * plays the database that goes silent, refuses, and comes back.
 */
#include "test.h"

#include "store/fixture.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Registered only with a cluster to test against. */
#define PG_TEST(name)                                                           \
    static void name(void);                                                     \
    __attribute__((constructor)) static void register_##name(void)              \
    {                                                                           \
        if (fx_pg_base() != NULL)                                               \
            test_register(#name, __FILE__, name);                               \
    }                                                                           \
    static void name(void)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- messages without secrets ---- */

TEST(pg_redact_masks_passwords)
{
    static const struct {
        const char *in, *password, *out;
    } cases[] = {
        {"postgres://u:SECRET@h/db", NULL, "postgres://u:***@h/db"},
        {"postgresql://u:p%40SECRET@h:5432,h2/db?sslmode=require", NULL,
         "postgresql://u:***@h:5432,h2/db?sslmode=require"},
        {"postgres://u@h/db", NULL, "postgres://u@h/db"},
        {"postgres://h:5432/db", NULL, "postgres://h:5432/db"},
        {"url \"postgres://u:SECRET@h/db\" failed", NULL, "url \"postgres://u:***@h/db\" failed"},
        {"host=h password=SECRET user=u", NULL, "host=h password=*** user=u"},
        {"host=h PASSWORD = 'SEC RET\\' x' user=u", NULL, "host=h PASSWORD = *** user=u"},
        {"postgres://h/db?password=SECRET&sslmode=verify-full", NULL,
         "postgres://h/db?password=***&sslmode=verify-full"},
        {"sslpassword=SECRET", NULL, "sslpassword=***"},
        {"auth failed for SECRET, SECRET!", "SECRET", "auth failed for ***, ***!"},
        {"password", NULL, "password"},
        {"", NULL, ""},
    };
    char out[128];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        store_pg_redact(cases[i].in, cases[i].password, out, sizeof(out));
        CHECK_STR(out, cases[i].out);
        CHECK(strstr(out, "SECRET") == NULL);
    }
    /* Truncated, still terminated, still masked. */
    memset(out, 'x', sizeof(out));
    store_pg_redact("password=SECRET and more", NULL, out, 12);
    CHECK_STR(out, "password=**");
    store_pg_redact("anything", NULL, out, 1);
    CHECK_STR(out, "");
}

TEST(pg_open_never_shows_the_password)
{
    static const char *const conninfos[] = {
        "postgres://latch:SECRET@127.0.0.1:1/latch",
        "postgresql://latch:SE%zzCRET@127.0.0.1:1/latch",
        "host=127.0.0.1 port=1 user=latch password=SECRET dbname=latch",
        "host=127.0.0.1 port=1 password='SECRET",
        "host=127.0.0.1 port=1 bogus=SECRET",
        "postgres://127.0.0.1:1/latch?password=SECRET&bogus=SECRET",
    };
    struct store_options opts = {1, 2000, 1};
    struct store *s = (struct store *)&s, *const sentinel = s;
    char err[256];
    size_t i;
    int rc;

    for (i = 0; i < sizeof(conninfos) / sizeof(conninfos[0]); i++) {
        err[0] = '\0';
        rc = store_pg_open(&s, conninfos[i], &opts, err, sizeof(err));
        CHECK(rc != STORE_OK);
        CHECK(s == sentinel);
        CHECK(err[0] != '\0');
        if (strstr(err, "SECRET") != NULL || strstr(err, "CRET") != NULL)
            test_failed(__FILE__, __LINE__, "%s -> %s", conninfos[i], err);
    }
}

/* A socket that accepts (the kernel does, into the backlog) and never
 * answers. */
static int silent_listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

TEST(pg_open_gives_up_on_a_silent_server)
{
    struct store_options opts = {2, 300, 1};
    struct store *s = NULL;
    char conninfo[128], err[256] = "";
    int64_t t0, took;
    int fd, port = 0, rc;

    fd = silent_listener(&port);
    CHECK(fd >= 0);
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d user=latch password=SECRET dbname=latch", port);
    t0 = fx_now_ms();
    rc = store_pg_open(&s, conninfo, &opts, err, sizeof(err));
    took = fx_now_ms() - t0;
    close(fd);
    if (rc == STORE_OK)
        store_close(s);
    CHECK_INT(rc, STORE_EUNAVAIL);
    CHECK(took >= 290);
    if (took > 300 + 400)
        test_failed(__FILE__, __LINE__, "took %lld ms", (long long)took);
    CHECK(strstr(err, "timed out") != NULL);
    CHECK(strstr(err, "SECRET") == NULL);
}

/* ---- migrations ---- */

struct opener {
    struct fixture *f;
    pthread_barrier_t *start;
    int rc;
    char err[256];
};

static void *opener_main(void *arg)
{
    struct opener *o = arg;
    struct store *s = NULL;

    pthread_barrier_wait(o->start);
    o->rc = fixture_open(o->f, &s, o->err, sizeof(o->err));
    store_close(s);
    return NULL;
}

static int open_with(struct fixture *f, int migrate, char *err, size_t err_size)
{
    struct store_options opts = {1, 5000, migrate};
    struct store *s = NULL;
    int rc = store_pg_open(&s, f->conninfo, &opts, err, err_size);

    store_close(s);
    return rc;
}

PG_TEST(pg_migrations_run_once_and_refuse_mismatch)
{
    struct fixture f;
    struct opener o[3];
    pthread_barrier_t start;
    pthread_t th[3];
    char err[256] = "", sql[160];
    int i, latest = store_pg_schema_version();

    CHECK(fixture_make(&f, 1) == 0);
    /* An empty database without migrate: told what to run. */
    if (open_with(&f, 0, err, sizeof(err)) == STORE_OK || strstr(err, "latch db migrate") == NULL)
        test_failed(__FILE__, __LINE__, "%s", err);
    /* Three instances starting at once all come up; each migration ran
     * once. */
    pthread_barrier_init(&start, NULL, 3);
    for (i = 0; i < 3; i++) {
        o[i].f = &f;
        o[i].start = &start;
        pthread_create(&th[i], NULL, opener_main, &o[i]);
    }
    for (i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < 3; i++)
        if (o[i].rc != STORE_OK)
            test_failed(__FILE__, __LINE__, "instance %d: %s", i, o[i].err);
    CHECK(latest >= 2);
    CHECK_INT(fx_pg_int(f.conninfo, "SELECT count(*) FROM schema_migrations"), latest);
    CHECK_INT(fx_pg_int(f.conninfo, "SELECT max(version) FROM schema_migrations"), latest);
    CHECK_INT(open_with(&f, 0, err, sizeof(err)), STORE_OK);
    /* A newer schema: refused, with or without migrate. */
    snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 0)", latest + 1);
    CHECK_INT(fx_pg_exec(f.conninfo, sql), 0);
    CHECK(open_with(&f, 1, err, sizeof(err)) != STORE_OK);
    snprintf(sql, sizeof(sql), "database schema version %d is newer than this latch (%d)",
             latest + 1, latest);
    CHECK_STR(err, sql);
    CHECK(open_with(&f, 0, err, sizeof(err)) != STORE_OK);
    CHECK_STR(err, sql);
    fixture_remove(&f);
}

/* The user's settings win over latch's; a URL works as well as a
 * keyword/value string. */
PG_TEST(pg_conninfo_forms_and_user_settings)
{
    struct store_options opts = {1, 5000, 1};
    struct fixture f;
    struct store *s = NULL;
    struct store_user u;
    char url[512], port[16], err[256] = "", sql[300];

    CHECK(fixture_make(&f, 1) == 0);
    fx_pg_base_value("port", port, sizeof(port));
    snprintf(url, sizeof(url),
             "postgresql://postgres@127.0.0.1:%s/postgres?options=-c%%20search_path%%3D%s"
             "&application_name=mine_%s",
             port, f.schema, f.schema);
    if (store_pg_open(&s, url, &opts, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "%s", err);
        fixture_remove(&f);
        return;
    }
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mine_%s'",
             f.schema);
    CHECK_INT(fx_pg_int(f.conninfo, sql), 1);
    store_close(s);
    /* Without one, latch names itself. */
    CHECK_INT(fixture_open(&f, &s, err, sizeof(err)), STORE_OK);
    CHECK_INT(store_user_by_id(s, u.id, &u), STORE_OK);
    CHECK(fx_pg_int(f.conninfo, "SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name = 'latch'") >= 1);
    store_close(s);
    fixture_remove(&f);
}

/* ---- a proxy that goes silent, refuses, and comes back ---- */

enum proxy_mode { PROXY_FORWARD, PROXY_SILENT, PROXY_REFUSE };

#define PROXY_PAIRS 32

struct proxy {
    int listen_fd, port, target_port;
    int mode, accepted, stop;       /* shared with the thread: __atomic */
    pthread_t thread;
    int client[PROXY_PAIRS], server[PROXY_PAIRS];
};

static void pair_close(struct proxy *p, int i)
{
    if (p->client[i] >= 0)
        close(p->client[i]);
    if (p->server[i] >= 0)
        close(p->server[i]);
    p->client[i] = p->server[i] = -1;
}

static int connect_target(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Forwards (or, silent, drops) what one side of pair i sent; closes the
 * pair at the end of either side. */
static void pair_pump(struct proxy *p, int i, int from_client, int mode)
{
    char buf[16384];
    int from = from_client ? p->client[i] : p->server[i];
    int to = from_client ? p->server[i] : p->client[i];
    ssize_t n = read(from, buf, sizeof(buf)), off = 0, w;

    if (n <= 0) {
        pair_close(p, i);
        return;
    }
    if (mode != PROXY_FORWARD || to < 0)
        return;
    while (off < n) {
        w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0) {
            pair_close(p, i);
            return;
        }
        off += w;
    }
}

static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    struct pollfd fds[1 + 2 * PROXY_PAIRS];
    int who[1 + 2 * PROXY_PAIRS];
    int i, n, fd, mode;

    while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST)) {
        mode = __atomic_load_n(&p->mode, __ATOMIC_SEQ_CST);
        if (mode == PROXY_REFUSE)
            for (i = 0; i < PROXY_PAIRS; i++)
                pair_close(p, i);
        n = 0;
        fds[n].fd = p->listen_fd;
        fds[n].events = POLLIN;
        who[n++] = -1;
        for (i = 0; i < PROXY_PAIRS; i++) {
            if (p->client[i] >= 0) {
                fds[n].fd = p->client[i];
                fds[n].events = POLLIN;
                who[n++] = 2 * i;
            }
            if (p->server[i] >= 0) {
                fds[n].fd = p->server[i];
                fds[n].events = POLLIN;
                who[n++] = 2 * i + 1;
            }
        }
        if (poll(fds, (nfds_t)n, 20) <= 0)
            continue;
        for (i = 1; i < n; i++)
            if (fds[i].revents != 0 && p->client[who[i] / 2] >= 0)
                pair_pump(p, who[i] / 2, who[i] % 2 == 0, mode);
        if (fds[0].revents & POLLIN) {
            fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            __atomic_add_fetch(&p->accepted, 1, __ATOMIC_SEQ_CST);
            for (i = 0; i < PROXY_PAIRS && p->client[i] >= 0; i++)
                ;
            if (mode == PROXY_REFUSE || i == PROXY_PAIRS) {
                close(fd);
                continue;
            }
            p->client[i] = fd;
            p->server[i] = mode == PROXY_FORWARD ? connect_target(p->target_port) : -1;
        }
    }
    for (i = 0; i < PROXY_PAIRS; i++)
        pair_close(p, i);
    return NULL;
}

static int proxy_start(struct proxy *p)
{
    char port[16];
    int64_t v = 0;

    memset(p, 0, sizeof(*p));
    memset(p->client, -1, sizeof(p->client));
    memset(p->server, -1, sizeof(p->server));
    fx_pg_base_value("port", port, sizeof(port));
    v = strtol(port, NULL, 10);
    p->target_port = v > 0 ? (int)v : 5432;
    p->listen_fd = silent_listener(&p->port);
    if (p->listen_fd < 0)
        return -1;
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
        close(p->listen_fd);
        return -1;
    }
    return 0;
}

static void proxy_set(struct proxy *p, enum proxy_mode mode)
{
    __atomic_store_n(&p->mode, mode, __ATOMIC_SEQ_CST);
    sleep_ms(60);   /* a poll round or two of the proxy */
}

static void proxy_stop(struct proxy *p)
{
    __atomic_store_n(&p->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
}

static void deadline_and_reconnect(struct fixture *f, struct proxy *p, const char *conninfo)
{
    struct store_options opts = {2, 400, 1};
    unsigned char d[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES];
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    struct store *s = NULL;
    struct store_user u, got;
    char err[256] = "", why[256] = "";
    int64_t t0, took;
    int rc, accepted;

    (void)f;
    memset(d, 1, sizeof(d));
    memset(n, 2, sizeof(n));
    rc = store_pg_open(&s, conninfo, &opts, err, sizeof(err));
    if (rc != STORE_OK) {
        test_failed(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);

    /* Silent: every call gives up at its deadline, reads and transactions
     * alike, and says why. */
    proxy_set(p, PROXY_SILENT);
    t0 = fx_now_ms();
    rc = store_user_by_id(s, u.id, &got);
    took = fx_now_ms() - t0;
    CHECK_INT(rc, STORE_EUNAVAIL);
    if (took < 390 || took > 400 + 300)
        test_failed(__FILE__, __LINE__, "user_by_id took %lld ms", (long long)took);
    t0 = fx_now_ms();
    rc = STORE_CALL(s, refresh_rotate, d, n, 10, 10, 100, 1000, 5000, &outcome, &found);
    took = fx_now_ms() - t0;
    CHECK_INT(rc, STORE_EUNAVAIL);
    if (took > 400 + 300)
        test_failed(__FILE__, __LINE__, "refresh_rotate took %lld ms", (long long)took);
    t0 = fx_now_ms();
    CHECK_INT(STORE_CALL(s, ping, why, sizeof(why)), STORE_EUNAVAIL);
    CHECK(fx_now_ms() - t0 <= 400 + 300);
    if (strstr(why, "timed out") == NULL && strstr(why, "unreachable") == NULL)
        test_failed(__FILE__, __LINE__, "why: %s", why);
    CHECK(strstr(why, "SECRET") == NULL);

    /* Back: the next call (after the pause that follows a failed connect)
     * reconnects. */
    proxy_set(p, PROXY_FORWARD);
    sleep_ms(300);
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);
    CHECK_STR(got.email, "ada@example.com");

    /* Refusing (the pooled connections are cut too): the call finds the
     * connection gone, fails to make a new one, and the call right after
     * does not even try. */
    proxy_set(p, PROXY_REFUSE);
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_EUNAVAIL);
    accepted = __atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST);
    t0 = fx_now_ms();
    CHECK_INT(STORE_CALL(s, ping, why, sizeof(why)), STORE_EUNAVAIL);
    CHECK(fx_now_ms() - t0 < 100);
    CHECK_INT(__atomic_load_n(&p->accepted, __ATOMIC_SEQ_CST), accepted);
    CHECK(strstr(why, "SECRET") == NULL);
    proxy_set(p, PROXY_FORWARD);
    sleep_ms(300);
    CHECK_INT(STORE_CALL(s, ping, why, sizeof(why)), STORE_OK);
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);
    store_close(s);
}

/* wait_events through the proxy: bounded whatever the database does, and
 * a resync whenever its connection was made again. */
struct resyncs {
    int resync, other;
};

static void count_events(void *ctx, enum store_event event, int64_t user_id)
{
    struct resyncs *r = ctx;

    (void)user_id;
    if (event == STORE_EVENT_RESYNC)
        r->resync++;
    else
        r->other++;
}

static void events_through_proxy(struct proxy *p, const char *conninfo)
{
    struct store_options opts = {1, 400, 1};
    struct store *s = NULL;
    struct resyncs r = {0, 0};
    char err[256] = "";
    int64_t t0, took;
    int rc, i;

    if (store_pg_open(&s, conninfo, &opts, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    CHECK_INT(STORE_CALL(s, wait_events, 300, count_events, &r), STORE_OK);
    CHECK_INT(r.resync, 1);
    /* Silent: nothing comes, the wait ends on time. */
    proxy_set(p, PROXY_SILENT);
    t0 = fx_now_ms();
    CHECK_INT(STORE_CALL(s, wait_events, 300, count_events, &r), STORE_OK);
    took = fx_now_ms() - t0;
    CHECK(took >= 290 && took <= 300 + 300);
    /* Refusing: the connection is cut and cannot be made again; the wait
     * keeps trying until its time is up. */
    proxy_set(p, PROXY_REFUSE);
    t0 = fx_now_ms();
    rc = STORE_CALL(s, wait_events, 300, count_events, &r);
    took = fx_now_ms() - t0;
    CHECK_INT(rc, STORE_EUNAVAIL);
    if (took < 290 || took > 300 + 300)
        test_failed(__FILE__, __LINE__, "waited %lld ms", (long long)took);
    CHECK_INT(r.resync, 1);
    /* Back: the next wait makes the connection and says to resync. */
    proxy_set(p, PROXY_FORWARD);
    for (i = 0; i < 5 && r.resync < 2; i++)
        STORE_CALL(s, wait_events, 300, count_events, &r);
    CHECK_INT(r.resync, 2);
    CHECK_INT(r.other, 0);
    store_close(s);
}

PG_TEST(pg_deadline_on_a_silent_server_then_reconnect)
{
    struct fixture f;
    struct proxy p;
    char port[16], conninfo[1200], with_password[1300];

    CHECK(fixture_make(&f, 1) == 0);
    if (proxy_start(&p) != 0) {
        test_failed(__FILE__, __LINE__, "cannot start the proxy");
        fixture_remove(&f);
        return;
    }
    snprintf(port, sizeof(port), "%d", p.port);
    if (fx_pg_conninfo(f.schema, "127.0.0.1", port, conninfo, sizeof(conninfo)) == 0) {
        /* trust authentication ignores it; it must not show anywhere */
        snprintf(with_password, sizeof(with_password), "%s password=SECRET sslmode=disable",
                 conninfo);
        deadline_and_reconnect(&f, &p, with_password);
        proxy_set(&p, PROXY_FORWARD);
        events_through_proxy(&p, with_password);
    }
    proxy_stop(&p);
    fixture_remove(&f);
}

/* ---- the pool ---- */

struct holder {
    struct store *s;
    int64_t hold_ms;
    int rc;
};

static int hold_row(void *ctx, const struct store_row *row)
{
    struct holder *h = ctx;

    (void)row;
    sleep_ms((int)h->hold_ms);
    return 0;
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;

    h->rc = STORE_CALL(h->s, table_rows, "users", hold_row, h);
    return NULL;
}

static void *lock_holder_main(void *arg)
{
    struct fixture *f = arg;

    fx_pg_exec(f->conninfo, "BEGIN; SELECT pg_advisory_xact_lock(7809651199132565507); "
                            "SELECT pg_sleep(1.2); COMMIT");
    return NULL;
}

PG_TEST(pg_pool_waits_for_a_connection_until_the_deadline)
{
    struct store_options opts = {1, 400, 1};
    struct fixture f;
    struct store *s = NULL;
    struct store_user u, got;
    struct holder h;
    pthread_t th;
    char err[256] = "", why[256] = "";
    int64_t t0, took;

    CHECK(fixture_make(&f, 1) == 0);
    if (store_pg_open(&s, f.conninfo, &opts, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "%s", err);
        fixture_remove(&f);
        return;
    }
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);

    /* The only connection is held (a copy's callback) past a caller's
     * deadline: that caller gives up at its deadline. */
    h.s = s;
    h.hold_ms = 700;
    CHECK(pthread_create(&th, NULL, holder_main, &h) == 0);
    sleep_ms(100);
    t0 = fx_now_ms();
    CHECK_INT(STORE_CALL(s, ping, why, sizeof(why)), STORE_EUNAVAIL);
    took = fx_now_ms() - t0;
    pthread_join(th, NULL);
    CHECK_INT(h.rc, STORE_OK);
    if (took < 390 || took > 400 + 300)
        test_failed(__FILE__, __LINE__, "waited %lld ms", (long long)took);
    CHECK(strstr(why, "no free connection") != NULL);

    /* Held for less than the deadline: the caller waits and gets it. */
    h.hold_ms = 150;
    CHECK(pthread_create(&th, NULL, holder_main, &h) == 0);
    sleep_ms(50);
    t0 = fx_now_ms();
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);
    took = fx_now_ms() - t0;
    pthread_join(th, NULL);
    CHECK(took >= 50);

    store_close(s);
    fixture_remove(&f);
}

/* A statement waiting on a lock past the deadline is given up, and the
 * server stops waiting too (cancel, or statement_timeout). */
PG_TEST(pg_lock_wait_past_the_deadline_is_cancelled)
{
    struct store_options opts = {2, 400, 1};
    struct fixture f;
    struct store *s = NULL;
    pthread_t th;
    char err[256] = "";
    int64_t t0, took, waiting = -1;
    int i, rc;

    CHECK(fixture_make(&f, 1) == 0);
    if (store_pg_open(&s, f.conninfo, &opts, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "%s", err);
        fixture_remove(&f);
        return;
    }
    /* Another session holds the revocation log's lock (the constant of
     * postgres.c) for a while. */
    CHECK_INT(STORE_CALL(s, token_revoke, "before", 5000), STORE_OK);
    CHECK(pthread_create(&th, NULL, lock_holder_main, &f) == 0);
    sleep_ms(200);
    t0 = fx_now_ms();
    rc = STORE_CALL(s, token_revoke, "held", 5000);
    took = fx_now_ms() - t0;
    CHECK_INT(rc, STORE_EUNAVAIL);
    if (took < 350 || took > 400 + 300)
        test_failed(__FILE__, __LINE__, "took %lld ms", (long long)took);
    /* While the lock is still held, no latch session waits for it. */
    for (i = 0; i < 10 && waiting != 0; i++) {
        waiting = fx_pg_int(f.conninfo, "SELECT count(*) FROM pg_stat_activity "
                                        "WHERE wait_event_type = 'Lock' "
                                        "AND application_name = 'latch'");
        if (waiting != 0)
            sleep_ms(30);
    }
    CHECK_INT(waiting, 0);
    pthread_join(th, NULL);
    /* The store is fine afterwards. */
    CHECK_INT(STORE_CALL(s, token_revoke, "after", 5000), STORE_OK);
    store_close(s);
    fixture_remove(&f);
}

PG_TEST(pg_pool_survives_its_backends_being_killed)
{
    struct fixture f;
    struct store *s = NULL;
    struct store_user u, got;
    char err[256] = "", why[128] = "";

    CHECK(fixture_make(&f, 1) == 0);
    if (fixture_open(&f, &s, err, sizeof(err)) != STORE_OK) {
        test_failed(__FILE__, __LINE__, "%s", err);
        fixture_remove(&f);
        return;
    }
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    CHECK(fx_pg_int(f.conninfo, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = 'latch'") >= 1);
    sleep_ms(100);
    /* The idle connection is found closed before use: made again, the
     * call does not fail. */
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);
    CHECK_INT(STORE_CALL(s, ping, why, sizeof(why)), STORE_OK);
    store_close(s);
    fixture_remove(&f);
}

/* ---- figures (LATCH_TEST_PG_BENCH=1): a user_by_id round trip, and
 * refresh_rotate from 4 threads ---- */

struct bench {
    struct store *s;
    int index, done;
    int64_t until_ms;
};

static void *bench_rotate(void *arg)
{
    struct bench *b = arg;
    unsigned char d[STORE_DIGEST_BYTES], n[STORE_DIGEST_BYTES];
    struct store_refresh found;
    enum store_rotate_outcome outcome;
    int i = 0;

    while (fx_now_ms() < b->until_ms) {
        /* Each thread walks its own chain: token i rotates into i + 1. */
        memset(d, 0, sizeof(d));
        memset(n, 0, sizeof(n));
        memcpy(d, &b->index, sizeof(b->index));
        memcpy(n, &b->index, sizeof(b->index));
        memcpy(d + 8, &i, sizeof(i));
        i++;
        memcpy(n + 8, &i, sizeof(i));
        if (STORE_CALL(b->s, refresh_rotate, d, n, 1001, 10, 100000, 1000000, 5000, &outcome,
                       &found) == STORE_OK &&
            outcome == STORE_ROTATED)
            b->done++;
    }
    return NULL;
}

PG_TEST(pg_figures)
{
    struct store_options opts = {4, 1500, 1};
    struct fixture f;
    struct store *s = NULL;
    struct store_user u, got;
    struct store_login l;
    struct bench b[4];
    pthread_t th[4];
    unsigned char d[STORE_DIGEST_BYTES];
    char err[256] = "", sid[32];
    int64_t t0, took;
    int i, n = 5000, total = 0;

    if (getenv("LATCH_TEST_PG_BENCH") == NULL)
        return;
    CHECK(fixture_make(&f, 1) == 0);
    CHECK_INT(store_pg_open(&s, f.conninfo, &opts, err, sizeof(err)), STORE_OK);
    CHECK_INT(store_user_create(s, "ada@example.com", "h", "user", 1, &u), STORE_OK);
    CHECK_INT(store_user_by_id(s, u.id, &got), STORE_OK);
    t0 = fx_now_ms();
    for (i = 0; i < n; i++)
        store_user_by_id(s, u.id, &got);
    took = fx_now_ms() - t0;
    fprintf(stderr, "pg_figures: user_by_id %.1f us per call (%d calls)\n",
            1000.0 * (double)took / n, n);
    for (i = 0; i < 4; i++) {
        memset(d, 0, sizeof(d));
        memcpy(d, &i, sizeof(i));
        snprintf(sid, sizeof(sid), "bench-%d", i);
        memset(&l, 0, sizeof(l));
        l.sid = sid;
        l.user_id = u.id;
        l.refresh_digest = d;
        l.refresh_expires_at = 1000000;
        l.now = 1000;
        CHECK_INT(STORE_CALL(s, login_commit, &l, &got), STORE_OK);
    }
    t0 = fx_now_ms();
    for (i = 0; i < 4; i++) {
        b[i].s = s;
        b[i].index = i;
        b[i].done = 0;
        b[i].until_ms = t0 + 3000;
        pthread_create(&th[i], NULL, bench_rotate, &b[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += b[i].done;
    }
    took = fx_now_ms() - t0;
    fprintf(stderr, "pg_figures: refresh_rotate %.0f calls/s from 4 threads (%d in %lld ms)\n",
            1000.0 * total / (double)took, total, (long long)took);
    store_close(s);
    fixture_remove(&f);
}
