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
 *   here from the parsed headers (framing.c).
 * - it glues an obs-fold continuation line onto the previous field's name
 *   (RFC 9112 5.2), so "Content-Length:" + " 69" arrives as a field named
 *   "Content-Length69": framing.c refuses names that are not tokens or that
 *   extend a name latch acts upon.
 * - its idle timer restarts with every byte received, so a request head or
 *   body trickled a byte at a time is never closed by it.  Absolute deadlines
 *   are kept here: each connection has a state (the socket_context of the
 *   connection notifications) that sits on one of two deadline lists while
 *   it waits for a head or a body, and a reaper thread shuts down the socket
 *   of one past its deadline; the library then sees end-of-file and closes it.
 */
#include "http/server.h"

#include "http/framing.h"
#include "latch_limits.h"
#include "util/strmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_response {
    struct MHD_Response *mhd;
    unsigned status;
    size_t body_len;
};

/*
 * Where a connection stands for the deadlines.  WAIT_HEAD and WAIT_BODY
 * connections are on the server's list of that phase; BUSY ones (a handler
 * running, a deferred request, a response going out) and REAPED ones (shut
 * down by the reaper, the library closing them) are on none.
 */
enum conn_phase { PHASE_WAIT_HEAD, PHASE_WAIT_BODY, PHASE_BUSY, PHASE_REAPED };
#define N_WAIT_PHASES 2

struct conn_state {
    struct conn_state *prev, *next;  /* on waiting[phase]; guarded by conn_lock */
    int64_t deadline_ms;             /* CLOCK_MONOTONIC */
    enum conn_phase phase;
    int fd;
    bool ip_counted;                 /* holds a slot in per_ip */
};

/* One list per waiting phase.  Every entry of a list got the same timeout
 * when it was appended, so the list is in deadline order and the reaper
 * looks only at its head: its cost is the number of expired connections,
 * not the number of open ones. */
struct deadline_list {
    struct conn_state *head, *tail;
    int64_t timeout_ms;              /* 0: no deadline in this phase */
};

struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;
    struct conn_state *cs;           /* NULL if the connection has none (no memory) */
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
    uint64_t started_us;             /* CLOCK_MONOTONIC, when the head was in */
    unsigned status;                 /* of the answer queued; 0: none yet */
    size_t bytes;
    /* The handler's per-request state (request_ctx_bytes). */
    _Alignas(max_align_t) unsigned char ctx[];
};

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    http_decorate_fn decorate;
    http_complete_fn complete;
    void *handler_ctx;
    size_t request_ctx_bytes;
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

    pthread_mutex_t conn_lock;       /* guards waiting[] and every conn_state's phase */
    struct deadline_list waiting[N_WAIT_PHASES];
    pthread_cond_t reaper_wake;      /* signalled to stop the reaper */
    pthread_t reaper;
    bool reaper_running;
    bool reaper_stop;
    /* The socket_context of a connection that got no state of its own (no
     * memory): on no list, ip_counted set, never freed. */
    struct conn_state untracked;
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

/* ---- deadlines for request heads and bodies ---- */

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void list_unlink(struct deadline_list *l, struct conn_state *cs)
{
    if (cs->prev != NULL)
        cs->prev->next = cs->next;
    else
        l->head = cs->next;
    if (cs->next != NULL)
        cs->next->prev = cs->prev;
    else
        l->tail = cs->prev;
    cs->prev = cs->next = NULL;
}

static void list_append(struct deadline_list *l, struct conn_state *cs)
{
    cs->prev = l->tail;
    cs->next = NULL;
    if (l->tail != NULL)
        l->tail->next = cs;
    else
        l->head = cs;
    l->tail = cs;
}

/* Takes cs off its list; conn_lock held. */
static void leave_phase(struct http_server *s, struct conn_state *cs)
{
    if (cs->phase == PHASE_WAIT_HEAD || cs->phase == PHASE_WAIT_BODY)
        list_unlink(&s->waiting[cs->phase], cs);
}

/*
 * Moves a connection to a phase; entering a waiting phase starts its
 * deadline now.  A connection the reaper has shut down stays REAPED: the
 * library is closing it and may still report the request's end.
 */
