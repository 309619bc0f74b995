/*
 * metrics.c - GET /metrics in the Prometheus text format: counters only,
 * nothing about users or keys.
 */
#include "api/handlers.h"
#include "api/reply.h"

#include <stdio.h>
#include <string.h>

void handle_metrics(struct app *app, struct http_request *req, int64_t id)
{
    struct tokcache_stats tc;
    struct http_server_stats hs;
    struct ratelimit_stats rl;
    struct http_response *resp;
    char body[2048];
    int n;

    (void)id;
    tokcache_stats(app->tokcache, &tc);
    ratelimit_stats(app->ratelimit, &rl);
    memset(&hs, 0, sizeof(hs));
    if (app->server != NULL)
        http_server_stats(app->server, &hs);
    n = snprintf(body, sizeof(body),
                 "# TYPE latch_token_cache_hits_total counter\n"
                 "latch_token_cache_hits_total %llu\n"
                 "# TYPE latch_token_cache_misses_total counter\n"
                 "latch_token_cache_misses_total %llu\n"
                 "# TYPE latch_token_cache_evictions_total counter\n"
                 "latch_token_cache_evictions_total %llu\n"
                 "# TYPE latch_token_cache_capacity gauge\n"
                 "latch_token_cache_capacity %zu\n"
                 "# TYPE latch_connections_open gauge\n"
                 "latch_connections_open %llu\n"
                 "# TYPE latch_refused_total counter\n"
                 "latch_refused_total{limit=\"conn_per_ip\"} %llu\n"
                 "latch_refused_total{limit=\"header_bytes\"} %llu\n"
                 "latch_refused_total{limit=\"url_bytes\"} %llu\n"
                 "latch_refused_total{limit=\"body_bytes\"} %llu\n"
                 "latch_refused_total{limit=\"protocol\"} %llu\n"
                 "latch_refused_total{limit=\"ip_rate\"} %llu\n"
                 "# TYPE latch_rate_buckets gauge\n"
                 "latch_rate_buckets %zu\n"
                 "# TYPE latch_http_header_timeouts_total counter\n"
                 "latch_http_header_timeouts_total %llu\n"
                 "# TYPE latch_http_body_timeouts_total counter\n"
                 "latch_http_body_timeouts_total %llu\n",
                 (unsigned long long)tc.hits, (unsigned long long)tc.misses,
                 (unsigned long long)tc.evictions, tc.capacity, hs.connections_open,
                 hs.refused_per_ip, hs.headers_too_large, hs.uri_too_long, hs.body_too_large,
                 hs.bad_requests, (unsigned long long)rl.refused, rl.keys, hs.header_timeouts,
                 hs.body_timeouts);
    resp = http_response_new(200, "text/plain; version=0.0.4", body, (size_t)n);
    if (resp != NULL)
        http_response_header(resp, "Cache-Control", "no-store");
    http_request_respond(req, resp);
}
