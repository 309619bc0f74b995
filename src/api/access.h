/*
 * access.h - what the API keeps about each request from its head to its
 * answer: the request id (X-Request-Id, kept from the client when it is
 * 1-64 characters of [A-Za-z0-9._-], else generated), the route it matched,
 * the user when known.  At completion it writes the access log line
 * (LATCH_ACCESS_LOG) and counts the request for /metrics by route and status
 * class, with its duration.
 *
 * The HTTP adapter knows none of this: main hands it access_handle (or
 * access_handle_metrics for the LATCH_METRICS_LISTEN listener),
 * access_decorate, access_complete and access_before_wait, and
 * access_ctx_bytes() of per-request memory.  The request id is put on the thread (util/log.h) while the
 * handler runs, so every line logged for the request carries it, and on
 * every answer's X-Request-Id header.
 */
#ifndef LATCH_API_ACCESS_H
#define LATCH_API_ACCESS_H

#include "api/app.h"
#include "http/server.h"
#include "util/histo.h"
#include "util/log.h"

/* Routes counted one by one (router.c's table must fit); the rest is
 * "other" (unknown paths, the adapter's own answers). */
#define ACCESS_MAX_ROUTES 32

struct access_req {
    char request_id[LOG_REQUEST_ID_MAX + 1];   /* "" until assigned */
    int route_plus_one;                        /* 0: none matched ("other") */
    int64_t user_id;                           /* 0: not known */
    int error_logged;                          /* a 5xx already has its error line */
};
/* The per-request memory to ask the adapter for (request_ctx_bytes). */
size_t access_ctx_bytes(void);

/* The http_handler_fn of the public listener: the router, wrapped. */
void access_handle(struct http_request *req, void *ctx);
/* The handler of the LATCH_METRICS_LISTEN listener: /metrics only. */
void access_handle_metrics(struct http_request *req, void *ctx);
/* The http_decorate_fn: client_decorate (CORS, HSTS) and X-Request-Id. */
void access_decorate(struct http_request *req, struct http_response *resp, void *ctx);
/* The http_complete_fn: the access log line and the per-route metrics. */
void access_complete(struct http_request *req, const struct http_exchange *x, void *ctx);
/* The HTTP threads' before_wait: their log lines are held (util/log.h's
 * log_hold) and written out here, a batch of access lines in one write
 * instead of one write per request. */
void access_before_wait(void *ctx);

/* The request's id (assigned on first use). */
const char *access_request_id(struct http_request *req);
void access_note_route(struct http_request *req, int route_index);
void access_note_user(struct http_request *req, int64_t user_id);
/* The user noted for the request (the authenticated caller), 0 if none. */
int64_t access_user_id(struct http_request *req);
/* A 5xx's error line was written (reply.c), so completion adds none. */
void access_note_error_logged(struct http_request *req);

/* Per-route counts for /metrics: index ACCESS_MAX_ROUTES is "other". */
struct access_route_stats {
    uint64_t by_class[5];          /* 1xx .. 5xx */
    struct histo duration;
};
void access_route_stats(int index, struct access_route_stats *out);

/* Binds LATCH_METRICS_LISTEN (before privileges are dropped).  Returns 0
 * with *fd, or -1 with err. */
int access_metrics_listen(const struct config *cfg, int *fd, int *port, char *err,
                          size_t err_size);
/* Starts the metrics listener's server on fd (which it then owns). */
int access_metrics_start(struct app *app, int fd, struct http_server **out, char *err,
                         size_t err_size);

#endif
