"""GET /profile: the stored user, the Bearer scheme, and the 401s."""

import datetime
import re
import time

import harness
from harness import LatchTestCase, RawConnection, claims_for, http_request_bytes, mint

SERVER = None
USER = None
EMAIL = None
TOKEN = None

RFC3339 = re.compile(r"\A\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def setUpModule():
    global SERVER, USER, EMAIL, TOKEN
    SERVER = harness.start_module_server()
    USER, EMAIL, TOKEN = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


def parse_rfc3339(text):
    text = re.sub(r"[Zz]\Z", "+00:00", text)
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.datetime.fromisoformat(text.replace("t", "T"))


class ProfileOk(LatchTestCase):
    def test_profile_200(self):
        body = self.assertProfileOk(SERVER.profile(TOKEN), USER)
        self.assertEqual(body, {"id": USER["id"], "email": EMAIL, "role": "user",
                                "email_verified": False, "mfa": False,
                                "created_at": body["created_at"]})

    def test_created_at_rfc3339_and_recent(self):
        body = self.assertProfileOk(SERVER.profile(TOKEN), USER)
        self.assertRegex(body["created_at"], RFC3339)
        created = parse_rfc3339(body["created_at"])
        self.assertIsNotNone(created.tzinfo)
        age = time.time() - created.timestamp()
        self.assertTrue(-5 <= age <= 600, "created_at %s is %.0f s from now"
                        % (body["created_at"], age))

    def test_created_at_stable(self):
        first = SERVER.profile(TOKEN).json()["created_at"]
        second = SERVER.profile(TOKEN).json()["created_at"]
        self.assertEqual(first, second)

    def test_scheme_lower_case(self):
        self.assertProfileOk(SERVER.profile(TOKEN, scheme="bearer"), USER)

    def test_scheme_upper_case(self):
        self.assertProfileOk(SERVER.profile(TOKEN, scheme="BEARER"), USER)

    def test_scheme_mixed_case(self):
        self.assertProfileOk(SERVER.profile(TOKEN, scheme="bEaReR"), USER)

    def test_head_profile(self):
        with RawConnection(SERVER.address) as conn:
            conn.send(http_request_bytes("HEAD", "/profile",
                                         headers=[("Authorization", "Bearer " + TOKEN)]))
            head = conn.read_response(head_request=True)
            self.assertEqual(head.status, 200, repr(head))
            conn.send(http_request_bytes("GET", "/healthz"))
            self.assertEqual(conn.read_response().status, 200, "HEAD /profile sent a body")

    def test_values_read_from_store_not_token(self):
        # A correctly signed token that claims another email and role: the
        # answer shows what the store holds.
        token = mint(claims_for(USER["id"], role="admin", email="evil@example.com"),
                     SERVER.secret())
        body = self.assertProfileOk(SERVER.profile(token))
        self.assertEqual(body["email"], EMAIL)
        self.assertEqual(body["role"], "user")

    def test_two_users_see_their_own_profile(self):
        other, other_email, other_token = SERVER.new_user()
        self.assertEqual(SERVER.profile(other_token).json()["email"], other_email)
        self.assertEqual(SERVER.profile(TOKEN).json()["email"], EMAIL)


class ProfileMissingToken(LatchTestCase):
    def test_no_authorization_header(self):
        self.assertMissingToken(SERVER.profile())

    def test_basic_scheme(self):
        self.assertMissingToken(SERVER.profile("dXNlcjpwYXNz", scheme="Basic"))

    def test_other_scheme_with_jwt(self):
        self.assertMissingToken(SERVER.profile(TOKEN, scheme="Token"))

    def test_head_without_token_401(self):
        resp = SERVER.request("HEAD", "/profile")
        self.assertEqual(resp.status_code, 401)
        self.assertTrue(resp.headers.get("WWW-Authenticate", "").lower().startswith("bearer"))


class ProfileInvalidToken(LatchTestCase):
    def test_garbage_token(self):
        self.assertInvalidToken(SERVER.profile("not-a-token"))

    def test_token_for_nonexistent_user(self):
        token = mint(claims_for(987654321), SERVER.secret())
        self.assertInvalidToken(SERVER.profile(token))

    def test_deleted_user(self):
        # A token whose user no longer exists (deleted through the admin API).
        admin_email = harness.unique_email("admin")
        result = harness.user_add(SERVER.data_dir, admin_email, "admin password 1")
        self.assertEqual(result.returncode, 0, result.stderr)
        admin = SERVER.login(admin_email, "admin password 1").json()["token"]
        user, email, token = SERVER.new_user("deleted user password")
        self.assertEqual(SERVER.profile(token).status_code, 200)
        resp = SERVER.request("DELETE", "/admin/users/%d" % user["id"],
                              headers=harness.bearer(admin))
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertInvalidToken(SERVER.profile(token))


class ChangesMadeElsewhere(LatchTestCase):
    def test_row_changed_by_another_process_shows_within_a_second(self):
        # /profile keeps user rows in memory; a change made outside this
        # process (another instance, the CLI) shows within a second even
        # without a notification.
        with harness.LatchServer() as srv:
            user, _, token = srv.new_user()
            self.assertEqual(srv.profile(token).json()["role"], "user")
            harness.store_query(srv, "UPDATE users SET role = 'admin' WHERE id = ?",
                                (user["id"],), write=True)
            start = time.monotonic()
            while srv.profile(token).json()["role"] != "admin":
                self.assertLess(time.monotonic() - start, 1.5, "the change did not show")
                time.sleep(0.05)
