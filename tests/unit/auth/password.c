/* Tests src/auth/password.c: Argon2id hashes at low parameters. */
#include "test.h"

#include "auth/password.h"
#include "latch_limits.h"

#include <stdio.h>
#include <time.h>

static const struct pwhash_params pwhash_low = {.memory_kib = 8, .iterations = 1};

TEST(pwhash_hash_and_verify)
{
    char hash[PWHASH_STR_BYTES], again[PWHASH_STR_BYTES];
    const char *pw = "correct horse battery staple";

    CHECK_INT(pwhash_hash(&pwhash_low, pw, strlen(pw), hash), PWHASH_OK);
    CHECK(strncmp(hash, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    CHECK_INT(pwhash_verify(hash, pw, strlen(pw)), PWHASH_OK);
    CHECK_INT(pwhash_verify(hash, "correct horse battery stapl", strlen(pw) - 1), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify(hash, "Correct horse battery staple", strlen(pw)), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify(hash, "", 0), PWHASH_MISMATCH);
    /* A fresh salt each time. */
    CHECK_INT(pwhash_hash(&pwhash_low, pw, strlen(pw), again), PWHASH_OK);
    CHECK(strcmp(hash, again) != 0);
    CHECK_INT(pwhash_verify(again, pw, strlen(pw)), PWHASH_OK);
}

TEST(pwhash_password_bytes_are_exact)
{
    char hash[PWHASH_STR_BYTES];
    /* Any byte, NUL included, counts: "a\0b" is not "a\0c" nor "a". */
    static const char pw[] = {'a', '\0', 'b'}, other[] = {'a', '\0', 'c'};

    CHECK_INT(pwhash_hash(&pwhash_low, pw, sizeof(pw), hash), PWHASH_OK);
    CHECK_INT(pwhash_verify(hash, pw, sizeof(pw)), PWHASH_OK);
    CHECK_INT(pwhash_verify(hash, other, sizeof(other)), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify(hash, pw, 1), PWHASH_MISMATCH);
    /* The longest password latch accepts. */
    {
        char long_pw[256];
        memset(long_pw, 'p', sizeof(long_pw));
        CHECK_INT(pwhash_hash(&pwhash_low, long_pw, sizeof(long_pw), hash), PWHASH_OK);
        CHECK_INT(pwhash_verify(hash, long_pw, sizeof(long_pw)), PWHASH_OK);
        long_pw[255] = 'q';
        CHECK_INT(pwhash_verify(hash, long_pw, sizeof(long_pw)), PWHASH_MISMATCH);
    }
}

TEST(pwhash_verify_refuses_garbage_hashes)
{
    CHECK_INT(pwhash_verify("", "password", 8), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify("password", "password", 8), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify("$argon2id$v=19$m=8,t=1,p=1$", "password", 8), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                            "password", 8), PWHASH_MISMATCH);
}

TEST(pwhash_params_bounds)
{
    struct pwhash_params p = pwhash_low;
    char hash[PWHASH_STR_BYTES];

    CHECK(pwhash_params_valid(&p));
    p.memory_kib = 7;
    CHECK(!pwhash_params_valid(&p));
    CHECK_INT(pwhash_hash(&p, "password", 8, hash), PWHASH_EPARAMS);
    p.memory_kib = 0;
    CHECK(!pwhash_params_valid(&p));
    p.memory_kib = UINT64_MAX;
    CHECK(!pwhash_params_valid(&p));
    p.memory_kib = UINT64_MAX / 1024 + 1;   /* wraps to a small byte count */
    CHECK(!pwhash_params_valid(&p));
    p.memory_kib = 8;
    p.iterations = 0;
    CHECK(!pwhash_params_valid(&p));
    CHECK_INT(pwhash_hash(&p, "password", 8, hash), PWHASH_EPARAMS);
    p.iterations = UINT64_MAX;
    CHECK(!pwhash_params_valid(&p));
    p.memory_kib = 19456;   /* the production default */
    p.iterations = 2;
    CHECK(pwhash_params_valid(&p));
}

TEST(pwhash_needs_rehash_when_params_change)
{
    struct pwhash_params more_memory = {.memory_kib = 16, .iterations = 1};
    struct pwhash_params more_time = {.memory_kib = 8, .iterations = 2};
    char hash[PWHASH_STR_BYTES], argon2i[PWHASH_STR_BYTES];

    CHECK_INT(pwhash_hash(&pwhash_low, "password", 8, hash), PWHASH_OK);
    CHECK_INT(pwhash_needs_rehash(&pwhash_low, hash), 0);
    CHECK_INT(pwhash_needs_rehash(&more_memory, hash), 1);
    CHECK_INT(pwhash_needs_rehash(&more_time, hash), 1);
    /* Not Argon2id at all. */
    CHECK_INT(pwhash_needs_rehash(&pwhash_low,
                                  "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"),
              1);
    CHECK_INT(pwhash_needs_rehash(&pwhash_low, ""), 1);
    /* Argon2i with the same parameters: still rehashed to Argon2id. */
    CHECK(crypto_pwhash_str_alg(argon2i, "password", 8, 3, 8 * 1024,
                                crypto_pwhash_ALG_ARGON2I13) == 0);
    CHECK(strncmp(argon2i, "$argon2i$", 9) == 0);
    CHECK_INT(pwhash_needs_rehash(&(struct pwhash_params){.memory_kib = 8, .iterations = 3},
                                  argon2i), 1);
    /* After rehashing at the new parameters, no more. */
    CHECK_INT(pwhash_hash(&more_memory, "password", 8, hash), PWHASH_OK);
    CHECK_INT(pwhash_needs_rehash(&more_memory, hash), 0);
    CHECK_INT(pwhash_verify(hash, "password", 8), PWHASH_OK);
}

static double pwhash_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The dummy verify must cost what a real one costs, or an unknown email
 * answers faster than a wrong password.  The dummy is made once per process
 * from the first parameters it sees; this is the only test that touches it.
 */
TEST(pwhash_dummy_verify_costs_a_verify)
{
    const struct pwhash_params p = {.memory_kib = 4096, .iterations = 2};
    char hash[PWHASH_STR_BYTES];
    double t0, real_s = 1e9, dummy_s = 1e9;
    int i;

    CHECK_INT(pwhash_hash(&p, "the real password", 17, hash), PWHASH_OK);
    pwhash_dummy_prepare(&p);
    for (i = 0; i < 3; i++) {
        t0 = pwhash_seconds();
        CHECK_INT(pwhash_verify(hash, "a wrong password", 16), PWHASH_MISMATCH);
        if (pwhash_seconds() - t0 < real_s)
            real_s = pwhash_seconds() - t0;
        t0 = pwhash_seconds();
        pwhash_dummy_verify(&p, "a wrong password", 16);
        if (pwhash_seconds() - t0 < dummy_s)
            dummy_s = pwhash_seconds() - t0;
    }
    if (dummy_s * 4 < real_s)
        test_failed(__FILE__, __LINE__, "dummy verify %.6f s, real verify %.6f s", dummy_s,
                    real_s);
}

/* ---- hashes imported from other systems (issue 12) ---- */

/* Made with Debian's python3-bcrypt, hashlib and python3-passlib, and
 * python3-argon2, for the password "correct horse". */
static const char *const imported[] = {
    "$2b$04$ZYzl3Cm6Qz9BkXC5J7TW7uiE1Jzl1fZaJtTFPK1imwongX4hCQ3h.",
    "pbkdf2_sha256$1200$seasalt$o1GNTavDBbrKK7a64SqUwALfSBiLSjIVl+HdtWkfRPE=",
    "$pbkdf2-sha256$1100$MDEyMzQ1Njc4OWFiY2RlZg$AbGIY25ONeWWvLR4Q/3tpA7xlxAPrgQjlsVprqHPjTk",
    "$argon2i$v=19$m=256,t=1,p=2$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
};

TEST(pwhash_imported_formats_verify)
{
    static const enum pwhash_kind kinds[] = {PWHASH_BCRYPT, PWHASH_PBKDF2_DJANGO,
                                             PWHASH_PBKDF2_PASSLIB, PWHASH_ARGON2I};
    const struct pwhash_params params = {8192, 1};
    const char *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(imported) / sizeof(imported[0]); i++) {
        CHECK_INT(pwhash_identify(imported[i], &why), kinds[i]);
        CHECK_INT(pwhash_verify(imported[i], "correct horse", 13), PWHASH_OK);
        CHECK_INT(pwhash_verify(imported[i], "correct horsE", 13), PWHASH_MISMATCH);
        CHECK_INT(pwhash_verify(imported[i], "correct horse", 12), PWHASH_MISMATCH);
        /* The hash itself is not the password. */
        CHECK_INT(pwhash_verify(imported[i], imported[i], strlen(imported[i])),
                  PWHASH_MISMATCH);
        /* Every one is replaced by latch's Argon2id at the first login. */
        CHECK_INT(pwhash_needs_rehash(&params, imported[i]), 1);
    }
}

