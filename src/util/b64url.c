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
    size_t len = 0;

    /*
     * With b64_end == NULL libsodium refuses input it did not consume in
     * full, and it refuses a final quantum whose unused bits are not zero:
     * that makes the decoding canonical.
     */
    if (src_len == 0) {
        *out_len = 0;
        return 0;
    }
    if (sodium_base642bin(dst, dst_size, src, src_len, NULL, &len, NULL, VARIANT) != 0)
        return -1;
    *out_len = len;
    return 0;
}
