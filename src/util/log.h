/*
 * log.h - the one place latch writes diagnostics (stderr, one line each).
 * Only top-level code (main, the server loop, the CLI, the API's request
 * layer) logs; library code returns errors.  Secrets are never passed here:
 * no password, token, cookie, secret or key, in a message or in a field.
 *
 * Two formats (LATCH_LOG_FORMAT): text, for people,
 *     latch: warning: msg key=value key="a value with spaces"
 * and json, one object per line, for collectors:
 *     {"ts":"2026-11-29T00:17:17.123Z","level":"info","msg":"...","key":"value",...}
 * Each line goes out in a single write(2) of at most LOG_MAX_LINE_BYTES, so
 * lines of concurrent threads never interleave (a pipe write up to PIPE_BUF
 * is atomic).  A value that does not fit is cut, the line stays well-formed.
 *
 * A thread may carry a request id (log_set_request_id): every line it logs
 * meanwhile gets a request_id field.  The hashing pool hands the id of the
 * request that submitted a job to the worker that runs it.
 */
#ifndef LATCH_UTIL_LOG_H
#define LATCH_UTIL_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* A request id: 1 to 64 characters of [A-Za-z0-9._-]. */
#define LOG_REQUEST_ID_MAX 64
/* One line, newline included: PIPE_BUF, the largest atomic pipe write. */
#define LOG_MAX_LINE_BYTES 4096

void log_set_level(enum log_level level);
/* Whether a line of this level would be written (spare building fields). */
int log_enabled(enum log_level level);
void log_set_format(enum log_format format);
enum log_format log_get_format(void);

/* The calling thread's request id (copied; NULL or "" clears it).  Returns
 * nothing: the previous id is not restored, callers set and clear. */
void log_set_request_id(const char *id);
/* The calling thread's request id, "" when none; valid until changed. */
const char *log_request_id(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Named fields of a line.  Build them with LOG_STR / LOG_INT / LOG_BOOL; a
 * LOG_STR whose value is NULL, and LOG_NONE, are left out (so "when known"
 * is one ternary). */
enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_BOOL };
struct log_field {
    const char *key;
    enum log_field_type type;
    const char *s;
    long long i;
};
#define LOG_STR(k, v)  ((struct log_field){(k), LOG_FIELD_STR, (v), 0})
#define LOG_INT(k, v)  ((struct log_field){(k), LOG_FIELD_INT, NULL, (long long)(v)})
#define LOG_BOOL(k, v) ((struct log_field){(k), LOG_FIELD_BOOL, NULL, (v) ? 1 : 0})
/* A field left out: `known ? LOG_INT("user_id", id) : LOG_NONE`. */
#define LOG_NONE       ((struct log_field){NULL, LOG_FIELD_STR, NULL, 0})

void log_fields(enum log_level level, const char *msg, const struct log_field *fields,
                size_t n);

/* An event line with fields, e.g.
 *   log_event(LOG_INFO, "login.failure", LOG_STR("reason", "unknown_email"),
 *             LOG_STR("email", email));
 * At least one field. */
#define log_event(level, msg, ...)                                                   \
    do {                                                                             \
        const struct log_field log_event_fields_[] = {__VA_ARGS__};                  \
        log_fields((level), (msg), log_event_fields_,                                \
                   sizeof(log_event_fields_) / sizeof(log_event_fields_[0]));        \
    } while (0)

/* Holding, per thread, for a thread that logs a line per request (an HTTP
 * thread's access log): with log_hold(1), the calling thread's lines gather
 * in a buffer of LOG_MAX_LINE_BYTES instead of a write(2) each, and go out
 * together, in order and whole, in one write:
 *   - at log_flush(), which the thread calls before it waits for more work;
 *   - when the next line would not fit (the lines held go first);
 *   - at once with a line of level warn or error.
 * A write of at most PIPE_BUF bytes still never interleaves with another
 * thread's.  log_hold(0) flushes and ends it.  A line held when the process
 * dies abruptly is lost: at most what the thread logged since it last
 * waited. */
void log_hold(int on);
void log_flush(void);

/* Formats one line into out (at most size bytes, newline included) as the
 * current format would, at time ts_ms (ms since the epoch), for the given
 * request id ("" or NULL: none).  Returns its length.  For the unit tests. */
size_t log_format_line(char *out, size_t size, enum log_format format, int64_t ts_ms,
                       enum log_level level, const char *request_id, const char *msg,
                       const struct log_field *fields, size_t n);

#endif
