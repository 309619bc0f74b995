"""POST /password: 204 and only the login that made the change survives;
the old password stops working; a wrong current password is 403; tokens
without sid end everything; validation and authentication first."""

import harness
from harness import (BAD_LOGIN, REFRESH_INVALID, LatchTestCase, bearer,
                     claims_for, mint, unique_email)

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a whole new password"
WRONG_CURRENT = {"error": "Forbidden", "message": "Current password is incorrect"}

server = None


def setUpModule():
    global server
    server = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(server)


def refresh(srv, token):
    return srv.post_json("/refresh", {"refresh_token": token})


def change_password(srv, token, current, new, **kwargs):
    headers = dict(kwargs.pop("headers", {}) or {})
    if token is not None:
        headers.update(bearer(token))
    return srv.post_json("/password", {"current_password": current, "new_password": new},
                         headers=headers, **kwargs)


class PasswordChange(LatchTestCase):
    def new_user(self):
        email = unique_email("pw")
        user = self.assertJson(server.register(email, PASSWORD), 201)
        return user, email

    def login(self, email, password=PASSWORD):
        return self.assertJson(server.login(email, password), 200)

    def test_change_keeps_only_current_family(self):
        user, email = self.new_user()
        current = self.login(email)
        other = self.login(email)
        third = self.login(email)
        third_rotated = self.assertJson(refresh(server, third["refresh_token"]), 200)
        resp = change_password(server, current["token"], PASSWORD, NEW_PASSWORD)
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(resp.content, b"")
        # Every other login of the user ends: access and refresh tokens.
        for dead in (other, third, third_rotated):
            self.assertInvalidToken(server.profile(dead["token"]))
        self.assertJson(refresh(server, other["refresh_token"]), 401, REFRESH_INVALID)
        self.assertJson(refresh(server, third_rotated["refresh_token"]), 401, REFRESH_INVALID)
        # The one that made the change lives on, and keeps rotating.
        self.assertProfileOk(server.profile(current["token"]), user)
        rotated = self.assertJson(refresh(server, current["refresh_token"]), 200)
        self.assertProfileOk(server.profile(rotated["token"]), user)
        # Old password fails, new one works.
        self.assertJson(server.login(email, PASSWORD), 401, BAD_LOGIN)
        fresh = self.login(email, NEW_PASSWORD)
        self.assertProfileOk(server.profile(fresh["token"]), user)

    def test_change_with_rotated_token_keeps_family(self):
        user, email = self.new_user()
        login = self.login(email)
        rotated = self.assertJson(refresh(server, login["refresh_token"]), 200)
        resp = change_password(server, rotated["token"], PASSWORD, NEW_PASSWORD)
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertProfileOk(server.profile(rotated["token"]), user)
        self.assertProfileOk(server.profile(login["token"]), user)     # same family
        self.assertJson(refresh(server, rotated["refresh_token"]), 200)

    def test_wrong_current_password(self):
        user, email = self.new_user()
        login = self.login(email)
        other = self.login(email)
        self.assertJson(change_password(server, login["token"], "not my password", NEW_PASSWORD),
                        403, WRONG_CURRENT)
        # Nothing changed, nothing was revoked.
        self.assertProfileOk(server.profile(login["token"]), user)
        self.assertProfileOk(server.profile(other["token"]), user)
        self.login(email, PASSWORD)
        self.assertJson(server.login(email, NEW_PASSWORD), 401, BAD_LOGIN)

    def test_no_token(self):
        self.assertMissingToken(change_password(server, None, PASSWORD, NEW_PASSWORD))

    def test_bad_token(self):
        user, email = self.new_user()
        login = self.login(email)
        self.assertInvalidToken(change_password(server, login["token"] + "x", PASSWORD,
                                                NEW_PASSWORD))
        self.login(email, PASSWORD)

    def test_validation(self):
        user, email = self.new_user()
        login = self.login(email)
        token = login["token"]
        for body in ({}, {"current_password": PASSWORD},
                     {"new_password": NEW_PASSWORD},
                     {"current_password": PASSWORD, "new_password": "short"},
                     {"current_password": PASSWORD, "new_password": "x" * 257},
                     {"current_password": 1, "new_password": NEW_PASSWORD}):
            with self.subTest(body=body):
                self.assertBadRequest(server.post_json("/password", body, headers=bearer(token)))
        self.assertProfileOk(server.profile(token), user)
        self.login(email, PASSWORD)

    def test_change_with_sidless_token_ends_all_tokens(self):
        """A token minted elsewhere (no sid) cannot be told apart from the
        user's other logins: its password change ends every token."""
        user, email = self.new_user()
        login = self.login(email)
        minted = mint(claims_for(user["id"], email=email), server.secret())
        resp = change_password(server, minted, PASSWORD, NEW_PASSWORD)
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertInvalidToken(server.profile(login["token"]))
        self.assertJson(refresh(server, login["refresh_token"]), 401, REFRESH_INVALID)
        self.assertInvalidToken(server.profile(minted))
        self.assertJson(server.login(email, PASSWORD), 401, BAD_LOGIN)

    def test_login_right_after_sidless_change_works(self):
        """After a password change made with a sid-less token, logging in
        with the new password (in the same second) must give a working token."""
        user, email = self.new_user()
        minted = mint(claims_for(user["id"], email=email), server.secret())
        harness.until_second_start()
        resp = change_password(server, minted, PASSWORD, NEW_PASSWORD)
        self.assertEqual(resp.status_code, 204, resp.text)
        fresh = self.login(email, NEW_PASSWORD)
        self.assertProfileOk(server.profile(fresh["token"]), user)
        self.assertJson(refresh(server, fresh["refresh_token"]), 200)
