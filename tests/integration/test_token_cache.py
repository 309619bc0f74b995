"""The verified-token cache (LATCH_TOKEN_CACHE_ENTRIES) seen through GET
/metrics (latch_token_cache_hits_total / _misses_total / _evictions_total /
_capacity): 0 disables it (every request a miss); repeated /profile or
/verify with one token hit; a bounded cache never holds more than its bound
and evicts; a cached token is refused at once when revoked (POST /logout)
and when it expires; one changed byte is another token."""

import time

import harness
from harness import LatchTestCase, bearer, claims_for, mint

NAMES = ("latch_token_cache_hits_total", "latch_token_cache_misses_total",
         "latch_token_cache_evictions_total", "latch_token_cache_capacity")
SERVER = None      # default cache, leeway 0
DISABLED = None    # LATCH_TOKEN_CACHE_ENTRIES=0
SMALL = None       # LATCH_TOKEN_CACHE_ENTRIES=8


def setUpModule():
    global SERVER, DISABLED, SMALL
    try:
        SERVER = harness.start_module_server({"LATCH_LEEWAY_S": "0"})
        DISABLED = harness.start_module_server({"LATCH_TOKEN_CACHE_ENTRIES": "0"})
        SMALL = harness.start_module_server({"LATCH_TOKEN_CACHE_ENTRIES": "8"})
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    for server in (SERVER, DISABLED, SMALL):
        harness.stop_module_server(server)


def minted(server, user, email=None, ttl=600, **extra):
    """A valid HS256 token made with the server's secret (distinct jti)."""
    return mint(claims_for(user["id"], email=email, ttl=ttl, **extra), server.secret(),
                header={"alg": "HS256", "typ": "JWT", "kid": server.kid()})


class Counting(LatchTestCase):
    def delta(self, server, before):
        after = harness.metrics(server)
        return {name.split("_")[3]: after[name] - before[name] for name in NAMES[:3]}

    def test_metrics_format(self):
        resp = SERVER.get("/metrics")
        self.assertEqual(resp.status_code, 200)
        self.assertTrue(resp.headers["Content-Type"].startswith("text/plain"))
        values = harness.metrics(SERVER)
        for name in NAMES:
            self.assertIn(name, values)
            self.assertIn("# TYPE %s " % name, resp.text)
        self.assertEqual(harness.metrics(SMALL)["latch_token_cache_capacity"], 8)

    def test_disabled_every_request_misses(self):
        user, _, token = DISABLED.new_user()
        self.assertEqual(harness.metrics(DISABLED)["latch_token_cache_capacity"], 0)
        before = harness.metrics(DISABLED)
        for _ in range(4):
            self.assertProfileOk(DISABLED.profile(token), user)
            self.assertEqual(DISABLED.get("/verify", headers=bearer(token)).status_code, 200)
        self.assertEqual(self.delta(DISABLED, before), {"hits": 0, "misses": 8, "evictions": 0})

    def test_repeated_profile_hits(self):
        user, _, token = SERVER.new_user()
        before = harness.metrics(SERVER)
        for _ in range(5):
            self.assertProfileOk(SERVER.profile(token), user)
        self.assertEqual(self.delta(SERVER, before), {"hits": 4, "misses": 1, "evictions": 0})

    def test_repeated_verify_hits(self):
        _, _, token = SERVER.new_user()
        before = harness.metrics(SERVER)
        for _ in range(5):
            self.assertEqual(SERVER.get("/verify", headers=bearer(token)).status_code, 200)
        self.assertEqual(self.delta(SERVER, before), {"hits": 4, "misses": 1, "evictions": 0})

    def test_profile_then_verify_share_the_entry(self):
        user, _, token = SERVER.new_user()
        self.assertProfileOk(SERVER.profile(token), user)
        before = harness.metrics(SERVER)
        self.assertEqual(SERVER.get("/verify", headers=bearer(token)).status_code, 200)
        self.assertEqual(self.delta(SERVER, before)["hits"], 1)

    def test_one_changed_byte_is_another_token(self):
        user, _, token = SERVER.new_user()
        self.assertProfileOk(SERVER.profile(token), user)
        self.assertProfileOk(SERVER.profile(token), user)
        head, body, sig = token.split(".")
        tampered = head + "." + body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
        self.assertInvalidToken(SERVER.profile(tampered))
        payload = harness.token_payload(token)
        payload["role"] = "admin"
        self.assertInvalidToken(SERVER.profile(head + "." + harness._segment(payload) + "."
                                               + sig))
        self.assertProfileOk(SERVER.profile(token), user)


class EveryAlgorithm(LatchTestCase):
    def test_cache_serves_asymmetric_tokens(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg), harness.LatchServer(env={"LATCH_JWT_ALG": alg}) as srv:
                user, _, token = srv.new_user()
                before = harness.metrics(srv)
                for _ in range(3):
                    self.assertProfileOk(srv.profile(token), user)
                after = harness.metrics(srv)
                self.assertEqual(after["latch_token_cache_hits_total"]
                                 - before["latch_token_cache_hits_total"], 2)
                head, body, sig = token.split(".")
                raw = bytearray(harness.b64url_decode(sig))
                raw[-1] ^= 1
                self.assertInvalidToken(srv.profile(head + "." + body + "."
                                                    + harness.b64url(bytes(raw))))


