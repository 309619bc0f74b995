"""HTTPS (issue 5): LATCH_TLS_CERT / LATCH_TLS_KEY.

A throwaway CA and two server certificates (EC P-256 and RSA 2048, SAN
DNS:localhost and IP:127.0.0.1) are made at test time with the openssl CLI.
Over HTTPS the whole flow (register, login, profile) works with
`curl --cacert`; responses carry HSTS; a session cookie is Secure.  Only TLS
1.2 and 1.3 with ECDHE and AEAD ciphers are accepted: TLS 1.0/1.1 and
non-AEAD or non-ECDHE suites are refused (`openssl s_client`; for the old
versions a local `openssl s_server` first proves the client can speak them).
A plain-HTTP request to the TLS port and a client-initiated renegotiation
harm nothing.  A key readable by group/others, a key that does not match the
certificate, a missing certificate and a certificate without a key are
refused at start, naming the problem.
"""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from harness import LatchTestCase, free_port, unique_email

PASSWORD = "correct horse battery"
HSTS = "max-age=31536000"
OLD_CIPHERS = "DEFAULT:@SECLEVEL=0"
S_CLIENT_TIMEOUT_S = 20 * harness.TIME_SCALE
PROTO_FLAG = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}
PROTO_NAME = {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}

pki = None      # the module's throwaway PKI (a Pki), made in setUpModule
ec_server = None


def openssl(*args, cwd=None):
    proc = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", timeout=120)
    if proc.returncode != 0:
        raise AssertionError("openssl %s failed (%s):\n%s"
                             % (" ".join(args), proc.returncode, proc.stdout[-2000:]))
    return proc.stdout


