/*
 * server.c - latch's own HTTP/1.1 server (RFC 9112) behind server.h: the
 * event loops, the connections, and the adapter between them and the
 * handlers.  The request parser is parse.c, the head checks framing.c, TLS
 * tls.c.
 *
 * Threads: each HTTP thread runs one epoll loop (struct loop) that owns its
 * connections outright: their reads, writes, timers and state, without
 * locks.  The loops share the listening socket, registered in each with
 * EPOLLEXCLUSIVE so that a new connection wakes one of them.  A handler runs
 * on the loop thread of its connection; one that defers (a password hash, a
 * database round trip) hands its request to a worker, and the worker's
 * http_request_respond() puts the connection on its loop's ready list and
 * writes the loop's eventfd (the answer may come before the handler has
 * returned: the loop looks at the ready list only after it).
 *
 * Memory: an idle connection is a struct conn (about 200 bytes) and its
 * kernel socket; nothing else.  While it reads or answers a request it holds
 * a struct http_request: the head buffer (LATCH_MAX_HEAD_BYTES and some room
 * for body bytes), the parsed fields, the query arguments, the answer's
 * status line and the handler's per-request state, taken from a list of
 * spare ones kept per loop and given back when the connection goes idle.  A
 * body is copied out of the head buffer into its own allocation (requests
 * with bodies are never on a hot path).  Responses come from a per-thread
 * list of spare ones with room for a usual set of header lines and a small
 * body inside, so /verify and /profile allocate nothing here.
 *
 * Sockets are edge-triggered (EPOLLET, for reading and writing, registered
 * once): can_read and can_write remember whether the socket may have more to
 * give or take, so a connection never asks epoll_ctl again.  An answer is
 * one sendmsg of the status line and server headers (written into the
 * request's own buffer), the handler's header lines and the body.
 *
 * Timers, per loop and without a timer wheel: every list below holds
 * connections that all got the same timeout when they were appended, so each
 * list is in expiry order and only its first entry is looked at.  The idle
 * list (any byte in or out moves a connection to its end) closes a
 * connection silent for idle_timeout_s; the head list closes one that has
 * not delivered a whole head header_timeout_s after its accept or its
 * previous answer, the body list one whose body is not in body_timeout_s
 * after its head (both counted); the linger list ends lingering closes.  A
 * connection whose handler runs or is deferred is on no list.
 */
#include "http/server.h"

#include "http/framing.h"
#include "http/parse.h"
#include "http/tls.h"
#include "latch_limits.h"
#include "util/num.h"
#include "util/strmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Beyond LATCH_MAX_HEAD_BYTES, the head buffer has this much room so that a
 * body (or the next pipelined request) can be read after a head of the
 * largest size. */
#define BODY_READ_ROOM 4096
#define IN_BUFFER_BYTES (LATCH_MAX_HEAD_BYTES + BODY_READ_ROOM)
/* The status line and the server's own header lines of an answer. */
#define PREFIX_BYTES 192
/* Inside every response: header lines and body up to these sizes need no
 * allocation of their own. */
#define RESPONSE_INLINE_HEAD 448
#define RESPONSE_INLINE_BODY 512
#define EPOLL_BATCH 64

/* ---- intrusive lists ---- */

struct link {
    struct link *prev, *next;        /* both NULL when on no list */
};

static void list_init(struct link *head)
{
    head->prev = head->next = head;
}

static bool list_empty(const struct link *head)
{
    return head->next == head;
}

