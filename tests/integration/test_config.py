"""Configuration: LATCH_* variables, flags that override them, refusal of
malformed values (naming them), and `latch serve --help`."""

import os
import socket
import time

import jwt

import harness
from harness import LatchTestCase, claims_for, mint

PASSWORD = "correct horse battery"


class TokenSettings(LatchTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.LatchServer(env={"LATCH_ACCESS_TTL_S": "60",
                                              "LATCH_ISSUER": "https://issuer.test",
                                              "LATCH_LEEWAY_S": "0"}).start()
        cls.user, cls.email, cls.token = cls.server.new_user(PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_access_ttl_sets_expires_in_and_exp(self):
        body = self.assertJson(self.server.login(self.email, PASSWORD), 200)
        self.assertEqual(body["expires_in"], 60)
        claims = jwt.decode(body["token"], self.server.secret(), algorithms=["HS256"],
                            issuer="https://issuer.test")
        self.assertEqual(claims["exp"] - claims["iat"], 60)

    def test_issuer_claim(self):
        claims = jwt.decode(self.token, self.server.secret(), algorithms=["HS256"],
                            options={"verify_exp": False})
        self.assertEqual(claims["iss"], "https://issuer.test")

    def test_custom_issuer_token_accepted(self):
        # Within this server's access TTL (60 s): a longer-lived token is
        # refused since issue 9.
        token = mint(claims_for(self.user["id"], issuer="https://issuer.test", ttl=60),
                     self.server.secret())
        self.assertProfileOk(self.server.profile(token), self.user)

    def test_default_issuer_rejected_when_configured_otherwise(self):
        token = mint(claims_for(self.user["id"], issuer="latch"), self.server.secret())
        self.assertInvalidToken(self.server.profile(token))

    def test_zero_leeway_rejects_just_expired(self):
        now = int(time.time())
        token = mint(claims_for(self.user["id"], issuer="https://issuer.test", now=now - 100,
                                ttl=95), self.server.secret())
        self.assertInvalidToken(self.server.profile(token))

    def test_zero_leeway_rejects_nbf_slightly_ahead(self):
        now = int(time.time())
        token = mint(claims_for(self.user["id"], issuer="https://issuer.test", nbf=now + 10),
                     self.server.secret())
        self.assertInvalidToken(self.server.profile(token))


class FlagsOverrideEnvironment(LatchTestCase):
    def test_flag_access_ttl_overrides_env(self):
        server = harness.LatchServer(env={"LATCH_ACCESS_TTL_S": "60"})
        server.custom_args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", server.data_dir,
                              "--access-ttl-s", "120"]
        try:
            server.start()
            _, email, _ = server.new_user(PASSWORD)
            self.assertEqual(server.login(email, PASSWORD).json()["expires_in"], 120)
        finally:
            server.close()

    def test_listen_flag_overrides_env(self):
        # LATCH_LISTEN names port 1, which the flag replaces.
        server = harness.LatchServer(env={"LATCH_LISTEN": "127.0.0.1:1"})
        try:
            server.start()
            self.assertNotEqual(server.port, 1)
            self.assertTrue(server.healthy())
        finally:
            server.close()

    def test_environment_only(self):
        server = harness.LatchServer(args=["serve"])
        server.extra_env.update({"LATCH_LISTEN": "127.0.0.1:0", "LATCH_DATA_DIR": server.data_dir})
        try:
            server.start()
            self.assertTrue(server.healthy())
            if harness.backend.POSTGRES:
                self.assertEqual(os.listdir(server.data_dir), [])   # no state files
            else:
                self.assertTrue(os.path.isfile(os.path.join(server.data_dir, "latch.db")))
        finally:
            server.close()

    def test_ipv6_loopback(self):
        try:
            probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        server = harness.LatchServer(listen="[::1]:0")
        try:
            server.start()
            self.assertEqual(server.host, "[::1]")
            self.assertTrue(server.healthy())
        finally:
            server.close()


class MalformedValues(LatchTestCase):
    def check_refused(self, env=None, args=None, names=()):
        rc, output = harness.start_refused(env=env, args=args)
        self.assertIsNotNone(rc, "latch neither listened nor exited:\n%s" % output)
        self.assertNotEqual(rc, 0, output)
        self.assertTrue(any(name in output for name in names),
                        "message names none of %s:\n%s" % (names, output))

    def test_access_ttl_abc_refused(self):
        self.check_refused(env={"LATCH_ACCESS_TTL_S": "abc"}, names=("LATCH_ACCESS_TTL_S",))

    def test_access_ttl_trailing_garbage_refused(self):
        self.check_refused(env={"LATCH_ACCESS_TTL_S": "900s"}, names=("LATCH_ACCESS_TTL_S",))

    def test_leeway_abc_refused(self):
        self.check_refused(env={"LATCH_LEEWAY_S": "abc"}, names=("LATCH_LEEWAY_S",))

    def test_hash_workers_abc_refused(self):
        self.check_refused(env={"LATCH_HASH_WORKERS": "many"}, names=("LATCH_HASH_WORKERS",))

    def test_argon2_memory_abc_refused(self):
        self.check_refused(env={"LATCH_ARGON2_MEMORY_KIB": "lots"},
                           names=("LATCH_ARGON2_MEMORY_KIB",))

    def test_listen_env_malformed_refused(self):
        server_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            self.check_refused(env={"LATCH_LISTEN": "not-an-address"},
                               args=["serve", "--data-dir", server_dir],
                               names=("LATCH_LISTEN",))
        finally:
            harness.shutil.rmtree(server_dir, ignore_errors=True)

    def test_listen_flag_malformed_refused(self):
        server_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            self.check_refused(args=["serve", "--listen", "nonsense", "--data-dir", server_dir],
                               names=("--listen",))
        finally:
            harness.shutil.rmtree(server_dir, ignore_errors=True)

    def test_access_ttl_flag_malformed_refused(self):
        server_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            self.check_refused(args=["serve", "--listen", "127.0.0.1:0", "--data-dir", server_dir,
                                     "--access-ttl-s", "abc"], names=("--access-ttl-s",))
        finally:
            harness.shutil.rmtree(server_dir, ignore_errors=True)


class Help(LatchTestCase):
    def test_serve_help(self):
        result = harness.run_latch(["serve", "--help"], timeout=10)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, output)
        for flag in ("--listen", "--data-dir", "--db", "--issuer", "--access-ttl-s",
                     "--leeway-s", "--argon2-memory-kib", "--argon2-iterations",
                     "--hash-workers", "--hash-queue"):
            self.assertIn(flag, output)
        self.assertIn("LATCH_LISTEN", output)

    def test_unknown_flag_refused(self):
        self.check_unknown_flag(["--no-such-flag"], "--no-such-flag")

    def test_unknown_flag_with_value_refused(self):
        self.check_unknown_flag(["--bogus", "1"], "--bogus")

    def check_unknown_flag(self, extra_args, name):
        server_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            rc, output = harness.start_refused(
                args=["serve", "--listen", "127.0.0.1:0", "--data-dir", server_dir] + extra_args)
            self.assertIsNotNone(rc, output)
            self.assertNotEqual(rc, 0, output)
            self.assertIn(name, output)
        finally:
            harness.shutil.rmtree(server_dir, ignore_errors=True)
