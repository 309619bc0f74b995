/*
 * latch_limits.h - every bound and timeout latch applies to its input, in one place.
 *
 * Each limit has a name, a unit in its name, and the status a client gets
 * when it is exceeded.  Configurable limits have their default here and their
 * environment variable in config.c.
 */
#ifndef LATCH_LIMITS_H
#define LATCH_LIMITS_H

/* HTTP request shape. */
#define LATCH_MAX_HEADER_BYTES       (8 * 1024)   /* sum of names + values -> 431 */
#define LATCH_MAX_HEADER_COUNT       100          /* -> 431 */
#define LATCH_MAX_URL_BYTES          2048         /* -> 414 */
#define LATCH_MAX_BODY_BYTES         (16 * 1024)  /* -> 413 */
/* A chunked body over the limit is read and dropped up to this many bytes so
 * that the client gets its 413; beyond it the connection is closed. */
#define LATCH_MAX_DISCARD_BYTES      (1024 * 1024)
#define LATCH_MAX_JSON_DEPTH         8            /* request bodies are flat objects -> 400 */

/*
 * The request line and header section, as received, must fit in this many
 * bytes (the connection's head buffer, src/http/server.c): a request line
 * that does not -> 414, a header section that does not -> 431.  It holds a
 * head whose fields are just under LATCH_MAX_HEADER_BYTES with room for the
 * request line and the separators.  A connection holds such a buffer only
 * while it reads or answers a request, never while it idles.
 */
#define LATCH_MAX_HEAD_BYTES         (16 * 1024)
/* A chunk-size line with its extensions, or one trailer line -> 400. */
#define LATCH_MAX_CHUNK_LINE_BYTES   1024
/* Query-string arguments a request's handlers can look up; later ones are
 * ignored (latch's routes read one or two). */
#define LATCH_MAX_QUERY_ARGS         32
/* Response header lines a handler adds, in bytes -> the response fails and
 * the client gets a 500. */
#define LATCH_MAX_RESPONSE_HEAD_BYTES (8 * 1024)

/* Connections. */
#define LATCH_DEFAULT_MAX_CONNECTIONS   16384
#define LATCH_DEFAULT_MAX_CONN_PER_IP   256
#define LATCH_DEFAULT_IDLE_TIMEOUT_S    60
/* A whole request head must arrive within this of the accept or of the end
 * of the previous response, however slowly it trickles (the idle timeout
 * restarts with every byte); 0 means "the idle timeout" -> closed. */
#define LATCH_DEFAULT_HEADER_TIMEOUT_S  0
/* A whole request body must arrive within this of its head -> closed. */
#define LATCH_DEFAULT_BODY_TIMEOUT_S    30
/* After an answer that closes the connection while the client may still
 * be sending (an unread body, a refused head), latch stops writing and
 * reads and drops what comes for at most this long or this many bytes
 * before it closes, so that the client reads the answer instead of a reset
 * (a lingering close). */
#define LATCH_LINGER_MS                 2000
#define LATCH_MAX_LINGER_BYTES          (64 * 1024)
/* Connections one HTTP thread accepts in a row before it serves the ones
 * it has (the other threads accept meanwhile). */
#define LATCH_ACCEPT_BATCH              32
/* Head buffers an HTTP thread keeps for reuse when connections go idle;
 * more are freed. */
#define LATCH_SPARE_HEAD_BUFFERS        64
/* Responses a thread keeps for reuse once they are sent; more are freed. */
#define LATCH_SPARE_RESPONSES           64
/* Out of file descriptors: an HTTP thread stops accepting for this long. */
#define LATCH_ACCEPT_PAUSE_MS           100
#define LATCH_SHUTDOWN_GRACE_S          10    /* in-flight requests finish within this */

/* Credentials. */
#define LATCH_MAX_EMAIL_BYTES        254          /* RFC 5321 path limit */
#define LATCH_MIN_PASSWORD_BYTES     8            /* NIST SP 800-63B */
#define LATCH_MAX_PASSWORD_BYTES     256
#define LATCH_MAX_ROLE_BYTES         32

