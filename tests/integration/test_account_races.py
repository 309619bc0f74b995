"""A login whose password check is in flight while the account changes
(issue 9).  The login decides on the account as committed after its hash
verified, in the same transaction that records its family:

- demoted meanwhile: the token carries the new role;
- disabled meanwhile: 403 Account disabled;
- a new password meanwhile (an admin's or the user's own): 401;
- disabling an already disabled user ends a login made in between;
- /profile, sessions and /verify honour disabled at once.

The accounts' stored hashes are made slow (64 MiB, several iterations, with
the CLI) so that each change lands while a login is verifying one; the
server's own parameters stay fast, so a change's new hash is quick.
"""

import threading
import time

import requests

import harness
from harness import BAD_LOGIN, LatchTestCase, admin_req, bearer, unique_email

PASSWORD = "correct horse battery"
SLOW_HASH = {"LATCH_ARGON2_MEMORY_KIB": "65536", "LATCH_ARGON2_ITERATIONS": "20"}
ACCOUNT_DISABLED = {"error": "Forbidden", "message": "Account disabled"}

server = None
admin_token = None


def setUpModule():
    global server, admin_token
    server = harness.start_module_server(env={"LATCH_AUTH_MODE": "both"})
    _, body = harness.make_admin(server)
    admin_token = body["token"]


def tearDownModule():
    harness.stop_module_server(server)


def new_account(role="user"):
    """A user made with the CLI (same slow parameters): (id, email)."""
    email = unique_email("race")
    result = harness.user_add(server.data_dir, email, PASSWORD, role=role, env=SLOW_HASH)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    user_id = int(result.stdout.split()[2])
    return user_id, email


class InFlight:
    """A request run on a thread, with when it was sent and answered."""

    def __init__(self, fn):
        self.resp = None
        self.error = None
        self.sent = time.monotonic()
        self.answered = None
        self.thread = threading.Thread(target=self._run, args=(fn,))
        self.thread.start()

    def _run(self, fn):
        try:
            self.resp = fn()
        except Exception as e:     # reported by join()
            self.error = e
        self.answered = time.monotonic()

    def join(self):
        self.thread.join(harness.HTTP_TIMEOUT_S * 3)
        if self.error is not None:
            raise self.error
        return self.resp


class LoginRacesChange(LatchTestCase):
    def stored_hash(self, user_id, value=None):
        """Reads (or, given value, writes back) a user's stored hash."""
        if value is not None:
            harness.store_query(server, "UPDATE users SET password_hash = ? WHERE id = ?",
                                (value, user_id), write=True)
        return harness.store_query(server, "SELECT password_hash FROM users WHERE id = ?",
                                   (user_id,))[0][0]

    def race(self, email, change, password=PASSWORD):
        """Starts a login, applies change() while it hashes, and returns the
        login's answer; fails if the change did not land inside the login."""
        login = InFlight(lambda: server.login(email, password))
        time.sleep(0.15)
        changed = change()
        changed_at = time.monotonic()
        resp = login.join()
        # Diagnostics only: the outcome is what the tests assert.
        self.window = "change answered %.2f s after the login was sent, login answered " \
                      "after %.2f s" % (changed_at - login.sent, login.answered - login.sent)
        return resp, changed

    def test_demoted_during_login_gets_the_new_role(self):
        user_id, email = new_account(role="admin")
        resp, changed = self.race(email, lambda: admin_req(
            server, "PATCH", "/admin/users/%d" % user_id, admin_token, {"role": "user"}))
        self.assertEqual(changed.status_code, 200, changed.text)
        body = self.assertJson(resp, 200)
        self.assertEqual(harness.token_payload(body["token"])["role"], "user", self.window)
        self.assertEqual(server.get("/verify?role=admin",
                                    headers=bearer(body["token"])).status_code, 403)
        # The family refreshes with the role as it is now.
        refreshed = self.assertJson(server.post_json(
            "/refresh", {"refresh_token": body["refresh_token"]}), 200)
        self.assertEqual(harness.token_payload(refreshed["token"])["role"], "user")

    def test_disabled_during_login_is_refused(self):
        user_id, email = new_account()
        resp, changed = self.race(email, lambda: admin_req(
            server, "PATCH", "/admin/users/%d" % user_id, admin_token, {"disabled": True}))
        self.assertEqual(changed.status_code, 200, changed.text)
        self.assertEqual(resp.status_code, 403, self.window)
        self.assertJson(resp, 403, ACCOUNT_DISABLED)
        self.assertNotIn("Set-Cookie", resp.headers)

    def test_password_set_by_admin_during_login_is_refused(self):
        user_id, email = new_account()
        resp, changed = self.race(email, lambda: admin_req(
            server, "PATCH", "/admin/users/%d" % user_id, admin_token,
            {"password": "a new password 2"}))
        self.assertEqual(changed.status_code, 200, changed.text)
        self.assertEqual(resp.status_code, 401, self.window)
        self.assertJson(resp, 401, BAD_LOGIN)
        self.assertJson(server.login(email, "a new password 2"), 200)

    def test_own_password_change_during_login_is_refused(self):
        user_id, email = new_account()
        # The caller's own login rehashes the slow hash with the server's
        # fast parameters; the slow one is put back (same password, same
        # generation) so that the change and the racing login both verify it.
        slow = self.stored_hash(user_id)
        first = self.assertJson(server.login(email, PASSWORD), 200)
        self.stored_hash(user_id, slow)
        change = InFlight(lambda: server.post_json(
            "/password", {"current_password": PASSWORD, "new_password": "another password 3"},
            headers=bearer(first["token"])))
        # The login reads the old hash while the change is still verifying
        # the current password; both verify the same slow hash, and the
        # change's new hash is fast, so the change commits ~0.4 s first (the
        # slow hash takes about a second, so the login still reads the old
        # one).
        time.sleep(0.4)
        login = InFlight(lambda: server.login(email, PASSWORD))
        changed = change.join()
        resp = login.join()
        self.assertEqual(changed.status_code, 204, changed.text)
        self.assertEqual(resp.status_code, 401, "change answered after %.2f s, login after "
                         "%.2f s" % (change.answered - change.sent, login.answered - change.sent))
        self.assertJson(resp, 401, BAD_LOGIN)
        # The login that made the change keeps working; the new password logs in.
        self.assertEqual(server.profile(first["token"]).status_code, 200)
        self.assertJson(server.login(email, "another password 3"), 200)


