"""src/mail/smtp.c and src/mail/message.c against a real SMTP server
(Debian python3-aiosmtpd on loopback), driven through latch-probe smtp
(tests/tools/probe.c).  One test per transport rule:

  - STARTTLS with a throwaway CA (LATCH_SMTP_CA_FILE): delivered byte-exact,
    over TLS; also where STARTTLS is required (a host name that is not in the
    loopback list but resolves to loopback);
  - implicit TLS (smtps://);
  - a certificate from another CA, and one for another host name: refused;
  - a server without STARTTLS: accepted on a loopback host, refused on a
    non-loopback name unless insecure is set;
  - SMTP AUTH with the password from a 0600 file; a wrong password fails
    without the password in the error; a 0644 file is refused.

The throwaway CA and certificates are made with the openssl command."""

import asyncio
import ipaddress
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import harness

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:   # make test-deps installs python3-aiosmtpd
    SMTP = None

# aiosmtpd logs every refused handshake with a traceback: those are the
# point of several tests here, not news.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

FROM = "no-reply@latch.example"
TO = "alice@example.com"
USER = "latch-mailer"
PASSWORD = "pw with spaces & s3cret!"

# Dot-stuffing both ways (lines that start with '.'), UTF-8, a tab, and a
# line past 998 bytes that message.c wraps at its last space.
BODY = ("Hello,\n"
        ".leading dot\n"
        "..two dots\n"
        ".\n"
        "Grüße aus Köln\tmit Tab\n"
        + "word " * 250 + "end\n"
        "https://latch.example/verify#token=abcDEF123_-\n").encode("utf-8")

_dir = None
_alias = None


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, cwd=_dir, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _make_ca(name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
             "-subj", "/CN=latch test " + name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return os.path.join(_dir, name + ".pem")


def _make_cert(name, ca, names):
    """A server certificate for names (DNS names and IP addresses) signed by ca."""
    sans = ",".join(("IP:" if _is_ip(n) else "DNS:") + n for n in names)
    ext = os.path.join(_dir, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                % sans)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + names[0])
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext)
    return (os.path.join(_dir, name + ".pem"), os.path.join(_dir, name + ".key"))


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _loopback_alias():
    """A host name that resolves only to 127.0.0.0/8 but is not one that
    smtp.c exempts by name (localhost, a loopback literal): the machine's
    own name usually is one.  None when there is none."""
    for name in (socket.gethostname(), socket.getfqdn()):
        if not name or name.lower() == "localhost" or _is_ip(name) \
                or name.lower().endswith(".localhost"):
            continue
        try:
            infos = socket.getaddrinfo(name, 25, type=socket.SOCK_STREAM)
        except OSError:
            continue
        addrs = {info[4][0] for info in infos}
        if addrs and all(ipaddress.ip_address(a).is_loopback for a in addrs) \
                and "127.0.0.1" in addrs:
            return name
    return None


def setUpModule():
    global _dir, _alias
    if SMTP is None:
        raise AssertionError("python3-aiosmtpd is missing: make test-deps installs it")
    _dir = tempfile.mkdtemp(prefix="latch-smtp-")
    _alias = _loopback_alias()
    names = ["localhost", "127.0.0.1"] + ([_alias] if _alias else [])
    _make_ca("ca")
    _make_ca("otherca")
    _make_cert("server", "ca", names)
    _make_cert("stranger", "otherca", names)
    _make_cert("elsewhere", "ca", ["mx.elsewhere.example"])


def tearDownModule():
    if _dir:
        shutil.rmtree(_dir, ignore_errors=True)


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        self.sink.received.append({
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "data": bytes(envelope.original_content),
            "starttls": session.ssl is not None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
        })
        return "250 OK"


