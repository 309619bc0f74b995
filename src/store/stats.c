#include "store/stats.h"

#include "store/store.h"
#include "util/log.h"

#include <string.h>

static struct store_stats stats;

/* The last failure on this thread, tagged with the request it was for: a
 * worker or HTTP thread serves many requests, and only the one that failed
 * may name it. */
static _Thread_local struct {
    const char *op;
    int rc;
    char request_id[LOG_REQUEST_ID_MAX + 1];
} last_failure;

uint64_t store_clock_us(void)
{
    return histo_now_us();
}

int store_observe(const char *op, uint64_t started_us, int rc)
{
    histo_observe(&stats.latency, histo_now_us() - started_us);
    if (rc == STORE_EIO || rc == STORE_EUNAVAIL || rc == STORE_ENOMEM) {
        __atomic_add_fetch(rc == STORE_EIO ? &stats.errors_io
                           : rc == STORE_EUNAVAIL ? &stats.errors_unavailable
                                                  : &stats.errors_nomem,
                           1, __ATOMIC_RELAXED);
        last_failure.op = op;
        last_failure.rc = rc;
        memcpy(last_failure.request_id, log_request_id(), sizeof(last_failure.request_id));
    }
    return rc;
}

void store_stats_read(struct store_stats *out)
{
    histo_read(&stats.latency, &out->latency);
    out->errors_io = __atomic_load_n(&stats.errors_io, __ATOMIC_RELAXED);
    out->errors_unavailable = __atomic_load_n(&stats.errors_unavailable, __ATOMIC_RELAXED);
    out->errors_nomem = __atomic_load_n(&stats.errors_nomem, __ATOMIC_RELAXED);
}

int store_last_failure(const char **op, int *rc)
{
    if (last_failure.op == NULL || strcmp(last_failure.request_id, log_request_id()) != 0)
        return 0;
    *op = last_failure.op;
    *rc = last_failure.rc;
    last_failure.op = NULL;
    return 1;
}
