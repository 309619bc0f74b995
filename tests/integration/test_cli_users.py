"""The operator's CLI and admin routes (issue 12): latch user
list|show|delete|disable|enable|unlock|set-role on the store of a running
server, GET /admin/users?email=, POST /admin/users/{id}/unlock, per-command
--help, --version, and the warning for a misspelt LATCH_* variable."""

import json
import time

import harness
from harness import bearer

PASSWORD = "correct horse battery"


def cli(server, *args, env=None):
    return harness.run_latch(["user"] + list(args) + ["--data-dir", server.data_dir], env=env)


def wait_status(fn, status, timeout=5.0):
    """Polls fn() until it answers status (the server follows the store's
    revocation log once a second); returns the last answer."""
    deadline = time.monotonic() + timeout * harness.TIME_SCALE
    while True:
        resp = fn()
        if resp.status_code == status or time.monotonic() > deadline:
            return resp
        time.sleep(0.1)


class UserCommands(harness.LatchTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_module_server(env={"LATCH_LOCKOUT_ATTEMPTS": "2"})
        cls.admin_email, cls.admin = harness.make_admin(cls.server)

    @classmethod
    def tearDownClass(cls):
        harness.stop_module_server(cls.server)

    def test_list_filters_and_prints_json(self):
        user, email, _ = self.server.new_user(PASSWORD, prefix="listme")
        result = cli(self.server, "list")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(email, result.stdout)
        self.assertIn(self.admin_email, result.stdout)
        result = cli(self.server, "list", "--email", email.split("@")[0].upper())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(email, result.stdout)
        self.assertNotIn(self.admin_email, result.stdout)
        result = cli(self.server, "list", "--email", "listme-", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        users = json.loads(result.stdout)
        self.assertIn({"id": user["id"], "email": email, "role": "user", "disabled": False,
                       "email_verified": False, "mfa": False,
                       "created_at": users[[u["id"] for u in users].index(user["id"])]
                       ["created_at"]}, users)
        self.assertTrue(all("listme-" in u["email"] for u in users))
        self.assertTrue(all("password_hash" not in u for u in users))

    def test_show(self):
        user, email, _ = self.server.new_user(PASSWORD)
        result = cli(self.server, "show", "--email", "  " + email.upper())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("id:       %d" % user["id"], result.stdout)
        self.assertIn("role:     user", result.stdout)
        result = cli(self.server, "show", "--email", email, "--json")
        self.assertEqual(json.loads(result.stdout)["email"], email)

    def test_unknown_email_exits_1_naming_it(self):
        nobody = harness.unique_email("nobody")
        for sub in ("show", "delete", "disable", "enable", "unlock"):
            with self.subTest(sub=sub):
                result = cli(self.server, sub, "--email", nobody)
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertIn(nobody, result.stderr)
        result = cli(self.server, "set-role", "--email", nobody, "--role", "admin")
        self.assertEqual(result.returncode, 1)
        self.assertIn(nobody, result.stderr)

    def test_usage_errors_exit_2(self):
        self.assertEqual(cli(self.server, "show").returncode, 2)
        self.assertEqual(cli(self.server, "set-role", "--email", "a@example.com",
                             "--role", "root").returncode, 2)
        result = cli(self.server, "list", "--listen", "127.0.0.1:1")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--listen does not apply to latch user list", result.stderr)

    def test_disable_ends_tokens_at_once_and_enable_restores(self):
        user, email, token = self.server.new_user(PASSWORD)
        self.assertEqual(self.server.profile(token).status_code, 200)
        result = cli(self.server, "disable", "--email", email)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("disabled", result.stdout)
        self.assertInvalidToken(wait_status(lambda: self.server.profile(token), 401))
        self.assertError(self.server.login(email, PASSWORD), 403, "Forbidden", "Account disabled")
        result = cli(self.server, "enable", "--email", email)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 200)

    def test_set_role_promotes_and_demotion_revokes(self):
        user, email, _ = self.server.new_user(PASSWORD)
        result = cli(self.server, "set-role", "--email", email, "--role", "admin")
        self.assertEqual(result.returncode, 0, result.stderr)
        token = self.server.login(email, PASSWORD).json()["token"]
        self.assertEqual(harness.admin_req(self.server, "GET", "/admin/users", token)
                         .status_code, 200)
        result = cli(self.server, "set-role", "--email", email, "--role", "user")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertInvalidToken(wait_status(lambda: self.server.profile(token), 401))

    def test_delete_and_last_admin_protection(self):
        user, email, token = self.server.new_user(PASSWORD)
        result = cli(self.server, "delete", "--email", email)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertInvalidToken(wait_status(lambda: self.server.profile(token), 401))
        self.assertEqual(cli(self.server, "show", "--email", email).returncode, 1)
        # The module's admin is the only enabled admin (others were demoted).
        admins = [u for u in json.loads(cli(self.server, "list", "--json").stdout)
                  if u["role"] == "admin" and not u["disabled"]]
        for extra in admins:
            if extra["email"] != self.admin_email:
                cli(self.server, "set-role", "--email", extra["email"], "--role", "user")
        for sub in ("delete", "disable"):
            result = cli(self.server, sub, "--email", self.admin_email)
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn(self.admin_email, result.stderr)
            self.assertIn("last enabled admin", result.stderr)
        result = cli(self.server, "set-role", "--email", self.admin_email, "--role", "user")
        self.assertEqual(result.returncode, 1)

    def test_unlock_clears_the_lockout(self):
        _, email, _ = self.server.new_user(PASSWORD)
        self.server.login(email, "wrong password 1")
        self.server.login(email, "wrong password 2")
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 429)
        result = cli(self.server, "unlock", "--email", email.upper())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 200)

    def test_admin_find_by_email(self):
        user, email, _ = self.server.new_user(PASSWORD)
        token = self.admin["token"]
        resp = harness.admin_req(self.server, "GET", "/admin/users?email=%20" +
                                 email.upper(), token)
        body = self.assertJson(resp, 200)
        self.assertEqual(body["next"], None)
        self.assertEqual([u["id"] for u in body["users"]], [user["id"]])
        self.assertEqual(sorted(body["users"][0]),
                         ["created_at", "disabled", "email", "email_verified", "id", "mfa",
                          "role"])
        resp = harness.admin_req(self.server, "GET", "/admin/users?email=" +
                                 harness.unique_email("nobody"), token)
        self.assertJson(resp, 200, {"users": [], "next": None})
        # A prefix is not a match: the search is exact.
        resp = harness.admin_req(self.server, "GET", "/admin/users?email=" + email[:-1], token)
        self.assertJson(resp, 200, {"users": [], "next": None})
        self.assertError(harness.admin_req(self.server, "GET", "/admin/users?email=nope", token),
                         400, "Bad Request", "email must be an email address")
        _, _, user_token = self.server.new_user(PASSWORD)
        self.assertError(harness.admin_req(self.server, "GET", "/admin/users?email=" + email,
                                           user_token), 403, "Forbidden", "Insufficient role")

    def test_admin_unlock(self):
        user, email, user_token = self.server.new_user(PASSWORD)
        token = self.admin["token"]
        self.server.login(email, "wrong password 1")
        self.server.login(email, "wrong password 2")
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 429)
        self.assertError(harness.admin_req(self.server, "POST", "/admin/users/%d/unlock"
                                           % user["id"], user_token), 403, "Forbidden")
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 429)
        resp = harness.admin_req(self.server, "POST", "/admin/users/%d/unlock" % user["id"],
                                 token)
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(self.server.login(email, PASSWORD).status_code, 200)
        self.assertError(harness.admin_req(self.server, "POST", "/admin/users/999999/unlock",
                                           token), 404, "Not Found", "No such user")
        self.assertError(harness.admin_req(self.server, "GET", "/admin/users/%d/unlock"
                                           % user["id"], token), 405, "Method Not Allowed")