class MailSink:
    """An aiosmtpd server on 127.0.0.1 (random port) in a thread of its own.

    tls: None (no STARTTLS offered), "starttls" or "implicit"; cert: the
    (certificate, key) files; auth: a password to require for USER."""

    def __init__(self, tls=None, cert=None, auth=None):
        self.tls = tls
        self.cert = cert
        self.auth = auth
        self.received = []
        self.auth_attempts = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mail-sink",
                                       daemon=True)
        self.server = None
        self.port = None

    def _context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.cert)
        return ctx

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            self.auth_attempts.append((mechanism, auth_data.login, auth_data.password))
            ok = (auth_data.login == USER.encode() and auth_data.password == self.auth.encode())
        else:
            ok = False
        # handled=False: aiosmtpd answers 535 itself (with the default, True,
        # it would answer nothing and the client would wait for its timeout).
        return AuthResult(success=ok, handled=False)

    def _protocol(self):
        kwargs = {"hostname": "mx.latch.test", "loop": self.loop}
        if self.tls == "starttls":
            kwargs["tls_context"] = self._context()
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = True
        return SMTP(_Handler(self), **kwargs)

    async def _serve(self):
        ssl_ctx = self._context() if self.tls == "implicit" else None
        return await self.loop.create_server(self._protocol, "127.0.0.1", 0, ssl=ssl_ctx)

    def __enter__(self):
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
        return False


