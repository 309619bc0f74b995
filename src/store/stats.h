/*
 * stats.h - what the store calls cost and how often they failed, for
 * /metrics, and the last failure of the calling thread's request, for the
 * error line of a 500.  Fed by STORE_CALL (store.h).
 */
#ifndef LATCH_STORE_STATS_H
#define LATCH_STORE_STATS_H

#include "util/histo.h"

#include <stdint.h>

struct store_stats {
    struct histo latency;          /* every call */
    uint64_t errors_io;            /* STORE_EIO */
    uint64_t errors_unavailable;   /* STORE_EUNAVAIL */
    uint64_t errors_nomem;         /* STORE_ENOMEM */
};
void store_stats_read(struct store_stats *out);

/* The operation and error of the last failed call this thread made for the
 * request it serves now (log_request_id()); 0 when there is none. */
int store_last_failure(const char **op, int *rc);

#endif
