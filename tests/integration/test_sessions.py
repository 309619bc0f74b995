"""Session mode (LATCH_AUTH_MODE=session) and both: the opaque token and
its cookie, cookie vs Bearer (Authorization wins), idle and absolute expiry,
logout clearing the cookie, CSRF for cookie-authenticated requests, CORS
for allowed origins."""

import re
import time

import harness
from harness import (CSRF_REFUSED, OPAQUE_TOKEN_RE, REFRESH_INVALID, LatchTestCase, bearer,
                     decode_segment, unique_email)

PASSWORD = "correct horse battery"
ALLOWED = "https://app.example.com"
ALLOWED2 = "http://localhost:3000"
COOKIE_RE = re.compile(r"^latch_session=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=Lax; Path=/; "
                       r"Max-Age=(\d+)$")
CLEAR_RE = re.compile(r"^latch_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0$")
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                "Access-Control-Allow-Methods", "Access-Control-Allow-Headers")

server = None


def setUpModule():
    global server
    server = harness.start_module_server({"LATCH_AUTH_MODE": "session",
                                          "LATCH_ALLOWED_ORIGINS": ALLOWED + "," + ALLOWED2})


def tearDownModule():
    harness.stop_module_server(server)


def cookie(token):
    return {"Cookie": "latch_session=%s" % token}


def logout(srv, headers):
    return srv.post("/logout", headers=headers)


class SessionCase(LatchTestCase):
    srv = None

    def server(self):
        return self.srv or server

    def session_login(self, email=None, srv=None):
        """Registers (when email is None) and logs in: (user, email, token,
        cookie max-age)."""
        srv = srv or self.server()
        user = None
        if email is None:
            email = unique_email("session")
            user = self.assertJson(srv.register(email, PASSWORD), 201)
        resp = srv.login(email, PASSWORD)
        body = self.assertJson(resp, 200)
        self.assertEqual(sorted(body), ["expires_in", "token", "token_type"], body)
        set_cookie = resp.headers.get("Set-Cookie")
        self.assertIsNotNone(set_cookie, "no Set-Cookie on session login")
        match = COOKIE_RE.match(set_cookie)
        self.assertIsNotNone(match, "Set-Cookie: %r" % set_cookie)
        self.assertEqual(match.group(1), body["token"], "cookie and body carry different tokens")
        return user, email, body["token"], int(match.group(2))

    def assertNoContent(self, resp):
        self.assertEqual(resp.status_code, 204, "%s %r" % (resp.status_code, resp.text))

    def assertCleared(self, resp):
        value = resp.headers.get("Set-Cookie")
        self.assertIsNotNone(value, "logout does not clear the cookie")
        self.assertRegex(value, CLEAR_RE)


