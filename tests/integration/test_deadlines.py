"""Absolute deadlines for request heads and bodies (issue 9; kept by latch's
own HTTP layer since issue 14, src/http/server.c).

libmicrohttpd's idle timer restarted with every byte, so a head trickled one
line every 2 s was never closed and was finally served: 64 addresses with
256 connections each could hold every slot.  latch now closes a connection
that has not delivered a whole head LATCH_HEADER_TIMEOUT_S after its accept
or after the end of its previous response, and one whose body is not in
LATCH_BODY_TIMEOUT_S after its head; a request whose handler runs or waits
for a hashing worker has no deadline.  Both kinds of close are counted in
/metrics.

The module's server runs with both timeouts at 2 s (the idle timeout stays
at its 60 s default, so every close seen here is a deadline's).  Each HTTP
thread wakes at its next deadline: a close is expected between 2 s and
2 s + slack.
"""

import socket
import time

import harness
from harness import LatchTestCase, http_request_bytes

SERVER = None
TIMEOUT_S = 2
EARLY_S = TIMEOUT_S - 0.3            # closed before this: too early
LATE_S = TIMEOUT_S + 2.0             # still open after this: the deadline did not hold


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server(env={"LATCH_HEADER_TIMEOUT_S": str(TIMEOUT_S),
                                              "LATCH_BODY_TIMEOUT_S": str(TIMEOUT_S)})


def tearDownModule():
    harness.stop_module_server(SERVER)


def counters(server):
    """(header timeouts, body timeouts) from /metrics (0 when absent, so a
    missing counter fails the assertion on it, not the whole test early)."""
    m = harness.metrics(server)
    return (m.get("latch_http_header_timeouts_total", 0),
            m.get("latch_http_body_timeouts_total", 0))


class Trickle:
    """A connection that sends its chunks one every interval_s, and notices
    when the server closes it.  run() returns (seconds from start to the
    close or None, bytes received)."""

    def __init__(self, address, chunks, interval_s, then_wait_s=LATE_S):
        self.sock = socket.create_connection(address, timeout=5)
        self.chunks = list(chunks)
        self.interval_s = interval_s
        self.then_wait_s = then_wait_s
        self.received = b""

    def _closed_within(self, wait_s):
        """Reads for wait_s; True if the server closed (EOF or reset)."""
        deadline = time.monotonic() + wait_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionError:
                return True
            if not data:
                return True
            self.received += data

    def run(self, start=None):
        start = time.monotonic() if start is None else start
        try:
            for chunk in self.chunks:
                try:
                    self.sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - start, self.received
                if self._closed_within(self.interval_s):
                    return time.monotonic() - start, self.received
            if self._closed_within(self.then_wait_s):
                return time.monotonic() - start, self.received
            return None, self.received
        finally:
            self.sock.close()


class HeadDeadline(LatchTestCase):
    def setUp(self):
        harness.skip_if_valgrind("closes timed to a fraction of a second")

    def assertClosedAtDeadline(self, closed_at, received, what):
        self.assertIsNotNone(closed_at, "%s: still open %.1f s after it started (deadline %d s); "
                             "got %r" % (what, LATE_S, TIMEOUT_S, received[:200]))
        self.assertGreaterEqual(closed_at, EARLY_S, "%s: closed after only %.2f s"
                                % (what, closed_at))
        self.assertLess(closed_at, LATE_S, what)
        self.assertEqual(received, b"", "%s: answered: %r" % (what, received[:200]))

    def test_head_trickled_line_by_line_is_closed(self):
        """A header line every 0.25 s for 5 s, then the blank line: before,
        each line restarted the idle timer and the request was served."""
        before = counters(SERVER)
        lines = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
        lines += [b"X-Slow-%d: %d\r\n" % (i, i) for i in range(20)] + [b"\r\n"]
        closed_at, received = Trickle(SERVER.address, lines, 0.25).run()
        self.assertClosedAtDeadline(closed_at, received, "line-by-line head")
        self.assertGreaterEqual(counters(SERVER)[0], before[0] + 1)
        self.assertTrue(SERVER.healthy())

    def test_head_trickled_byte_by_byte_is_closed(self):
        data = http_request_bytes("GET", "/healthz", headers=[("X-Pad", "p" * 20)])
        closed_at, received = Trickle(SERVER.address, [data[i:i + 1] for i in range(len(data))],
                                      0.1).run()
        self.assertGreater(len(data) * 0.1, LATE_S, "the trickle must outlast the deadline")
        self.assertClosedAtDeadline(closed_at, received, "byte-by-byte head")

    def test_silent_connection_is_closed(self):
        before = counters(SERVER)
        closed_at, received = Trickle(SERVER.address, [], 0, then_wait_s=LATE_S).run()
        self.assertClosedAtDeadline(closed_at, received, "connection that sends nothing")
        self.assertGreaterEqual(counters(SERVER)[0], before[0] + 1)

    def test_keep_alive_gets_a_fresh_deadline_after_each_response(self):
        """Three requests 1.5 s apart on one connection: 3 s in all, more
        than the 2 s deadline, yet each is answered; the deadline runs from
        the end of the previous response, and closes the connection after
        the last one."""
        request = http_request_bytes("GET", "/healthz")
        with harness.RawConnection(SERVER.address) as conn:
            for i in range(3):
                if i > 0:
                    time.sleep(1.5)
                conn.send(request)
                self.assertEqual(conn.read_response().status, 200, "request %d" % (i + 1))
            answered = time.monotonic()
            self.assertTrue(conn.closed_by_peer(LATE_S), "keep-alive connection still open "
                            "%.1f s after its last response" % LATE_S)
            self.assertGreaterEqual(time.monotonic() - answered, EARLY_S)


