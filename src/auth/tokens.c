#include "auth/tokens.h"

#include "util/b64url.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tokens_strerror(int err)
{
    switch (err) {
    case TOKENS_OK: return "ok";
    case TOKENS_EJWS: return "bad token";
    case TOKENS_ECLAIMS: return "missing or malformed claim";
    case TOKENS_EEXPIRED: return "expired";
    case TOKENS_ENOTYET: return "not yet valid";
    case TOKENS_EISSUER: return "wrong issuer";
    case TOKENS_ENOMEM: return "out of memory";
    case TOKENS_ELIFETIME: return "lifetime longer than the access token TTL";
    default: return "unknown error";
    }
}

/* The amr claim (RFC 8176 section 2): the space-separated methods as an
 * array of strings. */
static int add_amr(json_t *claims, const char *amr)
{
    json_t *list = json_array();
    const char *p = amr;
    size_t n;

    if (list == NULL)
        return -1;
    while (*p != '\0') {
        n = strcspn(p, " ");
        if (n > 0 && json_array_append_new(list, json_stringn(p, n)) != 0) {
            json_decref(list);
            return -1;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return json_object_set_new(claims, "amr", list);
}

int tokens_issue(const struct jws_key *key, const struct tokens_policy *policy,
                 const struct token_subject *subject, int64_t now,
                 char *out, size_t out_size, size_t *out_len)
{
    unsigned char jti_raw[LATCH_JTI_BYTES];
    char jti[64], sub[32];
    json_t *claims;
    char *payload;
    int rc = TOKENS_ENOMEM;

    randombytes_buf(jti_raw, sizeof(jti_raw));
    b64url_encode(jti, sizeof(jti), jti_raw, sizeof(jti_raw));
    snprintf(sub, sizeof(sub), "%lld", (long long)subject->user_id);

    claims = json_object();
    if (claims == NULL)
        return TOKENS_ENOMEM;
    if (json_object_set_new(claims, "sub", json_string(sub)) != 0 ||
        json_object_set_new(claims, "userId", json_integer(subject->user_id)) != 0 ||
        json_object_set_new(claims, "email", json_string(subject->email)) != 0 ||
        json_object_set_new(claims, "role", json_string(subject->role)) != 0 ||
        json_object_set_new(claims, "iat", json_integer(now)) != 0 ||
        json_object_set_new(claims, "exp", json_integer(now + policy->access_ttl_s)) != 0 ||
        json_object_set_new(claims, "jti", json_string(jti)) != 0 ||
        json_object_set_new(claims, "iss", json_string(policy->issuer)) != 0 ||
        json_object_set_new(claims, "email_verified", json_boolean(subject->email_verified)) !=
            0 ||
        (subject->sid != NULL && json_object_set_new(claims, "sid", json_string(subject->sid)) != 0))
        goto cleanup;
    if (subject->amr != NULL && strcmp(subject->amr, "pwd") != 0 &&
        add_amr(claims, subject->amr) != 0)
        goto cleanup;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (payload == NULL)
        goto cleanup;
    rc = jws_sign(key, payload, strlen(payload), out, out_size, out_len) == JWS_OK
             ? TOKENS_OK
             : TOKENS_ENOMEM;
    free(payload);
cleanup:
    json_decref(claims);
    return rc;
}

/* A NumericDate (RFC 7519 section 2): a JSON number of seconds. */
static int numeric_date(json_t *payload, const char *name, int required, int64_t *out)
{
    json_t *v = json_object_get(payload, name);
    double d;

    if (v == NULL)
        return required ? -1 : 1;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_real(v))
        return -1;
    d = json_real_value(v);
    if (!isfinite(d) || d < -9.0e15 || d > 9.0e15)
        return -1;
    *out = (int64_t)floor(d);
    return 0;
}

/*
 * Whether UTF-8 text holds a character that must never reach a header, a log
 * line or a terminal: C0 controls, DEL, C1 controls (U+0080-U+009F), the line
 * and paragraph separators U+2028/U+2029, and the bidi controls (U+061C,
 * U+200E/U+200F, U+202A-U+202E, U+2066-U+2069).  jansson has already checked
 * that the text is valid UTF-8.
 */
static int has_unsafe_char(const unsigned char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c < 0x20 || c == 0x7f)
            return 1;
        if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return 1;
        if (c == 0xd8 && i + 1 < len && p[i + 1] == 0x9c)
            return 1;
        if (c == 0xe2 && i + 2 < len && p[i + 1] == 0x80 &&
            (p[i + 2] == 0x8e || p[i + 2] == 0x8f || p[i + 2] == 0xa8 || p[i + 2] == 0xa9 ||
             (p[i + 2] >= 0xaa && p[i + 2] <= 0xae)))
            return 1;
        if (c == 0xe2 && i + 2 < len && p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)
            return 1;
    }
    return 0;
}

