/*
 * server.c - the adapter over libmicrohttpd 0.9.75.
 *
 * Threads: one internal epoll loop per HTTP thread (MHD_OPTION_THREAD_POOL_SIZE),
 * sharing the listening socket.  Requests that need slow work are suspended
 * (MHD_suspend_connection) and resumed by the worker that answers them.
 *
 * Traps of 0.9.75 handled here:
 * - queuing a response on the first call of the access handler (before the
 *   library has looked for a body) closes a keep-alive connection, so good
 *   answers are queued on a later call; error answers that should close the
 *   connection anyway (431, 413 with an unread body, 400) are queued at once.
 * - the library accepts requests with both Content-Length and
 *   Transfer-Encoding, and HTTP/1.1 requests without Host: refused here.
 * - it has no header-size limit of its own below its memory pool: enforced
 *   here from the parsed headers.
 */
#include "http/server.h"

#include "latch_limits.h"
#include "util/strmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_response {
    struct MHD_Response *mhd;
    unsigned status;
};

struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    char *body;
    size_t body_len;
    struct http_response *early;     /* answer decided before the handler ran */
    struct http_response *response;  /* the handler's answer, not yet queued */
    bool body_too_large;
    size_t discarded;                /* body bytes dropped past the limit */
    bool handled;                    /* the handler has been called */
    bool deferred;
    bool tls;
    char peer_ip[INET6_ADDRSTRLEN];
};

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    http_decorate_fn decorate;
    void *handler_ctx;
    int port;
    int listen_fd;                   /* handed back by quiesce; closed at stop */
    bool tls;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    unsigned in_flight;              /* requests begun and not yet completed */
    unsigned max_conn_per_ip;        /* 0: no limit */
    pthread_mutex_t ip_lock;         /* guards per_ip */
    struct strmap *per_ip;           /* open connections per client address */
    struct http_server_stats stats;  /* updated with atomic adds */
};

#define STAT_ADD(s, field) __atomic_add_fetch(&(s)->stats.field, 1, __ATOMIC_RELAXED)

static void addr_text(const struct sockaddr *sa, char *out, size_t size)
{
    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
}

/*
 * The per-address connection limit, enforced here rather than by the
 * library so that refusals can be counted.  The accept policy checks and
 * takes the address's slot in one step under the lock, so concurrent
 * accepts on several HTTP threads cannot overshoot; the close notification
 * gives the slot back.  (A connection the library fails to set up after the
 * policy said yes keeps its slot: an allocation failure, not a client's
 * doing.)
 */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_server *s = cls;
    char ip[INET6_ADDRSTRLEN];
    int64_t open = 0;
    (void)addrlen;

    if (s->max_conn_per_ip == 0)
        return MHD_YES;
    addr_text(addr, ip, sizeof(ip));
    pthread_mutex_lock(&s->ip_lock);
    (void)strmap_get(s->per_ip, ip, &open);
    if (open >= (int64_t)s->max_conn_per_ip ||
        strmap_put(s->per_ip, ip, open + 1, INT64_MAX) != 0) {
        pthread_mutex_unlock(&s->ip_lock);
        STAT_ADD(s, refused_per_ip);
        return MHD_NO;
    }
    pthread_mutex_unlock(&s->ip_lock);
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    const union MHD_ConnectionInfo *ci;
    char ip[INET6_ADDRSTRLEN];
    int64_t open = 0;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        __atomic_add_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
        /* The accept policy already took this connection's slot. */
        if (s->max_conn_per_ip != 0)
            *socket_context = (void *)1;   /* counted: uncount at close */
        return;
    }
    __atomic_sub_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
    if (*socket_context == NULL)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    addr_text(ci != NULL ? ci->client_addr : NULL, ip, sizeof(ip));
    pthread_mutex_lock(&s->ip_lock);
    if (strmap_get(s->per_ip, ip, &open) && open > 1)
        (void)strmap_put(s->per_ip, ip, open - 1, INT64_MAX);
    else
        strmap_del(s->per_ip, ip);
    pthread_mutex_unlock(&s->ip_lock);
    *socket_context = NULL;
}

