/*
 * num.h - checked number parsing (no atoi: a malformed or out-of-range value
 * is an error, never 0).
 */
#ifndef LATCH_UTIL_NUM_H
#define LATCH_UTIL_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses a whole decimal string into [min, max].  Returns 0 or -1. */
int num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Room for any int64_t in decimal, with its sign and the NUL. */
#define NUM_I64_BYTES 21

/* Writes v in decimal and a NUL into out; returns the number of digits (and
 * sign) written.  For the request path, where snprintf's format machinery
 * costs more than the rest of building an answer. */
size_t num_format_i64(int64_t v, char out[NUM_I64_BYTES]);

/* Room for a UTC time as num_format_utc writes it, with its NUL. */
#define NUM_UTC_BYTES 32

/* Writes the UTC time secs (seconds since the epoch) as ISO 8601 without a
 * zone, "2026-12-01T17:21:17", and a NUL; returns its length.  What
 * strftime's "%Y-%m-%dT%H:%M:%S" writes, at a tenth of its cost for the
 * years 1000 to 9999 (strftime writes the others). */
size_t num_format_utc(int64_t secs, char out[NUM_UTC_BYTES]);

#endif
