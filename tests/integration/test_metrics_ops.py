"""GET /metrics for operators (issue 12): the page passes `promtool check
metrics`; requests by route and status class, durations, logins by outcome,
the hashing queue, store calls, revocations held, build info; a separate
listener (LATCH_METRICS_LISTEN) and a bearer token (LATCH_METRICS_TOKEN)."""

import re
import shutil
import subprocess
import time

import harness
from harness import LatchServer, bearer

PASSWORD = "correct horse battery"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool_check(test, text):
    """`promtool check metrics` (Debian's prometheus package) on a page:
    exit 0 and nothing reported."""
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    test.assertEqual((proc.returncode, proc.stdout), (0, ""),
                     "promtool check metrics: %s" % proc.stdout)


def series(text):
    """{"name{labels}": value} of a page."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def metrics_port(server):
    """The port of the metrics listener, from its start line (logged just
    after the main listener's)."""
    deadline = time.monotonic() + 5 * harness.TIME_SCALE
    while time.monotonic() < deadline:
        for _, line in list(server.lines):
            m = re.search(r"/metrics served apart on http://127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        time.sleep(0.05)
    raise AssertionError("no metrics listener line:\n%s" % server.log_tail())


class Metrics(harness.LatchTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_module_server(env={"LATCH_LOCKOUT_ATTEMPTS": "2"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.server)

    def page(self):
        resp = self.server.get("/metrics")
        self.assertEqual(resp.status_code, 200)
        return resp.text

    def test_promtool_accepts_the_page(self):
        self.assertTrue(shutil.which(PROMTOOL) or shutil.os.path.exists(PROMTOOL),
                        "promtool missing: scripts/deps.sh test installs Debian's prometheus")
        self.server.new_user(PASSWORD)
        self.server.get("/nope")
        promtool_check(self, self.page())

    def test_requests_by_route_and_class_and_durations(self):
        before = series(self.page())
        self.server.post_json("/login", {"email": "x"})            # 400
        self.server.get("/no/such/path")                           # 404: other
        self.server.get("/healthz")
        self.server.get("/admin/users/7")                          # 401 on a {id} route
        time.sleep(0.2)
        after = series(self.page())

        def delta(key):
            return after.get(key, 0) - before.get(key, 0)
        self.assertEqual(delta('latch_http_requests_total{route="/login",code="4xx"}'), 1)
        self.assertEqual(delta('latch_http_requests_total{route="other",code="4xx"}'), 1)
        self.assertEqual(delta('latch_http_requests_total{route="/healthz",code="2xx"}'), 1)
        self.assertEqual(
            delta('latch_http_requests_total{route="/admin/users/{id}",code="4xx"}'), 1)
        self.assertEqual(
            delta('latch_http_request_duration_seconds_count{route="/healthz"}'), 1)
        self.assertEqual(
            delta('latch_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}'), 1)
        self.assertGreater(delta('latch_http_request_duration_seconds_sum{route="/healthz"}'), 0)

    def test_logins_by_outcome_queue_store_and_revocations(self):
        before = series(self.page())
        _, email, token = self.server.new_user(PASSWORD)          # one success
        self.server.login(email, "wrong password 1")
        self.server.login(email, "wrong password 2")
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 429)   # locked
        self.assertEqual(self.server.post("/logout", headers=bearer(token)).status_code, 204)
        after = series(self.page())

        def delta(key):
            return after[key] - before.get(key, 0)
        self.assertEqual(delta('latch_logins_total{outcome="success"}'), 1)
        self.assertEqual(delta('latch_logins_total{outcome="failure"}'), 2)
        self.assertEqual(delta('latch_logins_total{outcome="locked"}'), 1)
        self.assertEqual(after['latch_logins_total{outcome="mfa_required"}'], 0)
        # register + 3 logins went through the pool (the locked one did not)
        self.assertEqual(delta("latch_hash_queue_wait_seconds_count"), 4)
        self.assertEqual(after["latch_hash_queue_depth"], 0)
        self.assertEqual(after["latch_hash_queue_capacity"], 64)
        self.assertGreaterEqual(after["latch_hash_workers"], 1)
        self.assertGreater(delta("latch_store_call_duration_seconds_count"), 5)
        self.assertEqual(after['latch_store_errors_total{error="io"}'], 0)
        self.assertIn('latch_store_errors_total{error="unavailable"}', after)
        self.assertGreaterEqual(delta("latch_revocations_held"), 1)
        for name in ("latch_token_cache_hits_total", "latch_connections_open"):
            self.assertIn(name, after)

    def test_build_info(self):
        text = self.page()
        match = re.search(r'^latch_build_info\{version="([^"]+)",commit="([^"]+)"\} 1$', text,
                          re.M)
        self.assertIsNotNone(match, text[:500])
        version = harness.run_latch(["--version"]).stdout
        self.assertEqual(version.strip(), "latch %s (commit %s)" % match.groups())


class MetricsListenerAndToken(harness.LatchTestCase):

    def test_separate_listener_removes_public_metrics(self):
        with LatchServer(env={"LATCH_METRICS_LISTEN": "127.0.0.1:0"}) as srv:
            # Port 0 binds any free port: the log line says which.
            port = metrics_port(srv)
            for method in ("GET", "HEAD", "POST", "OPTIONS"):
                resp = srv.request(method, "/metrics")
                self.assertEqual(resp.status_code, 404, method)
            self.assertError(srv.get("/metrics"), 404, "Not Found", "No such endpoint")
            url = "http://127.0.0.1:%d" % port
            resp = harness.requests.get(url + "/metrics", timeout=harness.HTTP_TIMEOUT_S)
            self.assertEqual(resp.status_code, 200)
            self.assertTrue(resp.headers["Content-Type"].startswith("text/plain"))
            self.assertIn("X-Request-Id", resp.headers)
            promtool_check(self, resp.text)
            self.assertIn('latch_http_requests_total{route="other",code="4xx"} 5', resp.text)
            self.assertEqual(harness.requests.get(url + "/healthz").status_code, 404)
            self.assertEqual(harness.requests.post(url + "/metrics").status_code, 405)
            self.assertEqual(srv.get("/healthz").status_code, 200)

    def test_bad_metrics_listen_refused(self):
        rc, out = harness.start_refused(env={"LATCH_METRICS_LISTEN": "nonsense"})
        self.assertEqual(rc, 2)
        self.assertIn("LATCH_METRICS_LISTEN", out)

    def test_token_required(self):
        token = "metrics-" + harness.b64url(harness.os.urandom(24))
        with LatchServer(env={"LATCH_METRICS_TOKEN": token}) as srv:
            resp = srv.get("/metrics")
            self.assertMissingToken(resp)
            self.assertInvalidToken(srv.get("/metrics", headers=bearer(token + "x")))
            self.assertInvalidToken(srv.get("/metrics", headers=bearer(token[:-1])))
            self.assertMissingToken(srv.get("/metrics", headers={"Authorization": "Basic eDp5"}))
            resp = srv.get("/metrics", headers=bearer(token))
            self.assertEqual(resp.status_code, 200)
            promtool_check(self, resp.text)
            self.assertNotIn(token, srv.log_text())

    def test_token_on_the_separate_listener(self):
        token = "t" + harness.b64url(harness.os.urandom(30))
        with LatchServer(env={"LATCH_METRICS_TOKEN": token,
                              "LATCH_METRICS_LISTEN": "127.0.0.1:0"}) as srv:
            url = "http://127.0.0.1:%d/metrics" % metrics_port(srv)
            self.assertEqual(harness.requests.get(url).status_code, 401)
            self.assertEqual(harness.requests.get(url, headers=bearer(token)).status_code, 200)