class Pki:
    """A CA and server certificates signed by it, in a temp dir."""

    KEY_ARGS = {"ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "rsa": ["-newkey", "rsa:2048"]}

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="latch-tls-")
        self.ca_cert = self.path("ca.pem")
        self.ca_key = self.path("ca.key")
        openssl("req", "-x509", "-new", *self.KEY_ARGS["ec"], "-nodes", "-sha256",
                "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2",
                "-subj", "/CN=latch throwaway test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(self.path("server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        self.ec = self.server_cert("ec")
        self.rsa = self.server_cert("rsa")

    def path(self, name):
        return os.path.join(self.dir, name)

    def server_cert(self, kind, name=None):
        """(cert path, key path) of a new server certificate; key mode 0600."""
        name = name or kind
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        openssl("req", "-new", *self.KEY_ARGS[kind], "-nodes", "-keyout", key, "-out", csr,
                "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                "-CAcreateserial", "-days", "2", "-sha256", "-extfile", self.path("server.ext"),
                "-out", cert)
        os.chmod(key, 0o600)
        openssl("verify", "-CAfile", self.ca_cert, cert)
        return cert, key

    def copy_key(self, key, name, mode):
        """A copy of key with the given mode."""
        dest = self.path(name)
        shutil.copyfile(key, dest)
        os.chmod(dest, mode)
        return dest

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_env(cert_key, **extra):
    cert, key = cert_key
    env = {"LATCH_TLS_CERT": cert, "LATCH_TLS_KEY": key}
    env.update(extra)
    return env


def start_tls_server(cert_key, **extra):
    server = harness.LatchServer(env=tls_env(cert_key, **extra))
    try:
        server.start()
    except BaseException:
        server.kill()
        server.remove_data_dir()
        raise
    if server.scheme != "https":
        server.close(check=False)
        raise AssertionError("latch with LATCH_TLS_CERT/KEY does not say 'listening on "
                             "https://': %s" % server.log_text())
    return server


def setUpModule():
    global pki, ec_server
    for tool in ("openssl", "curl"):
        if shutil.which(tool) is None:
            raise unittest.SkipTest("%s is not installed" % tool)
    pki = Pki()
    try:
        ec_server = start_tls_server(pki.ec)
    except BaseException:
        pki.remove()
        raise


def tearDownModule():
    try:
        harness.stop_module_server(ec_server)
    finally:
        if pki is not None:
            pki.remove()


# -- curl -----------------------------------------------------------------------

class CurlResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers            # [(lower-case name, value)]
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "%s %s %r" % (self.status, self.headers, self.body[:300])


def curl(server, method, path, body=None, headers=None, host="localhost", cacert=None):
    """One request with `curl --cacert CA` (certificate and host name are
    verified) to https://HOST:PORT/path; HOST resolves to 127.0.0.1."""
    url = "https://%s:%d%s" % (host, server.port, path)
    argv = ["curl", "-sS", "--max-time", str(int(harness.HTTP_TIMEOUT_S)), "-D", "-",
            "--cacert", cacert or pki.ca_cert, "-X", method]
    if host == "localhost":
        argv += ["--resolve", "localhost:%d:127.0.0.1" % server.port]
    for name, value in (headers or {}).items():
        argv += ["-H", "%s: %s" % (name, value)]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    proc = subprocess.run(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=harness.HTTP_TIMEOUT_S + 10)
    if proc.returncode != 0:
        raise AssertionError("curl %s %s failed (%s): %s"
                             % (method, url, proc.returncode, proc.stderr.decode(errors="replace")))
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return CurlResponse(status, headers, payload.decode("utf-8", "replace"))


# -- openssl s_client / s_server -------------------------------------------------

def s_client(port, *args, stdin=b""):
    """`openssl s_client -connect 127.0.0.1:PORT ARGS` with stdin (EOF after it):
    (exit code, output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", "localhost", "-CAfile", pki.ca_cert] + list(args)
    proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=S_CLIENT_TIMEOUT_S)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


NEGOTIATED_RE = re.compile(r"^New, (\S+), Cipher is (\S+)", re.M)
PROTOCOL_RE = re.compile(r"^\s*Protocol\s*:\s*(\S+)", re.M)


def handshake(port, *args):
    """Runs s_client: (True, protocol, cipher) when a handshake completed,
    else (False, None, output tail)."""
    rc, out = s_client(port, *args)
    neg = NEGOTIATED_RE.search(out)
    proto = PROTOCOL_RE.search(out)
    if rc == 0 and neg and neg.group(2) not in ("(NONE)", "0000"):
        # TLS 1.3 prints no SSL-Session block before EOF; "New, TLSv1.3" then
        # names the protocol (for older versions it names the cipher's).
        return True, proto.group(1) if proto else neg.group(1), neg.group(2)
    return False, None, out[-1500:]


def control_handshake(version, cert_key):
    """Proves the local openssl client can speak an old version: a local
    `openssl s_server` allowing only that version, with the same cert and
    cipher options, must complete a handshake.  Returns None or the reason."""
    cert, key = cert_key
    flag = PROTO_FLAG[version]
    for _ in range(3):
        port = free_port()
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
             "-key", key, flag, "-cipher", OLD_CIPHERS, "-www"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            listening = False
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    listening = True
                    break
                except OSError:
                    time.sleep(0.05)
            if not listening:
                continue        # the port was taken meanwhile: another one
            ok, proto, detail = handshake(port, flag, "-cipher", OLD_CIPHERS)
            if ok and proto == PROTO_NAME[version]:
                return None
            return "openssl s_client %s could not complete a handshake even with a local " \
                   "openssl s_server allowing only that version: %s" % (flag, detail[-400:])
        finally:
            if server.poll() is None:
                server.kill()
            server.wait()
    return "could not start a local openssl s_server for TLS %s" % version


class TlsFlow(LatchTestCase):
    """register, login, profile over HTTPS with curl --cacert."""

    def flow(self, server, host="localhost"):
        email = unique_email("tls")
        reg = curl(server, "POST", "/register", {"email": email, "password": PASSWORD}, host=host)
        self.assertEqual(reg.status, 201, reg)
        user = reg.json()
        login = curl(server, "POST", "/login", {"email": email, "password": PASSWORD}, host=host)
        self.assertEqual(login.status, 200, login)
        token = login.json()["token"]
        prof = curl(server, "GET", "/profile", headers={"Authorization": "Bearer " + token},
                    host=host)
        self.assertEqual(prof.status, 200, prof)
        body = prof.json()
        self.assertEqual(body["id"], user["id"])
        self.assertEqual(body["email"], email)
        for resp in (reg, login, prof):
            self.assertEqual(resp.header("strict-transport-security"), HSTS, resp)
        return token

    def test_flow_ec_certificate(self):
        self.flow(ec_server)

    def test_flow_by_ip_address_san(self):
        self.flow(ec_server, host="127.0.0.1")

    def test_flow_rsa_certificate(self):
        server = start_tls_server(pki.rsa)
        try:
            self.flow(server)
            ok, proto, cipher = handshake(server.port, "-tls1_2")
            self.assertTrue(ok, cipher)
            self.assertTrue(cipher.startswith("ECDHE-RSA-") and "GCM" in cipher
                            or "CHACHA20" in cipher, cipher)
        finally:
            server.close()

    def test_listening_line_says_https(self):
        self.assertRegex(ec_server.log_text(), r"listening on https://127\.0\.0\.1:%d\b"
                         % ec_server.port)

    def test_hsts_on_every_response(self):
        for method, path in (("GET", "/healthz"), ("GET", "/profile"), ("GET", "/nowhere"),
                             ("POST", "/login")):
            with self.subTest(path=path):
                resp = curl(ec_server, method, path, body={} if method == "POST" else None)
                self.assertEqual(resp.all("strict-transport-security"), [HSTS], resp)

    def test_wrong_ca_is_not_trusted(self):
        # Sanity check of the test itself: curl really verifies the chain.
        other = Pki()
        try:
            with self.assertRaisesRegex(AssertionError, "curl .* failed"):
                curl(ec_server, "GET", "/healthz", cacert=other.ca_cert)
        finally:
            other.remove()

    def test_session_cookie_is_secure(self):
        server = start_tls_server(pki.ec, LATCH_AUTH_MODE="session")
        try:
            email = unique_email("tlssession")
            reg = curl(server, "POST", "/register", {"email": email, "password": PASSWORD})
            self.assertEqual(reg.status, 201, reg)
            login = curl(server, "POST", "/login", {"email": email, "password": PASSWORD})
            self.assertEqual(login.status, 200, login)
            cookies = login.all("set-cookie")
            self.assertEqual(len(cookies), 1, login)
            attrs = [a.strip() for a in cookies[0].split(";")]
            self.assertIn("Secure", attrs, "session cookie over HTTPS: %r" % cookies[0])
            self.assertIn("HttpOnly", attrs, cookies[0])
            token = login.json()["token"]
            prof = curl(server, "GET", "/profile", headers={"Cookie": "latch_session=" + token})
            self.assertEqual(prof.status, 200, prof)
            out = curl(server, "POST", "/logout", headers={"Authorization": "Bearer " + token})
            self.assertEqual(out.status, 204, out)
            for value in out.all("set-cookie"):
                self.assertIn("Secure", [a.strip() for a in value.split(";")], value)
        finally:
            server.close()


class TlsProtocols(LatchTestCase):
    """What the handshake accepts: TLS 1.2/1.3, ECDHE + AEAD only."""

    def check_old_version_refused(self, version):
        reason = control_handshake(version, pki.ec)
        if reason is not None:
            self.skipTest(reason)
        ok, proto, detail = handshake(ec_server.port, PROTO_FLAG[version], "-cipher", OLD_CIPHERS)
        self.assertFalse(ok, "latch completed a TLS %s handshake (%s, %s)"
                         % (version, proto, detail))
        self.assertTrue(ec_server.running())

    def test_tls1_1_refused(self):
        self.check_old_version_refused("1.1")

    def test_tls1_0_refused(self):
        self.check_old_version_refused("1.0")

    def test_tls1_2_accepted(self):
        ok, proto, cipher = handshake(ec_server.port, "-tls1_2")
        self.assertTrue(ok, cipher)
        self.assertEqual(proto, "TLSv1.2")
        self.assertRegex(cipher, r"^ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")

    def test_tls1_3_accepted(self):
        ok, proto, cipher = handshake(ec_server.port, "-tls1_3")
        self.assertTrue(ok, cipher)
        self.assertEqual(proto, "TLSv1.3")

    def test_verify_ok_with_the_ca(self):
        rc, out = s_client(ec_server.port, "-tls1_3", "-verify_return_error",
                           "-verify_hostname", "localhost")
        self.assertEqual(rc, 0, out[-1500:])
        self.assertIn("Verify return code: 0 (ok)", out)

    def test_weak_tls1_2_ciphers_refused(self):
        for cipher in ("AES128-SHA",                       # RSA kx, CBC
                       "AES128-GCM-SHA256",                # RSA kx (no ECDHE), AEAD
                       "ECDHE-ECDSA-AES128-SHA",           # ECDHE, CBC (not AEAD)
                       "ECDHE-ECDSA-AES256-SHA384",        # ECDHE, CBC-SHA384
                       "DHE-RSA-AES128-GCM-SHA256"):       # finite-field DHE
            with self.subTest(cipher=cipher):
                ok, proto, detail = handshake(ec_server.port, "-tls1_2", "-cipher",
                                              cipher + ":@SECLEVEL=0")
                self.assertFalse(ok, "latch accepted TLS 1.2 cipher %s (%s)" % (cipher, detail))
        # ... while an ECDHE AEAD suite is accepted with the same options.
        ok, _, detail = handshake(ec_server.port, "-tls1_2", "-cipher",
                                  "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0")
        self.assertTrue(ok, detail)

    def test_renegotiation_not_performed(self):
        # s_client -msg traces handshake messages; "R" asks it to renegotiate.
        # latch must not complete a second handshake (a refusal alert or a
        # closed connection are fine), and must keep serving.
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % ec_server.port,
                "-servername", "localhost", "-CAfile", pki.ca_cert, "-tls1_2", "-msg"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            time.sleep(1.0 * harness.TIME_SCALE)
            try:
                proc.stdin.write(b"R\n")
                proc.stdin.flush()
                time.sleep(1.5 * harness.TIME_SCALE)
                proc.stdin.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                proc.stdin.flush()
                time.sleep(1.0 * harness.TIME_SCALE)
                proc.stdin.close()
            except (BrokenPipeError, ConnectionError):
                pass        # s_client already gone: the server closed the connection
            try:
                out = proc.communicate(timeout=S_CLIENT_TIMEOUT_S)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                out = proc.communicate()[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = out.decode("utf-8", "replace")
        hellos = len(re.findall(r"<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], ServerHello\b",
                                text))
        self.assertEqual(hellos, 1, "renegotiation: the server sent %d ServerHello:\n%s"
                         % (hellos, text[-3000:]))
        self.assertIn("RENEGOTIATING", text, "s_client did not try: %s" % text[-2000:])
        self.assertNotIn('{"status":"ok"}', text,
                         "the connection carried on after a renegotiation attempt")
        self.assertTrue(ec_server.running())
        self.assertEqual(curl(ec_server, "GET", "/healthz").status, 200)


class TlsPlainHttp(LatchTestCase):
    def test_plain_http_to_tls_port_harms_nothing(self):
        server = start_tls_server(pki.ec)
        try:
            requests_sent = [
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}",
                b"GET / HTTP/1.0\r\n\r\n" + b"x" * 20000,
                b"\x16\x03\x01\x00\x05hello",          # a truncated TLS record
            ]
            for data in requests_sent:
                # A timeout (the server waits for the rest of a "TLS record")
                # is as fine as a close or an alert.
                with socket.create_connection(server.address, timeout=2) as sock:
                    try:
                        sock.sendall(data)
                        reply = sock.recv(65536)
                    except (ConnectionError, socket.timeout):
                        reply = b""
                    self.assertNotIn(b"200 OK", reply)
                    self.assertNotIn(b'{"status":"ok"}', reply)
            self.assertTrue(server.running(), server.log_tail())
            resp = curl(server, "GET", "/healthz")
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json(), {"status": "ok"})
        finally:
            server.close()    # SIGTERM, asserts exit code 0


class TlsRefusedStarts(LatchTestCase):
    """Configuration mistakes are refused at start, naming the file."""

    def assertRefused(self, env, *needles):
        rc, output = harness.start_refused(env=env)
        self.assertNotEqual(rc, 0, output)
        for needle in needles:
            self.assertIn(needle, output, "refusal message does not mention %r:\n%s"
                          % (needle, output))
        return output

    def test_key_readable_by_others_refused(self):
        for mode in (0o644, 0o640, 0o604):
            with self.subTest(mode=oct(mode)):
                key = pki.copy_key(pki.ec[1], "open-%o.key" % mode, mode)
                self.assertRefused(tls_env((pki.ec[0], key)), key)

    def test_mismatched_key_refused(self):
        out = self.assertRefused(tls_env((pki.ec[0], pki.rsa[1])), pki.rsa[1])
        self.assertRegex(out, r"(?i)match")
        out = self.assertRefused(tls_env((pki.rsa[0], pki.ec[1])), pki.ec[1])
        self.assertRegex(out, r"(?i)match")

    def test_missing_cert_file_refused(self):
        missing = pki.path("no-such-cert.pem")
        out = self.assertRefused(tls_env((missing, pki.ec[1])), missing)
        self.assertRegex(out, r"(?i)no such file|not found|missing|cannot")

    def test_missing_key_file_refused(self):
        missing = pki.path("no-such-key.pem")
        self.assertRefused(tls_env((pki.ec[0], missing)), missing)

    def test_cert_without_key_refused(self):
        out = self.assertRefused({"LATCH_TLS_CERT": pki.ec[0], "LATCH_TLS_KEY": None},
                                 "LATCH_TLS_KEY")
        self.assertNotRegex(out, r"listening on")

    def test_key_without_cert_refused(self):
        self.assertRefused({"LATCH_TLS_CERT": None, "LATCH_TLS_KEY": pki.ec[1]},
                           "LATCH_TLS_CERT")

    def test_not_a_certificate_refused(self):
        garbage = pki.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        self.assertRefused(tls_env((garbage, pki.ec[1])), garbage)

    def test_key_mode_0600_accepted(self):
        mode = stat.S_IMODE(os.stat(pki.ec[1]).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertTrue(ec_server.running())
