"""The store the integration suite runs against (issue 10: both, one behaviour).

LATCH_TEST_BACKEND=sqlite (default) or postgres.  With postgres,
LATCH_TEST_PG holds the libpq conninfo of a throwaway cluster's admin
database (scripts/run-tests.sh starts one); every test server then gets a
database of its own (created here, dropped when the server's data dir goes)
and a master key file, and `latch` commands run with --data-dir D reach the
same database as the server of D.

What tests read from the store directly goes through query() and keys_doc(),
which work on either backend.
"""

import json
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import uuid

BACKEND = os.environ.get("LATCH_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("LATCH_TEST_PG", "")

if BACKEND not in ("sqlite", "postgres"):
    raise SystemExit("LATCH_TEST_BACKEND must be sqlite or postgres, not %r" % BACKEND)
if BACKEND == "postgres" and not PG_ADMIN:
    raise SystemExit("LATCH_TEST_BACKEND=postgres needs LATCH_TEST_PG (scripts/run-tests.sh)")

POSTGRES = BACKEND == "postgres"

_lock = threading.Lock()
_by_dir = {}            # data dir -> {"db": name, "url": conninfo, "key": master key path}
_key_dir = None


def skip_unless_sqlite(test, why):
    """Skips a test that is about SQLite itself (its file, its pragmas)."""
    if POSTGRES:
        import unittest
        raise unittest.SkipTest("SQLite only: %s" % why)


def conninfo(dbname):
    """The admin conninfo with another database."""
    if re.search(r"(^|\s)dbname=\S+", PG_ADMIN):
        return re.sub(r"(^|\s)dbname=\S+", r"\1dbname=%s" % dbname, PG_ADMIN)
    return PG_ADMIN + " dbname=%s" % dbname


def admin():
    import psycopg2
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    return conn


def new_master_key():
    global _key_dir
    with _lock:
        if _key_dir is None:
            _key_dir = tempfile.mkdtemp(prefix="latch-mk-")
            # Traversable (a test drops latch to nobody, who must reach its
            # key file); the files themselves stay 0600.
            os.chmod(_key_dir, 0o711)
    path = os.path.join(_key_dir, "mk-%s" % uuid.uuid4().hex[:12])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path


def provision(data_dir):
    """A fresh database and master key for a server's data dir (postgres);
    returns the environment that selects them ({} for sqlite)."""
    if not POSTGRES:
        return {}
    with _lock:
        known = _by_dir.get(data_dir)
    if known is None:
        name = "latch_%s" % uuid.uuid4().hex[:16]
        conn = admin()
        try:
            conn.cursor().execute("CREATE DATABASE %s" % name)
        finally:
            conn.close()
        known = {"db": name, "url": conninfo(name), "key": new_master_key()}
        with _lock:
            _by_dir[data_dir] = known
    return {"LATCH_DATABASE_URL": known["url"], "LATCH_MASTER_KEY_FILE": known["key"]}


def env_for(data_dir):
    with _lock:
        known = _by_dir.get(data_dir)
    if known is None:
        return {}
    return {"LATCH_DATABASE_URL": known["url"], "LATCH_MASTER_KEY_FILE": known["key"]}


def release(data_dir):
    """Drops a data dir's database (postgres)."""
    with _lock:
        known = _by_dir.pop(data_dir, None)
    if known is None:
        return
    try:
        conn = admin()
        try:
            conn.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % known["db"])
        finally:
            conn.close()
    except Exception:
        pass
    try:
        os.unlink(known["key"])
    except OSError:
        pass


def query(data_dir, sql, params=(), write=False):
    """Rows of sql (with ? placeholders) on the store of data_dir's server."""
    if POSTGRES:
        import psycopg2
        with _lock:
            known = _by_dir[data_dir]
        conn = psycopg2.connect(known["url"])
        try:
            cur = conn.cursor()
            cur.execute(sql.replace("?", "%s"), tuple(
                psycopg2.Binary(p) if isinstance(p, (bytes, bytearray)) else p for p in params))
            rows = cur.fetchall() if cur.description is not None else []
            conn.commit()
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                    for row in rows]
        finally:
            conn.close()
    path = os.path.join(data_dir, "latch.db")
    uri = "file:%s%s" % (path, "" if write else "?mode=ro")
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        rows = conn.execute(sql, params).fetchall()
        if write:
            conn.commit()
        return rows
    finally:
        conn.close()


def keys_doc(data_dir):
    """The signing keys as keys.json holds them: {"keys": [{kid, alg,
    created_at, signs_from, material}]}, unsealed from the database with the
    master key on postgres."""
    if not POSTGRES:
        with open(os.path.join(data_dir, "keys.json"), "rb") as f:
            return json.loads(f.read())
    import nacl.bindings as nb
    with _lock:
        known = _by_dir[data_dir]
    with open(known["key"], "rb") as f:
        master = f.read()
    keys = []
    for kid, alg, created, signs_from, sealed in query(
            data_dir, "SELECT kid, alg, created_at, signs_from, sealed FROM keys "
                      "ORDER BY signs_from, created_at"):
        sealed = bytes(sealed)
        material = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[24:], kid.encode("ascii"), sealed[:24], master)
        keys.append({"kid": kid, "alg": alg, "created_at": created, "signs_from": signs_from,
                     "material": material.decode("ascii")})
    return {"keys": keys}
