/*
 * tls.h - HTTPS for latch's HTTP layer, over OpenSSL 3: the certificate and
 * key files, read once at start (a restart takes new ones) and checked so
 * that a mistake is named clearly; the server's TLS context; and one
 * connection's TLS session over a non-blocking socket, for server.c's event
 * loop (the only user: nothing else sees an OpenSSL type).
 */
#ifndef LATCH_HTTP_TLS_H
#define LATCH_HTTP_TLS_H

#include <stddef.h>

/*
 * TLS 1.2 and 1.3 only; in TLS 1.2 ECDHE key exchange with AEAD ciphers
 * only (AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305, in that order of the
 * server's preference), in TLS 1.3 its three AEAD suites; groups X25519,
 * P-256, P-384.  The same set the GnuTLS priority string of the
 * libmicrohttpd days allowed ("NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-256-GCM:
 * +AES-128-GCM:+CHACHA20-POLY1305:+AEAD:+ECDHE-ECDSA:+ECDHE-RSA:...").
 * Renegotiation: secure renegotiation (RFC 5746) is announced, and a client
 * that asks to renegotiate has its connection closed.  ALPN: http/1.1.
 */
#define TLS_CIPHERS_TLS12                                                       \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERSUITES_TLS13 \
    "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

struct tls_files {
    char *cert_pem;      /* NUL-terminated */
    char *key_pem;       /* NUL-terminated; wiped and freed by tls_files_free */
    size_t key_len;
};

/* Reads and checks cert_path and key_path: both PEM, the key private to its
 * owner (no group or other permission), the key matching the certificate.
 * Returns 0, or -1 with err naming the file and the problem. */
int tls_files_load(struct tls_files *out, const char *cert_path, const char *key_path, char *err,
                   size_t err_size);
void tls_files_free(struct tls_files *files);

/* The server's TLS configuration (an SSL_CTX), shared by its connections. */
struct tls_context;

/* Builds the context from PEM text (the certificate, then any chain
 * certificates after it; the key).  Returns 0, or -1 with err set. */
int tls_context_new(struct tls_context **out, const char *cert_pem, const char *key_pem,
                    char *err, size_t err_size);
void tls_context_free(struct tls_context *ctx);

/* One connection's TLS state over a non-blocking socket fd (not owned). */
struct tls_session;

/* What an operation on a session came to, when it moved no data. */
enum tls_status {
    TLS_WANT_READ = -1,              /* retry when the socket is readable */
    TLS_WANT_WRITE = -2,             /* retry when the socket is writable */
    TLS_CLOSED = -3,                 /* the peer ended the session (close_notify or EOF) */
    TLS_FAILED = -4,                 /* handshake or record error, renegotiation asked: close */
};

struct tls_session *tls_session_new(struct tls_context *ctx, int fd);
void tls_session_free(struct tls_session *s);
/* 0 once the handshake is done, else a tls_status. */
int tls_session_handshake(struct tls_session *s);
/* Bytes read or written (> 0), else a tls_status.  A write is all or
 * nothing: after TLS_WANT_* it must be retried with the same bytes (they may
 * be at another address). */
long tls_session_read(struct tls_session *s, void *buf, size_t len);
long tls_session_write(struct tls_session *s, const void *buf, size_t len);
/* Sends close_notify if it can without waiting (before a close). */
void tls_session_close_notify(struct tls_session *s);

#endif
