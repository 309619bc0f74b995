"""Refresh tokens (jwt mode): the login body, rotation, the reuse window
(a retry gets the same successor), reuse after the window revoking the whole
family, window 0, concurrent refreshes of one token, and the 401 cases."""

import threading
import time

import harness
from harness import (BAD_LOGIN, OPAQUE_TOKEN_RE, REFRESH_INVALID, LatchTestCase,
                     decode_segment, unique_email)

PASSWORD = "correct horse battery"

server = None


def setUpModule():
    global server
    server = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(server)


def refresh(srv, token, **kwargs):
    return srv.post_json("/refresh", {"refresh_token": token}, **kwargs)


def sid_of(access_token):
    return decode_segment(access_token.split(".")[1]).get("sid")


class RefreshCase(LatchTestCase):
    srv = None   # the server a test talks to (the module's unless set)

    def server(self):
        return self.srv or server

    def login_pair(self, srv=None):
        """Registers a user and logs in: (user json, login body)."""
        srv = srv or self.server()
        email = unique_email("refresh")
        reg = srv.register(email, PASSWORD)
        user = self.assertJson(reg, 201)
        body = self.assertJson(srv.login(email, PASSWORD), 200)
        return user, body

    def assertPair(self, resp):
        """A 200 with exactly the login body of jwt mode."""
        body = self.assertJson(resp, 200)
        self.assertEqual(sorted(body), ["expires_in", "refresh_token", "token", "token_type"],
                         body)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertIsInstance(body["expires_in"], int)
        self.assertEqual(body["expires_in"], 900)
        self.assertRegex(body["refresh_token"], OPAQUE_TOKEN_RE)
        self.assertEqual(body["token"].count("."), 2, body["token"])
        return body

    def assertRefreshInvalid(self, resp):
        self.assertJson(resp, 401, REFRESH_INVALID)


class LoginBody(RefreshCase):
    def test_login_returns_access_and_refresh_token(self):
        user, body = self.login_pair()
        self.assertEqual(sorted(body), ["expires_in", "refresh_token", "token", "token_type"])
        self.assertEqual(body["token_type"], "Bearer")
        self.assertRegex(body["refresh_token"], OPAQUE_TOKEN_RE)
        claims = decode_segment(body["token"].split(".")[1])
        self.assertIn("sid", claims)
        self.assertIsInstance(claims["sid"], str)
        self.assertTrue(claims["sid"])
        self.assertProfileOk(self.server().profile(body["token"]), user)

    def test_each_login_is_a_new_family(self):
        email = unique_email("refresh")
        self.assertJson(self.server().register(email, PASSWORD), 201)
        a = self.assertJson(self.server().login(email, PASSWORD), 200)
        b = self.assertJson(self.server().login(email, PASSWORD), 200)
        self.assertNotEqual(a["refresh_token"], b["refresh_token"])
        self.assertNotEqual(sid_of(a["token"]), sid_of(b["token"]))


class Rotation(RefreshCase):
    def test_rotation_gives_new_pair_in_same_family(self):
        user, login = self.login_pair()
        first = self.assertPair(refresh(self.server(), login["refresh_token"]))
        self.assertNotEqual(first["refresh_token"], login["refresh_token"])
        self.assertNotEqual(first["token"], login["token"])
        self.assertEqual(sid_of(first["token"]), sid_of(login["token"]))
        self.assertProfileOk(self.server().profile(first["token"]), user)
        # The chain goes on: the successor rotates in turn.
        second = self.assertPair(refresh(self.server(), first["refresh_token"]))
        self.assertNotIn(second["refresh_token"], (login["refresh_token"],
                                                   first["refresh_token"]))
        self.assertEqual(sid_of(second["token"]), sid_of(login["token"]))
        self.assertProfileOk(self.server().profile(second["token"]), user)

    def test_retry_within_window_gets_same_successor_and_fresh_access(self):
        user, login = self.login_pair()
        first = self.assertPair(refresh(self.server(), login["refresh_token"]))
        retry = self.assertPair(refresh(self.server(), login["refresh_token"]))
        self.assertEqual(retry["refresh_token"], first["refresh_token"],
                         "a retry within the reuse window must get the same successor")
        self.assertNotEqual(retry["token"], first["token"], "want a fresh access token")
        self.assertEqual(sid_of(retry["token"]), sid_of(login["token"]))
        # Nothing was revoked: every access token and the successor still work.
        for token in (login["token"], first["token"], retry["token"]):
            self.assertProfileOk(self.server().profile(token), user)
        nxt = self.assertPair(refresh(self.server(), retry["refresh_token"]))
        self.assertProfileOk(self.server().profile(nxt["token"]), user)

    def test_concurrent_refreshes_get_one_successor(self):
        user, login = self.login_pair()
        n = 8
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            barrier.wait()
            try:
                results[i] = refresh(self.server(), login["refresh_token"])
            except Exception as e:          # reported below
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        successors = set()
        for resp in results:
            self.assertNotIsInstance(resp, Exception, repr(resp))
            body = self.assertPair(resp)
            successors.add(body["refresh_token"])
            self.assertProfileOk(self.server().profile(body["token"]), user)
        self.assertEqual(len(successors), 1,
                         "concurrent refreshes of one token minted %d different successors"
                         % len(successors))
        # The one successor is live.
        self.assertPair(refresh(self.server(), successors.pop()))


