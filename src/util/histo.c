#include "util/histo.h"

#include <time.h>

/* Buckets for everything from a cached token check (tens of us) to a
 * password hash under load or a store call near its deadline (seconds). */
const uint64_t histo_bounds_us[HISTO_N_BOUNDS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

void histo_observe(struct histo *h, uint64_t us)
{
    size_t i = 0;

    while (i < HISTO_N_BOUNDS && us > histo_bounds_us[i])
        i++;
    __atomic_add_fetch(&h->counts[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->sum_us, us, __ATOMIC_RELAXED);
}

void histo_read(const struct histo *h, struct histo *out)
{
    size_t i;

    for (i = 0; i <= HISTO_N_BOUNDS; i++)
        out->counts[i] = __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
    out->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}

uint64_t histo_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
