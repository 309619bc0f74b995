#include "mail/smtp.h"

#include "mail/message.h"
#include "util/cidr.h"
#include "util/dynlib.h"
#include "util/fsutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* libcurl 7.85: CURLOPT_PROTOCOLS_STR; 7.84: CURLINFO_CAINFO; 7.77:
 * CURLOPT_CAINFO_BLOB for OpenSSL. */
#define SMTP_MIN_CURL_VERSION 0x075500

/* RFC 1122 section 3.2.1.3 and RFC 4291 section 2.5.3. */
#define LOOPBACK_RANGES "127.0.0.0/8, ::1/128"

/* libcurl is opened only where mail is configured (util/dynlib.h says why):
 * every function this file calls is a sym_ pointer, resolved at once by
 * curl_load.  Calls through them skip curl's compile-time option checks
 * (typecheck-gcc.h); the SMTP tests send with every option set here. */
#define CURL_FUNCTIONS(X) \
    X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) \
    X(curl_easy_perform) X(curl_easy_setopt) X(curl_easy_strerror) \
    X(curl_free) X(curl_global_cleanup) X(curl_global_init) \
    X(curl_slist_append) X(curl_slist_free_all) X(curl_url) \
    X(curl_url_cleanup) X(curl_url_get) X(curl_url_set) \
    X(curl_version_info)
CURL_FUNCTIONS(DYNLIB_DECLARE)
static const struct dynlib_sym curl_syms[] = {CURL_FUNCTIONS(DYNLIB_SYM)};
static struct dynlib libcurl = DYNLIB_INIT("libcurl.so.4", curl_syms);

/* 1 once libcurl's functions are usable. */
static int curl_load(void)
{
    return dynlib_load(&libcurl) == 0;
}

const char *smtp_load_error(void)
{
    return libcurl.err;
}

const char *smtp_strerror(int err)
{
    switch (err) {
    case SMTP_OK: return "ok";
    case SMTP_EURL: return "invalid SMTP URL";
    case SMTP_EADDRESS: return "invalid sender or recipient";
    case SMTP_EMESSAGE: return "empty or too large message";
    case SMTP_EFILE: return "unusable password or CA file";
    case SMTP_ESEND: return "sending failed";
    case SMTP_ENOMEM: return "out of memory";
    case SMTP_EINIT: return "libcurl unusable";
    default: return "unknown error";
    }
}

static void set_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

int smtp_global_init(void)
{
    const curl_version_info_data *info;

    if (!curl_load())
        return SMTP_EINIT;
    if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SMTP_EINIT;
    info = sym_curl_version_info(CURLVERSION_NOW);
    if (info == NULL || info->version_num < SMTP_MIN_CURL_VERSION ||
        !(info->features & CURL_VERSION_SSL)) {
        sym_curl_global_cleanup();
        return SMTP_EINIT;
    }
    return SMTP_OK;
}

void smtp_global_cleanup(void)
{
    if (dynlib_loaded(&libcurl))
        sym_curl_global_cleanup();
}

/* 1 when the host as libcurl parsed it is a loopback address or the name
 * localhost (which libcurl resolves to loopback itself, without DNS). */
static int host_is_loopback(const char *host)
{
    struct cidr_list loopback;
    const char *bad = NULL;
    char bare[64];
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    /* IPv6 literals come back in brackets. */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof(bare))
            return 0;
        memcpy(bare, host + 1, n - 2);
        bare[n - 2] = '\0';
        host = bare;
    }
    if (cidr_parse_list(LOOPBACK_RANGES, &loopback, &bad) != 0)
        return 0;
    return cidr_contains(&loopback, host);
}

