/* Tests src/util/histo.c: bucket edges (an observation equal to a bound
 * falls in that bucket, as Prometheus' le means) and the sum. */
#include "test.h"

#include "util/histo.h"

TEST(histo_buckets_are_inclusive_upper_bounds)
{
    struct histo h, r;

    memset(&h, 0, sizeof(h));
    histo_observe(&h, 0);
    histo_observe(&h, 100);          /* le="0.0001" */
    histo_observe(&h, 101);          /* le="0.00025" */
    histo_observe(&h, 10000000);     /* the last bound, 10 s */
    histo_observe(&h, 10000001);     /* +Inf */
    histo_read(&h, &r);
    CHECK_INT((int64_t)r.counts[0], 2);
    CHECK_INT((int64_t)r.counts[1], 1);
    CHECK_INT((int64_t)r.counts[HISTO_N_BOUNDS - 1], 1);
    CHECK_INT((int64_t)r.counts[HISTO_N_BOUNDS], 1);
    CHECK_INT((int64_t)r.sum_us, 0 + 100 + 101 + 10000000 + 10000001);
}
