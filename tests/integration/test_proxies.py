"""LATCH_TRUSTED_PROXIES: X-Forwarded-For decides the rate-limit bucket only
for connections from a trusted proxy (rightmost address that is not itself
a trusted proxy, every X-Forwarded-For line read in order, entries parsed as
addresses); X-Forwarded-Proto: https from one adds Secure to the session
cookie."""

import re

import harness
from harness import TOO_MANY, LatchTestCase, bearer, http_request_bytes, unique_email

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


class ForwardedForParsing(ProxyCase):
    """Every X-Forwarded-For line is read, in order, and each entry is parsed
    as an address: a port is dropped (one client, whatever its source port),
    "[v6]:port" and bare v6 are understood, entries that are not addresses
    are skipped.  Before, only the first line was read and an entry was its
    text, so "a.b.c.d:port" made a new rate-limit bucket per port.  Rate 1
    per minute with a burst of 2, so no token comes back during a test."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server(dict(
            RATE_ENV, LATCH_IP_RATE_PER_MIN="1", LATCH_IP_RATE_BURST="2",
            LATCH_TRUSTED_PROXIES="127.0.0.1/32"))

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def raw_attempt(self, forwarded_lines):
        """POST /login {} from 127.0.0.1 with one X-Forwarded-For line per
        item: 400 while the bucket has tokens, then 429."""
        headers = [("Content-Type", "application/json")]
        headers += [("X-Forwarded-For", value) for value in forwarded_lines]
        resp = self.srv.raw(http_request_bytes("POST", "/login", headers=headers, body=b"{}"))
        return resp.status

    def spend(self, forwarded_lines):
        """Empties the bucket the lines resolve to (burst 2)."""
        self.assertEqual(self.raw_attempt(forwarded_lines), 400)
        self.assertEqual(self.raw_attempt(forwarded_lines), 400)
        self.assertEqual(self.raw_attempt(forwarded_lines), 429)

    def assertSameBucket(self, *forms):
        for lines in forms:
            with self.subTest(lines=lines):
                self.assertEqual(self.raw_attempt(lines), 429,
                                 "%r did not resolve to the spent address" % (lines,))

    def test_two_forwarded_for_lines_are_one_list(self):
        self.spend(["203.0.113.10"])
        # The lines join in order: the rightmost entry is on the last line.
        self.assertSameBucket(["198.51.100.1", "203.0.113.10"],
                              ["198.51.100.1, 198.51.100.2", "203.0.113.10"],
                              ["203.0.113.10", "127.0.0.1"],
                              ["203.0.113.10, 127.0.0.1", "127.0.0.1"])
        # A first line naming the spent address does not decide.
        self.assertEqual(self.raw_attempt(["203.0.113.10", "198.51.100.3"]), 400)

    def test_ports_do_not_make_new_buckets(self):
        self.spend(["203.0.113.20:5555"])
        self.assertSameBucket(["203.0.113.20:6666"], ["203.0.113.20"],
                              ["198.51.100.1, 203.0.113.20:1"])

    def test_ipv6_with_and_without_port(self):
        self.spend(["[2001:db8::20]:443"])
        self.assertSameBucket(["2001:db8::20"], ["[2001:db8::20]"], ["[2001:db8::20]:8443"],
                              ["2001:DB8:0:0:0:0:0:20"], ["2001:db8:0::20, 127.0.0.1"])

    def test_ipv4_mapped_ipv6_is_the_ipv4_address(self):
        self.spend(["203.0.113.40"])
        self.assertSameBucket(["::ffff:203.0.113.40"], ["[::ffff:203.0.113.40]:80"])

    def test_garbage_entries_are_skipped(self):
        self.spend(["203.0.113.30"])
        self.assertSameBucket(["203.0.113.30, garbage"], ["203.0.113.30, unknown, "],
                              ["203.0.113.30", "not-an-address"],
                              ["203.0.113.30, 203.0.113.30:99999"],
                              ["203.0.113.30, [2001:db8::1]:x"],
                              ["203.0.113.30, 1.2.3.4.5, 203.0.113.999, 2001:db8::g"])

    def test_only_garbage_falls_back_to_the_proxy(self):
        """No address in the header: the peer (the proxy itself) is the
        client, as without the header."""
        self.spend([])
        self.assertSameBucket(["garbage"], [", ,"], ["x" * 200], ["[::1"])

    def test_trusted_proxies_on_separate_lines_are_walked_past(self):
        self.spend(["203.0.113.50"])
        self.assertSameBucket(["198.51.100.9", "203.0.113.50", "127.0.0.1:4000",
                               "[::ffff:127.0.0.1]"])
