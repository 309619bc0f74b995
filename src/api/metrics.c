/*
 * metrics.c - GET /metrics in the Prometheus text format (version 0.0.4),
 * checked by `promtool check metrics` in the tests: counters, gauges and
 * histograms, nothing about users or keys.  With LATCH_METRICS_TOKEN it
 * answers only to Authorization: Bearer <that token> (compared in constant
 * time); with LATCH_METRICS_LISTEN it is served on that listener alone
 * (router.c hides it from the public one).
 */
#include "api/access.h"
#include "api/events.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "api/router.h"
#include "auth/credentials.h"
#include "latch_version.h"
#include "mail/outbox.h"
#include "store/stats.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole page: the per-route series make it tens of KiB. */
#define METRICS_MAX_BYTES (512 * 1024)

struct out {
    char *p;
    size_t len, cap;
    int failed;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        if (o->cap * 2 > METRICS_MAX_BYTES) {
            o->failed = 1;
            return;
        }
        {
            char *bigger = realloc(o->p, o->cap * 2);
            if (bigger == NULL) {
                o->failed = 1;
                return;
            }
            o->p = bigger;
            o->cap *= 2;
        }
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; labels is "" or `route="/login",` (a trailing
 * comma, as le follows). */
static void histogram(struct out *o, const char *name, const char *labels, const struct histo *h)
{
    uint64_t cumulative = 0;
    size_t i;

    for (i = 0; i < HISTO_N_BOUNDS; i++) {
        cumulative += h->counts[i];
        emit(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, (double)histo_bounds_us[i] / 1e6,
             (unsigned long long)cumulative);
    }
    cumulative += h->counts[HISTO_N_BOUNDS];
    emit(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cumulative);
    /* The _sum and _count series take the labels without le. */
    if (labels[0] != '\0') {
        size_t n = strlen(labels) - 1;     /* drop the trailing comma */
        emit(o, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %llu\n", name, (int)n, labels,
             (double)h->sum_us / 1e6, name, (int)n, labels, (unsigned long long)cumulative);
    } else {
        emit(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)h->sum_us / 1e6, name,
             (unsigned long long)cumulative);
    }
}

/* LATCH_METRICS_TOKEN: returns 0 when /metrics may be read, else answers
 * 401 and returns -1.  Both sides are hashed first so the comparison takes
 * the same time whatever the lengths. */
static int check_token(struct http_request *req)
{
    const char *want = getenv("LATCH_METRICS_TOKEN"), *got = NULL;
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
    size_t got_len = 0;
    enum bearer_result br;
    int ok;

    if (want == NULL || want[0] == '\0')
        return 0;
    br = credentials_parse_bearer(http_request_header(req, "Authorization"), &got, &got_len);
    if (br != BEARER_OK || got_len > LATCH_MAX_METRICS_TOKEN_BYTES) {
        reply_unauthorized(req, br != BEARER_NONE,
                           br != BEARER_NONE ? "Invalid or expired token" : "Missing token");
        return -1;
    }
    crypto_generichash(a, sizeof(a), (const unsigned char *)want, strlen(want), NULL, 0);
    crypto_generichash(b, sizeof(b), (const unsigned char *)got, got_len, NULL, 0);
    ok = sodium_memcmp(a, b, sizeof(a)) == 0;
    sodium_memzero(a, sizeof(a));
    sodium_memzero(b, sizeof(b));
    if (!ok) {
        reply_unauthorized(req, true, "Invalid or expired token");
        return -1;
    }
    return 0;
}

static void render_http(struct out *o)
{
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    struct access_route_stats rs;
    size_t n = router_route_count(), r;
    char labels[128];
    int c;

    head(o, "latch_http_requests_total", "counter",
         "Requests answered, by route pattern (other: unknown paths and the adapter's own "
         "answers) and status class.");
    for (r = 0; r <= n; r++) {
        access_route_stats(r < n ? (int)r : ACCESS_MAX_ROUTES, &rs);
        for (c = 0; c < 5; c++)
            emit(o, "latch_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                 r < n ? router_route_pattern(r) : "other", classes[c],
                 (unsigned long long)rs.by_class[c]);
    }
    head(o, "latch_http_request_duration_seconds", "histogram",
         "From a request's whole head to its answer sent, by route pattern.");
    for (r = 0; r <= n; r++) {
        access_route_stats(r < n ? (int)r : ACCESS_MAX_ROUTES, &rs);
        snprintf(labels, sizeof(labels), "route=\"%s\",", r < n ? router_route_pattern(r)
                                                                 : "other");
        histogram(o, "latch_http_request_duration_seconds", labels, &rs.duration);
    }
}

