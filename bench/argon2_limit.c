/*
 * argon2_limit: what the machine can do in Argon2id verifies at latch's parameters, so that
 * `make bench` can state the physical limit of POST /login.
 *
 * Usage: argon2_limit MEMORY_KIB ITERATIONS COUNT [THREADS]
 *        argon2_limit --for SECONDS MEMORY_KIB ITERATIONS THREADS
 * The first form prints one line:
 *   "verify_s=<median s> min_s=<..> max_s=<..> count=<n> threads=<t> parallel_per_s=<..>"
 * The second (what make bench runs in every login round, beside latch's own login runs, so that
 * the limit and latch are measured under the same conditions) keeps THREADS threads verifying
 * for SECONDS and prints "threads=<t> seconds=<wall s> verifies=<n> per_s=<..>": verifies
 * completed per second of wall time, from the start until the last thread's last verify ends.
 * It hashes once with crypto_pwhash_str (libsodium fixes parallelism at 1, as latch does), then
 * times COUNT calls of crypto_pwhash_str_verify on one thread (what one correct login pays on
 * an idle core), then THREADS threads (default 1) each doing COUNT verifies at once:
 * parallel_per_s is their verifies per second of wall time, every core busy and sharing the
 * memory bandwidth, as under a login storm (issue 14: the limit is that, not one idle core's
 * time times the number of cores).  The parallel phase runs PASSES times and the best pass
 * counts: other work on the machine can only lower a pass, never raise it (one make bench
 * measured 23.4/s in its single pass while latch itself then did 40/s; three passes on the
 * quiet machine right after gave 41/s).
 *
 * Every hash and verify runs inside latch's pwmem bracket (src/auth/pwmem.c, built in beside this
 * file), so libsodium's Argon2 area is on 2 MiB transparent huge pages as it is in latch:
 * LATCH_ARGON2_HUGE_PAGES=0 in the environment turns that off here as it does there.
 */
#include "auth/pwmem.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int parse_ul(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const char password[] = "correct horse battery staple";
static char hash[crypto_pwhash_STRBYTES];
static unsigned long count;
static pthread_barrier_t start;
static double deadline;          /* --for: no verify starts after this */
static unsigned long done_total; /* --for: verifies completed, all threads */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

#define PASSES 3

/* One verify, bracketed as latch brackets it; 0 when the password matched. */
static int verify(void)
{
    int rc;

    pwmem_enter();
    rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    pwmem_leave();
    return rc;
}

/* One of the parallel verifiers: waits for the others, then verifies count times. */
static void *verifier(void *failed)
{
    unsigned long i;

    pthread_barrier_wait(&start);
    for (i = 0; i < count; i++)
        if (verify() != 0)
            *(int *)failed = 1;
    return NULL;
}

/* sodium_init, then the hash every verify checks (libsodium fixes parallelism at 1). */
static int make_hash(unsigned long memory_kib, unsigned long iterations)
{
    const char *huge = getenv("LATCH_ARGON2_HUGE_PAGES");
    int rc;

    pwmem_set_huge_pages(huge == NULL || strcmp(huge, "0") != 0);
    if (sodium_init() < 0)
        return -1;
    pwmem_enter();
    rc = crypto_pwhash_str(hash, password, strlen(password), iterations,
                           (size_t)memory_kib * 1024);
    pwmem_leave();
    if (rc != 0) {
        fprintf(stderr, "argon2_limit: crypto_pwhash_str failed (out of memory?)\n");
        return -1;
    }
    return 0;
}

/* --for: verifies until the deadline, then adds its count to the total. */
static void *timed_verifier(void *failed)
{
    unsigned long n = 0;

    pthread_barrier_wait(&start);
    while (now_s() < deadline) {
        if (verify() != 0)
            *(int *)failed = 1;
        n++;
    }
    pthread_mutex_lock(&done_lock);
    done_total += n;
    pthread_mutex_unlock(&done_lock);
    return NULL;
}

static int timed_main(int argc, char **argv)
{
    unsigned long seconds, memory_kib, iterations, threads, i;
    pthread_t tid[256];
    int failed = 0;
    double t0, took;

    if (argc != 6 || parse_ul(argv[2], 1, 3600, &seconds) != 0 ||
        parse_ul(argv[3], 8, 4UL * 1024 * 1024, &memory_kib) != 0 ||
        parse_ul(argv[4], 1, 64, &iterations) != 0 || parse_ul(argv[5], 1, 256, &threads) != 0) {
        fprintf(stderr, "usage: argon2_limit --for SECONDS MEMORY_KIB ITERATIONS THREADS\n");
        return 2;
    }
    if (make_hash(memory_kib, iterations) != 0)
        return 1;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, timed_verifier, &failed) != 0)
            return 1;
    t0 = now_s();
    deadline = t0 + (double)seconds;
    pthread_barrier_wait(&start);
    for (i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    took = now_s() - t0;
    if (failed) {
        fprintf(stderr, "argon2_limit: a verify failed\n");
        return 1;
    }
    printf("threads=%lu seconds=%.3f verifies=%lu per_s=%.3f\n", threads, took, done_total,
           (double)done_total / took);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long memory_kib, iterations, threads = 1, i;
    pthread_t tid[256];
    int failed = 0;
    double *samples, t0, parallel_s = 0;
    int pass;

    if (argc > 1 && strcmp(argv[1], "--for") == 0)
        return timed_main(argc, argv);
    if ((argc != 4 && argc != 5) || parse_ul(argv[1], 8, 4UL * 1024 * 1024, &memory_kib) != 0 ||
        parse_ul(argv[2], 1, 64, &iterations) != 0 || parse_ul(argv[3], 1, 10000, &count) != 0 ||
        (argc == 5 && parse_ul(argv[4], 1, 256, &threads) != 0)) {
        fprintf(stderr, "usage: argon2_limit MEMORY_KIB ITERATIONS COUNT [THREADS]\n");
        return 2;
    }
    if (make_hash(memory_kib, iterations) != 0)
        return 1;
    samples = calloc(count, sizeof(*samples));
    if (samples == NULL)
        return 1;
    for (i = 0; i < count; i++) {
        double t0 = now_s();
        if (verify() != 0) {
            fprintf(stderr, "argon2_limit: verify failed\n");
            free(samples);
            return 1;
        }
        samples[i] = now_s() - t0;
    }
    qsort(samples, count, sizeof(*samples), cmp_double);

    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (pass = 0; pass < PASSES; pass++) {
        double took;

        for (i = 0; i < threads; i++)
            if (pthread_create(&tid[i], NULL, verifier, &failed) != 0)
                return 1;
        t0 = now_s();
        pthread_barrier_wait(&start);
        for (i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
        took = now_s() - t0;
        if (pass == 0 || took < parallel_s)
            parallel_s = took;
    }
    if (failed) {
        fprintf(stderr, "argon2_limit: a parallel verify failed\n");
        return 1;
    }
    printf("verify_s=%.6f min_s=%.6f max_s=%.6f count=%lu threads=%lu parallel_per_s=%.3f\n",
           samples[count / 2], samples[0], samples[count - 1], count, threads,
           (double)(threads * count) / parallel_s);
    free(samples);
    return 0;
}
