#include "auth/keyring.h"

#include "auth/seal.h"
#include "latch_limits.h"
#include "util/b64url.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEYS 32
#define KEYRING_MAX_FILE_BYTES (512 * 1024)

struct entry {
    struct jws_key *key;
    int64_t created_at;
    int64_t signs_from;
};

/* An immutable set of keys; replaced whole on reload. */
struct keyset {
    struct entry e[MAX_KEYS];
    int n;                       /* sorted by signs_from, then created_at */
    int external;                /* a key given from outside */
};

struct keyring {
    struct keyring_options opts;
    enum jws_alg alg;            /* the recorded algorithm: the newest key's */
    char data_dir[PATH_MAX];
    pthread_rwlock_t lock;
    struct keyset *set;
    struct stat seen;            /* keys.json as last loaded */
    int64_t seen_version;        /* the store's key-set version as last loaded */
};

const char *keyring_state_name(enum keyring_state state)
{
    switch (state) {
    case KEY_NEXT: return "next";
    case KEY_SIGNING: return "signing";
    case KEY_VERIFY_ONLY: return "verify-only";
    case KEY_RETIRED: return "retired";
    }
    return "?";
}

static void keyset_free(struct keyset *set)
{
    int i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n; i++)
        jws_key_free(set->e[i].key);
    free(set);
}

/* Frees the keys of a set on the stack (the set itself is not freed). */
static void keyset_clear(struct keyset *set)
{
    int i;

    for (i = 0; i < set->n; i++)
        jws_key_free(set->e[i].key);
    set->n = 0;
}

/* Wipes and frees a key's serialised material. */
static void material_free(char *material)
{
    if (material == NULL)
        return;
    sodium_memzero(material, strlen(material));
    free(material);
}

/* Wipes the key material a parsed keys.json member holds (jansson frees
 * strings without wiping them). */
static void member_wipe(json_t *item)
{
    json_t *v = json_object_get(item, "material");

    if (json_is_string(v))
        sodium_memzero((void *)json_string_value(v), json_string_length(v));
}

/* Wipes every member's material, then drops the document. */
static void doc_free(json_t *doc)
{
    json_t *keys = json_object_get(doc, "keys");
    size_t i;

    for (i = 0; i < json_array_size(keys); i++)
        member_wipe(json_array_get(keys, i));
    json_decref(doc);
}

static int by_start(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->signs_from != y->signs_from)
        return x->signs_from < y->signs_from ? -1 : 1;
    return x->created_at < y->created_at ? -1 : (x->created_at > y->created_at);
}

/* The index of the signing key at now: the newest started key.  Each key
 * carries its algorithm, so a rotation to another algorithm takes over like
 * any other. */
static int signing_index(const struct keyset *set, int64_t now)
{
    int i;

    for (i = set->n - 1; i >= 0; i--)
        if (set->e[i].signs_from <= now)
            return i;
    return -1;
}

/* When a new key may start signing: from, but after every key of set, so
 * that the new key sorts last and is the newest (a rotation with no
 * pre-publication in the second of the last one waits a second). */
static int64_t after_every_key(const struct keyset *set, int64_t from)
{
    int i;

    for (i = 0; i < set->n; i++)
        if (set->e[i].signs_from >= from)
            from = set->e[i].signs_from + 1;
    return from;
}

/* The recorded algorithm: the newest key's (the set is sorted by
 * signs_from, so a pre-published key counts); fallback when there is none. */
static enum jws_alg recorded_alg(const struct keyset *set, enum jws_alg fallback)
{
    return set->n > 0 ? jws_key_alg(set->e[set->n - 1].key) : fallback;
}

static enum keyring_state state_of(const struct keyset *set, int i, int64_t now, int64_t keep_s)
{
    int signing = signing_index(set, now), j;

    if (set->e[i].signs_from > now)
        return KEY_NEXT;
    if (i == signing)
        return KEY_SIGNING;
    /* It stopped signing when the next started key took over. */
    for (j = i + 1; j < set->n; j++) {
        if (set->e[j].signs_from <= now)
            return now < set->e[j].signs_from + keep_s ? KEY_VERIFY_ONLY : KEY_RETIRED;
    }
    return KEY_VERIFY_ONLY;
}

/* ---- keys.json ---- */

static void path_of(const struct keyring_options *o, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", o->data_dir, name);
}

static int random_kid(char out[32])
{
    unsigned char raw[16];

    randombytes_buf(raw, sizeof(raw));
    return b64url_encode(out, 32, raw, sizeof(raw)) > 0 ? 0 : -1;
}

/* A new key of alg; HS256 secrets are 512 random bits as base64url text,
 * used verbatim as the key (so the text can go into LATCH_JWT_SECRET). */
static int generate(enum jws_alg alg, struct jws_key **key, char **material)
{
    if (alg == JWS_ALG_HS256) {
        unsigned char raw[LATCH_GENERATED_SECRET_BYTES];
        char kid[32], *text = malloc(128);
        int rc;

        if (text == NULL)
            return -1;
        randombytes_buf(raw, sizeof(raw));
        b64url_encode(text, 128, raw, sizeof(raw));
        sodium_memzero(raw, sizeof(raw));
        random_kid(kid);
        rc = jws_key_new_hs256(key, (const unsigned char *)text, strlen(text), kid);
        if (rc != JWS_OK) {
            sodium_memzero(text, 128);
            free(text);
            return -1;
        }
        *material = text;
        return 0;
    } else {
        size_t len;
        char *pem;

        if (jws_key_generate(key, alg) != JWS_OK)
            return -1;
        if (jws_key_to_pem(*key, &pem, &len) != JWS_OK) {
            jws_key_free(*key);
            return -1;
        }
        *material = strndup(pem, len);
        jws_pem_free(pem, len);
        if (*material == NULL) {
            jws_key_free(*key);
            return -1;
        }
        return 0;
    }
}

