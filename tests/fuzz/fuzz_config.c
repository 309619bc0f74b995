/*
 * fuzz_config - command-line flag parsing (src/config.c): config_load()
 * after config_defaults(), and config_split_listen() on what it accepts.
 *
 * The input is split at NUL bytes into argv strings (argv[0] is the first
 * argument, as config_load() expects), each copied into its own exactly
 * sized heap block so AddressSanitizer sees any read past its NUL.  The
 * first call passes no extra flags and no room for positionals, like
 * "latch serve"; the second passes one extra flag and two positionals, like
 * "latch user add".
 *
 * The environment is not changed here: config_load() also reads LATCH_*
 * variables, so tests/fuzz/run.sh starts the target without any.
 */
#include "fuzz.h"

#include "config.h"

#include <string.h>

#define MAX_ARGS 64

/* Every string field is NUL-terminated within its array. */
static void check_config(const struct config *cfg)
{
    FUZZ_CHECK(memchr(cfg->listen, '\0', sizeof(cfg->listen)) != NULL);
    FUZZ_CHECK(memchr(cfg->data_dir, '\0', sizeof(cfg->data_dir)) != NULL);
    FUZZ_CHECK(memchr(cfg->db, '\0', sizeof(cfg->db)) != NULL);
    FUZZ_CHECK(memchr(cfg->issuer, '\0', sizeof(cfg->issuer)) != NULL);
    FUZZ_CHECK(memchr(cfg->log_level, '\0', sizeof(cfg->log_level)) != NULL);
}

static void split_listen(const char *listen)
{
    char host[CONFIG_MAX_STR], small[8];
    int port = -1;

    if (config_split_listen(listen, host, sizeof(host), &port) == 0) {
        FUZZ_CHECK(port >= 0 && port <= 65535);
        FUZZ_CHECK(host[0] != '\0' && strlen(host) < strlen(listen));
    }
    /* A host that does not fit is refused, not truncated or overrun. */
    port = -1;
    if (config_split_listen(listen, small, sizeof(small), &port) == 0)
        FUZZ_CHECK(strlen(small) < sizeof(small) && port >= 0 && port <= 65535);
}

static void load(int argc, char **argv, int with_extras)
{
    const char *extra_value = NULL, *positional[2] = {NULL, NULL};
    const struct config_extra_flag extras[] = {
        {"role", &extra_value, "role of the new user"},
        {NULL, NULL, NULL},
    };
    struct config cfg;
    char err[512], db[CONFIG_MAX_STR + 16];
    int n_positional = -1, rc;

    config_defaults(&cfg);
    err[0] = '\0';
    if (with_extras)
        rc = config_load(&cfg, argc, argv, extras, positional, 2, &n_positional, err,
                         sizeof(err));
    else
        rc = config_load(&cfg, argc, argv, NULL, NULL, 0, NULL, err, sizeof(err));
    FUZZ_CHECK(rc == CONFIG_OK || rc == CONFIG_HELP || rc == CONFIG_ERROR);
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    check_config(&cfg);
    if (rc == CONFIG_ERROR) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    if (rc != CONFIG_OK)
        return;
    if (with_extras) {
        FUZZ_CHECK(n_positional >= 0 && n_positional <= 2);
    }
    /* What config_load() accepted, main.c splits without checking again. */
    {
        char host[CONFIG_MAX_STR];
        int port = -1;
        FUZZ_CHECK(config_split_listen(cfg.listen, host, sizeof(host), &port) == 0);
    }
    FUZZ_CHECK(strlen(config_db_path(&cfg, db, sizeof(db))) < sizeof(db));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0, i;
    size_t start = 0, pos;

    /* "a\0b" is two arguments; a trailing NUL does not add an empty one. */
    for (pos = 0; pos <= size && argc < MAX_ARGS; pos++) {
        if (pos == size || data[pos] == '\0') {
            if (pos == size && pos == start && (argc > 0 || size == 0))
                break;
            argv[argc] = malloc(pos - start + 1);
            FUZZ_CHECK(argv[argc] != NULL);
            memcpy(argv[argc], data + start, pos - start);
            argv[argc][pos - start] = '\0';
            argc++;
            start = pos + 1;
        }
    }
    argv[argc] = NULL;

    load(argc, argv, 0);
    load(argc, argv, 1);
    for (i = 0; i < argc; i++)
        split_listen(argv[i]);

    for (i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
