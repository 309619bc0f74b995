"""GET /verify, the forward-auth endpoint (nginx auth_request, Traefik
forwardAuth, Caddy forward_auth): a valid Bearer token or session cookie ->
200 with X-Auth-User-Id / X-Auth-Email / X-Auth-Role (no X-Auth-Email when
the token has no email); missing or invalid -> 401 with WWW-Authenticate;
?role=admin -> 403 for a lower role; HEAD works; other methods -> 405; the
body is ignored (no 413 / 415)."""

import harness
from harness import LatchTestCase, bearer, claims_for, mint, unique_email

SERVER = None
USER = EMAIL = TOKEN = None
ADMIN = ADMIN_EMAIL = ADMIN_TOKEN = None
PASSWORD = "correct horse battery"


def setUpModule():
    global SERVER, USER, EMAIL, TOKEN, ADMIN, ADMIN_EMAIL, ADMIN_TOKEN
    SERVER = harness.start_module_server()
    try:
        USER, EMAIL, TOKEN = SERVER.new_user()
        ADMIN_EMAIL = unique_email("admin")
        proc = harness.user_add(SERVER.data_dir, ADMIN_EMAIL, PASSWORD, role="admin")
        assert proc.returncode == 0, proc.stderr
        login = SERVER.login(ADMIN_EMAIL, PASSWORD)
        assert login.status_code == 200, login.text
        ADMIN_TOKEN = login.json()["token"]
        ADMIN = SERVER.get("/profile", headers=bearer(ADMIN_TOKEN)).json()
    except BaseException:
        harness.stop_module_server(SERVER)
        raise


def tearDownModule():
    harness.stop_module_server(SERVER)


def verify(token=None, query="", method="GET", server=None, **kwargs):
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = "Bearer %s" % token
    return (server or SERVER).request(method, "/verify" + query, headers=headers, **kwargs)


class VerifyCase(LatchTestCase):
    def assertAuthHeaders(self, resp, user_id, email, role):
        self.assertEqual(resp.status_code, 200, "%s %s" % (resp.status_code, resp.text))
        self.assertEqual(resp.headers.get("X-Auth-User-Id"), str(user_id))
        if email is None:
            self.assertNotIn("X-Auth-Email", resp.headers)
        else:
            self.assertEqual(resp.headers.get("X-Auth-Email"), email)
        self.assertEqual(resp.headers.get("X-Auth-Role"), role)

    def assertNoAuthHeaders(self, resp):
        for name in ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Role"):
            self.assertNotIn(name, resp.headers)


class Valid(VerifyCase):
    def test_valid_bearer(self):
        resp = verify(TOKEN)
        self.assertAuthHeaders(resp, USER["id"], EMAIL, "user")
        self.assertJson(resp, 200)

    def test_admin_token(self):
        self.assertAuthHeaders(verify(ADMIN_TOKEN), ADMIN["id"], ADMIN_EMAIL, "admin")

    def test_token_without_email_claim(self):
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": "HS256", "typ": "JWT", "kid": SERVER.kid()})
        self.assertNotIn("email", harness.token_payload(token))
        self.assertAuthHeaders(verify(token), USER["id"], None, "user")

    def test_headers_come_from_the_token(self):
        # No store read for a JWT: the claims answer.
        token = mint(claims_for(USER["id"], email="claimed@example.org"), SERVER.secret(),
                     header={"alg": "HS256", "typ": "JWT", "kid": SERVER.kid()})
        self.assertAuthHeaders(verify(token), USER["id"], "claimed@example.org", "user")

    def test_head(self):
        resp = verify(TOKEN, method="HEAD")
        self.assertAuthHeaders(resp, USER["id"], EMAIL, "user")
        self.assertEqual(resp.content, b"")
        self.assertEqual(verify(method="HEAD").status_code, 401)
        self.assertEqual(verify(TOKEN, "?role=admin", method="HEAD").status_code, 403)

    def test_role_user_for_user_and_admin(self):
        self.assertAuthHeaders(verify(TOKEN, "?role=user"), USER["id"], EMAIL, "user")
        self.assertAuthHeaders(verify(ADMIN_TOKEN, "?role=user"), ADMIN["id"], ADMIN_EMAIL,
                               "admin")

    def test_role_admin_for_admin(self):
        self.assertAuthHeaders(verify(ADMIN_TOKEN, "?role=admin"), ADMIN["id"], ADMIN_EMAIL,
                               "admin")

    def test_not_cached_by_proxies(self):
        self.assertIn("no-store", verify(TOKEN).headers.get("Cache-Control", ""))


