/*
 * server.h - latch's HTTP/1.1 server (server.c, with the request parser
 * parse.c, the head checks framing.c and TLS tls.c).  Handlers see struct
 * http_request and build struct http_response; nothing else of the server
 * is theirs to see.
 *
 * The server enforces the request-shape limits of latch_limits.h before a
 * handler runs (the rules are in parse.h and framing.h): a request line and
 * header section within LATCH_MAX_HEAD_BYTES (414 for a request line that is
 * longer, else 431), header bytes and count (431), URL length (414), and 400
 * for a malformed request line, a header name that is not a token (also
 * empty, or with white space before the colon), an obs-fold line, a NUL or
 * bare CR, an HTTP/1.1 request without Host, repeated Host, Content-Length,
 * Authorization, Origin or Content-Type, a Transfer-Encoding other than
 * chunked, both Content-Length and Transfer-Encoding, a malformed chunked
 * body; 505 for a major version other than 1.  Each of these answers has
 * latch's JSON error shape, goes through decorate and complete like any
 * other, and closes the connection.  It reads the body up to
 * LATCH_MAX_BODY_BYTES; a larger one is not read (Content-Length) or is read
 * and dropped (chunked, up to LATCH_MAX_DISCARD_BYTES), and the handler is
 * called with http_request_body_too_large() true, so the router can still
 * answer 404 or 405 first.
 *
 * Deadlines: a connection must deliver a whole request head within
 * header_timeout_s of its accept or of the end of its previous response, and
 * the body within body_timeout_s of the head, however it trickles; past them
 * it is closed without an answer and counted.  A request whose handler runs
 * or that was deferred has no deadline.  A connection that sends and reads
 * nothing for idle_timeout_s is closed besides.
 *
 * A handler answers with http_request_respond(), either before it returns or
 * later from another thread after http_request_defer() (the connection waits
 * meanwhile and other requests keep being served).
 */
#ifndef LATCH_HTTP_SERVER_H
#define LATCH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;
struct http_response;
struct http_server;

typedef void (*http_handler_fn)(struct http_request *req, void *ctx);
/* Called with every response just before it is sent (headers every answer
 * shares: CORS, HSTS).  May run on any thread. */
typedef void (*http_decorate_fn)(struct http_request *req, struct http_response *resp,
                                 void *ctx);

/* What became of one request, for the access log and metrics. */
struct http_exchange {
    int status;                    /* the status sent */
    uint64_t bytes;                /* response body bytes (0 for HEAD) */
    uint64_t duration_us;          /* from the whole head read to the answer sent */
};
/* Called once per request that was answered, after the answer went out (or
 * the connection closed), on an HTTP thread; the request is still valid. */
typedef void (*http_complete_fn)(struct http_request *req, const struct http_exchange *x,
                                 void *ctx);

/* Creates, binds and listens on host:port (port 0: any free port), so that
 * the caller can drop privileges before anything else.  *fd_out is the
 * socket, *port_out the port bound. */
int http_listen(const char *host, int port, int *fd_out, int *port_out, char *err,
                size_t err_size);

struct http_server_options {
    int listen_fd;                 /* from http_listen; the server owns it */
    int threads;                   /* HTTP threads, each with its own epoll loop */
    unsigned max_connections;
    unsigned max_conn_per_ip;      /* 0: no limit */
    unsigned idle_timeout_s;
    unsigned header_timeout_s;     /* whole request head; 0: no deadline */
    unsigned body_timeout_s;       /* whole body, from the head; 0: no deadline */
    const char *tls_cert_pem;      /* NULL: plain HTTP; else PEM text (tls.h's settings) */
    const char *tls_key_pem;
    http_handler_fn handler;
    http_decorate_fn decorate;     /* may be NULL */
    http_complete_fn complete;     /* may be NULL */
    /* Called on each HTTP thread before it waits for events, and once more
     * as it ends: where the thread writes out what it gathered meanwhile
     * (the access log's held lines).  May be NULL. */
    void (*before_wait)(void *ctx);
    void *handler_ctx;             /* passed to handler, decorate, complete, before_wait */
    /* Bytes of zeroed memory each request carries for the handler's own
     * per-request state (http_request_ctx); allocated with the request. */
    size_t request_ctx_bytes;
};

int http_server_start(struct http_server **out, const struct http_server_options *opts,
                      char *err, size_t err_size);
int http_server_port(const struct http_server *server);
/* What the server refused, for /metrics. */
struct http_server_stats {
    unsigned long long connections_open;
    unsigned long long refused_per_ip;       /* LATCH_MAX_CONN_PER_IP reached */
    unsigned long long headers_too_large;    /* 431 */
    unsigned long long uri_too_long;         /* 414 */
    unsigned long long body_too_large;       /* 413 */
    unsigned long long bad_requests;         /* 400 from the protocol checks */
    unsigned long long header_timeouts;      /* closed: no whole head within header_timeout_s */
    unsigned long long body_timeouts;        /* closed: no whole body within body_timeout_s */
};
void http_server_stats(struct http_server *server, struct http_server_stats *out);

/* Graceful stop: stops accepting, waits (at most grace_s) for in-flight
 * requests to be answered, then closes every connection and frees (the
 * listening socket too). */
void http_server_stop(struct http_server *server, int grace_s);
/* Stops accepting new connections; the connections open are served on, and
 * each closes after its next answer. */
void http_server_quiesce(struct http_server *server);

/* Request accessors; returned strings live as long as the request. */
const char *http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
/* The first field of that name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/* The index-th (from 0) field of that name in the order received, or NULL:
 * for fields that may come on several lines (Cookie, X-Forwarded-For). */
const char *http_request_header_at(const struct http_request *req, const char *name,
                                   size_t index);
const char *http_request_query(const struct http_request *req, const char *name);
const char *http_request_body(const struct http_request *req, size_t *len);
bool http_request_body_too_large(const struct http_request *req);
bool http_request_is_tls(const struct http_request *req);
/* The handler's per-request state (request_ctx_bytes of it, zeroed when
 * the request began), or NULL when the server was started without any. */
void *http_request_ctx(struct http_request *req);
/* The peer's address as text ("127.0.0.1", "::1"); "" if unknown. */
const char *http_request_peer_ip(const struct http_request *req);

/* Responses, from any thread.  The body is copied.  A header whose name is
 * not a token or whose value has CR or LF, or one past
 * LATCH_MAX_RESPONSE_HEAD_BYTES, is refused (-1) and the response stays as
 * it was.  The server adds Date, Content-Length and Connection. */
struct http_response *http_response_new(int status, const char *content_type,
                                        const char *body, size_t body_len);
int http_response_header(struct http_response *resp, const char *name, const char *value);
/* The reason phrase of a status latch answers with (RFC 9110 15), "" for
 * one it does not. */
const char *http_reason_phrase(int status);
void http_response_free(struct http_response *resp);

/* Sends resp (ownership passes to the server).  Exactly once per request.
 * Thread-safe once the request was deferred. */
void http_request_respond(struct http_request *req, struct http_response *resp);
/* Declares that the answer will come later, from another thread.  Calling
 * it again on a deferred request changes nothing. */
void http_request_defer(struct http_request *req);

#endif