static void link_remove(struct link *l)
{
    if (l->next == NULL)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

static void list_append(struct link *head, struct link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- the objects ---- */

struct http_response {
    struct http_response *next_spare;
    int status;
    char *head;                      /* "Name: value\r\n" lines; 2 bytes kept free at the end */
    size_t head_len, head_cap;
    char *body;
    size_t body_len;
    char inline_head[RESPONSE_INLINE_HEAD];
    char inline_body[RESPONSE_INLINE_BODY];
};

enum conn_state {
    CONN_TLS_HANDSHAKE,
    CONN_READ_HEAD,                  /* waiting for a head, or reading one (idle too) */
    CONN_READ_BODY,
    CONN_HANDLING,                   /* the handler runs, or its deferred answer is awaited */
    CONN_WRITE,                      /* the answer goes out */
    CONN_LINGER,                     /* answered and closing: input is read and dropped */
};

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

enum deadline_kind { DL_HEAD, DL_BODY, DL_LINGER, N_DEADLINES };

/* What one request is; zeroed when it begins. */
struct req_state {
    const char *method, *path;       /* NUL-terminated inside in[] ("" before a head) */
    size_t n_fields;
    size_t n_args;
    struct {
        const char *name, *value;    /* value NULL: "?name" without "=" */
    } args[LATCH_MAX_QUERY_ARGS];
    int minor;                       /* HTTP/1.<minor> */
    bool head_method;
    bool keep_alive;
    bool body_too_large;
    enum body_mode body_mode;
    uint64_t body_left;              /* BODY_LENGTH: bytes still to come */
    struct http_chunked chunked;
    char *body;
    size_t body_len;
    struct framing_field *many_fields; /* a head of too many fields, for its 431 */
    bool handled;                    /* its handler ran: counted in in_flight */
    bool deferred;
    bool responded;                  /* http_request_respond was called */
    bool completed;
    struct http_response *response;
    unsigned status;
    uint64_t started_us;
    size_t out_len;                  /* of out[] */
    size_t sent;                     /* bytes of the whole answer written */
};

/*
 * A request and its connection's read buffer: one allocation, held by a
 * connection while a request is under way.  in[0..len) are the bytes
 * received: the current request's head and whatever came after it.
 */
struct http_request {
    struct http_request *next_spare;
    struct http_server *server;
    struct conn *conn;
    size_t len;                      /* bytes in in[] */
    size_t pos;                      /* bytes of in[] the current request has used */
    size_t head_len;
    size_t parse_last;               /* len at the last HTTP_PARSE_INCOMPLETE */
    struct req_state st;
    struct framing_field fields[FRAMING_MAX_FIELDS];
    char out[PREFIX_BYTES];          /* the answer's status line and server headers */
    char in[IN_BUFFER_BYTES];
    /* The handler's per-request state (request_ctx_bytes). */
    _Alignas(max_align_t) unsigned char ctx[];
};

struct loop;

struct conn {
    struct loop *loop;
    struct link all;                 /* loop->all */
    struct link idle;                /* loop->idle, in order of last activity */
    struct link deadline;            /* loop->deadlines[dl_kind] */
    struct conn *ready_next;         /* loop->ready, under ready_lock */
    struct conn *dead_next;          /* loop->dead: closed, freed after the batch */
    int64_t activity_ms, deadline_ms;
    int fd;
    enum conn_state state;
    enum deadline_kind dl_kind;
    bool can_read, can_write;        /* edge-triggered: more may be there / fit */
    bool rdhup;                      /* the peer shut down its side: read to the EOF */
    bool peer_closed;                /* EOF or an error was read */
    bool close_after;                /* close once this answer is out */
    bool linger;                     /* close lingering (the client may still be sending) */
    bool closed;
    bool ip_counted;
    struct tls_session *tls;
    char *tls_pending;               /* unsent TLS bytes, retried as they are */
    size_t tls_pending_len;
    bool tls_pending_continue;       /* they are a 100 Continue, not the answer */
    size_t linger_bytes;
    struct http_request *req;
    char peer_ip[INET6_ADDRSTRLEN];
};

struct loop {
    struct http_server *server;
    pthread_t thread;
    bool thread_started;
    int epfd, wakefd;
    bool listening;                  /* the listening socket is in epfd */
    int64_t now_ms;                  /* CLOCK_MONOTONIC, once per wake */
    int64_t accept_resume_ms;        /* accept paused until then (out of fds); 0: not */
    time_t date_sec;
    size_t date_len;
    char date[48];                   /* "Date: ...\r\n", formatted once a second */
    struct link all, idle, deadlines[N_DEADLINES];
    struct http_request *spare;
    unsigned n_spare;
    struct conn *dead;
    pthread_mutex_t ready_lock;
    struct conn *ready_head, *ready_tail;
    int stop;                        /* atomic */
    char *scratch;                   /* a TLS answer is gathered here for one write */
    size_t scratch_cap;
    char tag_listen, tag_wake;       /* their addresses tell epoll events apart */
};

struct http_server {
    http_handler_fn handler;
    http_decorate_fn decorate;
    http_complete_fn complete;
    void (*before_wait)(void *ctx);
    void *handler_ctx;
    size_t request_ctx_bytes;
    int listen_fd;
    int port;
    bool tls;
    struct tls_context *tls_ctx;
    unsigned max_connections;
    unsigned max_conn_per_ip;        /* 0: no limit */
    int64_t idle_ms;                 /* 0: no idle timeout */
    int64_t timeout_ms[N_DEADLINES]; /* 0: no deadline of that kind */
    int accepting;                   /* atomic: 0 once quiesced */
    int stopping;                    /* atomic */
    unsigned in_flight;              /* atomic: handlers run and not yet completed */
    pthread_mutex_t lock;            /* with idle_cond: http_server_stop waits */
    pthread_cond_t idle_cond;
    pthread_mutex_t ip_lock;         /* guards per_ip */
    struct strmap *per_ip;           /* open connections per client address */
    struct http_server_stats stats;  /* updated with atomic adds */
    int n_loops;
    struct loop *loops;
};

#define STAT_ADD(s, field) __atomic_add_fetch(&(s)->stats.field, 1, __ATOMIC_RELAXED)

enum step { STEP_AGAIN, STEP_WAIT, STEP_CLOSED };

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

/* ---- responses ---- */

/*
 * Spare responses, per thread: the loop thread that frees an answer keeps it
 * for the next one its handlers build.  A thread's spares are freed when it
 * exits (the key's destructor).
 */
static __thread struct http_response *spare_responses;
static __thread unsigned n_spare_responses;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void free_spare_responses(void *marker)
{
    (void)marker;
    while (spare_responses != NULL) {
        struct http_response *r = spare_responses;
        spare_responses = r->next_spare;
        free(r);
    }
    n_spare_responses = 0;
}

static void make_spare_key(void)
{
    (void)pthread_key_create(&spare_key, free_spare_responses);
}

struct http_response *http_response_new(int status, const char *content_type, const char *body,
                                        size_t body_len)
{
    struct http_response *r = spare_responses;

    if (r != NULL) {
        spare_responses = r->next_spare;
        n_spare_responses--;
    } else {
        r = malloc(sizeof(*r));
        if (r == NULL)
            return NULL;
    }
    r->next_spare = NULL;
    r->status = status;
    r->head = r->inline_head;
    r->head_len = 0;
    r->head_cap = sizeof(r->inline_head);
    r->body = r->inline_body;
    r->body_len = body_len;
    if (body_len > sizeof(r->inline_body)) {
        r->body = malloc(body_len);
        if (r->body == NULL) {
            r->body = r->inline_body;
            http_response_free(r);
            return NULL;
        }
    }
    if (body_len > 0)
        memcpy(r->body, body, body_len);
    if (content_type != NULL && http_response_header(r, "Content-Type", content_type) != 0) {
        http_response_free(r);
        return NULL;
    }
    return r;
}

/* Header lines are written out as they are added; 2 bytes stay free for the
 * CRLF that ends the head. */
int http_response_header(struct http_response *resp, const char *name, const char *value)
{
    size_t name_len, value_len, need;

    if (resp == NULL || name == NULL || value == NULL)
        return -1;
    name_len = strlen(name);
    value_len = strlen(value);
    /* RFC 9110 5.1 and 5.5: a token name; no CR, LF or NUL in a value (no
     * header line can be smuggled into the answer). */
    if (!framing_is_token(name, name_len) || strpbrk(value, "\r\n") != NULL)
        return -1;
    need = resp->head_len + name_len + 2 + value_len + 2 + 2;
    if (need > LATCH_MAX_RESPONSE_HEAD_BYTES + 2)
        return -1;
    if (need > resp->head_cap) {
        size_t cap = resp->head_cap * 2 > need ? resp->head_cap * 2 : need;
        char *grown = malloc(cap);

        if (grown == NULL)
            return -1;
        memcpy(grown, resp->head, resp->head_len);
        if (resp->head != resp->inline_head)
            free(resp->head);
        resp->head = grown;
        resp->head_cap = cap;
    }
    memcpy(resp->head + resp->head_len, name, name_len);
    resp->head_len += name_len;
    memcpy(resp->head + resp->head_len, ": ", 2);
    resp->head_len += 2;
    memcpy(resp->head + resp->head_len, value, value_len);
    resp->head_len += value_len;
    memcpy(resp->head + resp->head_len, "\r\n", 2);
    resp->head_len += 2;
    return 0;
}

void http_response_free(struct http_response *resp)
{
    if (resp == NULL)
        return;
    if (resp->body != resp->inline_body)
        free(resp->body);
    if (resp->head != resp->inline_head)
        free(resp->head);
    if (n_spare_responses >= LATCH_SPARE_RESPONSES) {
        free(resp);
        return;
    }
    if (spare_responses == NULL) {
        /* The first spare of this thread: have them freed when it exits. */
        (void)pthread_once(&spare_once, make_spare_key);
        (void)pthread_setspecific(spare_key, &spare_responses);
    }
    resp->next_spare = spare_responses;
    spare_responses = resp;
    n_spare_responses++;
}

/* The adapter's own answers (431, 414, 413, 400, 505, 500) carry the same
 * shape and headers as latch's other error answers. */
static struct http_response *error_response(int status, const char *error, const char *message)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}", error, message);
    struct http_response *resp;

    if (n < 0 || (size_t)n >= sizeof(body))
        return NULL;
    resp = http_response_new(status, "application/json", body, (size_t)n);
    if (resp != NULL) {
        http_response_header(resp, "Cache-Control", "no-store");
        http_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    return resp;
}

/* RFC 9110 15: the reason phrases latch sends. */
const char *http_reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* ---- the server's counters and in-flight requests ---- */

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

/* A request stops being in flight; http_server_stop may be waiting for the
 * last one (it sets stopping before it looks at in_flight: either it sees
 * this decrement or this sees stopping). */
static void in_flight_done(struct http_server *s)
{
    if (__atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->idle_cond);
        pthread_mutex_unlock(&s->lock);
    }
}

/* ---- per-address connection counts ---- */

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, out,
                  (socklen_t)size);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, out,
                  (socklen_t)size);
}

/* Takes a slot of the connection's address; false when it has none left.
 * The check and the take are one step under the lock, so loops accepting at
 * once cannot overshoot. */
static bool ip_take(struct http_server *s, const char *ip)
{
    int64_t open = 0;
    bool ok;

    pthread_mutex_lock(&s->ip_lock);
    (void)strmap_get(s->per_ip, ip, &open);
    ok = open < (int64_t)s->max_conn_per_ip && strmap_put(s->per_ip, ip, open + 1, INT64_MAX) == 0;
    pthread_mutex_unlock(&s->ip_lock);
    return ok;
}

static void ip_give_back(struct http_server *s, const char *ip)
{
    int64_t open = 0;

    pthread_mutex_lock(&s->ip_lock);
    if (strmap_get(s->per_ip, ip, &open) && open > 1)
        (void)strmap_put(s->per_ip, ip, open - 1, INT64_MAX);
    else
        strmap_del(s->per_ip, ip);
    pthread_mutex_unlock(&s->ip_lock);
}

