"""PostgreSQL outages (issue 10): latch never hangs and never crashes.

- a database that accepts connections and never answers, or one stopped
  with `pg_ctl stop -m immediate`: requests that need it answer 503
  `Database unavailable` within 2 s, /readyz says unavailable, /healthz and a
  JWT's /verify keep answering; when the database is back, latch reconnects
  by itself within 5 s;
- a table locked for seconds stalls no HTTP thread: /healthz and a JWT's
  /verify on other connections answer within 100 ms;
- one of three instances killed under a registration load: the others keep
  serving, and every registration that got a 201 is in the database.

These tests control a PostgreSQL cluster of their own (not the suite's), or
stand a TCP proxy between latch and the database; they run on the
PostgreSQL pass only.
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import LatchTestCase, bearer, unique_email

PASSWORD = "correct horse battery"
UNAVAILABLE = {"error": "Service Unavailable", "message": "Database unavailable"}
CLUSTER = os.path.join(harness.REPO_ROOT, "scripts", "pg-cluster.sh")


def setUpModule():
    if not harness.backend.POSTGRES:
        raise unittest.SkipTest("PostgreSQL outages: the PostgreSQL pass runs them")


class Cluster:
    """A PostgreSQL cluster of this test's own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="latch-pgout-")
        out = subprocess.run([CLUSTER, "start", self.dir], stdout=subprocess.PIPE, text=True,
                             check=True)
        self.admin = out.stdout.strip()
        self.port = int(self.admin.split("port=")[1].split()[0])
        self.bindir = subprocess.run(
            ["sh", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"],
            stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        import psycopg2
        conn = psycopg2.connect(self.admin)
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE latch")
        conn.close()
        self.url = self.admin.replace("dbname=postgres", "dbname=latch")

    def pg_ctl(self, *args):
        cmd = [os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.dir, "data")]
        cmd += list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    def stop_immediately(self):
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def start(self):
        self.pg_ctl("-l", os.path.join(self.dir, "server.log"), "-w", "-t", "30", "start")

    def remove(self):
        subprocess.run([CLUSTER, "stop", self.dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


class Proxy:
    """A TCP proxy on 127.0.0.1 to a port, which can turn into a black hole
    (accepts, reads, never answers, and stops every connection it carries)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.blackhole = False
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.blackhole:
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self.sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _swallow(self, conn):
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.blackhole:          # stall: never deliver, never close
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass

    def close(self):
        self.closed = True
        self.blackhole = False
        for s in [self.listener] + self.sockets:
            try:
                s.close()
            except OSError:
                pass


def timed(fn):
    start = time.monotonic()
    resp = fn()
    return resp, time.monotonic() - start


def latch_on(url, master_key, **env):
    full = {"LATCH_DATABASE_URL": url, "LATCH_MASTER_KEY_FILE": master_key}
    full.update(env)
    return harness.LatchServer(env=full)


class DatabaseStopsAnswering(LatchTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        # One database, so one master key for every latch on it.
        cls.master_key = harness.backend.new_master_key()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.remove()
        os.unlink(cls.master_key)

    def assertUnavailableSoon(self, fn):
        resp, took = timed(fn)
        self.assertJson(resp, 503, UNAVAILABLE)
        self.assertLess(took, 2.0, "503 after %.2f s" % took)

    def check_down(self, srv, token, email, refresh_token):
        self.assertUnavailableSoon(lambda: srv.login(email, PASSWORD))
        self.assertUnavailableSoon(lambda: srv.post_json("/refresh",
                                                         {"refresh_token": refresh_token}))
        # /profile answers from its user cache for at most a second, then
        # needs the database too.
        time.sleep(1.1)
        self.assertUnavailableSoon(lambda: srv.profile(token))
        self.assertUnavailableSoon(lambda: srv.register(unique_email(), PASSWORD))
        resp, took = timed(lambda: srv.get("/readyz"))
        self.assertEqual(resp.status_code, 503, resp.text)
        self.assertEqual(resp.json()["status"], "unavailable")
        self.assertLess(took, 2.0)
        # What needs no database keeps working from memory.
        self.assertEqual(srv.get("/healthz").status_code, 200)
        resp, took = timed(lambda: srv.get("/verify", headers=bearer(token)))
        self.assertEqual(resp.status_code, 200)
        self.assertLess(took, 0.5)

    def check_back(self, srv, token):
        took = None
        start = time.monotonic()
        while time.monotonic() - start < 5.0:
            if srv.profile(token).status_code == 200 and srv.get("/readyz").status_code == 200:
                took = time.monotonic() - start
                break
            time.sleep(0.1)
        self.assertIsNotNone(took, "latch did not reconnect within 5 s")
        self.assertTrue(srv.running())

    def test_database_that_never_answers(self):
        proxy = Proxy(self.cluster.port)
        url = "host=127.0.0.1 port=%d user=postgres dbname=latch" % proxy.port
        try:
            with latch_on(url, self.master_key) as srv:
                _, email, _ = srv.new_user()
                login = self.assertJson(srv.login(email, PASSWORD), 200)
                token = login["token"]
                self.assertEqual(srv.get("/readyz").json(), {"status": "ready"})
                proxy.blackhole = True
                self.check_down(srv, token, email, login["refresh_token"])
                proxy.blackhole = False
                self.check_back(srv, token)
        finally:
            proxy.close()

    def test_database_stopped_and_started_again(self):
        with latch_on(self.cluster.url, self.master_key) as srv:
            _, email, _ = srv.new_user()
            login = self.assertJson(srv.login(email, PASSWORD), 200)
            token = login["token"]
            stop = threading.Event()
            answers = []

            def load():
                while not stop.is_set():
                    try:
                        answers.append(srv.profile(token).status_code)
                    except Exception as e:     # a hang or a crash shows here
                        answers.append(repr(e))
            worker = threading.Thread(target=load)
            worker.start()
            try:
                time.sleep(0.3)
                self.cluster.stop_immediately()
                self.check_down(srv, token, email, login["refresh_token"])
                self.cluster.start()
                self.check_back(srv, token)
            finally:
                stop.set()
                worker.join()
                try:
                    self.cluster.start()
                except subprocess.CalledProcessError:
                    pass                       # already running
            self.assertTrue(set(answers) <= {200, 503}, set(answers))
            self.assertIn(503, answers)


class LockedTable(LatchTestCase):
    def test_locked_table_stalls_no_http_thread(self):
        import psycopg2
        with harness.LatchServer() as srv:
            _, _, token = srv.new_user()
            conn = psycopg2.connect(harness.backend.env_for(srv.data_dir)["LATCH_DATABASE_URL"])
            try:
                conn.cursor().execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                stuck = threading.Thread(target=lambda: srv.profile(token))
                stuck.start()
                time.sleep(0.2)
                worst = 0.0
                end = time.monotonic() + 4.0
                while time.monotonic() < end:
                    for path, headers in (("/healthz", {}), ("/verify", bearer(token))):
                        resp, took = timed(lambda: srv.get(path, headers=headers))
                        self.assertEqual(resp.status_code, 200, resp.text)
                        worst = max(worst, took)
                    time.sleep(0.05)
                self.assertLess(worst, 0.1, "an HTTP thread waited %.3f s" % worst)
            finally:
                conn.rollback()
                conn.close()
            stuck.join()


class InstanceKilled(LatchTestCase):
    def test_kill_one_of_three_under_registration_load(self):
        first = harness.LatchServer().start()
        others = [harness.LatchServer(data_dir=first.data_dir).start() for _ in range(2)]
        instances = [first] + others
        created, lock = [], threading.Lock()
        stop = threading.Event()

        def load(srv):
            while not stop.is_set():
                email = unique_email("load")
                try:
                    resp = srv.register(email, PASSWORD)
                except Exception:
                    continue                   # the killed instance's connections
                if resp.status_code == 201:
                    with lock:
                        created.append(email)
        threads = [threading.Thread(target=load, args=(srv,)) for srv in instances]
        try:
            for t in threads:
                t.start()
            time.sleep(1.0)
            others[0].proc.send_signal(signal.SIGKILL)
            others[0].proc.wait(10)
            before = len(created)
            time.sleep(1.5)
            stop.set()
            for t in threads:
                t.join()
            self.assertGreater(len(created), before, "the surviving instances stopped serving")
            stored = {row[0] for row in harness.store_query(first, "SELECT email FROM users")}
            missing = [e for e in created if e not in stored]
            self.assertEqual(missing, [], "acknowledged registrations lost")
            for srv in (first, others[1]):
                self.assertTrue(srv.running())
                self.assertEqual(srv.get("/readyz").status_code, 200)
        finally:
            stop.set()
            for srv in reversed(instances):
                if srv is others[0]:
                    srv.kill()
                else:
                    srv.close()
