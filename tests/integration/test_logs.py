"""Logs (issue 12): LATCH_LOG_FORMAT text|json, the access log line of each
request with its request id, X-Request-Id on every answer, security events,
debug-level authentication decisions, and the error line of a 500."""

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import threading
import time

import harness
from harness import LatchServer, bearer

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GENERATED_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16}$")
PASSWORD = "correct horse battery"


def json_lines(server):
    """Every stderr line of the server, parsed (each must be one JSON object)."""
    out = []
    for stream, line in list(server.lines):
        if stream == "stderr" and line:
            out.append(json.loads(line))
    return out


def events(server, name, **match):
    return [e for e in json_lines(server) if e.get("msg") == name
            and all(e.get(k) == v for k, v in match.items())]


def wait_for(fn, timeout=5.0):
    deadline = time.monotonic() + timeout * harness.TIME_SCALE
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def access_line(server, request_id):
    found = wait_for(lambda: events(server, "http.request", request_id=request_id))
    if len(found) != 1:
        raise AssertionError("want one access line for %s, got %r:\n%s"
                             % (request_id, found, server.log_tail()))
    return found[0]


class JsonLogs(harness.LatchTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_module_server(env={
            "LATCH_LOG_FORMAT": "json", "LATCH_TRUSTED_PROXIES": "127.0.0.1/32",
            "LATCH_LOCKOUT_ATTEMPTS": "3"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.server)

    def test_every_line_is_json_with_ts_level_msg(self):
        self.server.get("/healthz")
        lines = json_lines(self.server)
        self.assertGreater(len(lines), 2)
        for entry in lines:
            self.assertRegex(entry["ts"], TS_RE)
            self.assertIn(entry["level"], ("error", "warn", "info", "debug"))
            self.assertIsInstance(entry["msg"], str)

    def test_access_line_fields(self):
        rid = "it.access-1_A"
        resp = self.server.get("/healthz?probe=secret-looking-query",
                               headers={"X-Request-Id": rid,
                                        "X-Forwarded-For": "203.0.113.7"})
        self.assertEqual(resp.headers.get("X-Request-Id"), rid)
        line = access_line(self.server, rid)
        self.assertEqual(line["method"], "GET")
        self.assertEqual(line["path"], "/healthz")          # no query string
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["bytes"], len(resp.content))
        self.assertIsInstance(line["duration_us"], int)
        self.assertGreaterEqual(line["duration_us"], 0)
        self.assertLess(line["duration_us"], 10_000_000)
        self.assertEqual(line["client"], "203.0.113.7")    # after the trusted proxy
        self.assertNotIn("user_id", line)
        self.assertEqual(line["level"], "info")

    def test_pipelined_burst_gets_one_whole_line_each_in_few_writes(self):
        """The HTTP thread holds its access lines and writes them in batches
        (util/log.h's log_hold): each request still gets exactly one whole
        line, in the order answered, and the burst costs far fewer write(2)
        calls than it has requests (the process's syscw, /proc/PID/io)."""
        n = 200
        ids = ["burst-%03d" % i for i in range(n)]
        data = b"".join(harness.http_request_bytes("GET", "/healthz",
                                                   headers=[("X-Request-Id", rid)])
                        for rid in ids)

        def writes():
            with open("/proc/%d/io" % self.server.proc.pid) as f:
                return int(next(l for l in f if l.startswith("syscw:")).split()[1])

        before = writes()
        with harness.RawConnection(self.server.address) as conn:
            conn.send(data)
            for rid in ids:
                resp = conn.read_response()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.header("x-request-id"), rid)
        lines = wait_for(lambda: [e for e in json_lines(self.server)
                                  if e.get("msg") == "http.request"
                                  and e.get("request_id", "").startswith("burst-")]
                         if len(events(self.server, "http.request", request_id=ids[-1])) else [])
        self.assertEqual([e["request_id"] for e in lines], ids, self.server.log_tail())
        self.assertLess(writes() - before, n // 4)

    def test_access_line_has_user_id_when_known(self):
        user, email, token = self.server.new_user(PASSWORD)
        resp = self.server.profile(token, headers={"X-Request-Id": "profile-1"})
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(access_line(self.server, "profile-1")["user_id"], user["id"])
        resp = self.server.login(email, PASSWORD, headers={"X-Request-Id": "login-ok-1"})
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(access_line(self.server, "login-ok-1")["user_id"], user["id"])

    def test_request_id_kept_or_generated(self):
        cases = {"abc": True, "A" * 64: True, "a.b-c_d": True, "A" * 65: False, "a b": False,
                 "a/b": False, "é": False}
        for given, kept in cases.items():
            with self.subTest(given=given):
                resp = self.server.get("/healthz", headers={"X-Request-Id": given})
                got = resp.headers.get("X-Request-Id")
                if kept:
                    self.assertEqual(got, given)
                else:
                    self.assertRegex(got, GENERATED_ID_RE)
                access_line(self.server, got)
        a = self.server.get("/healthz").headers["X-Request-Id"]
        b = self.server.get("/healthz").headers["X-Request-Id"]
        self.assertRegex(a, GENERATED_ID_RE)
        self.assertNotEqual(a, b)

    def test_request_id_on_every_kind_of_answer(self):
        srv = self.server
        answers = [srv.get("/no-such-path"), srv.request("DELETE", "/healthz"),
                   srv.request("OPTIONS", "/login"), srv.profile(None),
                   srv.post("/login", data=b"x" * 20000,
                            headers={"Content-Type": "application/json"}),
                   srv.post("/login", data=b"{}", headers={"Content-Type": "text/plain"}),
                   srv.post_json("/login", {"email": "x"})]
        for resp in answers:
            with self.subTest(status=resp.status_code):
                self.assertRegex(resp.headers.get("X-Request-Id", ""), GENERATED_ID_RE)
        # The adapter's own answers (431, 400) too, and they are logged.
        raw = srv.raw(harness.http_request_bytes(
            "GET", "/healthz", headers=[("X-Request-Id", "adapter-400"), ("Host", "b")]))
        self.assertEqual(raw.status, 400)
        self.assertEqual(raw.header("x-request-id"), "adapter-400")
        self.assertEqual(access_line(srv, "adapter-400")["status"], 400)
        many = [("X-H%d" % i, "v") for i in range(120)] + [("X-Request-Id", "adapter-431")]
        raw = srv.raw(harness.http_request_bytes("GET", "/healthz", headers=many))
        self.assertEqual(raw.status, 431)
        self.assertEqual(raw.header("x-request-id"), "adapter-431")

    def test_login_events_tell_reasons_apart_only_in_the_log(self):
        srv = self.server
        _, email, _ = srv.new_user(PASSWORD)
        unknown = harness.unique_email("nobody")
        r1 = srv.login(unknown, PASSWORD, headers={"X-Request-Id": "lf-unknown"})
        r2 = srv.login(email, "not the password", headers={"X-Request-Id": "lf-wrong"})
        self.assertEqual((r1.status_code, r1.json()), (r2.status_code, r2.json()))
        self.assertEqual(r1.status_code, 401)
        e1 = wait_for(lambda: events(srv, "login.failure", request_id="lf-unknown"))
        e2 = wait_for(lambda: events(srv, "login.failure", request_id="lf-wrong"))
        self.assertEqual(e1[0]["reason"], "unknown_email")
        self.assertEqual(e1[0]["email"], unknown)
        self.assertEqual(e2[0]["reason"], "wrong_password")
        self.assertEqual(e2[0]["email"], email)
        self.assertIn("user_id", e2[0])
        ok = srv.login(email, PASSWORD, headers={"X-Request-Id": "ls-1"})
        self.assertEqual(ok.status_code, 200)
        success = wait_for(lambda: events(srv, "login.success", request_id="ls-1"))
        self.assertEqual(success[0]["email"], email)

    def test_lockout_event(self):
        srv = self.server
        _, email, _ = srv.new_user(PASSWORD)
        for i in range(3):
            self.assertEqual(srv.login(email, "wrong password %d" % i).status_code, 401)
        resp = srv.login(email, PASSWORD, headers={"X-Request-Id": "locked-1"})
        self.assertEqual(resp.status_code, 429)
        locked = wait_for(lambda: events(srv, "login.locked", request_id="locked-1"))
        self.assertEqual(locked[0]["email"], email)
        self.assertGreater(locked[0]["retry_after_s"], 0)
        self.assertEqual(locked[0]["level"], "warn")

    def test_logout_password_and_admin_events(self):
        srv = self.server
        user, email, _ = srv.new_user(PASSWORD)
        token = srv.login(email, PASSWORD).json()["token"]
        resp = srv.post("/logout", headers=dict(bearer(token), **{"X-Request-Id": "logout-1"}))
        self.assertEqual(resp.status_code, 204)
        revoked = wait_for(lambda: events(srv, "token.revoked", request_id="logout-1"))
        self.assertEqual((revoked[0]["user_id"], revoked[0]["scope"], revoked[0]["by"]),
                         (user["id"], "login", "self"))

        token = srv.login(email, PASSWORD).json()["token"]
        resp = srv.post_json("/password", {"current_password": PASSWORD,
                                           "new_password": "another long passphrase"},
                             headers=dict(bearer(token), **{"X-Request-Id": "pw-1"}))
        self.assertEqual(resp.status_code, 204)
        changed = wait_for(lambda: events(srv, "password.changed", request_id="pw-1"))
        self.assertEqual((changed[0]["user_id"], changed[0]["by"]), (user["id"], "self"))

        admin_email, admin_login = harness.make_admin(srv)
        resp = harness.admin_req(srv, "PATCH", "/admin/users/%d" % user["id"],
                                 admin_login["token"], {"disabled": True, "role": "admin"})
        self.assertEqual(resp.status_code, 200, resp.text)
        rid = resp.headers["X-Request-Id"]
        change = wait_for(lambda: events(srv, "admin.user_changed", request_id=rid))
        self.assertEqual(change[0]["action"], "update")
        self.assertEqual(change[0]["user_id"], user["id"])
        self.assertEqual(change[0]["email"], email)
        self.assertIs(change[0]["disabled"], True)
        self.assertEqual(change[0]["role"], "admin")
        self.assertEqual(change[0]["by"], "admin")
        self.assertIsInstance(change[0]["actor_id"], int)

    def test_refresh_reuse_detected_event(self):
        with LatchServer(env={"LATCH_LOG_FORMAT": "json",
                              "LATCH_REFRESH_REUSE_WINDOW_S": "0"}) as srv:
            user, email, _ = srv.new_user(PASSWORD)
            rt = srv.login(email, PASSWORD).json()["refresh_token"]
            self.assertEqual(srv.post_json("/refresh", {"refresh_token": rt}).status_code, 200)
            again = srv.post_json("/refresh", {"refresh_token": rt},
                                  headers={"X-Request-Id": "reuse-2"})
            self.assertEqual(again.status_code, 401)
            found = wait_for(lambda: events(srv, "refresh.reuse_detected", request_id="reuse-2"))
            self.assertEqual(found[0]["user_id"], user["id"])
            self.assertEqual(found[0]["level"], "warn")

    def test_key_rotated_event_from_the_cli(self):
        proc = harness.run_latch(["key", "rotate", "--data-dir", self.server.data_dir],
                                 env={"LATCH_LOG_FORMAT": "json"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [json.loads(line) for line in proc.stderr.splitlines() if line]
        rotated = [e for e in lines if e["msg"] == "key.rotated"]
        self.assertEqual(len(rotated), 1, proc.stderr)
        self.assertIn(rotated[0]["kid"], proc.stdout)
        self.assertEqual(rotated[0]["alg"], "HS256")


class TextLogsAndSwitches(harness.LatchTestCase):

    def test_text_format_is_human_readable(self):
        with LatchServer(env={"LATCH_LOG_FORMAT": "text"}) as srv:
            srv.get("/healthz", headers={"X-Request-Id": "text-1"})
            line = wait_for(lambda: [l for s, l in srv.lines
                                     if "http.request" in l and "text-1" in l])
            self.assertRegex(line[0], r"^latch: http\.request method=GET path=/healthz "
                                      r"status=200 duration_us=\d+ bytes=15 client=127\.0\.0\.1"
                                      r" request_id=text-1$")
            self.assertTrue(all(l.startswith("latch: ") for s, l in srv.lines
                                if s == "stderr" and l))

    def test_default_is_json_when_stderr_is_not_a_terminal(self):
        with LatchServer(env={"LATCH_LOG_FORMAT": None}) as srv:
            srv.get("/healthz")
            lines = json_lines(srv)
            self.assertTrue(any(e["msg"].startswith("listening on") for e in lines), lines)

    def test_default_is_text_on_a_terminal(self):
        master, slave = pty.openpty()
        data_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        env = harness.latch_environment({"LATCH_LOG_FORMAT": None})
        proc = subprocess.Popen([harness.LATCH_BIN, "serve", "--listen", "127.0.0.1:0",
                                 "--data-dir", data_dir], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        out = b""
        try:
            deadline = time.monotonic() + harness.START_TIMEOUT_S
            while b"listening on" not in out and time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        break
        finally:
            proc.terminate()
            proc.wait(harness.STOP_TIMEOUT_S)
            os.close(master)
            harness.shutil.rmtree(data_dir, ignore_errors=True)
        text = out.decode("utf-8", "replace")
        self.assertIn("latch: listening on http://127.0.0.1:", text)
        self.assertNotIn('{"ts"', text)

    def test_access_log_off(self):
        with LatchServer(env={"LATCH_LOG_FORMAT": "json", "LATCH_ACCESS_LOG": "0"}) as srv:
            resp = srv.get("/healthz", headers={"X-Request-Id": "quiet-1"})
            self.assertEqual(resp.headers.get("X-Request-Id"), "quiet-1")
            time.sleep(0.3)
            self.assertEqual(events(srv, "http.request"), [])

    def test_debug_logs_authentication_decisions(self):
        with LatchServer(env={"LATCH_LOG_FORMAT": "json", "LATCH_LOG_LEVEL": "debug"}) as srv:
            user, email, token = srv.new_user(PASSWORD)
            srv.profile(token, headers={"X-Request-Id": "dbg-ok"})
            expired = harness.mint(harness.claims_for(user["id"], email=email,
                                                      now=int(time.time()) - 3600),
                                   srv.secret())
            srv.profile(expired, headers={"X-Request-Id": "dbg-expired"})
            srv.profile(None, headers={"X-Request-Id": "dbg-missing"})
            tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            srv.profile(tampered, headers={"X-Request-Id": "dbg-bad"})
            ok = wait_for(lambda: events(srv, "auth.decision", request_id="dbg-ok"))[0]
            self.assertEqual((ok["result"], ok["via"], ok["user_id"], ok["level"]),
                             ("accepted", "jwt", user["id"], "debug"))
            exp = wait_for(lambda: events(srv, "auth.decision", request_id="dbg-expired"))[0]
            self.assertEqual((exp["result"], exp["reason"], exp["via"]),
                             ("refused", "expired", "jwt"))
            missing = wait_for(lambda: events(srv, "auth.decision", request_id="dbg-missing"))
            self.assertEqual(missing[0]["reason"], "missing")
            bad = wait_for(lambda: events(srv, "auth.decision", request_id="dbg-bad"))[0]
            self.assertEqual(bad["result"], "refused")
            text = "\n".join(l for _, l in srv.lines)
            self.assertNotIn(token, text)
            self.assertNotIn(token.split(".")[2], text)
            self.assertNotIn(PASSWORD, text)

    def test_worker_lines_carry_the_request_id(self):
        # A login's failure is logged by the hashing worker, not the HTTP thread.
        with LatchServer(env={"LATCH_LOG_FORMAT": "json", "LATCH_HASH_WORKERS": "1"}) as srv:
            srv.login(harness.unique_email(), PASSWORD, headers={"X-Request-Id": "worker-1"})
            found = wait_for(lambda: events(srv, "login.failure", request_id="worker-1"))
            self.assertEqual(len(found), 1)

    def test_500_leaves_an_error_line_naming_the_failed_store_call(self):
        harness.backend.skip_unless_sqlite(self, "it holds SQLite's write lock")
        # Another process holds SQLite's write lock past latch's busy
        # timeout: the login's lockout reservation fails, the login answers
        # 500, and the log says which store call failed for which request.
        # PostgreSQL: the lockout table is renamed away for the moment (a lock
        # there would be a timeout, answered 503, not a failure).
        with LatchServer(env={"LATCH_LOG_FORMAT": "json"}) as srv:
            _, email, _ = srv.new_user(PASSWORD)
            if harness.backend.POSTGRES:
                harness.store_query(srv, "ALTER TABLE login_failures RENAME TO lf_away",
                                    write=True)
                try:
                    resp = srv.login(email, PASSWORD, headers={"X-Request-Id": "e500-1"},
                                     timeout=30 * harness.TIME_SCALE)
                finally:
                    harness.store_query(srv, "ALTER TABLE lf_away RENAME TO login_failures",
                                        write=True)
            else:
                conn = sqlite3.connect(os.path.join(srv.data_dir, "latch.db"), timeout=10,
                                       isolation_level=None)
                try:
                    conn.execute("BEGIN EXCLUSIVE")
                    resp = srv.login(email, PASSWORD, headers={"X-Request-Id": "e500-1"},
                                     timeout=30 * harness.TIME_SCALE)
                finally:
                    conn.execute("ROLLBACK")
                    conn.close()
            self.assertError(resp, 500, "Internal Server Error", "Storage failure")
            self.assertEqual(resp.headers.get("X-Request-Id"), "e500-1")
            err = wait_for(lambda: events(srv, "http.server_error", request_id="e500-1"))
            self.assertEqual(len(err), 1, srv.log_tail())
            self.assertEqual(err[0]["level"], "error")
            self.assertEqual(err[0]["store_op"], "login_lookup")
            self.assertEqual(err[0]["path"], "/login")
            self.assertEqual(err[0]["cause"], "Storage failure")
            self.assertEqual(access_line(srv, "e500-1")["status"], 500)
            metrics = harness.metrics(srv)
            self.assertGreaterEqual(metrics['latch_store_errors_total{error="io"}'], 1)
