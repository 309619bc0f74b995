"""Cases found by reading the code against its docs, kept so they stay fixed."""

import harness
from harness import LatchTestCase, unique_email

PASSWORD = "regression password"


class Regressions(LatchTestCase):
    def test_deleted_user_token_of_same_second_refused_by_verify(self):
        # /verify reads no store for a JWT: a user deleted in the second of
        # their login must still lose the token (by its family's sid).
        server = harness.LatchServer()
        try:
            admin_email = unique_email("admin")
            self.assertEqual(harness.user_add(server.data_dir, admin_email, PASSWORD).returncode, 0)
            server.start()
            admin = server.login(admin_email, PASSWORD).json()["token"]
            for _ in range(3):
                user, email, token = server.new_user(PASSWORD)
                self.assertEqual(server.get("/verify", headers=harness.bearer(token)).status_code,
                                 200)
                resp = server.request("DELETE", "/admin/users/%d" % user["id"],
                                      headers=harness.bearer(admin))
                self.assertEqual(resp.status_code, 204, resp.text)
                self.assertJson(server.get("/verify", headers=harness.bearer(token)), 401,
                                harness.INVALID_TOKEN)
        finally:
            server.close()

    def test_key_rotate_keeps_the_recorded_algorithm(self):
        # A rotation run without LATCH_JWT_ALG adds a key of the algorithm
        # the keys record (issue 9; before, it was refused), never an HS256
        # key beside EdDSA ones.
        server = harness.LatchServer(env={"LATCH_JWT_ALG": "EdDSA"})
        try:
            server.start()
            result = harness.key_rotate(server.data_dir, env={"LATCH_JWT_ALG": None})
            self.assertEqual(result.returncode, 0, result.stderr)
            algs = [k["alg"] for k in harness.keys_file(server.data_dir)["keys"]]
            self.assertEqual(algs, ["EdDSA", "EdDSA"])
        finally:
            server.close()

    def test_options_on_verify_is_405(self):
        server = harness.LatchServer()
        try:
            server.start()
            resp = server.request("OPTIONS", "/verify")
            self.assertEqual(resp.status_code, 405)
            self.assertIn("GET", resp.headers.get("Allow", ""))
        finally:
            server.close()


class RefreshFamilyLifetime(LatchTestCase):
    def test_family_ends_at_its_absolute_lifetime(self):
        # ASVS 7.3.2: refreshing does not extend a login past LATCH_REFRESH_MAX_S.
        server = harness.LatchServer(env={"LATCH_REFRESH_MAX_S": "2",
                                          "LATCH_REFRESH_TTL_S": "100",
                                          "LATCH_REFRESH_REUSE_WINDOW_S": "0"})
        try:
            server.start()
            _, email, _ = server.new_user(PASSWORD)
            login = self.assertJson(server.login(email, PASSWORD), 200)
            first = server.post_json("/refresh", {"refresh_token": login["refresh_token"]})
            self.assertEqual(first.status_code, 200, first.text)
            harness.time.sleep(2.5)
            late = server.post_json("/refresh", {"refresh_token": first.json()["refresh_token"]})
            self.assertJson(late, 401, {"error": "Unauthorized",
                                        "message": "Invalid or expired refresh token"})
            # A new login starts a new family.
            self.assertJson(server.login(email, PASSWORD), 200)
        finally:
            server.close()