/* ---- timers ---- */

static void idle_touch(struct conn *c)
{
    struct loop *l = c->loop;

    if (l->server->idle_ms == 0)
        return;
    c->activity_ms = l->now_ms;
    link_remove(&c->idle);
    list_append(&l->idle, &c->idle);
}

static void idle_stop(struct conn *c)
{
    link_remove(&c->idle);
}

/* Starts the connection's deadline of that kind (replacing any other). */
static void deadline_start(struct conn *c, enum deadline_kind kind)
{
    struct loop *l = c->loop;
    int64_t timeout = l->server->timeout_ms[kind];

    link_remove(&c->deadline);
    if (timeout <= 0)
        return;
    c->dl_kind = kind;
    c->deadline_ms = l->now_ms + timeout;
    list_append(&l->deadlines[kind], &c->deadline);
}

static void deadline_stop(struct conn *c)
{
    link_remove(&c->deadline);
}

/* ---- request buffers ---- */

static void request_reset(struct http_request *r)
{
    memset(&r->st, 0, sizeof(r->st));
    r->st.method = "";
    r->st.path = "";
    if (r->server->request_ctx_bytes > 0)
        memset(r->ctx, 0, r->server->request_ctx_bytes);
}

static struct http_request *request_take(struct conn *c)
{
    struct loop *l = c->loop;
    struct http_request *r = l->spare;

    if (r != NULL) {
        l->spare = r->next_spare;
        l->n_spare--;
    } else {
        r = malloc(sizeof(*r) + l->server->request_ctx_bytes);
        if (r == NULL)
            return NULL;
    }
    r->next_spare = NULL;
    r->server = l->server;
    r->conn = c;
    r->len = r->pos = r->head_len = r->parse_last = 0;
    request_reset(r);
    c->req = r;
    return r;
}

/* The connection gives its buffer back: it idles, or it closes. */
static void request_give_back(struct conn *c)
{
    struct loop *l = c->loop;
    struct http_request *r = c->req;

    if (r == NULL)
        return;
    c->req = NULL;
    if (l->n_spare >= LATCH_SPARE_HEAD_BUFFERS ||
        __atomic_load_n(&l->server->stopping, __ATOMIC_RELAXED)) {
        free(r);
        return;
    }
    r->next_spare = l->spare;
    l->spare = r;
    l->n_spare++;
}

/* The request is over: the completion callback (the access log, metrics),
 * then what it held goes. */
static void request_complete(struct conn *c)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;

    if (r == NULL || r->st.completed)
        return;
    r->st.completed = true;
    if (r->st.status != 0 && s->complete != NULL) {
        struct http_exchange x;

        x.status = (int)r->st.status;
        x.bytes = r->st.head_method ? 0 : r->st.response->body_len;
        x.duration_us = monotonic_us() - r->st.started_us;
        s->complete(r, &x, s->handler_ctx);
    }
    if (r->st.handled)
        in_flight_done(s);
    http_response_free(r->st.response);
    r->st.response = NULL;
    free(r->st.many_fields);
    r->st.many_fields = NULL;
    /* Bodies carry passwords: wiped before the memory goes back. */
    if (r->st.body != NULL) {
        explicit_bzero(r->st.body, r->st.body_len);
        free(r->st.body);
        r->st.body = NULL;
    }
}

/* ---- connections: closing ---- */

/*
 * Closes the connection now (no answer).  Never while a handler holds its
 * request (HANDLING): then the close happens once the answer is in.  The
 * memory is freed after the loop's current batch of events, one of which
 * may still name it.
 */
static enum step conn_close(struct conn *c)
{
    struct loop *l = c->loop;
    struct http_server *s = l->server;

    if (c->state == CONN_HANDLING) {
        c->peer_closed = true;
        c->close_after = true;
        return STEP_WAIT;
    }
    request_complete(c);
    request_give_back(c);
    link_remove(&c->all);
    idle_stop(c);
    deadline_stop(c);
    tls_session_free(c->tls);
    c->tls = NULL;
    free(c->tls_pending);
    c->tls_pending = NULL;
    close(c->fd);
    c->fd = -1;
    if (c->ip_counted)
        ip_give_back(s, c->peer_ip);
    __atomic_sub_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
    c->closed = true;
    c->dead_next = l->dead;
    l->dead = c;
    return STEP_CLOSED;
}

/*
 * After an answer that ends the connection.  When the client may still be
 * sending (a body latch did not read, a refused head, bytes after the
 * request), closing at once would make the kernel answer them with a reset
 * that can destroy the answer in the client's buffers; so latch stops
 * writing (FIN) and reads and drops for a while (RFC 9112 9.6).
 */
static enum step conn_begin_close(struct conn *c)
{
    struct http_request *r = c->req;
    bool pending = r != NULL && r->len > r->pos;

    request_complete(c);
    if (c->peer_closed || !(c->linger || pending || c->can_read))
        return conn_close(c);
    request_give_back(c);
    tls_session_close_notify(c->tls);
    (void)shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->linger_bytes = 0;
    idle_stop(c);
    deadline_start(c, DL_LINGER);
    if (c->loop->server->timeout_ms[DL_LINGER] <= 0)
        return conn_close(c);
    return STEP_AGAIN;
}

static enum step step_linger(struct conn *c)
{
    char sink[4096];

    while (c->can_read) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

        if (n > 0) {
            c->linger_bytes += (size_t)n;
            if (c->linger_bytes > LATCH_MAX_LINGER_BYTES)
                return conn_close(c);
            if ((size_t)n < sizeof(sink) && !c->rdhup)
                c->can_read = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_read = false;
            break;
        }
        return conn_close(c);        /* EOF: the client has read and closed */
    }
    return STEP_WAIT;
}

/* ---- connections: input ---- */

/* Reads what fits in buf.  Returns bytes read (> 0), 0 when nothing more can
 * be read now, -1 at the end of the input (EOF, error: peer_closed). */
static ssize_t conn_recv(struct conn *c, char *buf, size_t room)
{
    ssize_t n;

    if (room == 0)
        return 0;
    if (c->tls != NULL) {
        n = tls_session_read(c->tls, buf, room);
        if (n > 0)
            return n;                /* OpenSSL may hold more: can_read stays */
        if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
            c->can_read = false;
            return 0;
        }
        c->peer_closed = true;
        c->can_read = false;
        return -1;
    }
    for (;;) {
        n = recv(c->fd, buf, room, 0);
        if (n > 0) {
            /* A short read emptied the socket: the next byte raises a new
             * edge.  Unless the peer shut down, whose EOF raises none. */
            if ((size_t)n < room && !c->rdhup)
                c->can_read = false;
            return n;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_read = false;
            return 0;
        }
        c->peer_closed = true;
        c->can_read = false;
        return -1;
    }
}

/* ---- connections: output ---- */

/* The status line and the server's own header lines into r->out. */
static size_t format_prefix(struct http_request *r, const struct http_response *resp, bool close)
{
    struct loop *l = r->conn->loop;
    char *p = r->out;
    const char *reason = http_reason_phrase(resp->status);
    size_t n = strlen(reason);
    int status = resp->status;

    if (status < 100 || status > 999)
        status = 500;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    memcpy(p, reason, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, l->date, l->date_len);
    p += l->date_len;
    /* RFC 9110 8.6: none in a 1xx, 204 or 304 answer; the body's length in
     * a HEAD answer, which has no body (9.3.2). */
    if (status >= 200 && status != 204 && status != 304) {
        memcpy(p, "Content-Length: ", 16);
        p += 16;
        /* At most 20 digits and the NUL (overwritten next): PREFIX_BYTES
         * holds the longest reason, the date, this line and Connection. */
        p += num_format_i64((int64_t)resp->body_len, p);
        *p++ = '\r';
        *p++ = '\n';
    }
    /* RFC 9112 9.6: a server that closes says so; an HTTP/1.0 client that
     * asked to keep the connection is told it is kept (9.3). */
    if (close) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (r->st.minor == 0) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    return (size_t)(p - r->out);
}

