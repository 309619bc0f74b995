/*
 * tables.c - the tables every backend keeps, for `latch db copy` and its
 * checks (see store_tables in store.h).  Column lists name the same columns
 * in the same order in every backend, so a row read from one backend is
 * inserted into another as it is.
 */
#include "store/store.h"

const struct store_table store_tables[] = {
    {"users", "id,email,password_hash,role,disabled,created_at,updated_at,password_gen"},
    {"families", "sid,user_id,created_at,revoked_at,password_gen"},
    {"refresh_tokens", "digest,sid,created_at,expires_at,used_at,successor"},
    {"sessions", "digest,sid,created_at,last_seen,expires_at"},
    {"revocations", "seq,kind,key,value,expires_at"},
    {"login_failures", "email,failures,window_start,locked_until"},
};

const int store_n_tables = (int)(sizeof(store_tables) / sizeof(store_tables[0]));
