/*
 * recovery.h - recovery codes for an account with a second factor: shown
 * once when TOTP is confirmed, each good for one login without the app.
 *
 * A set is RECOVERY_CODE_COUNT codes of 10 characters from Crockford's
 * base32 alphabet (0-9 a-z without i, l, o, u: no two characters look
 * alike), shown in lower case as "xxxxx-xxxxx".  Each character carries 5
 * bits, so a code carries 50 bits.
 *
 * What the user types is normalised first: ASCII white space and '-' are
 * dropped wherever they are, letters are folded to lower case, and the
 * look-alikes Crockford maps are mapped (o -> 0, i and l -> 1); what is left
 * must be exactly 10 alphabet characters.
 *
 * Storage: 50 bits is too few for a plain hash.  From a dump of plain
 * SHA-256 digests one GPU tries the whole code space of 2^50 in about a
 * day, and a search tests every stored code at once.  So the digest is
 * HMAC-SHA-256 under a server key that the database never holds (the caller
 * derives it from the master key that seals TOTP secrets,
 * ARCHITECTURE.md), over a domain label, the user id and the normalised
 * code: without the key a dump is useless, and even with it each user's
 * codes are a search of their own.  Longer codes would have avoided the
 * key, but 80+ bits no longer read or type as one short code.
 *
 * Digests are compared in constant time; recovery_match looks at every
 * stored digest whatever matches.  Pure functions; no logging; the caller
 * wipes the codes (sodium_memzero) once shown or checked.
 */
#ifndef LATCH_AUTH_RECOVERY_H
#define LATCH_AUTH_RECOVERY_H

#include "latch_limits.h"

#include <stddef.h>
#include <stdint.h>

#define RECOVERY_CODE_COUNT 10
#define RECOVERY_CODE_CHARS 10       /* normalised: 10 alphabet characters */
#define RECOVERY_TEXT_CHARS 11       /* shown: "xxxxx-xxxxx" */
#define RECOVERY_KEY_BYTES 32
#define RECOVERY_DIGEST_BYTES 32

enum recovery_err {
    RECOVERY_OK = 0,
    RECOVERY_EFORMAT = -1,   /* not 10 alphabet characters after normalising */
    RECOVERY_ENOMATCH = -2,  /* no stored digest matches */
};

const char *recovery_strerror(int err);

/* A fresh set of distinct codes, each "xxxxx-xxxxx" (NUL-terminated). */
void recovery_new_set(char codes[RECOVERY_CODE_COUNT][RECOVERY_TEXT_CHARS + 1]);

/*
 * Normalises len bytes a user typed (at most LATCH_MAX_RECOVERY_INPUT_BYTES)
 * into out: 10 lower-case alphabet characters and a NUL.  Returns
 * RECOVERY_OK or RECOVERY_EFORMAT (out untouched).
 */
int recovery_normalize(const char *in, size_t len, char out[RECOVERY_CODE_CHARS + 1]);

/*
 * The digest stored for code (normalised, or as recovery_new_set shows it:
 * it is normalised here first) of user_id under key.  Returns RECOVERY_OK or
 * RECOVERY_EFORMAT.
 */
int recovery_digest(const unsigned char key[RECOVERY_KEY_BYTES], int64_t user_id,
                    const char *code, size_t len, unsigned char out[RECOVERY_DIGEST_BYTES]);

/*
 * Finds presented among n stored digests, comparing each in constant time
 * and always all n.  Returns the index of the match (0..n-1) or
 * RECOVERY_ENOMATCH.  The caller then deletes that digest in a compare-and-
 * delete, so a code is used once even when two requests race.
 */
int recovery_match(const unsigned char presented[RECOVERY_DIGEST_BYTES],
                   const unsigned char (*stored)[RECOVERY_DIGEST_BYTES], size_t n);

#endif