static void set_phase(struct http_server *s, struct conn_state *cs, enum conn_phase phase)
{
    if (cs == NULL || cs == &s->untracked)
        return;
    pthread_mutex_lock(&s->conn_lock);
    if (cs->phase != PHASE_REAPED) {
        leave_phase(s, cs);
        cs->phase = phase;
        if (phase == PHASE_WAIT_HEAD || phase == PHASE_WAIT_BODY) {
            struct deadline_list *l = &s->waiting[phase];
            /* With no timeout for the phase the connection waits on no list. */
            if (l->timeout_ms > 0) {
                cs->deadline_ms = monotonic_ms() + l->timeout_ms;
                list_append(l, cs);
            } else {
                cs->phase = PHASE_BUSY;
            }
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
}

/*
 * The reaper: every LATCH_DEADLINE_CHECK_MS it shuts down the sockets of
 * the connections past their deadline.  shutdown(2) rather than close(2):
 * the fd stays the library's, which sees end-of-file on its next read and
 * closes the connection its own way (the library reads on the event the
 * shutdown raises).  The fd cannot have been closed under us: the library
 * notifies MHD_CONNECTION_NOTIFY_CLOSED, which takes conn_lock to take the
 * state off its list, before it calls close(2) (0.9.75 daemon.c
 * MHD_cleanup_connections), and shutdown() runs under conn_lock here.
 */
static void *reaper_main(void *arg)
{
    struct http_server *s = arg;

    pthread_mutex_lock(&s->conn_lock);
    while (!s->reaper_stop) {
        int64_t now = monotonic_ms();
        struct timespec wake;
        int phase;

        for (phase = 0; phase < N_WAIT_PHASES; phase++) {
            struct deadline_list *l = &s->waiting[phase];

            while (l->head != NULL && l->head->deadline_ms <= now) {
                struct conn_state *cs = l->head;

                list_unlink(l, cs);
                cs->phase = PHASE_REAPED;
                (void)shutdown(cs->fd, SHUT_RDWR);
                if (phase == PHASE_WAIT_HEAD)
                    STAT_ADD(s, header_timeouts);
                else
                    STAT_ADD(s, body_timeouts);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &wake);
        wake.tv_nsec += (long)LATCH_DEADLINE_CHECK_MS * 1000000L;
        if (wake.tv_nsec >= 1000000000L) {
            wake.tv_sec += wake.tv_nsec / 1000000000L;
            wake.tv_nsec %= 1000000000L;
        }
        (void)pthread_cond_timedwait(&s->reaper_wake, &s->conn_lock, &wake);
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}

static struct conn_state *conn_state_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/*
 * STARTED: the connection gets its state, waiting for a head from now on.
 * If there is no memory for one, the connection cannot be given a deadline:
 * it is shut down at once, and the per-address slot the accept policy took
 * is returned through the server's placeholder state at its close.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    struct conn_state *cs;
    const union MHD_ConnectionInfo *ci;
    char ip[INET6_ADDRSTRLEN];
    int64_t open = 0;
    bool ip_counted;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        __atomic_add_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cs = calloc(1, sizeof(*cs));
        if (cs == NULL || ci == NULL) {
            if (ci != NULL)
                (void)shutdown(ci->connect_fd, SHUT_RDWR);
            free(cs);
            *socket_context = s->max_conn_per_ip != 0 ? &s->untracked : NULL;
            return;
        }
        cs->fd = ci->connect_fd;
        cs->phase = PHASE_BUSY;
        /* The accept policy already took this connection's slot. */
        cs->ip_counted = s->max_conn_per_ip != 0;
        *socket_context = cs;
        set_phase(s, cs, PHASE_WAIT_HEAD);
        return;
    }

    __atomic_sub_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
    cs = *socket_context;
    *socket_context = NULL;
    if (cs == NULL)
        return;
    ip_counted = cs->ip_counted;
    if (cs != &s->untracked) {
        pthread_mutex_lock(&s->conn_lock);
        leave_phase(s, cs);
        pthread_mutex_unlock(&s->conn_lock);
        free(cs);
    }
    if (!ip_counted)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    addr_text(ci != NULL ? ci->client_addr : NULL, ip, sizeof(ip));
    pthread_mutex_lock(&s->ip_lock);
    if (strmap_get(s->per_ip, ip, &open) && open > 1)
        (void)strmap_put(s->per_ip, ip, open - 1, INT64_MAX);
    else
        strmap_del(s->per_ip, ip);
    pthread_mutex_unlock(&s->ip_lock);
}

void http_server_stats(struct http_server *server, struct http_server_stats *out)
{
    out->connections_open = __atomic_load_n(&server->stats.connections_open, __ATOMIC_RELAXED);
    out->refused_per_ip = __atomic_load_n(&server->stats.refused_per_ip, __ATOMIC_RELAXED);
    out->headers_too_large = __atomic_load_n(&server->stats.headers_too_large, __ATOMIC_RELAXED);
    out->uri_too_long = __atomic_load_n(&server->stats.uri_too_long, __ATOMIC_RELAXED);
    out->body_too_large = __atomic_load_n(&server->stats.body_too_large, __ATOMIC_RELAXED);
    out->bad_requests = __atomic_load_n(&server->stats.bad_requests, __ATOMIC_RELAXED);
    out->header_timeouts = __atomic_load_n(&server->stats.header_timeouts, __ATOMIC_RELAXED);
    out->body_timeouts = __atomic_load_n(&server->stats.body_timeouts, __ATOMIC_RELAXED);
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
    r->body_len = body_len;
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

static enum MHD_Result queue(struct http_request *req, struct http_response *resp)
{
    enum MHD_Result rc;

    if (resp == NULL)
        return MHD_NO;           /* out of memory: close the connection */
    req->status = resp->status;
    req->bytes = strcmp(req->method, "HEAD") == 0 ? 0 : resp->body_len;
    rc = MHD_queue_response(req->conn, resp->status, resp->mhd);
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

struct nth_field {
    const char *name;
    size_t index;                    /* occurrences still to skip */
    const char *value;
};

static enum MHD_Result find_nth_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct nth_field *q = cls;
    (void)kind;
    (void)key_size;
    (void)value_size;

    if (strcasecmp(key, q->name) != 0)
        return MHD_YES;
    if (q->index > 0) {
        q->index--;
        return MHD_YES;
    }
    q->value = value != NULL ? value : "";
    return MHD_NO;
}

const char *http_request_header_at(const struct http_request *req, const char *name,
                                   size_t index)
{
    struct nth_field q = {name, index, NULL};

    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, find_nth_field, &q);
    return q.value;
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

void *http_request_ctx(struct http_request *req)
{
    return req->server->request_ctx_bytes > 0 ? req->ctx : NULL;
}

const char *http_request_peer_ip(const struct http_request *req)
{
    return req->peer_ip;
}

void http_request_defer(struct http_request *req)
{
    /* A handler already running off the HTTP threads (deferred to the store
     * pool) may defer again to the hashing pool: suspend once. */
    if (req->deferred)
        return;
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

struct field_list {
    struct framing_field fields[FRAMING_MAX_FIELDS];
    size_t n;
};

static enum MHD_Result collect_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    struct field_list *l = cls;
    (void)kind;

    /* (A NUL inside a value cannot be seen here: 0.9.75 cuts the value at
     * the NUL and reports the cut length; docs/api.md lists it.) */
    l->fields[l->n++] = (struct framing_field){key, key_size, value, value_size};
    /* One field past the count limit decides the 431: stop there. */
    return l->n < FRAMING_MAX_FIELDS ? MHD_YES : MHD_NO;
}

/* Checks made once the headers are in, before any handler runs. */
static struct http_response *check_headers(struct http_request *req, const char *version)
{
    struct field_list l;
    const char *reason = NULL;
    enum framing_verdict verdict;

    l.n = 0;
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, collect_field, &l);
    /* The library answers other major versions with 505 itself; a minor
     * version above 1 is read as 1.1 (RFC 9112 2.3). */
    verdict = framing_check(l.fields, l.n, strcmp(version, MHD_HTTP_VERSION_1_0) == 0 ? 0 : 1,
                            &reason);
    if (verdict == FRAMING_FIELDS_TOO_LARGE) {
        STAT_ADD(req->server, headers_too_large);
        return error_response(431, "Request Header Fields Too Large", reason);
    }
    if (strlen(req->url) > LATCH_MAX_URL_BYTES) {
        STAT_ADD(req->server, uri_too_long);
        return error_response(414, "URI Too Long", "Request target exceeds 2048 bytes");
    }
    if (verdict == FRAMING_BAD_REQUEST) {
        STAT_ADD(req->server, bad_requests);
        return error_response(400, "Bad Request", reason);
    }
    if (verdict == FRAMING_BODY_TOO_LARGE) {
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
    /* No deadline while the handler runs, is deferred to a worker, or its
     * answer goes out. */
    set_phase(req->server, req->cs, PHASE_BUSY);
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

        req = calloc(1, sizeof(*req) + server->request_ctx_bytes);
        if (req == NULL)
            return MHD_NO;
        req->started_us = monotonic_us();
        req->server = server;
        req->conn = conn;
        req->method = method;
        req->url = url;
        req->tls = server->tls;
        req->cs = conn_state_of(conn);
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

        /* The head is in: the body's deadline starts (a request without one
         * is handled at once, which ends it). */
        set_phase(server, req->cs, PHASE_WAIT_BODY);
        req->early = check_headers(req, version);
        if (req->early != NULL) {
            set_phase(server, req->cs, PHASE_BUSY);
            resp = req->early;
            req->early = NULL;
            if (server->decorate != NULL)
                server->decorate(req, resp, server->handler_ctx);
            return queue(req, resp);   /* closes the connection: intended */
        }
        if (req->body_too_large) {
            /* The router answers 404/405/413 without reading the body. */
            run_handler(req);
            resp = __atomic_exchange_n(&req->response, NULL, __ATOMIC_ACQUIRE);
            if (resp != NULL)
                return queue(req, resp);
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
        return queue(req, resp);
    return MHD_YES;                   /* deferred: suspended until the answer */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *server = cls;
    struct http_request *req = *con_cls;
    (void)toe;

    /* The response is out (or the connection is closing): a keep-alive
     * connection has a fresh head deadline from here. */
    set_phase(server, conn_state_of(conn), PHASE_WAIT_HEAD);
    if (req == NULL)
        return;
    if (req->status != 0 && server->complete != NULL) {
        struct http_exchange x;

        x.status = (int)req->status;
        x.bytes = req->bytes;
        x.duration_us = monotonic_us() - req->started_us;
        server->complete(req, &x, server->handler_ctx);
    }
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
    s->complete = opts->complete;
    s->request_ctx_bytes = opts->request_ctx_bytes;
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
    pthread_mutex_init(&s->conn_lock, NULL);
    s->waiting[PHASE_WAIT_HEAD].timeout_ms = (int64_t)opts->header_timeout_s * 1000;
    s->waiting[PHASE_WAIT_BODY].timeout_ms = (int64_t)opts->body_timeout_s * 1000;
    s->untracked.phase = PHASE_BUSY;
    s->untracked.ip_counted = true;
    s->untracked.fd = -1;
    {
        /* The reaper sleeps on CLOCK_MONOTONIC, as the deadlines are kept. */
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->reaper_wake, &ca);
        pthread_condattr_destroy(&ca);
    }

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
        goto cleanup;
    }
    if (s->waiting[PHASE_WAIT_HEAD].timeout_ms > 0 || s->waiting[PHASE_WAIT_BODY].timeout_ms > 0) {
        int rc = pthread_create(&s->reaper, NULL, reaper_main, s);

        if (rc != 0) {
            snprintf(err, err_size, "cannot start the HTTP deadline thread: %s", strerror(rc));
            MHD_stop_daemon(s->daemon);
            goto cleanup;
        }
        s->reaper_running = true;
    }
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    *out = s;
    return 0;

cleanup:
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->ip_lock);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_cond_destroy(&s->reaper_wake);
    strmap_free(s->per_ip);
    free(s);
    return -1;
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
    /* The reaper stops before the library closes what is left: that frees
     * every connection state, and conn_lock goes with the server. */
    if (server->reaper_running) {
        pthread_mutex_lock(&server->conn_lock);
        server->reaper_stop = true;
        pthread_cond_signal(&server->reaper_wake);
        pthread_mutex_unlock(&server->conn_lock);
        pthread_join(server->reaper, NULL);
    }
    MHD_stop_daemon(server->daemon);
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    pthread_mutex_destroy(&server->lock);
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->ip_lock);
    pthread_mutex_destroy(&server->conn_lock);
    pthread_cond_destroy(&server->reaper_wake);
    strmap_free(server->per_ip);
    free(server);
}
