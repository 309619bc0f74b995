/*
 * outbox.h - mail that must not be lost: sealed rows in the store's outbox,
 * written in the same transaction as the token a mail carries, and the
 * sender thread that delivers them.
 *
 * A row's body is the subject and the text, sealed under the master key
 * (XChaCha20-Poly1305, auth/seal.h) with the row's id as associated data:
 * the store never holds a usable link in clear, and a body moved to another
 * row does not open.  The row goes once the mail is sent, or when the token
 * it carries expires (expires_at): a mail is never sent with a dead link.
 *
 * The sender (one thread per process; on PostgreSQL every instance runs
 * one) claims due rows under a lease (store outbox_claim: SKIP LOCKED on
 * PostgreSQL, so two instances never send one row at once), formats each
 * (mail/message.h, the row id in the Message-ID so a retry is recognisable
 * as the same mail), sends it (mail/smtp.h), deletes it on success, and on
 * failure counts the attempt and retries after a doubling backoff
 * (LATCH_OUTBOX_BACKOFF_MIN_S .. _MAX_S).  It wakes when this process
 * queues a mail (outbox_sender_wake) and otherwise every
 * LATCH_OUTBOX_POLL_MS, so mail queued by another instance or before a
 * restart goes out too.  Without an SMTP URL it sends nothing: mail waits
 * (latch mail list shows it) and expires.
 *
 * The sender logs what it did (mail.sent, mail.failed, mail.expired) with
 * the row id and the attempt, never a body, link or token.
 */
#ifndef LATCH_MAIL_OUTBOX_H
#define LATCH_MAIL_OUTBOX_H

#include "auth/seal.h"
#include "mail/smtp.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* A sealed body: subject, LF, text, plus the seal's overhead. */
#define OUTBOX_MAX_PLAIN_BYTES (LATCH_MAX_MAIL_SUBJECT_BYTES + 1 + 8192)
#define OUTBOX_MAX_SEALED_BYTES (OUTBOX_MAX_PLAIN_BYTES + SEAL_OVERHEAD)

/* A mail ready for the store: a fresh id and the sealed body. */
struct outbox_mail {
    char id[STORE_MAIL_ID_BYTES + 1];
    unsigned char sealed[OUTBOX_MAX_SEALED_BYTES];
    size_t sealed_len;
    struct store_mail row;            /* points into this struct */
};

/* Seals subject and body for to, dropped unsent after expires_at.  Returns
 * 0, or -1 when they are too long.  The caller wipes *out after use. */
int outbox_prepare(const unsigned char key[SEAL_KEY_BYTES], const char *to, const char *subject,
                   const char *body, int64_t expires_at, struct outbox_mail *out);

/* Opens a row's sealed body into buf (NUL-terminated) and points *subject
 * and *body into it.  Returns 0, or -1 when it does not open under key. */
int outbox_open(const unsigned char key[SEAL_KEY_BYTES], const char *id,
                const unsigned char *sealed, size_t sealed_len, char *buf, size_t buf_size,
                const char **subject, const char **body);

/* Counters for /metrics (this process). */
struct outbox_counters {
    uint64_t queued, sent, failed, expired;
    int64_t pending;                  /* rows in the outbox at the last round */
    int64_t oldest_age_s;             /* age of the oldest of them (0: none) */
};
void outbox_counters(struct outbox_counters *out);
/* A mail was queued by this process (counts it). */
void outbox_note_queued(void);

struct outbox_sender;

struct outbox_sender_config {
    struct store *store;
    const unsigned char *key;         /* the master key; borrowed */
    struct smtp_config smtp;          /* url NULL or "": nothing is sent */
};

/* Starts the sender thread and waits for its first round.  Returns 0, or
 * -1. */
int outbox_sender_start(struct outbox_sender **out, const struct outbox_sender_config *cfg);
/* A mail was queued here: look now.  NULL is ignored. */
void outbox_sender_wake(struct outbox_sender *s);
/* Finishes the send in progress (if any) and stops; NULL is ignored. */
void outbox_sender_stop(struct outbox_sender *s);

#endif
