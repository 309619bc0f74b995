"""LATCH_TRUSTED_PROXIES: X-Forwarded-For decides the rate-limit bucket only
for connections from a trusted proxy (rightmost address that is not itself
a trusted proxy); X-Forwarded-Proto: https from one adds Secure to the
session cookie."""

import re

import harness
from harness import TOO_MANY, LatchTestCase, bearer, unique_email

PASSWORD = "correct horse battery"
RATE_ENV = {"LATCH_IP_RATE_PER_MIN": "60", "LATCH_IP_RATE_BURST": "3",
            "LATCH_LOCKOUT_ATTEMPTS": "1000"}


def xff(value):
    return {"X-Forwarded-For": value}


class ProxyCase(LatchTestCase):
    def attempt(self, srv, headers=None, session=None):
        """One rate-limited request that needs no hashing (a 400)."""
        return srv.post_json("/login", {}, headers=headers, session=session)

    def assertAllowed(self, resp):
        self.assertBadRequest(resp)

    def assertLimited(self, resp):
        self.assertJson(resp, 429, TOO_MANY)
        self.assertRegex(resp.headers.get("Retry-After", ""), r"^[1-9][0-9]*$")

    def use_burst(self, srv, headers=None, session=None):
        for _ in range(3):
            self.assertAllowed(self.attempt(srv, headers, session))
        self.assertLimited(self.attempt(srv, headers, session))


class TrustedProxy(ProxyCase):
    def setUp(self):
        self.srv = harness.LatchServer(env=dict(RATE_ENV,
                                                LATCH_TRUSTED_PROXIES="127.0.0.1/32")).start()

    def tearDown(self):
        self.srv.close()

    def test_forwarded_for_decides_the_bucket(self):
        srv = self.srv
        self.use_burst(srv, xff("203.0.113.5"))
        # Another forwarded client has its own bucket...
        self.assertAllowed(self.attempt(srv, xff("203.0.113.6")))
        # ...and so has the proxy itself (no header).
        self.assertAllowed(self.attempt(srv))
        # A hop list ending in a trusted proxy: the rightmost untrusted address.
        self.assertLimited(self.attempt(srv, xff("203.0.113.5, 127.0.0.1")))
        # The client cannot escape by prepending addresses of its own.
        self.assertLimited(self.attempt(srv, xff("198.51.100.77, 203.0.113.5")))
        self.assertLimited(self.attempt(srv, xff("198.51.100.77,203.0.113.5")))

    def test_untrusted_peer_forwarded_for_ignored(self):
        """127.0.0.2 is not in 127.0.0.1/32: its X-Forwarded-For is ignored,
        so changing it does not buy new buckets."""
        srv = self.srv
        other = harness.bound_session("127.0.0.2")
        try:
            for i in range(3):
                self.assertAllowed(self.attempt(srv, xff("203.0.113.%d" % (10 + i)), other))
            self.assertLimited(self.attempt(srv, xff("203.0.113.99"), other))
            self.assertLimited(self.attempt(srv, None, other))
            # The trusted proxy forwarding for 127.0.0.2 hits the same bucket.
            self.assertLimited(self.attempt(srv, xff("127.0.0.2")))
            # The proxy's own bucket is untouched.
            self.assertAllowed(self.attempt(srv))
        finally:
            other.close()

    def test_garbage_forwarded_for(self):
        srv = self.srv
        for value in ("", ", ,", "not an address", "x" * 200):
            with self.subTest(value=value):
                resp = self.attempt(srv, xff(value))
                self.assertIn(resp.status_code, (400, 429), resp.text)
        self.assertTrue(srv.healthy())


class NoTrustedProxy(ProxyCase):
    def test_forwarded_for_ignored_without_trust(self):
        srv = harness.LatchServer(env=RATE_ENV)
        try:
            srv.start()
            for i in range(3):
                self.assertAllowed(self.attempt(srv, xff("203.0.113.%d" % i)))
            self.assertLimited(self.attempt(srv, xff("203.0.113.50")))
            self.assertLimited(self.attempt(srv))
            # Another real source address is not limited.
            other = harness.bound_session("127.0.0.3")
            try:
                self.assertAllowed(self.attempt(srv, None, other))
            finally:
                other.close()
        finally:
            srv.close()


class SecureCookie(LatchTestCase):
    """Session cookies get Secure when a trusted proxy says https."""

    def login(self, srv, email, headers=None, session=None):
        resp = srv.login(email, PASSWORD, headers=headers, session=session)
        self.assertJson(resp, 200)
        return resp

    def test_forwarded_proto(self):
        srv = harness.LatchServer(env={"LATCH_AUTH_MODE": "session",
                                       "LATCH_TRUSTED_PROXIES": "127.0.0.1/32"})
        try:
            srv.start()
            email = unique_email("proxy")
            self.assertJson(srv.register(email, PASSWORD), 201)
            https = {"X-Forwarded-Proto": "https"}
            resp = self.login(srv, email, https)
            cookie = resp.headers.get("Set-Cookie", "")
            self.assertRegex(cookie, r"^latch_session=[A-Za-z0-9_-]{43}; HttpOnly; "
                                     r"SameSite=Lax; Path=/; Max-Age=\d+; Secure$")
            token = resp.json()["token"]
            # Logout clears it with Secure too.
            out = srv.post("/logout", headers=dict(bearer(token), **https))
            self.assertEqual(out.status_code, 204, out.text)
            self.assertRegex(out.headers.get("Set-Cookie", ""), r"Max-Age=0; Secure$")
            # Plain http through the proxy: no Secure.
            for headers in (None, {"X-Forwarded-Proto": "http"}):
                with self.subTest(headers=headers):
                    cookie = self.login(srv, email, headers).headers.get("Set-Cookie", "")
                    self.assertNotIn("Secure", cookie)
            # From an untrusted address the header is not believed.
            other = harness.bound_session("127.0.0.2")
            try:
                cookie = self.login(srv, email, https, other).headers.get("Set-Cookie", "")
                self.assertNotIn("Secure", cookie)
                self.assertTrue(re.match(r"^latch_session=", cookie), cookie)
            finally:
                other.close()
        finally:
            srv.close()

    def test_forwarded_proto_ignored_without_trust(self):
        srv = harness.LatchServer(env={"LATCH_AUTH_MODE": "session"})
        try:
            srv.start()
            email = unique_email("proxy")
            self.assertJson(srv.register(email, PASSWORD), 201)
            cookie = self.login(srv, email, {"X-Forwarded-Proto": "https"}).headers.get(
                "Set-Cookie", "")
            self.assertTrue(cookie.startswith("latch_session="), cookie)
            self.assertNotIn("Secure", cookie)
        finally:
            srv.close()
