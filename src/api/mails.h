/*
 * mails.h - the mails latch writes (verify an address, reset a password,
 * "your password was changed"): their texts, their links, and sealing them
 * for the outbox.
 *
 * A link is LATCH_VERIFY_URL / LATCH_RESET_URL with every {token} replaced,
 * or by default <LATCH_PUBLIC_URL>/verify-email#token=<token> and
 * <LATCH_PUBLIC_URL>/reset#token=<token>: in the fragment, the token never
 * reaches a server's logs or a Referer (RFC 3986 section 3.5: the fragment
 * is not sent).  The token appears in the link and nowhere else in the
 * mail; the texts are plain ASCII.
 */
#ifndef LATCH_API_MAILS_H
#define LATCH_API_MAILS_H

#include "api/app.h"
#include "mail/outbox.h"

enum mails_kind {
    MAILS_VERIFY,              /* token: the verification token */
    MAILS_RESET,               /* token: the reset token */
    MAILS_PASSWORD_CHANGED,    /* token: NULL */
};

/* The link of kind for token into out (NUL-terminated).  Returns 0, or -1
 * when it does not fit. */
int mails_link(const struct config *cfg, enum mails_kind kind, const char *token, char *out,
               size_t size);

/* Writes and seals the mail of kind to `to` (expires_at: when its token
 * dies) into *out (wiped by the caller with mails_wipe).  Returns 0, or -1
 * (no master key, or too long). */
int mails_build(struct app *app, enum mails_kind kind, const char *to, const char *token,
                int64_t expires_at, struct outbox_mail *out);
void mails_wipe(struct outbox_mail *m);

/* A mail was committed to the outbox: counts it and wakes the sender. */
void mails_queued(struct app *app);

/*
 * Issues a token of kind (MAILS_VERIFY or MAILS_RESET) for user and queues
 * its mail in one store transaction.  Returns the store's answer.
 */
int mails_issue(struct app *app, enum mails_kind kind, const struct store_user *user);

/*
 * The unauthenticated requests (/password/forgot, /email/verify/request
 * with an email): queues a job that looks email up, applies the
 * per-address mail allowance and issues the mail if there is an account to
 * send it to; the request path does no store I/O, so its answer and its
 * timing are the same whether the address has an account or not.  Returns
 * 0, or -1 when the job queue is full.
 */
int mails_request_in_background(struct app *app, enum mails_kind kind, const char *email);

#endif