/* A hash latch itself makes under the costliest settings it accepts must
 * verify: the bounds of verification and of LATCH_ARGON2_* are one. */
TEST(pwhash_own_costliest_hash_is_accepted)
{
    char stored[160];
    const char *why = NULL;

    snprintf(stored, sizeof(stored),
             "$argon2id$v=19$m=%d,t=%d,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
             LATCH_MAX_ARGON2_MEMORY_KIB, LATCH_MAX_ARGON2_ITERATIONS);
    CHECK_INT(pwhash_identify(stored, &why), PWHASH_ARGON2ID);
    snprintf(stored, sizeof(stored),
             "$argon2id$v=19$m=%d,t=%d,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
             LATCH_MAX_ARGON2_MEMORY_KIB + 1, LATCH_MAX_ARGON2_ITERATIONS);
    CHECK_INT(pwhash_identify(stored, &why), PWHASH_UNKNOWN);
    snprintf(stored, sizeof(stored),
             "$argon2id$v=19$m=%d,t=%d,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
             LATCH_MAX_ARGON2_MEMORY_KIB, LATCH_MAX_ARGON2_ITERATIONS + 1);
    CHECK_INT(pwhash_identify(stored, &why), PWHASH_UNKNOWN);
}

TEST(pwhash_imported_formats_bounded)
{
    static const char *const refused[] = {
        "", "md5$x$y", "$2b$20$ZYzl3Cm6Qz9BkXC5J7TW7uiE1Jzl1fZaJtTFPK1imwongX4hCQ3h.",
        "$2b$04$short", "$2x$04$ZYzl3Cm6Qz9BkXC5J7TW7uiE1Jzl1fZaJtTFPK1imwongX4hCQ3h.",
        "pbkdf2_sha256$100000000$salt$o1GNTavDBbrKK7a64SqUwALfSBiLSjIVl+HdtWkfRPE=",
        "pbkdf2_sha256$1200$seasalt$notbase64!",
        "pbkdf2_sha256$1200$seasalt$o1GNTavDBbrKK7a64SqUwA==",
        "pbkdf2_sha256$$seasalt$o1GNTavDBbrKK7a64SqUwALfSBiLSjIVl+HdtWkfRPE=",
        "$argon2id$v=19$m=4194304,t=1,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
        "$argon2id$v=19$m=256,t=99,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
        "$argon2id$v=19$t=1,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
        "$argon2d$v=19$m=256,t=1,p=1$3i+Hh+2Mo3cyt+n2lkAVQA$+D+qCTgpJ7ZuPCdo67at7A",
    };
    const char *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why = NULL;
        if (pwhash_identify(refused[i], &why) != PWHASH_UNKNOWN)
            test_failed(__FILE__, __LINE__, "accepted %s", refused[i]);
        CHECK(why != NULL);
        CHECK_INT(pwhash_verify(refused[i], "correct horse", 13), PWHASH_MISMATCH);
    }
}