/* Tokens. */
#define LATCH_MAX_TOKEN_BYTES        4096         /* a longer Bearer token is invalid */
#define LATCH_MAX_JWS_PART_BYTES     3072         /* decoded header or payload */
#define LATCH_MIN_SECRET_BYTES       32           /* HS256 key, RFC 7518 3.2 */
#define LATCH_MAX_SECRET_BYTES       1024
#define LATCH_GENERATED_SECRET_BYTES 64
#define LATCH_JTI_BYTES              16           /* 128 bits */

/* Password hashing defaults (OWASP minimum for Argon2id, p = 1). */
#define LATCH_DEFAULT_ARGON2_MEMORY_KIB  19456
#define LATCH_DEFAULT_ARGON2_ITERATIONS  2
#define LATCH_DEFAULT_HASH_QUEUE         64
#define LATCH_HASH_RETRY_AFTER_S         1
/* A hashing worker idle this long unmaps the Argon2 area it keeps. */
#define LATCH_HASH_AREA_IDLE_MS          250

/* Per-address request buckets held in memory at once (auth/ratelimit.h). */
#define LATCH_MAX_RATE_KEYS          100000

/* The Argon2 costs latch verifies at a login, and the most that
 * LATCH_ARGON2_MEMORY_KIB / LATCH_ARGON2_ITERATIONS may ask for: one bound
 * for both, so that every hash latch makes under a setting it accepts also
 * verifies (the settings used to allow more than a login accepted, which
 * made accounts nobody could log in to). */
#define LATCH_MAX_ARGON2_MEMORY_KIB         (256 * 1024)
#define LATCH_MAX_ARGON2_ITERATIONS         64

/* Hashes imported from other systems (latch user import): the costs latch
 * agrees to pay at a login, so that one imported hash cannot make a login
 * take minutes or gigabytes.  A hash above them is refused at import.  The
 * Argon2 ones are latch's own bounds: a hash latch made (and exported)
 * imports again. */
#define LATCH_MAX_IMPORT_ARGON2_MEMORY_KIB  LATCH_MAX_ARGON2_MEMORY_KIB
#define LATCH_MAX_IMPORT_ARGON2_ITERATIONS  LATCH_MAX_ARGON2_ITERATIONS
#define LATCH_MAX_IMPORT_ARGON2_LANES       16
#define LATCH_MAX_IMPORT_BCRYPT_COST        16
#define LATCH_MAX_IMPORT_PBKDF2_ITERATIONS  5000000
#define LATCH_MAX_IMPORT_HASH_BYTES         255   /* = STORE_MAX_HASH_BYTES */
/* One line of an import file. */
#define LATCH_MAX_IMPORT_LINE_BYTES         4096

/* Token lifetimes. */
#define LATCH_DEFAULT_ACCESS_TTL_S   900
#define LATCH_DEFAULT_LEEWAY_S       30

/* The LATCH_METRICS_LISTEN listener: a scraper or two, on loopback. */
#define LATCH_METRICS_MAX_CONNECTIONS   64
#define LATCH_METRICS_TIMEOUT_S         10    /* whole head / body of a scrape */
/* LATCH_METRICS_TOKEN, compared in constant time. */
#define LATCH_MAX_METRICS_TOKEN_BYTES   1024

/* Logs: a line is at most LOG_MAX_LINE_BYTES (util/log.h, PIPE_BUF); an
 * X-Request-Id longer than LOG_REQUEST_ID_MAX (64) is replaced. */

/* Second factor (issue 11): TOTP secrets, enrolment URIs and their QR codes. */
#define LATCH_MAX_TOTP_SECRET_BYTES      64     /* an HMAC key; latch makes 20 */
#define LATCH_MAX_TOTP_SECRET_B32_CHARS  103    /* base32 of 64 bytes, no padding */
#define LATCH_MAX_TOTP_ISSUER_BYTES      64     /* the issuer shown in the app */
#define LATCH_MAX_OTPAUTH_URI_BYTES      2048   /* with NUL; fits QR version 40-M (2331) */
#define LATCH_MAX_QR_TEXT_BYTES          2048   /* text given to qrsvg_render */
#define LATCH_MAX_QR_SVG_BYTES           (512 * 1024)   /* version 40: about 320 KiB */

