/*
 * keys.h - server secrets other than the signing keys (those are in
 * keyring.h): the refresh-token successor key.
 */
#ifndef LATCH_AUTH_KEYS_H
#define LATCH_AUTH_KEYS_H

#include "store/store.h"

#include <stddef.h>

#define KEYS_REFRESH_FILE "refresh-key"

/*
 * Loads the 256-bit key that derives refresh-token successors from
 * <data_dir>/refresh-key (base64url text, mode 0600), generating it on first
 * start when create is 1.
 */
int keys_load_refresh_key(const char *data_dir, int create, unsigned char out[32], char *err,
                          size_t err_size);

/*
 * PostgreSQL mode: the same key, kept in the store sealed under the master
 * key (the first instance to start stores it; every other reads that one).
 */
int keys_load_refresh_key_store(struct store *store, const unsigned char master_key[32],
                                unsigned char out[32], char *err, size_t err_size);

/* `latch db copy`: the refresh-token key read without creating it (file in
 * dir, or the store's sealed secret; -1 with err when absent), and written,
 * replacing any. */
int keys_read_refresh_key(const char *dir, struct store *store, const unsigned char *master_key,
                          unsigned char out[32], char *err, size_t err_size);
int keys_write_refresh_key(const char *dir, struct store *store, const unsigned char *master_key,
                           const unsigned char key[32], char *err, size_t err_size);

/*
 * Checks the master key against the store: the first start seals a known
 * value under it; later starts must open that value, or the key file is not
 * the one the database's secrets were sealed with (a message says so).
 */
int keys_check_master_key(struct store *store, const unsigned char master_key[32], char *err,
                          size_t err_size);

#endif
