/* Tests src/util/log.c: the line formats (JSON and text), escaping of any
 * bytes a client could send, lines cut to their bound staying whole, and a
 * thread's held lines (log_hold) written whole, in order, when they must. */
#include "test.h"

#include "util/log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

/* 2026-11-29T00:17:17.123Z */
#define TS_MS 1795911437123LL

static json_t *parse_line(const char *line, size_t len)
{
    json_error_t e;

    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL)
        return NULL;
    return json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, &e);
}

TEST(log_json_has_ts_level_msg_request_id_and_fields)
{
    char line[LOG_MAX_LINE_BYTES];
    const struct log_field f[] = {LOG_STR("reason", "unknown_email"), LOG_INT("user_id", 12),
                                  LOG_BOOL("password", 1), LOG_NONE, LOG_STR("absent", NULL)};
    size_t n = log_format_line(line, sizeof(line), LOG_FORMAT_JSON, TS_MS, LOG_INFO, "rid-1",
                               "login.failure", f, 5);
    json_t *j = parse_line(line, n);

    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "ts")), "2026-11-29T00:17:17.123Z");
    CHECK_STR(json_string_value(json_object_get(j, "level")), "info");
    CHECK_STR(json_string_value(json_object_get(j, "msg")), "login.failure");
    CHECK_STR(json_string_value(json_object_get(j, "request_id")), "rid-1");
    CHECK_STR(json_string_value(json_object_get(j, "reason")), "unknown_email");
    CHECK_INT(json_integer_value(json_object_get(j, "user_id")), 12);
    CHECK(json_is_true(json_object_get(j, "password")));
    CHECK_INT(json_object_size(j), 7);
    json_decref(j);
}

TEST(log_json_escapes_controls_quotes_and_bad_utf8)
{
    char line[LOG_MAX_LINE_BYTES];
    const char *nasty = "a\"b\\c\nd\x01\x7f \xc3\xa9 \xff\xc0\xaf \xed\xa0\x80";
    const struct log_field f[] = {LOG_STR("path", nasty)};
    size_t n = log_format_line(line, sizeof(line), LOG_FORMAT_JSON, TS_MS, LOG_WARN, NULL,
                               "m\r\n", f, 1);
    json_t *j = parse_line(line, n);

    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "level")), "warn");
    CHECK_STR(json_string_value(json_object_get(j, "msg")), "m\r\n");
    /* Valid UTF-8 kept, invalid bytes (0xff, an overlong, a surrogate) replaced. */
    CHECK_STR(json_string_value(json_object_get(j, "path")),
              "a\"b\\c\nd\x01\x7f \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(json_object_get(j, "request_id") == NULL);
    json_decref(j);
}

TEST(log_json_cut_line_stays_valid)
{
    char big[LOG_MAX_LINE_BYTES * 2], line[LOG_MAX_LINE_BYTES];
    size_t n, i;
    json_t *j;

    /* Quotes double in size when escaped: the cut may fall anywhere. */
    for (i = 0; i + 1 < sizeof(big); i++)
        big[i] = i % 3 == 0 ? '"' : 'x';
    big[sizeof(big) - 1] = '\0';
    {
        const struct log_field f[] = {LOG_STR("a", big), LOG_INT("after", 1)};
        n = log_format_line(line, sizeof(line), LOG_FORMAT_JSON, TS_MS, LOG_ERROR, "r", big, f,
                            2);
    }
    CHECK(n <= sizeof(line));
    j = parse_line(line, n);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
    for (i = 100; i < 400; i += 7) {
        char small[400];
        const struct log_field f[] = {LOG_STR("k", big + 1), LOG_INT("n", 5)};
        size_t m = log_format_line(small, i, LOG_FORMAT_JSON, TS_MS, LOG_INFO, "r", "msg", f, 2);
        j = parse_line(small, m);
        CHECK(m <= i);
        CHECK(j != NULL);
        json_decref(j);
    }
}