class SessionMode(SessionCase):
    def test_login_body_and_cookie(self):
        user, email, token, max_age = self.session_login()
        resp = self.server().login(email, PASSWORD)
        body = resp.json()
        self.assertRegex(body["token"], OPAQUE_TOKEN_RE)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 43200)
        self.assertEqual(max_age, 43200)
        self.assertNotIn("Secure", resp.headers["Set-Cookie"])
        self.assertNotEqual(body["token"], token)

    def test_profile_with_cookie_and_bearer(self):
        user, _, token, _ = self.session_login()
        self.assertProfileOk(self.server().profile(headers=cookie(token)), user)
        self.assertProfileOk(self.server().profile(token), user)
        # Quoted cookie value and other cookies around it.
        self.assertProfileOk(self.server().profile(
            headers={"Cookie": 'a=b; latch_session="%s"; c=d' % token}), user)

    def test_authorization_wins_over_cookie(self):
        user_a, _, token_a, _ = self.session_login()
        user_b, _, token_b, _ = self.session_login()
        both = dict(cookie(token_a), **bearer(token_b))
        self.assertProfileOk(self.server().profile(headers=both), user_b)
        # A bad Authorization is not rescued by a good cookie.
        bad = dict(cookie(token_a), **bearer("A" * 43))
        self.assertInvalidToken(self.server().profile(headers=bad))
        # A good Authorization is not spoiled by a bad cookie.
        self.assertProfileOk(self.server().profile(
            headers=dict(cookie("B" * 43), **bearer(token_b))), user_b)

    def test_bad_session_tokens(self):
        for token in ("A" * 43, "A" * 42, "A" * 44, "x.y.z"):
            with self.subTest(token=token):
                self.assertInvalidToken(self.server().profile(token))
                self.assertInvalidToken(self.server().profile(headers=cookie(token)))
        self.assertMissingToken(self.server().profile(headers={"Cookie": "other=1"}))

    def test_no_refresh_in_session_mode(self):
        _, _, token, _ = self.session_login()
        self.assertJson(self.server().post_json("/refresh", {"refresh_token": token}), 401,
                        REFRESH_INVALID)

    def test_logout_with_bearer_clears_cookie(self):
        user, email, token, _ = self.session_login()
        _, _, other, _ = self.session_login(email)
        resp = logout(self.server(), bearer(token))
        self.assertNoContent(resp)
        self.assertCleared(resp)
        self.assertInvalidToken(self.server().profile(token))
        self.assertInvalidToken(self.server().profile(headers=cookie(token)))
        self.assertProfileOk(self.server().profile(other), user)

    def test_logout_with_cookie_clears_cookie(self):
        user, _, token, _ = self.session_login()
        resp = logout(self.server(), dict(cookie(token), **{"X-Requested-With": "fetch"}))
        self.assertNoContent(resp)
        self.assertCleared(resp)
        self.assertInvalidToken(self.server().profile(headers=cookie(token)))
        self.assertInvalidToken(self.server().profile(token))

    def test_scope_all_ends_every_session(self):
        user, email, a, _ = self.session_login()
        _, _, b, _ = self.session_login(email)
        self.assertNoContent(self.server().post("/logout?scope=all", headers=bearer(a)))
        self.assertInvalidToken(self.server().profile(a))
        self.assertInvalidToken(self.server().profile(b))
        _, _, c, _ = self.session_login(email)
        self.assertProfileOk(self.server().profile(c), user)

    def test_password_change_keeps_current_session(self):
        user, email, current, _ = self.session_login()
        _, _, other, _ = self.session_login(email)
        resp = self.server().post_json(
            "/password", {"current_password": PASSWORD, "new_password": "new password 123"},
            headers=dict(cookie(current), **{"X-Requested-With": "XMLHttpRequest"}))
        self.assertNoContent(resp)
        self.assertProfileOk(self.server().profile(headers=cookie(current)), user)
        self.assertInvalidToken(self.server().profile(other))


class Csrf(SessionCase):
    def test_cookie_post_without_proof_refused(self):
        user, _, token, _ = self.session_login()
        for extra in ({}, {"Origin": "https://evil.example.com"}, {"Origin": "null"},
                      {"Origin": ALLOWED + ".evil.com"}, {"Referer": ALLOWED + "/"}):
            with self.subTest(headers=extra):
                resp = logout(self.server(), dict(cookie(token), **extra))
                self.assertJson(resp, 403, CSRF_REFUSED)
        # The refused requests changed nothing.
        self.assertProfileOk(self.server().profile(headers=cookie(token)), user)
        resp = self.server().post_json(
            "/password", {"current_password": PASSWORD, "new_password": "new password 123"},
            headers=cookie(token))
        self.assertJson(resp, 403, CSRF_REFUSED)
        self.assertJson(self.server().login(self.server().profile(token).json()["email"],
                                            PASSWORD), 200)

    def test_cookie_post_with_x_requested_with(self):
        _, _, token, _ = self.session_login()
        self.assertNoContent(logout(self.server(),
                                    dict(cookie(token), **{"X-Requested-With": "XMLHttpRequest"})))
        self.assertInvalidToken(self.server().profile(token))

    def test_cookie_post_with_allowed_origin(self):
        for origin in (ALLOWED, ALLOWED2):
            with self.subTest(origin=origin):
                _, _, token, _ = self.session_login()
                resp = logout(self.server(), dict(cookie(token), Origin=origin))
                self.assertNoContent(resp)
                self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), origin)
                self.assertInvalidToken(self.server().profile(token))

    def test_cookie_patch_and_delete_need_proof(self):
        """Admin routes authenticated by the session cookie: PATCH and
        DELETE need the same proof as POST."""
        admin_email = unique_email("admin")
        result = harness.user_add(self.server().data_dir, admin_email, PASSWORD, role="admin")
        self.assertEqual(result.returncode, 0, result.stderr)
        _, _, admin_token, _ = self.session_login(admin_email)
        victim, _, victim_token, _ = self.session_login()
        path = "/admin/users/%d" % victim["id"]
        jar = cookie(admin_token)
        body = b'{"disabled": true}'
        json_ct = {"Content-Type": "application/json"}
        self.assertJson(self.server().request("PATCH", path, data=body,
                                              headers=dict(jar, **json_ct)), 403, CSRF_REFUSED)
        self.assertJson(self.server().request("DELETE", path, headers=jar), 403, CSRF_REFUSED)
        self.assertJson(self.server().post(path + "/logout", headers=jar), 403, CSRF_REFUSED)
        self.assertJson(self.server().post_json("/admin/users", {"email": unique_email(),
                                                                 "password": PASSWORD},
                                                headers=jar), 403, CSRF_REFUSED)
        self.assertProfileOk(self.server().profile(victim_token), victim)
        # GET needs no proof; with it, the changes go through.
        self.assertJson(self.server().get(path, headers=jar), 200)
        resp = self.server().request("PATCH", path, data=body,
                                     headers=dict(jar, Origin=ALLOWED, **json_ct))
        self.assertJson(resp, 200)
        self.assertInvalidToken(self.server().profile(victim_token))
        resp = self.server().request("DELETE", path,
                                     headers=dict(jar, **{"X-Requested-With": "x"}))
        self.assertEqual(resp.status_code, 204, resp.text)

    def test_bearer_needs_no_csrf_proof(self):
        _, _, token, _ = self.session_login()
        self.assertNoContent(logout(self.server(), bearer(token)))

    def test_cookie_get_needs_no_csrf_proof(self):
        user, _, token, _ = self.session_login()
        self.assertProfileOk(self.server().profile(
            headers=dict(cookie(token), Origin="https://evil.example.com")), user)


