"""POST /logout (jwt mode): the access token dies at once and stays dead
across a restart, the family's refresh token too; scope=all; tokens minted
elsewhere (no sid) revoked by digest; a second latch process on the same
data dir picks revocations up within 2 s."""

import time

import harness
from harness import (REFRESH_INVALID, LatchTestCase, bearer, claims_for,
                     mint, unique_email)

PASSWORD = "correct horse battery"

server = None


def setUpModule():
    global server
    server = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(server)


def refresh(srv, token):
    return srv.post_json("/refresh", {"refresh_token": token})


def logout(srv, token=None, query="", **kwargs):
    headers = dict(kwargs.pop("headers", {}) or {})
    if token is not None:
        headers.update(bearer(token))
    return srv.post("/logout" + query, headers=headers, **kwargs)


class LogoutCase(LatchTestCase):
    def new_login(self, srv, email=None):
        """Registers (when email is None) and logs in: (user, email, login body)."""
        user = None
        if email is None:
            email = unique_email("logout")
            user = self.assertJson(srv.register(email, PASSWORD), 201)
        body = self.assertJson(srv.login(email, PASSWORD), 200)
        return user, email, body

    def assertNoContent(self, resp):
        self.assertEqual(resp.status_code, 204, "%s %r" % (resp.status_code, resp.text))
        self.assertEqual(resp.content, b"")


class Logout(LogoutCase):
    def test_logout_kills_access_token_at_once(self):
        user, email, login = self.new_login(server)
        _, _, other = self.new_login(server, email)       # a second login of the user
        self.assertProfileOk(server.profile(login["token"]), user)
        self.assertNoContent(logout(server, login["token"]))
        self.assertInvalidToken(server.profile(login["token"]))
        self.assertJson(refresh(server, login["refresh_token"]), 401, REFRESH_INVALID)
        # Logging out again with the dead token: 401.
        self.assertInvalidToken(logout(server, login["token"]))
        # Only that family ended.
        self.assertProfileOk(server.profile(other["token"]), user)
        self.assertJson(refresh(server, other["refresh_token"]), 200)
        # A new login works.
        _, _, again = self.new_login(server, email)
        self.assertProfileOk(server.profile(again["token"]), user)

    def test_logout_kills_rotated_access_tokens_of_family(self):
        user, _, login = self.new_login(server)
        rotated = self.assertJson(refresh(server, login["refresh_token"]), 200)
        self.assertNoContent(logout(server, rotated["token"]))
        self.assertInvalidToken(server.profile(login["token"]))
        self.assertInvalidToken(server.profile(rotated["token"]))
        self.assertJson(refresh(server, rotated["refresh_token"]), 401, REFRESH_INVALID)
        # The reuse window does not resurrect a logged-out family.
        self.assertJson(refresh(server, login["refresh_token"]), 401, REFRESH_INVALID)

    def test_logout_without_token(self):
        self.assertMissingToken(logout(server))
        self.assertMissingToken(server.post_json("/logout", {}))

    def test_logout_with_bad_token(self):
        user, _, login = self.new_login(server)
        self.assertInvalidToken(logout(server, login["token"] + "x"))
        self.assertInvalidToken(logout(server, login["refresh_token"]))
        self.assertProfileOk(server.profile(login["token"]), user)

    def test_scope_all(self):
        user, email, a = self.new_login(server)
        _, _, b = self.new_login(server, email)
        b2 = self.assertJson(refresh(server, b["refresh_token"]), 200)
        other_user, _, other = self.new_login(server)
        self.assertNoContent(logout(server, a["token"], "?scope=all"))
        for token in (a["token"], b["token"], b2["token"]):
            self.assertInvalidToken(server.profile(token))
        for token in (a["refresh_token"], b2["refresh_token"]):
            self.assertJson(refresh(server, token), 401, REFRESH_INVALID)
        # Other users keep their logins.
        self.assertProfileOk(server.profile(other["token"]), other_user)
        # The user can log in again straight away (same second as the cutoff).
        _, _, again = self.new_login(server, email)
        self.assertProfileOk(server.profile(again["token"]), user)
        self.assertJson(refresh(server, again["refresh_token"]), 200)

    def test_token_without_sid_revoked_by_digest(self):
        user, email, login = self.new_login(server)
        secret = server.secret()
        minted = mint(claims_for(user["id"], email=email), secret)
        minted2 = mint(claims_for(user["id"], email=email), secret)
        self.assertProfileOk(server.profile(minted), user)
        self.assertNoContent(logout(server, minted))
        self.assertInvalidToken(server.profile(minted))
        # Exactly that token: another sid-less token and the user's own
        # login live on.
        self.assertProfileOk(server.profile(minted2), user)
        self.assertProfileOk(server.profile(login["token"]), user)

    def test_scope_all_ends_sidless_token_of_same_second(self):
        """scope=all sets the per-user cutoff: every token of the user ends,
        also one minted elsewhere (no sid) in the same second."""
        user, email, login = self.new_login(server)
        secret = server.secret()
        harness.until_second_start()
        minted = mint(claims_for(user["id"], email=email), secret)
        self.assertNoContent(logout(server, login["token"], "?scope=all"))
        self.assertInvalidToken(server.profile(login["token"]))
        self.assertInvalidToken(server.profile(minted))


