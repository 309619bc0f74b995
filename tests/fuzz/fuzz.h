/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * An invariant that does not hold is a bug like a sanitizer report: say which
 * one and abort(), so libFuzzer writes the input out as a crash file.
 */
#ifndef LATCH_FUZZ_H
#define LATCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Reports a broken invariant in words and aborts; run.sh shows the first line. */
#define FUZZ_FAIL(...)                                                                     \
    do {                                                                                   \
        fprintf(stderr, "FUZZ FAILURE: %s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        abort();                                                                           \
    } while (0)

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            FUZZ_FAIL("invariant failed: %s", #cond);                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
