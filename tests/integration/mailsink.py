"""A real SMTP server for the integration tests (Debian python3-aiosmtpd):
aiosmtpd on 127.0.0.1 in a thread of its own, offering STARTTLS with a
certificate from a throwaway CA (made with the openssl command), or plain
text.  latch is pointed at it with mail_env(); tests read the delivered
messages and follow the links' tokens.

Not a test module itself (the runner collects test_*.py only)."""

import asyncio
import email
import email.policy
import logging
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:   # make test-deps installs python3-aiosmtpd
    SMTP = None

logging.getLogger("mail.log").setLevel(logging.CRITICAL)

MAIL_FROM = "no-reply@latch.example"
PUBLIC_URL = "https://app.example.com"

_pki_lock = threading.Lock()
_pki = None   # {"dir", "ca", "cert", "key"}


def _openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), check=True, cwd=cwd, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def pki():
    """A throwaway CA and a server certificate for localhost / 127.0.0.1,
    made once per test run."""
    global _pki
    with _pki_lock:
        if _pki is not None:
            return _pki
        d = tempfile.mkdtemp(prefix="latch-mailpki-")
        _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                 "-subj", "/CN=latch test mail CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
        _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
        _pki = {"dir": d, "ca": os.path.join(d, "ca.pem"),
                "cert": os.path.join(d, "server.pem"), "key": os.path.join(d, "server.key")}
        return _pki


def cleanup_pki():
    global _pki
    with _pki_lock:
        if _pki is not None:
            shutil.rmtree(_pki["dir"], ignore_errors=True)
            _pki = None


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.cond:
            self.sink.received.append({
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": bytes(envelope.original_content),
                "tls": session.ssl is not None,
            })
            self.sink.cond.notify_all()
        return "250 OK"


class MailSink:
    """aiosmtpd on 127.0.0.1:port (0: a free one).  starttls: offer
    STARTTLS with the throwaway CA's certificate; else plain text."""

    def __init__(self, starttls=True, port=0):
        if SMTP is None:
            raise AssertionError("python3-aiosmtpd is missing: make test-deps installs it")
        self.starttls = starttls
        self.port = port
        self.received = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mail-sink",
                                       daemon=True)
        self.server = None

    def _protocol(self):
        kwargs = {"hostname": "mx.latch.test", "loop": self.loop}
        if self.starttls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki()["cert"], pki()["key"])
            kwargs["tls_context"] = ctx
        return SMTP(_Handler(self), **kwargs)

    async def _serve(self):
        return await self.loop.create_server(self._protocol, "127.0.0.1", self.port,
                                             reuse_address=True)

    def start(self):
        if self.starttls:
            pki()
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def env(self, **extra):
        """The environment that points latch at this sink."""
        env = {"LATCH_SMTP_URL": self.url(), "LATCH_MAIL_FROM": MAIL_FROM,
               "LATCH_PUBLIC_URL": PUBLIC_URL}
        if self.starttls:
            env["LATCH_SMTP_CA_FILE"] = pki()["ca"]
        env.update(extra)
        return env

    def wait(self, n=1, timeout=15.0, to=None, subject=None):
        """Waits until n messages (to `to` / with `subject` when given) have
        arrived; returns them, parsed (Message objects)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.messages() if _matches(m, to, subject)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d mail(s)%s%s did not arrive within %ss (got %d: %r)"
                                         % (n, " to " + to if to else "",
                                            " about " + subject if subject else "",
                                            timeout, len(found),
                                            [m["Subject"] for m in self.messages()]))
                self.cond.wait(min(left, 0.2))

    def messages(self):
        return [parse(r["data"]) for r in list(self.received)]


def _matches(msg, to, subject):
    return (to is None or msg["To"] == to) and (subject is None or subject in msg["Subject"])


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


TOKEN_RE = re.compile(r"[#?&]token=([A-Za-z0-9_-]{43})")


def token_of(msg):
    """The token of the one link in a message."""
    body = msg.get_content()
    found = TOKEN_RE.findall(body)
    if len(found) != 1:
        raise AssertionError("want one link with a token, got %r in:\n%s" % (found, body))
    return found[0]
