/*
 * test.h - the unit-test harness: TEST(name) { ... } registers a test; the
 * CHECK macros print both sides on failure and end the test.
 */
#ifndef LATCH_TEST_H
#define LATCH_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int test_current_failed(void);

#define TEST(name)                                                              \
    static void name(void);                                                     \
    __attribute__((constructor)) static void register_##name(void)              \
    {                                                                           \
        test_register(#name, __FILE__, name);                                   \
    }                                                                           \
    static void name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_failed(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_INT(a, b)                                                         \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) {                                                         \
            test_failed(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,   \
                        a_, b_);                                                \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                         \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                  \
            test_failed(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,   \
                        #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
            return;                                                             \
        }                                                                       \
    } while (0)

#endif
