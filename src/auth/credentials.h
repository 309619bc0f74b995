/*
 * credentials.h - the rules for what users type: email addresses and
 * passwords (NIST SP 800-63B: length limits, no composition rules), and the
 * Authorization header (RFC 6750 section 2.1).  Pure functions over buffers.
 */
#ifndef LATCH_AUTH_CREDENTIALS_H
#define LATCH_AUTH_CREDENTIALS_H

#include "latch_limits.h"

#include <stddef.h>

/*
 * Normalises an email (trims ASCII white space, lower-cases ASCII letters)
 * into out and validates it: at most 254 bytes, exactly one '@', a non-empty
 * local part, a domain with at least one dot and no empty first or last
 * label, no spaces or control characters.  Returns 0, or -1 with *why set to
 * a message for the client.
 */
int credentials_normalize_email(const char *in, size_t len, char out[LATCH_MAX_EMAIL_BYTES + 1],
                                const char **why);

/*
 * The rule for an address being created (registration, an admin, the CLI,
 * an import): credentials_normalize_email, and only ASCII.  That refuses
 * Unicode spaces, controls, invisible and bidi characters and look-alikes
 * at once.  Logins use the lenient rule above, so an address stored before
 * this rule keeps working.
 */
int credentials_normalize_new_email(const char *in, size_t len,
                                    char out[LATCH_MAX_EMAIL_BYTES + 1], const char **why);

/* Checks a new password's length in bytes.  Returns 0, or -1 with *why. */
int credentials_check_password(size_t len, const char **why);

enum bearer_result {
    BEARER_NONE = 0,       /* no header, or another scheme: "Missing token" */
    BEARER_OK = 1,         /* *token / *len point into the header value */
    BEARER_MALFORMED = -1, /* the Bearer scheme with an unusable credential */
};

/* Parses "Bearer <token>" (scheme case-insensitive). header may be NULL. */
enum bearer_result credentials_parse_bearer(const char *header, const char **token,
                                            size_t *len);

#endif
