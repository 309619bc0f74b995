#include "auth/opaque.h"

#include "util/b64url.h"

#include <sodium.h>
#include <string.h>

static void finish(struct opaque_token *t)
{
    b64url_encode(t->text, sizeof(t->text), t->raw, sizeof(t->raw));
    crypto_hash_sha256(t->digest, t->raw, sizeof(t->raw));
}

void opaque_new(struct opaque_token *out)
{
    randombytes_buf(out->raw, sizeof(out->raw));
    finish(out);
}

int opaque_parse(const char *text, size_t len, struct opaque_token *out)
{
    size_t n = 0;

    if (len != OPAQUE_TEXT_BYTES)
        return -1;
    if (b64url_decode(out->raw, sizeof(out->raw), &n, text, len) != 0 || n != OPAQUE_RAW_BYTES)
        return -1;
    finish(out);
    return 0;
}

void opaque_successor(const unsigned char key[OPAQUE_KEY_BYTES], const struct opaque_token *token,
                      struct opaque_token *out)
{
    crypto_auth_hmacsha256(out->raw, token->raw, sizeof(token->raw), key);
    finish(out);
}

void opaque_new_sid(char out[SID_TEXT_BYTES + 1])
{
    unsigned char raw[16];

    randombytes_buf(raw, sizeof(raw));
    b64url_encode(out, SID_TEXT_BYTES + 1, raw, sizeof(raw));
}

int opaque_find_cookie(const char *header, const char *name, const char **value, size_t *len)
{
    size_t name_len = strlen(name);
    const char *p = header;

    if (header == NULL)
        return 0;
    while (*p != '\0') {
        const char *end;

        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > name_len && strncmp(p, name, name_len) == 0 &&
            p[name_len] == '=') {
            const char *v = p + name_len + 1;
            size_t n = (size_t)(end - v);
            while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            /* A quoted value (RFC 6265 cookie-value allows DQUOTEs). */
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                v++;
                n -= 2;
            }
            *value = v;
            *len = n;
            return 1;
        }
        p = end;
    }
    return 0;
}