/* Builds a key from its stored parts (a keys.json member, or a row of the
 * store once unsealed). */
static int key_from_parts(const char *kid, const char *alg_name, int64_t created, int64_t from,
                          const char *material, struct entry *out, char *err, size_t err_size)
{
    enum jws_alg alg, pem_alg;

    if (jws_alg_from_name(alg_name, &alg) != JWS_OK) {
        snprintf(err, err_size, "key %s has an unknown algorithm", kid);
        return -1;
    }
    if (alg == JWS_ALG_HS256) {
        if (jws_key_new_hs256(&out->key, (const unsigned char *)material, strlen(material), kid) !=
            JWS_OK) {
            snprintf(err, err_size, "HS256 key %s is unusable", kid);
            return -1;
        }
    } else if (jws_key_from_pem(&out->key, material, strlen(material), &pem_alg, err,
                                err_size) != JWS_OK ||
               pem_alg != alg) {
        if (out->key != NULL) {
            jws_key_free(out->key);
            out->key = NULL;
            snprintf(err, err_size, "key %s is not an %s key", kid, alg_name);
        }
        return -1;
    }
    out->created_at = created;
    out->signs_from = from;
    return 0;
}

/* Builds a key from one keys.json member. */
static int key_from_json(json_t *item, struct entry *out, char *err, size_t err_size)
{
    const char *kid = NULL, *alg_name = NULL, *material = NULL;
    json_int_t created = 0, from = 0;

    if (json_unpack(item, "{s:s,s:s,s:I,s:I,s:s}", "kid", &kid, "alg", &alg_name, "created_at",
                    &created, "signs_from", &from, "material", &material) != 0) {
        snprintf(err, err_size, "a key entry is malformed");
        return -1;
    }
    return key_from_parts(kid, alg_name, created, from, material, out, err, err_size);
}

/* ---- the key set in the store (PostgreSQL mode), sealed ---- */

/* A row as keys_list gave it, copied so that unsealing can wait until the
 * version says the set changed. */
struct sealed_row {
    char kid[STORE_KID_BYTES + 1];
    char alg[16];
    int64_t created_at, signs_from;
    unsigned char *sealed;
    size_t sealed_len;
};

struct sealed_rows {
    struct sealed_row row[MAX_KEYS];
    int n;
    int failed;
};

static void collect_row(void *p, const struct store_key *k)
{
    struct sealed_rows *rows = p;
    struct sealed_row *r;

    if (rows->n >= MAX_KEYS)
        return;
    r = &rows->row[rows->n];
    r->sealed = malloc(k->sealed_len);
    if (r->sealed == NULL) {
        rows->failed = 1;
        return;
    }
    memcpy(r->sealed, k->sealed, k->sealed_len);
    r->sealed_len = k->sealed_len;
    snprintf(r->kid, sizeof(r->kid), "%s", k->kid);
    snprintf(r->alg, sizeof(r->alg), "%s", k->alg);
    r->created_at = k->created_at;
    r->signs_from = k->signs_from;
    rows->n++;
}

static void sealed_rows_free(struct sealed_rows *rows)
{
    int i;

    for (i = 0; i < rows->n; i++)
        free(rows->row[i].sealed);
    rows->n = 0;
}

/* Reads the key rows and their version from the store. */
static int store_rows(const struct keyring_options *o, struct sealed_rows *rows, int64_t *version,
                      char *err, size_t err_size)
{
    int rc;

    memset(rows, 0, sizeof(*rows));
    rc = STORE_CALL(o->store, keys_list, collect_row, rows, version);
    if (rc == STORE_OK && rows->failed)
        rc = STORE_ENOMEM;
    if (rc != STORE_OK) {
        snprintf(err, err_size, "cannot read the signing keys from the database: %s",
                 store_strerror(rc));
        sealed_rows_free(rows);
        return -1;
    }
    return 0;
}

/* Unseals rows into set (sorted like a file's). */
static int unseal_rows(const struct keyring_options *o, const struct sealed_rows *rows,
                       struct keyset *set, char *err, size_t err_size)
{
    int i, rc = 0;

    for (i = 0; i < rows->n && rc == 0; i++) {
        const struct sealed_row *r = &rows->row[i];
        char *material = malloc(r->sealed_len + 1);
        size_t len = 0;

        if (material == NULL)
            return -1;
        if (seal_open(o->master_key, r->kid, r->sealed, r->sealed_len, material, r->sealed_len,
                      &len) != SEAL_OK) {
            snprintf(err, err_size, "key %s in the database does not open under "
                     "LATCH_MASTER_KEY_FILE: the file is not the master key it was sealed with",
                     r->kid);
            rc = -1;
        } else {
            material[len] = '\0';
            rc = key_from_parts(r->kid, r->alg, r->created_at, r->signs_from, material,
                                &set->e[set->n], err, err_size);
            if (rc == 0)
                set->n++;
        }
        sodium_memzero(material, r->sealed_len + 1);
        free(material);
    }
    qsort(set->e, (size_t)set->n, sizeof(set->e[0]), by_start);
    return rc;
}

static int load_store(const struct keyring_options *o, struct keyset *set, int64_t *version,
                      char *err, size_t err_size)
{
    struct sealed_rows rows;
    int rc;

    if (store_rows(o, &rows, version, err, err_size) != 0)
        return -1;
    rc = unseal_rows(o, &rows, set, err, err_size);
    sealed_rows_free(&rows);
    return rc;
}

