"""The CLI next to the server: `latch user add` (password on stdin) on the
same data dir, before start and while the server runs; `latch token decode`."""

import harness
from harness import BAD_LOGIN, LatchTestCase, unique_email

PASSWORD = "admin password 1"


class UserAdd(LatchTestCase):
    def check_admin(self, server, email, password):
        login = self.assertJson(server.login(email, password), 200)
        body = self.assertProfileOk(server.profile(login["token"]))
        self.assertEqual(body["email"], email)
        self.assertEqual(body["role"], "admin")
        return login["token"]

    def test_user_add_admin_before_start(self):
        server = harness.LatchServer()
        try:
            email = unique_email("admin")
            result = harness.user_add(server.data_dir, email, PASSWORD, role="admin")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertNotIn(PASSWORD, result.stdout + result.stderr)
            server.start()
            self.check_admin(server, email, PASSWORD)
        finally:
            server.close()

    def test_user_add_admin_while_server_runs(self):
        server = harness.LatchServer()
        try:
            server.start()
            email = unique_email("admin")
            result = harness.user_add(server.data_dir, email, PASSWORD, role="admin")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            # Users are read from the store per request: seen at once.
            self.check_admin(server, email, PASSWORD)
        finally:
            server.close()

    def test_trailing_newline_not_part_of_password(self):
        server = harness.LatchServer()
        try:
            server.start()
            email = unique_email("admin")
            result = harness.user_add(server.data_dir, email, PASSWORD, role="admin")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertJson(server.login(email, PASSWORD + "\n"), 401, BAD_LOGIN)
            self.assertJson(server.login(email, PASSWORD), 200)
        finally:
            server.close()

    def test_cli_user_email_is_taken_for_register(self):
        server = harness.LatchServer()
        try:
            server.start()
            email = unique_email("admin")
            result = harness.user_add(server.data_dir, email, PASSWORD, role="admin")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertJson(server.register(email.upper(), "another password"), 409,
                            harness.EMAIL_TAKEN)
        finally:
            server.close()


class TokenDecode(LatchTestCase):
    def test_token_decode_prints_header_and_payload(self):
        server = harness.LatchServer()
        try:
            server.start()
            user, email, token = server.new_user()
            result = harness.run_latch(["token", "decode", "--data-dir", server.data_dir, token],
                                       timeout=10)
            output = result.stdout + result.stderr
            self.assertEqual(result.returncode, 0, output)
            for needle in ("HS256", email, '"userId"', str(user["id"]), '"iss"'):
                self.assertIn(needle, output)
            self.assertRegex(output, r"(?i)\bvalid\b", output)
        finally:
            server.close()

    def test_token_decode_reports_bad_signature(self):
        server = harness.LatchServer()
        try:
            server.start()
            _, email, token = server.new_user()
            head, payload, _ = token.split(".")
            forged = head + "." + payload + "." + harness.b64url(b"\0" * 32)
            result = harness.run_latch(["token", "decode", "--data-dir", server.data_dir, forged],
                                       timeout=10)
            output = result.stdout + result.stderr
            self.assertIn(email, output)          # still decoded and shown
            self.assertNotEqual(result.returncode, 0,
                                "a token with a bad signature decoded as fine:\n" + output)
        finally:
            server.close()
