#include "util/b64url.h"

#include <sodium.h>

#define VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

size_t b64url_encoded_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, VARIANT) - 1;
}

size_t b64url_encode(char *dst, size_t dst_size, const unsigned char *src, size_t n)
{
    size_t need = b64url_encoded_len(n);

    if (dst_size < need + 1)
        return 0;
    sodium_bin2base64(dst, dst_size, src, n, VARIANT);
    return need;
}

int b64url_decode(unsigned char *dst, size_t dst_size, size_t *out_len,
                  const char *src, size_t src_len)
{
    size_t len = 0, i;

    if (src_len == 0) {
        *out_len = 0;
        return 0;
    }
    /* libsodium 1.0.18 reads bytes >= 0x80 as '_' (a signed-char compare in
     * its constant-time lookup): check the alphabet first. */
    for (i = 0; i < src_len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return -1;
    }
    /* With b64_end == NULL libsodium refuses input it did not consume in
     * full, and a final quantum whose unused bits are not zero: together
     * with the alphabet check that makes the decoding canonical. */
    if (sodium_base642bin(dst, dst_size, src, src_len, NULL, &len, NULL, VARIANT) != 0)
        return -1;
    *out_len = len;
    return 0;
}
