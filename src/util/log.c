#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    current_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;
    int n;

    if (level > current_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* One fputs per line so concurrent threads do not interleave mid-line. */
    if (level == LOG_INFO)
        fprintf(stderr, "latch: %s\n", line);
    else
        fprintf(stderr, "latch: %s: %s\n", names[level], line);
}
