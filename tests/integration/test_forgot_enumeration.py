"""/password/forgot tells nobody which addresses have accounts (issue 11):
the same answer (status, headers that matter, body) and the same time for
known and unknown addresses.  The request path does no store I/O, so the
timing is that of answering; the background job runs after the answer.

LATCH_IP_RATE_PER_MIN=0 (the per-address limit off), 50 requests with known
and 50 with unknown addresses interleaved at random: their medians must lie
within 5 ms.  The unauthenticated /email/verify/request follows the same
rules and is measured the same way."""

import random
import statistics
import sys
import time

import harness

PASSWORD = "correct horse battery"
_srv = None
_known = []


def setUpModule():
    global _srv
    _srv = harness.LatchServer(env={"LATCH_IP_RATE_PER_MIN": "0"}).start()
    for _ in range(10):
        email = harness.unique_email("known")
        assert _srv.register(email, PASSWORD).status_code == 201
        _known.append(email)


def tearDownModule():
    if _srv is not None:
        _srv.close()


class Enumeration(harness.LatchTestCase):
    def measure(self, path):
        rng = random.Random(1234)
        order = ["known"] * 50 + ["unknown"] * 50
        rng.shuffle(order)
        times = {"known": [], "unknown": []}
        bodies = set()
        session = harness.requests.Session()
        url = _srv.url + path
        for i, kind in enumerate(order):
            email = (_known[i % len(_known)] if kind == "known"
                     else harness.unique_email("unknown"))
            t0 = time.perf_counter()
            resp = session.post(url, json={"email": email})
            times[kind].append(time.perf_counter() - t0)
            self.assertEqual(resp.status_code, 202, resp.text)
            bodies.add((resp.content, resp.headers.get("Content-Type"),
                        resp.headers.get("Content-Length")))
        self.assertEqual(len(bodies), 1, "answers differ: %r" % bodies)
        known = statistics.median(times["known"]) * 1000
        unknown = statistics.median(times["unknown"]) * 1000
        print("\n%s medians: known %.3f ms, unknown %.3f ms (difference %.3f ms)"
              % (path, known, unknown, abs(known - unknown)), file=sys.stderr)
        self.assertLess(abs(known - unknown), 5.0 * harness.TIME_SCALE)

    def test_forgot_password_answers_alike_and_in_the_same_time(self):
        self.measure("/password/forgot")

    def test_unauthenticated_verify_request_answers_alike(self):
        self.measure("/email/verify/request")
