/*
 * tables.c - the tables every backend keeps, for `latch db copy` and its
 * checks (see store_tables in store.h).  Column lists name the same columns
 * in the same order in every backend, so a row read from one backend is
 * inserted into another as it is.
 */
#include "store/store.h"

const struct store_table store_tables[] = {
    {"users", "id,email,password_hash,role,disabled,created_at,updated_at,password_gen,"
              "email_verified"},
    {"families", "sid,user_id,created_at,revoked_at,password_gen,amr"},
    {"refresh_tokens", "digest,sid,created_at,expires_at,used_at,successor"},
    {"sessions", "digest,sid,created_at,last_seen,expires_at"},
    {"revocations", "seq,kind,key,value,expires_at"},
    {"login_failures", "email,failures,window_start,locked_until"},
    {"email_tokens", "digest,user_id,kind,password_gen,created_at,expires_at"},
    {"outbox", "id,recipient,sealed,attempts,next_attempt,expires_at,created_at,lease_until"},
    {"totp", "user_id,sealed,confirmed,last_step,created_at"},
    {"recovery_codes", "digest,user_id,created_at"},
    {"mfa_tokens", "digest,user_id,password_gen,expires_at,failures"},
};

const int store_n_tables = (int)(sizeof(store_tables) / sizeof(store_tables[0]));
