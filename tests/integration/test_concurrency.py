"""Concurrent registrations of one email: exactly one 201, the rest 409."""

import threading

import requests

import harness
from harness import EMAIL_TAKEN, LatchTestCase, unique_email

SERVER = None
THREADS = 10


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def race(emails):
    barrier = threading.Barrier(len(emails))
    results = [None] * len(emails)

    def worker(i):
        try:
            barrier.wait(10)
            results[i] = SERVER.register(emails[i], "correct horse battery", timeout=30)
        except Exception as e:       # reported by the test, not lost in a thread
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(emails))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class ConcurrentRegistration(LatchTestCase):
    def check_one_winner(self, emails):
        results = race(emails)
        for r in results:
            self.assertIsInstance(r, requests.Response, "request failed: %r" % (r,))
        statuses = sorted(r.status_code for r in results)
        self.assertEqual(statuses.count(201), 1, "statuses %s" % statuses)
        self.assertEqual(statuses.count(409), len(emails) - 1, "statuses %s" % statuses)
        for r in results:
            if r.status_code == 409:
                self.assertJson(r, 409, EMAIL_TAKEN)
            else:
                self.assertJson(r, 201)
        return [r for r in results if r.status_code == 201][0].json()

    def test_same_email_exactly_one_201(self):
        email = unique_email("race")
        winner = self.check_one_winner([email] * THREADS)
        self.assertEqual(winner["email"], email)
        self.assertJson(SERVER.login(email, "correct horse battery"), 200)

    def test_normalised_variants_exactly_one_201(self):
        email = unique_email("race")
        variants = [email, email.upper(), " " + email, email + "  ", email.title()]
        winner = self.check_one_winner([variants[i % len(variants)] for i in range(THREADS)])
        self.assertEqual(winner["email"], email)

    def test_different_emails_all_201(self):
        results = race([unique_email("par") for _ in range(THREADS)])
        for r in results:
            self.assertIsInstance(r, requests.Response, "request failed: %r" % (r,))
            self.assertJson(r, 201)
        self.assertEqual(len({r.json()["id"] for r in results}), THREADS)