class HelpVersionEnv(harness.LatchTestCase):

    def test_each_command_lists_only_its_options(self):
        serve = harness.run_latch(["serve", "--help"]).stdout
        add = harness.run_latch(["user", "add", "--help"]).stdout
        rotate = harness.run_latch(["key", "rotate", "--help"]).stdout
        for flag in ("--listen", "--threads", "--tls-cert", "--metrics-listen", "--data-dir"):
            self.assertIn(flag, serve)
        self.assertIn("LATCH_METRICS_TOKEN", serve)
        for flag in ("--email", "--role", "--data-dir", "--argon2-memory-kib"):
            self.assertIn(flag, add)
        for flag in ("--listen", "--threads", "--tls-cert", "--jwt-alg", "--ui"):
            self.assertNotIn(flag + " ", add)
        self.assertNotIn("LATCH_JWT_SECRET", add)
        self.assertIn("--jwt-alg", rotate)
        self.assertIn("LATCH_JWT_SECRET", rotate)
        for flag in ("--listen", "--argon2-memory-kib", "--registration"):
            self.assertNotIn(flag + " ", rotate)
        listing = harness.run_latch(["user", "list", "--help"]).stdout
        self.assertIn("--json", listing)

    def test_version(self):
        for args in (["--version"], ["version"]):
            result = harness.run_latch(args)
            self.assertEqual(result.returncode, 0)
            self.assertRegex(result.stdout.strip(),
                             r"^latch \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown)\)$")

    def test_misspelt_variable_is_a_warning_naming_the_closest(self):
        with harness.LatchServer(env={"LATCH_LISTN": "127.0.0.1:1", "LATCH_LOG_FORMAT": "json",
                                      "LATCH_METRICS_TOKN": "x"}) as srv:
            warnings = [json.loads(l) for s, l in srv.lines if s == "stderr"
                        and "unknown environment variable" in l]
            named = {w["name"]: w["did_you_mean"] for w in warnings}
            self.assertEqual(named.get("LATCH_LISTN"), "LATCH_LISTEN")
            self.assertEqual(named.get("LATCH_METRICS_TOKN"), "LATCH_METRICS_TOKEN")
            self.assertTrue(all(w["level"] == "warn" for w in warnings))
        with harness.LatchServer(env={"LATCH_JWT_SECRET": "s" * 40,
                                      "LATCH_METRICS_TOKEN": "t" * 20}) as srv:
            self.assertNotIn("unknown environment variable", srv.log_text())
