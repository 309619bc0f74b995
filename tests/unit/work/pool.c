/* Tests src/work/pool.c: every job runs once, a full queue refuses at once,
 * shutdown drains the queue. */
#include "test.h"

#include "work/pool.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* A job that blocks its worker until released. */
struct pool_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int started, released;
};

#define POOL_GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}

static void pool_gate_job(void *arg)
{
    struct pool_gate *g = arg;

    pthread_mutex_lock(&g->lock);
    g->started = 1;
    pthread_cond_broadcast(&g->cond);
    while (!g->released)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

/* Waits up to 10 s for the gate job to start; returns 1 when it did. */
static int pool_gate_wait_started(struct pool_gate *g)
{
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&g->lock);
    while (!g->started && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cond, &g->lock, &deadline);
    rc = g->started;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static void pool_gate_release(struct pool_gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->released = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void *pool_release_later(void *arg)
{
    usleep(50 * 1000);
    pool_gate_release(arg);
    return NULL;
}

/* Counts calls per slot. */
struct pool_counter {
    int *hits;
    int index;
};

static void pool_count_job(void *arg)
{
    struct pool_counter *c = arg;

    __atomic_fetch_add(&c->hits[c->index], 1, __ATOMIC_SEQ_CST);
}

#define POOL_N_JOBS 2000

TEST(pool_runs_every_job_once)
{
    static int hits[POOL_N_JOBS];
    static struct pool_counter counters[POOL_N_JOBS];
    struct work_pool *pool = NULL;
    int i, submitted = 0, wrong = -1;

    memset(hits, 0, sizeof(hits));
    CHECK_INT(work_pool_new(&pool, 4, POOL_N_JOBS, 0), WORK_OK);
    CHECK(pool != NULL);
    for (i = 0; i < POOL_N_JOBS; i++) {
        counters[i].hits = hits;
        counters[i].index = i;
        if (work_pool_submit(pool, pool_count_job, &counters[i]) == WORK_OK)
            submitted++;
    }
    work_pool_free(pool);
    CHECK_INT(submitted, POOL_N_JOBS);
    for (i = 0; i < POOL_N_JOBS; i++)
        if (__atomic_load_n(&hits[i], __ATOMIC_SEQ_CST) != 1 && wrong < 0)
            wrong = i;
    if (wrong >= 0)
        test_failed(__FILE__, __LINE__, "job %d ran %d times", wrong, hits[wrong]);
}

TEST(pool_full_queue_refuses_at_once)
{
    enum { QUEUE = 3 };
    static struct pool_gate gate = POOL_GATE_INIT;
    int hits[QUEUE + 1] = {0};
    struct pool_counter counters[QUEUE + 1];
    struct work_pool *pool = NULL;
    int i, rc[QUEUE + 1], started;

    gate.started = gate.released = 0;
    CHECK_INT(work_pool_new(&pool, 1, QUEUE, 0), WORK_OK);
    /* The one worker takes the gate job and blocks: the queue is empty again. */
    rc[0] = work_pool_submit(pool, pool_gate_job, &gate);
    started = rc[0] == WORK_OK && pool_gate_wait_started(&gate);
    if (!started) {
        pool_gate_release(&gate);
        work_pool_free(pool);
    }
    CHECK(started);
    for (i = 0; i <= QUEUE; i++) {
        counters[i].hits = hits;
        counters[i].index = i;
        rc[i] = work_pool_submit(pool, pool_count_job, &counters[i]);
    }
    pool_gate_release(&gate);
    work_pool_free(pool);
    for (i = 0; i < QUEUE; i++)
        CHECK_INT(rc[i], WORK_OK);
    CHECK_INT(rc[QUEUE], WORK_EFULL);
    for (i = 0; i < QUEUE; i++)
        CHECK_INT(hits[i], 1);
    /* The refused job never ran. */
    CHECK_INT(hits[QUEUE], 0);
}

/* A job that keeps submitting no-ops until the pool says it is stopping. */
struct pool_stopper {
    struct work_pool *pool;
    int saw_stopped, other_error;
};

static void pool_noop_job(void *arg)
{
    (void)arg;
}

static void pool_stopper_job(void *arg)
{
    struct pool_stopper *s = arg;
    int i, rc;

    for (i = 0; i < 10000; i++) {
        rc = work_pool_submit(s->pool, pool_noop_job, NULL);
        if (rc == WORK_ESTOPPED) {
            s->saw_stopped = 1;
            return;
        }
        if (rc != WORK_OK && rc != WORK_EFULL)
            s->other_error = rc;
        usleep(1000);
    }
}

TEST(pool_free_runs_queued_jobs_and_refuses_new_ones)
{
    enum { QUEUED = 5 };
    int hits[QUEUED] = {0};
    struct pool_counter counters[QUEUED];
    struct pool_stopper stopper = {0};
    struct work_pool *pool = NULL;
    int i, ok = 1;

    CHECK_INT(work_pool_new(&pool, 1, 100000, 0), WORK_OK);
    stopper.pool = pool;
    /* The single worker runs the stopper until work_pool_free begins, so
     * the counting jobs are still queued when it does. */
    ok = work_pool_submit(pool, pool_stopper_job, &stopper) == WORK_OK;
    for (i = 0; i < QUEUED; i++) {
        counters[i].hits = hits;
        counters[i].index = i;
        if (work_pool_submit(pool, pool_count_job, &counters[i]) != WORK_OK)
            ok = 0;
    }
    work_pool_free(pool);
    CHECK(ok);
    CHECK(stopper.saw_stopped);
    CHECK_INT(stopper.other_error, 0);
    for (i = 0; i < QUEUED; i++)
        CHECK_INT(hits[i], 1);
}

TEST(pool_free_waits_for_running_job)
{
    static struct pool_gate gate = POOL_GATE_INIT;
    struct work_pool *pool = NULL;
    int hits[1] = {0};
    struct pool_counter counter = {hits, 0};
    pthread_t releaser;
    int started;

    gate.started = gate.released = 0;
    CHECK_INT(work_pool_new(&pool, 2, 8, 0), WORK_OK);
    CHECK_INT(work_pool_submit(pool, pool_gate_job, &gate), WORK_OK);
    started = pool_gate_wait_started(&gate);
    CHECK_INT(work_pool_submit(pool, pool_count_job, &counter), WORK_OK);
    /* Released from another thread while work_pool_free is waiting. */
    CHECK(pthread_create(&releaser, NULL, pool_release_later, &gate) == 0);
    work_pool_free(pool);
    CHECK(started);
    pthread_mutex_lock(&gate.lock);
    CHECK(gate.released);
    pthread_mutex_unlock(&gate.lock);
    pthread_join(releaser, NULL);
    CHECK_INT(hits[0], 1);
}

TEST(pool_new_refuses_bad_sizes)
{
    struct work_pool *pool = (struct work_pool *)&pool, *const sentinel = pool;

    CHECK(work_pool_new(&pool, 0, 8, 0) != WORK_OK);
    CHECK(work_pool_new(&pool, 1, 0, 0) != WORK_OK);
    CHECK(work_pool_new(&pool, -1, 8, 0) != WORK_OK);
    CHECK(pool == sentinel);
    work_pool_free(NULL);
}

struct pool_nice {
    int value, err;
};

static void pool_nice_job(void *arg)
{
    struct pool_nice *n = arg;

    errno = 0;
    n->value = getpriority(PRIO_PROCESS, (id_t)gettid());
    n->err = errno;
}

TEST(pool_workers_run_at_lower_priority)
{
    struct work_pool *pool = NULL;
    struct pool_nice n = {0, 0};
    int base, want;

    errno = 0;
    base = getpriority(PRIO_PROCESS, (id_t)gettid());
    CHECK_INT(errno, 0);
    want = base + 5 > 19 ? 19 : base + 5;
    CHECK_INT(work_pool_new(&pool, 1, 4, 5), WORK_OK);
    CHECK_INT(work_pool_submit(pool, pool_nice_job, &n), WORK_OK);
    work_pool_free(pool);
    CHECK_INT(n.err, 0);
    CHECK_INT(n.value, want);
    /* The calling thread keeps its own priority. */
    CHECK_INT(getpriority(PRIO_PROCESS, (id_t)gettid()), base);
}

/* on_idle: run by a worker that ran a job and then waited idle_ms, on its own thread, once per
 * busy spell, and again when the pool ends. */
static int idle_calls;
static pthread_t idle_thread, job_thread;

static void pool_count_idle(void)
{
    __atomic_add_fetch(&idle_calls, 1, __ATOMIC_SEQ_CST);
    idle_thread = pthread_self();
}

static void pool_note_thread(void *arg)
{
    (void)arg;
    job_thread = pthread_self();
}

static int pool_idle_calls_after(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    return __atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST);
}

TEST(pool_on_idle_runs_once_per_busy_spell_on_the_worker)
{
    struct work_pool *pool = NULL;

    idle_calls = 0;
    CHECK_INT(work_pool_new(&pool, 1, 4, 0), WORK_OK);
    work_pool_on_idle(pool, pool_count_idle, 50);
    /* A worker that never ran a job has nothing to hand back. */
    CHECK_INT(pool_idle_calls_after(300), 0);
    CHECK_INT(work_pool_submit(pool, pool_note_thread, NULL), WORK_OK);
    /* Generous bound: 50 ms idle, checked after 1 s. */
    CHECK_INT(pool_idle_calls_after(1000), 1);
    CHECK(pthread_equal(idle_thread, job_thread));
    /* Still idle: not again. */
    CHECK_INT(pool_idle_calls_after(300), 1);
    CHECK_INT(work_pool_submit(pool, pool_note_thread, NULL), WORK_OK);
    CHECK_INT(pool_idle_calls_after(1000), 2);
    /* Jobs closer together than idle_ms: none between them. */
    work_pool_on_idle(pool, pool_count_idle, 5000);
    CHECK_INT(work_pool_submit(pool, pool_note_thread, NULL), WORK_OK);
    CHECK_INT(pool_idle_calls_after(100), 2);
    /* The end of the pool runs it for the worker that ran a job. */
    work_pool_free(pool);
    CHECK_INT(__atomic_load_n(&idle_calls, __ATOMIC_SEQ_CST), 3);
}