/* Recovery codes: what is typed may carry dashes and spaces around the
 * 10 characters; longer input is refused before it is looked at. */
#define LATCH_MAX_RECOVERY_INPUT_BYTES   64

/* Mail (issue 11).  Lines: RFC 5322 section 2.1.1 (998 characters without
 * the CRLF).  The subject is not folded, so it stays well under a line. */
#define LATCH_MAIL_MAX_LINE_BYTES        998
#define LATCH_MAX_MAIL_SUBJECT_BYTES     200
#define LATCH_MAX_MAIL_ID_BYTES          64     /* the caller's id in the Message-ID */
#define LATCH_MAX_MAIL_BODY_BYTES        (64 * 1024)
/* A formatted message: headers plus a body whose every LF became CRLF. */
#define LATCH_MAX_MAIL_MESSAGE_BYTES     (2 * LATCH_MAX_MAIL_BODY_BYTES + 4096)
#define LATCH_SMTP_CONNECT_TIMEOUT_S     10
#define LATCH_SMTP_TIMEOUT_S             30     /* one whole SMTP exchange */
#define LATCH_MAX_SMTP_PASSWORD_BYTES    256
#define LATCH_MAX_SMTP_URL_BYTES         1024
/* LATCH_SMTP_CA_FILE plus the system bundle it is added to (Debian's is
 * about 200 KiB). */
#define LATCH_MAX_CA_BUNDLE_BYTES        (4 * 1024 * 1024)

/* Accounts (issue 11): email tokens, the outbox, the second factor. */
#define LATCH_VERIFY_TOKEN_TTL_S         86400  /* an email verification link: 24 h */
#define LATCH_RESET_TOKEN_TTL_S          1800   /* a password reset link: 30 min */
#define LATCH_NOTICE_MAIL_TTL_S          86400  /* "your password was changed": tried for a day */
/* Mails of one kind to one address: at most this many per window; more are
 * not sent (forgot-password, an unauthenticated verification request) or
 * answered 429 (an authenticated verification request). */
#define LATCH_MAIL_PER_ADDRESS           3
#define LATCH_MAIL_PER_ADDRESS_WINDOW_S  900
/* Background jobs of /password/forgot and unauthenticated verification
 * requests waiting for the mail worker; more answer 503 (whatever the
 * address). */
#define LATCH_MAIL_JOB_QUEUE             1024
#define LATCH_MFA_TOKEN_TTL_S            300    /* between the password and the code */
#define LATCH_MFA_MAX_FAILURES           5      /* wrong codes that end an mfa_token */
#define LATCH_MAX_CODE_INPUT_BYTES       16     /* a TOTP code as typed (6 digits, spaces) */
/* The outbox sender: rows claimed per round, how long a claim keeps other
 * instances off a row (longer than one SMTP exchange can take), the round
 * when nothing wakes it, and the backoff between attempts (doubling). */
#define LATCH_OUTBOX_BATCH               16
#define LATCH_OUTBOX_LEASE_S             (2 * (LATCH_SMTP_CONNECT_TIMEOUT_S + LATCH_SMTP_TIMEOUT_S))
#define LATCH_OUTBOX_POLL_MS             1000
#define LATCH_OUTBOX_BACKOFF_MIN_S       1
#define LATCH_OUTBOX_BACKOFF_MAX_S       300
/* A mail's link: public URL or template plus the token. */
#define LATCH_MAX_MAIL_LINK_BYTES        (1024 + 64)   /* CONFIG_MAX_STR + token */

/* Store. */
#define LATCH_STORE_BUSY_TIMEOUT_MS  5000
/* User rows /profile keeps in memory, and for how long: a change made by
 * another process shows within that even without a notification. */
#define LATCH_USER_CACHE_ENTRIES     16384
#define LATCH_USER_CACHE_TTL_MS      1000

/* Requests waiting for a database worker (PostgreSQL); more get 503. */
#define LATCH_STORE_QUEUE            1024

#endif
