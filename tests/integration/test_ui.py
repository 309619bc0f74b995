"""The lesson page (issue 13): LATCH_UI=1 serves GET / and its script, style
sheet and icon from the copies compiled into the binary (src/ui/,
src/api/ui.c).

- Served files: the bytes of src/ui/, their content types, the security
  headers (CSP without inline script or style, nosniff, no-referrer), HEAD,
  405 for other methods; the page loads nothing but its own files.
- Off (the default, LATCH_UI=0, --ui 0): every UI path answers exactly like an
  unknown path; a malformed LATCH_UI stops start-up.
- In Chromium (Debian's chromium driven by playwright-core, js/ui_flow.mjs),
  the whole flow against a real latch in jwt, both and session mode: what the
  page shows (decoded userId, role, email; 200, then 401 after tampering and
  after logout; the same refresh successor within the reuse window; the
  session cookie and CSRF), that the access token travels in the
  Authorization header only (never a URL, body, other header, Web Storage or
  a readable cookie), no uncaught exception, no CSP violation, no console
  error but the 4xx the flow asks for, no /favicon.ico request, contrast of
  at least 4.5:1, no horizontal scrolling at 375 px.  These skip only when
  Chromium could not be installed.
"""

import json
import os
import re
import shutil
import tempfile
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import harness
from harness import LatchTestCase, http_request_bytes

UI_DIR = os.path.join(harness.REPO_ROOT, "src", "ui")
# path -> (file in src/ui, Content-Type)
UI_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/style.css": ("style.css", "text/css; charset=utf-8"),
    "/ui/icon.svg": ("icon.svg", "image/svg+xml"),
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
NOT_FOUND = {"error": "Not Found", "message": "No such endpoint"}
PASSWORD = "correct horse battery"
# Chromium's console line for a fetch that got a 4xx (the flow asks for some).
RESOURCE_4XX_RE = re.compile(r"^Failed to load resource: the server responded with a status "
                             r"of (4\d\d) \(")


def read_ui_file(name):
    with open(os.path.join(UI_DIR, name), "rb") as f:
        return f.read()


class _PageParts(HTMLParser):
    """Collects what index.html loads and what CSP would have to allow."""

    def __init__(self):
        super().__init__()
        self.refs = []             # (tag, attribute, value) of src/href
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attrs = []
        self.event_attrs = []
        self.icons = []
        self.inputs = []           # ids of <input>
        self.label_fors = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if name in attrs:
                self.refs.append((tag, name, attrs[name]))
        if tag == "script":
            self._in_script = True
            if "src" not in attrs:
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if "style" in attrs:
            self.style_attrs.append(tag)
        self.event_attrs += [n for n in attrs if n.startswith("on")]
        if tag == "link" and "icon" in (attrs.get("rel") or "").split():
            self.icons.append(attrs.get("href"))
        if tag == "input":
            self.inputs.append(attrs.get("id"))
        if tag == "label":
            self.label_fors.append(attrs.get("for"))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1


def _csp_directives(value):
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


