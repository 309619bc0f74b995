"""`latch user import` and `latch user export` (issue 12): users brought from
other systems keep their passwords.

Hashes are made here the way those systems make them: bcrypt with Debian's
python3-bcrypt ($2a$, $2b$, $2y$), Argon2id and Argon2i with python3-argon2,
PBKDF2-SHA256 in Django's form with hashlib and in passlib's form with
python3-passlib.  An imported user logs in with the old password, and the
stored hash becomes latch's Argon2id at that first success; a wrong password
or the hash itself typed as the password is refused.  Malformed lines are
reported with their numbers and skipped (--strict stops at the first),
existing emails are skipped and counted, and an export (mode 0600) imports
into another latch.
"""

import base64
import hashlib
import json
import os
import re
import stat
import tempfile
import time

import harness
from harness import BAD_LOGIN, LatchTestCase, unique_email

PASSWORD = "old system password"


def bcrypt_hash(prefix):
    import bcrypt
    h = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
    return "$%s$" % prefix + h[4:]          # 2a/2b/2y: one algorithm, three labels


def argon2_hash(kind):
    import argon2
    t = argon2.Type.ID if kind == "id" else argon2.Type.I
    return argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=4,
                                 type=t).hash(PASSWORD)


def django_hash(iterations=1000):
    salt = "DjangoSalt1234"
    raw = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), iterations)
    return "pbkdf2_sha256$%d$%s$%s" % (iterations, salt, base64.b64encode(raw).decode())


def passlib_hash():
    from passlib.hash import pbkdf2_sha256
    return pbkdf2_sha256.using(rounds=1000).hash(PASSWORD)


def write_lines(lines):
    fd, path = tempfile.mkstemp(prefix="latch-import-", suffix=".jsonl")
    with os.fdopen(fd, "w") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def run(args, data_dir):
    return harness.run_latch(["user"] + args + ["--data-dir", data_dir], timeout=300)


def stored_hash(srv, email):
    return harness.store_query(srv, "SELECT password_hash FROM users WHERE email = ?",
                               (email,))[0][0]