/* The handler's answer (or the adapter's) is in r->st.response: it goes
 * out.  No answer at all (no memory for one) closes the connection. */
static enum step start_answer(struct conn *c)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;
    struct http_response *resp = r->st.response;

    if (resp == NULL) {
        c->state = CONN_WRITE;       /* no longer the handler's: conn_close may close */
        return conn_close(c);
    }
    r->st.status = (unsigned)resp->status;
    if (!r->st.keep_alive || c->peer_closed || !__atomic_load_n(&s->accepting, __ATOMIC_RELAXED))
        c->close_after = true;
    r->st.out_len = format_prefix(r, resp, c->close_after);
    /* The CRLF that ends the head: room for it was kept. */
    resp->head[resp->head_len] = '\r';
    resp->head[resp->head_len + 1] = '\n';
    r->st.sent = 0;
    c->state = CONN_WRITE;
    deadline_stop(c);
    idle_touch(c);
    return STEP_AGAIN;
}

static size_t answer_size(const struct http_request *r)
{
    const struct http_response *resp = r->st.response;

    return r->st.out_len + resp->head_len + 2 + (r->st.head_method ? 0 : resp->body_len);
}

/* The next request on the connection (keep-alive), or its close. */
static enum step finish_answer(struct conn *c)
{
    struct http_request *r = c->req;
    size_t left;

    request_complete(c);
    if (c->close_after)
        return conn_begin_close(c);
    /* Pipelined bytes move to the front: the next head starts at in[0]. */
    left = r->len - r->pos;
    if (left > 0)
        memmove(r->in, r->in + r->pos, left);
    r->len = left;
    r->pos = r->head_len = r->parse_last = 0;
    request_reset(r);
    c->state = CONN_READ_HEAD;
    deadline_start(c, DL_HEAD);
    idle_touch(c);
    if (left == 0 && !c->can_read)
        request_give_back(c);        /* idle: no buffer */
    return STEP_AGAIN;
}

static enum step write_plain(struct conn *c)
{
    struct http_request *r = c->req;
    const struct http_response *resp = r->st.response;
    size_t total = answer_size(r);

    while (r->st.sent < total) {
        struct iovec iov[3];
        struct msghdr msg;
        size_t skip = r->st.sent, n_iov = 0;
        const struct {
            const char *p;
            size_t len;
        } part[3] = {{r->out, r->st.out_len},
                     {resp->head, resp->head_len + 2},
                     {resp->body, r->st.head_method ? 0 : resp->body_len}};
        ssize_t n;
        size_t i;

        for (i = 0; i < 3; i++) {
            if (skip >= part[i].len) {
                skip -= part[i].len;
                continue;
            }
            iov[n_iov].iov_base = (void *)(part[i].p + skip);
            iov[n_iov].iov_len = part[i].len - skip;
            n_iov++;
            skip = 0;
        }
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = n_iov;
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_write = false;
            return STEP_WAIT;
        }
        if (n <= 0) {
            c->peer_closed = true;
            return conn_close(c);
        }
        r->st.sent += (size_t)n;
        idle_touch(c);
    }
    return finish_answer(c);
}

/* Gathers the answer into the loop's scratch buffer for one TLS write. */
static char *gather(struct conn *c, size_t total)
{
    struct loop *l = c->loop;
    struct http_request *r = c->req;
    const struct http_response *resp = r->st.response;
    char *p;

    if (total > l->scratch_cap) {
        char *grown = realloc(l->scratch, total);

        if (grown == NULL)
            return NULL;
        l->scratch = grown;
        l->scratch_cap = total;
    }
    p = l->scratch;
    memcpy(p, r->out, r->st.out_len);
    p += r->st.out_len;
    memcpy(p, resp->head, resp->head_len + 2);
    p += resp->head_len + 2;
    if (!r->st.head_method && resp->body_len > 0)
        memcpy(p, resp->body, resp->body_len);
    return l->scratch;
}

/* Writes bytes over TLS; on TLS_WANT_* keeps a copy to retry with (OpenSSL
 * wants the same bytes again).  Returns 1 when written, 0 to wait, -1 on
 * failure. */
static int tls_send(struct conn *c, const char *p, size_t len)
{
    long n = tls_session_write(c->tls, p, len);

    if (n > 0) {
        if (c->tls_pending != NULL && p == c->tls_pending) {
            free(c->tls_pending);
            c->tls_pending = NULL;
        }
        return 1;
    }
    if (n != TLS_WANT_READ && n != TLS_WANT_WRITE)
        return -1;
    if (p != c->tls_pending) {
        c->tls_pending = malloc(len);
        if (c->tls_pending == NULL)
            return -1;
        memcpy(c->tls_pending, p, len);
        c->tls_pending_len = len;
    }
    c->can_write = false;
    return 0;
}

static enum step write_tls(struct conn *c)
{
    size_t total = answer_size(c->req);
    const char *p;
    int rc;

    /* A 100 Continue that could not be sent goes first. */
    if (c->tls_pending != NULL && c->tls_pending_continue) {
        rc = tls_send(c, c->tls_pending, c->tls_pending_len);
        if (rc < 0)
            return conn_close(c);
        if (rc == 0)
            return STEP_WAIT;
        c->tls_pending_continue = false;
    }
    p = c->tls_pending != NULL ? c->tls_pending : gather(c, total);
    if (p == NULL)
        return conn_close(c);
    rc = tls_send(c, p, c->tls_pending != NULL ? c->tls_pending_len : total);
    if (rc < 0)
        return conn_close(c);
    if (rc == 0)
        return STEP_WAIT;
    idle_touch(c);
    return finish_answer(c);
}

static enum step step_write(struct conn *c)
{
    if (!c->can_write)
        return STEP_WAIT;
    return c->tls != NULL ? write_tls(c) : write_plain(c);
}

/* ---- requests ---- */

static const char *find_field(const struct http_request *r, const char *name, size_t index)
{
    const struct framing_field *f = r->st.many_fields != NULL ? r->st.many_fields : r->fields;
    size_t i, len = strlen(name);

    for (i = 0; i < r->st.n_fields; i++) {
        if (f[i].name_len != len || strcasecmp(f[i].name, name) != 0)
            continue;
        if (index == 0)
            return f[i].value;
        index--;
    }
    return NULL;
}

/* The query string, decoded in place ('+' and %HH, as form encoding has
 * it), into at most LATCH_MAX_QUERY_ARGS name/value pairs. */
static void parse_query(struct http_request *r, char *q)
{
    while (*q != '\0' && r->st.n_args < LATCH_MAX_QUERY_ARGS) {
        char *amp = strchr(q, '&');
        char *end = amp != NULL ? amp : q + strlen(q);
        char *eq = memchr(q, '=', (size_t)(end - q));
        size_t n;

        if (amp != NULL)
            *amp = '\0';
        if (eq != NULL) {
            *eq = '\0';
            n = http_pct_decode(eq + 1, (size_t)(end - eq - 1), eq + 1, true);
            eq[1 + n] = '\0';
        }
        n = http_pct_decode(q, strlen(q), q, true);
        q[n] = '\0';
        if (n > 0 || eq != NULL) {
            r->st.args[r->st.n_args].name = q;
            r->st.args[r->st.n_args].value = eq != NULL ? eq + 1 : NULL;
            r->st.n_args++;
        }
        if (amp == NULL)
            break;
        q = amp + 1;
    }
}

