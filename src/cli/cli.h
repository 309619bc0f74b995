/*
 * cli.h - what the `latch` commands share: opening the configured store
 * (SQLite in the data dir, or PostgreSQL) with the master key it needs, and
 * the keyring options derived from the configuration.  The commands in
 * src/cli/ and src/main.c log through util/log.h and exit with 0 on success,
 * 1 on failure, 2 on bad usage.
 */
#ifndef LATCH_CLI_H
#define LATCH_CLI_H

#include "auth/keyring.h"
#include "auth/seal.h"
#include "config.h"
#include "store/store.h"

/* Deadlines of store calls: a request's, and a command's or a background
 * job's (migrations, copies, the CLI may wait longer). */
#define CLI_REQUEST_TIMEOUT_MS 1500
#define CLI_COMMAND_TIMEOUT_MS 30000

struct cli_store {
    struct store *store;
    int remote;                               /* PostgreSQL */
    int has_master_key;
    unsigned char master_key[SEAL_KEY_BYTES];
    char sqlite_dir[CONFIG_MAX_STR];          /* SQLite: the database file's directory */
};

/*
 * Opens the store cfg selects.  SQLite: creates the data dir when the file
 * lives there.  PostgreSQL: pool connections with timeout_ms per call,
 * migrations applied when migrate, and the master key read from
 * LATCH_MASTER_KEY_FILE (required: a message says what is missing or wrong)
 * and checked against the database.  Messages never show a password.
 * Returns 0, or logs why and returns -1.
 */
int cli_open_store(const struct config *cfg, int timeout_ms, int pool_size, int migrate,
                   struct cli_store *out);
void cli_close_store(struct cli_store *s);

/*
 * SQLite mode: the master key that seals TOTP secrets and queued mail
 * (PostgreSQL mode loaded and checked it at open).  LATCH_MASTER_KEY_FILE
 * when set, else <data dir>/master-key.  When the file is missing it is
 * created (32 random bytes, 0600) if create is set and only while the store
 * holds nothing sealed (store sealed_any): a key made after sealed rows
 * exist would never open them.  When sealed rows exist, a missing key, or
 * one that does not open them, is refused with a message saying which.
 * Returns 0 (s->has_master_key says whether there is one: without create a
 * missing key of an empty store is not an error), or logs why and returns -1.
 */
int cli_master_key(const struct config *cfg, struct cli_store *s, int create);

/* Keyring options for cfg on s (keys.json in the data dir for SQLite, the
 * store for PostgreSQL). */
void cli_keyring_options(const struct config *cfg, const struct cli_store *s,
                         struct keyring_options *o);

/* Loads the refresh-token key (the data dir's refresh-key file, or the
 * store's sealed secret); creates it when create.  Logs why on failure. */
int cli_refresh_key(const struct config *cfg, const struct cli_store *s, int create,
                    unsigned char out[32]);

/* Loads cfg for command ("user list", ...): flags, LATCH_* variables, the
 * log level and format.  Returns 0; 1 after --help was printed; -1 after
 * printing the error. */
int cli_load_config(struct config *cfg, const char *command, int argc, char **argv,
                    const struct config_extra_flag *extras, const char **positional,
                    int max_positional, int *n_positional);

/* latch mail list. */
int cli_mail(int argc, char **argv);

/* latch db migrate | copy. */
int cli_db(int argc, char **argv);

/* `latch user <sub> ...` for list, show, delete, disable, enable, unlock and
 * set-role (argv[0] is <sub>).  Returns the exit status, or CLI_NOT_MINE for
 * another subcommand. */
#define CLI_NOT_MINE (-1)
int cli_user(int argc, char **argv);
/* `latch user import FILE [--strict]` and `latch user export FILE`. */
int cli_user_io(int argc, char **argv);

#endif
