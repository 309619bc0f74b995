/*
 * tls.c - the key and certificate files, the server's SSL_CTX, and one
 * connection's SSL over a non-blocking socket (tls.h).
 */
#include "http/tls.h"

#include "util/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_MAX_PEM_BYTES (256 * 1024)

static char *read_file(const char *path, size_t *len, int secret, char *err, size_t err_size)
{
    char *buf = malloc(TLS_MAX_PEM_BYTES + 1);
    FILE *f;
    int rc;

    if (buf == NULL)
        return NULL;
    if (secret) {
        rc = fsutil_read_secret(path, buf, TLS_MAX_PEM_BYTES, len);
        if (rc != FSUTIL_OK) {
            snprintf(err, err_size, "%s: %s", path, fsutil_strerror(rc));
            free(buf);
            return NULL;
        }
    } else {
        f = fopen(path, "rbe");
        if (f == NULL) {
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
            free(buf);
            return NULL;
        }
        *len = fread(buf, 1, TLS_MAX_PEM_BYTES, f);
        fclose(f);
    }
    buf[*len] = '\0';
    return buf;
}

int tls_files_load(struct tls_files *out, const char *cert_path, const char *key_path, char *err,
                   size_t err_size)
{
    size_t cert_len = 0, key_len = 0;
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->cert_pem = read_file(cert_path, &cert_len, 0, err, err_size);
    if (out->cert_pem == NULL)
        return -1;
    out->key_pem = read_file(key_path, &key_len, 1, err, err_size);
    if (out->key_pem == NULL)
        goto cleanup;
    out->key_len = key_len;

    bio = BIO_new_mem_buf(out->cert_pem, (int)cert_len);
    cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (cert == NULL) {
        snprintf(err, err_size, "%s: not a PEM certificate", cert_path);
        goto cleanup;
    }
    bio = BIO_new_mem_buf(out->key_pem, (int)key_len);
    /* An empty passphrase callback: an encrypted key fails instead of
     * prompting on the terminal. */
    key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    if (key == NULL) {
        snprintf(err, err_size, "%s: not an unencrypted PEM private key", key_path);
        goto cleanup;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, err_size, "%s does not match the certificate in %s", key_path, cert_path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
    if (rc != 0)
        tls_files_free(out);
    return rc;
}

void tls_files_free(struct tls_files *files)
{
    free(files->cert_pem);
    if (files->key_pem != NULL) {
        OPENSSL_cleanse(files->key_pem, files->key_len);
        free(files->key_pem);
    }
    memset(files, 0, sizeof(*files));
}

/* ---- the server's context ---- */

struct tls_context {
    SSL_CTX *ctx;
};

struct tls_session {
    SSL *ssl;
    bool handshake_done;
    bool renegotiation;              /* the client asked for one: the session ends */
};

/*
 * A TLS 1.2 client asking to renegotiate: OpenSSL 3 refuses it (client
 * renegotiation is off by default, and SSL_OP_NO_RENEGOTIATION is set) with a
 * no_renegotiation warning alert and goes on with the connection.  latch ends
 * the connection instead, as its GnuTLS days did: a client that tries is not
 * one to keep talking to, and test_tls.py pins it.  In TLS 1.3 a post-
 * handshake message (a session ticket) also starts a "handshake": not that.
 */
static void on_info(const SSL *ssl, int where, int ret)
{
    struct tls_session *s = SSL_get_app_data(ssl);

    if (s == NULL)
        return;
    if ((where & SSL_CB_HANDSHAKE_START) && s->handshake_done &&
        SSL_version(ssl) < TLS1_3_VERSION)
        s->renegotiation = true;
    if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE) &&
        (ret & 0xff) == SSL_AD_NO_RENEGOTIATION)
        s->renegotiation = true;
}

