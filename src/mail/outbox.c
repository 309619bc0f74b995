#include "mail/outbox.h"

#include "mail/message.h"
#include "util/b64url.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- sealed bodies ---- */

int outbox_prepare(const unsigned char key[SEAL_KEY_BYTES], const char *to, const char *subject,
                   const char *body, int64_t expires_at, struct outbox_mail *out)
{
    unsigned char raw[18];
    char *plain;
    size_t subject_len = strlen(subject), body_len = strlen(body), len;
    int rc;

    if (subject_len > LATCH_MAX_MAIL_SUBJECT_BYTES || memchr(subject, '\n', subject_len) != NULL ||
        subject_len + 1 + body_len > OUTBOX_MAX_PLAIN_BYTES)
        return -1;
    memset(out, 0, sizeof(*out));
    /* 144 random bits: ids never collide, and say nothing of the user. */
    randombytes_buf(raw, sizeof(raw));
    out->id[0] = 'm';
    b64url_encode(out->id + 1, sizeof(out->id) - 1, raw, sizeof(raw));
    len = subject_len + 1 + body_len;
    plain = sodium_malloc(len);
    if (plain == NULL)
        return -1;
    memcpy(plain, subject, subject_len);
    plain[subject_len] = '\n';
    memcpy(plain + subject_len + 1, body, body_len);
    rc = seal(key, out->id, plain, len, out->sealed, sizeof(out->sealed), &out->sealed_len);
    sodium_free(plain);
    if (rc != SEAL_OK)
        return -1;
    out->row.id = out->id;
    out->row.recipient = to;
    out->row.sealed = out->sealed;
    out->row.sealed_len = out->sealed_len;
    out->row.expires_at = expires_at;
    return 0;
}

int outbox_open(const unsigned char key[SEAL_KEY_BYTES], const char *id,
                const unsigned char *sealed, size_t sealed_len, char *buf, size_t buf_size,
                const char **subject, const char **body)
{
    size_t len = 0;
    char *nl;

    if (buf_size < 2 || seal_open(key, id, sealed, sealed_len, buf, buf_size - 1, &len) !=
                            SEAL_OK)
        return -1;
    buf[len] = '\0';
    nl = memchr(buf, '\n', len);
    if (nl == NULL)
        return -1;
    *nl = '\0';
    *subject = buf;
    *body = nl + 1;
    return 0;
}

/* ---- counters ---- */

static uint64_t n_queued, n_sent, n_failed, n_expired;
static int64_t last_pending, last_oldest_age_s;

void outbox_note_queued(void)
{
    __atomic_add_fetch(&n_queued, 1, __ATOMIC_RELAXED);
}

void outbox_counters(struct outbox_counters *out)
{
    out->queued = __atomic_load_n(&n_queued, __ATOMIC_RELAXED);
    out->sent = __atomic_load_n(&n_sent, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&n_failed, __ATOMIC_RELAXED);
    out->expired = __atomic_load_n(&n_expired, __ATOMIC_RELAXED);
    out->pending = __atomic_load_n(&last_pending, __ATOMIC_RELAXED);
    out->oldest_age_s = __atomic_load_n(&last_oldest_age_s, __ATOMIC_RELAXED);
}

/* ---- the sender ---- */

struct outbox_sender {
    struct outbox_sender_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, woken;
    int ready;                        /* the first round is done */
};

/* Rows of one claim, copied out of the store's callback. */
struct claimed {
    int n;
    struct {
        char id[STORE_MAIL_ID_BYTES + 1];
        char to[LATCH_MAX_EMAIL_BYTES + 1];
        unsigned char sealed[OUTBOX_MAX_SEALED_BYTES];
        size_t sealed_len;
        int64_t attempts, created_at;
    } rows[LATCH_OUTBOX_BATCH];
};

static void collect(void *ctx, const struct store_outbox_row *row)
{
    struct claimed *c = ctx;

    if (c->n >= LATCH_OUTBOX_BATCH || row->sealed_len > sizeof(c->rows[0].sealed))
        return;   /* unclaimed in effect: its lease runs out and it comes back */
    snprintf(c->rows[c->n].id, sizeof(c->rows[0].id), "%s", row->id);
    snprintf(c->rows[c->n].to, sizeof(c->rows[0].to), "%s", row->recipient);
    memcpy(c->rows[c->n].sealed, row->sealed, row->sealed_len);
    c->rows[c->n].sealed_len = row->sealed_len;
    c->rows[c->n].attempts = row->attempts;
    c->rows[c->n].created_at = row->created_at;
    c->n++;
}

static int64_t backoff_s(int64_t attempts)
{
    int64_t d = LATCH_OUTBOX_BACKOFF_MIN_S;

    while (attempts-- > 0 && d < LATCH_OUTBOX_BACKOFF_MAX_S)
        d *= 2;
    return d < LATCH_OUTBOX_BACKOFF_MAX_S ? d : LATCH_OUTBOX_BACKOFF_MAX_S;
}

