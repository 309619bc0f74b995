"""Crash safety (issue 5): nothing acknowledged is lost.

20 times, on one data dir kept across iterations: start latch, run concurrent
registrations and logouts (of tokens issued in earlier iterations), kill the
server with SIGKILL at a random moment, check the database file with
`PRAGMA integrity_check` (read-only, while no server runs), restart, and check
that every registration that received 201 can log in and every logout that
received 204 still has its token refused (401 on /profile).

An operation counts as acknowledged only when its whole response was read
(requests reads the body before returning); one cut off by the kill may or may
not have happened and is not checked.
"""

import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import harness
from harness import LatchTestCase, bearer, unique_email

ITERATIONS = 20
REGISTER_THREADS = 4
LOGOUT_THREADS = 2
LOAD_MIN_S = 0.05          # the kill comes this long ...
LOAD_MAX_S = 0.45          # ... to this long after the load began
OLD_USERS_PER_ROUND = 4    # earlier registrations re-checked after each restart
PASSWORD = "correct horse battery"
ENV = {"LATCH_ARGON2_MEMORY_KIB": "8192", "LATCH_ARGON2_ITERATIONS": "1"}
HTTP_TIMEOUT_S = 5.0


def integrity_check(db_path):
    """PRAGMA integrity_check on a read-only connection; returns its rows.
    PostgreSQL keeps its own files whole (its WAL): nothing to check here,
    and what this test asserts (nothing acknowledged is lost) holds all the
    same."""
    if harness.backend.POSTGRES:
        return ["ok"]
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()


class Load:
    """Registrations and logouts from threads until stop is set."""

    def __init__(self, server, logout_tokens, seed):
        self.server = server
        self.url = server.url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.tokens = list(logout_tokens)
        self.registered = []       # emails that got a full 201
        self.revoked = []          # tokens whose logout got a full 204
        self.other = []            # unexpected full answers: (what, status, body)
        self.rng = random.Random(seed)
        self.threads = []

    def _register(self):
        session = requests.Session()
        while not self.stop.is_set():
            email = unique_email("crash")
            try:
                resp = session.post(self.url + "/register", json={"email": email,
                                                                  "password": PASSWORD},
                                    timeout=HTTP_TIMEOUT_S)
                body = resp.json() if resp.status_code == 201 else None
            except (requests.RequestException, ValueError):
                return             # the server died: this one is unknown
            with self.lock:
                if resp.status_code == 201 and body.get("email") == email:
                    self.registered.append(email)
                elif resp.status_code != 503:   # 503: hash queue full, retry
                    self.other.append(("register", resp.status_code, resp.text[:200]))

    def _logout(self):
        session = requests.Session()
        while not self.stop.is_set():
            with self.lock:
                if not self.tokens:
                    return
                token = self.tokens.pop()
            try:
                resp = session.post(self.url + "/logout", headers=bearer(token),
                                    timeout=HTTP_TIMEOUT_S)
                resp.content
            except requests.RequestException:
                return
            with self.lock:
                if resp.status_code == 204:
                    self.revoked.append(token)
                else:
                    self.other.append(("logout", resp.status_code, resp.text[:200]))

    def start(self):
        for target, n in ((self._register, REGISTER_THREADS), (self._logout, LOGOUT_THREADS)):
            for _ in range(n):
                thread = threading.Thread(target=target, daemon=True)
                thread.start()
                self.threads.append(thread)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(HTTP_TIMEOUT_S + 5)