/* ALPN (RFC 7301): http/1.1 when the client offers it; a client that offers
 * only other protocols (h2) goes on without ALPN rather than failing. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                   const unsigned char *in, unsigned int in_len, void *arg)
{
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *selected = NULL;
    (void)ssl;
    (void)arg;

    if (SSL_select_next_proto(&selected, out_len, http11, sizeof(http11) - 1, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

static int load_pem(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, char *err,
                    size_t err_size)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = NULL;
    X509 *extra;
    int rc = -1;

    if (cert == NULL || SSL_CTX_use_certificate(ctx, cert) != 1) {
        snprintf(err, err_size, "the certificate was refused");
        goto cleanup;
    }
    /* Certificates after the first are its chain, sent along with it. */
    while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            snprintf(err, err_size, "a chain certificate was refused");
            goto cleanup;
        }
    }
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, -1);
    key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    if (key == NULL || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, err_size, "the private key was refused");
        goto cleanup;
    }
    rc = 0;
cleanup:
    ERR_clear_error();
    BIO_free(bio);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int tls_context_new(struct tls_context **out, const char *cert_pem, const char *key_pem,
                    char *err, size_t err_size)
{
    static const unsigned char session_context[] = "latch";
    struct tls_context *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    c->ctx = SSL_CTX_new(TLS_server_method());
    if (c->ctx == NULL || SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c->ctx, TLS_CIPHERS_TLS12) != 1 ||
        SSL_CTX_set_ciphersuites(c->ctx, TLS_CIPHERSUITES_TLS13) != 1 ||
        SSL_CTX_set1_groups_list(c->ctx, TLS_GROUPS) != 1 ||
        SSL_CTX_set_session_id_context(c->ctx, session_context,
                                       sizeof(session_context) - 1) != 1) {
        snprintf(err, err_size, "OpenSSL refused latch's TLS settings");
        ERR_clear_error();
        tls_context_free(c);
        return -1;
    }
    SSL_CTX_set_options(c->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                    SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their record buffers back; a write retried
     * after WANT_WRITE may come from another address (server.c copies the
     * unsent answer aside). */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_info_callback(c->ctx, on_info);
    SSL_CTX_set_alpn_select_cb(c->ctx, on_alpn, NULL);
    if (load_pem(c->ctx, cert_pem, key_pem, err, err_size) != 0) {
        tls_context_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void tls_context_free(struct tls_context *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ctx);
    free(ctx);
}

/* ---- one connection ---- */

struct tls_session *tls_session_new(struct tls_context *ctx, int fd)
{
    struct tls_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->ssl = SSL_new(ctx->ctx);
    if (s->ssl == NULL || SSL_set_fd(s->ssl, fd) != 1) {
        ERR_clear_error();
        tls_session_free(s);
        return NULL;
    }
    SSL_set_app_data(s->ssl, s);
    SSL_set_accept_state(s->ssl);
    return s;
}

void tls_session_free(struct tls_session *s)
{
    if (s == NULL)
        return;
    SSL_free(s->ssl);
    free(s);
}

/* What a failed SSL_* call means for the event loop.  The thread's error
 * queue is left empty for the next connection's calls. */
static int status_of(struct tls_session *s, int rc)
{
    int e = SSL_get_error(s->ssl, rc);

    ERR_clear_error();
    if (s->renegotiation)
        return TLS_FAILED;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_CLOSED;
    default:
        return TLS_FAILED;
    }
}

int tls_session_handshake(struct tls_session *s)
{
    int rc;

    ERR_clear_error();
    rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        s->handshake_done = true;
        return 0;
    }
    return status_of(s, rc);
}

long tls_session_read(struct tls_session *s, void *buf, size_t len)
{
    int n;

    ERR_clear_error();
    n = SSL_read(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (s->renegotiation)
        return TLS_FAILED;
    return n > 0 ? n : status_of(s, n);
}

long tls_session_write(struct tls_session *s, const void *buf, size_t len)
{
    int n;

    ERR_clear_error();
    n = SSL_write(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (s->renegotiation)
        return TLS_FAILED;
    return n > 0 ? n : status_of(s, n);
}

void tls_session_close_notify(struct tls_session *s)
{
    if (s == NULL || !s->handshake_done)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(s->ssl);
    ERR_clear_error();
}
