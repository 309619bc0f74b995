/*
 * cli.h - what the `latch` subcommands outside main.c share with it:
 * loading the configuration for a command (flags, LATCH_* variables, the
 * log level and format) and opening the configured store.
 */
#ifndef LATCH_CLI_CLI_H
#define LATCH_CLI_CLI_H

#include "config.h"
#include "store/store.h"

/* Loads cfg for command ("user list", ...).  Returns 0; 1 after --help was
 * printed; -1 after printing the error. */
int cli_load_config(struct config *cfg, const char *command, int argc, char **argv,
                    const struct config_extra_flag *extras, const char **positional,
                    int max_positional, int *n_positional);

/* Opens the store cfg names.  Returns 0, or -1 after logging why. */
int cli_open_store(const struct config *cfg, struct store **store);

/* `latch user <sub> ...` for list, show, delete, disable, enable, unlock and
 * set-role (argv[0] is <sub>).  Returns the exit status, or CLI_NOT_MINE for
 * another subcommand. */
#define CLI_NOT_MINE (-1)
int cli_user(int argc, char **argv);

#endif
