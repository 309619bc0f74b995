"""Email verification (issue 11), against a real SMTP server (mailsink:
aiosmtpd with STARTTLS and a throwaway CA given through LATCH_SMTP_CA_FILE):
registration queues the mail, the link's token verifies the address once,
/profile, the admin user object, the JWT and /verify's header say so, and
LATCH_REQUIRE_VERIFIED_EMAIL keeps unverified users out after the password
check.  Runs on both stores."""

import json
import time
import unittest

import harness
import mailsink

PASSWORD = "correct horse battery"
_sink = None
_srv = None


def setUpModule():
    global _sink, _srv
    _sink = mailsink.MailSink(starttls=True).start()
    _srv = harness.LatchServer(env=_sink.env()).start()


def tearDownModule():
    if _srv is not None:
        _srv.close()
    if _sink is not None:
        _sink.stop()


def claims(token):
    return harness.decode_segment(harness.split_token(token)[1])


def register(email):
    resp = _srv.register(email, PASSWORD)
    assert resp.status_code == 201, resp.text
    return resp.json()


def verify_token(email):
    msg = _sink.wait(1, to=email, subject="Confirm your email address")[-1]
    token = mailsink.token_of(msg)
    harness.note_secret("verification token", token)
    return msg, token


class EmailVerification(harness.LatchTestCase):
    def test_registration_mails_a_link_that_verifies_once(self):
        email = harness.unique_email("verify")
        register(email)
        login = _srv.login(email)
        self.assertEqual(login.status_code, 200, login.text)
        token = login.json()["token"]
        self.assertIs(claims(token)["email_verified"], False)
        self.assertIs(_srv.profile(token).json()["email_verified"], False)
        msg, link_token = verify_token(email)
        # Over STARTTLS, to the address, from LATCH_MAIL_FROM, with the
        # token in the link's fragment under LATCH_PUBLIC_URL.
        raw = [r for r in _sink.received if r["to"] == [email]][-1]
        self.assertTrue(raw["tls"], "the mail travelled in clear")
        self.assertEqual(msg["From"], mailsink.MAIL_FROM)
        self.assertTrue(msg["Message-ID"].startswith("<mail-m"), msg["Message-ID"])
        self.assertIsNotNone(msg["Date"])
        self.assertIn(mailsink.PUBLIC_URL + "/verify-email#token=" + link_token,
                      msg.get_content())
        resp = _srv.post_json("/email/verify", {"token": link_token})
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertIs(_srv.profile(token).json()["email_verified"], True)
        fresh = _srv.login(email).json()["token"]
        self.assertIs(claims(fresh)["email_verified"], True)
        verify = _srv.get("/verify", headers=harness.bearer(fresh))
        self.assertEqual(verify.headers.get("X-Auth-Email-Verified"), "true")
        old = _srv.get("/verify", headers=harness.bearer(token))
        self.assertEqual(old.headers.get("X-Auth-Email-Verified"), "false")
        # Used: the same link again is refused.
        again = _srv.post_json("/email/verify", {"token": link_token})
        self.assertError(again, 400, "Bad Request", "Invalid or expired token")

    def test_unknown_malformed_and_expired_tokens_are_refused(self):
        for token in ("A" * 43, "short", "x" * 200):
            resp = _srv.post_json("/email/verify", {"token": token})
            self.assertError(resp, 400, "Bad Request", "Invalid or expired token")
        email = harness.unique_email("expire")
        register(email)
        _, token = verify_token(email)
        harness.store_query(_srv, "UPDATE email_tokens SET expires_at = 1", write=True)
        resp = _srv.post_json("/email/verify", {"token": token})
        self.assertError(resp, 400, "Bad Request", "Invalid or expired token")

    def test_authenticated_request_sends_a_new_link_and_409_once_verified(self):
        email = harness.unique_email("again")
        register(email)
        token = _srv.login(email).json()["token"]
        resp = _srv.post("/email/verify/request", headers=harness.bearer(token))
        self.assertEqual(resp.status_code, 202, resp.text)
        self.assertEqual(resp.json(), {"status": "accepted"})
        msgs = _sink.wait(2, to=email, subject="Confirm")
        newest = mailsink.token_of(msgs[-1])
        harness.note_secret("verification token", newest)
        self.assertEqual(_srv.post_json("/email/verify", {"token": newest}).status_code, 204)
        resp = _srv.post("/email/verify/request", headers=harness.bearer(token))
        self.assertError(resp, 409, "Conflict", "Email already verified")

    def test_authenticated_requests_are_limited_per_address(self):
        email = harness.unique_email("limit")
        register(email)   # the registration's mail is not counted
        token = _srv.login(email).json()["token"]
        codes = [_srv.post("/email/verify/request", headers=harness.bearer(token)).status_code
                 for _ in range(4)]
        self.assertEqual(codes, [202, 202, 202, 429])

    def test_unauthenticated_request_is_202_for_anyone(self):
        email = harness.unique_email("anon")
        register(email)
        _sink.wait(1, to=email)
        for address in (email, harness.unique_email("nobody")):
            resp = _srv.post_json("/email/verify/request", {"email": address})
            self.assertEqual(resp.status_code, 202, resp.text)
            self.assertEqual(resp.json(), {"status": "accepted"})
        # The known address gets a second link; the unknown one nothing.
        msgs = _sink.wait(2, to=email, subject="Confirm")
        self.assertEqual(len(msgs), 2)
        bad = _srv.post_json("/email/verify/request", {"email": "not an address"})
        self.assertEqual(bad.status_code, 400)

    def test_users_made_by_an_admin_or_the_cli_start_verified(self):
        admin_email, body = harness.make_admin(_srv)
        self.assertIs(claims(body["token"])["email_verified"], True)
        made = harness.admin_req(_srv, "POST", "/admin/users", body["token"],
                                 {"email": harness.unique_email("made"), "password": PASSWORD})
        self.assertEqual(made.status_code, 201, made.text)
        self.assertIs(made.json()["email_verified"], True)
        self.assertIs(made.json()["mfa"], False)
        registered = register(harness.unique_email("self"))
        shown = harness.admin_req(_srv, "GET", "/admin/users/%d" % registered["id"],
                                  body["token"])
        self.assertIs(shown.json()["email_verified"], False)


class RequireVerified(harness.LatchTestCase):
    def test_unverified_login_is_403_after_the_password_check(self):
        with mailsink.MailSink(starttls=False) as sink:
            srv = harness.LatchServer(env=sink.env(LATCH_REQUIRE_VERIFIED_EMAIL="1")).start()
            try:
                email = harness.unique_email("strict")
                self.assertEqual(srv.register(email, PASSWORD).status_code, 201)
                # Plain text on loopback: allowed, and delivered.
                msg = sink.wait(1, to=email)[0]
                self.assertFalse(sink.received[0]["tls"])
                wrong = srv.login(email, "wrong password here")
                self.assertEqual(wrong.status_code, 401)
                resp = srv.login(email, PASSWORD)
                self.assertError(resp, 403, "Forbidden", "Email not verified")
                token = mailsink.token_of(msg)
                harness.note_secret("verification token", token)
                self.assertEqual(srv.post_json("/email/verify", {"token": token}).status_code,
                                 204)
                self.assertEqual(srv.login(email, PASSWORD).status_code, 200)
            finally:
                srv.close()
