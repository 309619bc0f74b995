#include "api/access.h"

#include "api/client.h"
#include "api/handlers.h"
#include "api/reply.h"
#include "api/router.h"

#include "util/b64url.h"
#include "util/idrand.h"

#include <stdio.h>
#include <string.h>

/* Bytes of randomness in a generated request id: 16 base64url characters. */
#define ACCESS_ID_RANDOM_BYTES 12

/* The stats and the per-request state (client address included) that the
 * adapter carries for us. */
struct access_state {
    struct access_req pub;
    char client[CLIENT_IP_BYTES];
};

static struct access_route_stats route_stats[ACCESS_MAX_ROUTES + 1];

size_t access_ctx_bytes(void)
{
    return sizeof(struct access_state);
}

static struct access_state *state_of(struct http_request *req)
{
    return http_request_ctx(req);
}

/* 1 to 64 characters of [A-Za-z0-9._-]: safe in a header, a log line and a
 * file name, long enough for a UUID or a trace id. */
static int acceptable_id(const char *s)
{
    size_t n = s != NULL ? strnlen(s, LOG_REQUEST_ID_MAX + 1) : 0;

    return n >= 1 && n <= LOG_REQUEST_ID_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Called first on the HTTP thread (by the handler or, for the adapter's own
 * answers, by decorate), while the request's headers are at hand. */
static struct access_state *begin(struct http_request *req, const struct app *app)
{
    struct access_state *st = state_of(req);
    const char *given;

    if (st == NULL || st->pub.request_id[0] != '\0')
        return st;
    given = http_request_header(req, "X-Request-Id");
    if (acceptable_id(given)) {
        snprintf(st->pub.request_id, sizeof(st->pub.request_id), "%s", given);
    } else {
        unsigned char raw[ACCESS_ID_RANDOM_BYTES];

        /* Not getrandom(2) per request (libsodium's randombytes_buf): a
         * request id is no secret, only unguessable (util/idrand.h). */
        idrand_buf(raw, sizeof(raw));
        b64url_encode(st->pub.request_id, sizeof(st->pub.request_id), raw, sizeof(raw));
    }
    client_ip(app, req, st->client);
    return st;
}

const char *access_request_id(struct http_request *req)
{
    struct access_state *st = state_of(req);

    return st != NULL ? st->pub.request_id : "";
}

void access_note_route(struct http_request *req, int route_index)
{
    struct access_state *st = state_of(req);

    if (st != NULL && route_index >= 0 && route_index < ACCESS_MAX_ROUTES)
        st->pub.route_plus_one = route_index + 1;
}

void access_note_user(struct http_request *req, int64_t user_id)
{
    struct access_state *st = state_of(req);

    if (st != NULL)
        st->pub.user_id = user_id;
}

int64_t access_user_id(struct http_request *req)
{
    struct access_state *st = state_of(req);

    return st != NULL ? st->pub.user_id : 0;
}

void access_note_error_logged(struct http_request *req)
{
    struct access_state *st = state_of(req);

    if (st != NULL)
        st->pub.error_logged = 1;
}

void access_handle(struct http_request *req, void *ctx)
{
    struct access_state *st = begin(req, ctx);

    log_set_request_id(st != NULL ? st->pub.request_id : NULL);
    router_handle(req, ctx);
    log_set_request_id(NULL);
}

void access_handle_metrics(struct http_request *req, void *ctx)
{
    struct access_state *st = begin(req, ctx);
    const char *method = http_request_method(req);

    log_set_request_id(st != NULL ? st->pub.request_id : NULL);
    if (strcmp(http_request_path(req), "/metrics") != 0) {
        reply_error(req, 404, "No such endpoint");
    } else {
        access_note_route(req, router_route_index("/metrics"));
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            handle_metrics(ctx, req, 0);
        } else {
            struct http_response *resp = reply_new_error(405, "Method not allowed here");
            if (resp != NULL)
                http_response_header(resp, "Allow", "GET, HEAD");
            http_request_respond(req, resp);
        }
    }
    log_set_request_id(NULL);
}