class InvalidRefresh(RefreshCase):
    def test_access_token_as_refresh_token(self):
        _, login = self.login_pair()
        self.assertRefreshInvalid(refresh(self.server(), login["token"]))
        # Refusing it revoked nothing.
        self.assertPair(refresh(self.server(), login["refresh_token"]))

    def test_refresh_token_as_access_token(self):
        _, login = self.login_pair()
        self.assertInvalidToken(self.server().profile(login["refresh_token"]))

    def test_unknown_refresh_tokens(self):
        for token in [harness.b64url(b"\x00" * 32), "A" * 43, "", "x", "A" * 44,
                      "A" * 42 + "=", "A" * 42 + "*"]:
            with self.subTest(token=token):
                self.assertRefreshInvalid(refresh(self.server(), token))

    def test_refresh_body_validation(self):
        srv = self.server()
        self.assertBadRequest(srv.post_json("/refresh", {}))
        self.assertBadRequest(srv.post_json("/refresh", {"refresh_token": 5}))
        self.assertBadRequest(srv.post_json("/refresh", ["x"]))

    def test_wrong_password_does_not_issue_refresh(self):
        email = unique_email("refresh")
        self.assertJson(self.server().register(email, PASSWORD), 201)
        body = self.assertJson(self.server().login(email, "wrong password!"), 401, BAD_LOGIN)
        self.assertNotIn("refresh_token", body)


class ReuseAfterWindow(RefreshCase):
    """LATCH_REFRESH_REUSE_WINDOW_S=1: a rotated token presented ~2 s later
    is a leak; the family dies (newest refresh token and access tokens)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_REFRESH_REUSE_WINDOW_S": "1"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def test_reuse_after_window_revokes_family(self):
        srv = self.server()
        user, login = self.login_pair()
        other_user, other = self.login_pair()
        email_login = self.assertJson(srv.profile(login["token"]), 200)["email"]
        second_login = self.assertJson(srv.login(email_login, PASSWORD), 200)
        newer = self.assertPair(refresh(srv, login["refresh_token"]))
        newest = self.assertPair(refresh(srv, newer["refresh_token"]))
        self.assertProfileOk(srv.profile(newest["token"]), user)
        # A second family whose middle token will come back.
        _, m_login = self.login_pair()
        m_newer = self.assertPair(refresh(srv, m_login["refresh_token"]))
        m_newest = self.assertPair(refresh(srv, m_newer["refresh_token"]))
        time.sleep(2.1)
        self.assertRefreshInvalid(refresh(srv, m_newer["refresh_token"]))
        self.assertRefreshInvalid(refresh(srv, m_newest["refresh_token"]))
        self.assertInvalidToken(srv.profile(m_newest["token"]))
        # The first refresh token, rotated long ago, comes back: a leak.
        self.assertRefreshInvalid(refresh(srv, login["refresh_token"]))
        # The whole family ends: its newest refresh token...
        self.assertRefreshInvalid(refresh(srv, newest["refresh_token"]))
        # ...and every access token carrying its sid, at once.
        for token in (newest["token"], newer["token"], login["token"]):
            self.assertInvalidToken(srv.profile(token))
        # Another family of the same user and other users are untouched.
        self.assertProfileOk(srv.profile(second_login["token"]), user)
        self.assertPair(refresh(srv, second_login["refresh_token"]))
        self.assertProfileOk(srv.profile(other["token"]), other_user)
        self.assertPair(refresh(srv, other["refresh_token"]))


class WindowZero(RefreshCase):
    """LATCH_REFRESH_REUSE_WINDOW_S=0 disables the window: any reuse kills
    the family, even immediately."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_REFRESH_REUSE_WINDOW_S": "0"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def test_immediate_reuse_revokes_family(self):
        srv = self.server()
        user, login = self.login_pair()
        newer = self.assertPair(refresh(srv, login["refresh_token"]))
        self.assertProfileOk(srv.profile(newer["token"]), user)
        self.assertRefreshInvalid(refresh(srv, login["refresh_token"]))
        self.assertRefreshInvalid(refresh(srv, newer["refresh_token"]))
        self.assertInvalidToken(srv.profile(newer["token"]))
        self.assertInvalidToken(srv.profile(login["token"]))


    def test_concurrent_refreshes_without_window(self):
        srv = self.server()
        user, login = self.login_pair()
        n = 4
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            barrier.wait()
            results[i] = refresh(srv, login["refresh_token"])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ok = [r for r in results if r is not None and r.status_code == 200]
        self.assertEqual(len(ok), n - sum(1 for r in results
                                          if r is not None and r.status_code == 401),
                         [(r.status_code, r.text) for r in results if r is not None])
        successors = {self.assertPair(r)["refresh_token"] for r in ok}
        self.assertLessEqual(len(successors), 1, "two different successors minted")
        if len(ok) < n:
            # The others were reuse: the family, successor included, is dead.
            for token in successors:
                self.assertRefreshInvalid(refresh(srv, token))
            for r in ok:
                self.assertInvalidToken(srv.profile(r.json()["token"]))


class Expiry(RefreshCase):
    """LATCH_REFRESH_TTL_S=1: an expired refresh token is refused."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_REFRESH_TTL_S": "1"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def test_expired_refresh_token(self):
        srv = self.server()
        user, login = self.login_pair()
        time.sleep(2.1)
        self.assertRefreshInvalid(refresh(srv, login["refresh_token"]))
        # The access token lives on until its own exp.
        self.assertProfileOk(srv.profile(login["token"]), user)