/* Sends one claimed row; returns 0 when the server took it. */
static int send_one(struct outbox_sender *s, const char *id, const char *to,
                    const unsigned char *sealed, size_t sealed_len, int64_t created_at,
                    char *why, size_t why_size)
{
    struct message_fields m;
    const char *subject = NULL, *body = NULL;
    char *plain, *formatted = NULL;
    size_t formatted_len = 0;
    int rc;

    plain = sodium_malloc(OUTBOX_MAX_PLAIN_BYTES + 1);
    if (plain == NULL) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    if (outbox_open(s->cfg.key, id, sealed, sealed_len, plain, OUTBOX_MAX_PLAIN_BYTES + 1,
                    &subject, &body) != 0) {
        snprintf(why, why_size, "the body does not open under the master key");
        sodium_free(plain);
        return -1;
    }
    memset(&m, 0, sizeof(m));
    m.from = s->cfg.smtp.from;
    m.to = to;
    m.subject = subject;
    m.mail_id = id;
    m.date_s = created_at;
    m.body = body;
    m.body_len = strlen(body);
    rc = message_format(&m, &formatted, &formatted_len);
    sodium_free(plain);
    if (rc != MESSAGE_OK) {
        snprintf(why, why_size, "formatting: %s", message_strerror(rc));
        return -1;
    }
    rc = smtp_send(&s->cfg.smtp, NULL, to, formatted, formatted_len, why, why_size);
    sodium_memzero(formatted, formatted_len);
    free(formatted);
    return rc == SMTP_OK ? 0 : -1;
}

/* One round: drop what expired, update the gauges, and send what is due. */
static void round_once(struct outbox_sender *s)
{
    struct store *store = s->cfg.store;
    struct claimed *c;
    int64_t now = (int64_t)time(NULL), dropped = 0, pending = 0, oldest = 0;
    char why[256];
    int i;

    if (STORE_CALL(store, outbox_expire, now, &dropped) == STORE_OK && dropped > 0) {
        __atomic_add_fetch(&n_expired, (uint64_t)dropped, __ATOMIC_RELAXED);
        log_event(LOG_WARN, "mail.expired", LOG_INT("count", dropped),
                  LOG_STR("why", "their links expired before they could be sent"));
    }
    if (STORE_CALL(store, outbox_stats, &pending, &oldest) == STORE_OK) {
        __atomic_store_n(&last_pending, pending, __ATOMIC_RELAXED);
        __atomic_store_n(&last_oldest_age_s, pending > 0 && oldest < now ? now - oldest : 0,
                         __ATOMIC_RELAXED);
    }
    if (s->cfg.smtp.url == NULL || s->cfg.smtp.url[0] == '\0' || pending == 0)
        return;
    c = sodium_malloc(sizeof(*c));
    if (c == NULL)
        return;
    c->n = 0;
    if (STORE_CALL(store, outbox_claim, now, now + LATCH_OUTBOX_LEASE_S, LATCH_OUTBOX_BATCH,
                   collect, c) != STORE_OK)
        c->n = 0;
    for (i = 0; i < c->n; i++) {
        why[0] = '\0';
        if (send_one(s, c->rows[i].id, c->rows[i].to, c->rows[i].sealed, c->rows[i].sealed_len,
                     c->rows[i].created_at, why, sizeof(why)) == 0) {
            (void)STORE_CALL(store, outbox_done, c->rows[i].id);
            __atomic_add_fetch(&n_sent, 1, __ATOMIC_RELAXED);
            log_event(LOG_INFO, "mail.sent", LOG_STR("id", c->rows[i].id),
                      LOG_INT("attempt", c->rows[i].attempts + 1));
        } else {
            int64_t next = (int64_t)time(NULL) + backoff_s(c->rows[i].attempts);
            (void)STORE_CALL(store, outbox_retry, c->rows[i].id, next);
            __atomic_add_fetch(&n_failed, 1, __ATOMIC_RELAXED);
            log_event(LOG_WARN, "mail.failed", LOG_STR("id", c->rows[i].id),
                      LOG_INT("attempt", c->rows[i].attempts + 1), LOG_STR("reason", why),
                      LOG_INT("retry_in_s", next - (int64_t)time(NULL)));
        }
    }
    sodium_free(c);
}

static void *sender_main(void *arg)
{
    struct outbox_sender *s = arg;
    struct timespec deadline;

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        s->woken = 0;
        pthread_mutex_unlock(&s->lock);
        round_once(s);
        pthread_mutex_lock(&s->lock);
        if (!s->ready) {
            s->ready = 1;
            pthread_cond_broadcast(&s->wake);
        }
        if (s->stop || s->woken)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += LATCH_OUTBOX_POLL_MS / 1000;
        deadline.tv_nsec += (long)(LATCH_OUTBOX_POLL_MS % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!s->stop && !s->woken &&
               pthread_cond_timedwait(&s->wake, &s->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int outbox_sender_start(struct outbox_sender **out, const struct outbox_sender_config *cfg)
{
    struct outbox_sender *s = calloc(1, sizeof(*s));
    pthread_condattr_t attr;

    if (s == NULL)
        return -1;
    s->cfg = *cfg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        return -1;
    }
    /* Until its first round is done (its store connection made, what
     * expired dropped): a server is fully up when it says it listens, and
     * holds no file it opens later on its own. */
    pthread_mutex_lock(&s->lock);
    while (!s->ready)
        pthread_cond_wait(&s->wake, &s->lock);
    pthread_mutex_unlock(&s->lock);
    *out = s;
    return 0;
}

void outbox_sender_wake(struct outbox_sender *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->woken = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void outbox_sender_stop(struct outbox_sender *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
