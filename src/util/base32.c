#include "util/base32.h"

#include <stdint.h>

/* All-ones when a < b, else 0 (a, b < 2^31). */
static unsigned lt_mask(unsigned a, unsigned b)
{
    return 0u - ((a - b) >> 31);
}

/* 0..25 -> 'A'..'Z', 26..31 -> '2'..'7', without a branch or table lookup
 * on the value. */
static char encode_char(unsigned v)
{
    unsigned c = 'A' + v;

    c += lt_mask(25u, v) & (unsigned)('2' - 'A' - 26);
    return (char)(c & 0xff);
}

/* The value 0..31 of c, or UINT_MAX when c is not in the alphabet (either
 * case).  Each range adds its value under a mask, so the time taken does not
 * depend on c. */
static unsigned decode_char(unsigned char c)
{
    unsigned x = c, ret = 0, in_range;

    in_range = ~lt_mask(x, 'A') & lt_mask(x, 'Z' + 1);
    ret |= in_range & (x - 'A' + 1);
    in_range = ~lt_mask(x, 'a') & lt_mask(x, 'z' + 1);
    ret |= in_range & (x - 'a' + 1);
    in_range = ~lt_mask(x, '2') & lt_mask(x, '7' + 1);
    ret |= in_range & (x - '2' + 27);
    /* ret is value + 1, or 0 for a character outside the alphabet: that
     * wraps to UINT_MAX, which has bits above the low five. */
    return ret - 1u;
}

size_t base32_encoded_len(size_t n)
{
    return (n * 8 + 4) / 5;
}

size_t base32_encode(char *dst, size_t dst_size, const unsigned char *src, size_t n)
{
    size_t need = base32_encoded_len(n), i, out = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (dst_size < need + 1)
        return 0;
    for (i = 0; i < n; i++) {
        acc = (acc << 8) | src[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            dst[out++] = encode_char((acc >> bits) & 31u);
        }
    }
    if (bits > 0)
        dst[out++] = encode_char((acc << (5 - bits)) & 31u);
    dst[out] = '\0';
    acc = 0;
    return out;
}

int base32_decode(unsigned char *dst, size_t dst_size, size_t *out_len, const char *src,
                  size_t src_len)
{
    size_t data_len = src_len, i, out = 0, rem;
    uint32_t acc = 0;
    unsigned bits = 0, bad = 0;

    /* Padding: only as the tail of a whole number of 8-character groups, and
     * exactly as long as the last group needs (RFC 4648 section 6, cases
     * (1)-(5): 6, 4, 3 or 1 '=' after 2, 4, 5 or 7 data characters). */
    while (data_len > 0 && src[data_len - 1] == '=')
        data_len--;
    rem = data_len % 8;
    if (rem == 1 || rem == 3 || rem == 6)
        return -1;
    if (data_len != src_len) {
        if (src_len % 8 != 0 || rem == 0 || src_len - data_len != 8 - rem)
            return -1;
    }
    if ((data_len * 5) / 8 > dst_size)
        return -1;
    for (i = 0; i < data_len; i++) {
        unsigned v = decode_char((unsigned char)src[i]);

        bad |= v & ~31u;   /* v > 31: not in the alphabet ('=' included) */
        acc = (acc << 5) | (v & 31u);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* The unused low bits of the last character must be zero (section 3.5). */
    bad |= acc & ((1u << bits) - 1u);
    acc = 0;
    if (bad != 0)
        return -1;
    *out_len = out;
    return 0;
}
