"""Interoperability and attacks per asymmetric algorithm (EdDSA, ES256,
RS256), each with a server whose only key is a PEM made by `openssl genpkey`
(LATCH_JWT_KEY_FILE):

- a token latch issues verifies with the npm package `jose` (createLocalJWKSet
  over /.well-known/jwks.json) and with Debian's python3-jwt;
- tokens that `jose` and python3-jwt sign with latch's key are accepted;
- the attacks of the foundation issue repeated for the algorithm (alg none,
  tampered payload, stripped/truncated/bit-flipped signature, expired, nbf in
  the future, wrong iss, another key of the same algorithm, unknown kid,
  jku/x5u/jwk/x5c headers, duplicate role), algorithm confusion (an HS256
  token whose MAC key is the public key's PEM, JWK JSON or DER), and for
  ES256 the "psychic signature" (r = 0 / s = 0, CVE-2022-21449) and DER
  signatures.

Forged tokens are made here with python3-cryptography, independently of
latch, so malformed headers and payloads are possible.
"""

import json
import os
import shutil
import tempfile
import time

import jwt

import harness
from harness import (LatchTestCase, b64url, b64url_decode, bearer, claims_for, mint_asym,
                     mint_hmac_raw)

# The order of the P-256 group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
OTHER_ALG = {"EdDSA": "ES256", "ES256": "RS256", "RS256": "EdDSA"}


