/*
 * fuzz_body - the JSON request bodies of the endpoints (POST /register and
 * POST /login in src/api/auth.c).
 *
 * src/api/body.c takes a struct http_request and answers errors itself, so it
 * cannot run without the HTTP layer.  This target makes the same calls it
 * makes on the body bytes - json_loadb() with JSON_REJECT_DUPLICATES, "must
 * be an object", the string members "email" and "password" - followed by
 * what the handlers do with them: credentials_normalize_email(),
 * credentials_check_password(), login's early length check, and the wipe of
 * jansson's copy of the password.  Keep it in step with body.c and auth.c.
 *
 * The parsed object must also survive json_dumps() and a re-parse unchanged,
 * as replies are built with the same library.
 */
#include "fuzz.h"

#include "auth/credentials.h"
#include "latch_limits.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

/* body_string(): a present, string-typed member, or NULL. */
static const char *body_string(json_t *obj, const char *name, size_t *len)
{
    json_t *v = json_object_get(obj, name);

    if (v == NULL || !json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static void handle_register(json_t *body)
{
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *raw_email, *password, *why = NULL;
    size_t email_len = 0, password_len = 0;

    raw_email = body_string(body, "email", &email_len);
    if (raw_email == NULL)
        return;
    password = body_string(body, "password", &password_len);
    if (password == NULL)
        return;
    if (credentials_normalize_email(raw_email, email_len, email, &why) != 0 ||
        credentials_check_password(password_len, &why) != 0) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(strlen(email) <= LATCH_MAX_EMAIL_BYTES);
    FUZZ_CHECK(password_len >= LATCH_MIN_PASSWORD_BYTES &&
               password_len <= LATCH_MAX_PASSWORD_BYTES);
}

static void handle_login(json_t *body)
{
    char email[LATCH_MAX_EMAIL_BYTES + 1];
    const char *raw_email, *password, *why = NULL;
    size_t email_len = 0, password_len = 0;

    raw_email = body_string(body, "email", &email_len);
    if (raw_email == NULL)
        return;
    password = body_string(body, "password", &password_len);
    if (password == NULL)
        return;
    if (email_len > LATCH_MAX_EMAIL_BYTES + 64 || password_len > LATCH_MAX_PASSWORD_BYTES)
        return;
    if (credentials_normalize_email(raw_email, email_len, email, &why) != 0)
        email[0] = '\0';
    FUZZ_CHECK(strlen(email) <= LATCH_MAX_EMAIL_BYTES);
}

/* The handlers' cleanup: wipe jansson's copy of the password in place. */
static void wipe_password(json_t *body)
{
    json_t *v = json_object_get(body, "password");

    if (json_is_string(v)) {
        size_t len = json_string_length(v);
        sodium_memzero((void *)json_string_value(v), len);
        FUZZ_CHECK(len == 0 || json_string_value(v)[len - 1] == '\0');
    }
}

static void check_round_trip(json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *again;

    FUZZ_CHECK(text != NULL);
    again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (again == NULL || !json_equal(body, again)) {
        FUZZ_FAIL("JSON does not survive dump and re-parse: %.200s", text);
    }
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body;

    /* body_object(): an empty body is refused before jansson sees it. */
    if (size == 0)
        return 0;
    body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL)
        return 0;
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    check_round_trip(body);
    handle_register(body);
    handle_login(body);
    wipe_password(body);
    json_decref(body);
    return 0;
}
