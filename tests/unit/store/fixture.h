/*
 * fixture.h - what the store tests share: a throwaway SQLite file, a fresh
 * PostgreSQL database per test on the cluster named by LATCH_TEST_PG, and
 * a store of either kind opened on it.
 */
#ifndef LATCH_TEST_STORE_FIXTURE_H
#define LATCH_TEST_STORE_FIXTURE_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct fixture {
    int pg;                  /* 1: PostgreSQL, 0: SQLite */
    int timeout_ms;          /* PostgreSQL stores opened by fixture_open */
    int pool_size;
    char dir[512];           /* SQLite: a temp directory with the file */
    char path[600];
    char schema[64];         /* PostgreSQL: a schema made for this test */
    char conninfo[1024];
};

/* LATCH_TEST_PG (a conninfo of a cluster the tests may create databases
 * on), or NULL when unset. */
const char *fx_pg_base(void);

/* The base conninfo as a keyword/value string with schema first on the
 * search_path, host and port replaced, where not NULL (values quoted as
 * libpq wants). */
int fx_pg_conninfo(const char *schema, const char *host, const char *port, char *out,
                   size_t out_size);

/* The value of keyword in the base conninfo, or "" ("port", "host"). */
void fx_pg_base_value(const char *keyword, char *out, size_t out_size);

/* Runs sql (several statements allowed) on conninfo; 0 when it worked. */
int fx_pg_exec(const char *conninfo, const char *sql);

/* The first column of the first row sql returns, as an integer; -1 on any
 * failure. */
int64_t fx_pg_int(const char *conninfo, const char *sql);

/* Makes the backend's empty database (a temp file, or a fresh schema)
 * without opening a store on it; 0 when it worked. */
int fixture_make(struct fixture *f, int pg);

/* Opens another store on the fixture's database, as another latch
 * instance would (PostgreSQL: migrate=1). */
int fixture_open(struct fixture *f, struct store **out, char *err, size_t err_size);

/* Removes the database (the file, or the schema and all in it). */
void fixture_remove(struct fixture *f);

int64_t fx_now_ms(void);

#endif
