"""No secret the suite used appears in any log latch wrote (issue 12).

run.py runs test modules in name order, so this one comes last and sees
what the whole suite recorded (harness.SECRETS, harness.collected_logs()):
every password sent in a login, register, password-change or `user add`,
every access token, refresh token and session cookie sent or received,
every JWT secret, metrics token and key (keys.json material, refresh-key,
PEM key files) of every server, against the stdout and stderr of every
`latch serve` and every CLI run - servers in text and JSON format, at info
and at debug level (test_logs runs those).

Run alone (T=test_zz) it has nothing to scan and skips.
"""

import os
import unittest

import harness


class NoSecretsInLogs(harness.LatchTestCase):

    def test_scanner_finds_a_planted_secret(self):
        """The scan itself: a token, a PEM line and a password are found,
        whole or cut, in JSON and text lines; nothing else is reported."""
        token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWhlcmUtaXMtbG9uZw"
        refresh = "eM-q7fMfU_ntflfGJqSUk0FaqTQRLVNY5XtoldZkDgg"
        pem = "MC4CAQAwBQYDK2VwBCIEIHw8q9ZpFOn0m2bXH1j1Xg2a+Vt1Zk4H0qfGw8x7W3m2"
        password = "correct horse battery staple"
        # A low-entropy value ("A" * 43, as tests send to probe limits) is not
        # looked for as a token: request ids and paths may well repeat it.
        secrets = {("token", token), ("refresh", refresh), ("key", pem),
                   ("password", password), ("probe", "A" * 43),
                   ("crafted", "eyJhbGciOiJFUzI1NiJ9.e30." + "A" * 40 + "D7-3D-ED_6P8YxfOphPLO")}
        clean = [("a", '{"msg":"http.request","path":"/login","request_id":"%s"}' % ("A" * 64)),
                 ("b", "latch: login.failure reason=wrong_password email=a@example.com")]
        self.assertEqual(harness.find_leaks(clean, secrets), [])
        for text in ('{"msg":"x","auth":"Bearer %s"}' % token,
                     "latch: x token=%s" % refresh[:20],
                     '{"k":"%s"}' % pem,
                     "latch: x body=\"{\\\"password\\\":\\\"%s\\\"}\"" % password):
            leaks = harness.find_leaks([("planted", text)], secrets)
            self.assertEqual(len(leaks), 1, text)
            self.assertEqual(leaks[0][2], "planted")
            self.assertEqual(leaks[0][3], text)

    def test_no_secret_in_any_log(self):
        logs = harness.collected_logs()
        if not logs:
            raise unittest.SkipTest("no latch ran before this module (run the whole suite)")
        leaks = harness.find_leaks(logs, harness.SECRETS)
        self.assertEqual(leaks, [], "secrets found in logs:\n%s" % "\n".join(
            "  %s %s... in %s: %s" % (kind, value[:12], where, line)
            for kind, value, where, line in leaks[:20]))
        # Whole-suite runs must have covered what matters: many secrets of
        # each kind, and logs in both formats and at debug level.
        if os.environ.get("T", "") == "" and len(harness.ALL_SERVERS) > 50:
            kinds = " ".join(kind for kind, _ in harness.SECRETS)
            for word in ("password", "token", "cookie", "key material", "refresh key"):
                self.assertIn(word, kinds, "the suite recorded no %s" % word)
            text = "\n".join(t for _, t in logs)
            self.assertIn('{"ts":"', text, "no JSON-format log was scanned")
            self.assertIn("latch: http.request", text, "no text-format log was scanned")
            self.assertIn("auth.decision", text, "no debug-level log was scanned")
