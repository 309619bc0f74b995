"""JOSE header attacks: an unknown `kid`, and `jku` / `x5u` / `jwk` headers,
which latch never uses and never fetches (a listener on the URL proves it)."""

import os
import socket
import threading
import time

import harness
from harness import LatchTestCase, b64url, claims_for, mint

SERVER = None
USER = None


def setUpModule():
    global SERVER, USER
    SERVER = harness.start_module_server()
    USER, _, _ = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


class Listener:
    """Accepts on a random loopback port and records every connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(peer)
            conn.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


ATTACKER_KEY = os.urandom(32)


class Kid(LatchTestCase):
    def test_unknown_kid_right_secret(self):
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": "HS256", "typ": "JWT", "kid": "no-such-key"})
        self.assertInvalidToken(SERVER.profile(token))

    def test_kid_path_traversal(self):
        token = mint(claims_for(USER["id"]), b"",
                     header={"alg": "HS256", "typ": "JWT", "kid": "../../../../dev/null"})
        self.assertInvalidToken(SERVER.profile(token))

    def test_kid_sql_injection(self):
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": "HS256", "typ": "JWT", "kid": "x' OR '1'='1"})
        self.assertInvalidToken(SERVER.profile(token))


class RemoteKeys(LatchTestCase):
    def check_not_fetched(self, header_field, value_for):
        with Listener() as listener:
            header = {"alg": "HS256", "typ": "JWT", header_field: value_for(listener)}
            token = mint(claims_for(USER["id"]), ATTACKER_KEY, header=header)
            self.assertInvalidToken(SERVER.profile(token))
            time.sleep(0.5)          # a fetch after the answer still counts
            self.assertEqual(listener.connections, [],
                             "latch connected to the %s URL" % header_field)

    def test_jku_never_fetched(self):
        self.check_not_fetched("jku", lambda l: l.url("/.well-known/jwks.json"))

    def test_x5u_never_fetched(self):
        self.check_not_fetched("x5u", lambda l: l.url("/cert.pem"))

    def test_jku_with_kid_never_fetched(self):
        with Listener() as listener:
            header = {"alg": "HS256", "typ": "JWT", "kid": "attacker",
                      "jku": listener.url("/jwks.json")}
            token = mint(claims_for(USER["id"]), ATTACKER_KEY, header=header)
            self.assertInvalidToken(SERVER.profile(token))
            time.sleep(0.5)
            self.assertEqual(listener.connections, [])

    def test_embedded_jwk_not_used(self):
        jwk = {"kty": "oct", "k": b64url(ATTACKER_KEY), "alg": "HS256"}
        token = mint(claims_for(USER["id"]), ATTACKER_KEY,
                     header={"alg": "HS256", "typ": "JWT", "jwk": jwk})
        self.assertInvalidToken(SERVER.profile(token))

    def test_embedded_jwk_with_remote_url_never_fetched(self):
        with Listener() as listener:
            jwk = {"kty": "oct", "k": b64url(ATTACKER_KEY), "x5u": listener.url("/k")}
            token = mint(claims_for(USER["id"]), ATTACKER_KEY,
                         header={"alg": "HS256", "typ": "JWT", "jwk": jwk,
                                 "x5u": listener.url("/x")})
            self.assertInvalidToken(SERVER.profile(token))
            time.sleep(0.5)
            self.assertEqual(listener.connections, [])