class HeadDeadlineDefault(LatchTestCase):
    def test_header_deadline_defaults_to_the_idle_timeout(self):
        """Only LATCH_IDLE_TIMEOUT_S=2 set: a head trickled a line every
        0.25 s is closed about 2 s after the accept (before, the idle timer
        restarted with each line and the request was served)."""
        harness.skip_if_valgrind("closes timed to a fraction of a second")
        with harness.LatchServer(env={"LATCH_IDLE_TIMEOUT_S": str(TIMEOUT_S)}) as server:
            lines = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
            lines += [b"X-Slow-%d: %d\r\n" % (i, i) for i in range(20)] + [b"\r\n"]
            closed_at, received = Trickle(server.address, lines, 0.25).run()
            self.assertIsNotNone(closed_at, "still open; got %r" % received[:200])
            self.assertGreaterEqual(closed_at, EARLY_S)
            self.assertLess(closed_at, LATE_S)
            self.assertEqual(received, b"")
            self.assertEqual(counters(server)[0], 1)


class BodyDeadline(LatchTestCase):
    def setUp(self):
        harness.skip_if_valgrind("closes timed to a fraction of a second")

    def test_slow_body_is_closed(self):
        """A 40-byte body sent one byte every 0.25 s (10 s): closed about
        2 s after the head, never answered."""
        before = counters(SERVER)
        body = b'{"email":"slow@example.com","password":"x"}'[:40]
        head = http_request_bytes("POST", "/login", headers=[
            ("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        trickle = Trickle(SERVER.address, [body[i:i + 1] for i in range(len(body))], 0.25)
        trickle.sock.sendall(head)
        closed_at, received = trickle.run()
        self.assertIsNotNone(closed_at, "slow body: still open after the whole trickle; got %r"
                             % received[:200])
        self.assertGreaterEqual(closed_at, EARLY_S)
        self.assertLess(closed_at, LATE_S)
        self.assertEqual(received, b"", "slow body answered: %r" % received[:200])
        self.assertGreaterEqual(counters(SERVER)[1], before[1] + 1)
        self.assertTrue(SERVER.healthy())

    def test_slow_chunked_body_is_closed(self):
        head = http_request_bytes("POST", "/login", headers=[
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
        chunks = [b"1\r\n{\r\n"] + [b"1\r\n \r\n"] * 30 + [b"1\r\n}\r\n0\r\n\r\n"]
        trickle = Trickle(SERVER.address, chunks, 0.25)
        trickle.sock.sendall(head)
        closed_at, received = trickle.run()
        self.assertIsNotNone(closed_at, "slow chunked body: still open; got %r" % received[:200])
        self.assertLess(closed_at, LATE_S)
        self.assertEqual(received, b"")

    def test_body_in_time_is_answered(self):
        """A body that takes 1 s in all (under the 2 s deadline) is served."""
        body = b'{"email":"a@example.com"}'
        head = http_request_bytes("POST", "/login", headers=[
            ("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        with harness.RawConnection(SERVER.address) as conn:
            conn.send(head)
            for i in range(0, len(body), 5):
                time.sleep(0.2)
                conn.send(body[i:i + 5])
            resp = conn.read_response()
        self.assertRawError(resp, 400, "Bad Request")


class DeferredRequestHasNoDeadline(LatchTestCase):
    def test_slow_hashing_outlasts_the_deadlines(self):
        """Both deadlines at 1 s; a registration whose Argon2id hash takes
        longer than that waits suspended for the worker and still gets its
        201, on a connection that then serves another request."""
        harness.skip_if_valgrind("hash duration against 1 s deadlines")
        env = {"LATCH_HEADER_TIMEOUT_S": "1", "LATCH_BODY_TIMEOUT_S": "1",
               "LATCH_ARGON2_MEMORY_KIB": "98304", "LATCH_ARGON2_ITERATIONS": "64"}
        with harness.LatchServer(env=env) as server:
            body = ('{"email":"%s","password":"correct horse battery"}'
                    % harness.unique_email("deferred")).encode()
            request = http_request_bytes("POST", "/register", headers=[
                ("Content-Type", "application/json")], body=body)
            with harness.RawConnection(server.address, timeout=60) as conn:
                started = time.monotonic()
                conn.send(request)
                resp = conn.read_response()
                elapsed = time.monotonic() - started
                self.assertEqual(resp.status, 201, repr(resp))
                self.assertGreater(elapsed, 1.6, "hashing took only %.2f s: the test proves "
                                   "nothing; raise LATCH_ARGON2_ITERATIONS" % elapsed)
                conn.send(http_request_bytes("GET", "/healthz"))
                self.assertEqual(conn.read_response().status, 200)
            self.assertEqual(counters(server), (0, 0))