void http_server_stats(struct http_server *server, struct http_server_stats *out)
{
    out->connections_open = __atomic_load_n(&server->stats.connections_open, __ATOMIC_RELAXED);
    out->refused_per_ip = __atomic_load_n(&server->stats.refused_per_ip, __ATOMIC_RELAXED);
    out->headers_too_large = __atomic_load_n(&server->stats.headers_too_large, __ATOMIC_RELAXED);
    out->uri_too_long = __atomic_load_n(&server->stats.uri_too_long, __ATOMIC_RELAXED);
    out->body_too_large = __atomic_load_n(&server->stats.body_too_large, __ATOMIC_RELAXED);
    out->bad_requests = __atomic_load_n(&server->stats.bad_requests, __ATOMIC_RELAXED);
}

static void count_request(struct http_server *s, int delta)
{
    pthread_mutex_lock(&s->lock);
    if (delta > 0) {
        s->in_flight++;
    } else if (s->in_flight > 0 && --s->in_flight == 0) {
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- responses ---- */

struct http_response *http_response_new(int status, const char *content_type, const char *body,
                                        size_t body_len)
{
    struct http_response *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->mhd = MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r->mhd == NULL) {
        free(r);
        return NULL;
    }
    r->status = (unsigned)status;
    if (content_type != NULL)
        MHD_add_response_header(r->mhd, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return r;
}

int http_response_header(struct http_response *resp, const char *name, const char *value)
{
    return MHD_add_response_header(resp->mhd, name, value) == MHD_YES ? 0 : -1;
}

void http_response_free(struct http_response *resp)
{
    if (resp == NULL)
        return;
    MHD_destroy_response(resp->mhd);
    free(resp);
}

/* The adapter's own answers (431, 414, 400, 500) carry the same headers as
 * latch's other error answers. */
static struct http_response *error_response(int status, const char *error, const char *message)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}", error, message);
    struct http_response *resp = http_response_new(status, "application/json", body, (size_t)n);

    if (resp != NULL) {
        http_response_header(resp, "Cache-Control", "no-store");
        http_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    return resp;
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct http_response *resp)
{
    enum MHD_Result rc;

    if (resp == NULL)
        return MHD_NO;           /* out of memory: close the connection */
    rc = MHD_queue_response(conn, resp->status, resp->mhd);
    http_response_free(resp);
    return rc;
}

/* ---- request accessors ---- */

const char *http_request_method(const struct http_request *req)
{
    return req->method;
}

const char *http_request_path(const struct http_request *req)
{
    return req->url;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    *len = req->body_len;
    return req->body != NULL ? req->body : "";
}

bool http_request_body_too_large(const struct http_request *req)
{
    return req->body_too_large;
}

bool http_request_is_tls(const struct http_request *req)
{
    return req->tls;
}

const char *http_request_peer_ip(const struct http_request *req)
{
    return req->peer_ip;
}

void http_request_defer(struct http_request *req)
{
    req->deferred = true;
    MHD_suspend_connection(req->conn);
}

void http_request_respond(struct http_request *req, struct http_response *resp)
{
    if (resp == NULL)
        resp = error_response(500, "Internal Server Error", "Out of memory");
    if (resp != NULL && req->server->decorate != NULL)
        req->server->decorate(req, resp, req->server->handler_ctx);
    __atomic_store_n(&req->response, resp, __ATOMIC_RELEASE);
    if (req->deferred)
        MHD_resume_connection(req->conn);
}

/* ---- the access handler ---- */

struct header_tally {
    size_t bytes;
    unsigned count;
    unsigned hosts;
    bool has_content_length, has_transfer_encoding, bad_transfer_encoding;
    uint64_t content_length;
    bool bad_content_length;
    bool nul_or_space;               /* white space (or a NUL) in a name */
};

static enum MHD_Result tally_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    struct header_tally *t = cls;
    (void)kind;

    t->bytes += key_size + value_size;
    t->count++;
    /* RFC 9112 5.1 forbids white space before the colon.  (A NUL inside a
     * value cannot be caught here: 0.9.75 cuts the value at the NUL and
     * reports the cut length; docs/api.md lists it.) */
    if ((value != NULL && strlen(value) != value_size) || strlen(key) != key_size ||
        strpbrk(key, " \t") != NULL)
        t->nul_or_space = true;
    if (strcasecmp(key, "Host") == 0) {
        t->hosts++;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        t->has_transfer_encoding = true;
        /* Only chunked is understood (RFC 9112 6.1). */
        if (value == NULL || strcasecmp(value, "chunked") != 0)
            t->bad_transfer_encoding = true;
    } else if (strcasecmp(key, "Content-Length") == 0 && value != NULL) {
        char *end = NULL;
        unsigned long long v;

        if (t->has_content_length)
            t->bad_content_length = true;  /* repeated: RFC 9112 6.3 says reject */
        t->has_content_length = true;
        errno = 0;
        v = strtoull(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || errno != 0 || end == NULL || *end != '\0')
            t->bad_content_length = true;
        else
            t->content_length = v;
    }
    return MHD_YES;
}