void access_decorate(struct http_request *req, struct http_response *resp, void *ctx)
{
    struct access_state *st = begin(req, ctx);

    client_decorate(req, resp, ctx);
    if (st != NULL)
        http_response_header(resp, "X-Request-Id", st->pub.request_id);
}

void access_complete(struct http_request *req, const struct http_exchange *x, void *ctx)
{
    const struct app *app = ctx;
    struct access_state *st = state_of(req);
    struct access_route_stats *rs;
    int cls = x->status / 100;

    if (st == NULL)
        return;
    rs = &route_stats[st->pub.route_plus_one > 0 ? st->pub.route_plus_one - 1
                                                 : ACCESS_MAX_ROUTES];
    if (cls >= 1 && cls <= 5)
        __atomic_add_fetch(&rs->by_class[cls - 1], 1, __ATOMIC_RELAXED);
    histo_observe(&rs->duration, x->duration_us);

    log_set_request_id(st->pub.request_id);
    /* Every 500 leaves an error line; reply.c writes one with the cause,
     * this is the net for one that went out without it (the adapter's
     * answer when no response could be built). */
    if (x->status == 500 && !st->pub.error_logged)
        log_event(LOG_ERROR, "http.server_error", LOG_INT("status", x->status),
                  LOG_STR("method", http_request_method(req)),
                  LOG_STR("path", http_request_path(req)), LOG_STR("cause", "out of memory"));
    if (app->cfg->access_log)
        log_event(LOG_INFO, "http.request", LOG_STR("method", http_request_method(req)),
                  LOG_STR("path", http_request_path(req)), LOG_INT("status", x->status),
                  LOG_INT("duration_us", x->duration_us), LOG_INT("bytes", x->bytes),
                  LOG_STR("client", st->client),
                  st->pub.user_id > 0 ? LOG_INT("user_id", st->pub.user_id) : LOG_NONE);
    log_set_request_id(NULL);
}

void access_before_wait(void *ctx)
{
    (void)ctx;
    log_hold(1);
    log_flush();
}

void access_route_stats(int index, struct access_route_stats *out)
{
    const struct access_route_stats *rs = &route_stats[index];
    int i;

    for (i = 0; i < 5; i++)
        out->by_class[i] = __atomic_load_n(&rs->by_class[i], __ATOMIC_RELAXED);
    histo_read(&rs->duration, &out->duration);
}

int access_metrics_listen(const struct config *cfg, int *fd, int *port, char *err,
                          size_t err_size)
{
    char host[CONFIG_MAX_STR];
    int want;

    if (config_split_listen(cfg->metrics_listen, host, sizeof(host), &want) != 0) {
        snprintf(err, err_size, "LATCH_METRICS_LISTEN: expected host:port");
        return -1;
    }
    return http_listen(host, want, fd, port, err, err_size);
}

int access_metrics_start(struct app *app, int fd, struct http_server **out, char *err,
                         size_t err_size)
{
    struct http_server_options opts;

    memset(&opts, 0, sizeof(opts));
    opts.listen_fd = fd;
    opts.threads = 1;                       /* a scraper or two */
    opts.max_connections = LATCH_METRICS_MAX_CONNECTIONS;
    opts.max_conn_per_ip = 0;
    opts.idle_timeout_s = (unsigned)app->cfg->idle_timeout_s;
    opts.header_timeout_s = LATCH_METRICS_TIMEOUT_S;
    opts.body_timeout_s = LATCH_METRICS_TIMEOUT_S;
    opts.handler = access_handle_metrics;
    opts.decorate = access_decorate;
    opts.complete = access_complete;
    opts.before_wait = access_before_wait;
    opts.handler_ctx = app;
    opts.request_ctx_bytes = sizeof(struct access_state);
    return http_server_start(out, &opts, err, err_size);
}
