"""LATCH_JWT_ALG and the key given from outside: LATCH_JWT_KEY_FILE readable
by group or others, RSA under 2048 bits, a PEM of another type than the
algorithm, a public key or a missing file are refused at start with a
message that names the file; LATCH_JWT_SECRET in an asymmetric mode is
ignored with a warning; `latch key rotate` refuses (non-zero exit, message)
while the key comes from LATCH_JWT_SECRET or LATCH_JWT_KEY_FILE."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import LatchTestCase, claims_for, mint

TMP = None
PEMS = {}


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="latch-keyfiles-")
    for alg in harness.ASYM_ALGS:
        PEMS[alg] = os.path.join(TMP, "%s.pem" % alg)
        harness.genpkey(alg, PEMS[alg])


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def key_file(name, alg=None, mode=0o600, rsa_bits=None, text=None):
    path = os.path.join(TMP, name)
    if text is not None:
        with open(path, "wb") as f:
            f.write(text)
        os.chmod(path, mode)
    else:
        harness.genpkey(alg, path, mode=mode, rsa_bits=rsa_bits)
    return path


class KeyFileRefused(LatchTestCase):
    def assertRefusedNaming(self, env, path, *words):
        code, output = harness.start_refused(env=env)
        self.assertNotEqual(code, 0, output)
        self.assertIn(path, output, "the message must name the key file")
        for word in words:
            self.assertIn(word.lower(), output.lower(), output)
        return output

    def test_mode_0644_refused(self):
        path = key_file("world-readable.pem", "EdDSA", mode=0o644)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "EdDSA", "LATCH_JWT_KEY_FILE": path}, path)

    def test_mode_0640_refused(self):
        path = key_file("group-readable.pem", "ES256", mode=0o640)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "ES256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_mode_0604_refused(self):
        path = key_file("other-readable.pem", "ES256", mode=0o604)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "ES256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_rsa_1024_refused(self):
        path = key_file("rsa1024.pem", rsa_bits=1024)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "RS256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_rsa_2047_refused(self):
        path = key_file("rsa2047.pem", rsa_bits=2047)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "RS256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_pem_of_other_type_refused(self):
        for alg in harness.ASYM_ALGS:
            for pem_alg in harness.ASYM_ALGS:
                if pem_alg == alg:
                    continue
                with self.subTest(alg=alg, pem=pem_alg):
                    self.assertRefusedNaming({"LATCH_JWT_ALG": alg,
                                              "LATCH_JWT_KEY_FILE": PEMS[pem_alg]},
                                             PEMS[pem_alg])

    def test_p384_key_refused_for_es256(self):
        path = os.path.join(TMP, "p384.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                                "ec_paramgen_curve:P-384", "-out", path], check=True,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        os.chmod(path, 0o600)
        self.assertRefusedNaming({"LATCH_JWT_ALG": "ES256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_public_key_pem_refused(self):
        private = harness.load_private_pem(open(PEMS["EdDSA"], "rb").read())
        path = key_file("public.pem", text=harness.public_pem(private))
        self.assertRefusedNaming({"LATCH_JWT_ALG": "EdDSA", "LATCH_JWT_KEY_FILE": path}, path)

    def test_garbage_refused(self):
        path = key_file("garbage.pem", text=b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                            b"-----END PRIVATE KEY-----\n")
        self.assertRefusedNaming({"LATCH_JWT_ALG": "RS256", "LATCH_JWT_KEY_FILE": path}, path)

    def test_missing_file_refused(self):
        path = os.path.join(TMP, "does-not-exist.pem")
        self.assertRefusedNaming({"LATCH_JWT_ALG": "EdDSA", "LATCH_JWT_KEY_FILE": path}, path)

    def test_key_file_in_hs256_mode_refused(self):
        code, output = harness.start_refused(env={"LATCH_JWT_ALG": "HS256",
                                                  "LATCH_JWT_KEY_FILE": PEMS["EdDSA"]})
        self.assertNotEqual(code, 0)
        self.assertIn("LATCH_JWT_KEY_FILE", output)

    def test_unknown_alg_refused(self):
        for alg in ("none", "eddsa", "ES384", "PS256", "HS512"):
            with self.subTest(alg=alg):
                code, output = harness.start_refused(env={"LATCH_JWT_ALG": alg})
                self.assertNotEqual(code, 0)
                self.assertIn("LATCH_JWT_ALG", output)


class SecretInAsymmetricMode(LatchTestCase):
    SECRET = "s" * 48

    def test_secret_ignored_with_warning(self):
        with harness.LatchServer(env={"LATCH_JWT_ALG": "EdDSA",
                                      "LATCH_JWT_SECRET": self.SECRET}) as srv:
            log = srv.log_text()
            self.assertRegex(log, r"(?i)warn.*LATCH_JWT_SECRET", log)
            user, email, token = srv.new_user()
            self.assertEqual(harness.token_header(token)["alg"], "EdDSA")
            self.assertEqual(len(harness.jwks_of(srv)["keys"]), 1)
            self.assertProfileOk(srv.profile(token), user)
            # The ignored secret signs nothing latch accepts.
            claims = claims_for(user["id"], email=email)
            self.assertInvalidToken(srv.profile(mint(claims, self.SECRET)))
            forged = mint(claims, self.SECRET,
                          header={"alg": "HS256", "typ": "JWT", "kid": srv.kid()})
            self.assertInvalidToken(srv.profile(forged))
            self.assertNotIn(self.SECRET, json.dumps(harness.keys_file(srv.data_dir)))


class RotateRefusedForExternalKeys(LatchTestCase):
    def rotate_refused(self, env, word):
        data_dir = tempfile.mkdtemp(prefix="latch-rotate-refused-")
        try:
            before = sorted(os.listdir(data_dir))
            proc = harness.key_rotate(data_dir, env=env)
            self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn(word, proc.stderr, proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(data_dir, "keys.json")),
                             "a refused rotation must not write keys.json")
            return before
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_rotate_refused_with_jwt_secret(self):
        self.rotate_refused({"LATCH_JWT_ALG": "HS256", "LATCH_JWT_SECRET": "k" * 48},
                            "LATCH_JWT_SECRET")

    def test_rotate_refused_with_key_file(self):
        for alg in harness.ASYM_ALGS:
            with self.subTest(alg=alg):
                self.rotate_refused({"LATCH_JWT_ALG": alg, "LATCH_JWT_KEY_FILE": PEMS[alg]},
                                    "LATCH_JWT_KEY_FILE")

    def test_server_with_key_file_keeps_it_after_rotate_attempt(self):
        env = {"LATCH_JWT_ALG": "ES256", "LATCH_JWT_KEY_FILE": PEMS["ES256"]}
        with harness.LatchServer(env=env) as srv:
            kids = harness.jwks_kids(srv)
            proc = harness.key_rotate(srv.data_dir, env=env)
            self.assertNotEqual(proc.returncode, 0)
            srv.proc.send_signal(signal.SIGHUP)
            _, _, token = srv.new_user()
            self.assertEqual(harness.jwks_kids(srv), kids)
            self.assertEqual(harness.token_header(token)["kid"], kids[0])


def serve_args(srv):
    return ["serve", "--listen", "127.0.0.1:0", "--data-dir", srv.data_dir]


class RecordedAlgorithm(LatchTestCase):
    """Issue 9: the keys record their algorithm.  A data dir keeps it without
    LATCH_JWT_ALG; an explicit one that differs is refused, naming both;
    `latch key rotate --jwt-alg A` is how it changes; `latch key list`
    needs no variable and creates nothing."""

    def test_restart_without_the_variable_keeps_the_algorithm(self):
        srv = harness.LatchServer(env={"LATCH_JWT_ALG": "EdDSA"})
        try:
            srv.start()
            kid = srv.kid()
            srv.restart(env={"LATCH_JWT_ALG": None})
            self.assertIn("signing with EdDSA (recorded with the keys)", srv.log_text())
            _, _, token = srv.new_user()
            self.assertEqual(harness.token_header(token)["alg"], "EdDSA")
            self.assertEqual(harness.token_header(token)["kid"], kid)
            self.assertEqual(harness.jwks_kids(srv), [kid])
            listed = harness.key_list(srv.data_dir, env={"LATCH_JWT_ALG": None})
            self.assertEqual(listed, {kid: ("EdDSA", "signing")})
        finally:
            srv.close()

    def test_explicit_algorithm_that_differs_is_refused(self):
        srv = harness.LatchServer(env={"LATCH_JWT_ALG": "EdDSA"})
        try:
            srv.start()
            srv.stop()
            before = harness.keys_file(srv.data_dir)
            code, output = harness.start_refused(env={"LATCH_JWT_ALG": "HS256"},
                                                 args=serve_args(srv))
            self.assertNotEqual(code, 0, output)
            self.assertIn("HS256", output)
            self.assertIn("EdDSA", output)
            self.assertEqual(harness.keys_file(srv.data_dir), before)
        finally:
            srv.close()

    def test_rotate_with_another_algorithm_changes_it(self):
        env = {"LATCH_JWT_ALG": "EdDSA", "LATCH_KEY_PREPUBLISH_S": "0"}
        srv = harness.LatchServer(env=env)
        try:
            srv.start()
            proc = harness.key_rotate(srv.data_dir, env={"LATCH_JWT_ALG": "ES256",
                                                          "LATCH_KEY_PREPUBLISH_S": "0"})
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("ES256", proc.stdout)
            srv.restart(env={"LATCH_JWT_ALG": None})
            self.assertIn("signing with ES256 (recorded with the keys)", srv.log_text())
            # A rotation in the same second as the first key signs from the
            # next second (keys sort by start), so a fast restart may still
            # sign a token or two with EdDSA; the switch comes within a second.
            deadline = time.monotonic() + 5
            while True:
                _, _, token = srv.new_user()
                alg = harness.token_header(token)["alg"]
                if alg == "ES256" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(alg, "ES256")
            # Now the old algorithm, given explicitly, is the one refused.
            srv.stop()
            code, output = harness.start_refused(env={"LATCH_JWT_ALG": "EdDSA"},
                                                 args=serve_args(srv))
            self.assertNotEqual(code, 0, output)
            self.assertIn("ES256", output)
        finally:
            srv.close()

    def test_key_list_on_an_empty_data_dir_creates_nothing(self):
        parent = tempfile.mkdtemp(prefix="latch-keylist-")
        try:
            missing = os.path.join(parent, "never-made")
            # On PostgreSQL a database never served from has no schema yet:
            # listing says so (run latch db migrate) and creates nothing.
            says = r"no keys|latch db migrate" if harness.backend.POSTGRES else r"no keys"
            proc = harness.run_latch(["key", "list", "--data-dir", missing])
            self.assertNotEqual(proc.returncode, 0)
            self.assertRegex(proc.stderr, says)
            self.assertFalse(os.path.exists(missing))
            empty = os.path.join(parent, "empty")
            os.mkdir(empty)
            proc = harness.run_latch(["key", "list", "--data-dir", empty])
            self.assertNotEqual(proc.returncode, 0)
            self.assertRegex(proc.stderr, says)
            self.assertEqual(os.listdir(empty), [])
        finally:
            shutil.rmtree(parent, ignore_errors=True)