class LogoutAcrossRestart(LogoutCase):
    def test_logout_survives_restart(self):
        srv = harness.LatchServer()
        try:
            srv.start()
            user, email, dead = self.new_login(srv)
            _, _, alive = self.new_login(srv, email)
            other_user, other_email, all_dead = self.new_login(srv)
            _, _, all_dead2 = self.new_login(srv, other_email)
            self.assertNoContent(logout(srv, dead["token"]))
            self.assertNoContent(logout(srv, all_dead["token"], "?scope=all"))
            srv.restart()
            self.assertInvalidToken(srv.profile(dead["token"]))
            self.assertJson(refresh(srv, dead["refresh_token"]), 401, REFRESH_INVALID)
            for token in (all_dead["token"], all_dead2["token"]):
                self.assertInvalidToken(srv.profile(token))
            self.assertJson(refresh(srv, all_dead2["refresh_token"]), 401, REFRESH_INVALID)
            # What was not logged out survives the restart.
            self.assertProfileOk(srv.profile(alive["token"]), user)
            self.assertJson(refresh(srv, alive["refresh_token"]), 200)
        finally:
            srv.close()


class OtherProcess(LogoutCase):
    """Two latch processes on one --data-dir: a revocation made by one is
    honoured by the other within 2 s (it holds revocations in memory)."""

    @classmethod
    def setUpClass(cls):
        cls.a = harness.start_module_server()
        cls.b = None
        try:
            cls.b = harness.LatchServer(data_dir=cls.a.data_dir).start()
        except BaseException:
            harness.stop_module_server(cls.a)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.b is not None:
                cls.b.close()
        finally:
            harness.stop_module_server(cls.a)

    def poll_until_rejected(self, srv, token, bound_s=3.0):
        bound_s *= harness.TIME_SCALE
        start = time.monotonic()
        while True:
            resp = srv.profile(token)
            elapsed = time.monotonic() - start
            if resp.status_code == 401:
                self.assertInvalidToken(resp)
                return elapsed
            self.assertEqual(resp.status_code, 200, resp.text)
            if elapsed > bound_s:
                self.fail("the other process still accepts the token %.1f s after the "
                          "revocation (want within 2 s)" % elapsed)
            time.sleep(0.1)

    def test_logout_on_one_seen_by_other(self):
        a, b = self.a, self.b
        self.assertNotEqual(a.port, b.port)
        user, _, login = self.new_login(a)
        self.assertProfileOk(b.profile(login["token"]), user)
        self.assertNoContent(logout(a, login["token"]))
        self.assertInvalidToken(a.profile(login["token"]))
        self.poll_until_rejected(b, login["token"])
        self.assertJson(refresh(b, login["refresh_token"]), 401, REFRESH_INVALID)

    def test_scope_all_on_one_seen_by_other(self):
        a, b = self.a, self.b
        user, email, login = self.new_login(b)
        _, _, second = self.new_login(a, email)
        self.assertNoContent(logout(a, second["token"], "?scope=all"))
        self.poll_until_rejected(b, login["token"])
        self.poll_until_rejected(b, second["token"])

    def test_reuse_detection_on_one_seen_by_other(self):
        a, b = self.a, self.b
        user, _, login = self.new_login(a)
        srv_window0 = None
        # Reuse after the window is detected by whichever process sees it;
        # here a rotates, b gets the leaked token back with the window off.
        rotated = self.assertJson(refresh(a, login["refresh_token"]), 200)
        srv_window0 = harness.LatchServer(data_dir=a.data_dir,
                                          env={"LATCH_REFRESH_REUSE_WINDOW_S": "0"})
        try:
            srv_window0.start()
            self.assertJson(refresh(srv_window0, login["refresh_token"]), 401, REFRESH_INVALID)
            self.poll_until_rejected(b, rotated["token"])
            self.poll_until_rejected(a, rotated["token"])
            self.assertJson(refresh(a, rotated["refresh_token"]), 401, REFRESH_INVALID)
        finally:
            srv_window0.close()