TEST(log_text_is_readable_and_quotes_what_needs_it)
{
    char line[LOG_MAX_LINE_BYTES];
    const struct log_field f[] = {LOG_STR("method", "GET"), LOG_STR("path", "/a b"),
                                  LOG_INT("status", 200), LOG_STR("evil", "x\ny=\"1\"")};
    size_t n = log_format_line(line, sizeof(line), LOG_FORMAT_TEXT, TS_MS, LOG_INFO, "rid",
                               "http.request", f, 4);

    line[n] = '\0';
    CHECK_STR(line, "latch: http.request method=GET path=\"/a b\" status=200 "
                    "evil=\"x\\x0ay=\\\"1\\\"\" request_id=rid\n");
    n = log_format_line(line, sizeof(line), LOG_FORMAT_TEXT, TS_MS, LOG_WARN, NULL,
                        "disk \"full\"\n", NULL, 0);
    line[n] = '\0';
    CHECK_STR(line, "latch: warning: disk \"full\"\\x0a\n");
}

TEST(log_request_id_is_per_thread_and_bounded)
{
    char long_id[LOG_REQUEST_ID_MAX + 20];

    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    log_set_request_id(long_id);
    CHECK_INT((int64_t)strlen(log_request_id()), LOG_REQUEST_ID_MAX);
    log_set_request_id("abc");
    CHECK_STR(log_request_id(), "abc");
    log_set_request_id(NULL);
    CHECK_STR(log_request_id(), "");
}

/* What the pipe holds now, as a string (the read end is non-blocking). */
static size_t drain(int fd, char *out, size_t size)
{
    size_t len = 0;
    ssize_t r;

    while (len + 1 < size && (r = read(fd, out + len, size - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    return len;
}

TEST(log_hold_writes_held_lines_whole_and_in_order_when_it_must)
{
    static char got[8 * LOG_MAX_LINE_BYTES], want[8 * LOG_MAX_LINE_BYTES];
    char pad[301], line[400];
    enum log_format format = log_get_format();
    size_t wlen = 0, first;
    int p[2], saved, i;

    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 16);
    saved = dup(STDERR_FILENO);
    CHECK(saved >= 0 && dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
    log_set_format(LOG_FORMAT_TEXT);

    /* Held: nothing goes out until the flush, then both lines in order. */
    log_hold(1);
    log_info("one");
    log_info("two");
    CHECK_INT((int64_t)drain(p[0], got, sizeof(got)), 0);
    log_flush();
    drain(p[0], got, sizeof(got));
    CHECK_STR(got, "latch: one\nlatch: two\n");
    log_flush();                                    /* nothing held: nothing written */
    CHECK_INT((int64_t)drain(p[0], got, sizeof(got)), 0);

    /* A warning goes out at once, after the lines held before it. */
    log_info("three");
    log_warn("four");
    drain(p[0], got, sizeof(got));
    CHECK_STR(got, "latch: three\nlatch: warning: four\n");

    /* More than the buffer holds: the earlier lines go out whole when the
     * next would not fit, the rest at the flush, all in order. */
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (i = 0; i < 40; i++) {
        log_info("line %02d %s", i, pad);
        wlen += (size_t)snprintf(line, sizeof(line), "latch: line %02d %s\n", i, pad);
        strcat(want, line);
    }
    first = drain(p[0], got, sizeof(got));
    CHECK(first > 0 && first <= LOG_MAX_LINE_BYTES * 3 && got[first - 1] == '\n');
    CHECK(strncmp(got, want, first) == 0);
    log_flush();
    CHECK_INT((int64_t)(first + drain(p[0], got + first, sizeof(got) - first)), (int64_t)wlen);
    CHECK_STR(got, want);

    /* log_hold(0) writes what is held, and lines then go out one by one. */
    log_info("five");
    log_hold(0);
    drain(p[0], got, sizeof(got));
    CHECK_STR(got, "latch: five\n");
    log_info("six");
    drain(p[0], got, sizeof(got));
    CHECK_STR(got, "latch: six\n");

    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[0]);
    close(p[1]);
    log_set_format(format);
}
