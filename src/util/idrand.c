/* idrand.c - the per-thread fast-key-erasure generator of idrand.h. */
#include "util/idrand.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#define KEY_BYTES crypto_stream_chacha20_ietf_KEYBYTES
#define OUT_BYTES 64

static __thread struct {
    unsigned char key[KEY_BYTES];
    unsigned char out[OUT_BYTES];
    size_t left;                     /* bytes of out[] not handed out yet, at its end */
    bool keyed;
} st;

static void refill(void)
{
    static const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
    unsigned char block[KEY_BYTES + OUT_BYTES];

    if (!st.keyed) {
        randombytes_buf(st.key, sizeof(st.key));
        st.keyed = true;
    }
    /* The nonce may stay fixed: no key is ever used twice. */
    crypto_stream_chacha20_ietf(block, sizeof(block), nonce, st.key);
    memcpy(st.key, block, KEY_BYTES);
    memcpy(st.out, block + KEY_BYTES, OUT_BYTES);
    sodium_memzero(block, sizeof(block));
    st.left = OUT_BYTES;
}

void idrand_buf(void *out, size_t len)
{
    unsigned char *o = out;

    while (len > 0) {
        size_t n;

        if (st.left == 0)
            refill();
        n = len < st.left ? len : st.left;
        memcpy(o, st.out + OUT_BYTES - st.left, n);
        /* Handed out: not kept. */
        sodium_memzero(st.out + OUT_BYTES - st.left, n);
        st.left -= n;
        o += n;
        len -= n;
    }
}
