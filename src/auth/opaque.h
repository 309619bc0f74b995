/*
 * opaque.h - opaque tokens (session and refresh tokens): 256 random bits in
 * base64url (43 characters).  The server keeps only their SHA-256 digest.
 * A refresh token's successor is derived from it with a server-side keyed
 * hash (HMAC-SHA-256 under the refresh key), so a retry within the reuse
 * window can be handed the same successor without its plaintext being kept.
 * Also the family ids (sid) and the Cookie header parser.  Pure functions.
 */
#ifndef LATCH_AUTH_OPAQUE_H
#define LATCH_AUTH_OPAQUE_H

#include <stddef.h>

#define OPAQUE_RAW_BYTES 32
#define OPAQUE_TEXT_BYTES 43               /* base64url of 32 bytes */
#define OPAQUE_DIGEST_BYTES 32
#define OPAQUE_KEY_BYTES 32
#define SID_TEXT_BYTES 22                  /* base64url of 128 bits */

struct opaque_token {
    unsigned char raw[OPAQUE_RAW_BYTES];
    char text[OPAQUE_TEXT_BYTES + 1];
    unsigned char digest[OPAQUE_DIGEST_BYTES];
};

/* A fresh random token. */
void opaque_new(struct opaque_token *out);

/* Parses a presented token: exactly 43 canonical base64url characters.
 * Returns 0 and fills *out (raw, text, digest), or -1. */
int opaque_parse(const char *text, size_t len, struct opaque_token *out);

/* The successor of a refresh token under key. */
void opaque_successor(const unsigned char key[OPAQUE_KEY_BYTES], const struct opaque_token *token,
                      struct opaque_token *out);

/* A fresh family id. */
void opaque_new_sid(char out[SID_TEXT_BYTES + 1]);

/* Finds cookie name in a Cookie header (RFC 6265 section 4.2.1:
 * "a=b; c=d").  Returns 1 and points *value and *len at its value, else 0. */
int opaque_find_cookie(const char *header, const char *name, const char **value, size_t *len);

#endif
