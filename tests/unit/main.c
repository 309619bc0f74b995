/*
 * The unit-test runner: runs every registered test (or those whose name or
 * file contains argv[1]) and ends with "N passed, N failed".
 */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

#define MAX_TESTS 1024

struct test {
    const char *name, *file;
    test_fn fn;
};

static struct test tests[MAX_TESTS];
static int n_tests;
static int current_failed;

void test_register(const char *name, const char *file, test_fn fn)
{
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].file = file;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void test_failed(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    current_failed = 1;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

int test_current_failed(void)
{
    return current_failed;
}

static int by_file_then_name(const void *a, const void *b)
{
    const struct test *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c != 0 ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 && argv[1][0] != '\0' ? argv[1] : NULL;
    int i, passed = 0, failed = 0;

    qsort(tests, (size_t)n_tests, sizeof(tests[0]), by_file_then_name);
    for (i = 0; i < n_tests; i++) {
        if (filter != NULL && strstr(tests[i].name, filter) == NULL &&
            strstr(tests[i].file, filter) == NULL)
            continue;
        current_failed = 0;
        tests[i].fn();
        printf("%s %s (%s)\n", current_failed ? "FAIL" : "ok  ", tests[i].name, tests[i].file);
        fflush(stdout);
        if (current_failed)
            failed++;
        else
            passed++;
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
