/*
 * message.h - one plain-text mail message (RFC 5322 with the MIME headers of
 * RFC 2045/2046), formatted for SMTP: what the outbox hands to smtp_send.
 *
 *   From: <from>
 *   To: <to>
 *   Subject: <subject>
 *   Date: Thu, 01 Jan 2026 12:00:00 +0000          (RFC 5322 section 3.3, UTC)
 *   Message-ID: <mail-<mail_id>@<domain of from>>   (section 3.6.4)
 *   MIME-Version: 1.0
 *   Content-Type: text/plain; charset=utf-8
 *   Content-Transfer-Encoding: 8bit
 *   Auto-Submitted: auto-generated                  (RFC 3834 section 5: no
 *                                                    auto-replies to it)
 *
 *   <body>
 *
 * Every line ends in CRLF (section 2.1).  The Message-ID depends only on
 * the caller's mail id and the From domain, so a retry of the same outbox
 * row sends the same id and receivers can drop the duplicate.  Dot-stuffing
 * (RFC 5321 section 4.5.2) is the transport's: libcurl does it.
 *
 * Refused, so that nothing the caller passes can add a header or a
 * recipient:
 *   - an address (from, to) that is not latch's ASCII email rule
 *     (credentials_normalize_new_email, taken as given: no surrounding
 *     space) or whose local part is not an RFC 5322 dot-atom (section 3.2.3:
 *     atext and single inner dots; a quoted local part is refused, not
 *     quoted) or whose domain is not dot-separated letters, digits and
 *     hyphens;
 *   - a subject that is empty, longer than LATCH_MAX_MAIL_SUBJECT_BYTES, or
 *     holds anything but printable ASCII (no CR, LF, NUL, controls, and no
 *     8-bit bytes: a non-ASCII subject would need RFC 2047 encoding);
 *   - a mail id that is not 1..LATCH_MAX_MAIL_ID_BYTES of [A-Za-z0-9_-];
 *   - a date before 1970 or after 9999;
 *   - a body over LATCH_MAX_MAIL_BODY_BYTES, not valid UTF-8 (RFC 3629), or
 *     with a NUL, a lone CR or a control character other than tab.
 * The body's line ends may be LF or CRLF; they become CRLF.  A line longer
 * than LATCH_MAIL_MAX_LINE_BYTES (RFC 5322 section 2.1.1: 998) is wrapped
 * at its last space within the limit (the space becomes the line break),
 * else at the last UTF-8 character boundary: keep links shorter than that.
 * The body gets a final CRLF if it lacks one.  The body is sent as 8bit;
 * every relay of today announces 8BITMIME (RFC 6152), and latch's own texts
 * are ASCII.
 *
 * Pure functions; no logging.
 */
#ifndef LATCH_MAIL_MESSAGE_H
#define LATCH_MAIL_MESSAGE_H

#include "latch_limits.h"

#include <stddef.h>
#include <stdint.h>

struct message_fields {
    const char *from;       /* envelope and header sender, e.g. LATCH_MAIL_FROM */
    const char *to;
    const char *subject;
    const char *mail_id;    /* the outbox row's stable id */
    int64_t date_s;         /* Unix time for the Date header */
    const char *body;       /* body_len bytes of UTF-8 text, need not end in NUL */
    size_t body_len;
};

enum message_err {
    MESSAGE_OK = 0,
    MESSAGE_EADDRESS = -1,   /* from or to is not an address latch mails */
    MESSAGE_EHEADER = -2,    /* subject, mail id or date refused */
    MESSAGE_EBODY = -3,      /* body refused */
    MESSAGE_ENOMEM = -4,
};

const char *message_strerror(int err);

/* MESSAGE_OK when addr (NUL-terminated) is an address this module puts in a
 * header and smtp.c in an SMTP command, else MESSAGE_EADDRESS. */
int message_check_address(const char *addr);

/*
 * Formats m.  Returns MESSAGE_OK and sets *out (NUL-terminated, owned by the
 * caller: free()) and *out_len (at most LATCH_MAX_MAIL_MESSAGE_BYTES, the NUL
 * not counted); on failure *out and *out_len are untouched.
 */
int message_format(const struct message_fields *m, char **out, size_t *out_len);

#endif