class _Interop:
    """Mixed into one TestCase per algorithm (ALG)."""

    ALG = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="latch-interop-")
        cls.key_path = os.path.join(cls.tmp, "signing-%s.pem" % cls.ALG)
        cls.pem = harness.genpkey(cls.ALG, cls.key_path).decode("ascii")
        cls.key = harness.load_private_pem(cls.pem)
        cls.kid = harness.rfc7638_thumbprint(harness.public_jwk(cls.key, cls.ALG))
        cls.server = harness.LatchServer(env={"LATCH_JWT_ALG": cls.ALG,
                                              "LATCH_JWT_KEY_FILE": cls.key_path})
        try:
            cls.server.start()
            cls.user, cls.email, cls.token = cls.server.new_user()
            cls.jwks_text = cls.server.get("/.well-known/jwks.json").text
            cls.jwks = json.loads(cls.jwks_text)
        except BaseException:
            cls.server.close(check=False)
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            harness.stop_module_server(cls.server)
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------

    def claims(self, **extra):
        return claims_for(self.user["id"], email=self.email, **extra)

    def forge(self, claims=None, key=None, kid="default", header=None, **kwargs):
        """A token signed with latch's key (or key) for ALG."""
        if kid == "default":
            kid = self.kid
        return mint_asym(self.claims() if claims is None else claims,
                         self.key if key is None else key, self.ALG, kid=kid, header=header,
                         **kwargs)

    def header(self, **members):
        h = {"alg": self.ALG, "typ": "JWT", "kid": self.kid}
        h.update(members)
        return {k: v for k, v in h.items() if v is not None}

    def refused(self, token):
        self.assertInvalidToken(self.server.profile(token))
        resp = self.server.get("/verify", headers=bearer(token))
        self.assertEqual(resp.status_code, 401, resp.text)
        self.assertNotIn("X-Auth-User-Id", resp.headers)

    def accepted(self, token):
        self.assertProfileOk(self.server.profile(token), self.user)

    def jose(self, requests_list):
        reason = harness.npm_ready()
        if reason is not None:
            self.skipTest(reason)
        return harness.jose_tool(requests_list)

    # -- JWKS and interoperability ---------------------------------------------

    def test_jwks_holds_the_key_files_public_key(self):
        self.assertEqual(len(self.jwks["keys"]), 1, self.jwks)
        jwk = self.jwks["keys"][0]
        self.assertEqual(jwk["kid"], self.kid, "kid must be the RFC 7638 thumbprint")
        self.assertEqual(jwk.get("alg"), self.ALG)
        expected = harness.public_jwk(self.key, self.ALG)
        for member, value in expected.items():
            self.assertEqual(jwk.get(member), value, member)
        for member in harness.PRIVATE_JWK_MEMBERS:
            self.assertNotIn(member, jwk)
        head = harness.token_header(self.token)
        self.assertEqual((head.get("alg"), head.get("kid")), (self.ALG, self.kid), head)

    def test_jose_verifies_latch_token_with_jwks(self):
        [good, bad] = self.jose([
            {"op": "verify", "token": self.token, "jwks": self.jwks, "issuer": "latch",
             "alg": self.ALG},
            {"op": "verify", "token": _flip_last_sig_byte(self.token), "jwks": self.jwks,
             "issuer": "latch", "alg": self.ALG}])
        self.assertTrue(good["ok"], good)
        self.assertEqual(good["header"]["kid"], self.kid)
        self.assertEqual(good["payload"]["userId"], self.user["id"])
        self.assertEqual(good["payload"]["email"], self.email)
        self.assertFalse(bad["ok"], "jose accepted a bit-flipped signature: %s" % bad)

    def test_jose_verifies_token_of_generated_key(self):
        # Without LATCH_JWT_KEY_FILE latch generates its key; jose verifies
        # its tokens all the same.
        with harness.LatchServer(env={"LATCH_JWT_ALG": self.ALG}) as srv:
            user, email, token = srv.new_user()
            jwks = harness.jwks_of(srv)
            [res] = self.jose([{"op": "verify", "token": token, "jwks": jwks,
                                "issuer": "latch", "alg": self.ALG}])
            self.assertTrue(res["ok"], res)
            self.assertEqual(res["payload"]["userId"], user["id"])
            self.assertNotEqual(harness.token_header(token)["kid"], self.kid)

    def test_python_jwt_verifies_latch_token_with_jwks(self):
        keyset = jwt.PyJWKSet.from_dict(self.jwks)
        kid = jwt.get_unverified_header(self.token)["kid"]
        [key] = [k for k in keyset.keys if k.key_id == kid]
        claims = jwt.decode(self.token, key.key, algorithms=[self.ALG], issuer="latch")
        self.assertEqual(claims["userId"], self.user["id"])
        with self.assertRaises(jwt.InvalidSignatureError):
            jwt.decode(_flip_last_sig_byte(self.token), key.key, algorithms=[self.ALG],
                       issuer="latch")

    def test_latch_accepts_token_signed_by_jose(self):
        results = self.jose([
            {"op": "sign", "pem": self.pem, "alg": self.ALG, "kid": self.kid,
             "payload": self.claims()},
            {"op": "sign", "pem": self.pem, "alg": self.ALG, "kid": None,
             "payload": self.claims()}])
        for res in results:
            self.assertTrue(res["ok"], res)
            self.accepted(res["token"])
            resp = self.server.get("/verify", headers=bearer(res["token"]))
            self.assertEqual(resp.status_code, 200, resp.text)
            self.assertEqual(resp.headers.get("X-Auth-User-Id"), str(self.user["id"]))

    def test_latch_accepts_token_signed_by_python_jwt(self):
        token = jwt.encode(self.claims(), self.pem, algorithm=self.ALG,
                           headers={"kid": self.kid})
        self.accepted(token)

    def test_control_forged_here_with_right_key_accepted(self):
        self.accepted(self.forge())
        self.accepted(self.forge(kid=None))

    # -- the foundation's attacks ------------------------------------------------

    def test_alg_none(self):
        for alg in ("none", "None", "NONE"):
            head = harness._segment({"alg": alg, "typ": "JWT", "kid": self.kid})
            body = harness._segment(self.claims())
            self.refused(head + "." + body + ".")
            self.refused(head + "." + body)
            # A valid signature of the key kept behind an alg none header.
            valid = self.forge()
            self.refused(head + "." + body + "." + valid.split(".")[2])

    def test_tampered_payload(self):
        head, _, sig = self.token.split(".")
        payload = harness.token_payload(self.token)
        payload["role"] = "admin"
        self.refused(head + "." + harness._segment(payload) + "." + sig)
        payload = harness.token_payload(self.token)
        payload["exp"] += 3600
        self.refused(head + "." + harness._segment(payload) + "." + sig)

    def test_stripped_signature(self):
        head, body, _ = self.token.split(".")
        self.refused(head + "." + body + ".")
        self.refused(head + "." + body)

    def test_truncated_signature(self):
        head, body, sig = self.token.split(".")
        raw = b64url_decode(sig)
        self.refused(head + "." + body + "." + b64url(raw[:-1]))
        self.refused(head + "." + body + "." + b64url(raw[1:]))
        self.refused(head + "." + body + "." + b64url(raw[:len(raw) // 2]))
        self.refused(head + "." + body + "." + sig[:-4])

    def test_extended_signature(self):
        head, body, sig = self.token.split(".")
        raw = b64url_decode(sig)
        self.refused(head + "." + body + "." + b64url(raw + b"\x00"))
        self.refused(head + "." + body + "." + b64url(b"\x00" + raw))

    def test_bit_flipped_signature(self):
        head, body, sig = self.token.split(".")
        raw = bytearray(b64url_decode(sig))
        for index in (0, len(raw) // 2, len(raw) - 1):
            flipped = bytearray(raw)
            flipped[index] ^= 0x01
            self.refused(head + "." + body + "." + b64url(bytes(flipped)))

    def test_expired(self):
        now = int(time.time())
        self.refused(self.forge(self.claims(now=now - 3600, ttl=900)))

    def test_nbf_in_future(self):
        self.refused(self.forge(self.claims(nbf=int(time.time()) + 3600)))

    def test_wrong_iss(self):
        self.refused(self.forge(claims_for(self.user["id"], email=self.email,
                                           issuer="not-latch")))

    def test_another_key_of_same_alg(self):
        other = harness.new_private_key(self.ALG)
        other_kid = harness.rfc7638_thumbprint(harness.public_jwk(other, self.ALG))
        self.refused(self.forge(key=other))                 # latch's kid
        self.refused(self.forge(key=other, kid=None))       # no kid
        self.refused(self.forge(key=other, kid=other_kid))  # its own kid

    def test_unknown_kid(self):
        self.refused(self.forge(kid="unknown-kid"))
        self.refused(self.forge(kid=self.kid[:-1]))
        self.refused(self.forge(kid=""))

    def test_jku_header(self):
        self.refused(self.forge(header=self.header(jku="http://127.0.0.1:9/jwks.json")))

    def test_x5u_header(self):
        self.refused(self.forge(header=self.header(x5u="http://127.0.0.1:9/cert.pem")))

    def test_embedded_jwk_of_attacker(self):
        other = harness.new_private_key(self.ALG)
        jwk = harness.public_jwk(other, self.ALG)
        self.refused(self.forge(key=other, header=self.header(kid=None, jwk=jwk)))
        self.refused(self.forge(key=other, header=self.header(jwk=jwk)))

    def test_embedded_jwk_of_latch_key(self):
        # Even latch's own key may not come from the token.
        jwk = harness.public_jwk(self.key, self.ALG)
        self.refused(self.forge(header=self.header(jwk=jwk)))

    def test_x5c_header(self):
        self.refused(self.forge(header=self.header(x5c=[b64url(harness.public_der(self.key))])))

    def test_duplicate_role_key(self):
        now = int(time.time())
        payload = ('{"sub":"%d","userId":%d,"role":"user","role":"admin","iat":%d,'
                   '"exp":%d,"iss":"latch","jti":"dupdupdupdupdupdupdupd"}'
                   % (self.user["id"], self.user["id"], now, now + 600))
        self.refused(self.forge(payload))
        # The same text without the duplicate is accepted (control).
        self.accepted(self.forge(payload.replace('"role":"user",', '')
                                 .replace('"admin"', '"user"')))

    def test_header_names_another_algorithm(self):
        other = OTHER_ALG[self.ALG]
        self.refused(self.forge(header=self.header(alg=other)))
        self.refused(self.forge(header=self.header(alg="HS256")))

    # -- algorithm confusion -------------------------------------------------------

    def confusion_keys(self):
        pem = harness.public_pem(self.key)
        jwk_served = json.dumps(self.jwks["keys"][0], separators=(",", ":")).encode()
        # The exact bytes of the key object as the JWKS document serves it.
        start = self.jwks_text.index('{"k', 1)
        jwk_raw = self.jwks_text[start:self.jwks_text.rindex("}]")+1].encode()
        thumb_input = json.dumps({m: self.jwks["keys"][0][m]
                                  for m in harness.THUMBPRINT_MEMBERS[self.jwks["keys"][0]["kty"]]},
                                 separators=(",", ":"), sort_keys=True).encode()
        return {
            "public PEM": pem,
            "public PEM without final newline": pem.rstrip(b"\n"),
            "public PEM, CRLF": pem.replace(b"\n", b"\r\n"),
            "JWK JSON": jwk_served,
            "JWK JSON as served": jwk_raw,
            "JWKS document": self.jwks_text.encode(),
            "RFC 7638 JWK": thumb_input,
            "public DER": harness.public_der(self.key),
            "private PEM": self.pem.encode(),
        }

    def test_algorithm_confusion_hs256_with_public_key_as_secret(self):
        for name, secret in self.confusion_keys().items():
            for kid in (self.kid, None):
                with self.subTest(key=name, kid=kid):
                    head = {"alg": "HS256", "typ": "JWT"}
                    if kid is not None:
                        head["kid"] = kid
                    self.refused(mint_hmac_raw(self.claims(), secret, head))


class EdDSAInterop(_Interop, LatchTestCase):
    ALG = "EdDSA"


class ES256Interop(_Interop, LatchTestCase):
    ALG = "ES256"

    def sig_token(self, sig_bytes):
        head = harness._segment(self.header())
        body = harness._segment(self.claims())
        return head + "." + body + "." + b64url(sig_bytes)

    def valid_rs(self):
        token = self.forge()
        raw = b64url_decode(token.split(".")[2])
        return raw[:32], raw[32:]

    def test_psychic_signature_r0_s0(self):
        self.refused(self.sig_token(b"\x00" * 64))

    def test_psychic_signature_with_other_half_valid(self):
        r, s = self.valid_rs()
        self.refused(self.sig_token(b"\x00" * 32 + s))
        self.refused(self.sig_token(r + b"\x00" * 32))

    def test_r_s_equal_to_group_order(self):
        n = P256_N.to_bytes(32, "big")
        self.refused(self.sig_token(n + n))
        r, s = self.valid_rs()
        self.refused(self.sig_token(n + s))
        self.refused(self.sig_token(r + n))
        # r + n is congruent to r: still refused (out of range).
        r_plus_n = int.from_bytes(r, "big") + P256_N
        if r_plus_n < 2 ** 256:
            self.refused(self.sig_token(r_plus_n.to_bytes(32, "big") + s))

    def test_der_signature(self):
        self.refused(self.forge(der=True))
        # The DER zero signature SEQUENCE { INTEGER 0, INTEGER 0 }.
        self.refused(self.sig_token(bytes.fromhex("3006020100020100")))


class RS256Interop(_Interop, LatchTestCase):
    ALG = "RS256"

    def test_signature_of_pss_padding(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        head = harness._segment(self.header())
        body = harness._segment(self.claims())
        signing_input = head + "." + body
        sig = self.key.sign(signing_input.encode(), padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        self.refused(signing_input + "." + b64url(sig))
        self.refused(mint_asym(self.claims(), self.key, "RS256",
                               header=self.header(alg="PS256")))


def _flip_last_sig_byte(token):
    head, body, sig = token.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[len(raw) // 2] ^= 0x80
    return head + "." + body + "." + b64url(bytes(raw))
