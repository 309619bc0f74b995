/*
 * smtp.h - sends one formatted message (message.h) over SMTP with libcurl.
 * One attempt per call, no retries: the outbox owns retrying.  Blocking for
 * up to LATCH_SMTP_CONNECT_TIMEOUT_S + LATCH_SMTP_TIMEOUT_S: call it from the
 * mail sender's own thread, never from an HTTP thread.
 *
 * Transport security, from the URL's scheme (smtp_tls_policy):
 *   smtps://host[:port]  implicit TLS (RFC 8314 section 3.3; port 465).
 *   smtp://host[:port]   STARTTLS (RFC 3207), required: a server that does
 *                        not offer it fails the send (CURLUSESSL_ALL).  Only
 *                        for a loopback host (127.0.0.0/8, ::1, localhost
 *                        as written in the URL) or with cfg->insecure is a
 *                        server without STARTTLS accepted; STARTTLS is
 *                        still used when offered (CURLUSESSL_TRY).
 * Whenever TLS is used the certificate chain and the host name are verified
 * (CURLOPT_SSL_VERIFYPEER 1, CURLOPT_SSL_VERIFYHOST 2), TLS 1.2 or later.
 * insecure never turns verification off; it only permits plain text.
 *
 * CA file (LATCH_SMTP_CA_FILE): libcurl's CURLOPT_CAINFO REPLACES its
 * default bundle (and CURLOPT_CAINFO_BLOB replaces CURLOPT_CAINFO); only
 * CURLOPT_CAPATH, a separate setting, stays.  Debian's libcurl has both a
 * bundle file and a CA path, other builds only one.  The issue asks for the
 * file to ADD trusted CAs, so smtp_send passes a combined bundle as
 * CURLOPT_CAINFO_BLOB: libcurl's default bundle (CURLINFO_CAINFO) followed by
 * the file, and leaves the CA path alone.  The system CAs stay trusted
 * whatever the build; the file's CAs are trusted in addition.
 *
 * Addresses in the SMTP envelope pass message_check_address (no '<', '>',
 * CR, LF or space can reach MAIL FROM / RCPT TO).  The URL must not carry
 * credentials, a query or a fragment: the user and password are fields of
 * their own and never appear in an error text.
 */
#ifndef LATCH_MAIL_SMTP_H
#define LATCH_MAIL_SMTP_H

#include "latch_limits.h"

#include <stddef.h>

/* The settings the flow's config supplies (LATCH_SMTP_*, LATCH_MAIL_FROM).
 * The strings are borrowed for the duration of a call. */
struct smtp_config {
    const char *url;        /* smtp://host[:port][/ehlo-name] or smtps://... */
    const char *ca_file;    /* PEM CAs trusted in addition to the system's; NULL: none */
    const char *user;       /* NULL or "": no SMTP AUTH */
    const char *password;   /* with user: see smtp_read_password */
    int insecure;           /* 1: a server without STARTTLS is accepted on any host */
    const char *from;       /* envelope sender when smtp_send's from is NULL */
};

enum smtp_tls {
    SMTP_TLS_IMPLICIT,      /* smtps:// */
    SMTP_TLS_STARTTLS,      /* smtp://, STARTTLS required */
    SMTP_TLS_OPPORTUNISTIC, /* smtp://, loopback or insecure: STARTTLS if offered */
};

enum smtp_err {
    SMTP_OK = 0,
    SMTP_EURL = -1,         /* not an smtp:// or smtps:// URL latch accepts */
    SMTP_EADDRESS = -2,     /* the sender or recipient is refused */
    SMTP_EMESSAGE = -3,     /* empty or over LATCH_MAX_MAIL_MESSAGE_BYTES */
    SMTP_EFILE = -4,        /* the password or CA file cannot be used */
    SMTP_ESEND = -5,        /* connection, TLS, authentication or the server refused */
    SMTP_ENOMEM = -6,
    SMTP_EINIT = -7,        /* libcurl missing or too old, or its init failed */
};

const char *smtp_strerror(int err);

/* libcurl is not linked: it is opened (util/dynlib.h) on the first call of
 * any function here, so a server without mail never loads it or the
 * libraries it pulls in.
 *
 * smtp_global_init opens libcurl, initialises it (curl_global_init) and
 * checks that it has TLS and is new enough (7.85).  Call it once, when mail
 * is configured, before any thread that sends is started;
 * smtp_global_cleanup once at exit (a no-op if libcurl was never opened). */
int smtp_global_init(void);
void smtp_global_cleanup(void);

/* Why libcurl could not be opened, or "" when it was not tried or is
 * usable.  Never opens it. */
const char *smtp_load_error(void);

/* The transport policy for url and insecure (see above), parsed with
 * libcurl's own URL parser so that the host checked is the host libcurl
 * connects to.  Returns SMTP_OK and sets *out, or SMTP_EURL (SMTP_ENOMEM
 * when libcurl cannot allocate its parser, SMTP_EINIT when it cannot be
 * opened).  No I/O. */
int smtp_tls_policy(const char *url, int insecure, enum smtp_tls *out);

/*
 * Reads the SMTP password from path (LATCH_SMTP_PASSWORD_FILE) into out: at
 * most LATCH_MAX_SMTP_PASSWORD_BYTES and size - 1 bytes, one trailing LF or
 * CRLF dropped, no NUL, CR or LF left inside, not empty.  A file that group
 * or others may read or write is refused (fsutil_read_secret).  Returns
 * SMTP_OK, or SMTP_EFILE / SMTP_EINIT with a reason in err (which never holds
 * the password).  out is wiped on failure; the caller wipes it after use.
 */
int smtp_read_password(const char *path, char *out, size_t size, char *err, size_t err_size);

/*
 * Sends message (len bytes, CRLF lines, as message_format made it) from
 * from (cfg->from when NULL) to to.  Returns SMTP_OK once the server has
 * accepted the message (250 after DATA), else an error with a one-line
 * reason in err (NUL-terminated; libcurl's message, never the password).
 */
int smtp_send(const struct smtp_config *cfg, const char *from, const char *to,
              const char *message, size_t len, char *err, size_t err_size);

#endif
