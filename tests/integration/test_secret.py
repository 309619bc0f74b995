"""LATCH_JWT_SECRET: used verbatim as bytes, overrides the generated secret,
and a secret shorter than 32 bytes stops start-up."""

import jwt

import harness
from harness import LatchTestCase, claims_for, mint

PASSWORD = "correct horse battery"


class ShortSecret(LatchTestCase):
    def check_refused(self, secret):
        rc, output = harness.start_refused(env={"LATCH_JWT_SECRET": secret})
        self.assertIsNotNone(rc, "latch neither listened nor exited:\n%s" % output)
        self.assertNotEqual(rc, 0, "exit code 0 for a refused start:\n%s" % output)
        self.assertIn("LATCH_JWT_SECRET", output)
        if len(secret) >= 16:
            self.assertNotIn(secret, output, "the secret itself was printed")

    def test_31_bytes_refused(self):
        self.check_refused("s3cr3t-" + "x" * 24)

    def test_short_multibyte_refused(self):
        # 16 characters but 32 bytes would pass; 15 two-byte characters are 30 bytes.
        self.check_refused("\u00e9" * 15)

    def test_one_byte_refused(self):
        self.check_refused("k")


class VerbatimSecret(LatchTestCase):
    def run_with_secret(self, secret):
        server = harness.LatchServer(env={"LATCH_JWT_SECRET": secret})
        try:
            server.start()
            user, email, token = server.new_user(PASSWORD)
            key = secret.encode("utf-8")
            claims = jwt.decode(token, key, algorithms=["HS256"], issuer="latch")
            self.assertEqual(claims["userId"], user["id"])
            self.assertProfileOk(server.profile(mint(claims_for(user["id"]), key)), user)
            # A generated secret, if one was written, is not what signs.
            try:
                generated = server.secret()
            except FileNotFoundError:
                generated = None
            if generated is not None and generated != key:
                self.assertInvalidToken(server.profile(mint(claims_for(user["id"]), generated)))
        finally:
            server.close()

    def test_exactly_32_bytes_accepted(self):
        self.run_with_secret("0123456789abcdef0123456789abcdef")

    def test_hex_looking_secret_not_decoded(self):
        # 64 hex digits: used as 64 ASCII bytes, not as 32 decoded bytes.
        self.run_with_secret("9f" * 32)

    def test_base64_looking_secret_not_decoded(self):
        self.run_with_secret("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn")

    def test_multibyte_secret_counted_in_bytes(self):
        # 16 characters, 32 bytes of UTF-8: long enough.
        self.run_with_secret("\u00e9" * 16)

    def test_env_secret_survives_restart_with_same_env(self):
        secret = "a-long-enough-secret-for-hs256-tests!"
        server = harness.LatchServer(env={"LATCH_JWT_SECRET": secret})
        try:
            server.start()
            user, _, token = server.new_user(PASSWORD)
            server.restart()
            self.assertProfileOk(server.profile(token), user)
        finally:
            server.close()
