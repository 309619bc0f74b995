#include "api/client.h"

#include "api/reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void client_ip(const struct app *app, struct http_request *req, char out[CLIENT_IP_BYTES])
{
    const char *peer = http_request_peer_ip(req), *xff, *end;

    snprintf(out, CLIENT_IP_BYTES, "%s", peer);
    if (!cidr_contains(&app->trusted_proxies, peer))
        return;
    xff = http_request_header(req, "X-Forwarded-For");
    if (xff == NULL)
        return;
    /* Walk from the right: each hop appends the address it received from. */
    end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        char hop[CLIENT_IP_BYTES];
        size_t n;

        while (start > xff && start[-1] != ',')
            start--;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        n = (size_t)(end - start);
        while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
            n--;
        if (n > 0 && n < sizeof(hop)) {
            memcpy(hop, start, n);
            hop[n] = '\0';
            snprintf(out, CLIENT_IP_BYTES, "%s", hop);
            if (!cidr_contains(&app->trusted_proxies, hop))
                return;
        }
        end = start;
        while (end > xff && (end[-1] == ',' || end[-1] == ' '))
            end--;
    }
}

int client_is_secure(const struct app *app, struct http_request *req)
{
    const char *proto;

    if (http_request_is_tls(req))
        return 1;
    if (!cidr_contains(&app->trusted_proxies, http_request_peer_ip(req)))
        return 0;
    proto = http_request_header(req, "X-Forwarded-Proto");
    return proto != NULL && strcasecmp(proto, "https") == 0;
}

int client_rate_limit(struct app *app, struct http_request *req)
{
    char ip[CLIENT_IP_BYTES], retry[24];
    struct http_response *resp;
    struct timespec ts;
    int64_t retry_after = 1;

    if (app->cfg->ip_rate_per_min == 0)
        return 0;
    client_ip(app, req, ip);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ratelimit_take(app->ratelimit, ip, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
                       &retry_after))
        return 0;
    resp = reply_new_error(429, "Too many attempts, try again later");
    snprintf(retry, sizeof(retry), "%lld", (long long)retry_after);
    if (resp != NULL)
        http_response_header(resp, "Retry-After", retry);
    http_request_respond(req, resp);
    return -1;
}

void client_decorate(struct http_request *req, struct http_response *resp, void *ctx)
{
    const struct app *app = ctx;
    const char *origin;

    if (app->n_origins > 0) {
        /* The answer depends on Origin whether or not this one is allowed:
         * say so, or a shared cache could hand one origin's answer to
         * another. */
        http_response_header(resp, "Vary", "Origin");
        origin = http_request_header(req, "Origin");
        if (app_origin_allowed(app, origin)) {
            http_response_header(resp, "Access-Control-Allow-Origin", origin);
            http_response_header(resp, "Access-Control-Allow-Credentials", "true");
        }
    }
    if (http_request_is_tls(req))
        http_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}
