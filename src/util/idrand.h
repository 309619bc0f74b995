/*
 * idrand.h - unpredictable bytes for identifiers that are not secrets
 * (request ids), without a system call each time.
 *
 * libsodium's randombytes_buf() is getrandom(2) on Linux: one system call
 * per request id was a third of the system calls of a /verify (issue 14).
 * This is a fast-key-erasure generator per thread (as OpenBSD's arc4random):
 * a ChaCha20 key drawn once from randombytes_buf(); each refill runs ChaCha20
 * for 96 bytes, the first 32 becoming the next key (what was handed out
 * cannot be recomputed from the state) and the other 64 the output.
 * For keys, tokens and salts keep using randombytes_buf().
 */
#ifndef LATCH_UTIL_IDRAND_H
#define LATCH_UTIL_IDRAND_H

#include <stddef.h>

/* Fills out[0..len) (any length).  Thread-safe: the state is per thread. */
void idrand_buf(void *out, size_t len);

#endif
