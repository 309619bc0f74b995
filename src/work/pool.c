#include "work/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

struct job {
    work_fn fn;
    void *arg;
};

struct work_pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct job *ring;            /* queue_max slots */
    int queue_max, head, count;
    int stopping;
    int nice_increment;
    int n_threads;
    pthread_t *threads;
};

static void *worker_main(void *p)
{
    struct work_pool *pool = p;

    /* On Linux a thread has its own nice value (setpriority on its tid). */
    if (pool->nice_increment > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice_increment);

    for (;;) {
        struct job job;

        pthread_mutex_lock(&pool->lock);
        while (pool->count == 0 && !pool->stopping)
            pthread_cond_wait(&pool->not_empty, &pool->lock);
        if (pool->count == 0) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        job = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->queue_max;
        pool->count--;
        pthread_mutex_unlock(&pool->lock);
        job.fn(job.arg);
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
    pthread_cond_init(&pool->not_empty, NULL);
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
        pool->count++;
        pthread_cond_signal(&pool->not_empty);
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void work_pool_free(struct work_pool *pool)
{
    int i;

    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->not_empty);
    pthread_mutex_unlock(&pool->lock);
    for (i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->not_empty);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool->threads);
    free(pool);
}