class Refused(VerifyCase):
    def test_missing_token(self):
        resp = verify()
        self.assertMissingToken(resp)
        self.assertNoAuthHeaders(resp)

    def test_invalid_tokens(self):
        head, body, sig = TOKEN.split(".")
        for token in (TOKEN + "x", head + "." + body + ".", "a.b.c", "garbage",
                      mint(claims_for(USER["id"]), b"another secret of 32 bytes......")):
            with self.subTest(token=token[:40]):
                resp = verify(token)
                self.assertInvalidToken(resp)
                self.assertNoAuthHeaders(resp)

    def test_expired_token(self):
        token = mint(claims_for(USER["id"], now=1000000000), SERVER.secret(),
                     header={"alg": "HS256", "typ": "JWT", "kid": SERVER.kid()})
        self.assertInvalidToken(verify(token))

    def test_role_admin_with_user_token(self):
        resp = verify(TOKEN, "?role=admin")
        self.assertError(resp, 403, "Forbidden")
        self.assertNoAuthHeaders(resp)

    def test_unknown_role_asked(self):
        self.assertEqual(verify(ADMIN_TOKEN, "?role=superuser").status_code, 403)

    def test_role_admin_without_token(self):
        self.assertMissingToken(verify(query="?role=admin"))

    def test_post_not_allowed(self):
        resp = verify(TOKEN, method="POST")
        self.assertError(resp, 405, "Method Not Allowed")
        allow = [m.strip() for m in resp.headers.get("Allow", "").split(",")]
        self.assertEqual(sorted(allow), ["GET", "HEAD"])

    def test_other_methods_not_allowed(self):
        for method in ("PUT", "PATCH", "DELETE"):
            with self.subTest(method=method):
                self.assertEqual(verify(TOKEN, method=method).status_code, 405)


class Body(VerifyCase):
    def test_large_body_ignored(self):
        body = b"x" * (20 * 1024)
        resp = verify(TOKEN, data=body, headers={"Content-Type": "application/json"})
        self.assertAuthHeaders(resp, USER["id"], EMAIL, "user")
        self.assertMissingToken(verify(data=body))

    def test_text_plain_body_ignored(self):
        resp = verify(TOKEN, data=b"hello", headers={"Content-Type": "text/plain"})
        self.assertAuthHeaders(resp, USER["id"], EMAIL, "user")
        self.assertEqual(verify(TOKEN, "?role=admin", data=b"hello",
                                headers={"Content-Type": "text/plain"}).status_code, 403)

    def test_body_then_next_request_on_same_connection(self):
        # The ignored body is consumed, or the connection is closed with
        # "Connection: close"; never is the body read as the next request.
        for size in (8 * 1024, 20 * 1024):
            with self.subTest(size=size), harness.RawConnection(SERVER.address) as conn:
                body = b"GET /verify HTTP/1.1\r\nHost: x\r\n\r\n" * (size // 34)
                conn.send(harness.http_request_bytes(
                    "GET", "/verify", headers=[("Authorization", "Bearer " + TOKEN),
                                               ("Content-Type", "text/plain")], body=body))
                first = conn.read_response()
                self.assertEqual(first.status, 200, repr(first))
                if "close" in (first.header("connection") or "").lower():
                    self.assertTrue(conn.closed_by_peer(2.0))
                    continue
                conn.send(harness.http_request_bytes(
                    "GET", "/verify", headers=[("Authorization", "Bearer " + TOKEN)]))
                second = conn.read_response()
                self.assertEqual(second.status, 200, repr(second))
                self.assertEqual(second.header("x-auth-user-id"), str(USER["id"]))
                self.assertFalse(conn.closed_by_peer(0.3) and conn.buf,
                                 "extra responses: %r" % conn.buf[:200])


class SessionMode(VerifyCase):
    def test_session_cookie_and_bearer(self):
        with harness.LatchServer(env={"LATCH_AUTH_MODE": "session"}) as srv:
            email = unique_email("session")
            user = srv.register(email, PASSWORD).json()
            login = srv.login(email, PASSWORD)
            self.assertEqual(login.status_code, 200, login.text)
            opaque = login.json()["token"]
            cookie = {"Cookie": "latch_session=%s" % opaque}
            resp = verify(server=srv, headers=cookie)
            self.assertAuthHeaders(resp, user["id"], email, "user")
            self.assertAuthHeaders(verify(opaque, server=srv), user["id"], email, "user")
            self.assertEqual(verify(server=srv, headers=cookie, query="?role=admin").status_code,
                             403)
            self.assertAuthHeaders(verify(server=srv, headers=cookie, method="HEAD"),
                                   user["id"], email, "user")
            self.assertEqual(verify(server=srv, headers={
                "Cookie": "latch_session=" + "A" * 43}).status_code, 401)
            self.assertMissingToken(verify(server=srv))
            # After logout the cookie is dead.
            out = srv.post("/logout", headers=bearer(opaque))
            self.assertIn(out.status_code, (200, 204), out.text)
            self.assertEqual(verify(server=srv, headers=cookie).status_code, 401)
