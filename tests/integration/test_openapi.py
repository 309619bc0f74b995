"""docs/openapi.yaml: linted, served, in step with the router, and the
validator that checks every response of the suite against it (issue 12).

The validator itself (tests/integration/openapi_check.py, hooked into
harness.py) is proven here: it must fail on a wrong status, a wrong body, a
missing declared header, an undeclared header, a wrong media type, and do so
through the real HTTP hooks.
"""

import copy
import json
import os
import re
import subprocess

import harness
import openapi_check
from harness import LatchServer

SPEC = os.path.join(harness.REPO_ROOT, "docs", "openapi.yaml")
ROUTER = os.path.join(harness.REPO_ROOT, "src", "api", "router.c")
VERSION_H = os.path.join(harness.REPO_ROOT, "src", "latch_version.h")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def router_routes():
    """[(pattern, [methods of its Allow header])] from src/api/router.c."""
    with open(ROUTER) as f:
        text = f.read()
    table = text[text.index("static const struct route routes[]"):]
    table = table[:table.index("};")]
    return [(pattern, allow.split(", "))
            for pattern, allow in re.findall(r'\{"(/[^"]*)", "([A-Z, ]+)"', table)]


class Lint(harness.LatchTestCase):

    def test_redocly_lint_clean(self):
        """`redocly lint` with tests/redocly.yaml: no error and no warning (a
        warning is either fixed in the document or its rule is switched off
        in tests/redocly.yaml with the reason)."""
        reason = harness.npm_ready()
        if reason is not None:
            self.fail("@redocly/cli is needed: %s" % reason)
        env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true")
        proc = subprocess.run(["npx", "--no-install", "redocly", "lint", "--config",
                               "redocly.yaml", "--format=json", SPEC],
                              cwd=harness.TESTS_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            self.fail("redocly lint printed no JSON (exit %s): %s %s"
                      % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        problems = ["%s %s: %s" % (p.get("severity"), p.get("ruleId"), p.get("message"))
                    for p in report.get("problems", [])]
        self.assertEqual(report["totals"]["errors"], 0, "\n".join(problems))
        self.assertEqual(report["totals"]["warnings"], 0, "\n".join(problems))
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])

    def test_every_router_route_is_described(self):
        """Each route of router.c is a path of the document, with an
        operation answering 2XX for each method of its Allow header, 405 for
        the others, and OPTIONS answering 204 (a preflight) or 405; and the
        document has no path the router does not know."""
        doc = openapi_check.load_document()
        routes = router_routes()
        self.assertGreaterEqual(len(routes), 20, routes)
        for pattern, allow in routes:
            item = doc["paths"].get(pattern)
            self.assertIsNotNone(item, "route %s is not in docs/openapi.yaml" % pattern)
            self.assertIn("x-other-methods", item, pattern)
            self.assertIn("405", item["x-other-methods"], pattern)
            for method in METHODS:
                op = item.get(method.lower())
                self.assertIsNotNone(op, "%s %s has no operation" % (method, pattern))
                codes = set(op["responses"])
                if method in allow:
                    self.assertTrue(any(c.startswith("2") for c in codes),
                                    "%s %s: no 2XX response" % (method, pattern))
                elif method == "OPTIONS":
                    self.assertTrue(codes & {"204", "405"}, "OPTIONS %s" % pattern)
                else:
                    self.assertIn("405", codes, "%s %s" % (method, pattern))
        self.assertEqual(sorted(doc["paths"]), sorted(p for p, _ in routes))

    def test_version_is_latch_version(self):
        with open(VERSION_H) as f:
            version = re.search(r'#define LATCH_VERSION "([^"]+)"', f.read()).group(1)
        self.assertEqual(openapi_check.load_document()["info"]["version"], version)


class Served(harness.LatchTestCase):

    def test_get_openapi_json_is_the_yaml(self):
        resp = SERVER.get("/openapi.json")
        self.assertJson(resp, 200)
        self.assertEqual(resp.json(), openapi_check.load_document(),
                         "GET /openapi.json differs from docs/openapi.yaml: rebuild latch")
        self.assertEqual(resp.headers.get("Cache-Control"), "no-cache")
        self.assertEqual(resp.headers.get("X-Content-Type-Options"), "nosniff")
        head = SERVER.request("HEAD", "/openapi.json")
        self.assertEqual(head.status_code, 200)
        self.assertEqual(head.content, b"")
        self.assertEqual(head.headers.get("Content-Length"), resp.headers.get("Content-Length"))

    def test_public_and_fixed(self):
        """No authentication; other methods 405; a preflight 204."""
        self.assertEqual(SERVER.get("/openapi.json",
                                    headers=harness.bearer("not.a.token")).status_code, 200)
        resp = SERVER.post("/openapi.json")
        self.assertError(resp, 405, "Method Not Allowed", "Method not allowed here")
        self.assertEqual(resp.headers.get("Allow"), "GET, HEAD")
        self.assertEqual(SERVER.request("OPTIONS", "/openapi.json").status_code, 204)


