"""TOTP enrolment pieces against independent implementations (issue 11):
the QR SVG from src/auth/qrsvg.c, rasterised with rsvg-convert and decoded
with zbarimg, must give back the exact otpauth URI; codes from
src/auth/totp.c must agree with python3-pyotp.  Driven through latch-probe
(tests/tools/probe.c); no latch server is involved."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import harness

try:
    import pyotp
except ImportError:   # make test-deps installs python3-pyotp
    pyotp = None


def probe_ok(args):
    result = harness.run_probe(args)
    if result.returncode != 0:
        raise AssertionError("latch-probe %s: exit %s: %s"
                             % (args[0], result.returncode, result.stderr.strip()))
    return result.stdout


def otpauth_uri(issuer, email, secret):
    return probe_ok(["uri", issuer, email, secret]).rstrip("\n")


class QrRoundTrip(unittest.TestCase):
    def setUp(self):
        for tool in ("rsvg-convert", "zbarimg"):
            if shutil.which(tool) is None:
                self.fail("%s is missing: make test-deps installs librsvg2-bin and zbar-tools"
                          % tool)
        self.dir = tempfile.mkdtemp(prefix="latch-qr-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def decode(self, text, name="qr"):
        """SVG from latch-probe -> PNG 400 px wide -> zbarimg's text."""
        svg = os.path.join(self.dir, name + ".svg")
        png = os.path.join(self.dir, name + ".png")
        with open(svg, "w") as f:
            f.write(probe_ok(["qr", text]))
        subprocess.run(["rsvg-convert", "-w", "400", svg, "-o", png], check=True, timeout=60)
        # zbarimg prints each symbol followed by a newline; -q drops its summary.
        result = subprocess.run(["zbarimg", "--raw", "-q", png], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(result.returncode, 0, "zbarimg found no code: %r" % result.stderr)
        return result.stdout.decode("utf-8").rstrip("\n")

    def test_qr_of_a_long_escaped_uri_decodes_exactly(self):
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        email = "o'brien+mfa" + "&x=%1" * 20 + "@sub.example.com"
        uri = otpauth_uri("Acme & Söhne / 100% #1?", email, secret)
        self.assertIn("%26x%3D%251", uri)
        self.assertGreater(len(uri), 400)   # QR version 16 or so: 4-5 pixels per module
        self.assertEqual(self.decode(uri, "long"), uri)

    def test_qr_of_a_plain_uri_and_short_texts(self):
        uri = otpauth_uri("latch", "alice@example.com", "JBSWY3DPEHPK3PXP")
        self.assertEqual(self.decode(uri, "plain"), uri)
        self.assertEqual(self.decode("x", "x"), "x")

    def test_svg_shape(self):
        svg = probe_ok(["qr", "otpauth://totp/latch:a%40b.c?secret=AB"])
        self.assertTrue(svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 '),
                        svg[:120])
        self.assertEqual(svg.count("<path"), 1)
        self.assertIn('fill="#000"', svg)
        self.assertIn('shape-rendering="crispEdges"', svg)


class UriEncoding(unittest.TestCase):
    def test_hostile_issuer_and_email_stay_in_their_fields(self):
        issuer = "Evil&secret=AAAAAAAA&issuer=x#frag"
        email = "x&secret=BBBB?y=1#z@example.com"
        secret = "JBSWY3DPEHPK3PXP"
        uri = otpauth_uri(issuer, email, secret)
        parts = urllib.parse.urlsplit(uri)
        self.assertEqual((parts.scheme, parts.netloc, parts.fragment), ("otpauth", "totp", ""))
        label = urllib.parse.unquote(parts.path[1:])
        self.assertEqual(label, issuer + ":" + email)
        params = urllib.parse.parse_qs(parts.query, strict_parsing=True)
        self.assertEqual(params, {"secret": [secret], "issuer": [issuer], "algorithm": ["SHA1"],
                                  "digits": ["6"], "period": ["30"]})

    def test_colon_in_issuer_refused(self):
        result = harness.run_probe(["uri", "a:b", "x@example.com", "JBSWY3DPEHPK3PXP"])
        self.assertEqual(result.returncode, 1, result.stdout)

    def test_pyotp_reads_the_uri(self):
        if pyotp is None:
            self.fail("python3-pyotp is missing: make test-deps installs it")
        secret = pyotp.random_base32()
        # pyotp.parse_uri unquotes the whole URI before splitting it, so only
        # values without escaped '&', '=', '#' or '%' survive it; the hostile
        # values are checked with a conforming parser above.
        uri = otpauth_uri("latch", "alice+mfa@example.com", secret)
        otp = pyotp.parse_uri(uri)
        self.assertIsInstance(otp, pyotp.TOTP)
        self.assertEqual((otp.secret, otp.issuer, otp.name, otp.digits, otp.interval),
                         (secret, "latch", "alice+mfa@example.com", 6, 30))


class CodesAgreeWithPyotp(unittest.TestCase):
    def setUp(self):
        if pyotp is None:
            self.fail("python3-pyotp is missing: make test-deps installs it")

    def test_codes_at_many_times(self):
        secret = pyotp.random_base32(32)
        totp = pyotp.TOTP(secret)
        now = int(time.time())
        for t in (0, 29, 30, 59, 1111111109, 2000000000, now - 30, now, now + 30):
            self.assertEqual(probe_ok(["totp", secret, str(t)]).strip(), totp.at(t),
                             "time %d" % t)

    def test_verify_a_pyotp_code_once(self):
        secret = pyotp.random_base32(32)
        now = int(time.time())
        code = pyotp.TOTP(secret).at(now)
        step = now // 30
        self.assertEqual(probe_ok(["verify", secret, code, str(now), "-1"]).strip(), str(step))
        # The replay rule: the same code after its step was recorded.
        again = harness.run_probe(["verify", secret, code, str(now), str(step)])
        self.assertEqual(again.returncode, 1)
        self.assertIn("already used", again.stderr)
        # The next step's code is accepted 30 s early, the one after is not.
        nxt = pyotp.TOTP(secret).at(now + 30)
        self.assertEqual(probe_ok(["verify", secret, nxt, str(now), str(step)]).strip(),
                         str(step + 1))
        later = pyotp.TOTP(secret).at(now + 60)
        if later not in (code, nxt, pyotp.TOTP(secret).at(now - 30)):
            result = harness.run_probe(["verify", secret, later, str(now), "-1"])
            self.assertEqual(result.returncode, 1)
            self.assertIn("wrong code", result.stderr)