/* An answer of the adapter's own: the request never reaches a handler, and
 * the connection closes after it (lingering: the client may be sending). */
static enum step adapter_answer(struct conn *c, int status, const char *error,
                                const char *message)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;
    struct http_response *resp;

    if (r->st.started_us == 0)
        r->st.started_us = monotonic_us();
    switch (status) {
    case 431: STAT_ADD(s, headers_too_large); break;
    case 414: STAT_ADD(s, uri_too_long); break;
    case 413: STAT_ADD(s, body_too_large); break;
    case 400:
    case 505: STAT_ADD(s, bad_requests); break;
    default: break;
    }
    resp = error_response(status, error, message);
    if (resp != NULL && s->decorate != NULL)
        s->decorate(r, resp, s->handler_ctx);
    r->st.response = resp;
    r->st.responded = true;
    c->close_after = true;
    c->linger = true;
    deadline_stop(c);
    return start_answer(c);
}

static enum step run_handler(struct conn *c)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;

    c->state = CONN_HANDLING;
    deadline_stop(c);
    idle_stop(c);
    r->st.handled = true;
    __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
    s->handler(r, s->handler_ctx);
    /* A deferred answer comes through the ready list, perhaps already. */
    if (r->st.deferred)
        return STEP_WAIT;
    if (!r->st.responded)
        http_request_respond(r, error_response(500, "Internal Server Error", "No answer"));
    return start_answer(c);
}

/* RFC 9110 10.1.1: a client that waits for 100 Continue before its body
 * gets it when latch is going to read the body. */
static void send_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (c->tls != NULL) {
        if (tls_send(c, line, sizeof(line) - 1) == 0)
            c->tls_pending_continue = true;
        return;
    }
    /* Best effort: a client that does not get it sends its body after a
     * timeout of its own. */
    (void)send(c->fd, line, sizeof(line) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * A whole head is in in[0..head_len): the request begins.  Names, values,
 * method and target are NUL-terminated in place (each is followed by a byte
 * the parser has already read: a colon, white space, CR or LF).  Then the
 * checks in the order docs/api.md gives: 431, 414, 400, and the body.
 */
static enum step begin_request(struct conn *c, const struct http_head *h, size_t head_len)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;
    const char *reason = NULL, *value;
    enum framing_verdict verdict;
    char *target = (char *)h->target, *query;
    size_t path_len, i;
    uint64_t length = 0;

    r->head_len = r->pos = head_len;
    r->st.started_us = monotonic_us();
    ((char *)h->method)[h->method_len] = '\0';
    r->st.method = h->method;
    target[h->target_len] = '\0';
    query = memchr(target, '?', h->target_len);
    path_len = query != NULL ? (size_t)(query - target) : h->target_len;
    if (query != NULL)
        *query++ = '\0';
    /* The path is percent-decoded, as libmicrohttpd did: routes match the
     * decoded path. */
    path_len = http_pct_decode(target, path_len, target, false);
    target[path_len] = '\0';
    r->st.path = target;
    r->st.n_fields = h->n_fields;
    for (i = 0; i < h->n_fields; i++) {
        ((char *)r->fields[i].name)[r->fields[i].name_len] = '\0';
        ((char *)r->fields[i].value)[r->fields[i].value_len] = '\0';
    }
    r->st.minor = h->minor_version;
    r->st.head_method = strcmp(r->st.method, "HEAD") == 0;
    if (query != NULL && *query != '\0')
        parse_query(r, query);

    verdict = framing_check(r->fields, h->n_fields, h->minor_version >= 1 ? 1 : 0, &reason);
    if (verdict == FRAMING_FIELDS_TOO_LARGE)
        return adapter_answer(c, 431, "Request Header Fields Too Large", reason);
    if (path_len > LATCH_MAX_URL_BYTES)
        return adapter_answer(c, 414, "URI Too Long", "Request target exceeds 2048 bytes");
    if (verdict == FRAMING_BAD_REQUEST)
        return adapter_answer(c, 400, "Bad Request", reason);
    /* A %00 in the path would cut it short for every reader of a C string. */
    if (memchr(target, '\0', path_len) != NULL)
        return adapter_answer(c, 400, "Bad Request", "Malformed request target");

    /* RFC 9112 9.3: HTTP/1.1 keeps the connection unless told to close it,
     * HTTP/1.0 closes it unless asked to keep it. */
    value = find_field(r, "Connection", 0);
    if (h->minor_version >= 1)
        r->st.keep_alive = value == NULL || !http_list_has_token(value, strlen(value), "close");
    else
        r->st.keep_alive = value != NULL && http_list_has_token(value, strlen(value), "keep-alive");

    /* The body's framing, checked by framing_check (RFC 9112 6.3). */
    if (find_field(r, "Transfer-Encoding", 0) != NULL) {
        r->st.body_mode = BODY_CHUNKED;
    } else if ((value = find_field(r, "Content-Length", 0)) != NULL &&
               http_parse_content_length(value, strlen(value), &length) && length > 0) {
        r->st.body_mode = BODY_LENGTH;
        r->st.body_left = length;
    }
    if (verdict == FRAMING_BODY_TOO_LARGE) {
        /* Not read: the router answers 404, 405 or 413 at once, and the
         * connection closes after it. */
        STAT_ADD(s, body_too_large);
        r->st.body_too_large = true;
        c->close_after = true;
        c->linger = true;
        return run_handler(c);
    }
    if (r->st.body_mode == BODY_NONE)
        return run_handler(c);
    if (r->st.body_mode == BODY_LENGTH) {
        r->st.body = malloc((size_t)length + 1);
        if (r->st.body == NULL)
            return conn_close(c);
    }
    value = find_field(r, "Expect", 0);
    if (value != NULL && h->minor_version >= 1 && r->len == r->pos &&
        http_list_has_token(value, strlen(value), "100-continue"))
        send_continue(c);
    c->state = CONN_READ_BODY;
    deadline_start(c, DL_BODY);
    return STEP_AGAIN;
}

/*
 * A head with more fields than fields[] holds is refused (431), but its
 * answer is decorated like any other (X-Request-Id, CORS) and logged: when
 * the whole head is in, it is parsed once more into an array of its own
 * size, so that lookups see every field.
 */
static void keep_many_fields(struct http_request *r)
{
    struct http_head h;
    const char *reason = NULL;
    size_t lines = 1, i, scan = r->len < LATCH_MAX_HEAD_BYTES ? r->len : LATCH_MAX_HEAD_BYTES;
    const char *p = r->in;
    int rc;

    while ((p = memchr(p, '\n', scan - (size_t)(p - r->in))) != NULL && ++p < r->in + scan)
        lines++;
    r->st.many_fields = malloc(lines * sizeof(*r->st.many_fields));
    if (r->st.many_fields == NULL)
        return;
    rc = http_parse_head(r->in, scan, 0, &h, r->st.many_fields, lines, &reason);
    if (rc <= 0) {
        free(r->st.many_fields);
        r->st.many_fields = NULL;
        return;
    }
    for (i = 0; i < h.n_fields; i++) {
        ((char *)r->st.many_fields[i].name)[r->st.many_fields[i].name_len] = '\0';
        ((char *)r->st.many_fields[i].value)[r->st.many_fields[i].value_len] = '\0';
    }
    r->st.n_fields = h.n_fields;
}

/* The method and path of a refused head, for its access log line, when its
 * request line can be read (the target as sent, up to a '?'). */
static void name_refused_request(struct http_request *r)
{
    struct http_head h;
    char *target, *query;

    if (http_parse_request_line(r->in, r->len < LATCH_MAX_HEAD_BYTES ? r->len
                                                                     : LATCH_MAX_HEAD_BYTES,
                                &h) <= 0)
        return;
    ((char *)h.method)[h.method_len] = '\0';
    target = (char *)h.target;
    target[h.target_len] = '\0';
    query = strchr(target, '?');
    if (query != NULL)
        *query = '\0';
    r->st.method = h.method;
    r->st.path = target;
}