class Revocation(LatchTestCase):
    def test_logout_refuses_cached_token_at_once(self):
        user, _, token = SERVER.new_user()
        for _ in range(3):
            self.assertProfileOk(SERVER.profile(token), user)
            self.assertEqual(SERVER.get("/verify", headers=bearer(token)).status_code, 200)
        resp = SERVER.post("/logout", headers=bearer(token))
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertInvalidToken(SERVER.profile(token))
        self.assertEqual(SERVER.get("/verify", headers=bearer(token)).status_code, 401)
        self.assertInvalidToken(SERVER.profile(token))

    def test_logout_all_refuses_other_cached_tokens(self):
        user, email, first = SERVER.new_user()
        second = SERVER.login(email).json()["token"]
        for token in (first, second, first, second):
            self.assertProfileOk(SERVER.profile(token), user)
        resp = SERVER.post("/logout?scope=all", headers=bearer(first))
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertInvalidToken(SERVER.profile(second))
        self.assertEqual(SERVER.get("/verify", headers=bearer(second)).status_code, 401)

    def test_demoted_admin_cached_token_refused_at_once(self):
        tokens = {}
        for name in ("a", "b"):
            email = harness.unique_email("admin-" + name)
            proc = harness.user_add(SERVER.data_dir, email, "correct horse battery")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            tokens[name] = SERVER.login(email).json()["token"]
        b_id = harness.token_payload(tokens["b"])["userId"]
        for _ in range(3):
            resp = SERVER.get("/verify?role=admin", headers=bearer(tokens["b"]))
            self.assertEqual(resp.status_code, 200, resp.text)
        resp = SERVER.request("PATCH", "/admin/users/%d" % b_id, json={"role": "user"},
                              headers=bearer(tokens["a"]))
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(SERVER.get("/verify", headers=bearer(tokens["b"])).status_code, 401)
        self.assertEqual(SERVER.get("/verify?role=admin",
                                    headers=bearer(tokens["b"])).status_code, 401)

    def test_expired_cached_token_refused(self):
        user, email, _ = SERVER.new_user()
        harness.until_second_start()
        token = minted(SERVER, user, email, ttl=2)
        exp = harness.token_payload(token)["exp"]
        for _ in range(3):
            self.assertProfileOk(SERVER.profile(token), user)
        time.sleep(max(0, exp - time.time()) + 0.1)
        self.assertInvalidToken(SERVER.profile(token))
        self.assertEqual(SERVER.get("/verify", headers=bearer(token)).status_code, 401)


class Bounded(LatchTestCase):
    def test_bounded_cache_evicts(self):
        user, email, _ = SMALL.new_user()
        tokens = [minted(SMALL, user, email) for _ in range(40)]
        before = harness.metrics(SMALL)
        capacity = before["latch_token_cache_capacity"]
        self.assertGreater(capacity, 0)
        self.assertLessEqual(capacity, 8)
        for token in tokens:
            self.assertProfileOk(SMALL.profile(token), user)
        mid = harness.metrics(SMALL)
        self.assertEqual(mid["latch_token_cache_misses_total"]
                         - before["latch_token_cache_misses_total"], 40)
        self.assertGreaterEqual(mid["latch_token_cache_evictions_total"]
                                - before["latch_token_cache_evictions_total"], 40 - capacity)
        # Replaying them all, only what the cache still holds can hit.
        for token in tokens:
            self.assertProfileOk(SMALL.profile(token), user)
        after = harness.metrics(SMALL)
        hits = after["latch_token_cache_hits_total"] - mid["latch_token_cache_hits_total"]
        self.assertLessEqual(hits, capacity, "more hits than the cache can hold")
        self.assertEqual(after["latch_token_cache_capacity"], capacity)
        # Still a working cache: the last token is there.
        self.assertProfileOk(SMALL.profile(tokens[-1]), user)
        self.assertEqual(harness.metrics(SMALL)["latch_token_cache_hits_total"],
                         after["latch_token_cache_hits_total"] + 1)

    def test_capacity_never_above_the_setting(self):
        # "Bound its memory (LATCH_TOKEN_CACHE_ENTRIES); it never grows past
        # the bound."
        for entries in (1, 10, 100):
            with self.subTest(entries=entries):
                with harness.LatchServer(env={"LATCH_TOKEN_CACHE_ENTRIES": str(entries)}) as srv:
                    capacity = harness.metrics(srv)["latch_token_cache_capacity"]
                    self.assertGreater(capacity, 0)
                    self.assertLessEqual(capacity, entries,
                                         "LATCH_TOKEN_CACHE_ENTRIES=%d gives a capacity of %d"
                                         % (entries, capacity))