/*
 * Adds a new key of alg (signing from signs_from) to the store's set, and
 * drops the retired keys, in one compare-and-set on the set's version; when
 * only_if_none_started, nothing is added once a started key exists (a start
 * racing other instances to create the first key).  Retries a lost race.
 */
static int apply_store(const struct keyring_options *o, enum jws_alg alg, int64_t now,
                       int64_t signs_from, int only_if_none_started, char *kid_out,
                       size_t kid_size, char *err, size_t err_size)
{
    int attempt;

    for (attempt = 0; attempt < 8; attempt++) {
        struct keyset probe;
        struct store_key add;
        const char *drop[MAX_KEYS];
        struct jws_key *key = NULL;
        char *material = NULL;
        unsigned char *sealed = NULL;
        size_t sealed_len = 0, len;
        int64_t version = 0;
        int i, n_drop = 0, started = 0, rc;

        memset(&probe, 0, sizeof(probe));
        if (load_store(o, &probe, &version, err, err_size) != 0) {
            keyset_clear(&probe);
            return -1;
        }
        for (i = 0; i < probe.n; i++) {
            started |= probe.e[i].signs_from <= now;
            if (state_of(&probe, i, now, o->verify_keep_s) == KEY_RETIRED)
                drop[n_drop++] = jws_key_kid(probe.e[i].key);
        }
        if (only_if_none_started && started) {
            keyset_clear(&probe);
            return 0;
        }
        if (!only_if_none_started)
            signs_from = after_every_key(&probe, signs_from);
        if (generate(alg, &key, &material) != 0) {
            snprintf(err, err_size, "cannot generate a %s key", jws_alg_name(alg));
            keyset_clear(&probe);
            return -1;
        }
        len = strlen(material);
        sealed = malloc(len + SEAL_OVERHEAD);
        rc = sealed == NULL ? -1
                            : seal(o->master_key, jws_key_kid(key), material, len, sealed,
                                   len + SEAL_OVERHEAD, &sealed_len);
        if (rc == SEAL_OK) {
            memset(&add, 0, sizeof(add));
            snprintf(add.kid, sizeof(add.kid), "%s", jws_key_kid(key));
            snprintf(add.alg, sizeof(add.alg), "%s", jws_alg_name(alg));
            add.created_at = now;
            add.signs_from = signs_from;
            add.sealed = sealed;
            add.sealed_len = sealed_len;
            rc = STORE_CALL(o->store, keys_apply, version, &add, drop, n_drop);
            if (rc == STORE_OK)
                snprintf(kid_out, kid_size, "%s", jws_key_kid(key));
            else if (rc != STORE_ECONFLICT)
                snprintf(err, err_size, "cannot write the signing keys to the database: %s",
                         store_strerror(rc));
        } else {
            snprintf(err, err_size, "cannot seal a new key");
        }
        free(sealed);
        material_free(material);
        jws_key_free(key);
        keyset_clear(&probe);
        if (rc != STORE_ECONFLICT)
            return rc == STORE_OK ? 0 : -1;
        /* Another instance changed the set meanwhile: read it again. */
    }
    snprintf(err, err_size, "the signing keys kept changing under this rotation; try again");
    return -1;
}

/* Reads keys.json into set (which may already hold keys).  ENOENT is not an
 * error: the set stays empty.  *doc receives the parsed document. */
static int load_file(const struct keyring_options *o, struct keyset *set, json_t **doc,
                     struct stat *st, char *err, size_t err_size)
{
    char path[PATH_MAX], *text;
    size_t len = 0, i;
    json_t *root, *keys;
    json_error_t jerr;
    int rc;

    path_of(o, KEYRING_FILE, path, sizeof(path));
    *doc = NULL;
    text = malloc(KEYRING_MAX_FILE_BYTES);
    if (text == NULL)
        return -1;
    rc = fsutil_read_secret(path, text, KEYRING_MAX_FILE_BYTES, &len);
    if (rc == FSUTIL_ENOENT) {
        free(text);
        memset(st, 0, sizeof(*st));
        return 0;
    }
    if (rc != FSUTIL_OK) {
        snprintf(err, err_size, "%s: %s", path, fsutil_strerror(rc));
        free(text);
        return -1;
    }
    if (stat(path, st) != 0)
        memset(st, 0, sizeof(*st));
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    sodium_memzero(text, len);
    free(text);
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, err_size, "%s: not a latch key file", path);
        doc_free(root);
        return -1;
    }
    for (i = 0; i < json_array_size(keys) && set->n < MAX_KEYS; i++) {
        char why[256] = "";
        if (key_from_json(json_array_get(keys, i), &set->e[set->n], why, sizeof(why)) != 0) {
            snprintf(err, err_size, "%s: %s", path, why);
            doc_free(root);
            return -1;
        }
        set->n++;
    }
    qsort(set->e, (size_t)set->n, sizeof(set->e[0]), by_start);
    *doc = root;
    return 0;
}

static int save_file(const struct keyring_options *o, json_t *doc, char *err, size_t err_size)
{
    char path[PATH_MAX], *text;
    int rc;

    path_of(o, KEYRING_FILE, path, sizeof(path));
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return -1;
    rc = fsutil_write_secret(path, text, strlen(text));
    sodium_memzero(text, strlen(text));
    free(text);
    if (rc != FSUTIL_OK) {
        snprintf(err, err_size, "%s: cannot write: %s", path, fsutil_strerror(rc));
        return -1;
    }
    return 0;
}

