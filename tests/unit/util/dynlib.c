/* Tests src/util/dynlib.c: a library opened at run time resolves every
 * function or none, and says why it could not. */
#include "test.h"

#include "util/dynlib.h"

#include <string.h>

/* zlib's runtime library is on every machine that runs latch (libcurl and
 * libpq's TLS need it); its header is not, so the two prototypes are here. */
typedef const char *zlib_version_fn(void);
typedef unsigned long crc32_fn(unsigned long crc, const unsigned char *buf, unsigned len);

TEST(dynlib_resolves_every_function_it_is_given)
{
    zlib_version_fn *version = NULL;
    crc32_fn *crc = NULL;
    const struct dynlib_sym syms[] = {
        {"zlibVersion", (void **)&version},
        {"crc32", (void **)&crc},
    };
    char err[256] = "";

    CHECK_INT(dynlib_open("libz.so.1", syms, 2, err, sizeof(err)), DYNLIB_OK);
    CHECK(version != NULL && crc != NULL);
    CHECK(strncmp(version(), "1.", 2) == 0);
    /* The CRC-32 of "123456789", the check value of its definition. */
    CHECK(crc(0, (const unsigned char *)"123456789", 9) == 0xCBF43926UL);
}

TEST(dynlib_missing_function_fills_nothing)
{
    void *first = (void *)&first, *second = (void *)&second;
    const struct dynlib_sym syms[] = {
        {"zlibVersion", &first},
        {"latch_no_such_function", &second},
    };
    char err[256] = "";

    CHECK_INT(dynlib_open("libz.so.1", syms, 2, err, sizeof(err)), DYNLIB_ESYMBOL);
    CHECK(first == (void *)&first);
    CHECK(second == (void *)&second);
    CHECK(strstr(err, "latch_no_such_function") != NULL);
}

TEST(dynlib_missing_library_says_which)
{
    void *f = NULL;
    const struct dynlib_sym syms[] = {{"f", &f}};
    char err[256] = "";

    CHECK_INT(dynlib_open("liblatch-no-such-library.so.9", syms, 1, err, sizeof(err)),
              DYNLIB_EOPEN);
    CHECK(f == NULL);
    CHECK(strstr(err, "liblatch-no-such-library.so.9") != NULL);
    CHECK_STR(dynlib_strerror(DYNLIB_EOPEN), "the shared library could not be opened");
}

TEST(dynlib_load_tries_once_and_answers_the_same)
{
    static void *found, *missing;
    static const struct dynlib_sym good_syms[] = {{"zlibVersion", &found}};
    static const struct dynlib_sym bad_syms[] = {{"zlibVersion", &missing}};
    static struct dynlib good = DYNLIB_INIT("libz.so.1", good_syms);
    static struct dynlib bad = DYNLIB_INIT("liblatch-no-such-library.so.9", bad_syms);

    CHECK(!dynlib_loaded(&good));
    CHECK_INT(dynlib_load(&good), 0);
    CHECK(found != NULL);
    CHECK(dynlib_loaded(&good));
    CHECK_INT(dynlib_load(&good), 0);

    CHECK_INT(dynlib_load(&bad), -1);
    CHECK(strstr(bad.err, "liblatch-no-such-library.so.9") != NULL);
    /* The second call answers from the first: same failure, no new try. */
    bad.err[0] = 'X';
    CHECK_INT(dynlib_load(&bad), -1);
    CHECK(bad.err[0] == 'X');
    CHECK(!dynlib_loaded(&bad));
    CHECK(missing == NULL);
}
