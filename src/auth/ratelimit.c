#include "auth/ratelimit.h"

#include "util/strmap.h"

#include <pthread.h>
#include <stdlib.h>

struct ratelimit {
    pthread_mutex_t lock;
    struct strmap *full_at;      /* key -> when its bucket is full again (µs) */
    int64_t interval_us;         /* one request's worth of refill */
    int64_t tolerance_us;        /* how far full_at may run ahead: burst - 1 requests */
    size_t max_keys;
    int64_t last_sweep_s;
    uint64_t refused, table_full;
};

int ratelimit_new(struct ratelimit **out, int64_t per_min, int64_t burst, size_t max_keys)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL)
        return -1;
    rl->full_at = strmap_new();
    if (rl->full_at == NULL) {
        free(rl);
        return -1;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->interval_us = per_min > 0 ? 60 * 1000000 / per_min : 0;
    rl->tolerance_us = (burst > 1 ? burst - 1 : 0) * rl->interval_us;
    rl->max_keys = max_keys;
    *out = rl;
    return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    strmap_free(rl->full_at);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_us,
                   int64_t *retry_after_s)
{
    int64_t full_at = 0, next, wait_us;
    int known, allowed = 0;

    if (rl->interval_us == 0)
        return 1;
    pthread_mutex_lock(&rl->lock);
    /* Refilled buckets are dropped at most once a second: a sweep walks the
     * whole table. */
    if (now_us / 1000000 != rl->last_sweep_s) {
        strmap_expire(rl->full_at, now_us / 1000000);
        rl->last_sweep_s = now_us / 1000000;
    }
    known = strmap_get(rl->full_at, key, &full_at);
    if (!known || full_at < now_us)
        full_at = now_us;
    wait_us = full_at - now_us - rl->tolerance_us;
    if (wait_us > 0) {
        *retry_after_s = ceil_div(wait_us, 1000000);
    } else if (!known && strmap_count(rl->full_at) >= rl->max_keys) {
        rl->table_full++;
        *retry_after_s = 1;
    } else {
        next = full_at + rl->interval_us;
        /* Dropped (treated as full) from the second after it refills. */
        if (strmap_put(rl->full_at, key, next, next / 1000000 + 1) == 0)
            allowed = 1;
        else
            *retry_after_s = 1;   /* no memory for the bucket: fail closed */
    }
    if (!allowed)
        rl->refused++;
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}

void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out)
{
    pthread_mutex_lock(&rl->lock);
    out->refused = rl->refused;
    out->table_full = rl->table_full;
    out->keys = strmap_count(rl->full_at);
    pthread_mutex_unlock(&rl->lock);
}