static int add_member(json_t *doc, const struct jws_key *key, const char *material,
                      int64_t created, int64_t from)
{
    json_t *keys = json_object_get(doc, "keys");

    return json_array_append_new(keys, json_pack("{s:s,s:s,s:I,s:I,s:s}", "kid",
                                                 jws_key_kid(key), "alg",
                                                 jws_alg_name(jws_key_alg(key)), "created_at",
                                                 (json_int_t)created, "signs_from",
                                                 (json_int_t)from, "material", material));
}

/* An exclusive lock on <data_dir>/keys.lock, so the CLI and a starting
 * server never write keys.json at once. */
static int lock_dir(const struct keyring_options *o)
{
    char path[PATH_MAX];
    int fd;

    path_of(o, "keys.lock", path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0)
        close(fd);   /* releases the flock */
}

/* Makes sure keys.json has a started key, creating one of alg (importing
 * the secret of an earlier latch, jwt-secret, for HS256) when it has none. */
static int ensure_signing_key(const struct keyring_options *o, enum jws_alg alg, int64_t now,
                              char *err, size_t err_size)
{
    struct keyset probe;
    struct stat st;
    json_t *doc = NULL;
    struct jws_key *key = NULL;
    char *material = NULL;
    int fd, rc = -1, i, have = 0;

    fd = lock_dir(o);
    memset(&probe, 0, sizeof(probe));
    if (load_file(o, &probe, &doc, &st, err, err_size) != 0)
        goto cleanup;
    for (i = 0; i < probe.n; i++)
        if (probe.e[i].signs_from <= now)
            have = 1;
    if (have) {
        rc = 0;
        goto cleanup;
    }
    if (doc == NULL)
        doc = json_pack("{s:[]}", "keys");
    if (alg == JWS_ALG_HS256) {
        char path[PATH_MAX], secret[LATCH_MAX_SECRET_BYTES + 1], kid[32];
        size_t len = 0;

        path_of(o, KEYRING_LEGACY_SECRET_FILE, path, sizeof(path));
        if (fsutil_read_secret(path, secret, sizeof(secret) - 1, &len) == FSUTIL_OK) {
            while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
                len--;
            secret[len] = '\0';
            random_kid(kid);
            if (jws_key_new_hs256(&key, (const unsigned char *)secret, len, kid) == JWS_OK)
                material = strdup(secret);
            sodium_memzero(secret, sizeof(secret));
        }
    }
    if (key == NULL && generate(alg, &key, &material) != 0) {
        snprintf(err, err_size, "cannot generate a %s key", jws_alg_name(alg));
        goto cleanup;
    }
    if (material == NULL || add_member(doc, key, material, now, now) != 0)
        goto cleanup;
    rc = save_file(o, doc, err, err_size);
cleanup:
    material_free(material);
    jws_key_free(key);
    keyset_clear(&probe);
    doc_free(doc);
    unlock_dir(fd);
    return rc;
}

/* A kid for a secret that reveals nothing about it: a keyed hash of it. */
static void secret_kid(const char *secret, size_t len, char out[32])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"latch kid", 9);
    crypto_auth_hmacsha256_final(&st, mac);
    b64url_encode(out, 32, mac, 16);
    sodium_memzero(&st, sizeof(st));
}

/* Which key from outside applies, if any: a PEM file for the asymmetric
 * algorithms (its own algorithm unless one is given explicitly), else
 * LATCH_JWT_SECRET for HS256. */
enum external_kind { EXTERNAL_NONE, EXTERNAL_SECRET, EXTERNAL_PEM };

static enum external_kind external_of(const struct keyring_options *o)
{
    if (o->key_file != NULL && (!o->alg_explicit || o->alg != JWS_ALG_HS256))
        return EXTERNAL_PEM;
    if (o->env_secret != NULL && (!o->alg_explicit || o->alg == JWS_ALG_HS256))
        return EXTERNAL_SECRET;
    return EXTERNAL_NONE;
}

static int load_external(const struct keyring_options *o, struct keyset *set, char *err,
                         size_t err_size)
{
    set->external = 1;
    if (external_of(o) == EXTERNAL_SECRET) {
        size_t len = strlen(o->env_secret);
        char kid[32];

        if (len < LATCH_MIN_SECRET_BYTES || len > LATCH_MAX_SECRET_BYTES) {
            snprintf(err, err_size,
                     "LATCH_JWT_SECRET must be %d to %d bytes long (it is used verbatim as the "
                     "HS256 key); it is %zu",
                     LATCH_MIN_SECRET_BYTES, LATCH_MAX_SECRET_BYTES, len);
            return -1;
        }
        secret_kid(o->env_secret, len, kid);
        if (jws_key_new_hs256(&set->e[0].key, (const unsigned char *)o->env_secret, len, kid) !=
            JWS_OK) {
            snprintf(err, err_size, "LATCH_JWT_SECRET is unusable");
            return -1;
        }
    } else {
        char *pem = malloc(JWS_MAX_PEM_BYTES);
        size_t len = 0;
        enum jws_alg alg;
        char why[256] = "";
        int rc;

        if (pem == NULL)
            return -1;
        rc = fsutil_read_secret(o->key_file, pem, JWS_MAX_PEM_BYTES, &len);
        if (rc != FSUTIL_OK) {
            snprintf(err, err_size, "LATCH_JWT_KEY_FILE %s: %s", o->key_file,
                     fsutil_strerror(rc));
            free(pem);
            return -1;
        }
        rc = jws_key_from_pem(&set->e[0].key, pem, len, &alg, why, sizeof(why));
        sodium_memzero(pem, len);
        free(pem);
        if (rc != JWS_OK) {
            snprintf(err, err_size, "LATCH_JWT_KEY_FILE %s: %s", o->key_file, why);
            return -1;
        }
        if (o->alg_explicit && alg != o->alg) {
            snprintf(err, err_size, "LATCH_JWT_KEY_FILE %s holds an %s key but LATCH_JWT_ALG is %s",
                     o->key_file, jws_alg_name(alg), jws_alg_name(o->alg));
            jws_key_free(set->e[0].key);
            set->e[0].key = NULL;
            return -1;
        }
    }
    set->e[0].signs_from = 0;
    set->n = 1;
    return 0;
}

