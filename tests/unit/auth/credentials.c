/* Tests src/auth/credentials.c: email and password rules, the Bearer scheme. */
#include "test.h"

#include "auth/credentials.h"

/* Normalises in (NUL-terminated); returns 0 or -1 and sets *why. */
static int cred_email(const char *in, char out[LATCH_MAX_EMAIL_BYTES + 1], const char **why)
{
    *why = NULL;
    return credentials_normalize_email(in, strlen(in), out, why);
}

/* 1 when in is refused with a message. */
static int cred_email_refused(const char *in)
{
    char out[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why = NULL;

    return cred_email(in, out, &why) == -1 && why != NULL && why[0] != '\0';
}

TEST(cred_email_trims_and_lowercases)
{
    char out[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why;

    CHECK_INT(cred_email("Ada@Example.COM", out, &why), 0);
    CHECK_STR(out, "ada@example.com");
    CHECK_INT(cred_email("  ada@example.com\t\r\n", out, &why), 0);
    CHECK_STR(out, "ada@example.com");
    CHECK_INT(cred_email("\v\f ADA.LOVELACE+TAG@SUB.EXAMPLE.ORG ", out, &why), 0);
    CHECK_STR(out, "ada.lovelace+tag@sub.example.org");
    /* Only ASCII letters change; other bytes pass through. */
    CHECK_INT(cred_email("J\xC3\x9CRGEN@example.com", out, &why), 0);
    CHECK_STR(out, "j\xC3\x9Crgen@example.com");
}

TEST(cred_email_uses_len_not_nul)
{
    char out[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why = NULL;

    /* Only the first 13 bytes are the address. */
    CHECK_INT(credentials_normalize_email("a@example.comXYZ", 13, out, &why), 0);
    CHECK_STR(out, "a@example.com");
    /* A NUL inside the given length is a control character. */
    CHECK_INT(credentials_normalize_email("a@exa\0mple.com", 14, out, &why), -1);
    CHECK(why != NULL);
}

TEST(cred_email_length_limit_254_bytes)
{
    char in[LATCH_MAX_EMAIL_BYTES + 8], out[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why = NULL;
    size_t n;

    /* local part of 'a's, then "@example.com": exactly 254 bytes. */
    n = LATCH_MAX_EMAIL_BYTES;
    memset(in, 'a', n);
    memcpy(in + n - 12, "@example.com", 12);
    in[n] = '\0';
    CHECK_INT(cred_email(in, out, &why), 0);
    CHECK_INT(strlen(out), 254);
    /* 255 bytes. */
    memset(in, 'a', n + 1);
    memcpy(in + n + 1 - 12, "@example.com", 12);
    in[n + 1] = '\0';
    CHECK(cred_email_refused(in));
    /* 254 bytes with white space around it: the limit applies after trimming. */
    memset(in, 'a', n);
    memcpy(in + n - 12, "@example.com", 12);
    in[n] = '\0';
    memmove(in + 2, in, n + 1);
    in[0] = ' ';
    in[1] = '\t';
    in[n + 2] = ' ';
    in[n + 3] = '\0';
    CHECK_INT(credentials_normalize_email(in, n + 3, out, &why), 0);
    CHECK_INT(strlen(out), 254);
}

TEST(cred_email_exactly_one_at)
{
    CHECK(cred_email_refused("ada.example.com"));
    CHECK(cred_email_refused("ada@@example.com"));
    CHECK(cred_email_refused("a@b@example.com"));
    CHECK(cred_email_refused("@"));
}

TEST(cred_email_local_part_and_domain)
{
    char out[LATCH_MAX_EMAIL_BYTES + 1];
    const char *why;

    CHECK(cred_email_refused("@example.com"));
    CHECK(cred_email_refused("ada@"));
    CHECK(cred_email_refused("ada@localhost"));
    CHECK(cred_email_refused("ada@.com"));
    CHECK(cred_email_refused("ada@example."));
    CHECK(cred_email_refused("ada@."));
    CHECK_INT(cred_email("a@b.c", out, &why), 0);
    CHECK_STR(out, "a@b.c");
}

TEST(cred_email_no_spaces_or_control_chars)
{
    CHECK(cred_email_refused(""));
    CHECK(cred_email_refused("   \t "));
    CHECK(cred_email_refused("ada lovelace@example.com"));
    CHECK(cred_email_refused("ada@exam ple.com"));
    CHECK(cred_email_refused("ada\t@example.com"));
    CHECK(cred_email_refused("ada\n@example.com"));
    CHECK(cred_email_refused("ada@example.com\r\nBcc: x@example.com"));
    CHECK(cred_email_refused("ada\x01@example.com"));
    CHECK(cred_email_refused("ada\x1f@example.com"));
    CHECK(cred_email_refused("ada\x7f@example.com"));
}

TEST(cred_password_length_bounds_in_bytes)
{
    const char *why = NULL;

    CHECK_INT(credentials_check_password(0, &why), -1);
    CHECK(why != NULL);
    why = NULL;
    CHECK_INT(credentials_check_password(7, &why), -1);
    CHECK(why != NULL);
    CHECK_INT(credentials_check_password(8, &why), 0);
    CHECK_INT(credentials_check_password(256, &why), 0);
    why = NULL;
    CHECK_INT(credentials_check_password(257, &why), -1);
    CHECK(why != NULL);
    why = NULL;
    CHECK_INT(credentials_check_password((size_t)-1, &why), -1);
    CHECK(why != NULL);
}

/* Parses header; returns the result and copies the token into buf. */
static enum bearer_result cred_bearer(const char *header, char *buf, size_t size)
{
    const char *token = NULL;
    size_t len = 0;
    enum bearer_result r = credentials_parse_bearer(header, &token, &len);

    buf[0] = '\0';
    if (r == BEARER_OK && token != NULL && len < size) {
        memcpy(buf, token, len);
        buf[len] = '\0';
    }
    return r;
}

TEST(cred_bearer_ok_forms)
{
    char tok[64];

    CHECK_INT(cred_bearer("Bearer abc.def.ghi", tok, sizeof(tok)), BEARER_OK);
    CHECK_STR(tok, "abc.def.ghi");
    /* RFC 9110 11.1: the scheme is case-insensitive. */
    CHECK_INT(cred_bearer("bearer abc", tok, sizeof(tok)), BEARER_OK);
    CHECK_STR(tok, "abc");
    CHECK_INT(cred_bearer("BEARER abc", tok, sizeof(tok)), BEARER_OK);
    CHECK_INT(cred_bearer("bEaReR abc", tok, sizeof(tok)), BEARER_OK);
    /* More than one space, tabs, trailing white space. */
    CHECK_INT(cred_bearer("Bearer    abc", tok, sizeof(tok)), BEARER_OK);
    CHECK_STR(tok, "abc");
    CHECK_INT(cred_bearer("Bearer \t abc \t ", tok, sizeof(tok)), BEARER_OK);
    CHECK_STR(tok, "abc");
    CHECK_INT(cred_bearer("  Bearer abc", tok, sizeof(tok)), BEARER_OK);
    CHECK_STR(tok, "abc");
}

TEST(cred_bearer_token_points_into_header)
{
    const char *header = "Bearer xyz", *token = NULL;
    size_t len = 0;

    CHECK_INT(credentials_parse_bearer(header, &token, &len), BEARER_OK);
    CHECK(token == header + 7);
    CHECK_INT(len, 3);
}

TEST(cred_bearer_other_schemes_are_none)
{
    char tok[64];

    CHECK_INT(cred_bearer(NULL, tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Basic dXNlcjpwYXNz", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Token abc", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Bearerx abc", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Bearer:abc", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Beare abc", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("abc.def.ghi", tok, sizeof(tok)), BEARER_NONE);
    /* "Bearer" with no credential at all: nothing was sent (header comment). */
    CHECK_INT(cred_bearer("Bearer", tok, sizeof(tok)), BEARER_NONE);
    CHECK_INT(cred_bearer("Bearer   ", tok, sizeof(tok)), BEARER_NONE);
}

TEST(cred_bearer_malformed_credential)
{
    static char header[LATCH_MAX_TOKEN_BYTES + 16];
    char tok[64];
    const char *token = NULL;
    size_t len = 0;

    CHECK_INT(cred_bearer("Bearer abc def", tok, sizeof(tok)), BEARER_MALFORMED);
    CHECK_INT(cred_bearer("Bearer abc\tdef", tok, sizeof(tok)), BEARER_MALFORMED);
    CHECK_INT(cred_bearer("Bearer a b c", tok, sizeof(tok)), BEARER_MALFORMED);
    /* LATCH_MAX_TOKEN_BYTES is accepted, one more byte is not. */
    memcpy(header, "Bearer ", 7);
    memset(header + 7, 'a', LATCH_MAX_TOKEN_BYTES);
    header[7 + LATCH_MAX_TOKEN_BYTES] = '\0';
    CHECK_INT(credentials_parse_bearer(header, &token, &len), BEARER_OK);
    CHECK_INT(len, LATCH_MAX_TOKEN_BYTES);
    header[7 + LATCH_MAX_TOKEN_BYTES] = 'a';
    header[8 + LATCH_MAX_TOKEN_BYTES] = '\0';
    token = NULL;
    CHECK_INT(credentials_parse_bearer(header, &token, &len), BEARER_MALFORMED);
    CHECK(token == NULL);
}
