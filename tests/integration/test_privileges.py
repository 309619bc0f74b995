"""Least privilege and the CLI beside a running server: `latch serve --user`
drops root after binding and refuses a data dir it does not own; `latch user
logout` in another process ends a user's tokens within the 2 s the running
server takes to follow the store's revocation log."""

import os
import pwd
import shutil
import time
import unittest

import harness
from harness import LatchTestCase, unique_email

PASSWORD = "privilege password"


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


@unittest.skipUnless(os.geteuid() == 0, "needs root to test --user")
class DropPrivileges(LatchTestCase):
    def setUp(self):
        self.nobody = pwd.getpwnam("nobody")

    def test_runs_as_the_user_after_binding(self):
        server = harness.LatchServer()
        try:
            os.chown(server.data_dir, self.nobody.pw_uid, self.nobody.pw_gid)
            key = harness.backend.provision(server.data_dir).get("LATCH_MASTER_KEY_FILE")
            if key is not None:
                os.chown(key, self.nobody.pw_uid, self.nobody.pw_gid)
            server.custom_args = ["serve", "--listen", "127.0.0.1:0", "--data-dir",
                                  server.data_dir, "--user", "nobody"]
            server.start()
            # Every uid (real, effective, saved, fs) is nobody's.
            self.assertEqual(proc_uid(server.proc.pid), [self.nobody.pw_uid] * 4)
            _, _, token = server.new_user(PASSWORD)
            self.assertProfileOk(server.profile(token))
            # What latch wrote belongs to nobody (on PostgreSQL it writes no
            # file).
            for name in () if harness.backend.POSTGRES else ("latch.db", "keys.json"):
                st = os.stat(os.path.join(server.data_dir, name))
                self.assertEqual(st.st_uid, self.nobody.pw_uid, name)
                self.assertEqual(st.st_mode & 0o077, 0, name)
        finally:
            server.close()

    def test_refuses_a_data_dir_of_another_user(self):
        data_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            os.chown(data_dir, 0, 0)
            result = harness.run_latch(["serve", "--listen", "127.0.0.1:0", "--data-dir",
                                        data_dir, "--user", "nobody"], timeout=20)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(data_dir, result.stderr)
            self.assertIn("chown", result.stderr)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_unknown_user_refused(self):
        result = harness.run_latch(["serve", "--listen", "127.0.0.1:0", "--user",
                                    "no-such-user-latch"], timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no-such-user-latch", result.stderr)


class CliLogout(LatchTestCase):
    def test_cli_logout_seen_by_running_server(self):
        server = harness.LatchServer()
        try:
            server.start()
            user, email, token = server.new_user(PASSWORD)
            self.assertProfileOk(server.profile(token))
            result = harness.run_latch(["user", "logout", "--data-dir", server.data_dir,
                                        "--email", email])
            self.assertEqual(result.returncode, 0, result.stderr)
            deadline = time.monotonic() + 3 * harness.TIME_SCALE
            while time.monotonic() < deadline:
                if server.profile(token).status_code == 401:
                    break
                time.sleep(0.1)
            self.assertJson(server.profile(token), 401, harness.INVALID_TOKEN)
            # A new login works: the cutoff ends what was issued before it.
            self.assertJson(server.login(email, PASSWORD), 200)
        finally:
            server.close()

    def test_cli_logout_unknown_user(self):
        data_dir = harness.tempfile.mkdtemp(prefix="latch-it-")
        try:
            result = harness.run_latch(["user", "logout", "--data-dir", data_dir, "--email",
                                        unique_email("ghost")])
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("no user", result.stderr)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