static int build_set(struct keyring *kr, struct keyset **out, struct stat *st, char *err,
                     size_t err_size)
{
    struct keyset *set = calloc(1, sizeof(*set));
    json_t *doc = NULL;
    int rc;

    if (set == NULL)
        return -1;
    if (external_of(&kr->opts) != EXTERNAL_NONE) {
        rc = load_external(&kr->opts, set, err, err_size);
        memset(st, 0, sizeof(*st));
    } else if (kr->opts.store != NULL) {
        rc = load_store(&kr->opts, set, &kr->seen_version, err, err_size);
        memset(st, 0, sizeof(*st));
    } else {
        rc = load_file(&kr->opts, set, &doc, st, err, err_size);
        doc_free(doc);
    }
    if (rc != 0) {
        keyset_free(set);
        return -1;
    }
    *out = set;
    return 0;
}

/* Refuses an explicit algorithm that differs from the one keys.json
 * records; *recorded receives the recorded one (opts->alg or HS256 when the
 * file holds no key). */
static int check_recorded_alg(const struct keyring_options *opts, enum jws_alg *recorded,
                              char *err, size_t err_size)
{
    struct keyset probe;
    struct stat st;
    json_t *doc = NULL;
    int rc;

    int64_t version = 0;

    memset(&probe, 0, sizeof(probe));
    if (opts->store != NULL) {
        rc = load_store(opts, &probe, &version, err, err_size);
    } else {
        rc = load_file(opts, &probe, &doc, &st, err, err_size);
        doc_free(doc);
    }
    if (rc != 0) {
        keyset_clear(&probe);
        return -1;
    }
    *recorded = recorded_alg(&probe, opts->alg_explicit ? opts->alg : JWS_ALG_HS256);
    keyset_clear(&probe);
    if (opts->alg_explicit && *recorded != opts->alg) {
        char where[PATH_MAX + 32];

        if (opts->store != NULL)
            snprintf(where, sizeof(where), "the database");
        else
            snprintf(where, sizeof(where), "%s/%s", opts->data_dir, KEYRING_FILE);
        snprintf(err, err_size, "LATCH_JWT_ALG / --jwt-alg is %s but the keys in %s record "
                 "%s: leave it unset to keep %s, or change the algorithm with `latch key "
                 "rotate --jwt-alg %s`", jws_alg_name(opts->alg), where,
                 jws_alg_name(*recorded), jws_alg_name(*recorded), jws_alg_name(opts->alg));
        return -1;
    }
    return 0;
}

int keyring_open(struct keyring **out, const struct keyring_options *opts, int create,
                 char *err, size_t err_size, char *warning, size_t warning_size)
{
    struct keyring *kr;
    struct keyset *set = NULL;
    struct stat st;
    enum jws_alg alg = JWS_ALG_HS256;
    enum external_kind external = external_of(opts);

    if (warning_size > 0)
        warning[0] = '\0';
    if (opts->env_secret != NULL && external != EXTERNAL_SECRET)
        snprintf(warning, warning_size, "LATCH_JWT_SECRET is ignored: %s",
                 opts->key_file != NULL ? "LATCH_JWT_KEY_FILE gives the key"
                                        : "LATCH_JWT_ALG is not HS256");
    if (opts->alg_explicit && opts->alg == JWS_ALG_HS256 && opts->key_file != NULL) {
        snprintf(err, err_size, "LATCH_JWT_KEY_FILE holds a PEM key for EdDSA, ES256 or RS256; "
                 "an HS256 key is given with LATCH_JWT_SECRET");
        return -1;
    }
    if (external == EXTERNAL_NONE) {
        if (check_recorded_alg(opts, &alg, err, err_size) != 0)
            return -1;
        if (create && opts->store != NULL) {
            char kid[STORE_KID_BYTES + 1];
            int64_t now = (int64_t)time(NULL);
            if (apply_store(opts, alg, now, now, 1, kid, sizeof(kid), err, err_size) != 0)
                return -1;
        } else if (create && ensure_signing_key(opts, alg, (int64_t)time(NULL), err,
                                                err_size) != 0) {
            return -1;
        }
    }

    kr = calloc(1, sizeof(*kr));
    if (kr == NULL)
        return -1;
    kr->opts = *opts;
    snprintf(kr->data_dir, sizeof(kr->data_dir), "%s", opts->data_dir);
    kr->opts.data_dir = kr->data_dir;
    if (build_set(kr, &set, &st, err, err_size) != 0) {
        free(kr);
        return -1;
    }
    if (external == EXTERNAL_NONE && signing_index(set, (int64_t)time(NULL)) < 0 && create) {
        snprintf(err, err_size, "no started signing key in %s%s%s",
                 opts->store != NULL ? "the database" : opts->data_dir,
                 opts->store != NULL ? "" : "/", opts->store != NULL ? "" : KEYRING_FILE);
        keyset_free(set);
        free(kr);
        return -1;
    }
    pthread_rwlock_init(&kr->lock, NULL);
    kr->set = set;
    kr->alg = recorded_alg(set, alg);
    kr->seen = st;
    *out = kr;
    return 0;
}