class UiServed(LatchTestCase):
    """LATCH_UI=1: the page and its files."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_module_server(env={"LATCH_UI": "1"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.server)

    def test_files_are_the_bytes_of_src_ui(self):
        for path, (name, ctype) in UI_FILES.items():
            with self.subTest(path=path):
                resp = self.server.get(path)
                self.assertEqual(resp.status_code, 200, resp.text[:200])
                self.assertEqual(resp.headers.get("Content-Type"), ctype)
                self.assertEqual(resp.content, read_ui_file(name))

    def test_security_headers_on_every_file(self):
        for path in UI_FILES:
            with self.subTest(path=path):
                resp = self.server.get(path)
                self.assertEqual(resp.headers.get("Content-Security-Policy"), CSP)
                self.assertEqual(resp.headers.get("X-Content-Type-Options"), "nosniff")
                self.assertEqual(resp.headers.get("Referrer-Policy"), "no-referrer")
                self.assertEqual(resp.headers.get("Cache-Control"), "no-cache")
        # What the policy means, directive by directive: nothing inline, nothing
        # from elsewhere, no framing, no form submission, no <base>.
        csp = _csp_directives(self.server.get("/").headers["Content-Security-Policy"])
        for directive in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
            self.assertEqual(csp.get(directive), ["'self'"], directive)
        for directive in ("frame-ancestors", "base-uri", "form-action"):
            self.assertEqual(csp.get(directive), ["'none'"], directive)

    def test_head_answers_like_get_without_body(self):
        for path, (name, ctype) in UI_FILES.items():
            with self.subTest(path=path):
                resp = self.server.raw(http_request_bytes("HEAD", path), head_request=True)
                self.assertEqual(resp.status, 200, repr(resp))
                self.assertEqual(resp.header("content-type"), ctype)
                self.assertEqual(resp.header("content-length"), str(len(read_ui_file(name))))
                self.assertEqual(resp.header("content-security-policy"), CSP)
                self.assertEqual(resp.body, b"")

    def test_other_methods_405(self):
        for path in UI_FILES:
            for method in ("POST", "PATCH", "DELETE"):
                with self.subTest(path=path, method=method):
                    resp = self.server.request(method, path)
                    self.assertError(resp, 405, "Method Not Allowed")
                    self.assertEqual(resp.headers.get("Allow"), "GET, HEAD")
            resp = self.server.request("OPTIONS", path)
            self.assertEqual(resp.status_code, 204)
            self.assertEqual(resp.headers.get("Allow"), "GET, HEAD")

    def test_page_loads_only_its_own_files(self):
        page = _PageParts()
        page.feed(self.server.get("/").text)
        self.assertTrue(page.refs, "index.html references nothing?")
        for tag, attr, value in page.refs:
            with self.subTest(ref=value):
                self.assertTrue(value.startswith("/") and not value.startswith("//"),
                                "%s %s=%r is not a path on this server" % (tag, attr, value))
                self.assertEqual(self.server.get(value).status_code, 200, value)
        self.assertEqual(page.inline_scripts, 0, "inline script (CSP forbids it)")
        self.assertEqual(page.style_elements, 0, "<style> element (CSP forbids it)")
        self.assertEqual(page.style_attrs, [], "style= attributes (CSP forbids them)")
        self.assertEqual(page.event_attrs, [], "on*= handlers (CSP forbids them)")
        # The icon is linked, so browsers do not ask for /favicon.ico.
        self.assertEqual(page.icons, ["/ui/icon.svg"])
        # Every input has a <label for>.
        self.assertTrue(page.inputs)
        for input_id in page.inputs:
            self.assertIn(input_id, page.label_fors)

    def test_other_paths_stay_unknown(self):
        for path in ("/ui/", "/ui", "/ui/nope.js", "/index.html", "/ui/app.js/", "/favicon.ico",
                     "//", "/ui/../ui/app.js", "/UI/app.js"):
            with self.subTest(path=path):
                # Sent raw: an HTTP client library would resolve the dot segments.
                resp = self.server.raw(http_request_bytes("GET", path))
                self.assertEqual(resp.status, 404, repr(resp))
                self.assertEqual(resp.json(), NOT_FOUND)

    def test_api_answers_as_before(self):
        self.assertJson(self.server.get("/healthz"), 200, {"status": "ok"})
        self.assertMissingToken(self.server.get("/profile"))

    def test_lesson_page_address_logged(self):
        line = "lesson page (LATCH_UI=1): open http://127.0.0.1:%d/" % self.server.port
        self.assertIn(line, self.server.log_text())


class UiOff(LatchTestCase):
    """Without LATCH_UI=1 every UI path is an unknown path."""

    def assert_like_unknown_path(self, server):
        for method in ("GET", "HEAD", "POST", "OPTIONS"):
            unknown = server.raw(http_request_bytes(method, "/no-such-path"),
                                 head_request=method == "HEAD")
            self.assertEqual(unknown.status, 404, repr(unknown))
            for path in UI_FILES:
                with self.subTest(method=method, path=path):
                    resp = server.raw(http_request_bytes(method, path),
                                      head_request=method == "HEAD")
                    self.assertEqual(resp.status, unknown.status, repr(resp))
                    self.assertEqual(resp.body, unknown.body)
                    self.assertEqual(_without_date(resp.headers), _without_date(unknown.headers))
                    self.assertIsNone(resp.header("content-security-policy"))
        self.assertNotIn("lesson page", server.log_text())

    def test_off_by_default(self):
        with harness.LatchServer(env={"LATCH_UI": None}) as server:
            self.assertJson(server.get("/"), 404, NOT_FOUND)
            self.assert_like_unknown_path(server)

    def test_ui_0_is_off(self):
        with harness.LatchServer(env={"LATCH_UI": "0"}) as server:
            self.assert_like_unknown_path(server)

    def test_ui_flag(self):
        data_dir = tempfile.mkdtemp(prefix="latch-it-")
        args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir]
        try:
            with harness.LatchServer(env={"LATCH_UI": None}, args=args + ["--ui", "1"],
                                     data_dir=data_dir) as server:
                self.assertEqual(server.get("/").status_code, 200)
            # The flag wins over the environment.
            with harness.LatchServer(env={"LATCH_UI": "1"}, args=args + ["--ui=0"],
                                     data_dir=data_dir) as server:
                self.assertJson(server.get("/"), 404, NOT_FOUND)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_malformed_ui_refused(self):
        for value in ("yes", "2", "-1", ""):
            with self.subTest(value=value):
                code, output = harness.start_refused(env={"LATCH_UI": value})
                self.assertNotEqual(code, 0)
                self.assertIn("LATCH_UI", output)


def _without_date(headers):
    # The date and the request id differ from one answer to the next.
    return sorted((k, v) for k, v in headers if k not in ("date", "x-request-id"))


# -- in Chromium -------------------------------------------------------------------


class UiInChromium(LatchTestCase):
    """The flow as a person clicks through it, one latch per auth mode."""

    def run_flow(self, mode, width=1024, alg="HS256"):
        reason = harness.browser_ready()
        if reason is not None:
            self.skipTest(reason)
        server = harness.LatchServer(env={"LATCH_UI": "1", "LATCH_AUTH_MODE": mode,
                                          "LATCH_JWT_ALG": alg})
        try:
            server.start()
            email = harness.unique_email("ui-" + mode)
            result = harness.ui_flow({
                "url": server.url + "/", "email": email, "password": PASSWORD,
                "width": width, "height": 900,
                "stepTimeoutMs": int(20000 * harness.TIME_SCALE),
            })
            # Who the user is, asked of the API directly, not through the page.
            login = server.login(email)
            self.assertEqual(login.status_code, 200, login.text)
            token = login.json()["token"]
            user = server.profile(token).json()
        except BaseException:
            server.close(check=False)
            raise
        server.close()
        self.check_common(result, server, width)
        return result, user, email

    # -- what every mode shares --------------------------------------------------

    def check_common(self, result, server, width):
        self.assertEqual(result["pageStatus"], 200)
        self.assertEqual(result["pageHeaders"].get("content-security-policy"), CSP)
        self.assertEqual(result["pageHeaders"].get("x-content-type-options"), "nosniff")
        self.assertEqual(result["pageHeaders"].get("referrer-policy"), "no-referrer")
        self.assertIn('200 {"status":"ok"}', result["serverStatus"])
        self.assertEqual(result["pageErrors"], [], "uncaught exceptions in the page")
        self.assertEqual(result["cspViolations"], [], "CSP violations")
        self.assertEqual(result["requestsFailed"], [])

        origin = server.url
        paths = []
        for entry in result["network"]:
            self.assertTrue(entry["url"].startswith(origin + "/"),
                            "a request left the page's origin: %s" % entry["url"])
            paths.append(urlsplit(entry["url"]).path)
        self.assertNotIn("/favicon.ico", paths)
        for path in ("/", "/ui/app.js", "/ui/style.css", "/ui/icon.svg", "/healthz"):
            self.assertIn(path, paths)

        # Console errors: only Chromium's line for each 4xx the flow asked for,
        # one per such response.
        errors = [m for m in result["console"] if m["type"] == "error"]
        logged = []
        for message in errors:
            match = RESOURCE_4XX_RE.match(message["text"])
            self.assertIsNotNone(match, "console error: %r" % message)
            logged.append((urlsplit(message["url"]).path, int(match.group(1))))
        failed = [(urlsplit(e["url"]).path, e["status"]) for e in result["network"]
                  if e["status"] is not None and 400 <= e["status"] < 500]
        self.assertEqual(sorted(logged), sorted(failed))

        # The password leaves the page in the bodies of /register and /login only.
        for entry in result["network"]:
            where = "%s %s" % (entry["method"], entry["url"])
            self.assertNotIn(PASSWORD, entry["url"], where)
            self.assertFalse(any(PASSWORD in v for v in entry["headers"].values()), where)
            if PASSWORD in (entry["postData"] or ""):
                self.assertIn((entry["method"], urlsplit(entry["url"]).path),
                              [("POST", "/register"), ("POST", "/login")], where)

        storage = result["storage"]
        self.assertEqual(storage["writes"], [], "Web Storage written")
        self.assertEqual(storage["cookieWrites"], [], "document.cookie written")
        self.assertEqual((storage["localLength"], storage["sessionLength"]), (0, 0))
        self.assertEqual(storage["documentCookie"], "")
        for cookie in result["cookies"]:
            self.assertTrue(cookie["httpOnly"], "a cookie scripts can read: %s" % cookie)

        self.assertGreaterEqual(result["contrast"]["ratio"], 4.5, result["contrast"])
        self.assertLessEqual(result["layout"]["scrollWidth"], width,
                             "the page scrolls sideways at %d px: %s" % (width, result["layout"]))

    def statuses(self, result):
        return {name: step["status"] for name, step in result["steps"].items()}

    def four_xx(self, result):
        """(method, path, status) of every 4xx, in order."""
        return [(e["method"], urlsplit(e["url"]).path, e["status"]) for e in result["network"]
                if e["status"] is not None and 400 <= e["status"] < 500]

    def check_decoded_token(self, result, user, email):
        """Step 2 shows the claims of the token the page received."""
        login_tokens = [t["token"] for t in result["tokens"] if t["path"] == "/login"]
        token = login_tokens[0]
        payload = harness.token_payload(token)
        header = harness.token_header(token)
        claims = result["claims"]
        self.assertEqual(claims["userId"], str(user["id"]))
        self.assertEqual(claims["email"], email)
        self.assertEqual(claims["email"], user["email"])
        self.assertEqual(claims["role"], "user")
        self.assertEqual(claims["role"], user["role"])
        for name in ("iat", "exp"):
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(payload[name]))
            self.assertEqual(claims[name], "%d = %s" % (payload[name], when))
        self.assertEqual(payload["exp"] - payload["iat"], 900)
        # The three parts, coloured apart, are the token's three parts.
        parts = result["tokenParts"]
        self.assertEqual([p["text"] for p in parts], token.split("."))
        self.assertEqual(len({p["color"] for p in parts}), 3, parts)
        self.assertEqual(json.loads(result["headerJson"]), header)
        self.assertIn(header["alg"], result["keyInfo"])
        self.assertIn(header["kid"], result["keyInfo"])
        self.assertEqual(result["jwksLink"], "/.well-known/jwks.json")
        # Step 2's GET of the JWKS: the token's kid is there, or (HS256) the
        # page says why the set is empty.
        if header["alg"] == "HS256":
            self.assertIn("Empty for HS256", result["steps"]["jwks"]["why"])
        else:
            self.assertIn("The key with kid %s is in the set" % header["kid"],
                          result["steps"]["jwks"]["why"])
        # A live countdown: it moved in a second.
        self.assertRegex(result["countdown1"], r"^Expires in 1?\d:\d\d ")
        self.assertNotEqual(result["countdown1"], result["countdown2"])

    def check_jwt_steps(self, result, user):
        """Steps 3 to 5 (modes jwt and both)."""
        steps = self.statuses(result)
        self.assertEqual((steps["jwks"], steps["profile"], steps["tamper"]), (200, 200, 401))
        self.assertEqual((steps["refresh"], steps["retry"]), (200, 200))
        self.assertEqual((steps["logout"], steps["afterLogout"]), (204, 401))
        self.assertIn("signature no longer matches", result["steps"]["tamper"]["why"])
        self.assertIn("Same successor", result["steps"]["retry"]["why"])
        # Step 3 works from the keyboard, with a visible focus.
        self.assertEqual(result["keyboard"]["focused"], "profile")
        self.assertTrue(result["keyboard"]["focusVisible"])
        self.assertNotEqual(result["keyboard"]["outline"], "none")

        # The tampered payload differs from the real one in role only.
        login_token = [t["token"] for t in result["tokens"] if t["path"] == "/login"][0]
        real = harness.token_payload(login_token)
        forged = json.loads(result["tamperedPayload"])
        self.assertEqual(forged["role"], "admin")
        self.assertEqual({k: v for k, v in forged.items() if k != "role"},
                         {k: v for k, v in real.items() if k != "role"})

        # Within the reuse window the retry got the same successor.
        refreshed = [t for t in result["tokens"] if t["path"] == "/refresh"]
        self.assertEqual(len(refreshed), 2)
        self.assertEqual(refreshed[0]["refresh_token"], refreshed[1]["refresh_token"])
        self.assertNotEqual(refreshed[0]["token"], refreshed[1]["token"])

        # The JWT steps: each /profile and /logout carries the token in
        # Authorization and no cookie; logout used the newest access token
        # and the 401 after it was for that same token.
        by_step = [e for e in result["network"]
                   if urlsplit(e["url"]).path in ("/profile", "/logout")
                   and "authorization" in e["headers"]]
        self.assertEqual([urlsplit(e["url"]).path for e in by_step],
                         ["/profile", "/profile", "/logout", "/profile"])
        for entry in by_step:
            self.assertNotIn("cookie", entry["headers"])
        self.assertEqual(by_step[0]["headers"]["authorization"], "Bearer " + login_token)
        newest = refreshed[1]["token"]
        self.assertEqual(by_step[2]["headers"]["authorization"], "Bearer " + newest)
        self.assertEqual(by_step[3]["headers"]["authorization"], "Bearer " + newest)

    def check_tokens_only_in_authorization(self, result):
        """Access tokens appear in no request but in its Authorization header
        (and refresh tokens only in the body of POST /refresh)."""
        access = {t["token"] for t in result["tokens"]}
        refresh = {t["refresh_token"] for t in result["tokens"] if t.get("refresh_token")}
        self.assertTrue(access)
        for entry in result["network"]:
            where = "%s %s" % (entry["method"], entry["url"])
            for token in access:
                self.assertNotIn(token, entry["url"], where)
                self.assertNotIn(token, entry["postData"] or "", where)
                for name, value in entry["headers"].items():
                    if token in value:
                        self.assertEqual((name, value), ("authorization", "Bearer " + token),
                                         where)
            for token in refresh:
                self.assertNotIn(token, entry["url"], where)
                self.assertFalse(any(token in v for v in entry["headers"].values()), where)
                if token in (entry["postData"] or ""):
                    self.assertEqual((entry["method"], urlsplit(entry["url"]).path),
                                     ("POST", "/refresh"), where)

    def check_csrf(self, result):
        steps = self.statuses(result)
        self.assertEqual((steps["sessionLogin"], steps["sessionProfile"]), (200, 200))
        self.assertEqual((steps["csrfRefused"], steps["csrfAccepted"], steps["sessionAfter"]),
                         (403, 204, 401))
        self.assertIn("Cross-site request refused", result["steps"]["csrfRefused"]["why"])
        logouts = [e for e in result["network"]
                   if (e["method"], urlsplit(e["url"]).path) == ("POST", "/logout")
                   and "authorization" not in e["headers"]]
        self.assertEqual([e["status"] for e in logouts], [403, 204])
        self.assertNotIn("x-requested-with", logouts[0]["headers"])
        self.assertEqual(logouts[1]["headers"].get("x-requested-with"), "fetch")
        # Both carried the session cookie, and the cookie only.
        for entry in logouts:
            self.assertIn("latch_session=", entry["headers"].get("cookie", ""))
        # The logout cleared the cookie: none is left.
        self.assertEqual(result["cookies"], [])

    # -- the modes ----------------------------------------------------------------

    def test_jwt_mode_flow(self):
        result, user, email = self.run_flow("jwt")
        steps = self.statuses(result)
        self.assertEqual((steps["register"], steps["login"]), (201, 200))
        self.assertTrue(result["tokenShown"])
        self.check_decoded_token(result, user, email)
        self.check_jwt_steps(result, user)
        self.check_tokens_only_in_authorization(result)
        # Step 6 finds no cookie: jwt mode sets none, and the page says so.
        self.assertEqual((steps["sessionLogin"], steps["sessionProfile"]), (200, 401))
        self.assertIn("LATCH_AUTH_MODE=jwt", result["steps"]["sessionProfile"]["why"])
        self.assertFalse(result["csrfEnabled"])
        self.assertEqual(result["cookies"], [])
        for entry in result["network"]:
            self.assertNotIn("cookie", entry["headers"])
        self.assertEqual(self.four_xx(result), [("GET", "/profile", 401)] * 3)

    def test_both_mode_eddsa_flow_at_phone_width(self):
        result, user, email = self.run_flow("both", width=375, alg="EdDSA")
        steps = self.statuses(result)
        self.assertEqual((steps["register"], steps["login"]), (201, 200))
        self.check_decoded_token(result, user, email)
        self.check_jwt_steps(result, user)
        self.check_tokens_only_in_authorization(result)
        self.check_csrf(result)
        self.assertEqual(self.four_xx(result), [("GET", "/profile", 401), ("GET", "/profile", 401),
                                                ("POST", "/logout", 403),
                                                ("GET", "/profile", 401)])

    def test_session_mode_flow(self):
        result, user, email = self.run_flow("session")
        steps = self.statuses(result)
        self.assertEqual((steps["register"], steps["login"]), (201, 200))
        # No JWT to decode: the page says why and keeps the JWT steps shut.
        self.assertFalse(result["tokenShown"])
        self.assertIn("LATCH_AUTH_MODE=session", result["opaqueNote"])
        self.assertEqual(result["enabledAfterLogin"],
                         {"profile": False, "tamper": False, "refresh": False, "logout": False,
                          "session-login": True})
        self.check_csrf(result)
        # The session token of step 6 travelled in the cookie only; the one of
        # step 1 (no cookie kept) nowhere.
        [first, second] = [t["token"] for t in result["tokens"]]
        for entry in result["network"]:
            self.assertNotIn(first, json.dumps(entry))
            for name, value in entry["headers"].items():
                if second in value:
                    self.assertEqual(name, "cookie")
                    self.assertIn("latch_session=" + second, value)
            self.assertNotIn(second, entry["url"])
        self.assertEqual(self.four_xx(result), [("POST", "/logout", 403),
                                                ("GET", "/profile", 401)])
