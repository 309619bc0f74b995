#include "work/pool.h"

#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct job {
    work_fn fn;
    void *arg;
    uint64_t submitted_us;       /* for the wait-time histogram */
    /* The submitting request's id, so the worker's log lines carry it. */
    char request_id[LOG_REQUEST_ID_MAX + 1];
};

struct work_pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct job *ring;            /* queue_max slots */
    int queue_max, head, count;
    int stopping;
    int nice_increment;
    int n_threads;
    int busy;                    /* workers running a job; guarded by lock */
    void (*on_idle)(void);       /* run by a worker idle idle_ms; guarded by lock */
    int idle_ms;
    pthread_t *threads;
    struct histo wait;           /* submit to start, observed by the worker */
};

/* Waits for a job or the pool's end, with the lock held.  A worker that
 * has run a job and then waits idle_ms for the next runs on_idle once,
 * without the lock (the hashing pool hands back its kept memory so). */
static void wait_for_job(struct work_pool *pool, int *ran)
{
    while (pool->count == 0 && !pool->stopping) {
        struct timespec ts;
        void (*fn)(void) = pool->on_idle;

        if (fn == NULL || !*ran) {
            pthread_cond_wait(&pool->not_empty, &pool->lock);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += pool->idle_ms / 1000;
        ts.tv_nsec += (long)(pool->idle_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&pool->not_empty, &pool->lock, &ts) == ETIMEDOUT &&
            pool->count == 0) {
            *ran = 0;
            pthread_mutex_unlock(&pool->lock);
            fn();
            pthread_mutex_lock(&pool->lock);
        }
    }
}

static void *worker_main(void *p)
{
    struct work_pool *pool = p;
    int ran = 0;

    /* On Linux a thread has its own nice value (setpriority on its tid). */
    if (pool->nice_increment > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice_increment);

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct job job;

        wait_for_job(pool, &ran);
        if (pool->count == 0) {
            void (*fn)(void) = pool->on_idle;
            pthread_mutex_unlock(&pool->lock);
            if (fn != NULL && ran)
                fn();
            break;
        }
        ran = 1;
        job = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->queue_max;
        pool->count--;
        pool->busy++;
        pthread_mutex_unlock(&pool->lock);
        histo_observe(&pool->wait, histo_now_us() - job.submitted_us);
        log_set_request_id(job.request_id);
        job.fn(job.arg);
        log_set_request_id(NULL);
        /* One locked region from this job's end to the next job's start. */
        pthread_mutex_lock(&pool->lock);
        pool->busy--;
    }
    return NULL;
}

int work_pool_new(struct work_pool **out, int threads, int queue_max, int nice_increment)
{
    struct work_pool *pool;
    int i;

    if (threads < 1 || queue_max < 1)
        return WORK_ENOMEM;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return WORK_ENOMEM;
    pool->ring = calloc((size_t)queue_max, sizeof(*pool->ring));
    pool->threads = calloc((size_t)threads, sizeof(*pool->threads));
    if (pool->ring == NULL || pool->threads == NULL) {
        free(pool->ring);
        free(pool->threads);
        free(pool);
        return WORK_ENOMEM;
    }
    pthread_mutex_init(&pool->lock, NULL);
    {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&pool->not_empty, &attr);
        pthread_condattr_destroy(&attr);
    }
    pool->queue_max = queue_max;
    pool->nice_increment = nice_increment;
    for (i = 0; i < threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0)
            break;
        pool->n_threads++;
    }
    if (pool->n_threads == 0) {
        work_pool_free(pool);
        return WORK_ENOMEM;
    }
    *out = pool;
    return WORK_OK;
}

void work_pool_on_idle(struct work_pool *pool, void (*fn)(void), int idle_ms)
{
    pthread_mutex_lock(&pool->lock);
    pool->on_idle = fn;
    pool->idle_ms = idle_ms > 0 ? idle_ms : 1;
    pthread_mutex_unlock(&pool->lock);
}

/*
 * The waiting worker is woken after the lock is released: woken while the
 * submitter still held it, it would run only to block on the lock and be
 * woken a second time, two context switches per job that on a loaded
 * machine each cost the CPU a hashing worker needs (a login is handed on
 * three times).
 */
int work_pool_submit(struct work_pool *pool, work_fn fn, void *arg)
{
    int rc = WORK_OK;

    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        rc = WORK_ESTOPPED;
    } else if (pool->count >= pool->queue_max) {
        rc = WORK_EFULL;
    } else {
        int tail = (pool->head + pool->count) % pool->queue_max;
        pool->ring[tail].fn = fn;
        pool->ring[tail].arg = arg;
        pool->ring[tail].submitted_us = histo_now_us();
        snprintf(pool->ring[tail].request_id, sizeof(pool->ring[tail].request_id), "%s",
                 log_request_id());
        pool->count++;
    }
    pthread_mutex_unlock(&pool->lock);
    if (rc == WORK_OK)
        pthread_cond_signal(&pool->not_empty);
    return rc;
}

void work_pool_stats(struct work_pool *pool, struct work_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    out->queued = pool->count;
    out->queue_max = pool->queue_max;
    out->busy = pool->busy;
    out->workers = pool->n_threads;
    pthread_mutex_unlock(&pool->lock);
    histo_read(&pool->wait, &out->wait);
}

void work_pool_stop(struct work_pool *pool)
{
    int i;

    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->not_empty);
    pthread_mutex_unlock(&pool->lock);
    for (i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
}

void work_pool_free(struct work_pool *pool)
{
    if (pool == NULL)
        return;
    work_pool_stop(pool);
    pthread_cond_destroy(&pool->not_empty);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool->threads);
    free(pool);
}