void keyring_free(struct keyring *kr)
{
    if (kr == NULL)
        return;
    keyset_free(kr->set);
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

enum jws_alg keyring_alg(struct keyring *kr)
{
    enum jws_alg alg;

    pthread_rwlock_rdlock(&kr->lock);
    alg = kr->alg;
    pthread_rwlock_unlock(&kr->lock);
    return alg;
}

int keyring_count(struct keyring *kr)
{
    int n;

    pthread_rwlock_rdlock(&kr->lock);
    n = kr->set->n;
    pthread_rwlock_unlock(&kr->lock);
    return n;
}

/* Swaps in a freshly built set (reload). */
static void swap_set(struct keyring *kr, struct keyset *set, const struct stat *st)
{
    struct keyset *old;

    pthread_rwlock_wrlock(&kr->lock);
    old = kr->set;
    kr->set = set;
    /* A rotation to another algorithm moves the recorded one with it. */
    kr->alg = recorded_alg(set, kr->alg);
    if (st != NULL)
        kr->seen = *st;
    pthread_rwlock_unlock(&kr->lock);
    keyset_free(old);
}

/* The store's set, reloaded when its version moved (a cheap list of sealed
 * rows; nothing is unsealed while it did not). */
static int reload_store(struct keyring *kr, int force, char *err, size_t err_size)
{
    struct sealed_rows rows;
    struct keyset *set;
    int64_t version = 0;

    if (store_rows(&kr->opts, &rows, &version, err, err_size) != 0)
        return -1;
    if (!force && version == kr->seen_version) {
        sealed_rows_free(&rows);
        return 0;
    }
    set = calloc(1, sizeof(*set));
    if (set == NULL || unseal_rows(&kr->opts, &rows, set, err, err_size) != 0 || set->n == 0) {
        if (set != NULL && set->n == 0)
            snprintf(err, err_size, "the database has no keys; keeping the ones loaded");
        sealed_rows_free(&rows);
        keyset_free(set);
        return -1;
    }
    sealed_rows_free(&rows);
    kr->seen_version = version;
    swap_set(kr, set, NULL);
    return 1;
}

int keyring_reload(struct keyring *kr, int force, char *err, size_t err_size)
{
    char path[PATH_MAX];
    struct keyset *set;
    struct stat st;

    if (kr->set->external)
        return 0;
    if (kr->opts.store != NULL)
        return reload_store(kr, force, err, err_size);
    path_of(&kr->opts, KEYRING_FILE, path, sizeof(path));
    if (!force && stat(path, &st) == 0 && st.st_ino == kr->seen.st_ino &&
        st.st_size == kr->seen.st_size && st.st_mtim.tv_sec == kr->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == kr->seen.st_mtim.tv_nsec)
        return 0;
    if (build_set(kr, &set, &st, err, err_size) != 0)
        return -1;
    if (set->n == 0) {
        snprintf(err, err_size, "%s has no keys; keeping the ones loaded", path);
        keyset_free(set);
        return -1;
    }
    swap_set(kr, set, &st);
    return 1;
}

/* ---- readers ---- */

struct lookup_ctx {
    const struct keyset *set;
    int64_t now, keep_s;
    int found;                   /* index of the key lookup returned, -1 */
};

/*
 * When key i stops verifying: keep_s after the next key takes over, whether
 * that key has started or is only scheduled (pre-published): a token cached
 * now must not outlive its key's retirement.  INT64_MAX while no later key
 * exists (a rotation reloads the keys and clears the cache).
 */
static int64_t retires_at(const struct keyset *set, int i, int64_t keep_s)
{
    return i + 1 < set->n ? set->e[i + 1].signs_from + keep_s : INT64_MAX;
}

static const struct jws_key *lookup(void *p, const char *kid)
{
    struct lookup_ctx *c = p;
    int i;

    /* No kid: the current signing key only. */
    if (kid == NULL) {
        i = signing_index(c->set, c->now);
        c->found = i;
        return i >= 0 ? c->set->e[i].key : NULL;
    }
    for (i = 0; i < c->set->n; i++) {
        const char *k = jws_key_kid(c->set->e[i].key);
        if (k != NULL && strcmp(k, kid) == 0) {
            if (state_of(c->set, i, c->now, c->keep_s) == KEY_RETIRED)
                return NULL;
            c->found = i;
            return c->set->e[i].key;
        }
    }
    return NULL;
}

int keyring_issue(struct keyring *kr, const struct tokens_policy *policy,
                  const struct token_subject *subject, int64_t now, char *out, size_t out_size,
                  size_t *out_len)
{
    int i, rc = TOKENS_ENOMEM;

    pthread_rwlock_rdlock(&kr->lock);
    i = signing_index(kr->set, now);
    if (i >= 0)
        rc = tokens_issue(kr->set->e[i].key, policy, subject, now, out, out_size, out_len);
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

static void lookup_start(struct lookup_ctx *c, const struct keyring *kr, int64_t now)
{
    c->set = kr->set;
    c->now = now;
    c->keep_s = kr->opts.verify_keep_s;
    c->found = -1;
}

int keyring_verify(struct keyring *kr, const char *token, size_t len,
                   const struct tokens_policy *policy, int64_t now, struct token_claims *claims,
                   int64_t *key_until)
{
    struct lookup_ctx c;
    int rc;

    pthread_rwlock_rdlock(&kr->lock);
    lookup_start(&c, kr, now);
    rc = tokens_verify(token, len, lookup, &c, policy, now, claims);
    if (rc == TOKENS_OK && key_until != NULL)
        *key_until = c.found >= 0 ? retires_at(c.set, c.found, c.keep_s) : now;
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

int keyring_verify_signature(struct keyring *kr, const char *token, size_t len, int64_t now,
                             json_t **payload)
{
    struct lookup_ctx c;
    int rc;

    pthread_rwlock_rdlock(&kr->lock);
    lookup_start(&c, kr, now);
    rc = jws_verify(token, len, lookup, &c, payload);
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

char *keyring_jwks(struct keyring *kr, int64_t now)
{
    json_t *doc = json_pack("{s:[]}", "keys"), *keys = json_object_get(doc, "keys"), *jwk;
    char *text;
    int i;

    pthread_rwlock_rdlock(&kr->lock);
    for (i = 0; i < kr->set->n; i++) {
        const struct jws_key *key = kr->set->e[i].key;
        if (jws_key_alg(key) == JWS_ALG_HS256 ||
            state_of(kr->set, i, now, kr->opts.verify_keep_s) == KEY_RETIRED)
            continue;
        if (jws_key_public_jwk(key, &jwk) == JWS_OK)
            json_array_append_new(keys, jwk);
    }
    pthread_rwlock_unlock(&kr->lock);
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    doc_free(doc);
    return text;
}

void keyring_list(struct keyring *kr, int64_t now, keyring_list_fn fn, void *ctx)
{
    int i;

    pthread_rwlock_rdlock(&kr->lock);
    for (i = 0; i < kr->set->n; i++) {
        const struct entry *e = &kr->set->e[i];
        fn(ctx, jws_key_kid(e->key) ? jws_key_kid(e->key) : "", jws_alg_name(jws_key_alg(e->key)),
           e->created_at, e->signs_from, state_of(kr->set, i, now, kr->opts.verify_keep_s));
    }
    pthread_rwlock_unlock(&kr->lock);
}

/* keyring_rotate on the store: the first key if there is none, then the
 * new one, each a compare-and-set of the set's version. */
static int rotate_store(const struct keyring_options *opts, int64_t now, char *kid_out,
                        size_t kid_size, enum jws_alg *alg_out, char *err, size_t err_size)
{
    struct keyset probe;
    int64_t version = 0;
    enum jws_alg alg;

    memset(&probe, 0, sizeof(probe));
    if (load_store(opts, &probe, &version, err, err_size) != 0) {
        keyset_clear(&probe);
        return -1;
    }
    alg = opts->alg_explicit ? opts->alg : recorded_alg(&probe, JWS_ALG_HS256);
    keyset_clear(&probe);
    if (apply_store(opts, alg, now, now, 1, kid_out, kid_size, err, err_size) != 0 ||
        apply_store(opts, alg, now, now + opts->prepublish_s, 0, kid_out, kid_size, err,
                    err_size) != 0)
        return -1;
    *alg_out = alg;
    return 0;
}

int keyring_rotate(const struct keyring_options *opts, int64_t now, char *kid_out,
                   size_t kid_size, enum jws_alg *alg_out, char *err, size_t err_size)
{
    struct keyset probe;
    struct stat st;
    json_t *doc = NULL, *keys, *kept;
    struct jws_key *key = NULL;
    enum jws_alg alg;
    char *material = NULL;
    size_t i;
    int fd, rc = -1, j;

    switch (external_of(opts)) {
    case EXTERNAL_SECRET:
        snprintf(err, err_size, "the signing key comes from LATCH_JWT_SECRET: rotate it by "
                 "setting a new secret and restarting latch");
        return -1;
    case EXTERNAL_PEM:
        snprintf(err, err_size, "the signing key comes from LATCH_JWT_KEY_FILE: rotate it by "
                 "pointing at a new key file and restarting latch");
        return -1;
    case EXTERNAL_NONE:
        break;
    }
    if (opts->store != NULL)
        return rotate_store(opts, now, kid_out, kid_size, alg_out, err, err_size);
    fd = lock_dir(opts);
    memset(&probe, 0, sizeof(probe));
    if (load_file(opts, &probe, &doc, &st, err, err_size) != 0)
        goto cleanup;
    /* The recorded algorithm, unless one is given: that is how it changes. */
    alg = opts->alg_explicit ? opts->alg : recorded_alg(&probe, JWS_ALG_HS256);
    if (probe.n == 0) {
        /* Nothing yet: the first key signs at once, then the rotation. */
        keyset_clear(&probe);
        doc_free(doc);
        doc = NULL;
        unlock_dir(fd);
        fd = -1;
        if (ensure_signing_key(opts, alg, now, err, err_size) != 0)
            goto cleanup;
        fd = lock_dir(opts);
        if (load_file(opts, &probe, &doc, &st, err, err_size) != 0)
            goto cleanup;
    }
    if (doc == NULL)
        goto cleanup;
    /* Retired keys leave the file. */
    keys = json_object_get(doc, "keys");
    kept = json_array();
    for (i = 0; i < json_array_size(keys); i++) {
        json_t *item = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(item, "kid"));
        int retired = 0;
        for (j = 0; j < probe.n; j++)
            if (kid != NULL && jws_key_kid(probe.e[j].key) != NULL &&
                strcmp(kid, jws_key_kid(probe.e[j].key)) == 0)
                retired = state_of(&probe, j, now, opts->verify_keep_s) == KEY_RETIRED;
        if (!retired)
            json_array_append(kept, item);
        else
            member_wipe(item);
    }
    json_object_set_new(doc, "keys", kept);
    if (generate(alg, &key, &material) != 0) {
        snprintf(err, err_size, "cannot generate a %s key", jws_alg_name(alg));
        goto cleanup;
    }
    if (add_member(doc, key, material, now,
                   after_every_key(&probe, now + opts->prepublish_s)) != 0)
        goto cleanup;
    rc = save_file(opts, doc, err, err_size);
    if (rc == 0) {
        snprintf(kid_out, kid_size, "%s", jws_key_kid(key));
        *alg_out = alg;
    }
cleanup:
    material_free(material);
    jws_key_free(key);
    keyset_clear(&probe);
    doc_free(doc);
    unlock_dir(fd);
    return rc;
}

/* ---- moving the key set between a keys.json and a store ---- */

int keyring_export(const struct keyring_options *o, keyring_export_fn fn, void *ctx, char *err,
                   size_t err_size)
{
    struct keyring_export_key k;
    int i, rc = 0;

    if (o->store != NULL) {
        struct sealed_rows rows;
        int64_t version = 0;

        if (store_rows(o, &rows, &version, err, err_size) != 0)
            return -1;
        for (i = 0; i < rows.n && rc == 0; i++) {
            const struct sealed_row *r = &rows.row[i];
            char *material = malloc(r->sealed_len + 1);
            size_t len = 0;

            if (material == NULL ||
                seal_open(o->master_key, r->kid, r->sealed, r->sealed_len, material,
                          r->sealed_len, &len) != SEAL_OK) {
                snprintf(err, err_size, "key %s does not open under the master key", r->kid);
                rc = -1;
            } else {
                material[len] = '\0';
                memset(&k, 0, sizeof(k));
                snprintf(k.kid, sizeof(k.kid), "%s", r->kid);
                snprintf(k.alg, sizeof(k.alg), "%s", r->alg);
                k.created_at = r->created_at;
                k.signs_from = r->signs_from;
                k.material = material;
                rc = fn(ctx, &k);
                sodium_memzero(material, len);
            }
            free(material);
        }
        sealed_rows_free(&rows);
        return rc;
    } else {
        struct keyset probe;
        struct stat st;
        json_t *doc = NULL, *keys;
        size_t j;

        memset(&probe, 0, sizeof(probe));
        if (load_file(o, &probe, &doc, &st, err, err_size) != 0) {
            keyset_clear(&probe);
            return -1;
        }
        keys = json_object_get(doc, "keys");
        for (j = 0; j < json_array_size(keys) && rc == 0; j++) {
            json_t *item = json_array_get(keys, j);
            const char *kid = NULL, *alg = NULL, *material = NULL;
            json_int_t created = 0, from = 0;

            if (json_unpack(item, "{s:s,s:s,s:I,s:I,s:s}", "kid", &kid, "alg", &alg,
                            "created_at", &created, "signs_from", &from, "material",
                            &material) != 0)
                continue;
            memset(&k, 0, sizeof(k));
            snprintf(k.kid, sizeof(k.kid), "%s", kid);
            snprintf(k.alg, sizeof(k.alg), "%s", alg);
            k.created_at = created;
            k.signs_from = from;
            k.material = material;
            rc = fn(ctx, &k);
        }
        keyset_clear(&probe);
        doc_free(doc);
        return rc;
    }
}

int keyring_import(const struct keyring_options *o, const struct keyring_export_key *keys, int n,
                   char *err, size_t err_size)
{
    int i;

    if (o->store == NULL) {
        json_t *doc = json_pack("{s:[]}", "keys"), *arr = json_object_get(doc, "keys");
        int fd, rc;

        for (i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I,s:s}", "kid", keys[i].kid,
                                                 "alg", keys[i].alg, "created_at",
                                                 (json_int_t)keys[i].created_at, "signs_from",
                                                 (json_int_t)keys[i].signs_from, "material",
                                                 keys[i].material));
        fd = lock_dir(o);
        rc = save_file(o, doc, err, err_size);
        unlock_dir(fd);
        doc_free(doc);
        return rc;
    }
    for (i = 0; i <= n; i++) {
        struct sealed_rows rows;
        struct store_key add;
        const char *drop[MAX_KEYS];
        unsigned char *sealed = NULL;
        size_t len, sealed_len = 0;
        int64_t version = 0;
        int j, n_drop = 0, rc;

        if (store_rows(o, &rows, &version, err, err_size) != 0)
            return -1;
        /* The first write drops what the store held. */
        if (i == 0)
            for (j = 0; j < rows.n; j++)
                drop[n_drop++] = rows.row[j].kid;
        if (i == n) {
            rc = n_drop > 0 ? STORE_CALL(o->store, keys_apply, version, NULL, drop, n_drop)
                            : STORE_OK;
            sealed_rows_free(&rows);
            if (rc != STORE_OK) {
                snprintf(err, err_size, "cannot write the keys: %s", store_strerror(rc));
                return -1;
            }
            break;
        }
        len = strlen(keys[i].material);
        sealed = malloc(len + SEAL_OVERHEAD);
        if (sealed == NULL || seal(o->master_key, keys[i].kid, keys[i].material, len, sealed,
                                   len + SEAL_OVERHEAD, &sealed_len) != SEAL_OK) {
            free(sealed);
            sealed_rows_free(&rows);
            return -1;
        }
        memset(&add, 0, sizeof(add));
        snprintf(add.kid, sizeof(add.kid), "%s", keys[i].kid);
        snprintf(add.alg, sizeof(add.alg), "%s", keys[i].alg);
        add.created_at = keys[i].created_at;
        add.signs_from = keys[i].signs_from;
        add.sealed = sealed;
        add.sealed_len = sealed_len;
        rc = STORE_CALL(o->store, keys_apply, version, &add, drop, n_drop);
        free(sealed);
        sealed_rows_free(&rows);
        if (rc != STORE_OK) {
            snprintf(err, err_size, "cannot write key %s: %s", keys[i].kid, store_strerror(rc));
            return -1;
        }
        if (i + 1 == n)
            break;
    }
    return 0;
}
