/* The store tests' shared fixture (see fixture.h). */
#include "store/fixture.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *fx_pg_base(void)
{
    const char *base = getenv("LATCH_TEST_PG");

    return base != NULL && base[0] != '\0' ? base : NULL;
}

int64_t fx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends keyword='value' to out, escaping as libpq's conninfo wants. */
static int append_kv(char *out, size_t out_size, size_t *used, const char *k, const char *v)
{
    size_t n = *used;
    int w = snprintf(out + n, out_size - n, "%s%s='", n > 0 ? " " : "", k);

    if (w < 0 || (size_t)w >= out_size - n)
        return -1;
    n += (size_t)w;
    for (; *v != '\0'; v++) {
        if (n + 3 >= out_size)
            return -1;
        if (*v == '\'' || *v == '\\')
            out[n++] = '\\';
        out[n++] = *v;
    }
    if (n + 2 >= out_size)
        return -1;
    out[n++] = '\'';
    out[n] = '\0';
    *used = n;
    return 0;
}

int fx_pg_conninfo(const char *schema, const char *host, const char *port, char *out,
                   size_t out_size)
{
    char options[256];
    PQconninfoOption *opts, *o;
    const char *v;
    size_t used = 0;
    int rc = 0;

    if (fx_pg_base() == NULL || (opts = PQconninfoParse(fx_pg_base(), NULL)) == NULL)
        return -1;
    out[0] = '\0';
    for (o = opts; o->keyword != NULL && rc == 0; o++) {
        v = o->val;
        if (strcmp(o->keyword, "options") == 0 && schema != NULL) {
            snprintf(options, sizeof(options), "%s%s-c search_path=%s", v != NULL ? v : "",
                     v != NULL && v[0] != '\0' ? " " : "", schema);
            v = options;
        } else if (strcmp(o->keyword, "host") == 0 && host != NULL)
            v = host;
        else if (strcmp(o->keyword, "port") == 0 && port != NULL)
            v = port;
        if (v != NULL && v[0] != '\0')
            rc = append_kv(out, out_size, &used, o->keyword, v);
    }
    PQconninfoFree(opts);
    return rc;
}

void fx_pg_base_value(const char *keyword, char *out, size_t out_size)
{
    PQconninfoOption *opts, *o;

    out[0] = '\0';
    if (fx_pg_base() == NULL || (opts = PQconninfoParse(fx_pg_base(), NULL)) == NULL)
        return;
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
            snprintf(out, out_size, "%s", o->val);
    PQconninfoFree(opts);
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int fx_pg_exec(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *r;
    int rc = -1;

    PQsetNoticeProcessor(pg, quiet, NULL);
    if (PQstatus(pg) == CONNECTION_OK) {
        r = PQexec(pg, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
            rc = 0;
        else
            fprintf(stderr, "fx_pg_exec: %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    }
    PQfinish(pg);
    return rc;
}

int64_t fx_pg_int(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *r;
    int64_t v = -1;

    if (PQstatus(pg) == CONNECTION_OK) {
        r = PQexec(pg, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(pg);
    return v;
}

static int sqlite_make(struct fixture *f)
{
    const char *base = getenv("TMPDIR");

    snprintf(f->dir, sizeof(f->dir), "%s/latch-unit-contract-XXXXXX",
             base != NULL && base[0] ? base : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/latch.db", f->dir);
    return 0;
}

/* Removes the database and its -wal / -shm files, then the directory. */
static void sqlite_remove(struct fixture *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char path[1200];

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(f->dir);
}

/* A fresh schema in the LATCH_TEST_PG database, first on the search_path
 * of the conninfo the test's stores use: nothing of another test is seen
 * (a schema is made and dropped much faster than a database). */
static int pg_make(struct fixture *f)
{
    static int counter;
    char admin[1024], sql[160];

    snprintf(f->schema, sizeof(f->schema), "latch_t_%ld_%d", (long)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST));
    if (fx_pg_conninfo(NULL, NULL, NULL, admin, sizeof(admin)) != 0 ||
        fx_pg_conninfo(f->schema, NULL, NULL, f->conninfo, sizeof(f->conninfo)) != 0)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", f->schema);
    return fx_pg_exec(admin, sql);
}

int fixture_make(struct fixture *f, int pg)
{
    memset(f, 0, sizeof(*f));
    f->pg = pg;
    f->timeout_ms = 5000;
    f->pool_size = 4;
    return pg ? pg_make(f) : sqlite_make(f);
}

int fixture_open(struct fixture *f, struct store **out, char *err, size_t err_size)
{
    struct store_options opts = {f->pool_size, f->timeout_ms, 1};

    if (!f->pg)
        return store_sqlite_open(out, f->path, err, err_size);
    return store_pg_open(out, f->conninfo, &opts, err, err_size);
}

void fixture_remove(struct fixture *f)
{
    char admin[1024], sql[160];

    if (!f->pg) {
        if (f->dir[0] != '\0')
            sqlite_remove(f);
        return;
    }
    if (f->schema[0] == '\0' || fx_pg_conninfo(NULL, NULL, NULL, admin, sizeof(admin)) != 0)
        return;
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", f->schema);
    fx_pg_exec(admin, sql);
}
