"""`latch db copy` (issue 10): SQLite -> PostgreSQL and back, so that users
stay logged in across the move.

A SQLite deployment with users, live tokens, a revoked login and rotated
keys is copied into PostgreSQL; a latch on PostgreSQL then accepts a token
and a refresh token issued before the copy, still refuses the revoked one,
publishes the same keys, and every table's count matches; the copy back into
a new SQLite file works the same.  The target must be empty unless --force;
a password inside a URL is refused; the source is left as it was.  The
tables of issue 11 go too: a TOTP user (its secret re-sealed under the
target's master key) logs in with a code after each move, and the mail
waiting in the outbox opens there (`latch mail list`).
Runs on the PostgreSQL pass (it needs both backends).
"""

import os
import shutil
import signal
import tempfile
import time
import unittest
import uuid

import json

import pyotp

import harness
from harness import LatchTestCase, bearer


def enrol_totp(srv, token):
    """TOTP on for the token's user, confirmed with the previous step's code;
    returns the secret."""
    headers = dict(bearer(token), **{"Content-Type": "application/json"})
    resp = srv.post("/mfa/totp", headers=headers,
                    data=json.dumps({"password": PASSWORD}).encode())
    assert resp.status_code == 200, resp.text
    secret = resp.json()["secret"]
    code = pyotp.TOTP(secret).at(time.time() - 30)
    resp = srv.post("/mfa/totp/confirm", headers=headers, data=json.dumps({"code": code}).encode())
    assert resp.status_code == 200, resp.text
    return secret


def totp_login(test, srv, email, secret, offset_steps):
    step = test.assertJson(srv.login(email, PASSWORD), 200)
    test.assertTrue(step.get("mfa_required"), step)
    code = pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)
    return test.assertJson(srv.post_json("/login/mfa", {"mfa_token": step["mfa_token"],
                                                       "code": code}), 200)

PASSWORD = "correct horse battery"
TABLES = ["users", "families", "refresh_tokens", "sessions", "revocations", "login_failures",
          "email_tokens", "outbox", "totp", "recovery_codes", "mfa_tokens"]
SQLITE_ONLY = {"LATCH_DATABASE_URL": None, "LATCH_MASTER_KEY_FILE": None,
               "LATCH_JWT_ALG": "EdDSA", "LATCH_KEY_PREPUBLISH_S": "0"}


def setUpModule():
    if not harness.backend.POSTGRES:
        raise unittest.SkipTest("db copy between backends: the PostgreSQL pass runs it")


def new_pg_database():
    name = "latch_copy_%s" % uuid.uuid4().hex[:12]
    conn = harness.backend.admin()
    try:
        conn.cursor().execute("CREATE DATABASE %s" % name)
    finally:
        conn.close()
    return name, harness.backend.conninfo(name)


def drop_pg_database(name):
    conn = harness.backend.admin()
    try:
        conn.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    finally:
        conn.close()


def sqlite_rows(path):
    import sqlite3
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return {t: sorted(conn.execute("SELECT * FROM %s" % t).fetchall()) for t in TABLES}
    finally:
        conn.close()


def pg_count(url, table):
    import psycopg2
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM %s" % table)
        return cur.fetchone()[0]
    finally:
        conn.close()


def copy(src, dst, extra=(), env=None):
    return harness.run_latch(["db", "copy", "--from", src, "--to", dst] + list(extra), env=env,
                             timeout=120)


class CopyRoundTrip(LatchTestCase):
    def test_sqlite_to_postgres_and_back(self):
        work = tempfile.mkdtemp(prefix="latch-copy-")
        pg_name, pg_url = new_pg_database()
        master = harness.backend.new_master_key()
        try:
            # A SQLite deployment with some history.
            src = harness.LatchServer(env=SQLITE_ONLY, data_dir=os.path.join(work, "sqlite"))
            os.mkdir(src.data_dir)
            src.start()
            user, email, _ = src.new_user()
            live = self.assertJson(src.login(email, PASSWORD), 200)
            revoked = self.assertJson(src.login(email, PASSWORD), 200)
            self.assertEqual(src.post("/logout", headers=bearer(revoked["token"])).status_code,
                             204)
            for _ in range(3):
                src.new_user()
            _, totp_email, totp_token = src.new_user()
            secret = enrol_totp(src, totp_token)
            self.assertJson(src.login(totp_email, PASSWORD), 200)   # leaves an mfa_token
            proc = harness.key_rotate(src.data_dir, env=SQLITE_ONLY)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            src.proc.send_signal(signal.SIGHUP)       # load the rotated keys now
            deadline = time.time() + 5
            while len(harness.jwks_kids(src)) < 2 and time.time() < deadline:
                time.sleep(0.05)
            jwks = sorted(harness.jwks_kids(src))
            self.assertEqual(len(jwks), 2)
            src.stop()
            db = os.path.join(src.data_dir, "latch.db")
            before = sqlite_rows(db)

            env = {"LATCH_MASTER_KEY_FILE": master, "LATCH_DATABASE_URL": None}
            proc = copy("sqlite:" + db, pg_url, env=env)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            for table in TABLES:
                self.assertRegex(proc.stdout, r"(?m)^%s\s+%d$" % (table, len(before[table])))
                self.assertEqual(pg_count(pg_url, table), len(before[table]), table)
            self.assertEqual(sqlite_rows(db), before, "the source changed")

            # latch on PostgreSQL: the logins made on SQLite go on.
            pg_env = {"LATCH_DATABASE_URL": pg_url, "LATCH_MASTER_KEY_FILE": master}
            with harness.LatchServer(env=pg_env) as dst:
                self.assertEqual(sorted(harness.jwks_kids(dst)), jwks)
                self.assertProfileOk(dst.profile(live["token"]), user)
                self.assertInvalidToken(dst.profile(revoked["token"]))
                refreshed = self.assertJson(dst.post_json(
                    "/refresh", {"refresh_token": live["refresh_token"]}), 200)
                self.assertProfileOk(dst.profile(refreshed["token"]), user)
                self.assertJson(dst.login(email, PASSWORD), 200)
                totp_login(self, dst, totp_email, secret, 0)
            listed = harness.run_latch(["mail", "list"], env=pg_env)
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertIn("verify-email#token=", listed.stdout)

            # The target holds users now: refused without --force.
            proc = copy("sqlite:" + db, pg_url, env=env)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("--force", proc.stderr)
            proc = copy("sqlite:" + db, pg_url, ["--force"], env=env)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

            # And back into a new SQLite file.
            back_dir = os.path.join(work, "back")
            os.mkdir(back_dir, 0o700)
            proc = copy(pg_url, "sqlite:" + os.path.join(back_dir, "latch.db"), env=env)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertEqual({t: len(r) for t, r in sqlite_rows(
                os.path.join(back_dir, "latch.db")).items()},
                {t: len(r) for t, r in before.items()})
            with harness.LatchServer(env=SQLITE_ONLY, data_dir=back_dir) as back:
                self.assertEqual(sorted(harness.jwks_kids(back)), jwks)
                self.assertProfileOk(back.profile(live["token"]), user)
                self.assertInvalidToken(back.profile(revoked["token"]))
                totp_login(self, back, totp_email, secret, 1)
        finally:
            drop_pg_database(pg_name)
            shutil.rmtree(work, ignore_errors=True)
            os.unlink(master)

    def test_password_in_a_url_is_refused(self):
        proc = copy("sqlite:/nonexistent/latch.db", "postgres://latch:s3cret@127.0.0.1/latch")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("password", proc.stderr)
        self.assertNotIn("s3cret", proc.stdout + proc.stderr)