class CrashSafety(LatchTestCase):
    def test_sigkill_loses_no_acknowledged_write(self):
        data_dir = tempfile.mkdtemp(prefix="latch-crash-")
        db_path = os.path.join(data_dir, "latch.db")
        server = harness.LatchServer(env=ENV, data_dir=data_dir)
        rng = random.Random(int(os.environ.get("LATCH_CRASH_SEED", "0")) or None)
        registered = []            # every email acknowledged so far
        revoked = []               # every token whose logout was acknowledged
        fresh_tokens = []          # valid tokens for the next round's logouts
        totals = {"registered": 0, "revoked": 0}
        try:
            server.start()
            for _ in range(8):     # a first batch of users with tokens
                _, email, token = server.new_user(PASSWORD, prefix="crash")
                registered.append(email)
                fresh_tokens.append(token)
            for iteration in range(ITERATIONS):
                if not server.running():
                    server.start()
                load = Load(server, fresh_tokens, rng.random())
                load.start()
                # Scaled under valgrind, where a request takes far longer.
                time.sleep(rng.uniform(LOAD_MIN_S, LOAD_MAX_S) * harness.TIME_SCALE)
                server.kill()                                   # SIGKILL
                load.finish()
                self.assertEqual(server.last_exit_code, None)   # not a clean stop
                self.assertFalse(load.other, "iteration %d: unexpected answers: %r"
                                 % (iteration, load.other[:5]))
                totals["registered"] += len(load.registered)
                totals["revoked"] += len(load.revoked)

                self.assertEqual(integrity_check(db_path), ["ok"],
                                 "iteration %d: database after SIGKILL" % iteration)

                server.start()
                registered.extend(load.registered)
                revoked.extend(load.revoked)
                old = rng.sample(registered[:-len(load.registered) or None],
                                 min(OLD_USERS_PER_ROUND, len(registered)))
                fresh_tokens = []
                for email in list(load.registered) + old:
                    resp = server.login(email, PASSWORD)
                    self.assertEqual(resp.status_code, 200,
                                     "iteration %d: %s got 201 before the kill but cannot "
                                     "log in after the restart: %s %s"
                                     % (iteration, email, resp.status_code, resp.text))
                    fresh_tokens.append(resp.json()["token"])
                for token in revoked:
                    resp = server.profile(token)
                    self.assertEqual(resp.status_code, 401,
                                     "iteration %d: a token whose logout got 204 before the "
                                     "kill is accepted after the restart: %s %s"
                                     % (iteration, resp.status_code, resp.text[:200]))
                if len(fresh_tokens) < LOGOUT_THREADS * 2:
                    for _ in range(4):
                        _, email, token = server.new_user(PASSWORD, prefix="crash")
                        registered.append(email)
                        fresh_tokens.append(token)

            # Every registration acknowledged in any round, once more.
            def can_log_in(email):
                return email, server.login(email, PASSWORD).status_code

            with ThreadPoolExecutor(4) as pool:
                failed = [(e, s) for e, s in pool.map(can_log_in, registered) if s != 200]
            self.assertFalse(failed, "acknowledged registrations that cannot log in: %r"
                             % failed[:10])
            # The load did something worth checking.
            self.assertGreater(totals["registered"], ITERATIONS,
                               "too few registrations under load: %r" % totals)
            self.assertGreater(totals["revoked"], ITERATIONS, "too few logouts: %r" % totals)
            if os.environ.get("LATCH_CRASH_VERBOSE") == "1":
                sys.stderr.write("crash safety: %d rounds, acknowledged under load: %d "
                                 "registrations, %d logouts\n"
                                 % (ITERATIONS, totals["registered"], totals["revoked"]))
            self.assertEqual(server.stop(), 0)
            self.assertEqual(integrity_check(db_path), ["ok"], "database after SIGTERM")
        finally:
            server.kill()
            harness.backend.release(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


LOGIN_ROUNDS = 5
LOGIN_THREADS = 4


class LoginsSurviveACrashOfLatch(LatchTestCase):
    """A password login is answered once its commit is in the database's log,
    before the log is synced to disk (docs/security.md, durability): a crash
    of latch itself must still keep every login it answered.  Logins run on
    several threads, latch is killed with SIGKILL at a random moment, and
    after the restart every refresh token answered before the kill still
    refreshes (200), on both backends."""

    def test_sigkill_keeps_every_answered_login(self):
        data_dir = tempfile.mkdtemp(prefix="latch-crash-login-")
        server = harness.LatchServer(env=ENV, data_dir=data_dir)
        rng = random.Random(int(os.environ.get("LATCH_CRASH_SEED", "0")) or None)
        answered_total = 0
        try:
            server.start()
            emails = [server.new_user(PASSWORD, prefix="crashlogin")[1]
                      for _ in range(LOGIN_THREADS)]
            for round_no in range(LOGIN_ROUNDS):
                if not server.running():
                    server.start()
                stop = threading.Event()
                lock = threading.Lock()
                answered, other = [], []

                def log_in(email):
                    session = requests.Session()
                    while not stop.is_set():
                        try:
                            resp = session.post(server.url + "/login",
                                                json={"email": email, "password": PASSWORD},
                                                timeout=HTTP_TIMEOUT_S)
                            body = resp.json()
                        except (requests.RequestException, ValueError):
                            return     # the server died: this one is unknown
                        with lock:
                            if resp.status_code == 200:
                                answered.append(body["refresh_token"])
                            elif resp.status_code != 503:
                                other.append((resp.status_code, resp.text[:200]))

                threads = [threading.Thread(target=log_in, args=(e,), daemon=True)
                           for e in emails]
                for thread in threads:
                    thread.start()
                time.sleep(rng.uniform(LOAD_MIN_S, LOAD_MAX_S) * harness.TIME_SCALE)
                server.kill()                                   # SIGKILL
                stop.set()
                for thread in threads:
                    thread.join(HTTP_TIMEOUT_S + 5)
                self.assertFalse(other, "round %d: unexpected answers: %r" % (round_no, other[:5]))
                server.start()
                lost = []
                for token in answered:
                    resp = server.post_json("/refresh", {"refresh_token": token})
                    if resp.status_code != 200:
                        lost.append((resp.status_code, resp.text[:200]))
                self.assertFalse(lost, "round %d: %d of %d logins answered before the kill "
                                 "are gone after the restart: %r"
                                 % (round_no, len(lost), len(answered), lost[:3]))
                answered_total += len(answered)
            self.assertGreater(answered_total, LOGIN_ROUNDS, "too few logins under load")
            self.assertEqual(server.stop(), 0)
        finally:
            server.kill()
            harness.backend.release(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)