def _healthz_headers(extra=()):
    return [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"), ("X-Request-Id", "abc123")] + list(extra)


class ValidatorSelfTest(harness.LatchTestCase):
    """The validator must fail on a real mismatch."""

    def check(self, method, target, status, headers, body):
        return openapi_check.check_response(method, target, status, headers, body)

    def assertFlags(self, problems, needle):
        self.assertTrue(problems, "the validator accepted it")
        self.assertTrue(any(needle in p for p in problems), problems)

    def test_a_described_response_passes(self):
        self.assertEqual(self.check("GET", "/healthz", 200, _healthz_headers(),
                                    b'{"status":"ok"}'), [])
        self.assertEqual(self.check("HEAD", "/healthz?x=1", 200, _healthz_headers(), b""), [])

    def test_wrong_status(self):
        self.assertFlags(self.check("GET", "/healthz", 201, _healthz_headers(),
                                    b'{"status":"ok"}'), "status 201 is not listed")
        self.assertFlags(self.check("POST", "/login", 204, [("X-Request-Id", "a")], b""),
                         "status 204 is not listed")

    def test_wrong_body(self):
        self.assertFlags(self.check("GET", "/healthz", 200, _healthz_headers(),
                                    b'{"status":"fine"}'), "body")
        self.assertFlags(self.check("GET", "/healthz", 200, _healthz_headers(), b'not json'),
                         "not JSON")
        # The error shape: exactly error and message, error the status's phrase.
        self.assertFlags(self.check("PUT", "/healthz", 405, _healthz_headers([("Allow", "GET")]),
                                    b'{"error":"Not Found","message":"x"}'), "body")
        self.assertFlags(self.check("PUT", "/healthz", 405, _healthz_headers([("Allow", "GET")]),
                                    b'{"error":"Method Not Allowed","message":"Method not '
                                    b'allowed here","hint":1}'), "body")
        # A user object must never carry more (a password hash).
        user = {"id": 2, "email": "b@example.com", "role": "user", "disabled": False,
                "email_verified": True, "mfa": False, "created_at": "2026-11-29T00:20:00Z"}
        self.assertEqual(self.check("GET", "/admin/users/2", 200, _healthz_headers(),
                                    json.dumps(user).encode()), [])
        # Every member of the user object is sent, every time (issue 11).
        self.assertFlags(self.check("GET", "/admin/users/2", 200, _healthz_headers(),
                                    json.dumps(dict(user, mfa=None)).encode()), "mfa")
        del user["email_verified"]
        self.assertFlags(self.check("GET", "/admin/users/2", 200, _healthz_headers(),
                                    json.dumps(user).encode()), "email_verified")
        user["email_verified"] = False
        user["password_hash"] = "$argon2id$..."
        self.assertFlags(self.check("GET", "/admin/users/2", 200, _healthz_headers(),
                                    json.dumps(user).encode()), "password_hash")

    def test_missing_declared_header(self):
        headers = [h for h in _healthz_headers() if h[0] != "X-Request-Id"]
        self.assertFlags(self.check("GET", "/healthz", 200, headers, b'{"status":"ok"}'),
                         "required header x-request-id is missing")
        # A 401 without WWW-Authenticate, a 405 without Allow, a 429 without Retry-After.
        error = b'{"error":"Unauthorized","message":"Missing token"}'
        self.assertFlags(self.check("GET", "/profile", 401, _healthz_headers(), error),
                         "www-authenticate is missing")
        error = b'{"error":"Method Not Allowed","message":"Method not allowed here"}'
        self.assertFlags(self.check("PUT", "/profile", 405, _healthz_headers(), error),
                         "allow is missing")
        error = b'{"error":"Too Many Requests","message":"Too many attempts, try again later"}'
        self.assertFlags(self.check("POST", "/login", 429, _healthz_headers(), error),
                         "retry-after is missing")
        # /verify's 200 always says whether the address is verified.
        verified = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                    ("X-Request-Id", "a"), ("X-Auth-User-Id", "1"), ("X-Auth-Role", "user")]
        self.assertFlags(self.check("GET", "/verify", 200, verified, b'{"status":"ok"}'),
                         "x-auth-email-verified is missing")
        self.assertEqual(self.check("GET", "/verify", 200,
                                    verified + [("X-Auth-Email-Verified", "false")],
                                    b'{"status":"ok"}'), [])
        self.assertFlags(self.check("GET", "/verify", 200,
                                    verified + [("X-Auth-Email-Verified", "no")],
                                    b'{"status":"ok"}'), "x-auth-email-verified")

    def test_undeclared_or_wrong_header(self):
        self.assertFlags(self.check("GET", "/healthz", 200,
                                    _healthz_headers([("Set-Cookie", "latch_session=x")]),
                                    b'{"status":"ok"}'), "set-cookie")
        self.assertFlags(self.check("GET", "/healthz", 200,
                                    [("Cache-Control", "public") if h[0] == "Cache-Control"
                                     else h for h in _healthz_headers()],
                                    b'{"status":"ok"}'), "cache-control")
        error = b'{"error":"Too Many Requests","message":"Too many attempts, try again later"}'
        self.assertFlags(self.check("POST", "/login", 429,
                                    _healthz_headers([("Retry-After", "soon")]), error),
                         "retry-after")

    def test_wrong_media_type_or_body_presence(self):
        self.assertFlags(self.check("GET", "/healthz", 200,
                                    [("Content-Type", "text/plain") if h[0] == "Content-Type"
                                     else h for h in _healthz_headers()], b'{"status":"ok"}'),
                         "Content-Type")
        self.assertFlags(self.check("POST", "/logout", 204, [("X-Request-Id", "a")], b"{}"),
                         "no content")
        self.assertFlags(self.check("GET", "/metrics", 200,
                                    [("Content-Type", "text/plain; version=0.0.5"),
                                     ("Cache-Control", "no-store"), ("X-Request-Id", "a")],
                                    b"x 1\n"), "Content-Type")

    def test_paths_and_exemptions(self):
        # A path that is not a route: its 404 is exempt, anything else is not.
        self.assertEqual(self.check("GET", "/nope", 404, [], b""), [])
        self.assertFlags(self.check("GET", "/nope", 200, _healthz_headers(), b"{}"),
                         "not listed")
        # {id} as the router reads it: no leading zero, no 0.
        self.assertEqual(self.check("GET", "/admin/users/01", 404, [], b""), [])
        self.assertFlags(self.check("GET", "/admin/users/1", 200, _healthz_headers(), b"{}"),
                         "body")
        # The HTTP layer's answers are latch's own (issue 14): one without
        # an X-Request-Id or with an HTML body is a mismatch like any other,
        # and the 505 is described like the 400s.
        self.assertFlags(self.check("GET", "/healthz", 505, [("Content-Type", "text/html")],
                                    b"<html>505</html>"), "Content-Type")
        self.assertFlags(self.check("GET", "/healthz", 400, [], b""),
                         "x-request-id is missing")
        version = (b'{"error":"HTTP Version Not Supported",'
                   b'"message":"Only HTTP/1.0 and HTTP/1.1 are served"}')
        self.assertEqual(self.check("GET", "/healthz", 505, _healthz_headers(), version), [])
        self.assertEqual(self.check("PRI", "*", 505, _healthz_headers(), version), [])
        self.assertFlags(self.check("GET", "/healthz", 505, _healthz_headers(), b"{}"),
                         "body")
        # An answer to bytes that are no request line: x-unknown-path, and
        # never a 404 (nothing was routed).
        malformed = b'{"error":"Bad Request","message":"Malformed request line"}'
        self.assertEqual(self.check(None, None, 400, _healthz_headers(), malformed), [])
        self.assertFlags(self.check(None, None, 404, _healthz_headers(),
                                    b'{"error":"Not Found","message":"No such endpoint"}'),
                         "not listed")
        # A method OpenAPI has no field for: the path's x-other-methods.
        error = b'{"error":"Method Not Allowed","message":"Method not allowed here"}'
        self.assertEqual(self.check("get", "/healthz", 405,
                                    _healthz_headers([("Allow", "GET, HEAD")]), error), [])
        self.assertFlags(self.check("FOO", "/healthz", 200, _healthz_headers(),
                                    b'{"status":"ok"}'), "not listed")

    def test_request_tracker(self):
        """Raw bytes are matched to the request they carry: empty lines
        before a request line are skipped, a line that is no request line
        is answered as UNREAD_REQUEST, and a head refused before it was
        complete as what its request line says."""
        tracker = openapi_check.RequestTracker()
        tracker.sent(b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(tracker.next_request(), ("GET", "/healthz"))
        self.assertIsNone(tracker.next_request())
        tracker = openapi_check.RequestTracker()
        tracker.sent(b"GET /healthz\r\n\r\n")
        self.assertEqual(tracker.next_request(), openapi_check.UNREAD_REQUEST)
        self.assertIsNone(tracker.next_request())
        tracker = openapi_check.RequestTracker()
        tracker.sent(b"GET /readyz HTTP/1.1\r\nX: " + b"a" * 20000)
        self.assertEqual(tracker.next_request(), ("GET", "/readyz"))
        tracker = openapi_check.RequestTracker()
        tracker.sent(b"GET /" + b"a" * 20000)
        self.assertEqual(tracker.next_request(), openapi_check.UNREAD_REQUEST)

    def test_the_http_layer_answers_are_validated(self):
        """Through the real hooks: the HTTP layer's refusals (a malformed
        request line, another HTTP version, a request line over 16 KiB) are
        validated, also when the tracker could not read a request line."""
        before = openapi_check.counts()["validated"]
        for data, status, body in [
                (b"GET /healthz\r\n\r\n", 400,
                 {"error": "Bad Request", "message": "Malformed request line"}),
                (harness.http_request_bytes("GET", "/healthz", version="HTTP/2.0"), 505,
                 {"error": "HTTP Version Not Supported",
                  "message": "Only HTTP/1.0 and HTTP/1.1 are served"}),
                (b"GET /" + b"a" * (17 * 1024), 414,
                 {"error": "URI Too Long", "message": "Request line exceeds 16 KiB"})]:
            resp = SERVER.raw(data)
            self.assertEqual((resp.status, resp.json()), (status, body), resp)
            self.assertIsNotNone(resp.header("X-Request-Id"), resp)
        self.assertEqual(openapi_check.counts()["validated"], before + 3)
        broken = copy.deepcopy(openapi_check.load_document())
        del broken["x-unknown-path"]["400"]
        with openapi_check.use_document(broken):
            with self.assertRaises(openapi_check.Mismatch):
                SERVER.raw(b"GET /healthz\r\n\r\n")
        self.assertEqual(len(openapi_check.take_mismatches()), 1)

    def test_the_hooks_raise_and_record(self):
        """Through the real hooks: a document that lacks GET /healthz's 200
        makes both a `requests` call and a raw exchange fail."""
        broken = copy.deepcopy(openapi_check.load_document())
        del broken["paths"]["/healthz"]["get"]["responses"]["200"]
        with openapi_check.use_document(broken):
            with self.assertRaises(openapi_check.Mismatch):
                SERVER.get("/healthz")
            with self.assertRaises(openapi_check.Mismatch):
                SERVER.raw(harness.http_request_bytes("GET", "/healthz"))
            # Pipelined on one raw connection: each answer is matched to its
            # own request (the first passes, the second is GET /healthz).
            with harness.RawConnection(SERVER.address) as conn:
                conn.send(harness.http_request_bytes("GET", "/readyz")
                          + harness.http_request_bytes("GET", "/healthz"))
                self.assertEqual(conn.read_response().status, 200)
                with self.assertRaises(openapi_check.Mismatch):
                    conn.read_response()
        recorded = openapi_check.take_mismatches()
        self.assertEqual(len(recorded), 3, recorded)
        self.assertTrue(all("GET /healthz -> 200" in m for m in recorded), recorded)
        # The real document describes it again.
        self.assertEqual(SERVER.get("/healthz").status_code, 200)

    def test_validation_is_on(self):
        """make test runs with the validator on (LATCH_OPENAPI_VALIDATE=0 is
        for debugging only), and it has seen this module's responses."""
        self.assertTrue(openapi_check.ENABLED,
                        "LATCH_OPENAPI_VALIDATE=0: responses are not being validated")
        before = openapi_check.counts()["validated"]
        SERVER.get("/healthz")
        self.assertEqual(openapi_check.counts()["validated"], before + 1)
