"""GET /.well-known/jwks.json: {"keys":[]} in HS256 mode; in the asymmetric
modes every public verification key and never a private or symmetric member,
Content-Type application/json, Cache-Control public, max-age=300, and each
kid equal to the RFC 7638 thumbprint (computed here).  Generated keys are
kept in keys.json (mode 0600) and survive a restart."""

import json
import os
import stat

import harness
from harness import LatchTestCase, bearer

SERVERS = {}
TOKENS = {}
# Exactly the members a public JWK of each kind carries.
PUBLIC_MEMBERS = {"EdDSA": {"kty", "crv", "x", "kid", "alg", "use"},
                  "ES256": {"kty", "crv", "x", "y", "kid", "alg", "use"},
                  "RS256": {"kty", "n", "e", "kid", "alg", "use"}}


def setUpModule():
    try:
        for alg in ("HS256",) + harness.ASYM_ALGS:
            server = harness.LatchServer(env={"LATCH_JWT_ALG": alg}).start()
            SERVERS[alg] = server
            TOKENS[alg] = server.new_user()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    errors = []
    for server in SERVERS.values():
        try:
            server.close()
        except AssertionError as e:
            errors.append(e)
    SERVERS.clear()
    if errors:
        raise errors[0]


class JwksHeaders(LatchTestCase):
    def check_headers(self, resp):
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(resp.headers.get("Content-Type", "").split(";")[0].strip(),
                         "application/json")
        cache = [p.strip() for p in resp.headers.get("Cache-Control", "").split(",")]
        self.assertEqual(sorted(cache), ["max-age=300", "public"], resp.headers)

    def test_hs256_mode_publishes_no_key(self):
        resp = SERVERS["HS256"].get("/.well-known/jwks.json")
        self.check_headers(resp)
        self.assertEqual(resp.json(), {"keys": []})

    def test_headers_each_alg(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                self.check_headers(SERVERS[alg].get("/.well-known/jwks.json"))

    def test_head(self):
        for alg in ("HS256",) + harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                resp = SERVERS[alg].request("HEAD", "/.well-known/jwks.json")
                self.assertEqual(resp.status_code, 200)
                self.assertEqual(resp.content, b"")

    def test_post_not_allowed(self):
        resp = SERVERS["EdDSA"].post("/.well-known/jwks.json")
        self.assertError(resp, 405, "Method Not Allowed")
        self.assertIn("GET", resp.headers.get("Allow", ""))

    def test_no_authentication_needed(self):
        resp = SERVERS["ES256"].get("/.well-known/jwks.json",
                                    headers=bearer("not-a-token"))
        self.assertEqual(resp.status_code, 200)


class JwksKeys(LatchTestCase):
    def test_public_members_only(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                doc = harness.jwks_of(SERVERS[alg])
                self.assertEqual(list(doc), ["keys"])
                self.assertEqual(len(doc["keys"]), 1, doc)
                jwk = doc["keys"][0]
                for member in harness.PRIVATE_JWK_MEMBERS:
                    self.assertNotIn(member, jwk, "%s JWK leaks %r" % (alg, member))
                self.assertEqual(set(jwk), PUBLIC_MEMBERS[alg], jwk)
                self.assertEqual(jwk["alg"], alg)
                self.assertEqual(jwk["use"], "sig")

    def test_key_shapes(self):
        jwk = harness.jwks_of(SERVERS["EdDSA"])["keys"][0]
        self.assertEqual((jwk["kty"], jwk["crv"]), ("OKP", "Ed25519"))
        self.assertEqual(len(harness.b64url_decode(jwk["x"])), 32)
        jwk = harness.jwks_of(SERVERS["ES256"])["keys"][0]
        self.assertEqual((jwk["kty"], jwk["crv"]), ("EC", "P-256"))
        self.assertEqual(len(harness.b64url_decode(jwk["x"])), 32)
        self.assertEqual(len(harness.b64url_decode(jwk["y"])), 32)
        jwk = harness.jwks_of(SERVERS["RS256"])["keys"][0]
        self.assertEqual(jwk["kty"], "RSA")
        self.assertEqual(jwk["e"], "AQAB")
        n = harness.b64url_decode(jwk["n"])
        self.assertNotEqual(n[0], 0, "n must have no leading zero byte (RFC 7518 6.3.1.1)")
        self.assertGreaterEqual(len(n) * 8, 2048)

    def test_kid_is_rfc7638_thumbprint(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                jwk = harness.jwks_of(SERVERS[alg])["keys"][0]
                self.assertEqual(jwk["kid"], harness.rfc7638_thumbprint(jwk))
                token = TOKENS[alg][2]
                head = harness.token_header(token)
                self.assertEqual((head["alg"], head["kid"]), (alg, jwk["kid"]), head)

    def test_jwk_matches_private_key_in_keys_json(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                server = SERVERS[alg]
                jwk = harness.jwks_of(server)["keys"][0]
                entry = harness.key_entry(server.data_dir, jwk["kid"])
                self.assertEqual(entry["alg"], alg)
                private = harness.load_private_pem(entry["material"])
                expected = harness.public_jwk(private, alg)
                self.assertEqual({m: jwk[m] for m in expected}, expected)

    def test_keys_json_mode_0600(self):
        for alg in ("HS256",) + harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                SERVERS[alg].assert_keys_at_rest_protected(self)

    def test_hs256_kid_reveals_nothing(self):
        server = SERVERS["HS256"]
        kid = harness.token_header(TOKENS["HS256"][2]).get("kid")
        self.assertTrue(kid, "HS256 tokens carry a kid")
        self.assertEqual(kid, server.kid())
        self.assertNotIn(kid, server.secret().decode())
        self.assertNotIn(kid, json.dumps(harness.jwks_of(server)))

    def test_same_kid_after_restart(self):
        server = SERVERS["ES256"]
        before = harness.jwks_of(server)
        server.restart()
        self.assertEqual(harness.jwks_of(server), before)
        user, _, token = TOKENS["ES256"]
        self.assertProfileOk(server.profile(token), user)
        _, _, fresh = server.new_user()
        self.assertEqual(harness.token_header(fresh)["kid"], before["keys"][0]["kid"])
