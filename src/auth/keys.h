/*
 * keys.h - where signing keys come from.  HS256: LATCH_JWT_SECRET (used
 * verbatim as bytes, at least 32), else a secret generated on first start
 * and kept in <data_dir>/jwt-secret (mode 0600, written atomically) so that
 * tokens survive a restart.
 */
#ifndef LATCH_AUTH_KEYS_H
#define LATCH_AUTH_KEYS_H

#include "auth/jws.h"

#include <stddef.h>

#define KEYS_SECRET_FILE "jwt-secret"

/*
 * Builds the HS256 signing key.  env_secret is LATCH_JWT_SECRET's value or
 * NULL.  When create is 0 a missing secret file is an error rather than
 * generated (for CLI commands that only read).  *generated is set to 1 when
 * a new secret file was written.
 */
int keys_load_hs256(const char *data_dir, const char *env_secret, int create,
                    struct jws_key **out, int *generated, char *err, size_t err_size);

#define KEYS_REFRESH_FILE "refresh-key"

/*
 * Loads the 256-bit key that derives refresh-token successors from
 * <data_dir>/refresh-key (base64url text, mode 0600), generating it on first
 * start when create is 1.
 */
int keys_load_refresh_key(const char *data_dir, int create, unsigned char out[32], char *err,
                          size_t err_size);

#endif