static int copy_string(json_t *payload, const char *name, int required, char *dst,
                       size_t dst_size)
{
    json_t *v = json_object_get(payload, name);
    size_t len;

    if (v == NULL) {
        dst[0] = '\0';
        return required ? -1 : 0;
    }
    if (!json_is_string(v))
        return -1;
    len = json_string_length(v);
    if (len >= dst_size || memchr(json_string_value(v), '\0', len) != NULL)
        return -1;
    memcpy(dst, json_string_value(v), len + 1);
    return 0;
}

int tokens_check_claims(json_t *payload, const struct tokens_policy *policy, int64_t now,
                        struct token_claims *out)
{
    struct token_claims c;
    json_t *v;
    const char *sub;
    char expected_sub[32];
    int64_t nbf = 0;
    int rc;

    memset(&c, 0, sizeof(c));

    v = json_object_get(payload, "iss");
    if (!json_is_string(v))
        return TOKENS_ECLAIMS;
    if (strcmp(json_string_value(v), policy->issuer) != 0)
        return TOKENS_EISSUER;

    if (numeric_date(payload, "exp", 1, &c.exp) != 0 ||
        numeric_date(payload, "iat", 1, &c.iat) != 0)
        return TOKENS_ECLAIMS;
    rc = numeric_date(payload, "nbf", 0, &nbf);
    if (rc < 0)
        return TOKENS_ECLAIMS;
    /* RFC 7519 4.1.4: the current time must be before exp. */
    /* Written as now - leeway so a huge exp cannot overflow. */
    if (now - policy->leeway_s >= c.exp)
        return TOKENS_EEXPIRED;
    if (rc == 0 && nbf > now + policy->leeway_s)
        return TOKENS_ENOTYET;
    if (c.iat > now + policy->leeway_s)
        return TOKENS_ENOTYET;
    /* exp > now - leeway here, so exp - (TTL + leeway) cannot overflow. */
    if (c.iat < c.exp - (policy->access_ttl_s + policy->leeway_s))
        return TOKENS_ELIFETIME;

    v = json_object_get(payload, "userId");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return TOKENS_ECLAIMS;
    c.user_id = (int64_t)json_integer_value(v);
    v = json_object_get(payload, "sub");
    if (!json_is_string(v))
        return TOKENS_ECLAIMS;
    sub = json_string_value(v);
    snprintf(expected_sub, sizeof(expected_sub), "%lld", (long long)c.user_id);
    if (strcmp(sub, expected_sub) != 0)
        return TOKENS_ECLAIMS;

    if (copy_string(payload, "role", 1, c.role, sizeof(c.role)) != 0 || c.role[0] == '\0' ||
        copy_string(payload, "email", 0, c.email, sizeof(c.email)) != 0 ||
        copy_string(payload, "jti", 0, c.jti, sizeof(c.jti)) != 0 ||
        copy_string(payload, "sid", 0, c.sid, sizeof(c.sid)) != 0)
        return TOKENS_ECLAIMS;
    v = json_object_get(payload, "email_verified");
    if (v != NULL && !json_is_boolean(v))
        return TOKENS_ECLAIMS;
    c.email_verified = json_is_true(v);
    if (has_unsafe_char((const unsigned char *)c.role, strlen(c.role)) ||
        has_unsafe_char((const unsigned char *)c.email, strlen(c.email)))
        return TOKENS_ECLAIMS;

    *out = c;
    return TOKENS_OK;
}

int tokens_verify(const char *token, size_t token_len, jws_key_lookup_fn lookup,
                  void *lookup_ctx, const struct tokens_policy *policy, int64_t now,
                  struct token_claims *out)
{
    json_t *payload = NULL;
    int rc;

    if (jws_verify(token, token_len, lookup, lookup_ctx, &payload) != JWS_OK)
        return TOKENS_EJWS;
    rc = tokens_check_claims(payload, policy, now, out);
    json_decref(payload);
    return rc;
}
