"""Password reset (issue 11) against a real SMTP server: /password/forgot
answers 202 for any address and mails a link only to accounts; the link's
token sets a new password once, ends every session, refresh family and
access token of the user, clears the lockout, verifies the address, and a
notification mail follows.  A weak password is refused without consuming
the token; a newer request supersedes older links; any password change
ends a pending link.  Runs on both stores."""

import time

import harness
import mailsink

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
_sink = None
_srv = None


def setUpModule():
    global _sink, _srv
    _sink = mailsink.MailSink(starttls=True).start()
    _srv = harness.LatchServer(env=_sink.env(LATCH_AUTH_MODE="both",
                                             LATCH_LOCKOUT_ATTEMPTS="3")).start()


def tearDownModule():
    if _srv is not None:
        _srv.close()
    if _sink is not None:
        _sink.stop()


def forgot(email):
    resp = _srv.post_json("/password/forgot", {"email": email})
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"status": "accepted"}, resp.text
    return resp


def reset_token(email, n=1):
    msgs = _sink.wait(n, to=email, subject="Reset your password")
    token = mailsink.token_of(msgs[-1])
    harness.note_secret("reset token", token)
    return token


def reset(token, password=NEW_PASSWORD):
    return _srv.post_json("/password/reset", {"token": token, "new_password": password})


class PasswordReset(harness.LatchTestCase):
    def test_reset_replaces_the_password_and_ends_every_login(self):
        user, email, _ = _srv.new_user(PASSWORD, prefix="reset")
        login = _srv.login(email).json()
        session_login = _srv.login(email)
        cookie = session_login.cookies.get("latch_session")
        self.assertIsNotNone(cookie)
        forgot(email)
        token = reset_token(email)
        self.assertIn(mailsink.PUBLIC_URL + "/reset#token=" + token,
                      _sink.wait(1, to=email, subject="Reset")[-1].get_content())
        resp = reset(token)
        self.assertEqual(resp.status_code, 204, resp.text)
        # Every access token, refresh family and session of the user ends.
        self.assertEqual(_srv.profile(login["token"]).status_code, 401)
        refresh = _srv.post_json("/refresh", {"refresh_token": login["refresh_token"]})
        self.assertEqual(refresh.status_code, 401)
        self.assertEqual(_srv.get("/profile", cookies={"latch_session": cookie}).status_code,
                         401)
        self.assertEqual(_srv.login(email, PASSWORD).status_code, 401)
        fresh = _srv.login(email, NEW_PASSWORD)
        self.assertEqual(fresh.status_code, 200, fresh.text)
        # The mail reached the address: it is verified now.
        self.assertIs(_srv.profile(fresh.json()["token"]).json()["email_verified"], True)
        # A notification, without any link.
        note = _sink.wait(1, to=email, subject="Your password was changed")[0]
        self.assertNotIn("token=", note.get_content())
        # Once only.
        again = reset(token, "yet another passphrase")
        self.assertError(again, 400, "Bad Request", "Invalid or expired token")

    def test_weak_password_keeps_the_token(self):
        _, email, _ = _srv.new_user(PASSWORD, prefix="weak")
        forgot(email)
        token = reset_token(email)
        weak = reset(token, "short")
        self.assertEqual(weak.status_code, 400, weak.text)
        self.assertNotEqual(weak.json()["message"], "Invalid or expired token")
        self.assertEqual(reset(token).status_code, 204)

    def test_newer_request_supersedes_older_links(self):
        _, email, _ = _srv.new_user(PASSWORD, prefix="twice")
        forgot(email)
        first = reset_token(email, 1)
        forgot(email)
        second = reset_token(email, 2)
        self.assertNotEqual(first, second)
        self.assertError(reset(first), 400, "Bad Request", "Invalid or expired token")
        self.assertEqual(reset(second).status_code, 204)

    def test_any_password_change_ends_a_pending_link(self):
        _, email, token = _srv.new_user(PASSWORD, prefix="change")
        forgot(email)
        link = reset_token(email)
        changed = _srv.post_json("/password", {"current_password": PASSWORD,
                                               "new_password": NEW_PASSWORD},
                                 headers=harness.bearer(token))
        self.assertEqual(changed.status_code, 204, changed.text)
        self.assertError(reset(link, "third passphrase here"), 400, "Bad Request",
                         "Invalid or expired token")

    def test_reset_clears_the_lockout(self):
        _, email, _ = _srv.new_user(PASSWORD, prefix="locked")
        codes = [_srv.login(email, "wrong password %d" % i).status_code for i in range(4)]
        self.assertEqual(codes[-1], 429)
        forgot(email)
        self.assertEqual(reset(reset_token(email)).status_code, 204)
        self.assertEqual(_srv.login(email, NEW_PASSWORD).status_code, 200)

    def test_unknown_addresses_get_the_same_answer_and_no_mail(self):
        email = harness.unique_email("ghost")
        resp = forgot(email)
        known_user = harness.unique_email("known")
        self.assertEqual(_srv.register(known_user, PASSWORD).status_code, 201)
        known = forgot(known_user)
        self.assertEqual(resp.content, known.content)
        self.assertEqual(resp.headers.get("Content-Type"), known.headers.get("Content-Type"))
        reset_token(known_user)
        time.sleep(0.5)
        self.assertEqual([m for m in _sink.messages() if m["To"] == email], [])

    def test_mails_per_address_are_limited_in_the_background(self):
        _, email, _ = _srv.new_user(PASSWORD, prefix="flood")
        for _ in range(5):
            forgot(email)
        reset_token(email, 3)
        time.sleep(1.0)
        self.assertEqual(len(_sink.wait(3, to=email, subject="Reset")), 3)

    def test_bad_tokens(self):
        for token in ("A" * 43, "nope"):
            self.assertError(reset(token), 400, "Bad Request", "Invalid or expired token")
        self.assertEqual(_srv.post_json("/password/forgot", {"email": 7}).status_code, 400)


class PerAddressLimit(harness.LatchTestCase):
    def test_new_routes_take_from_the_per_address_limit(self):
        # One request per address and minute, no burst beyond one: the
        # second request to each route is 429, before anything else runs
        # (/password/forgot still does no store I/O for the first).
        srv = harness.LatchServer(env={"LATCH_IP_RATE_PER_MIN": "1",
                                       "LATCH_IP_RATE_BURST": "1"}).start()
        try:
            for path, body in (("/password/forgot", {"email": harness.unique_email("ip")}),
                               ("/password/reset", {"token": "A" * 43,
                                                    "new_password": NEW_PASSWORD}),
                               ("/email/verify", {"token": "A" * 43}),
                               ("/email/verify/request", {"email": harness.unique_email("ip")}),
                               ("/login/mfa", {"mfa_token": "A" * 43, "code": "123456"})):
                srv.restart()    # a fresh bucket per route: the limiter is in memory
                first = srv.post_json(path, body)
                self.assertNotEqual(first.status_code, 429, path)
                second = srv.post_json(path, body)
                self.assertError(second, 429, "Too Many Requests",
                                 "Too many attempts, try again later")
                self.assertIsNotNone(second.headers.get("Retry-After"), path)
        finally:
            srv.close()