class Import(LatchTestCase):
    def test_every_format_logs_in_and_becomes_argon2id(self):
        hashes = {"bcrypt-2a": bcrypt_hash("2a"), "bcrypt-2b": bcrypt_hash("2b"),
                  "bcrypt-2y": bcrypt_hash("2y"), "argon2id": argon2_hash("id"),
                  "argon2i": argon2_hash("i"), "django": django_hash(),
                  "passlib": passlib_hash()}
        users = {kind: unique_email(kind.replace("-", "")) for kind in hashes}
        lines = [{"email": users[k], "password_hash": h, "role": "user",
                  "created_at": "2021-03-04T05:06:07Z"} for k, h in hashes.items()]
        path = write_lines(lines)
        with harness.LatchServer() as srv:
            try:
                proc = run(["import", path], srv.data_dir)
            finally:
                os.unlink(path)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("imported %d users" % len(lines), proc.stdout)
            for kind, email in users.items():
                with self.subTest(kind=kind):
                    self.assertEqual(stored_hash(srv, email), hashes[kind])
                    # A hash is never a password, and a wrong password is wrong.
                    self.assertJson(srv.login(email, hashes[kind]), 401, BAD_LOGIN)
                    self.assertJson(srv.login(email, PASSWORD + "x"), 401, BAD_LOGIN)
                    body = self.assertJson(srv.login(email, PASSWORD), 200)
                    self.assertTrue(stored_hash(srv, email).startswith("$argon2id$"),
                                    stored_hash(srv, email))
                    self.assertNotEqual(stored_hash(srv, email), hashes[kind])
                    self.assertJson(srv.login(email, PASSWORD), 200)
                    profile = self.assertJson(srv.profile(body["token"]), 200)
                    self.assertEqual(profile["created_at"], "2021-03-04T05:06:07Z")

    def test_bad_lines_reported_and_skipped(self):
        good = unique_email("good")
        taken = unique_email("taken")
        lines = [
            {"email": good, "password_hash": bcrypt_hash("2b")},            # 1
            "not json",                                                      # 2
            {"email": unique_email(), "password_hash": "md5$abc$def"},       # 3 unknown format
            {"password_hash": bcrypt_hash("2b")},                            # 4 no email
            {"email": "caf\u00e9@example.com", "password_hash": bcrypt_hash("2b")},  # 5
            {"email": unique_email(), "password_hash": "$2b$20$" + "a" * 53},  # 6 cost 20
            {"email": unique_email(), "password_hash": bcrypt_hash("2b"), "role": "root"},  # 7
            {"email": good, "password_hash": bcrypt_hash("2b")},            # 8 duplicate
            {"email": taken, "password_hash": bcrypt_hash("2b")},           # 9 exists
            {"email": unique_email(), "password_hash": "pbkdf2_sha256$100000000$salt$" +
             base64.b64encode(b"x" * 32).decode()},                          # 10 too costly
            {"email": unique_email(), "password_hash": bcrypt_hash("2b"),
             "disabled": "no"},                                              # 11
        ]
        path = write_lines(lines)
        with harness.LatchServer() as srv:
            self.assertJson(srv.register(taken, "correct horse battery"), 201)
            try:
                proc = run(["import", path], srv.data_dir)
                strict = run(["import", path, "--strict"], srv.data_dir)
            finally:
                os.unlink(path)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for n in (2, 3, 4, 5, 6, 7, 10, 11):
                self.assertRegex(proc.stderr, r"line %d: " % n)
            for n in (1, 8, 9):
                self.assertNotRegex(proc.stderr, r"line %d: " % n)
            self.assertIn("imported 1 users, skipped 2 existing emails and 8 unusable lines",
                          proc.stdout)
            # The account that existed keeps its password.
            self.assertJson(srv.login(taken, "correct horse battery"), 200)
            self.assertJson(srv.login(good, PASSWORD), 200)
            # --strict: stops at line 2, exit 1.
            self.assertEqual(strict.returncode, 1)
            self.assertIn("stopped at line 2", strict.stderr)
            self.assertNotRegex(strict.stderr, r"line 3: ")

    def test_export_then_import_elsewhere(self):
        with harness.LatchServer() as src, harness.LatchServer() as dst:
            users = [src.new_user(PASSWORD)[1] for _ in range(3)]
            admin = unique_email("admin")
            self.assertEqual(harness.user_add(src.data_dir, admin, PASSWORD).returncode, 0)
            out = os.path.join(tempfile.mkdtemp(prefix="latch-export-"), "users.jsonl")
            try:
                proc = run(["export", out], src.data_dir)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("exported 4 users", proc.stdout)
                self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
                rows = [json.loads(line) for line in open(out)]
                self.assertEqual(sorted(r["email"] for r in rows), sorted(users + [admin]))
                self.assertTrue(all(r["password_hash"].startswith("$argon2id$") for r in rows))
                self.assertEqual([r["role"] for r in rows if r["email"] == admin], ["admin"])
                proc = run(["import", out], dst.data_dir)
                self.assertEqual(proc.returncode, 0, proc.stderr)
            finally:
                os.unlink(out)
                os.rmdir(os.path.dirname(out))
            for email in users + [admin]:
                self.assertJson(dst.login(email, PASSWORD), 200)
            admin_token = dst.login(admin, PASSWORD).json()["token"]
            self.assertEqual(dst.get("/verify?role=admin",
                                     headers=harness.bearer(admin_token)).status_code, 200)

    def test_verified_and_second_factor_across_an_export(self):
        """email_verified travels both ways; a TOTP secret does not leave
        the store: export refuses (writing nothing) while a user has TOTP,
        --drop-mfa exports them marked "mfa": true and says how many lost
        it, import counts them, and they log in with the password alone."""
        import pyotp
        with harness.LatchServer() as src, harness.LatchServer() as dst:
            _, plain, _ = src.new_user(PASSWORD)
            _, totp_user, token = src.new_user(PASSWORD)
            headers = dict(harness.bearer(token), **{"Content-Type": "application/json"})
            resp = src.post("/mfa/totp", headers=headers,
                            data=json.dumps({"password": PASSWORD}).encode())
            self.assertEqual(resp.status_code, 200, resp.text)
            code = pyotp.TOTP(resp.json()["secret"]).now()
            resp = src.post("/mfa/totp/confirm", headers=headers,
                            data=json.dumps({"code": code}).encode())
            self.assertEqual(resp.status_code, 200, resp.text)
            out = os.path.join(tempfile.mkdtemp(prefix="latch-export-"), "users.jsonl")
            given_email = unique_email("given")
            given = write_lines([{"email": given_email, "password_hash": bcrypt_hash("2b")}])
            try:
                proc = run(["export", out], src.data_dir)
                self.assertEqual(proc.returncode, 1, proc.stdout)
                self.assertIn("1 users have a second factor", proc.stderr)
                self.assertIn("--drop-mfa", proc.stderr)
                self.assertFalse(os.path.exists(out))
                self.assertEqual(os.listdir(os.path.dirname(out)), [])
                proc = run(["export", out, "--drop-mfa"], src.data_dir)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("exported 2 users", proc.stdout)
                self.assertIn("1 users lost their second factor", proc.stderr)
                self.assertNotIn(PASSWORD, proc.stderr + proc.stdout)
                rows = {r["email"]: r for r in (json.loads(line) for line in open(out))}
                # Self-registered users have not proven their address yet.
                self.assertIs(rows[plain]["email_verified"], False)
                self.assertIs(rows[plain]["mfa"], False)
                self.assertIs(rows[totp_user]["mfa"], True)
                self.assertEqual(set(rows[totp_user]), {"email", "password_hash", "role",
                                                        "created_at", "disabled",
                                                        "email_verified", "mfa"})
                proc = run(["import", out], dst.data_dir)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("1 imported users had a second factor", proc.stderr)
                proc = run(["import", given], dst.data_dir)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertNotIn("second factor", proc.stderr)
            finally:
                os.unlink(out)
                os.rmdir(os.path.dirname(out))
                os.unlink(given)
            body = self.assertJson(dst.login(plain, PASSWORD), 200)
            self.assertIs(dst.profile(body["token"]).json()["email_verified"], False)
            body = self.assertJson(dst.login(totp_user, PASSWORD), 200)
            self.assertNotIn("mfa_required", body)
            self.assertIs(dst.profile(body["token"]).json()["mfa"], False)
            # A line without email_verified: imported users start verified.
            body = self.assertJson(dst.login(given_email, PASSWORD), 200)
            self.assertIs(dst.profile(body["token"]).json()["email_verified"], True)

    def test_hundred_thousand_users(self):
        # Measured, not asserted (the issue asks for under a minute on SQLite):
        # the time is printed in the test log.
        harness.skip_if_valgrind("100,000 rows")
        h = bcrypt_hash("2b")
        n = 100000
        fd, path = tempfile.mkstemp(prefix="latch-import-", suffix=".jsonl")
        with os.fdopen(fd, "w") as f:
            for i in range(n):
                f.write('{"email":"bulk-%06d@example.com","password_hash":"%s"}\n' % (i, h))
        with harness.LatchServer() as srv:
            try:
                start = time.monotonic()
                proc = run(["import", path], srv.data_dir)
                took = time.monotonic() - start
            finally:
                os.unlink(path)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("imported %d users" % n, proc.stdout)
            print("\n    [import] %d users on %s in %.1f s: %s" % (
                n, harness.backend.BACKEND, took, proc.stdout.strip()))
            count = harness.store_query(srv, "SELECT count(*) FROM users")[0][0]
            self.assertEqual(count, n)
            self.assertJson(srv.login("bulk-054321@example.com", PASSWORD), 200)