class SmtpClient(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="latch-smtp-case-", dir=_dir)
        self.body_file = os.path.join(self.work, "body.txt")
        with open(self.body_file, "wb") as f:
            f.write(BODY)
        self.saved = os.path.join(self.work, "message.eml")

    def send(self, url, ca=True, insecure=False, user=None, password=None, password_mode=0o600):
        args = ["smtp", "--url", url, "--from", FROM, "--to", TO,
                "--subject", "Verify your email", "--mail-id", "7Qz_-1",
                "--date", "1700000000", "--body-file", self.body_file, "--save", self.saved]
        if ca:
            args += ["--ca-file", os.path.join(_dir, "ca.pem")]
        if insecure:
            args.append("--insecure")
        if user is not None:
            pw_file = os.path.join(self.work, "smtp-password")
            with open(pw_file, "w") as f:
                f.write(password + "\n")
            os.chmod(pw_file, password_mode)
            args += ["--user", user, "--password-file", pw_file]
        return harness.run_probe(args)

    def assertSent(self, result):
        self.assertEqual(result.returncode, 0, "latch-probe smtp failed: %s" % result.stderr)
        self.assertEqual(result.stdout.strip(), "sent")

    def assertRefused(self, result, sink, *fragments):
        self.assertEqual(result.returncode, 1,
                         "want a refusal, got exit %s: %s %s"
                         % (result.returncode, result.stdout, result.stderr))
        self.assertEqual(sink.received, [], "a message was delivered")
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)

    def assertDelivered(self, sink, tls):
        self.assertEqual(len(sink.received), 1, sink.received)
        got = sink.received[0]
        with open(self.saved, "rb") as f:
            formatted = f.read()
        self.assertEqual(got["data"], formatted, "the message changed on the way")
        self.assertEqual((got["from"], got["to"]), (FROM, [TO]))
        self.assertEqual(got["tls"], tls, "TLS state of the session")
        # What message.c made, as sent: headers, CRLF lines, the wrap.
        self.assertTrue(formatted.startswith(
            b"From: no-reply@latch.example\r\nTo: alice@example.com\r\n"
            b"Subject: Verify your email\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            b"Message-ID: <mail-7Qz_-1@latch.example>\r\n"), formatted[:300])
        self.assertIn(b"\r\n\r\nHello,\r\n.leading dot\r\n..two dots\r\n.\r\n", formatted)
        self.assertNotIn(b"\n", formatted.replace(b"\r\n", b""))
        self.assertTrue(all(len(line) <= 998 for line in formatted.split(b"\r\n")))
        return got

    def test_starttls_with_throwaway_ca_delivers_byte_exact(self):
        with MailSink(tls="starttls", cert=(os.path.join(_dir, "server.pem"),
                                            os.path.join(_dir, "server.key"))) as sink:
            self.assertSent(self.send("smtp://127.0.0.1:%d" % sink.port))
            got = self.assertDelivered(sink, tls=True)
            self.assertTrue(got["starttls"], "STARTTLS was not used")

    def test_starttls_required_on_a_non_loopback_name(self):
        if _alias is None:
            self.skipTest("no host name here resolves to loopback besides localhost")
        with MailSink(tls="starttls", cert=(os.path.join(_dir, "server.pem"),
                                            os.path.join(_dir, "server.key"))) as sink:
            self.assertSent(self.send("smtp://%s:%d" % (_alias, sink.port)))
            got = self.assertDelivered(sink, tls=True)
            self.assertTrue(got["starttls"])

    def test_implicit_tls(self):
        with MailSink(tls="implicit", cert=(os.path.join(_dir, "server.pem"),
                                            os.path.join(_dir, "server.key"))) as sink:
            self.assertSent(self.send("smtps://localhost:%d" % sink.port))
            self.assertDelivered(sink, tls=True)

    def test_certificate_from_another_ca_refused(self):
        cert = (os.path.join(_dir, "stranger.pem"), os.path.join(_dir, "stranger.key"))
        with MailSink(tls="starttls", cert=cert) as sink:
            # Loopback: STARTTLS is optional there, but once offered and
            # started, a failed verification must not fall back to plain text.
            self.assertRefused(self.send("smtp://127.0.0.1:%d" % sink.port), sink,
                               "certificate")
            self.assertRefused(self.send("smtp://127.0.0.1:%d" % sink.port, ca=False), sink,
                               "certificate")
        with MailSink(tls="implicit", cert=cert) as sink:
            self.assertRefused(self.send("smtps://localhost:%d" % sink.port), sink)

    def test_certificate_for_another_host_refused(self):
        cert = (os.path.join(_dir, "elsewhere.pem"), os.path.join(_dir, "elsewhere.key"))
        with MailSink(tls="starttls", cert=cert) as sink:
            self.assertRefused(self.send("smtp://127.0.0.1:%d" % sink.port), sink)
            self.assertRefused(self.send("smtp://localhost:%d" % sink.port), sink)

    def test_plain_server_allowed_on_loopback(self):
        with MailSink(tls=None) as sink:
            self.assertSent(self.send("smtp://127.0.0.1:%d" % sink.port))
            got = self.assertDelivered(sink, tls=False)
            self.assertFalse(got["starttls"])

    def test_plain_server_refused_off_loopback_unless_insecure(self):
        if _alias is None:
            self.skipTest("no host name here resolves to loopback besides localhost")
        with MailSink(tls=None) as sink:
            url = "smtp://%s:%d" % (_alias, sink.port)
            self.assertRefused(self.send(url), sink, "SSL")
            self.assertSent(self.send(url, insecure=True))
            self.assertDelivered(sink, tls=False)

    def test_auth_with_password_file(self):
        cert = (os.path.join(_dir, "server.pem"), os.path.join(_dir, "server.key"))
        with MailSink(tls="starttls", cert=cert, auth=PASSWORD) as sink:
            url = "smtp://127.0.0.1:%d" % sink.port
            self.assertSent(self.send(url, user=USER, password=PASSWORD))
            got = self.assertDelivered(sink, tls=True)
            self.assertTrue(got["authenticated"])
            self.assertEqual(sink.auth_attempts[-1][1:], (USER.encode(), PASSWORD.encode()))
            sink.received.clear()

            wrong = "wrong-" + PASSWORD
            result = self.send(url, user=USER, password=wrong)
            self.assertRefused(result, sink, "Login denied")
            self.assertNotIn(wrong, result.stderr + result.stdout)
            self.assertNotIn("s3cret", result.stderr + result.stdout)

            attempts = len(sink.auth_attempts)
            result = self.send(url, user=USER, password=PASSWORD, password_mode=0o644)
            self.assertRefused(result, sink, "group or others")
            self.assertEqual(len(sink.auth_attempts), attempts, "it connected anyway")
