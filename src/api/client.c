#include "api/client.h"

#include "api/reply.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The longest entry that can hold an address: "[" v6 "]:" port. */
#define FORWARDED_ENTRY_BYTES (INET6_ADDRSTRLEN + 8)

/* A TCP port: 1 to 5 digits, at most 65535. */
static bool is_port(const char *s, size_t n)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 5)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

/*
 * One X-Forwarded-For entry (already trimmed) into the canonical text of its
 * address: "a.b.c.d", "a.b.c.d:port", bare IPv6, "[v6]" or "[v6]:port" (the
 * forms proxies write; the port is dropped, so a client is one client
 * whatever source port it used).  An IPv4-mapped IPv6 address becomes the
 * IPv4 address, as the peer address of an IPv4 connection reads.  Returns
 * false for anything else.
 */
static bool parse_forwarded_entry(const char *entry, size_t len, char out[CLIENT_IP_BYTES])
{
    char host[FORWARDED_ENTRY_BYTES + 1];
    struct in6_addr addr;            /* big enough for either family */
    const char *colon;
    size_t host_len = len;
    int family = AF_INET;

    if (len == 0 || len > FORWARDED_ENTRY_BYTES)
        return false;
    if (entry[0] == '[') {
        const char *close = memchr(entry, ']', len);
        size_t after;

        if (close == NULL)
            return false;
        after = len - (size_t)(close + 1 - entry);
        if (after != 0 && (close[1] != ':' || !is_port(close + 2, after - 1)))
            return false;
        entry++;
        host_len = (size_t)(close - entry);
        family = AF_INET6;
    } else if ((colon = memchr(entry, ':', len)) != NULL) {
        if (memchr(colon + 1, ':', len - (size_t)(colon + 1 - entry)) != NULL) {
            family = AF_INET6;           /* two or more colons: a bare v6 address */
        } else {
            if (!is_port(colon + 1, len - (size_t)(colon + 1 - entry)))
                return false;
            host_len = (size_t)(colon - entry);
        }
    }
    memcpy(host, entry, host_len);
    host[host_len] = '\0';
    if (inet_pton(family, host, &addr) != 1)
        return false;
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&addr))
        return inet_ntop(AF_INET, &addr.s6_addr[12], out, CLIENT_IP_BYTES) != NULL;
    return inet_ntop(family, &addr, out, CLIENT_IP_BYTES) != NULL;
}

/*
 * Walks every X-Forwarded-For line, last line first, each from its right
 * end: the lines of a field are one comma-separated list in order (RFC 9110
 * 5.3), and each proxy appends the address it received from.  Entries that
 * are not addresses are skipped.  Stops at the first address that is not a
 * trusted proxy, in out; if every address is one, out holds the leftmost
 * (or stays as it was when there is no address at all).
 */
static void forwarded_client(const struct app *app, struct http_request *req,
                             char out[CLIENT_IP_BYTES])
{
    const char *line;
    size_t lines = 0, i;

    while (http_request_header_at(req, "X-Forwarded-For", lines) != NULL)
        lines++;
    for (i = lines; i-- > 0;) {
        const char *end;

        line = http_request_header_at(req, "X-Forwarded-For", i);
        end = line + strlen(line);
        while (end > line) {
            const char *start = end;
            char hop[CLIENT_IP_BYTES];
            size_t n;

            while (start > line && start[-1] != ',')
                start--;
            n = (size_t)(end - start);
            end = start > line ? start - 1 : line;
            while (n > 0 && (*start == ' ' || *start == '\t'))
                start++, n--;
            while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
                n--;
            if (!parse_forwarded_entry(start, n, hop))
                continue;
            memcpy(out, hop, CLIENT_IP_BYTES);
            if (!cidr_contains(&app->trusted_proxies, hop))
                return;
        }
    }
}

void client_ip(const struct app *app, struct http_request *req, char out[CLIENT_IP_BYTES])
{
    const char *peer = http_request_peer_ip(req);

    size_t n = strnlen(peer, CLIENT_IP_BYTES - 1);

    /* A copy, not snprintf: this runs on every request. */
    memcpy(out, peer, n);
    out[n] = '\0';
    if (!cidr_contains(&app->trusted_proxies, peer))
        return;
    forwarded_client(app, req, out);
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
