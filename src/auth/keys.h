/*
 * keys.h - server secrets other than the signing keys (those are in
 * keyring.h): the refresh-token successor key.
 */
#ifndef LATCH_AUTH_KEYS_H
#define LATCH_AUTH_KEYS_H

#include <stddef.h>

#define KEYS_REFRESH_FILE "refresh-key"

/*
 * Loads the 256-bit key that derives refresh-token successors from
 * <data_dir>/refresh-key (base64url text, mode 0600), generating it on first
 * start when create is 1.
 */
int keys_load_refresh_key(const char *data_dir, int create, unsigned char out[32], char *err,
                          size_t err_size);

#endif
