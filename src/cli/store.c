#include "cli/cli.h"

#include "auth/keys.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_open_store(const struct config *cfg, int timeout_ms, int pool_size, int migrate,
                   struct cli_store *out)
{
    enum config_backend backend;
    struct store_options opts;
    char target[CONFIG_MAX_STR], default_path[PATH_MAX], err[512], shown[CONFIG_MAX_STR];
    const char *why = "";
    int rc;

    memset(out, 0, sizeof(*out));
    if (config_backend(cfg, &backend, target, sizeof(target), err, sizeof(err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    if (backend == CONFIG_SQLITE) {
        const char *slash;

        /* The data dir is made when the database lives in it. */
        config_db_path(cfg, default_path, sizeof(default_path));
        if (strcmp(target, default_path) == 0 && cfg->db[0] == '\0' &&
            fsutil_mkdir(cfg->data_dir) != FSUTIL_OK) {
            log_error("cannot create data directory %s: %s", cfg->data_dir, strerror(errno));
            return -1;
        }
        slash = strrchr(target, '/');
        if (slash == NULL)
            snprintf(out->sqlite_dir, sizeof(out->sqlite_dir), ".");
        else
            snprintf(out->sqlite_dir, sizeof(out->sqlite_dir), "%.*s",
                     slash == target ? 1 : (int)(slash - target), target);
        rc = store_sqlite_open(&out->store, target, err, sizeof(err));
        if (rc != STORE_OK) {
            log_error("cannot open the database: %s", err);
            return -1;
        }
        return 0;
    }

    config_redact_url(target, shown, sizeof(shown));
    if (cfg->master_key_file[0] == '\0') {
        log_error("PostgreSQL mode needs LATCH_MASTER_KEY_FILE: the 32-byte key that seals the "
                  "signing keys and secrets kept in the database (`latch key master-init FILE` "
                  "makes one; every instance reads the same file)");
        return -1;
    }
    if (seal_load_master_key(cfg->master_key_file, out->master_key, &why) != SEAL_OK) {
        log_error("LATCH_MASTER_KEY_FILE %s: %s", cfg->master_key_file, why);
        return -1;
    }
    out->has_master_key = 1;
    memset(&opts, 0, sizeof(opts));
    opts.pool_size = pool_size > 0 ? pool_size : 1;
    opts.timeout_ms = timeout_ms;
    opts.migrate = migrate;
    rc = store_pg_open(&out->store, target, &opts, err, sizeof(err));
    if (rc != STORE_OK) {
        log_error("cannot open the PostgreSQL database %s: %s", shown, err);
        cli_close_store(out);
        return -1;
    }
    out->remote = 1;
    if (keys_check_master_key(out->store, out->master_key, err, sizeof(err)) != 0) {
        log_error("%s", err);
        cli_close_store(out);
        return -1;
    }
    return 0;
}

/* Whether key opens the sealed row the store holds (if any): 0 yes or
 * none, 1 one exists and key is NULL, -1 it does not open. */
static int opens_sealed(struct store *store, const unsigned char *key)
{
    unsigned char sealed[STORE_MAX_SEALED_BYTES], *plain;
    char ad[STORE_MAIL_ID_BYTES + 32];
    size_t len = 0, opened = 0;
    int rc = STORE_CALL(store, sealed_any, ad, sizeof(ad), sealed, sizeof(sealed), &len);

    if (rc == STORE_ENOTFOUND)
        return 0;
    if (rc != STORE_OK)
        return -1;
    if (key == NULL)
        return 1;
    plain = sodium_malloc(len);
    if (plain == NULL)
        return -1;
    rc = seal_open(key, ad, sealed, len, plain, len, &opened) == SEAL_OK ? 0 : -1;
    sodium_free(plain);
    return rc;
}

int cli_master_key(const struct config *cfg, struct cli_store *s, int create)
{
    char path[PATH_MAX];
    const char *why = "";
    int rc, found;

    if (s->remote)
        return 0;
    if (cfg->master_key_file[0] != '\0')
        snprintf(path, sizeof(path), "%s", cfg->master_key_file);
    else
        snprintf(path, sizeof(path), "%s/master-key", cfg->data_dir);
    rc = seal_load_master_key(path, s->master_key, &why);
    if (rc == SEAL_ENOENT) {
        found = opens_sealed(s->store, NULL);
        if (found != 0) {
            log_error("the master key %s is missing, but the database holds sealed rows (TOTP "
                      "secrets or queued mail) that only it opens: restore the file (or set "
                      "LATCH_MASTER_KEY_FILE to it)", path);
            return -1;
        }
        /* Only the default place is created: a configured file that is
         * missing is a mistake to report, not to paper over. */
        if (!create || cfg->master_key_file[0] != '\0') {
            if (cfg->master_key_file[0] != '\0') {
                log_error("LATCH_MASTER_KEY_FILE %s: %s", path, why);
                return -1;
            }
            return 0;
        }
        if (fsutil_mkdir(cfg->data_dir) != FSUTIL_OK ||
            seal_create_master_key(path, &why) != SEAL_OK) {
            log_error("cannot create the master key %s: %s", path, why);
            return -1;
        }
        log_info("created the master key %s (it seals TOTP secrets and queued mail: back it "
                 "up with the database)", path);
        rc = seal_load_master_key(path, s->master_key, &why);
    }
    if (rc != SEAL_OK) {
        log_error("master key %s: %s", path, why);
        return -1;
    }
    if (opens_sealed(s->store, s->master_key) != 0) {
        log_error("the master key %s is not the key this database's sealed rows (TOTP secrets, "
                  "queued mail) were sealed with: they do not open", path);
        sodium_memzero(s->master_key, sizeof(s->master_key));
        return -1;
    }
    s->has_master_key = 1;
    return 0;
}

void cli_close_store(struct cli_store *s)
{
    store_close(s->store);
    s->store = NULL;
    sodium_memzero(s->master_key, sizeof(s->master_key));
    s->has_master_key = 0;
}

void cli_keyring_options(const struct config *cfg, const struct cli_store *s,
                         struct keyring_options *o)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = cfg->data_dir;
    o->alg = JWS_ALG_HS256;
    o->alg_explicit =
        cfg->jwt_alg[0] != '\0' && jws_alg_from_name(cfg->jwt_alg, &o->alg) == JWS_OK;
    o->env_secret = getenv("LATCH_JWT_SECRET");
    if (o->env_secret != NULL && o->env_secret[0] == '\0')
        o->env_secret = NULL;
    o->key_file = cfg->jwt_key_file[0] != '\0' ? cfg->jwt_key_file : NULL;
    o->prepublish_s = cfg->key_prepublish_s;
    o->verify_keep_s = cfg->access_ttl_s + cfg->leeway_s + 1;
    if (s != NULL && s->remote) {
        o->store = s->store;
        o->master_key = s->master_key;
    }
}

int cli_refresh_key(const struct config *cfg, const struct cli_store *s, int create,
                    unsigned char out[32])
{
    char err[512];
    int rc;

    if (s->remote)
        rc = keys_load_refresh_key_store(s->store, s->master_key, out, err, sizeof(err));
    else
        rc = keys_load_refresh_key(cfg->data_dir, create, out, err, sizeof(err));
    if (rc != 0)
        log_error("%s", err);
    return rc;
}