int smtp_tls_policy(const char *url, int insecure, enum smtp_tls *out)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL, *part = NULL;
    int ret = SMTP_EURL;
    enum smtp_tls tls;

    if (url == NULL || strnlen(url, LATCH_MAX_SMTP_URL_BYTES + 1) > LATCH_MAX_SMTP_URL_BYTES)
        return SMTP_EURL;
    if (!curl_load())
        return SMTP_EINIT;
    u = sym_curl_url();
    if (u == NULL)
        return SMTP_ENOMEM;
    /* Without CURLU_GUESS_SCHEME or CURLU_DEFAULT_SCHEME a scheme is required. */
    if (sym_curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        goto cleanup;
    if (sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        sym_curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        goto cleanup;
    /* Credentials belong in their own settings (kept out of error texts);
     * a query or fragment means the URL is not what the admin thinks. */
    if (sym_curl_url_get(u, CURLUPART_USER, &part, 0) != CURLUE_NO_USER ||
        sym_curl_url_get(u, CURLUPART_PASSWORD, &part, 0) != CURLUE_NO_PASSWORD ||
        sym_curl_url_get(u, CURLUPART_OPTIONS, &part, 0) != CURLUE_NO_OPTIONS ||
        sym_curl_url_get(u, CURLUPART_QUERY, &part, 0) != CURLUE_NO_QUERY ||
        sym_curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) != CURLUE_NO_FRAGMENT)
        goto cleanup;
    if (strcmp(scheme, "smtps") == 0)
        tls = SMTP_TLS_IMPLICIT;
    else if (strcmp(scheme, "smtp") == 0)
        tls = insecure || host_is_loopback(host) ? SMTP_TLS_OPPORTUNISTIC : SMTP_TLS_STARTTLS;
    else
        goto cleanup;
    *out = tls;
    ret = SMTP_OK;
cleanup:
    sym_curl_free(part);
    sym_curl_free(host);
    sym_curl_free(scheme);
    sym_curl_url_cleanup(u);
    return ret;
}

int smtp_read_password(const char *path, char *out, size_t size, char *err, size_t err_size)
{
    size_t n = 0, max, i;
    int rc;

    if (path == NULL || out == NULL || size < 2) {
        set_err(err, err_size, "SMTP password file: no file or buffer");
        return SMTP_EFILE;
    }
    max = size - 1 < LATCH_MAX_SMTP_PASSWORD_BYTES + 2 ? size - 1
                                                        : LATCH_MAX_SMTP_PASSWORD_BYTES + 2;
    rc = fsutil_read_secret(path, out, max, &n);
    if (rc != FSUTIL_OK) {
        sodium_memzero(out, size);
        set_err(err, err_size, "SMTP password file %s: %s", path, fsutil_strerror(rc));
        return SMTP_EFILE;
    }
    /* Editors end files with a line break: one LF or CRLF is not part of
     * the password. */
    if (n > 0 && out[n - 1] == '\n')
        n--;
    if (n > 0 && out[n - 1] == '\r')
        n--;
    for (i = 0; i < n; i++)
        if (out[i] == '\0' || out[i] == '\r' || out[i] == '\n')
            break;
    if (n == 0 || i < n || n > LATCH_MAX_SMTP_PASSWORD_BYTES) {
        sodium_memzero(out, size);
        set_err(err, err_size,
                "SMTP password file %s: empty, too long, or holds a NUL or line break", path);
        return SMTP_EFILE;
    }
    out[n] = '\0';
    return SMTP_OK;
}

/* Appends the regular file path to buf (at most max bytes in all). */
static int append_file(const char *path, char **buf, size_t *len, size_t max)
{
    struct stat st;
    char *grown;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (size_t)st.st_size > max - *len - 1) {
        close(fd);
        return -1;
    }
    grown = realloc(*buf, *len + (size_t)st.st_size + 1);
    if (grown == NULL) {
        close(fd);
        return -1;
    }
    *buf = grown;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, grown + *len + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len += got;
    /* A newline between files: a bundle without a final one would glue its
     * last END line to the next BEGIN line. */
    grown[(*len)++] = '\n';
    return 0;
}

/* CURLOPT_CAINFO_BLOB = libcurl's default bundle + ca_file (see smtp.h). */
static int set_ca_bundle(CURL *curl, const char *ca_file, char *err, size_t err_size)
{
    struct curl_blob blob;
    char *def = NULL, *buf = NULL;
    size_t len = 0;
    int ret = SMTP_OK;

    /* The default bundle may be absent (a build with only a CA path): then
     * the CA path and the file are what is trusted. */
    if (sym_curl_easy_getinfo(curl, CURLINFO_CAINFO, &def) == CURLE_OK && def != NULL)
        (void)append_file(def, &buf, &len, LATCH_MAX_CA_BUNDLE_BYTES);
    if (append_file(ca_file, &buf, &len, LATCH_MAX_CA_BUNDLE_BYTES) != 0) {
        set_err(err, err_size,
                "SMTP CA file %s: cannot read it (missing, not a regular file, or too large)",
                ca_file);
        ret = SMTP_EFILE;
        goto cleanup;
    }
    blob.data = buf;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    if (sym_curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
        set_err(err, err_size, "SMTP CA file %s: libcurl refused the bundle", ca_file);
        ret = SMTP_EINIT;
    }
cleanup:
    free(buf);
    return ret;
}

struct upload {
    const char *data;
    size_t len, pos;
};

