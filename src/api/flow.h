/*
 * flow.h - what the credential routes share (/login, /password, the email
 * and second-factor flows): the opening (per-address limit, the JSON body,
 * its string members), the per-account lockout reserved before any secret
 * is checked, and the per-address mail limit.
 */
#ifndef LATCH_API_FLOW_H
#define LATCH_API_FLOW_H

#include "api/app.h"
#include "http/server.h"

#include <jansson.h>
#include <stddef.h>

#define FLOW_MAX_FIELDS 4

/* The body's string members, in the order asked for. */
struct flow_fields {
    const char *value[FLOW_MAX_FIELDS];
    size_t len[FLOW_MAX_FIELDS];
};

/*
 * Takes one request from the client address's bucket (429), parses the
 * body as a JSON object (400) and reads the string members named by the
 * NULL-terminated list names (400 when one is missing or not a string; an
 * entry starting with '?' is optional: NULL when absent).  Returns the body
 * (the caller wipes secret members with flow_wipe and json_decref's it), or
 * NULL after answering.
 */
json_t *flow_open(struct app *app, struct http_request *req, const char *const *names,
                  struct flow_fields *out);

/* Wipes jansson's copy of a secret string member before the object goes. */
void flow_wipe(json_t *body, const char *name);

/* The lockout counter's key of an email as typed: normalised, or
 * "invalid:..." for what is not an address, so that an unknown account
 * counts exactly like a known one. */
void flow_lock_key(const char *raw, size_t len, char out[LATCH_MAX_EMAIL_BYTES + 1]);

/*
 * Reserves one guess against key's lockout before any password or code is
 * checked, so that parallel guesses cannot outrun the counter.  Returns 0,
 * or answers 429 (locked) or the store's error (fail closed) and returns -1.
 */
int flow_reserve_guess(struct app *app, struct http_request *req, const char *key);

/* The answer to a reservation made elsewhere (login_lookup): rc and
 * retry_after_s as the store gave them; 0, or answered and -1, as above. */
int flow_reservation_answer(struct http_request *req, const char *key, int rc,
                            int64_t retry_after_s);

/* 429 "Too many attempts, try again later" with Retry-After. */
void flow_reply_locked(struct http_request *req, int64_t retry_after_s);

/*
 * Takes one mail of kind ("verify", "reset") to address from its
 * per-address allowance (LATCH_MAIL_PER_ADDRESS per
 * LATCH_MAIL_PER_ADDRESS_WINDOW_S, counted in the store so that every
 * instance shares it).  Returns 0 when allowed, 1 when over the limit (with
 * *retry_after_s), or a store error.
 */
int flow_mail_allowance(struct app *app, const char *kind, const char *address,
                        int64_t *retry_after_s);

#endif