/* The buffer is full and holds no whole head: the request line alone is too
 * long (414), or the header section (431). */
static enum step head_too_long(struct conn *c)
{
    struct http_request *r = c->req;
    size_t i = 0;

    while (i < r->len && (r->in[i] == '\r' || r->in[i] == '\n'))
        i++;
    if (memchr(r->in + i, '\n', r->len - i) == NULL)
        return adapter_answer(c, 414, "URI Too Long", "Request line exceeds 16 KiB");
    name_refused_request(r);
    return adapter_answer(c, 431, "Request Header Fields Too Large",
                          "Request headers exceed 8 KiB or 100 fields");
}

static enum step head_error(struct conn *c, int rc, const char *reason)
{
    /* Whatever the parser wrote into the fields is no request's. */
    c->req->st.n_fields = 0;
    if (rc == HTTP_PARSE_TOO_MANY_FIELDS)
        keep_many_fields(c->req);    /* before the request line is cut up */
    name_refused_request(c->req);
    if (rc == HTTP_PARSE_TOO_MANY_FIELDS)
        return adapter_answer(c, 431, "Request Header Fields Too Large",
                              "Request headers exceed 8 KiB or 100 fields");
    if (rc == HTTP_PARSE_BAD_VERSION)
        return adapter_answer(c, 505, "HTTP Version Not Supported",
                              "Only HTTP/1.0 and HTTP/1.1 are served");
    return adapter_answer(c, 400, "Bad Request", reason != NULL ? reason : "Malformed request");
}

static enum step step_read_head(struct conn *c)
{
    struct http_request *r = c->req;

    if (r == NULL) {
        if (!c->can_read)
            return STEP_WAIT;        /* idle, and holding no buffer */
        r = request_take(c);
        if (r == NULL)
            return conn_close(c);
    }
    for (;;) {
        ssize_t n;

        if (r->len > 0 && r->len != r->parse_last) {
            struct http_head h;
            const char *reason = NULL;
            size_t scan = r->len < LATCH_MAX_HEAD_BYTES ? r->len : LATCH_MAX_HEAD_BYTES;
            int rc = http_parse_head(r->in, scan, r->parse_last < scan ? r->parse_last : 0, &h,
                                     r->fields, FRAMING_MAX_FIELDS, &reason);

            if (rc > 0)
                return begin_request(c, &h, (size_t)rc);
            if (rc != HTTP_PARSE_INCOMPLETE)
                return head_error(c, rc, reason);
            r->parse_last = r->len;
            if (scan == LATCH_MAX_HEAD_BYTES) {
                /* Once more from the start: an error in the last lines
                 * decides before the size does. */
                rc = http_parse_head(r->in, scan, 0, &h, r->fields, FRAMING_MAX_FIELDS, &reason);
                if (rc != HTTP_PARSE_INCOMPLETE && rc <= 0)
                    return head_error(c, rc, reason);
                return head_too_long(c);
            }
        }
        if (r->len >= LATCH_MAX_HEAD_BYTES)
            return head_too_long(c);
        if (c->peer_closed)
            return conn_close(c);    /* the client left in the middle of a head */
        if (!c->can_read) {
            if (r->len == 0)
                request_give_back(c);
            return STEP_WAIT;
        }
        n = conn_recv(c, r->in + r->len, LATCH_MAX_HEAD_BYTES - r->len);
        if (n > 0) {
            r->len += (size_t)n;
            idle_touch(c);
        }
    }
}

static enum step body_done(struct conn *c)
{
    struct http_request *r = c->req;

    if (r->st.body != NULL)
        r->st.body[r->st.body_len] = '\0';
    deadline_stop(c);
    return run_handler(c);
}

static enum step step_read_body(struct conn *c)
{
    struct http_request *r = c->req;
    struct http_server *s = c->loop->server;

    for (;;) {
        size_t avail = r->len - r->pos;
        ssize_t n;

        if (avail > 0 && r->st.body_mode == BODY_LENGTH) {
            size_t take = (uint64_t)avail < r->st.body_left ? avail : (size_t)r->st.body_left;

            memcpy(r->st.body + r->st.body_len, r->in + r->pos, take);
            explicit_bzero(r->in + r->pos, take);
            r->st.body_len += take;
            r->st.body_left -= take;
            r->pos += take;
            if (r->st.body_left == 0)
                return body_done(c);
        } else if (avail > 0) {
            size_t used = 0;
            int rc;

            if (r->st.body == NULL) {
                r->st.body = malloc(LATCH_MAX_BODY_BYTES + 1);
                if (r->st.body == NULL)
                    return conn_close(c);
            }
            rc = http_chunked_decode(&r->st.chunked, r->in + r->pos, avail, &used, r->st.body,
                                     LATCH_MAX_BODY_BYTES, &r->st.body_len);
            explicit_bzero(r->in + r->pos, used);
            r->pos += used;
            if (r->st.chunked.data_bytes > LATCH_MAX_BODY_BYTES && !r->st.body_too_large) {
                /* Read and dropped from here on, so that the 413 (or the
                 * router's 404/405) can be sent at its end. */
                STAT_ADD(s, body_too_large);
                r->st.body_too_large = true;
                c->close_after = true;
            }
            if (r->st.chunked.data_bytes > LATCH_MAX_DISCARD_BYTES)
                return conn_close(c);
            if (rc == HTTP_CHUNK_BAD)
                return adapter_answer(c, 400, "Bad Request", "Malformed chunked body");
            if (rc == HTTP_CHUNK_TOO_LARGE)
                return adapter_answer(c, 413, "Content Too Large", "Request body exceeds 16 KiB");
            if (rc == HTTP_CHUNK_DONE)
                return body_done(c);
        }
        /* Every byte in the buffer is used: the room after the head is
         * free again (the head stays, the fields point into it). */
        if (r->pos == r->len)
            r->len = r->pos = r->head_len;
        if (c->peer_closed)
            return conn_close(c);
        if (!c->can_read)
            return STEP_WAIT;
        n = conn_recv(c, r->in + r->len, IN_BUFFER_BYTES - r->len);
        if (n > 0) {
            r->len += (size_t)n;
            idle_touch(c);
        }
    }
}

static enum step step_handshake(struct conn *c)
{
    int rc = tls_session_handshake(c->tls);

    if (rc == 0) {
        c->state = CONN_READ_HEAD;   /* the head deadline runs on from the accept */
        idle_touch(c);
        return STEP_AGAIN;
    }
    if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
        c->can_read = c->can_write = false;
        return STEP_WAIT;
    }
    return conn_close(c);
}

/* Runs the connection's state machine until it has to wait. */
static void conn_run(struct conn *c)
{
    enum step rc = STEP_AGAIN;

    while (rc == STEP_AGAIN) {
        switch (c->state) {
        case CONN_TLS_HANDSHAKE:
            rc = step_handshake(c);
            break;
        case CONN_READ_HEAD:
            rc = step_read_head(c);
            break;
        case CONN_READ_BODY:
            rc = step_read_body(c);
            break;
        case CONN_WRITE:
            rc = step_write(c);
            break;
        case CONN_LINGER:
            rc = step_linger(c);
            break;
        case CONN_HANDLING:
        default:
            rc = STEP_WAIT;
            break;
        }
    }
}

static void conn_event(struct conn *c, uint32_t events)
{
    if (c->closed)
        return;
    if (events & EPOLLRDHUP)
        c->rdhup = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->can_read = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->can_write = true;
    /* OpenSSL may need to write to read, or to read to write. */
    if (c->tls != NULL)
        c->can_read = c->can_write = true;
    conn_run(c);
}