/* Checks made once the headers are in, before any handler runs. */
static struct http_response *check_headers(struct http_request *req, const char *version)
{
    struct header_tally t;
    const char *bad = NULL;

    memset(&t, 0, sizeof(t));
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, tally_header, &t);
    if (t.bytes > LATCH_MAX_HEADER_BYTES || t.count > LATCH_MAX_HEADER_COUNT) {
        STAT_ADD(req->server, headers_too_large);
        return error_response(431, "Request Header Fields Too Large",
                              "Request headers exceed 8 KiB or 100 fields");
    }
    if (strlen(req->url) > LATCH_MAX_URL_BYTES) {
        STAT_ADD(req->server, uri_too_long);
        return error_response(414, "URI Too Long", "Request target exceeds 2048 bytes");
    }
    if (t.nul_or_space)
        bad = "Malformed header field";
    else if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && t.hosts == 0)
        bad = "Missing Host header";
    else if (t.hosts > 1)
        bad = "More than one Host header";
    else if (t.bad_transfer_encoding)
        bad = "Only chunked Transfer-Encoding is accepted";
    else if (t.has_content_length && t.has_transfer_encoding)
        bad = "Both Content-Length and Transfer-Encoding are present";
    else if (t.bad_content_length)
        bad = "Malformed Content-Length";
    if (bad != NULL) {
        STAT_ADD(req->server, bad_requests);
        return error_response(400, "Bad Request", bad);
    }
    if (t.has_content_length && t.content_length > LATCH_MAX_BODY_BYTES) {
        req->body_too_large = true;
        STAT_ADD(req->server, body_too_large);
    }
    return NULL;
}

/* A request counts as in flight from the moment its handler runs until the
 * library reports it complete: graceful shutdown waits for those.  Requests
 * still arriving (a slow or abandoned upload) are not waited for. */
static void run_handler(struct http_request *req)
{
    req->handled = true;
    count_request(req->server, +1);
    req->server->handler(req, req->server->handler_ctx);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_server *server = cls;
    struct http_request *req = *con_cls;
    struct http_response *resp;

    if (req == NULL) {
        const union MHD_ConnectionInfo *ci;

        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->server = server;
        req->conn = conn;
        req->method = method;
        req->url = url;
        req->tls = server->tls;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          req->peer_ip, sizeof(req->peer_ip));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          req->peer_ip, sizeof(req->peer_ip));
        }
        *con_cls = req;

        req->early = check_headers(req, version);
        if (req->early != NULL) {
            resp = req->early;
            req->early = NULL;
            if (server->decorate != NULL)
                server->decorate(req, resp, server->handler_ctx);
            return queue(conn, resp);   /* closes the connection: intended */
        }
        if (req->body_too_large) {
            /* The router answers 404/405/413 without reading the body. */
            run_handler(req);
            resp = __atomic_exchange_n(&req->response, NULL, __ATOMIC_ACQUIRE);
            if (resp != NULL)
                return queue(conn, resp);
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (req->handled)
            return MHD_YES;           /* body after an early answer: discard */
        if (req->body_too_large || req->body_len + n > LATCH_MAX_BODY_BYTES) {
            /*
             * A chunked body that outgrew the limit.  0.9.75 cannot queue an
             * answer in the middle of a chunked upload, so the rest is read
             * and dropped, up to a bound, and the 413 goes out at its end;
             * past the bound the connection is closed.
             */
            if (!req->body_too_large)
                STAT_ADD(req->server, body_too_large);
            req->body_too_large = true;
            req->discarded += n;
            return req->discarded > LATCH_MAX_DISCARD_BYTES ? MHD_NO : MHD_YES;
        }
        if (req->body == NULL) {
            req->body = malloc(LATCH_MAX_BODY_BYTES + 1);
            if (req->body == NULL)
                return MHD_NO;
        }
        memcpy(req->body + req->body_len, upload_data, n);
        req->body_len += n;
        req->body[req->body_len] = '\0';
        return MHD_YES;
    }

    /* The request is complete (or the answer arrived after a resume). */
    if (!req->handled)
        run_handler(req);
    resp = __atomic_exchange_n(&req->response, NULL, __ATOMIC_ACQUIRE);
    if (resp != NULL)
        return queue(conn, resp);
    return MHD_YES;                   /* deferred: suspended until the answer */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *server = cls;
    struct http_request *req = *con_cls;
    (void)conn;
    (void)toe;

    if (req == NULL)
        return;
    http_response_free(req->response);
    http_response_free(req->early);
    /* Bodies carry passwords: wiped before the memory goes back. */
    if (req->body != NULL)
        explicit_bzero(req->body, req->body_len);
    free(req->body);
    if (req->handled)
        count_request(server, -1);
    free(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
    /* The library's own messages (client errors, mostly) are not latch's to
     * print: they would let any client flood the log. */
}

