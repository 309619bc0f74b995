/*
 * histo.h - a latency histogram for /metrics: fixed buckets (the same for
 * every histogram latch keeps, from 100 us to 10 s), counts kept with
 * relaxed atomic adds so any thread may observe without a lock and nothing
 * is allocated.  A zeroed struct histo is an empty histogram.
 */
#ifndef LATCH_UTIL_HISTO_H
#define LATCH_UTIL_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define HISTO_N_BOUNDS 16

/* The upper bounds of the buckets, in microseconds, ascending. */
extern const uint64_t histo_bounds_us[HISTO_N_BOUNDS];

struct histo {
    uint64_t counts[HISTO_N_BOUNDS + 1];   /* per bucket (not cumulative); last: +Inf */
    uint64_t sum_us;
};

void histo_observe(struct histo *h, uint64_t us);
/* A consistent-enough copy for rendering (each counter read atomically). */
void histo_read(const struct histo *h, struct histo *out);

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t histo_now_us(void);

#endif
