#include "auth/password.h"

#include <pthread.h>
#include <string.h>

int pwhash_params_valid(const struct pwhash_params *params)
{
    uint64_t bytes = params->memory_kib * 1024u;

    return params->memory_kib <= SIZE_MAX / 1024u && bytes >= crypto_pwhash_MEMLIMIT_MIN &&
           bytes <= crypto_pwhash_MEMLIMIT_MAX &&
           params->iterations >= crypto_pwhash_OPSLIMIT_MIN &&
           params->iterations <= crypto_pwhash_OPSLIMIT_MAX;
}

int pwhash_hash(const struct pwhash_params *params, const char *password, size_t len,
                char out[PWHASH_STR_BYTES])
{
    if (!pwhash_params_valid(params))
        return PWHASH_EPARAMS;
    if (crypto_pwhash_str_alg(out, password, len, params->iterations,
                              (size_t)params->memory_kib * 1024u,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return PWHASH_ENOMEM;
    return PWHASH_OK;
}

int pwhash_verify(const char *stored, const char *password, size_t len)
{
    return crypto_pwhash_str_verify(stored, password, len) == 0 ? PWHASH_OK : PWHASH_MISMATCH;
}

int pwhash_needs_rehash(const struct pwhash_params *params, const char *stored)
{
    if (strncmp(stored, crypto_pwhash_argon2id_STRPREFIX,
                strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
        return 1;
    return crypto_pwhash_str_needs_rehash(stored, params->iterations,
                                          (size_t)params->memory_kib * 1024u) != 0;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static const struct pwhash_params *dummy_params;
static char dummy_hash[PWHASH_STR_BYTES];
static int dummy_ready;

static void make_dummy(void)
{
    unsigned char random_password[32];

    randombytes_buf(random_password, sizeof(random_password));
    if (pwhash_hash(dummy_params, (const char *)random_password, sizeof(random_password),
                    dummy_hash) == PWHASH_OK)
        dummy_ready = 1;
    sodium_memzero(random_password, sizeof(random_password));
}

void pwhash_dummy_prepare(const struct pwhash_params *params)
{
    dummy_params = params;
    pthread_once(&dummy_once, make_dummy);
}

void pwhash_dummy_verify(const struct pwhash_params *params, const char *password, size_t len)
{
    pwhash_dummy_prepare(params);
    if (dummy_ready)
        (void)pwhash_verify(dummy_hash, password, len);
}
