"""GET /healthz, HEAD on GET routes, and what the data dir holds after start."""

import os
import re
import stat

import harness
from harness import LatchTestCase, RawConnection, http_request_bytes

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


class Health(LatchTestCase):
    def test_healthz_get(self):
        self.assertJson(SERVER.get("/healthz"), 200, {"status": "ok"})

    def test_healthz_head_has_no_body(self):
        # Raw socket: after the HEAD response head, the very next bytes on the
        # connection must be the answer to the following request, not a body.
        with RawConnection(SERVER.address) as conn:
            conn.send(http_request_bytes("HEAD", "/healthz"))
            head = conn.read_response(head_request=True)
            self.assertEqual(head.status, 200, repr(head))
            self.assertEqual(head.body, b"")
            conn.send(http_request_bytes("GET", "/healthz"))
            second = conn.read_response()
            self.assertEqual(second.status, 200, "HEAD sent a body? %r" % second.raw[:200])
            self.assertEqual(second.json(), {"status": "ok"})

    def test_healthz_head_via_requests(self):
        resp = SERVER.request("HEAD", "/healthz")
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(resp.content, b"")

    def test_healthz_with_query_string(self):
        self.assertJson(SERVER.get("/healthz?probe=1"), 200, {"status": "ok"})


class DataDir(LatchTestCase):
    def test_database_file_created(self):
        if harness.backend.POSTGRES:
            # PostgreSQL mode writes no state files: the data dir stays empty.
            self.assertEqual(os.listdir(SERVER.data_dir), [])
            return
        path = os.path.join(SERVER.data_dir, "latch.db")
        self.assertTrue(os.path.isfile(path), "no %s; dir holds %s"
                        % (path, os.listdir(SERVER.data_dir)))
        with open(path, "rb") as f:
            self.assertEqual(f.read(16), b"SQLite format 3\x00")

    def test_generated_secret_file_mode_0600(self):
        if harness.backend.POSTGRES:
            SERVER.assert_keys_at_rest_protected(self)
            return
        mode = stat.S_IMODE(os.stat(SERVER.secret_path()).st_mode)
        self.assertEqual(mode, 0o600, "keys.json mode %o" % mode)

    def test_generated_secret_is_86_base64url_chars(self):
        secret = SERVER.secret()
        self.assertRegex(secret.decode("ascii", "replace"), r"\A[A-Za-z0-9_-]{86}\Z",
                         "generated secret %r" % secret[:100])

    def test_low_argon2_parameters_warn_at_start(self):
        # The harness runs with 8 MiB / 1 iteration, below the OWASP minimum.
        log = SERVER.log_text()
        self.assertTrue(re.search(r"argon2", log, re.IGNORECASE),
                        "no warning about low Argon2 parameters in:\n%s" % SERVER.log_tail())
