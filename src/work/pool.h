/*
 * pool.h - a bounded pool of worker threads for slow jobs (password hashing,
 * later network round trips), so they never run on an HTTP thread.
 *
 * Workers run at a lower CPU priority than the HTTP threads: under load the
 * scheduler gives token checks the CPU first.  The queue is bounded; a full
 * queue refuses the job at once and the caller answers 503.
 */
#ifndef LATCH_WORK_POOL_H
#define LATCH_WORK_POOL_H

#include "util/histo.h"

struct work_pool;

typedef void (*work_fn)(void *arg);

enum work_err {
    WORK_OK = 0,
    WORK_EFULL = -1,       /* queue_max jobs are already waiting */
    WORK_ESTOPPED = -2,    /* the pool is shutting down */
    WORK_ENOMEM = -3,
};

/* Starts threads workers with niceness raised by nice_increment. */
int work_pool_new(struct work_pool **out, int threads, int queue_max, int nice_increment);

/* After this call a worker that has run jobs and then waited idle_ms
 * without one runs fn() on its own thread, once, and again when it ends:
 * for what a worker keeps between jobs (the hashing pool's Argon2 memory). */
void work_pool_on_idle(struct work_pool *pool, void (*fn)(void), int idle_ms);

/* Queues fn(arg).  On failure fn is never called and arg stays the caller's. */
int work_pool_submit(struct work_pool *pool, work_fn fn, void *arg);

/* For /metrics: jobs waiting, the queue's bound, workers busy, and how long
 * jobs waited between submit and a worker starting them.  A job runs with
 * the log request id (util/log.h) its submitter had. */
struct work_pool_stats {
    int queued, queue_max, busy, workers;
    struct histo wait;
};
void work_pool_stats(struct work_pool *pool, struct work_pool_stats *out);

/* Refuses new jobs (WORK_ESTOPPED), runs every queued job to its end and
 * joins the threads; the pool stays valid to submit to (and be refused)
 * until work_pool_free.  Once only; accepts NULL. */
void work_pool_stop(struct work_pool *pool);

/* work_pool_stop if not done yet, then frees the pool.  Accepts NULL. */
void work_pool_free(struct work_pool *pool);

#endif
