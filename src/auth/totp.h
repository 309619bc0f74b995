/*
 * totp.h - time-based one-time passwords (RFC 6238 over HOTP, RFC 4226) as
 * the issue fixes them: HMAC-SHA-1, 6 digits, 30-second steps counted from
 * the Unix epoch (T0 = 0), and a code from the previous, current or next
 * step accepted (RFC 6238 section 5.2 allows one step of drift each way).
 * Also the otpauth:// URI that authenticator apps enrol from (the Key Uri
 * Format of Google Authenticator, which the other apps follow).
 *
 * Pure functions over buffers: no store, no clock (the caller passes the
 * time), no logging.  The secret is the caller's; nothing here keeps a copy
 * beyond a call, and intermediate MACs and codes are wiped.
 *
 * Replay (RFC 6238 section 5.2: "the verifier MUST NOT accept the second
 * attempt of the same OTP"): a code is accepted only for a time step later
 * than the last one this user had accepted.  totp_verify takes that step and
 * reports the step that matched; the caller stores the new step in the same
 * transaction that accepts the login (compare-and-set on the old value), so
 * two requests racing with one code cannot both succeed.
 */
#ifndef LATCH_AUTH_TOTP_H
#define LATCH_AUTH_TOTP_H

#include "latch_limits.h"

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20        /* 160 bits: RFC 4226 section 4, R6 */
#define TOTP_SECRET_B32_CHARS 32    /* base32 of 20 bytes, no padding */
#define TOTP_DIGITS 6
#define TOTP_STEP_S 30              /* RFC 6238 section 5.2 recommends 30 s */
#define TOTP_WINDOW_STEPS 1         /* steps accepted either side of now */
/* No step before this: the value that means "no code accepted yet". */
#define TOTP_NO_STEP ((int64_t)-1)

enum totp_err {
    TOTP_OK = 0,
    TOTP_EFORMAT = -1,    /* not exactly 6 ASCII digits */
    TOTP_EMISMATCH = -2,  /* no step in the window gives this code */
    TOTP_EREPLAY = -3,    /* only a step at or before after_step gives it */
    TOTP_EINVAL = -4,     /* a bad argument: secret length, negative time, URI part */
    TOTP_ETOOBIG = -5,    /* the output buffer is too small */
    TOTP_ECRYPTO = -6,    /* OpenSSL failed */
};

const char *totp_strerror(int err);

/* A fresh secret: 160 bits from libsodium's CSPRNG. */
void totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES]);

/*
 * The code for one time step (the HOTP value of RFC 4226 section 5.3 with
 * the step as the counter, reduced to 6 digits): 0..999999, or TOTP_EINVAL
 * (len 0 or above LATCH_MAX_TOTP_SECRET_BYTES, step < 0) or TOTP_ECRYPTO.
 * Leading zeros are part of the code: print it with six digits.
 */
int32_t totp_code(const unsigned char *secret, size_t len, int64_t step);

/* The time step of a Unix time (floor(now / 30)); TOTP_EINVAL when now < 0. */
int64_t totp_step(int64_t now);

/*
 * Checks a code the user typed against the steps now-1, now and now+1 (of
 * the Unix time now), considering only steps later than after_step (the
 * last step accepted for this user, TOTP_NO_STEP when none).  code must be a
 * NUL-terminated string of exactly 6 ASCII digits (no spaces: the caller
 * strips what its form allows).  Every step of the window is computed and
 * compared in constant time whatever matches.
 *
 * Returns TOTP_OK and sets *matched_step (the latest matching step), or
 * TOTP_EFORMAT, TOTP_EMISMATCH, TOTP_EREPLAY (the code is right for a step
 * already used), TOTP_EINVAL, TOTP_ECRYPTO; *matched_step is untouched on
 * failure.  A caller answers EMISMATCH and EREPLAY alike; only its log
 * should tell them apart.
 */
int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
                int64_t after_step, int64_t *matched_step);

/*
 * Builds the enrolment URI
 *   otpauth://totp/<issuer>:<email>?secret=<b32>&issuer=<issuer>
 *       &algorithm=SHA1&digits=6&period=30
 * into out (NUL-terminated).  Issuer and email are percent-encoded byte by
 * byte: every byte outside RFC 3986's unreserved set (section 2.3:
 * ALPHA DIGIT - . _ ~) becomes %XX, so neither can add a parameter, a path
 * or a fragment; the ':' between them is the Key Uri Format's literal
 * separator.  A ':' inside the issuer is refused (the format forbids it and
 * apps that split the decoded label would misread it); a ':' in the email is
 * encoded.  Refused with TOTP_EINVAL: an empty or control-character issuer
 * or email, an issuer over LATCH_MAX_TOTP_ISSUER_BYTES, an email over
 * LATCH_MAX_EMAIL_BYTES, a secret that is not 1..LATCH_MAX_TOTP_SECRET_B32_CHARS
 * upper-case base32 characters.  TOTP_ETOOBIG when out is too small
 * (LATCH_MAX_OTPAUTH_URI_BYTES always suffices).
 */
int totp_uri(const char *issuer, const char *email, const char *secret_base32, char *out,
             size_t size);

#endif