/* ---- the handler's side ---- */

const char *http_request_method(const struct http_request *req)
{
    return req->st.method;
}

const char *http_request_path(const struct http_request *req)
{
    return req->st.path;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return find_field(req, name, 0);
}

const char *http_request_header_at(const struct http_request *req, const char *name,
                                   size_t index)
{
    return find_field(req, name, index);
}

/* Query names match without regard to case, as they did on libmicrohttpd. */
const char *http_request_query(const struct http_request *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->st.n_args; i++)
        if (strcasecmp(req->st.args[i].name, name) == 0)
            return req->st.args[i].value;
    return NULL;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    *len = req->st.body_len;
    return req->st.body != NULL ? req->st.body : "";
}

bool http_request_body_too_large(const struct http_request *req)
{
    return req->st.body_too_large;
}

bool http_request_is_tls(const struct http_request *req)
{
    return req->server->tls;
}

void *http_request_ctx(struct http_request *req)
{
    return req->server->request_ctx_bytes > 0 ? req->ctx : NULL;
}

const char *http_request_peer_ip(const struct http_request *req)
{
    return req->conn->peer_ip;
}

void http_request_defer(struct http_request *req)
{
    /* A handler already off the HTTP thread (the store pool) may defer
     * again (to the hashing pool): nothing changes, nothing is written (the
     * loop thread may be reading the flag). */
    if (!req->st.deferred)
        req->st.deferred = true;
}

/* A deferred answer: the connection goes on the ready list of its loop. */
static void loop_post_ready(struct loop *l, struct conn *c)
{
    bool was_empty;
    uint64_t one = 1;

    pthread_mutex_lock(&l->ready_lock);
    was_empty = l->ready_head == NULL;
    c->ready_next = NULL;
    if (l->ready_tail != NULL)
        l->ready_tail->ready_next = c;
    else
        l->ready_head = c;
    l->ready_tail = c;
    pthread_mutex_unlock(&l->ready_lock);
    /* An eventfd write fails only when the counter would overflow: the loop
     * is awake by then anyway. */
    if (was_empty && write(l->wakefd, &one, sizeof(one)) < 0)
        return;
}

void http_request_respond(struct http_request *req, struct http_response *resp)
{
    struct http_server *s = req->server;

    if (resp == NULL)
        resp = error_response(500, "Internal Server Error", "Out of memory");
    if (resp != NULL && s->decorate != NULL)
        s->decorate(req, resp, s->handler_ctx);
    req->st.response = resp;
    req->st.responded = true;
    if (req->st.deferred)
        loop_post_ready(req->conn->loop, req->conn);
}

/* ---- the loops ---- */

static void loop_take_ready(struct loop *l)
{
    struct conn *c;

    pthread_mutex_lock(&l->ready_lock);
    c = l->ready_head;
    l->ready_head = l->ready_tail = NULL;
    pthread_mutex_unlock(&l->ready_lock);
    while (c != NULL) {
        struct conn *next = c->ready_next;

        c->ready_next = NULL;
        if (!c->closed && c->state == CONN_HANDLING && c->req != NULL && c->req->st.responded &&
            start_answer(c) == STEP_AGAIN)
            conn_run(c);
        c = next;
    }
}

static void refresh_date(struct loop *l)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == l->date_sec && l->date_len > 0)
        return;
    l->date_sec = ts.tv_sec;
    gmtime_r(&ts.tv_sec, &tm);
    /* RFC 9110 5.6.7: IMF-fixdate. */
    l->date_len = strftime(l->date, sizeof(l->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void accept_one(struct loop *l, int fd, const struct sockaddr_storage *ss)
{
    struct http_server *s = l->server;
    struct epoll_event ev;
    struct conn *c;
    char ip[INET6_ADDRSTRLEN];
    bool ip_counted = false;
    int one = 1;

    if (__atomic_add_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED) >
        s->max_connections)
        goto refuse;
    addr_text(ss, ip, sizeof(ip));
    if (s->max_conn_per_ip != 0) {
        if (!ip_take(s, ip)) {
            STAT_ADD(s, refused_per_ip);
            goto refuse;
        }
        ip_counted = true;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto refuse;
    c->loop = l;
    c->fd = fd;
    c->ip_counted = ip_counted;
    memcpy(c->peer_ip, ip, sizeof(ip));
    /* Every answer is one write: Nagle would only delay the next one. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->tls_ctx != NULL && (c->tls = tls_session_new(s->tls_ctx, fd)) == NULL) {
        free(c);
        goto refuse;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        tls_session_free(c->tls);
        free(c);
        goto refuse;
    }
    list_append(&l->all, &c->all);
    c->state = c->tls != NULL ? CONN_TLS_HANDSHAKE : CONN_READ_HEAD;
    c->can_write = true;
    deadline_start(c, DL_HEAD);
    idle_touch(c);
    return;

refuse:
    if (ip_counted)
        ip_give_back(s, ip);
    __atomic_sub_fetch(&s->stats.connections_open, 1, __ATOMIC_RELAXED);
    close(fd);
}

static void listen_stop(struct loop *l)
{
    if (l->listening) {
        (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->server->listen_fd, NULL);
        l->listening = false;
    }
}

static void listen_start(struct loop *l)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &l->tag_listen;
    if (!l->listening && epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->server->listen_fd, &ev) == 0)
        l->listening = true;
}

static void loop_accept(struct loop *l)
{
    struct http_server *s = l->server;
    int i;

    for (i = 0; i < LATCH_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd;

        if (!__atomic_load_n(&s->accepting, __ATOMIC_RELAXED)) {
            listen_stop(l);
            return;
        }
        fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(l, fd, &ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: stop asking for a while rather than spin
             * on a socket that stays readable. */
            listen_stop(l);
            l->accept_resume_ms = l->now_ms + LATCH_ACCEPT_PAUSE_MS;
        }
        return;
    }
}

static void loop_expire(struct loop *l)
{
    struct http_server *s = l->server;
    int kind;

    for (kind = 0; kind < N_DEADLINES; kind++) {
        struct link *head = &l->deadlines[kind];

        while (!list_empty(head)) {
            struct conn *c = CONTAINER(head->next, struct conn, deadline);

            if (c->deadline_ms > l->now_ms)
                break;
            if (kind == DL_HEAD)
                STAT_ADD(s, header_timeouts);
            else if (kind == DL_BODY)
                STAT_ADD(s, body_timeouts);
            (void)conn_close(c);
        }
    }
    while (s->idle_ms > 0 && !list_empty(&l->idle)) {
        struct conn *c = CONTAINER(l->idle.next, struct conn, idle);

        if (c->activity_ms + s->idle_ms > l->now_ms)
            break;
        (void)conn_close(c);
    }
    if (!l->listening && l->accept_resume_ms != 0 && l->accept_resume_ms <= l->now_ms) {
        l->accept_resume_ms = 0;
        if (__atomic_load_n(&s->accepting, __ATOMIC_RELAXED))
            listen_start(l);
    }
}

/* Milliseconds until the next timer, -1 for none. */
static int loop_timeout(struct loop *l)
{
    struct http_server *s = l->server;
    int64_t next = INT64_MAX;
    int kind;

    if (s->idle_ms > 0 && !list_empty(&l->idle))
        next = CONTAINER(l->idle.next, struct conn, idle)->activity_ms + s->idle_ms;
    for (kind = 0; kind < N_DEADLINES; kind++) {
        if (!list_empty(&l->deadlines[kind])) {
            int64_t d = CONTAINER(l->deadlines[kind].next, struct conn, deadline)->deadline_ms;
            if (d < next)
                next = d;
        }
    }
    if (!l->listening && l->accept_resume_ms != 0 && l->accept_resume_ms < next)
        next = l->accept_resume_ms;
    if (next == INT64_MAX)
        return -1;
    if (next <= l->now_ms)
        return 0;
    return next - l->now_ms > INT_MAX ? INT_MAX : (int)(next - l->now_ms);
}

