/*
 * metrics.c - GET /metrics in the Prometheus text format: counters only,
 * nothing about users or keys.
 */
#include "api/handlers.h"
#include "api/reply.h"

#include <stdio.h>

void handle_metrics(struct app *app, struct http_request *req, int64_t id)
{
    struct tokcache_stats tc;
    struct http_response *resp;
    char body[1024];
    int n;

    (void)id;
    tokcache_stats(app->tokcache, &tc);
    n = snprintf(body, sizeof(body),
                 "# TYPE latch_token_cache_hits_total counter\n"
                 "latch_token_cache_hits_total %llu\n"
                 "# TYPE latch_token_cache_misses_total counter\n"
                 "latch_token_cache_misses_total %llu\n"
                 "# TYPE latch_token_cache_evictions_total counter\n"
                 "latch_token_cache_evictions_total %llu\n"
                 "# TYPE latch_token_cache_capacity gauge\n"
                 "latch_token_cache_capacity %zu\n",
                 (unsigned long long)tc.hits, (unsigned long long)tc.misses,
                 (unsigned long long)tc.evictions, tc.capacity);
    resp = http_response_new(200, "text/plain; version=0.0.4", body, (size_t)n);
    if (resp != NULL)
        http_response_header(resp, "Cache-Control", "no-store");
    http_request_respond(req, resp);
}