def slip_in_a_family(user_id):
    """Writes a live family with a session straight into the store, as a
    login that raced the disabling used to leave behind: (sid, access token
    with that sid, session token)."""
    import hashlib
    import os
    sid = "slipped-" + os.urandom(6).hex()
    raw = os.urandom(32)
    now = int(time.time())
    harness.store_query(server, "INSERT INTO families (sid, user_id, created_at) "
                        "VALUES (?, ?, ?)", (sid, user_id, now), write=True)
    harness.store_query(server, "INSERT INTO sessions (digest, sid, created_at, last_seen, "
                        "expires_at) VALUES (?, ?, ?, ?, ?)",
                        (hashlib.sha256(raw).digest(), sid, now, now, now + 3600), write=True)
    token = harness.mint(harness.claims_for(user_id, sid=sid, now=now), server.secret())
    return sid, token, harness.b64url(raw)


class DisabledAtOnce(LatchTestCase):
    def test_disabled_account_answers_nothing_even_with_a_live_family(self):
        user_id, _ = new_account()
        path = "/admin/users/%d" % user_id
        self.assertEqual(admin_req(server, "PATCH", path, admin_token,
                                   {"disabled": True}).status_code, 200)
        time.sleep(1.1)      # past the disabling's cutoff second
        _, token, session = slip_in_a_family(user_id)
        # /profile and session authentication read the account: disabled
        # answers 401 at once, whatever the revocation set holds.
        self.assertInvalidToken(server.profile(token))
        self.assertInvalidToken(server.profile(session))
        self.assertEqual(server.get("/verify", headers=bearer(session)).status_code, 401)

    def test_disabling_again_ends_a_family_that_slipped_in(self):
        user_id, _ = new_account()
        path = "/admin/users/%d" % user_id
        self.assertEqual(admin_req(server, "PATCH", path, admin_token,
                                   {"disabled": True}).status_code, 200)
        time.sleep(1.1)
        sid, token, _ = slip_in_a_family(user_id)
        # /verify reads no store for a JWT: until its family is revoked, the
        # slipped login's token passes.  Disabling the user again, though
        # disabled already, revokes it at once.
        self.assertEqual(server.get("/verify", headers=bearer(token)).status_code, 200)
        self.assertEqual(admin_req(server, "PATCH", path, admin_token,
                                   {"disabled": True}).status_code, 200)
        self.assertEqual(server.get("/verify", headers=bearer(token)).status_code, 401)
        revoked = harness.store_query(server, "SELECT revoked_at FROM families WHERE sid = ?",
                                       (sid,))
        self.assertIsNotNone(revoked[0][0])

    def test_session_and_verify_honour_disabled_at_once(self):
        user_id, email = new_account()
        body = self.assertJson(server.login(email, PASSWORD), 200)
        session = requests.Session()
        resp = session.post(server.url + "/login", json={"email": email, "password": PASSWORD})
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(session.get(server.url + "/profile").status_code, 200)
        self.assertEqual(server.get("/verify", headers=bearer(body["token"])).status_code, 200)
        self.assertEqual(admin_req(server, "PATCH", "/admin/users/%d" % user_id, admin_token,
                                   {"disabled": True}).status_code, 200)
        self.assertEqual(session.get(server.url + "/profile").status_code, 401)
        self.assertEqual(session.get(server.url + "/verify").status_code, 401)
        self.assertEqual(server.get("/verify", headers=bearer(body["token"])).status_code, 401)
        self.assertInvalidToken(server.profile(body["token"]))
