#include "util/num.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    /* strtoll accepts leading spaces and '+'; configuration values may not. */
    if (!(*s == '-' || (*s >= '0' && *s <= '9')))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

size_t num_format_i64(int64_t v, char out[NUM_I64_BYTES])
{
    char digits[NUM_I64_BYTES];
    size_t n = sizeof(digits), len;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--n] = '-';
    len = sizeof(digits) - n;
    memcpy(out, digits + n, len);
    out[len] = '\0';
    return len;
}

static char *two_digits(char *p, int v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

size_t num_format_utc(int64_t secs, char out[NUM_UTC_BYTES])
{
    time_t t = (time_t)secs;
    struct tm tm;
    char *p = out;
    int year;

    if (gmtime_r(&t, &tm) == NULL) {
        out[0] = '\0';
        return 0;
    }
    year = tm.tm_year + 1900;
    if (year < 1000 || year > 9999)
        return strftime(out, NUM_UTC_BYTES, "%Y-%m-%dT%H:%M:%S", &tm);
    p = two_digits(p, year / 100);
    p = two_digits(p, year % 100);
    *p++ = '-';
    p = two_digits(p, tm.tm_mon + 1);
    *p++ = '-';
    p = two_digits(p, tm.tm_mday);
    *p++ = 'T';
    p = two_digits(p, tm.tm_hour);
    *p++ = ':';
    p = two_digits(p, tm.tm_min);
    *p++ = ':';
    p = two_digits(p, tm.tm_sec);
    *p = '\0';
    return (size_t)(p - out);
}