static void free_dead(struct loop *l)
{
    while (l->dead != NULL) {
        struct conn *c = l->dead;

        l->dead = c->dead_next;
        free(c);
    }
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event events[EPOLL_BATCH];

    for (;;) {
        int n, i;

        if (l->server->before_wait != NULL)
            l->server->before_wait(l->server->handler_ctx);
        l->now_ms = monotonic_ms();
        n = epoll_wait(l->epfd, events, EPOLL_BATCH, loop_timeout(l));
        l->now_ms = monotonic_ms();
        refresh_date(l);
        for (i = 0; i < n; i++) {
            void *p = events[i].data.ptr;

            if (p == &l->tag_listen) {
                loop_accept(l);
            } else if (p == &l->tag_wake) {
                uint64_t v;

                if (read(l->wakefd, &v, sizeof(v)) < 0)
                    v = 0;           /* nothing to drain: a spurious wake */
                if (__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
                    free_dead(l);
                    if (l->server->before_wait != NULL)
                        l->server->before_wait(l->server->handler_ctx);
                    return NULL;
                }
                loop_take_ready(l);
            } else {
                conn_event(p, events[i].events);
            }
        }
        loop_expire(l);
        free_dead(l);
    }
}

/* ---- starting and stopping ---- */

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

static void loop_destroy(struct loop *l)
{
    while (!list_empty(&l->all)) {
        struct conn *c = CONTAINER(l->all.next, struct conn, all);

        /* Stopping: whatever is still open goes without ceremony. */
        c->state = CONN_WRITE;
        (void)conn_close(c);
    }
    free_dead(l);
    while (l->spare != NULL) {
        struct http_request *r = l->spare;

        l->spare = r->next_spare;
        free(r);
    }
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l->scratch);
    pthread_mutex_destroy(&l->ready_lock);
}

static int loop_init(struct loop *l, struct http_server *s)
{
    struct epoll_event ev;
    int kind;

    l->server = s;
    l->epfd = l->wakefd = -1;
    list_init(&l->all);
    list_init(&l->idle);
    for (kind = 0; kind < N_DEADLINES; kind++)
        list_init(&l->deadlines[kind]);
    pthread_mutex_init(&l->ready_lock, NULL);
    l->now_ms = monotonic_ms();
    refresh_date(l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wakefd < 0)
        return -1;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &l->tag_wake;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0)
        return -1;
    listen_start(l);
    return l->listening ? 0 : -1;
}

static void server_free(struct http_server *s)
{
    int i;

    for (i = 0; i < s->n_loops; i++)
        loop_destroy(&s->loops[i]);
    free(s->loops);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    tls_context_free(s->tls_ctx);
    strmap_free(s->per_ip);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle_cond);
    pthread_mutex_destroy(&s->ip_lock);
    free(s);
}

int http_server_start(struct http_server **out, const struct http_server_options *opts,
                      char *err, size_t err_size)
{
    struct http_server *s;
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    pthread_condattr_t ca;
    int i, flags, rc;

    if (getsockname(opts->listen_fd, (struct sockaddr *)&ss, &ss_len) != 0) {
        snprintf(err, err_size, "listening socket: %s", strerror(errno));
        return -1;
    }
    /* accept4 must never block a loop. */
    flags = fcntl(opts->listen_fd, F_GETFL);
    if (flags < 0 || fcntl(opts->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        snprintf(err, err_size, "listening socket: %s", strerror(errno));
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->handler = opts->handler;
    s->decorate = opts->decorate;
    s->complete = opts->complete;
    s->before_wait = opts->before_wait;
    s->handler_ctx = opts->handler_ctx;
    s->request_ctx_bytes = opts->request_ctx_bytes;
    s->listen_fd = opts->listen_fd;
    s->max_connections = opts->max_connections > 0 ? opts->max_connections : UINT_MAX;
    s->max_conn_per_ip = opts->max_conn_per_ip;
    s->idle_ms = (int64_t)opts->idle_timeout_s * 1000;
    s->timeout_ms[DL_HEAD] = (int64_t)opts->header_timeout_s * 1000;
    s->timeout_ms[DL_BODY] = (int64_t)opts->body_timeout_s * 1000;
    s->timeout_ms[DL_LINGER] = LATCH_LINGER_MS;
    s->accepting = 1;
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->ip_lock, NULL);
    s->per_ip = strmap_new();
    if (s->per_ip == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (opts->tls_cert_pem != NULL) {
        if (tls_context_new(&s->tls_ctx, opts->tls_cert_pem, opts->tls_key_pem, err,
                            err_size) != 0)
            goto fail;
        s->tls = true;
    }
    s->n_loops = opts->threads > 0 ? opts->threads : 1;
    s->loops = calloc((size_t)s->n_loops, sizeof(*s->loops));
    if (s->loops == NULL) {
        s->n_loops = 0;
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (i = 0; i < s->n_loops; i++) {
        if (loop_init(&s->loops[i], s) != 0) {
            snprintf(err, err_size, "cannot start the HTTP server: %s", strerror(errno));
            goto fail;
        }
    }
    for (i = 0; i < s->n_loops; i++) {
        rc = pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]);
        if (rc != 0) {
            snprintf(err, err_size, "cannot start an HTTP thread: %s", strerror(rc));
            goto fail;
        }
        s->loops[i].thread_started = true;
        (void)pthread_setname_np(s->loops[i].thread, "latch-http");
    }
    *out = s;
    return 0;

fail:
    for (i = 0; i < s->n_loops; i++) {
        if (s->loops[i].thread_started) {
            uint64_t one = 1;

            __atomic_store_n(&s->loops[i].stop, 1, __ATOMIC_RELEASE);
            if (write(s->loops[i].wakefd, &one, sizeof(one)) < 0)
                continue;            /* cannot happen on a fresh eventfd */
            pthread_join(s->loops[i].thread, NULL);
        }
    }
    /* The caller still owns the listening socket when the start fails. */
    s->listen_fd = -1;
    server_free(s);
    return -1;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_quiesce(struct http_server *server)
{
    int i;

    if (!__atomic_exchange_n(&server->accepting, 0, __ATOMIC_SEQ_CST))
        return;
    /* epoll_ctl is safe from any thread; a loop that accepts meanwhile sees
     * accepting cleared and stops listening itself. */
    for (i = 0; i < server->n_loops; i++)
        (void)epoll_ctl(server->loops[i].epfd, EPOLL_CTL_DEL, server->listen_fd, NULL);
}

void http_server_stop(struct http_server *server, int grace_s)
{
    struct timespec deadline;
    int i;

    if (server == NULL)
        return;
    http_server_quiesce(server);
    __atomic_store_n(&server->stopping, 1, __ATOMIC_SEQ_CST);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_s;
    pthread_mutex_lock(&server->lock);
    while (__atomic_load_n(&server->in_flight, __ATOMIC_SEQ_CST) > 0)
        if (pthread_cond_timedwait(&server->idle_cond, &server->lock, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&server->lock);
    for (i = 0; i < server->n_loops; i++) {
        uint64_t one = 1;

        __atomic_store_n(&server->loops[i].stop, 1, __ATOMIC_RELEASE);
        if (write(server->loops[i].wakefd, &one, sizeof(one)) < 0)
            server->loops[i].thread_started = false;   /* not waited for */
    }
    for (i = 0; i < server->n_loops; i++)
        if (server->loops[i].thread_started)
            pthread_join(server->loops[i].thread, NULL);
    server_free(server);
}
