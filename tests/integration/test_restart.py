"""Restarts keep users and issued tokens (the generated secret is kept, mode
0600); SIGTERM and SIGINT shut down gracefully, finishing in-flight work."""

import os
import stat
import threading
import time
import signal

import requests

import harness
from harness import EMAIL_TAKEN, LatchTestCase, RawConnection, http_request_bytes

PASSWORD = "correct horse battery"


class Restart(LatchTestCase):
    def test_users_and_tokens_survive_restart(self):
        server = harness.LatchServer()
        try:
            server.start()
            user, email, token = server.new_user(PASSWORD)
            secret_before = server.secret()
            old_port = server.port
            server.restart()
            self.assertEqual(server.secret(), secret_before, "signing secret changed on restart")
            server.assert_keys_at_rest_protected(self)
            # The token issued before the restart still works.
            self.assertProfileOk(server.profile(token), user)
            # The user is still there: login works and the email is taken.
            self.assertJson(server.login(email, PASSWORD), 200)
            self.assertJson(server.register(email, PASSWORD), 409, EMAIL_TAKEN)
            self.assertIsNotNone(old_port)
        finally:
            server.close()

    def test_two_restarts_keep_secret(self):
        server = harness.LatchServer()
        try:
            server.start()
            first = server.secret()
            server.restart()
            server.restart()
            self.assertEqual(server.secret(), first)
        finally:
            server.close()


class Shutdown(LatchTestCase):
    def test_sigint_exits_0(self):
        server = harness.LatchServer()
        try:
            server.start()
            self.assertTrue(server.healthy())
            self.assertEqual(server.stop(sig=signal.SIGINT), 0)
        finally:
            server.close()

    def test_sigterm_with_idle_keepalive_connection(self):
        server = harness.LatchServer()
        try:
            server.start()
            conn = RawConnection(server.address)
            try:
                conn.send(http_request_bytes("GET", "/healthz"))
                self.assertEqual(conn.read_response().status, 200)
                self.assertEqual(server.stop(), 0)
            finally:
                conn.close()
        finally:
            server.close()

    def test_sigterm_with_half_sent_request(self):
        server = harness.LatchServer()
        try:
            server.start()
            conn = RawConnection(server.address)
            try:
                conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                time.sleep(0.1)
                self.assertEqual(server.stop(), 0)
            finally:
                conn.close()
        finally:
            server.close()

    def test_sigterm_finishes_in_flight_login(self):
        server = harness.LatchServer(env={"LATCH_ARGON2_MEMORY_KIB": "65536",
                                          "LATCH_ARGON2_ITERATIONS": "3",
                                          "LATCH_HASH_WORKERS": "1"})
        try:
            server.start()
            _, email, _ = server.new_user(PASSWORD)
            results = []

            def login():
                try:
                    results.append(server.login(email, PASSWORD, timeout=30))
                except Exception as e:
                    results.append(e)

            threads = [threading.Thread(target=login) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.1)            # both requests are in; the pool is busy
            self.assertEqual(server.stop(), 0)
            for t in threads:
                t.join(30)
            for r in results:
                self.assertIsInstance(r, requests.Response,
                                      "in-flight login got no answer: %r" % (r,))
                self.assertJson(r, 200)
        finally:
            server.close()
