"""Argon2id runs on a bounded worker pool, never on an HTTP thread: token
checks stay fast while logins queue up, and a full queue answers 503."""

import email.utils
import re
import threading
import time

import requests

import harness
from harness import LatchTestCase, unique_email

SLOW_HASH = {"LATCH_HASH_WORKERS": "1", "LATCH_ARGON2_MEMORY_KIB": "65536",
             "LATCH_ARGON2_ITERATIONS": "3"}
PASSWORD = "correct horse battery"


def valid_retry_after(value):
    """delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    value = value.strip()
    if re.match(r"\A\d+\Z", value):
        return True
    try:
        return email.utils.parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


def concurrent_logins(server, email, count, results, start_barrier=None):
    def worker(i):
        try:
            if start_barrier is not None:
                start_barrier.wait(10)
            results[i] = server.login(email, PASSWORD, timeout=60)
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads


class HashPool(LatchTestCase):
    def test_profile_prompt_while_logins_in_flight(self):
        harness.skip_if_valgrind("timing assertion (/profile under 100 ms)")
        server = harness.LatchServer(env=SLOW_HASH)
        try:
            server.start()
            user, email, token = server.new_user(PASSWORD)
            # One login alone, to know how long the pool stays busy.
            start = time.monotonic()
            self.assertJson(server.login(email, PASSWORD), 200)
            one_login_s = time.monotonic() - start

            results = [None] * 6
            threads = concurrent_logins(server, email, 6, results)
            time.sleep(min(0.05, one_login_s / 4))
            timings = []
            with requests.Session() as session:
                while any(t.is_alive() for t in threads) and len(timings) < 200:
                    start = time.monotonic()
                    resp = server.profile(token, session=session)
                    timings.append(time.monotonic() - start)
                    self.assertProfileOk(resp, user)
                    time.sleep(0.02)
            for t in threads:
                t.join(60)
            for r in results:
                self.assertIsInstance(r, requests.Response, "login failed: %r" % (r,))
                self.assertIn(r.status_code, (200, 503), r.text)
            self.assertGreaterEqual(len(timings), 5,
                                    "logins finished too fast to measure (one login %.0f ms)"
                                    % (one_login_s * 1000))
            worst = max(timings)
            self.assertLess(worst, 0.100,
                            "GET /profile took %.0f ms while logins hashed (median %.1f ms, "
                            "%d samples, one login %.0f ms)"
                            % (worst * 1000, sorted(timings)[len(timings) // 2] * 1000,
                               len(timings), one_login_s * 1000))
        finally:
            server.close()

    def test_full_queue_answers_503_with_retry_after(self):
        env = dict(SLOW_HASH, LATCH_HASH_QUEUE="1")
        server = harness.LatchServer(env=env)
        try:
            server.start()
            email = unique_email()
            self.assertJson(server.register(email, PASSWORD), 201)
            count = 10
            results = [None] * count
            barrier = threading.Barrier(count)
            threads = concurrent_logins(server, email, count, results, barrier)
            for t in threads:
                t.join(120)
            for r in results:
                self.assertIsInstance(r, requests.Response, "login failed: %r" % (r,))
            statuses = sorted(r.status_code for r in results)
            self.assertTrue(set(statuses) <= {200, 503}, "statuses %s" % statuses)
            self.assertIn(503, statuses, "no 503 with 1 worker and a queue of 1: %s" % statuses)
            self.assertIn(200, statuses, "statuses %s" % statuses)
            for r in results:
                if r.status_code != 503:
                    continue
                self.assertError(r, 503, "Service Unavailable")
                retry_after = r.headers.get("Retry-After")
                self.assertIsNotNone(retry_after, "503 without Retry-After")
                self.assertTrue(valid_retry_after(retry_after), "Retry-After %r" % retry_after)
            # The pool recovers once the queue drains.
            self.assertJson(server.login(email, PASSWORD), 200)
        finally:
            server.close()
