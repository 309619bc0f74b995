/*
 * log.h - the one place latch writes diagnostics (stderr, one line each).
 * Only top-level code (main, the server loop, the CLI) logs; library code
 * returns errors.  Secrets are never passed here.
 */
#ifndef LATCH_UTIL_LOG_H
#define LATCH_UTIL_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
