"""The second factor (issue 11): TOTP (RFC 6238) with recovery codes.

Codes come from python3-pyotp with the secret latch returned
(pyotp.TOTP(secret); its parse_uri mis-decodes escaped values).  The QR code
is rasterised with rsvg-convert -w 400 and decoded with zbarimg: it must be
exactly otpauth_uri.  Covered: enrolment and confirmation, the password step
that yields nothing but an mfa_token (no token, no cookie), the second step
with a code (amr pwd+otp, kept by /refresh) or a recovery code (once), a
replayed code, five wrong codes ending the mfa_token, its expiry, wrong
codes counting toward the lockout while the password step does not reset
it, turning TOTP off (self, admin, CLI), and the secret sealed at rest.
Runs on both stores."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pyotp

import harness

PASSWORD = "correct horse battery"
_srv = None


def setUpModule():
    global _srv
    _srv = harness.LatchServer().start()


def tearDownModule():
    if _srv is not None:
        _srv.close()


def claims(token):
    return harness.decode_segment(harness.split_token(token)[1])


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def post(srv, path, body, token=None, method="POST", **kwargs):
    headers = harness.bearer(token) if token else {}
    headers["Content-Type"] = "application/json"
    return srv.request(method, path, headers=headers, data=json.dumps(body).encode(), **kwargs)


def enrolled_user(srv=None):
    """A user with TOTP confirmed (with the code of the previous step):
    (email, secret, recovery codes)."""
    srv = srv or _srv
    _, email, token = srv.new_user(PASSWORD, prefix="mfa")
    enrol = post(srv, "/mfa/totp", {"password": PASSWORD}, token)
    assert enrol.status_code == 200, enrol.text
    secret = enrol.json()["secret"]
    confirm = post(srv, "/mfa/totp/confirm", {"code": code_at(secret, -1)}, token)
    assert confirm.status_code == 200, confirm.text
    return email, secret, confirm.json()["recovery_codes"]


def password_step(srv, email, password=PASSWORD):
    resp = srv.login(email, password)
    assert resp.status_code == 200, resp.text
    return resp


class Enrolment(harness.LatchTestCase):
    def decode_qr(self, svg):
        work = tempfile.mkdtemp(prefix="latch-qr-")
        try:
            path = os.path.join(work, "qr.svg")
            with open(path, "w") as f:
                f.write(svg)
            png = os.path.join(work, "qr.png")
            subprocess.run(["rsvg-convert", "-w", "400", path, "-o", png], check=True,
                           timeout=60)
            out = subprocess.run(["zbarimg", "--raw", "-q", png], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout.decode("utf-8").rstrip("\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_enrol_confirm_and_log_in_with_a_code(self):
        _, email, token = _srv.new_user(PASSWORD, prefix="enrol")
        wrong = post(_srv, "/mfa/totp", {"password": "not the password"}, token)
        self.assertError(wrong, 403, "Forbidden", "Current password is incorrect")
        resp = post(_srv, "/mfa/totp", {"password": PASSWORD}, token)
        self.assertEqual(resp.status_code, 200, resp.text)
        body = resp.json()
        self.assertEqual(sorted(body), ["otpauth_uri", "qr_svg", "secret"])
        secret = body["secret"]
        self.assertRegex(secret, r"^[A-Z2-7]{32}$")
        uri = body["otpauth_uri"]
        self.assertEqual(uri, "otpauth://totp/latch:%s?secret=%s&issuer=latch"
                              "&algorithm=SHA1&digits=6&period=30"
                         % (urllib.parse.quote(email, safe=""), secret))
        svg = body["qr_svg"]
        self.assertTrue(svg.startswith("<svg"), svg[:40])
        self.assertEqual(svg.count("<path"), 1)
        self.assertIn('fill="#000"', svg)
        self.assertIn('fill="#fff"', svg)
        self.assertRegex(svg, r'viewBox="0 0 (\d+) \1"')
        self.assertEqual(self.decode_qr(svg), uri)
        # Until confirmed nothing changes for login.
        self.assertIn("token", password_step(_srv, email).json())
        self.assertIs(_srv.profile(token).json()["mfa"], False)
        bad = post(_srv, "/mfa/totp/confirm", {"code": "000000" if code_at(secret) != "000000"
                                               else "111111"}, token)
        self.assertError(bad, 403, "Forbidden", "Invalid or expired code")
        confirm = post(_srv, "/mfa/totp/confirm", {"code": code_at(secret, -1)}, token)
        self.assertEqual(confirm.status_code, 200, confirm.text)
        codes = confirm.json()["recovery_codes"]
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        self.assertTrue(all(re.match(r"^[0-9a-z]{5}-[0-9a-z]{5}$", c) for c in codes), codes)
        self.assertIs(_srv.profile(token).json()["mfa"], True)
        again = post(_srv, "/mfa/totp", {"password": PASSWORD}, token)
        self.assertError(again, 409, "Conflict", "TOTP already enabled")
        # The password step yields an mfa_token and nothing else.
        step = password_step(_srv, email)
        self.assertEqual(sorted(step.json()), ["expires_in", "mfa_required", "mfa_token"])
        self.assertIs(step.json()["mfa_required"], True)
        self.assertEqual(step.json()["expires_in"], 300)
        self.assertIsNone(step.headers.get("Set-Cookie"))
        login = post(_srv, "/login/mfa", {"mfa_token": step.json()["mfa_token"],
                                          "code": code_at(secret)})
        self.assertEqual(login.status_code, 200, login.text)
        self.assertEqual(claims(login.json()["token"])["amr"], ["pwd", "otp"])
        self.assertIs(_srv.profile(login.json()["token"]).json()["mfa"], True)
        refreshed = _srv.post_json("/refresh", {"refresh_token": login.json()["refresh_token"]})
        self.assertEqual(refreshed.status_code, 200, refreshed.text)
        self.assertEqual(claims(refreshed.json()["token"])["amr"], ["pwd", "otp"])
        # The mfa_token is single use.
        reuse = post(_srv, "/login/mfa", {"mfa_token": step.json()["mfa_token"],
                                          "code": code_at(secret, 1)})
        self.assertError(reuse, 401, "Unauthorized", "Invalid or expired code")

    def test_secret_is_sealed_at_rest(self):
        email, secret, _ = enrolled_user()
        raw = base64.b32decode(secret)
        rows = harness.store_query(_srv, "SELECT sealed FROM totp")
        self.assertTrue(rows)
        for (sealed,) in rows:
            self.assertNotIn(raw, bytes(sealed))
            self.assertNotIn(secret.encode(), bytes(sealed))


class SecondStep(harness.LatchTestCase):
    def test_a_code_is_accepted_once(self):
        email, secret, _ = enrolled_user()
        code = code_at(secret)
        first = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                          .json()["mfa_token"], "code": code})
        self.assertEqual(first.status_code, 200, first.text)
        replay = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                           .json()["mfa_token"], "code": code})
        self.assertError(replay, 401, "Unauthorized", "Invalid or expired code")

    def test_a_recovery_code_works_once(self):
        email, _, codes = enrolled_user()
        resp = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                         .json()["mfa_token"], "recovery_code": codes[3]})
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(claims(resp.json()["token"])["amr"], ["pwd", "recovery"])
        again = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                          .json()["mfa_token"],
                                          "recovery_code": codes[3].upper().replace("-", " ")})
        self.assertError(again, 401, "Unauthorized", "Invalid or expired code")
        # Typed loosely, another code still works.
        other = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                          .json()["mfa_token"],
                                          "recovery_code": codes[4].upper()})
        self.assertEqual(other.status_code, 200, other.text)

    def test_five_wrong_codes_end_the_mfa_token(self):
        email, secret, _ = enrolled_user()
        mfa_token = password_step(_srv, email).json()["mfa_token"]
        good = code_at(secret)
        wrong = "%06d" % ((int(good) + 1) % 1000000)
        for _ in range(5):
            resp = post(_srv, "/login/mfa", {"mfa_token": mfa_token, "code": wrong})
            self.assertError(resp, 401, "Unauthorized", "Invalid or expired code")
        resp = post(_srv, "/login/mfa", {"mfa_token": mfa_token, "code": good})
        self.assertError(resp, 401, "Unauthorized", "Invalid or expired code")

    def test_an_expired_mfa_token_is_refused(self):
        email, secret, _ = enrolled_user()
        mfa_token = password_step(_srv, email).json()["mfa_token"]
        harness.store_query(_srv, "UPDATE mfa_tokens SET expires_at = 1", write=True)
        resp = post(_srv, "/login/mfa", {"mfa_token": mfa_token, "code": code_at(secret)})
        self.assertError(resp, 401, "Unauthorized", "Invalid or expired code")

    def test_a_password_changed_between_the_steps_ends_the_mfa_token(self):
        # The second step carries no password: what went stale is the
        # mfa_token, and that is what the answer says, even with a good
        # recovery code.
        email, secret, codes = enrolled_user()
        mfa_token = password_step(_srv, email).json()["mfa_token"]
        done = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                         .json()["mfa_token"], "code": code_at(secret)})
        token = done.json()["token"]
        changed = post(_srv, "/password", {"current_password": PASSWORD,
                                           "new_password": PASSWORD + " changed"}, token)
        self.assertEqual(changed.status_code, 204, changed.text)
        resp = post(_srv, "/login/mfa", {"mfa_token": mfa_token, "recovery_code": codes[0]})
        self.assertError(resp, 401, "Unauthorized", "Invalid or expired code")

    def test_bad_requests(self):
        for body in ({"mfa_token": "x" * 43}, {"mfa_token": "x" * 43, "code": "123456",
                                               "recovery_code": "abcde-fghjk"}):
            self.assertEqual(post(_srv, "/login/mfa", body).status_code, 400)
        resp = post(_srv, "/login/mfa", {"mfa_token": "A" * 43, "code": "123456"})
        self.assertError(resp, 401, "Unauthorized", "Invalid or expired code")


class Lockout(harness.LatchTestCase):
    def test_wrong_codes_count_and_the_password_step_does_not_reset(self):
        srv = harness.LatchServer(env={"LATCH_LOCKOUT_ATTEMPTS": "4"}).start()
        try:
            email, secret, _ = enrolled_user(srv)
            good = code_at(secret)
            wrong = "%06d" % ((int(good) + 1) % 1000000)
            first = password_step(srv, email).json()["mfa_token"]              # 1
            self.assertEqual(post(srv, "/login/mfa", {"mfa_token": first, "code": wrong})
                             .status_code, 401)                                 # 2
            second = password_step(srv, email).json()["mfa_token"]             # 3, no reset
            self.assertEqual(post(srv, "/login/mfa", {"mfa_token": second, "code": wrong})
                             .status_code, 401)                                 # 4: locked
            locked = post(srv, "/login/mfa", {"mfa_token": second, "code": good})
            self.assertEqual(locked.status_code, 429, locked.text)
            self.assertEqual(srv.login(email).status_code, 429)
        finally:
            srv.close()


class SessionMode(harness.LatchTestCase):
    def test_the_cookie_comes_with_the_second_step_only(self):
        srv = harness.LatchServer(env={"LATCH_AUTH_MODE": "session"}).start()
        try:
            email, secret, _ = enrolled_user(srv)
            step = password_step(srv, email)
            self.assertIsNone(step.headers.get("Set-Cookie"))
            self.assertNotIn("token", step.json())
            done = post(srv, "/login/mfa", {"mfa_token": step.json()["mfa_token"],
                                            "code": code_at(secret)})
            self.assertEqual(done.status_code, 200, done.text)
            self.assertIn("latch_session=", done.headers.get("Set-Cookie", ""))
        finally:
            srv.close()


class TurningItOff(harness.LatchTestCase):
    def test_delete_needs_the_password_and_a_code(self):
        email, secret, _ = enrolled_user()
        done = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                         .json()["mfa_token"], "code": code_at(secret)})
        token = done.json()["token"]
        wrong_pw = post(_srv, "/mfa/totp", {"password": "nope nope nope", "code":
                                            code_at(secret, 1)}, token, method="DELETE")
        self.assertError(wrong_pw, 403, "Forbidden", "Current password is incorrect")
        wrong_code = post(_srv, "/mfa/totp", {"password": PASSWORD, "code": code_at(secret)},
                          token, method="DELETE")   # the step just used: a replay
        self.assertError(wrong_code, 403, "Forbidden", "Invalid or expired code")
        too_long = post(_srv, "/mfa/totp", {"password": PASSWORD, "code": "1" * 40}, token,
                        method="DELETE")
        self.assertError(too_long, 403, "Forbidden", "Invalid or expired code")
        ok = post(_srv, "/mfa/totp", {"password": PASSWORD, "code": code_at(secret, 1)}, token,
                  method="DELETE")
        self.assertEqual(ok.status_code, 204, ok.text)
        self.assertIs(_srv.profile(token).json()["mfa"], False)
        self.assertIn("token", password_step(_srv, email).json())

    def test_admin_and_cli_remove_it_and_end_the_logins(self):
        _, admin = harness.make_admin(_srv)
        for how in ("admin", "cli"):
            email, secret, _ = enrolled_user()
            done = post(_srv, "/login/mfa", {"mfa_token": password_step(_srv, email)
                                             .json()["mfa_token"], "code": code_at(secret)})
            token = done.json()["token"]
            user_id = claims(token)["userId"]
            if how == "admin":
                bad = harness.admin_req(_srv, "PATCH", "/admin/users/%d" % user_id,
                                        admin["token"], {"mfa": True})
                self.assertEqual(bad.status_code, 400, bad.text)
                resp = harness.admin_req(_srv, "PATCH", "/admin/users/%d" % user_id,
                                         admin["token"], {"mfa": False})
                self.assertEqual(resp.status_code, 200, resp.text)
                self.assertIs(resp.json()["mfa"], False)
            else:
                out = harness.run_latch(["user", "mfa-reset", "--data-dir", _srv.data_dir,
                                         "--email", email])
                self.assertEqual(out.returncode, 0, out.stderr)
                time.sleep(1.5)   # the server follows the revocation log
            self.assertEqual(_srv.profile(token).status_code, 401)
            self.assertIn("token", password_step(_srv, email).json())