int http_listen(const char *host, int port, int *fd_out, int *port_out, char *err,
                size_t err_size)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    char port_str[16];
    int fd, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port_str, sizeof(port_str), "%d", port);
    rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, err_size, "cannot resolve listen address \"%s\": %s", host,
                 gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        snprintf(err, err_size, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    *port_out = ntohs(bound.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                          : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    *fd_out = fd;
    return 0;
}

int http_server_start(struct http_server **out, const struct http_server_options *opts,
                      char *err, size_t err_size)
{
    struct http_server *s;
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    unsigned int flags;

    if (getsockname(opts->listen_fd, (struct sockaddr *)&ss, &ss_len) != 0) {
        snprintf(err, err_size, "listening socket: %s", strerror(errno));
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    s->handler = opts->handler;
    s->handler_ctx = opts->handler_ctx;
    s->decorate = opts->decorate;
    s->listen_fd = -1;
    s->max_conn_per_ip = opts->max_conn_per_ip;
    s->per_ip = strmap_new();
    pthread_mutex_init(&s->ip_lock, NULL);
    if (s->per_ip == NULL) {
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);

    /* Not MHD_USE_TURBO: measured on 0.9.75 it halved keep-alive
     * throughput (bench/). */
    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
            MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->tls = opts->tls_cert_pem != NULL;
    if (s->tls)
        flags |= MHD_USE_TLS;

    {
        struct MHD_OptionItem o[20];
        int n = 0;

#define OPT(opt, val, ptr) o[n++] = (struct MHD_OptionItem){(opt), (intptr_t)(val), (ptr)}
        OPT(MHD_OPTION_LISTEN_SOCKET, opts->listen_fd, NULL);
        OPT(MHD_OPTION_THREAD_POOL_SIZE, opts->threads > 1 ? opts->threads : 0, NULL);
        OPT(MHD_OPTION_CONNECTION_LIMIT, opts->max_connections, NULL);
        OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s);
        OPT(MHD_OPTION_CONNECTION_TIMEOUT, opts->idle_timeout_s, NULL);
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, LATCH_CONN_MEMORY_BYTES, NULL);
        OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s);
        OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL);
        OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL);
        if (s->tls) {
            OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opts->tls_cert_pem);
            OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opts->tls_key_pem);
            OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)opts->tls_priorities);
        }
        OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
        s->daemon = MHD_start_daemon(flags, 0, accept_policy, s, on_access, s, MHD_OPTION_ARRAY,
                                     o, MHD_OPTION_END);
    }
    if (s->daemon == NULL) {
        snprintf(err, err_size, "cannot start the HTTP server: %s",
                 errno != 0 ? strerror(errno) : "libmicrohttpd refused the configuration");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->idle);
        pthread_mutex_destroy(&s->ip_lock);
        strmap_free(s->per_ip);
        free(s);
        return -1;
    }
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    *out = s;
    return 0;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_quiesce(struct http_server *server)
{
    MHD_socket fd;

    if (server->listen_fd >= 0)
        return;
    fd = MHD_quiesce_daemon(server->daemon);
    if (fd != MHD_INVALID_SOCKET)
        server->listen_fd = fd;
}

void http_server_stop(struct http_server *server, int grace_s)
{
    struct timespec deadline;

    if (server == NULL)
        return;
    http_server_quiesce(server);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_s;
    pthread_mutex_lock(&server->lock);
    while (server->in_flight > 0)
        if (pthread_cond_timedwait(&server->idle, &server->lock, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&server->lock);
    MHD_stop_daemon(server->daemon);
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    pthread_mutex_destroy(&server->lock);
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->ip_lock);
    strmap_free(server->per_ip);
    free(server);
}
