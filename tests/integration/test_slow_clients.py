"""Hostile load (issue 5): slow and idle clients do not starve honest ones.

SlowClients runs one scenario (in setUpClass) and its tests check its parts:
latch starts with LATCH_MAX_CONN_PER_IP=100; attackers from 127.0.0.2 and up
open 500 connections that send a partial request and stall (100 from each of
5 addresses) and 500 keep-alive connections that complete one request and
then idle (100 from each of 5 more addresses); one more attacker address
opens 150 connections, of which the per-address limit must refuse (close) the
excess 50.  While every attacker connection is held, an honest client on
127.0.0.1 does GET /profile with a valid token (new connections and a
keep-alive one): all answered 200, p99 under 100 ms (skipped with a SKIP line
when LATCH_VALGRIND=1).  After the attackers close, the server's open file
descriptors return to the baseline measured before the attack.

IdleTimeout: with LATCH_IDLE_TIMEOUT_S=2 the server closes a stalled
connection (partial request) and an idle keep-alive one within 2-5 s.
"""

import os
import resource
import select
import socket
import sys
import threading
import time

import harness
from harness import LatchTestCase, http_request_bytes

PER_IP = 100
PARTIAL_ADDRS = ["127.0.0.%d" % i for i in range(2, 7)]     # 5 x 100 partial requests
IDLE_ADDRS = ["127.0.0.%d" % i for i in range(7, 12)]       # 5 x 100 idle keep-alives
EXCESS_ADDR = "127.0.0.12"                                  # 150 against a limit of 100
EXCESS_TRIES = 150
HONEST_NEW_CONN = 200
HONEST_KEEP_ALIVE = 100
P99_LIMIT_S = 0.100
FD_TOLERANCE = 2
FD_SETTLE_S = 5.0
UNDER_VALGRIND = os.environ.get("LATCH_VALGRIND") == "1"

PARTIAL_REQUEST = b"GET /profile HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bear"
IDLE_REQUEST = http_request_bytes("GET", "/healthz")


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_links(pid):
    links = {}
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            links[int(name)] = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            pass
    return links


def connect_from(source_ip, address, timeout=5.0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source_ip, 0))
    sock.connect(address)
    return sock


def closed_by_server(sock):
    """True if the server has closed sock (EOF or reset); does not block."""
    if sock.fileno() < 0:
        return True
    poller = select.poll()        # not select(): attacker fds go past FD_SETSIZE
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    if not poller.poll(0):
        return False
    try:
        sock.setblocking(False)
        data = sock.recv(65536, socket.MSG_PEEK)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def wait_closed(socks, timeout):
    """Waits until every sock in socks is closed by the server or the timeout;
    returns the ones still open."""
    deadline = time.monotonic() + timeout
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if not closed_by_server(s)]
        if pending:
            time.sleep(0.05)
    return pending


