"""Garbage bytes and truncated requests do not crash the server: it keeps
answering and still shuts down with exit code 0."""

import random
import socket
import time

import harness
from harness import LatchTestCase, RawConnection, http_request_bytes

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def send_and_close(data, read=True, wait_s=1.0):
    """Sends data, optionally reads whatever comes back, closes."""
    sock = socket.create_connection(SERVER.address, timeout=wait_s)
    try:
        try:
            sock.sendall(data)
        except OSError:
            return b""
        received = b""
        if read:
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except OSError:
                pass
        return received
    finally:
        sock.close()


class Garbage(LatchTestCase):
    def tearDown(self):
        # After every case the server is still alive and answering.
        self.assertTrue(SERVER.running(), "latch exited:\n%s" % SERVER.log_tail())
        self.assertTrue(SERVER.healthy())

    def test_random_bytes(self):
        rng = random.Random(20240601)
        for size in (1, 16, 512, 4096, 65536):
            send_and_close(bytes(rng.getrandbits(8) for _ in range(size)), wait_s=0.5)

    def test_random_bytes_after_request_line(self):
        rng = random.Random(7)
        send_and_close(b"GET /healthz HTTP/1.1\r\n" + bytes(rng.getrandbits(8) for _ in range(2048)),
                       wait_s=0.5)

    def test_half_request_line_then_close(self):
        send_and_close(b"GET /heal", read=False)

    def test_request_line_without_headers_end_then_close(self):
        send_and_close(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", read=False)

    def test_post_content_length_100_with_10_bytes_then_close(self):
        send_and_close(http_request_bytes("POST", "/register", headers=[
            ("Content-Type", "application/json"), ("Content-Length", "100")]) + b'{"email":"',
            read=False)

    def test_chunked_body_cut_short(self):
        send_and_close(http_request_bytes("POST", "/login", headers=[
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            + b"ff\r\n{\"email\"", read=False)

    def test_bad_chunk_size(self):
        send_and_close(http_request_bytes("POST", "/login", headers=[
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            + b"zz\r\nhello\r\n0\r\n\r\n", wait_s=0.5)

    def test_nul_bytes_in_request_line(self):
        send_and_close(b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n", wait_s=0.5)

    def test_header_without_colon(self):
        send_and_close(b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", wait_s=0.5)

    def test_negative_content_length(self):
        send_and_close(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: -1\r\n\r\n{}", wait_s=0.5)

    def test_huge_content_length(self):
        send_and_close(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 99999999999999999999\r\n\r\n{}", wait_s=0.5)

    def test_very_long_request_line(self):
        send_and_close(b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", wait_s=0.5)

    def test_many_headers(self):
        headers = b"".join(b"X-H%d: v\r\n" % i for i in range(500))
        send_and_close(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n", wait_s=0.5)

    def test_unknown_method(self):
        send_and_close(b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", wait_s=0.5)

    def test_http2_preface(self):
        send_and_close(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", wait_s=0.5)

    def test_tls_client_hello(self):
        send_and_close(bytes.fromhex("16030100a5010000a10303") + b"\x00" * 200, wait_s=0.5)

    def test_many_connections_opened_and_dropped(self):
        for _ in range(50):
            socket.create_connection(SERVER.address, timeout=2).close()

    def test_bad_json_bodies(self):
        for body in (b"{" * 1000, b"[" * 5000, b'{"email":"\\ud800","password":"12345678"}',
                     b'{"email":"a@b.co","password":"12345678"' + b" " * 100,
                     b"\xff\xfe\xfd", b'{"email":1e999999,"password":"x"}'):
            with self.subTest(body=body[:40]):
                resp = SERVER.post("/register", data=body,
                                   headers={"Content-Type": "application/json"})
                self.assertBadRequest(resp)

    def test_response_to_well_formed_request_after_garbage_on_same_connection(self):
        # A request after an answered one still works (no state leaks).
        with RawConnection(SERVER.address) as conn:
            conn.send(http_request_bytes("GET", "/nope"))
            self.assertEqual(conn.read_response().status, 404)
            conn.send(http_request_bytes("GET", "/healthz"))
            self.assertEqual(conn.read_response().status, 200)


class SurvivesAndStops(LatchTestCase):
    """Each kind of bad input on a fresh server, then SIGTERM: exit 0."""

    def check_then_stop(self, send):
        server = harness.LatchServer()
        try:
            server.start()
            send(server.address)
            time.sleep(0.2)
            self.assertTrue(server.healthy())
            self.assertEqual(server.stop(), 0)
        finally:
            server.close(check=False)

    def test_random_garbage_then_graceful_stop(self):
        def send(address):
            rng = random.Random(99)
            for _ in range(10):
                sock = socket.create_connection(address, timeout=1)
                try:
                    sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000))))
                except OSError:
                    pass
                sock.close()
        self.check_then_stop(send)

    def test_half_request_line_then_graceful_stop(self):
        def send(address):
            sock = socket.create_connection(address, timeout=1)
            sock.sendall(b"GET /heal")
            sock.close()
        self.check_then_stop(send)

    def test_truncated_body_then_graceful_stop(self):
        # Content-Length 100, 10 bytes sent, then the client closes at once.
        def send(address):
            sock = socket.create_connection(address, timeout=1)
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n0123456789")
            sock.close()
        self.check_then_stop(send)
