/*
 * num.h - checked number parsing (no atoi: a malformed or out-of-range value
 * is an error, never 0).
 */
#ifndef LATCH_UTIL_NUM_H
#define LATCH_UTIL_NUM_H

#include <stdint.h>

/* Parses a whole decimal string into [min, max].  Returns 0 or -1. */
int num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