void handle_metrics(struct app *app, struct http_request *req, int64_t id)
{
    struct tokcache_stats tc;
    struct http_server_stats hs;
    struct ratelimit_stats rl;
    struct work_pool_stats ps;
    struct store_stats ss;
    struct outbox_counters mc;
    struct http_response *resp;
    struct out o = {NULL, 0, 16384, 0};
    int i;

    (void)id;
    if (check_token(req) != 0)
        return;
    o.p = malloc(o.cap);
    if (o.p == NULL) {
        reply_error(req, 500, "Out of memory");
        return;
    }
    tokcache_stats(app->tokcache, &tc);
    ratelimit_stats(app->ratelimit, &rl);
    work_pool_stats(app->pool, &ps);
    store_stats_read(&ss);
    memset(&hs, 0, sizeof(hs));
    if (app->server != NULL)
        http_server_stats(app->server, &hs);

    head(&o, "latch_build_info", "gauge", "The version and git commit of this latch; always 1.");
    emit(&o, "latch_build_info{version=\"%s\",commit=\"%s\"} 1\n", LATCH_VERSION, LATCH_COMMIT);
    render_http(&o);

    head(&o, "latch_logins_total", "counter",
         "POST /login outcomes (mfa_required: the password was right and a TOTP code is asked next).");
    for (i = 0; i < EVENTS_LOGIN_N_OUTCOMES; i++)
        emit(&o, "latch_logins_total{outcome=\"%s\"} %llu\n", events_login_outcome_names[i],
             (unsigned long long)events_logins((enum events_login_outcome)i));

    head(&o, "latch_hash_queue_depth", "gauge", "Password-hashing jobs waiting for a worker.");
    emit(&o, "latch_hash_queue_depth %d\n", ps.queued);
    head(&o, "latch_hash_queue_capacity", "gauge",
         "Jobs that may wait (LATCH_HASH_QUEUE); beyond it requests get 503.");
    emit(&o, "latch_hash_queue_capacity %d\n", ps.queue_max);
    head(&o, "latch_hash_workers", "gauge", "Password-hashing threads.");
    emit(&o, "latch_hash_workers %d\n", ps.workers);
    head(&o, "latch_hash_workers_busy", "gauge", "Password-hashing threads running a job now.");
    emit(&o, "latch_hash_workers_busy %d\n", ps.busy);
    head(&o, "latch_hash_queue_wait_seconds", "histogram",
         "From a hashing job's submit to a worker starting it.");
    histogram(&o, "latch_hash_queue_wait_seconds", "", &ps.wait);

    head(&o, "latch_store_errors_total", "counter",
         "Store calls that failed (io: the backend failed; unavailable: no answer in time; "
         "nomem).");
    emit(&o, "latch_store_errors_total{error=\"io\"} %llu\n"
             "latch_store_errors_total{error=\"unavailable\"} %llu\n"
             "latch_store_errors_total{error=\"nomem\"} %llu\n",
         (unsigned long long)ss.errors_io, (unsigned long long)ss.errors_unavailable,
         (unsigned long long)ss.errors_nomem);
    head(&o, "latch_store_call_duration_seconds", "histogram", "Latency of every store call.");
    histogram(&o, "latch_store_call_duration_seconds", "", &ss.latency);

    head(&o, "latch_revocations_held", "gauge",
         "Revocation entries in memory (revoked logins, user cutoffs, revoked tokens).");
    emit(&o, "latch_revocations_held %zu\n",
         app->revocation != NULL ? revocation_count(app->revocation) : (size_t)0);

    head(&o, "latch_token_cache_hits_total", "counter", "Verified-token cache hits.");
    emit(&o, "latch_token_cache_hits_total %llu\n", (unsigned long long)tc.hits);
    head(&o, "latch_token_cache_misses_total", "counter", "Verified-token cache misses.");
    emit(&o, "latch_token_cache_misses_total %llu\n", (unsigned long long)tc.misses);
    head(&o, "latch_token_cache_evictions_total", "counter",
         "Entries evicted from the verified-token cache to make room.");
    emit(&o, "latch_token_cache_evictions_total %llu\n", (unsigned long long)tc.evictions);
    head(&o, "latch_token_cache_capacity", "gauge", "Entries the verified-token cache holds.");
    emit(&o, "latch_token_cache_capacity %zu\n", tc.capacity);
    head(&o, "latch_connections_open", "gauge", "Connections open now.");
    emit(&o, "latch_connections_open %llu\n", hs.connections_open);
    head(&o, "latch_refused_total", "counter", "Connections or requests refused, by limit.");
    emit(&o,
         "latch_refused_total{limit=\"conn_per_ip\"} %llu\n"
         "latch_refused_total{limit=\"header_bytes\"} %llu\n"
         "latch_refused_total{limit=\"url_bytes\"} %llu\n"
         "latch_refused_total{limit=\"body_bytes\"} %llu\n"
         "latch_refused_total{limit=\"protocol\"} %llu\n"
         "latch_refused_total{limit=\"ip_rate\"} %llu\n",
         hs.refused_per_ip, hs.headers_too_large, hs.uri_too_long, hs.body_too_large,
         hs.bad_requests, (unsigned long long)rl.refused);
    head(&o, "latch_rate_buckets", "gauge", "Per-address rate buckets held in memory.");
    emit(&o, "latch_rate_buckets %zu\n", rl.keys);
    head(&o, "latch_http_header_timeouts_total", "counter",
         "Connections closed: no whole request head within LATCH_HEADER_TIMEOUT_S.");
    emit(&o, "latch_http_header_timeouts_total %llu\n", hs.header_timeouts);
    head(&o, "latch_http_body_timeouts_total", "counter",
         "Connections closed: no whole body within LATCH_BODY_TIMEOUT_S of its head.");
    emit(&o, "latch_http_body_timeouts_total %llu\n", hs.body_timeouts);
    outbox_counters(&mc);
    head(&o, "latch_mail_queued_total", "counter",
         "Mails this process put in the outbox (each with the token it carries).");
    emit(&o, "latch_mail_queued_total %llu\n", (unsigned long long)mc.queued);
    head(&o, "latch_mail_sent_total", "counter", "Mails this process's sender delivered.");
    emit(&o, "latch_mail_sent_total %llu\n", (unsigned long long)mc.sent);
    head(&o, "latch_mail_failed_attempts_total", "counter",
         "Delivery attempts that failed (each is retried with backoff until its link expires).");
    emit(&o, "latch_mail_failed_attempts_total %llu\n", (unsigned long long)mc.failed);
    head(&o, "latch_mail_expired_total", "counter",
         "Mails dropped unsent because the link they carry expired.");
    emit(&o, "latch_mail_expired_total %llu\n", (unsigned long long)mc.expired);
    head(&o, "latch_mail_pending", "gauge", "Mails waiting in the outbox (all instances).");
    emit(&o, "latch_mail_pending %lld\n", (long long)mc.pending);
    head(&o, "latch_mail_oldest_pending_age_seconds", "gauge",
         "Age of the oldest mail waiting in the outbox; 0 when none.");
    emit(&o, "latch_mail_oldest_pending_age_seconds %lld\n", (long long)mc.oldest_age_s);

    if (o.failed) {
        free(o.p);
        reply_error(req, 500, "Reply too large");
        return;
    }
    resp = http_response_new(200, "text/plain; version=0.0.4", o.p, o.len);
    free(o.p);
    if (resp != NULL)
        http_response_header(resp, "Cache-Control", "no-store");
    http_request_respond(req, resp);
}