class Cors(SessionCase):
    def test_preflight_allowed_origin(self):
        for path, method in (("/login", "POST"), ("/logout", "POST"), ("/profile", "GET")):
            with self.subTest(path=path):
                resp = self.server().request("OPTIONS", path, headers={
                    "Origin": ALLOWED, "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "content-type, x-requested-with"})
                self.assertEqual(resp.status_code, 204, resp.text)
                self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), ALLOWED)
                self.assertEqual(resp.headers.get("Access-Control-Allow-Credentials"), "true")
                methods = resp.headers.get("Access-Control-Allow-Methods", "")
                self.assertIn(method, [m.strip() for m in methods.split(",")], methods)
                allow_headers = resp.headers.get("Access-Control-Allow-Headers", "").lower()
                self.assertIn("content-type", allow_headers)
                self.assertIn("x-requested-with", allow_headers)

    def test_preflight_disallowed_origin(self):
        for origin in ("https://evil.example.com", "null", ALLOWED + ":8443", "http://app.example.com"):
            with self.subTest(origin=origin):
                resp = self.server().request("OPTIONS", "/logout", headers={
                    "Origin": origin, "Access-Control-Request-Method": "POST"})
                self.assertLess(resp.status_code, 500)
                for name in CORS_HEADERS:
                    self.assertNotIn(name, resp.headers, "%s for %s" % (name, origin))

    def test_simple_requests(self):
        resp = self.server().get("/healthz", headers={"Origin": ALLOWED})
        self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), ALLOWED)
        self.assertEqual(resp.headers.get("Access-Control-Allow-Credentials"), "true")
        resp = self.server().get("/healthz", headers={"Origin": "https://evil.example.com"})
        for name in CORS_HEADERS:
            self.assertNotIn(name, resp.headers)
        resp = self.server().get("/healthz")
        for name in CORS_HEADERS:
            self.assertNotIn(name, resp.headers)
        # Errors carry them too, for an allowed origin.
        resp = self.server().profile(headers={"Origin": ALLOWED})
        self.assertEqual(resp.status_code, 401)
        self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), ALLOWED)

    def test_never_wildcard(self):
        resp = self.server().request("OPTIONS", "/login", headers={
            "Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
        self.assertNotEqual(resp.headers.get("Access-Control-Allow-Origin"), "*")


class Expiry(SessionCase):
    """LATCH_SESSION_IDLE_S=2, LATCH_SESSION_MAX_S=4 (whole seconds)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_AUTH_MODE": "session",
                                               "LATCH_SESSION_IDLE_S": "2",
                                               "LATCH_SESSION_MAX_S": "4"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def test_idle_expiry_and_sliding(self):
        harness.skip_if_valgrind("timing assertion (requests 0.8 s apart)")
        user, email, idle, max_age = self.session_login()
        _, _, used, _ = self.session_login(email)
        self.assertEqual(max_age, 4)
        start = time.monotonic()
        for at in (0.8, 1.6):
            time.sleep(max(0, start + at - time.monotonic()))
            self.assertProfileOk(self.srv.profile(used), user)
        time.sleep(max(0, start + 2.4 - time.monotonic()))
        # Used every 0.8 s: alive after longer than the idle timeout.
        self.assertProfileOk(self.srv.profile(headers=cookie(used)), user)
        # Unused for 2.4 s > idle 2 s: gone, by Bearer and by cookie.
        self.assertInvalidToken(self.srv.profile(idle))
        self.assertInvalidToken(self.srv.profile(headers=cookie(idle)))

    def test_absolute_expiry(self):
        harness.skip_if_valgrind("timing assertion (requests 0.8 s apart)")
        # The session's lifetime counts from the whole second of its login:
        # log in early in a second N, then time everything from N.
        for _ in range(3):
            harness.until_second_start(0.1)
            second = int(time.time())
            user, _, token, _ = self.session_login()
            if time.time() - second < 0.5:
                break
        else:
            self.fail("could not log in within half a second, three times")
        for at in (0.8, 1.6, 2.4, 3.2):
            time.sleep(max(0, second + at - time.time()))
            with self.subTest(alive_at=at):
                self.assertProfileOk(self.srv.profile(token), user)
        time.sleep(max(0, second + 4.05 - time.time()))
        # Never idle for long, but past the absolute lifetime.
        self.assertInvalidToken(self.srv.profile(token))


class BothMode(SessionCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_AUTH_MODE": "both",
                                               "LATCH_ALLOWED_ORIGINS": ALLOWED})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def both_login(self):
        email = unique_email("both")
        user = self.assertJson(self.srv.register(email, PASSWORD), 201)
        resp = self.srv.login(email, PASSWORD)
        body = self.assertJson(resp, 200)
        self.assertEqual(sorted(body), ["expires_in", "refresh_token", "token", "token_type"])
        self.assertEqual(body["token"].count("."), 2)
        self.assertIn("sid", decode_segment(body["token"].split(".")[1]))
        self.assertRegex(body["refresh_token"], OPAQUE_TOKEN_RE)
        match = COOKIE_RE.match(resp.headers.get("Set-Cookie", ""))
        self.assertIsNotNone(match, "Set-Cookie: %r" % resp.headers.get("Set-Cookie"))
        session = match.group(1)
        self.assertNotIn(session, (body["refresh_token"], body["token"]))
        return user, email, body, session

    def test_jwt_pair_and_cookie(self):
        user, _, body, session = self.both_login()
        self.assertProfileOk(self.srv.profile(body["token"]), user)
        self.assertProfileOk(self.srv.profile(headers=cookie(session)), user)
        self.assertProfileOk(self.srv.profile(session), user)     # Bearer session token
        rotated = self.assertJson(self.srv.post_json("/refresh",
                                                     {"refresh_token": body["refresh_token"]}),
                                  200)
        self.assertProfileOk(self.srv.profile(rotated["token"]), user)

    def test_logout_with_jwt_ends_the_session_too(self):
        user, _, body, session = self.both_login()
        resp = logout(self.srv, bearer(body["token"]))
        self.assertNoContent(resp)
        self.assertCleared(resp)
        self.assertInvalidToken(self.srv.profile(body["token"]))
        self.assertInvalidToken(self.srv.profile(headers=cookie(session)))
        self.assertJson(self.srv.post_json("/refresh", {"refresh_token": body["refresh_token"]}),
                        401, REFRESH_INVALID)

    def test_logout_with_cookie_ends_the_jwt_too(self):
        user, _, body, session = self.both_login()
        self.assertJson(logout(self.srv, cookie(session)), 403, CSRF_REFUSED)
        resp = logout(self.srv, dict(cookie(session), Origin=ALLOWED))
        self.assertNoContent(resp)
        self.assertCleared(resp)
        self.assertInvalidToken(self.srv.profile(headers=cookie(session)))
        self.assertInvalidToken(self.srv.profile(body["token"]))
