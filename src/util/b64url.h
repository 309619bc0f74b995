/*
 * b64url.h - base64url without padding (RFC 4648 section 5, as JWS uses it,
 * RFC 7515 section 2), over libsodium.  Decoding is strict: padding, other
 * alphabets, whitespace, a dangling character and non-zero trailing bits are
 * refused, so every byte string has exactly one accepted encoding.
 */
#ifndef LATCH_UTIL_B64URL_H
#define LATCH_UTIL_B64URL_H

#include <stddef.h>

/* Characters needed to encode n bytes, not counting the terminating NUL. */
size_t b64url_encoded_len(size_t n);

/* Encodes src into dst (dst_size >= b64url_encoded_len(n) + 1, NUL-terminated).
 * Returns the encoded length, or 0 if dst is too small. */
size_t b64url_encode(char *dst, size_t dst_size, const unsigned char *src, size_t n);

/* Decodes exactly src_len characters into dst.  Returns 0 and sets *out_len,
 * or -1 on any malformed input or if dst is too small. */
int b64url_decode(unsigned char *dst, size_t dst_size, size_t *out_len,
                  const char *src, size_t src_len);

#endif
