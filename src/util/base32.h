/*
 * base32.h - RFC 4648 section 6 base32 (alphabet A-Z 2-7), the form in which
 * authenticator apps take TOTP secrets (the Key Uri Format's "secret"
 * parameter).  Pure functions over buffers.
 *
 * Encoding writes upper case without padding, as those apps expect.
 * Decoding is strict so that a secret has one meaning: upper or lower case
 * letters (RFC 4648 section 6 calls the alphabet case-insensitive for
 * decoding), and either no padding or exactly the padding section 6 asks for
 * (a whole number of 8-character groups).  Refused: any other character
 * (white space, '0', '1', '8', '9', bytes >= 0x80), '=' anywhere but a
 * correct tail, a length no byte string encodes to (1, 3 or 6 characters in
 * the last group) and non-zero unused bits in the last character (RFC 4648
 * section 3.5: canonical encoding).
 *
 * The character mapping is branch-free arithmetic, not a table lookup or a
 * comparison chain on secret data (TOTP secrets pass through here).
 */
#ifndef LATCH_UTIL_BASE32_H
#define LATCH_UTIL_BASE32_H

#include <stddef.h>

/* Characters needed to encode n bytes without padding (ceil(8n / 5)), not
 * counting the terminating NUL.  n must be below SIZE_MAX / 8. */
size_t base32_encoded_len(size_t n);

/* Encodes src into dst (dst_size >= base32_encoded_len(n) + 1; the result is
 * NUL-terminated).  Returns the encoded length, or 0 if dst is too small (or
 * n is 0: then dst holds "" if it has room). */
size_t base32_encode(char *dst, size_t dst_size, const unsigned char *src, size_t n);

/* Decodes exactly src_len characters into dst.  Returns 0 and sets
 * *out_len, or -1 on malformed input or when dst is too small (dst may then
 * hold part of the output: callers treat it as garbage).  *out_len is left
 * alone on failure. */
int base32_decode(unsigned char *dst, size_t dst_size, size_t *out_len, const char *src,
                  size_t src_len);

#endif
