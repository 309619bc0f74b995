/* Tests src/util/num.c: whole decimal strings in a range, nothing else. */
#include "test.h"

#include "util/num.h"

#include <time.h>

/* Parses s into [min, max]; on failure requires *out to be left alone. */
static int num_try(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0x5A5A5A5A;
    int rc = num_parse_i64(s, min, max, &v);

    if (rc != 0 && v != 0x5A5A5A5A)
        return 999;
    *out = v;
    return rc;
}

TEST(num_parses_whole_numbers)
{
    int64_t v = 0;

    CHECK_INT(num_try("0", 0, 10, &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(num_try("42", 0, 100, &v), 0);
    CHECK_INT(v, 42);
    CHECK_INT(num_try("-5", -10, 10, &v), 0);
    CHECK_INT(v, -5);
    CHECK_INT(num_try("007", 0, 10, &v), 0);
    CHECK_INT(v, 7);
    CHECK_INT(num_try("-0", 0, 0, &v), 0);
    CHECK_INT(v, 0);
}

TEST(num_range_is_inclusive)
{
    int64_t v = 0;

    CHECK_INT(num_try("1", 1, 65535, &v), 0);
    CHECK_INT(num_try("65535", 1, 65535, &v), 0);
    CHECK_INT(v, 65535);
    CHECK_INT(num_try("0", 1, 65535, &v), -1);
    CHECK_INT(num_try("65536", 1, 65535, &v), -1);
    CHECK_INT(num_try("-1", 0, 10, &v), -1);
}

TEST(num_int64_limits)
{
    int64_t v = 0;

    CHECK_INT(num_try("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_INT(num_try("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_INT(num_try("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
    CHECK_INT(num_try("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
    CHECK_INT(num_try("99999999999999999999999", INT64_MIN, INT64_MAX, &v), -1);
}

TEST(num_refuses_everything_else)
{
    static const char *const bad[] = {
        "", " 1", "1 ", "\t1", "1\n", "+1", "--1", "-", "+", "1a", "a1", "0x10", "1e3",
        "1.0", "1,000", "1_000", "\xd9\xa1", "- 1", "12 34",
    };
    int64_t v = 0;
    size_t i;
    int rc;

    CHECK_INT(num_try(NULL, 0, 100, &v), -1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = num_try(bad[i], INT64_MIN, INT64_MAX, &v);
        if (rc != -1)
            test_failed(__FILE__, __LINE__, "\"%s\": got %d, want -1", bad[i], rc);
    }
}

/* num_format_i64 writes what snprintf's "%lld" writes, for every edge. */
TEST(num_formats_like_printf)
{
    static const int64_t values[] = {0, 1, -1, 9, 10, -10, 1234567890, -987654321,
                                      INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char got[NUM_I64_BYTES], want[32];
    size_t i, n;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        memset(got, 'x', sizeof(got));
        n = num_format_i64(values[i], got);
        snprintf(want, sizeof(want), "%lld", (long long)values[i]);
        CHECK_STR(got, want);
        CHECK_INT(n, strlen(want));
    }
}

/* num_format_utc writes what strftime writes, inside and outside its fast
 * range of years. */
TEST(num_formats_utc_like_strftime)
{
    static const int64_t values[] = {0, 1, 59, 86399, 951782400 /* 2000-02-29 */,
                                     1796145677, 253402300799 /* 9999-12-31T23:59:59 */,
                                     253402300800, -1, -62167219200 /* 0000-01-01 */};
    char got[NUM_UTC_BYTES], want[64];
    struct tm tm;
    time_t t;
    size_t i, n;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        t = (time_t)values[i];
        CHECK(gmtime_r(&t, &tm) != NULL);
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        n = num_format_utc(values[i], got);
        CHECK_STR(got, want);
        CHECK_INT(n, strlen(want));
    }
}
