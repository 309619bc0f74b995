"""Roles and the admin API: 401 / 403 / 200 / 201 / 204 / 404 / 409, the
demoted admin, pagination, no password hashes in any answer, the cutoff on
disable / delete / demote, disabled logins, closed registration."""

import json
import threading
import time

import harness
from harness import (BAD_LOGIN, EMAIL_TAKEN, INSUFFICIENT_ROLE, LAST_ADMIN, REFRESH_INVALID,
                     LatchTestCase, bearer, claims_for, mint, unique_email)

PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "admin password 1"
USER_KEYS = ["created_at", "disabled", "email", "email_verified", "id", "mfa", "role"]
ACCOUNT_DISABLED = {"error": "Forbidden", "message": "Account disabled"}

server = None


def setUpModule():
    global server
    server = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(server)


def make_admin(srv, password=ADMIN_PASSWORD):
    return harness.make_admin(srv, password)


admin_req = harness.admin_req


def refresh(srv, token):
    return srv.post_json("/refresh", {"refresh_token": token})


def assert_no_secrets(test, resp):
    text = resp.text.lower()
    for word in ("password", "hash", "salt", "$argon2"):
        test.assertNotIn(word, text, "answer mentions %r: %s" % (word, resp.text[:300]))


class AdminCase(LatchTestCase):
    def new_user(self, srv):
        email = unique_email("member")
        user = self.assertJson(srv.register(email, PASSWORD), 201)
        login = self.assertJson(srv.login(email, PASSWORD), 200)
        return user, email, login

    def assertUser(self, resp, status=200):
        body = self.assertJson(resp, status)
        self.assertEqual(sorted(body), USER_KEYS, body)
        self.assertIsInstance(body["id"], int)
        self.assertIsInstance(body["disabled"], bool)
        self.assertIn(body["role"], ("user", "admin"))
        self.assertRegex(body["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        assert_no_secrets(self, resp)
        return body


# Every admin route: (method, path template, body).
ROUTES = [
    ("GET", "/admin/users", None),
    ("GET", "/admin/users/{id}", None),
    ("POST", "/admin/users", {"email": "x-new@example.com", "password": PASSWORD}),
    ("PATCH", "/admin/users/{id}", {"role": "admin"}),
    ("DELETE", "/admin/users/{id}", None),
    ("POST", "/admin/users/{id}/logout", None),
]


class Access(AdminCase):
    def test_no_token_401(self):
        user, _, _ = self.new_user(server)
        for method, path, body in ROUTES:
            with self.subTest(route="%s %s" % (method, path)):
                self.assertMissingToken(admin_req(server, method,
                                                  path.format(id=user["id"]), None, body))

    def test_bad_token_401(self):
        user, _, login = self.new_user(server)
        bad = login["token"][:-2] + ("AA" if not login["token"].endswith("AA") else "BB")
        for method, path, body in ROUTES:
            with self.subTest(route="%s %s" % (method, path)):
                self.assertInvalidToken(admin_req(server, method, path.format(id=user["id"]),
                                                  bad, body))

    def test_user_token_403(self):
        user, _, login = self.new_user(server)
        for method, path, body in ROUTES:
            with self.subTest(route="%s %s" % (method, path)):
                self.assertJson(admin_req(server, method, path.format(id=user["id"]),
                                          login["token"], body), 403, INSUFFICIENT_ROLE)
        # Nothing happened: the user still exists with its role.
        self.assertProfileOk(server.profile(login["token"]), user)

    def test_role_claim_is_not_trusted(self):
        """A token claiming role admin for a plain user (signed with the right
        key) cannot administer: the role is read from the store."""
        user, email, _ = self.new_user(server)
        forged = mint(claims_for(user["id"], role="admin", email=email), server.secret())
        self.assertJson(admin_req(server, "GET", "/admin/users", forged), 403, INSUFFICIENT_ROLE)


class Crud(AdminCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_email, cls.admin = make_admin(server)

    def token(self):
        return self.admin["token"]

    def test_get_user(self):
        user, email, _ = self.new_user(server)
        body = self.assertUser(admin_req(server, "GET", "/admin/users/%d" % user["id"],
                                         self.token()))
        self.assertEqual(body["id"], user["id"])
        self.assertEqual(body["email"], email)
        self.assertEqual(body["role"], "user")
        self.assertIs(body["disabled"], False)

    def test_head_user(self):
        user, _, _ = self.new_user(server)
        resp = admin_req(server, "HEAD", "/admin/users/%d" % user["id"], self.token())
        self.assertEqual(resp.status_code, 200)

    def test_unknown_id_404(self):
        unknown = 999999
        for method, path, body in ROUTES:
            if "{id}" not in path:
                continue
            with self.subTest(route="%s %s" % (method, path)):
                self.assertError(admin_req(server, method, path.format(id=unknown),
                                           self.token(), body), 404, "Not Found")

    def test_create_user(self):
        email = unique_email("created")
        resp = admin_req(server, "POST", "/admin/users", self.token(),
                         {"email": email, "password": PASSWORD})
        body = self.assertUser(resp, 201)
        self.assertEqual(body["email"], email)
        self.assertEqual(body["role"], "user")
        login = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertEqual(self.assertProfileOk(server.profile(login["token"]))["id"], body["id"])
        # Duplicate: 409 as for /register.
        self.assertJson(admin_req(server, "POST", "/admin/users", self.token(),
                                  {"email": email.upper(), "password": PASSWORD}),
                        409, EMAIL_TAKEN)

    def test_create_admin(self):
        email = unique_email("created-admin")
        body = self.assertUser(admin_req(server, "POST", "/admin/users", self.token(),
                                         {"email": email, "password": PASSWORD,
                                          "role": "admin"}), 201)
        self.assertEqual(body["role"], "admin")
        login = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertJson(admin_req(server, "GET", "/admin/users", login["token"]), 200)

    def test_create_validation(self):
        for body in ({"email": "not-an-email", "password": PASSWORD},
                     {"email": unique_email(), "password": "short"},
                     {"email": unique_email(), "password": PASSWORD, "role": "root"},
                     {"email": unique_email()}):
            with self.subTest(body=body):
                self.assertBadRequest(admin_req(server, "POST", "/admin/users", self.token(),
                                                body))

    def test_patch_validation(self):
        user, _, _ = self.new_user(server)
        path = "/admin/users/%d" % user["id"]
        for body in ({"role": "root"}, {"disabled": "yes"}, {"email": "a@b.example.com"},
                     {"password": "short"}):
            with self.subTest(body=body):
                self.assertBadRequest(admin_req(server, "PATCH", path, self.token(), body))
        got = self.assertUser(admin_req(server, "GET", path, self.token()))
        self.assertEqual(got["role"], "user")
        self.assertIs(got["disabled"], False)

    def test_patch_role_and_disabled(self):
        user, email, _ = self.new_user(server)
        path = "/admin/users/%d" % user["id"]
        body = self.assertUser(admin_req(server, "PATCH", path, self.token(), {"role": "admin"}))
        self.assertEqual(body["role"], "admin")
        body = self.assertUser(admin_req(server, "PATCH", path, self.token(),
                                         {"role": "user", "disabled": True}))
        self.assertEqual((body["role"], body["disabled"]), ("user", True))
        body = self.assertUser(admin_req(server, "PATCH", path, self.token(),
                                         {"disabled": False}))
        self.assertIs(body["disabled"], False)
        self.assertJson(server.login(email, PASSWORD), 200)

    def test_patch_password(self):
        user, email, login = self.new_user(server)
        path = "/admin/users/%d" % user["id"]
        self.assertUser(admin_req(server, "PATCH", path, self.token(),
                                  {"password": "brand new password"}))
        self.assertInvalidToken(server.profile(login["token"]))
        self.assertJson(refresh(server, login["refresh_token"]), 401, REFRESH_INVALID)
        self.assertJson(server.login(email, PASSWORD), 401, BAD_LOGIN)
        self.assertJson(server.login(email, "brand new password"), 200)

    def test_admin_logout_of_user(self):
        user, email, login = self.new_user(server)
        second = self.assertJson(server.login(email, PASSWORD), 200)
        resp = admin_req(server, "POST", "/admin/users/%d/logout" % user["id"], self.token())
        self.assertEqual(resp.status_code, 204, resp.text)
        for l in (login, second):
            self.assertInvalidToken(server.profile(l["token"]))
            self.assertJson(refresh(server, l["refresh_token"]), 401, REFRESH_INVALID)
        # The admin's own login is untouched, and the user may log in again.
        self.assertJson(admin_req(server, "GET", "/admin/users", self.token()), 200)
        again = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertProfileOk(server.profile(again["token"]), user)

    def test_list_has_no_password_fields(self):
        self.new_user(server)
        resp = admin_req(server, "GET", "/admin/users?limit=200", self.token())
        body = self.assertJson(resp, 200)
        self.assertEqual(sorted(body), ["next", "users"])
        self.assertTrue(body["users"])
        for user in body["users"]:
            self.assertEqual(sorted(user), USER_KEYS, user)
        assert_no_secrets(self, resp)


class Pagination(AdminCase):
    """A server of its own, so the exact set of users is known."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server()
        try:
            cls.admin_email, cls.admin = make_admin(cls.srv)
            cls.emails = [cls.admin_email]
            for i in range(6):
                email = unique_email("page%d" % i)
                resp = cls.srv.register(email, PASSWORD)
                assert resp.status_code == 201, resp.text
                cls.emails.append(email)
        except BaseException:
            harness.stop_module_server(cls.srv)
            raise

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def list_(self, query=""):
        return admin_req(self.srv, "GET", "/admin/users" + query, self.admin["token"])

    def test_walk_pages(self):
        seen, after, pages = [], None, 0
        while True:
            query = "?limit=2" + ("&after=%d" % after if after is not None else "")
            resp = self.list_(query)
            body = self.assertJson(resp, 200)
            assert_no_secrets(self, resp)
            self.assertEqual(sorted(body), ["next", "users"])
            pages += 1
            self.assertLessEqual(len(body["users"]), 2)
            for user in body["users"]:
                self.assertEqual(sorted(user), USER_KEYS)
            seen.extend(body["users"])
            if body["next"] is None:
                break
            self.assertEqual(body["next"], body["users"][-1]["id"], body)
            after = body["next"]
            self.assertLess(pages, 10, "pagination does not end")
        ids = [u["id"] for u in seen]
        self.assertEqual(ids, sorted(set(ids)), "ids repeat or are out of order: %s" % ids)
        self.assertEqual(sorted(u["email"] for u in seen), sorted(self.emails))
        self.assertEqual(pages, 4)   # 7 users: 2 + 2 + 2 + 1

    def test_default_and_max_limit(self):
        body = self.assertJson(self.list_(), 200)
        self.assertEqual(len(body["users"]), len(self.emails))
        self.assertIsNone(body["next"])
        body = self.assertJson(self.list_("?limit=200"), 200)
        self.assertEqual(len(body["users"]), len(self.emails))
        self.assertIsNone(body["next"])

    def test_exact_page_has_no_next(self):
        body = self.assertJson(self.list_("?limit=%d" % len(self.emails)), 200)
        self.assertEqual(len(body["users"]), len(self.emails))
        self.assertIsNone(body["next"])

    def test_after_last_id(self):
        body = self.assertJson(self.list_(), 200)
        last = body["users"][-1]["id"]
        body = self.assertJson(self.list_("?after=%d" % last), 200)
        self.assertEqual(body, {"users": [], "next": None})

    def test_bad_limits(self):
        for query in ("?limit=201", "?limit=1000", "?limit=0", "?limit=-1", "?limit=abc",
                      "?limit=", "?after=abc", "?after=-5"):
            with self.subTest(query=query):
                self.assertBadRequest(self.list_(query))


class LastAdmin(AdminCase):
    """409 when a change would leave no enabled admin; the demoted admin."""

    def test_last_admin_cannot_go(self):
        srv = harness.LatchServer()
        try:
            srv.start()
            _, admin = make_admin(srv)
            me = self.assertJson(srv.profile(admin["token"]), 200)
            path = "/admin/users/%d" % me["id"]
            for body in ({"role": "user"}, {"disabled": True},
                         {"role": "user", "disabled": True}):
                with self.subTest(body=body):
                    self.assertJson(admin_req(srv, "PATCH", path, admin["token"], body),
                                    409, LAST_ADMIN)
            self.assertJson(admin_req(srv, "DELETE", path, admin["token"]), 409, LAST_ADMIN)
            # Nothing changed; the admin still administers.
            got = self.assertUser(admin_req(srv, "GET", path, admin["token"]))
            self.assertEqual((got["role"], got["disabled"]), ("admin", False))
            # A disabled admin does not count: with a second, disabled admin
            # the first is still the last enabled one.
            other_email = unique_email("admin2")
            other = self.assertUser(admin_req(srv, "POST", "/admin/users", admin["token"],
                                              {"email": other_email, "password": PASSWORD,
                                               "role": "admin"}), 201)
            self.assertUser(admin_req(srv, "PATCH", "/admin/users/%d" % other["id"],
                                      admin["token"], {"disabled": True}))
            self.assertJson(admin_req(srv, "PATCH", path, admin["token"], {"role": "user"}),
                            409, LAST_ADMIN)
            self.assertJson(admin_req(srv, "DELETE", path, admin["token"]), 409, LAST_ADMIN)
            # Once the other admin is enabled, the first may go.
            self.assertUser(admin_req(srv, "PATCH", "/admin/users/%d" % other["id"],
                                      admin["token"], {"disabled": False}))
            other_login = self.assertJson(srv.login(other_email, PASSWORD), 200)
            resp = admin_req(srv, "DELETE", path, other_login["token"])
            self.assertEqual(resp.status_code, 204, resp.text)
            # Now the other is the last one.
            self.assertJson(admin_req(srv, "DELETE", "/admin/users/%d" % other["id"],
                                      other_login["token"]), 409, LAST_ADMIN)
            self.assertJson(admin_req(srv, "PATCH", "/admin/users/%d" % other["id"],
                                      other_login["token"], {"disabled": True}), 409,
                            LAST_ADMIN)
        finally:
            srv.close()

    def test_concurrent_mutual_demotion_keeps_an_admin(self):
        srv = harness.LatchServer()
        try:
            srv.start()
            _, a = make_admin(srv)
            _, b = make_admin(srv)
            a_id = self.assertJson(srv.profile(a["token"]), 200)["id"]
            b_id = self.assertJson(srv.profile(b["token"]), 200)["id"]
            barrier = threading.Barrier(2)
            results = {}

            def demote(name, token, target):
                barrier.wait()
                results[name] = admin_req(srv, "PATCH", "/admin/users/%d" % target, token,
                                          {"role": "user"})

            threads = [threading.Thread(target=demote, args=("a", a["token"], b_id)),
                       threading.Thread(target=demote, args=("b", b["token"], a_id))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            codes = sorted(r.status_code for r in results.values())
            # One wins; the other gets 409, or 401/403 if the winner's
            # demotion already ended its token.
            self.assertEqual(codes[0], 200, [r.text for r in results.values()])
            self.assertIn(codes[1], (401, 403, 409), [r.text for r in results.values()])
            admin_check = admin_req(srv, "GET", "/admin/users", a["token"])
            if admin_check.status_code != 200:
                admin_check = admin_req(srv, "GET", "/admin/users", b["token"])
            users = self.assertJson(admin_check, 200)["users"]
            admins = [u for u in users if u["role"] == "admin" and not u["disabled"]]
            self.assertEqual(len(admins), 1, users)
        finally:
            srv.close()

    def test_demoted_admin(self):
        srv = harness.LatchServer()
        try:
            srv.start()
            a_email, a = make_admin(srv)
            _, b = make_admin(srv)
            a_me = self.assertJson(srv.profile(a["token"]), 200)
            self.assertJson(admin_req(srv, "GET", "/admin/users", a["token"]), 200)
            body = self.assertUser(admin_req(srv, "PATCH", "/admin/users/%d" % a_me["id"],
                                             b["token"], {"role": "user"}))
            self.assertEqual(body["role"], "user")
            # The demotion ended A's tokens: the older token is refused
            # outright (401, not merely 403).
            self.assertInvalidToken(admin_req(srv, "GET", "/admin/users", a["token"]))
            self.assertInvalidToken(srv.profile(a["token"]))
            self.assertJson(refresh(srv, a["refresh_token"]), 401, REFRESH_INVALID)
            # A token still claiming "admin" that escaped the cutoff (minted
            # after it, e.g. elsewhere) gets 403: the role is read from the store.
            forged = mint(claims_for(a_me["id"], role="admin", email=a_email,
                                     now=int(time.time()) + 2), srv.secret())
            self.assertJson(admin_req(srv, "GET", "/admin/users", forged), 403,
                            INSUFFICIENT_ROLE)
            # A fresh login of A is a plain user.
            again = self.assertJson(srv.login(a_email, ADMIN_PASSWORD), 200)
            self.assertEqual(self.assertJson(srv.profile(again["token"]), 200)["role"], "user")
            for method, path, req_body in ROUTES:
                with self.subTest(route="%s %s" % (method, path)):
                    self.assertJson(admin_req(srv, method, path.format(id=a_me["id"]),
                                              again["token"], req_body),
                                    403, INSUFFICIENT_ROLE)
            # B is still an admin.
            self.assertJson(admin_req(srv, "GET", "/admin/users", b["token"]), 200)
        finally:
            srv.close()


class Cutoff(AdminCase):
    """Disabling, deleting or demoting a user ends every token it holds."""

    @classmethod
    def setUpClass(cls):
        cls.admin_email, cls.admin = make_admin(server)

    def two_logins(self):
        user, email, a = self.new_user(server)
        b = self.assertJson(server.login(email, PASSWORD), 200)
        b = self.assertJson(refresh(server, b["refresh_token"]), 200)
        for l in (a, b):
            self.assertProfileOk(server.profile(l["token"]), user)
        return user, email, (a, b)

    def assertAllDead(self, logins):
        for l in logins:
            self.assertInvalidToken(server.profile(l["token"]))
            self.assertJson(refresh(server, l["refresh_token"]), 401, REFRESH_INVALID)

    def test_disable(self):
        user, email, logins = self.two_logins()
        self.assertUser(admin_req(server, "PATCH", "/admin/users/%d" % user["id"],
                                  self.admin["token"], {"disabled": True}))
        self.assertAllDead(logins)
        # Login: 403 only after the right password; a wrong one is the usual 401.
        self.assertJson(server.login(email, PASSWORD), 403, ACCOUNT_DISABLED)
        self.assertJson(server.login(email, "wrong password!!"), 401, BAD_LOGIN)
        # Enabled again: logins work, the old tokens stay dead.
        self.assertUser(admin_req(server, "PATCH", "/admin/users/%d" % user["id"],
                                  self.admin["token"], {"disabled": False}))
        again = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertProfileOk(server.profile(again["token"]), user)
        self.assertAllDead(logins)

    def test_delete(self):
        user, email, logins = self.two_logins()
        resp = admin_req(server, "DELETE", "/admin/users/%d" % user["id"], self.admin["token"])
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(resp.content, b"")
        self.assertAllDead(logins)
        self.assertJson(server.login(email, PASSWORD), 401, BAD_LOGIN)
        self.assertError(admin_req(server, "GET", "/admin/users/%d" % user["id"],
                                   self.admin["token"]), 404, "Not Found")
        self.assertError(admin_req(server, "DELETE", "/admin/users/%d" % user["id"],
                                   self.admin["token"]), 404, "Not Found")
        # The email is free again; the new account gets a new id.
        fresh = self.assertJson(server.register(email, PASSWORD), 201)
        self.assertNotEqual(fresh["id"], user["id"])
        self.assertAllDead(logins)

    def test_demote(self):
        user, email, logins = self.two_logins()
        path = "/admin/users/%d" % user["id"]
        self.assertUser(admin_req(server, "PATCH", path, self.admin["token"], {"role": "admin"}))
        # Promotion ends nothing; the user logs in as admin.
        for l in logins:
            self.assertJson(server.profile(l["token"]), 200)
        as_admin = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertJson(admin_req(server, "GET", "/admin/users", as_admin["token"]), 200)
        self.assertUser(admin_req(server, "PATCH", path, self.admin["token"], {"role": "user"}))
        self.assertAllDead(list(logins) + [as_admin])
        again = self.assertJson(server.login(email, PASSWORD), 200)
        self.assertEqual(self.assertJson(server.profile(again["token"]), 200)["role"], "user")


class ClosedRegistration(AdminCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_module_server({"LATCH_REGISTRATION": "closed"})

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.srv)

    def test_register_403_admin_creates(self):
        srv = self.srv
        email = unique_email("closed")
        self.assertJson(srv.register(email, PASSWORD), 403,
                        {"error": "Forbidden", "message": "Registration is closed"})
        self.assertJson(srv.login(email, PASSWORD), 401, BAD_LOGIN)
        _, admin = make_admin(srv)
        body = self.assertUser(admin_req(srv, "POST", "/admin/users", admin["token"],
                                         {"email": email, "password": PASSWORD}), 201)
        self.assertEqual(body["email"], email)
        login = self.assertJson(srv.login(email, PASSWORD), 200)
        self.assertEqual(self.assertProfileOk(srv.profile(login["token"]))["id"], body["id"])
        # Still closed, also for an invalid or duplicate body.
        self.assertJson(srv.register(email, PASSWORD), 403,
                        {"error": "Forbidden", "message": "Registration is closed"})