def read_response(sock, timeout=5.0):
    """Reads one response with a Content-Length from sock; returns status."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before a response")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed inside a response body")
        body += chunk
    if len(body) != length:
        raise AssertionError("more bytes than one response: %r" % buf[:300])
    return int(head.split(b" ", 2)[1])


def percentile(samples, p):
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


class Honest:
    """GET /profile from 127.0.0.1 with a valid token; records (latency, status)."""

    def __init__(self, server, token):
        self.address = server.address
        self.request = http_request_bytes("GET", "/profile",
                                          headers=[("Authorization", "Bearer " + token)])
        self.samples = []
        self.errors = []

    def one_new_connection(self):
        started = time.monotonic()
        try:
            sock = connect_from("127.0.0.1", self.address)
            try:
                sock.sendall(self.request)
                status = read_response(sock)
            finally:
                sock.close()
        except (OSError, EOFError, AssertionError) as e:
            self.errors.append(repr(e))
            return
        self.samples.append((time.monotonic() - started, status))

    def keep_alive(self, n):
        sock = connect_from("127.0.0.1", self.address)
        try:
            for _ in range(n):
                started = time.monotonic()
                try:
                    sock.sendall(self.request)
                    status = read_response(sock)
                except (OSError, EOFError, AssertionError) as e:
                    self.errors.append("keep-alive: %r" % e)
                    return
                self.samples.append((time.monotonic() - started, status))
        finally:
            sock.close()


class SlowClients(LatchTestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        n_attack = (len(PARTIAL_ADDRS) + len(IDLE_ADDRS)) * PER_IP + EXCESS_TRIES
        cls.fd_limit = raise_fd_limit(n_attack + 1024)
        cls.server = harness.LatchServer(env={"LATCH_MAX_CONN_PER_IP": str(PER_IP)})
        try:
            cls.server.start()
            cls._run_scenario()
        except BaseException:
            cls._close_all()
            cls.server.close(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        cls._close_all()
        if cls.server is not None:
            cls.server.close()      # SIGTERM: exit 0, no sanitizer report

    @classmethod
    def _close_all(cls):
        for sock in getattr(cls, "attackers", []) + getattr(cls, "excess", []):
            try:
                sock.close()
            except OSError:
                pass

    @classmethod
    def _run_scenario(cls):
        server = cls.server
        pid = server.proc.pid
        cls.attackers = []
        cls.excess = []
        # Warm up every path the honest client and the attackers use, on
        # every server thread, so that lazily opened descriptors (a database
        # connection per thread, ...) are in the baseline.  Bursts of held
        # connections spread the accepts over all of the HTTP threads.
        _, email, token = server.new_user(prefix="honest")
        warm = Honest(server, token)
        for _ in range(3):
            # 40: with the previous burst perhaps not yet seen closed, still
            # under the per-address limit.
            burst = [connect_from("127.0.0.1", server.address) for _ in range(40)]
            for i, sock in enumerate(burst):
                sock.sendall(IDLE_REQUEST if i % 2 else warm.request)
            for sock in burst:
                read_response(sock)
                sock.close()
            time.sleep(0.3)
        for _ in range(20):
            warm.one_new_connection()
        warm.keep_alive(5)
        server.login(email)
        # A background task opens its database connection a second or so
        # after the first requests: the baseline is the highest count seen
        # over 2 s once things have settled.
        time.sleep(1.5)
        samples = []
        for _ in range(10):
            samples.append(open_fds(pid))
            time.sleep(0.2)
        cls.fd_baseline = max(samples)
        cls.fd_links_before = fd_links(pid)

        # Ramp-up: the attackers connect while an honest thread keeps asking.
        cls.ramp = Honest(server, token)
        ramp_done = threading.Event()

        def ramp_loop():
            while not ramp_done.is_set():
                cls.ramp.one_new_connection()
                time.sleep(0.005)

        ramp_thread = threading.Thread(target=ramp_loop, daemon=True)
        ramp_thread.start()
        try:
            for ip in PARTIAL_ADDRS:
                for _ in range(PER_IP):
                    sock = connect_from(ip, server.address)
                    sock.sendall(PARTIAL_REQUEST)
                    cls.attackers.append(sock)
            idle = []
            for ip in IDLE_ADDRS:
                for _ in range(PER_IP):
                    sock = connect_from(ip, server.address)
                    sock.sendall(IDLE_REQUEST)
                    idle.append(sock)
            cls.idle_statuses = []
            for sock in idle:
                try:
                    cls.idle_statuses.append(read_response(sock))
                except (OSError, EOFError) as e:
                    cls.idle_statuses.append(repr(e))
            cls.attackers.extend(idle)
            # One address over its limit: the excess must be refused.
            for _ in range(EXCESS_TRIES):
                try:
                    sock = connect_from(EXCESS_ADDR, server.address)
                    sock.sendall(PARTIAL_REQUEST)
                except OSError:
                    cls.excess.append(None)      # refused at connect or send
                    continue
                cls.excess.append(sock)
        finally:
            ramp_done.set()
            ramp_thread.join(10)
        time.sleep(1.0)      # let the server accept (and refuse) everything
        live_excess = [s for s in cls.excess if s is not None]
        cls.excess_open = len([s for s in live_excess if not closed_by_server(s)])
        cls.excess_refused = EXCESS_TRIES - cls.excess_open
        # A 101st connection from an address already at its limit.
        extra = connect_from(PARTIAL_ADDRS[0], server.address)
        extra.sendall(PARTIAL_REQUEST)
        cls.extra_open = wait_closed([extra], 2.0) != []
        extra.close()
        cls.fd_under_attack = open_fds(pid)

        # Every attacker connection is held: the honest client's turn.
        cls.honest = Honest(server, token)
        for _ in range(HONEST_NEW_CONN):
            cls.honest.one_new_connection()
        cls.honest.keep_alive(HONEST_KEEP_ALIVE)
        cls.attackers_still_open = len([s for s in cls.attackers if not closed_by_server(s)])
        cls.healthy_under_attack = server.healthy()

        # The attack ends.
        cls._close_all()
        deadline = time.monotonic() + FD_SETTLE_S
        while True:
            cls.fd_after = open_fds(pid)
            if cls.fd_after <= cls.fd_baseline + FD_TOLERANCE or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        cls.healthy_after = server.healthy()
        cls.fd_links_after = fd_links(pid)
        if os.environ.get("LATCH_SLOW_VERBOSE") == "1":
            lat = [l for l, _ in cls.honest.samples]
            sys.stderr.write(
                "slow clients: fds baseline %d, under attack %d, after %d; excess %s: %d open, "
                "%d refused; attackers still open %d/%d; honest n=%d p50 %.1f ms p99 %.1f ms "
                "max %.1f ms; ramp n=%d\n"
                % (cls.fd_baseline, cls.fd_under_attack, cls.fd_after, EXCESS_ADDR,
                   cls.excess_open, cls.excess_refused, cls.attackers_still_open,
                   len(cls.attackers), len(lat), percentile(lat, 50) * 1000,
                   percentile(lat, 99) * 1000, max(lat) * 1000, len(cls.ramp.samples)))
            sys.stderr.write("  fds new since the baseline: %r\n"
                             % sorted(set(cls.fd_links_after.items())
                                      - set(cls.fd_links_before.items())))

    # -- checks ------------------------------------------------------------------

    def test_attack_was_held(self):
        """The 1000 attacker connections were open while the honest client ran
        (else the rest proves nothing)."""
        self.assertEqual(self.idle_statuses, [200] * len(IDLE_ADDRS) * PER_IP,
                         "the idle connections' one request each")
        self.assertGreaterEqual(self.attackers_still_open, len(self.attackers) - 5,
                                "attacker connections the server closed during the honest "
                                "phase: %d of %d" % (len(self.attackers) - self.attackers_still_open,
                                                     len(self.attackers)))
        self.assertGreaterEqual(self.fd_under_attack, self.fd_baseline + 1000,
                                "server fds: baseline %d, under attack %d"
                                % (self.fd_baseline, self.fd_under_attack))

    def test_honest_client_always_served(self):
        for name, run in (("ramp-up", self.ramp), ("under attack", self.honest)):
            self.assertFalse(run.errors, "%s: honest requests failed: %r" % (name, run.errors[:5]))
            statuses = sorted(set(status for _, status in run.samples))
            self.assertEqual(statuses, [200], "%s: statuses %r" % (name, statuses))
        self.assertEqual(len(self.honest.samples), HONEST_NEW_CONN + HONEST_KEEP_ALIVE)
        self.assertTrue(self.healthy_under_attack)
        self.assertTrue(self.healthy_after)

    def test_honest_p99_under_100ms(self):
        if UNDER_VALGRIND:
            self.skipTest("LATCH_VALGRIND=1: timing not asserted")
        latencies = [lat for lat, _ in self.honest.samples]
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        self.assertLess(p99, P99_LIMIT_S, "honest /profile under attack: p50 %.1f ms, p99 %.1f "
                        "ms, max %.1f ms over %d requests"
                        % (p50 * 1000, p99 * 1000, max(latencies) * 1000, len(latencies)))

    def test_per_ip_limit_refuses_excess(self):
        self.assertLessEqual(self.excess_open, PER_IP,
                             "%s opened %d connections and %d stay open (limit %d)"
                             % (EXCESS_ADDR, EXCESS_TRIES, self.excess_open, PER_IP))
        self.assertGreaterEqual(self.excess_refused, EXCESS_TRIES - PER_IP)
        self.assertGreaterEqual(self.excess_open, PER_IP - 5,
                                "the limit refused connections below it: %d open of %d"
                                % (self.excess_open, EXCESS_TRIES))
        self.assertFalse(self.extra_open, "a 101st connection from %s stayed open"
                         % PARTIAL_ADDRS[0])

    def test_fds_return_to_baseline(self):
        self.assertLessEqual(self.fd_after, self.fd_baseline + FD_TOLERANCE,
                             "server fds: baseline %d, under attack %d, %.0f s after the "
                             "attackers closed %d" % (self.fd_baseline, self.fd_under_attack,
                                                      FD_SETTLE_S, self.fd_after)
                             + "; new: %r" % sorted(set(self.fd_links_after.items())
                                                    - set(self.fd_links_before.items())))


class IdleTimeout(LatchTestCase):
    IDLE_S = 2

    def test_stalled_and_idle_connections_are_closed(self):
        with harness.LatchServer(env={"LATCH_IDLE_TIMEOUT_S": str(self.IDLE_S)}) as server:
            baseline = open_fds(server.proc.pid)
            started = time.monotonic()
            stalled = connect_from("127.0.0.2", server.address)
            stalled.sendall(PARTIAL_REQUEST)
            silent = connect_from("127.0.0.2", server.address)      # sends nothing
            idle = connect_from("127.0.0.3", server.address)
            idle.sendall(IDLE_REQUEST)
            self.assertEqual(read_response(idle), 200)
            socks = {"stalled": stalled, "silent": silent, "idle keep-alive": idle}
            try:
                # Not before the timeout ...
                time.sleep(self.IDLE_S - 0.8)
                early = [name for name, s in socks.items() if closed_by_server(s)]
                self.assertEqual(early, [], "closed before %d s" % self.IDLE_S)
                # ... and by 5 s.
                still_open = wait_closed(socks.values(), 5.0 - (time.monotonic() - started))
                elapsed = time.monotonic() - started
                self.assertEqual([n for n, s in socks.items() if s in still_open], [],
                                 "still open %.1f s after connecting (idle timeout %d s)"
                                 % (elapsed, self.IDLE_S))
            finally:
                for sock in socks.values():
                    sock.close()
            self.assertTrue(server.healthy())
            deadline = time.monotonic() + FD_SETTLE_S
            while open_fds(server.proc.pid) > baseline + FD_TOLERANCE \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertLessEqual(open_fds(server.proc.pid), baseline + FD_TOLERANCE)
