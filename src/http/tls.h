/*
 * tls.h - the certificate and key files for HTTPS, read once at start (a
 * restart takes new ones) and checked so that a mistake is named clearly.
 */
#ifndef LATCH_HTTP_TLS_H
#define LATCH_HTTP_TLS_H

#include <stddef.h>

/*
 * TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers only, safe renegotiation
 * (RFC 5746) kept, the server's cipher order (GnuTLS priority syntax).
 */
#define TLS_PRIORITIES                                                                   \
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:" \
    "+ECDHE-ECDSA:+ECDHE-RSA:+SIGN-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"  \
    "+CTYPE-X509:+COMP-NULL:%SAFE_RENEGOTIATION:%SERVER_PRECEDENCE"

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

#endif