static size_t read_message(char *dst, size_t size, size_t nitems, void *userp)
{
    struct upload *up = userp;
    size_t room = size * nitems, n = up->len - up->pos;

    if (n > room)
        n = room;
    memcpy(dst, up->data + up->pos, n);
    up->pos += n;
    return n;
}

/* Every setopt below is on a libcurl at least SMTP_MIN_CURL_VERSION with
 * TLS (smtp_global_init), so a failure is out of memory or a bad value. */
#define SETOPT(opt, val)                                                                       \
    do {                                                                                       \
        if (sym_curl_easy_setopt(curl, opt, val) != CURLE_OK) {                                    \
            set_err(err, err_size, "libcurl refused option %s", #opt);                 \
            ret = SMTP_EINIT;                                                                  \
            goto cleanup;                                                                      \
        }                                                                                      \
    } while (0)

int smtp_send(const struct smtp_config *cfg, const char *from, const char *to,
              const char *message, size_t len, char *err, size_t err_size)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *rcpt = NULL;
    struct upload up;
    enum smtp_tls tls;
    CURL *curl = NULL;
    CURLcode rc;
    int ret;

    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (!curl_load()) {
        set_err(err, err_size, "SMTP: libcurl (Debian package libcurl4): %s", libcurl.err);
        return SMTP_EINIT;
    }
    if (cfg == NULL || smtp_tls_policy(cfg->url, cfg->insecure, &tls) != SMTP_OK) {
        set_err(err, err_size, "SMTP URL: must be smtp://host[:port] or smtps://host[:port], "
                "without user, options, query or fragment");
        return SMTP_EURL;
    }
    if (from == NULL)
        from = cfg->from;
    if (message_check_address(from) != MESSAGE_OK || message_check_address(to) != MESSAGE_OK) {
        set_err(err, err_size, "SMTP: invalid sender or recipient address");
        return SMTP_EADDRESS;
    }
    if (message == NULL || len == 0 || len > LATCH_MAX_MAIL_MESSAGE_BYTES) {
        set_err(err, err_size, "SMTP: empty or too large message");
        return SMTP_EMESSAGE;
    }
    curl = sym_curl_easy_init();
    rcpt = sym_curl_slist_append(NULL, to);
    if (curl == NULL || rcpt == NULL) {
        set_err(err, err_size, "SMTP: out of memory");
        ret = SMTP_ENOMEM;
        goto cleanup;
    }
    ret = SMTP_OK;
    errbuf[0] = '\0';
    up.data = message;
    up.len = len;
    up.pos = 0;

    SETOPT(CURLOPT_URL, cfg->url);
    /* Only SMTP, whatever the URL says (smtp_tls_policy checked it too). */
    SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT, (long)LATCH_SMTP_CONNECT_TIMEOUT_S);
    SETOPT(CURLOPT_TIMEOUT, (long)LATCH_SMTP_TIMEOUT_S);
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    /* RFC 8314 section 4.1 on what to verify; RFC 8996: no TLS below 1.2. */
    SETOPT(CURLOPT_USE_SSL,
           tls == SMTP_TLS_OPPORTUNISTIC ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
        ret = set_ca_bundle(curl, cfg->ca_file, err, err_size);
        if (ret != SMTP_OK)
            goto cleanup;
    }
    if (cfg->user != NULL && cfg->user[0] != '\0') {
        SETOPT(CURLOPT_USERNAME, cfg->user);
        SETOPT(CURLOPT_PASSWORD, cfg->password != NULL ? cfg->password : "");
    }
    SETOPT(CURLOPT_MAIL_FROM, from);
    SETOPT(CURLOPT_MAIL_RCPT, rcpt);
    SETOPT(CURLOPT_UPLOAD, 1L);
    SETOPT(CURLOPT_READFUNCTION, read_message);
    SETOPT(CURLOPT_READDATA, &up);
    SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);

    rc = sym_curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        /* libcurl's own text; it holds no password (none is in the URL),
         * but check rather than trust. */
        if (cfg->password != NULL && cfg->password[0] != '\0' &&
            strstr(errbuf, cfg->password) != NULL)
            errbuf[0] = '\0';
        if (errbuf[0] != '\0')
            set_err(err, err_size, "SMTP: %s (%s)", sym_curl_easy_strerror(rc), errbuf);
        else
            set_err(err, err_size, "SMTP: %s", sym_curl_easy_strerror(rc));
        ret = SMTP_ESEND;
    }
cleanup:
    if (curl != NULL) {
        /* libcurl keeps its own copy of the password in the handle and
         * frees it here without wiping it; the caller's copy is the caller's. */
        sym_curl_easy_cleanup(curl);
    }
    sym_curl_slist_free_all(rcpt);
    return ret;
}
