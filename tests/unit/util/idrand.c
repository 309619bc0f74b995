/* Tests src/util/idrand.c: bytes come, differ from call to call and from
 * thread to thread, and any length works. */
#include "test.h"

#include "util/idrand.h"

#include <pthread.h>

TEST(idrand_fills_and_differs)
{
    unsigned char a[12], b[12], zero[12] = {0}, big[200];
    size_t i, zeros = 0;

    idrand_buf(a, sizeof(a));
    idrand_buf(b, sizeof(b));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(memcmp(a, zero, sizeof(a)) != 0);
    /* Across several refills: no run of zeros a buggy copy would leave. */
    memset(big, 0, sizeof(big));
    idrand_buf(big, sizeof(big));
    for (i = 0; i < sizeof(big); i++)
        zeros += big[i] == 0;
    CHECK(zeros < 10);
    idrand_buf(big, 0);
}

static void *draw(void *out)
{
    idrand_buf(out, 16);
    return NULL;
}

TEST(idrand_threads_get_their_own_stream)
{
    unsigned char x[16], y[16];
    pthread_t t1, t2;

    CHECK(pthread_create(&t1, NULL, draw, x) == 0);
    CHECK(pthread_create(&t2, NULL, draw, y) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(memcmp(x, y, sizeof(x)) != 0);
}
