#include "http/tls.h"

#include "util/fsutil.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
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
