"""An unknown email still pays one dummy Argon2id verify at the same
parameters, so it takes about as long as a wrong password (no enumeration).
64 MiB per hash makes hashing dominate the request time."""

import statistics
import time

import harness
from harness import BAD_LOGIN, LatchTestCase, unique_email

TRIES = 5


class LoginTiming(LatchTestCase):
    def test_unknown_email_costs_about_as_much_as_wrong_password(self):
        harness.skip_if_valgrind("timing assertion (dummy verify cost)")
        server = harness.LatchServer(env={"LATCH_ARGON2_MEMORY_KIB": "65536"})
        try:
            server.start()
            email = unique_email()
            self.assertJson(server.register(email, "correct horse battery"), 201)
            # Warm up both paths once (page faults of the first 64 MiB).
            server.login(email, "wrong password")
            server.login(unique_email("ghost"), "wrong password")
            wrong, unknown = [], []
            for _ in range(TRIES):
                start = time.monotonic()
                resp = server.login(email, "wrong password")
                wrong.append(time.monotonic() - start)
                self.assertJson(resp, 401, BAD_LOGIN)
                start = time.monotonic()
                resp = server.login(unique_email("ghost"), "wrong password")
                unknown.append(time.monotonic() - start)
                self.assertJson(resp, 401, BAD_LOGIN)
            wrong_median = statistics.median(wrong)
            unknown_median = statistics.median(unknown)
            self.assertGreaterEqual(
                unknown_median, 0.3 * wrong_median,
                "unknown email %.1f ms vs wrong password %.1f ms: no dummy verify?"
                % (unknown_median * 1000, wrong_median * 1000))
        finally:
            server.close()
