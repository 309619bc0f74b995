/*
 * argon2_limit: the time of one Argon2id verify at latch's parameters, so that `make bench`
 * can state the physical limit of POST /login (CPUs / time of one verify).
 *
 * Usage: argon2_limit MEMORY_KIB ITERATIONS COUNT
 * Prints one line: "verify_s=<median seconds> min_s=<..> max_s=<..> count=<n>".
 * It hashes once with crypto_pwhash_str (libsodium fixes parallelism at 1, as latch does), then
 * times COUNT calls of crypto_pwhash_str_verify, which is what a correct login pays.
 */
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

int main(int argc, char **argv)
{
    static const char password[] = "correct horse battery staple";
    char hash[crypto_pwhash_STRBYTES];
    unsigned long memory_kib, iterations, count, i;
    double *samples;

    if (argc != 4 || parse_ul(argv[1], 8, 4UL * 1024 * 1024, &memory_kib) != 0 ||
        parse_ul(argv[2], 1, 64, &iterations) != 0 || parse_ul(argv[3], 1, 10000, &count) != 0) {
        fprintf(stderr, "usage: argon2_limit MEMORY_KIB ITERATIONS COUNT\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    if (crypto_pwhash_str(hash, password, strlen(password), iterations,
                          (size_t)memory_kib * 1024) != 0) {
        fprintf(stderr, "argon2_limit: crypto_pwhash_str failed (out of memory?)\n");
        return 1;
    }
    samples = calloc(count, sizeof(*samples));
    if (samples == NULL)
        return 1;
    for (i = 0; i < count; i++) {
        double t0 = now_s();
        if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) {
            fprintf(stderr, "argon2_limit: verify failed\n");
            free(samples);
            return 1;
        }
        samples[i] = now_s() - t0;
    }
    qsort(samples, count, sizeof(*samples), cmp_double);
    printf("verify_s=%.6f min_s=%.6f max_s=%.6f count=%lu\n", samples[count / 2], samples[0],
           samples[count - 1], count);
    free(samples);
    return 0;
}
