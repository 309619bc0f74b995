"""examples/nginx/nginx.conf with a real nginx (Debian nginx-light) on
loopback, in front of a tiny upstream (a Python http.server thread that
echoes the X-Auth-* headers, method and body length it receives) and latch:

- no token -> 401 from nginx (with latch's WWW-Authenticate);
- a valid token -> the upstream's answer, with X-Auth-* passed on (and the
  client's own X-Auth-* headers dropped);
- the admin-only location -> 403 for a user token, 200 for an admin (made
  with `latch user add --role admin`);
- a POST with a body through the protected location reaches the upstream.

The configuration is the example itself with its three addresses replaced
by random loopback ports, and pid, logs and temp paths in a temp prefix;
nginx runs in the foreground as a child process that the test stops.  When
nginx is missing it is installed with apt-get (nginx-light); only where that
is impossible are the tests skipped.
"""

import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import requests

import harness
from harness import LatchTestCase, bearer, claims_for, free_port, mint, unique_email

EXAMPLE = os.path.join(harness.REPO_ROOT, "examples", "nginx", "nginx.conf")
PASSWORD = "correct horse battery"


def find_nginx():
    for path in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def ensure_nginx():
    """Returns the nginx binary, installing nginx-light if needed; raises
    unittest.SkipTest where it cannot be installed."""
    nginx = find_nginx()
    if nginx is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise unittest.SkipTest("nginx is not installed and cannot be installed here "
                                    "(needs root and apt-get: apt-get install -y nginx-light)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        proc = subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=600)
        nginx = find_nginx()
        if nginx is None:
            raise unittest.SkipTest("nginx could not be installed (apt-get install -y "
                                    "nginx-light: exit %s): %s"
                                    % (proc.returncode, proc.stdout[-300:].strip()))
    version = subprocess.run([nginx, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True).stdout
    if "http_auth_request_module" not in version:
        raise unittest.SkipTest("%s is built without ngx_http_auth_request_module" % nginx)
    return nginx


# -- the upstream application ------------------------------------------------

class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []     # every request the application received

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        info = {
            "method": self.command,
            "path": self.path,
            "body_length": len(body),
            "auth": {name: self.headers[name] for name in
                     ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Role") if name in self.headers},
            "authorization_seen": "Authorization" in self.headers,
            "original_uri": self.headers.get("X-Original-URI"),
            "content_length": self.headers.get("Content-Length"),
        }
        self.seen.append(info)
        data = json.dumps(info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "echo")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, *args):
        pass


# -- nginx ---------------------------------------------------------------------

def substitute(text, pattern, replacement):
    new, count = re.subn(pattern, replacement, text)
    if count != 1:
        raise AssertionError("examples/nginx/nginx.conf: expected one match of %r, found %d"
                             % (pattern, count))
    return new


def generate_config(prefix, port, latch_port, app_port):
    with open(EXAMPLE) as f:
        text = f.read()
    text = substitute(text, r"listen 127\.0\.0\.1:8080;", "listen 127.0.0.1:%d;" % port)
    text = substitute(text, r"server 127\.0\.0\.1:8000;", "server 127.0.0.1:%d;" % latch_port)
    text = substitute(text, r"server 127\.0\.0\.1:3000;", "server 127.0.0.1:%d;" % app_port)
    paths = "".join("    %s_temp_path %s/%s;\n" % (kind, prefix, kind)
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = substitute(text, r"\nhttp \{\n", "\nhttp {\n    access_log %s/access.log;\n%s"
                      % (prefix, paths))
    main = "pid %s/nginx.pid;\nerror_log %s/error.log info;\ndaemon off;\n" % (prefix, prefix)
    if os.geteuid() == 0:
        main += "user root;\n"
    return main + text


class Nginx:
    def __init__(self, binary, latch_port, app_port):
        self.binary = binary
        self.prefix = tempfile.mkdtemp(prefix="latch-nginx-")
        os.chmod(self.prefix, 0o755)
        self.latch_port = latch_port
        self.app_port = app_port
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(3):
            self.port = free_port()
            conf = os.path.join(self.prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(generate_config(self.prefix, self.port, self.latch_port, self.app_port))
            self.proc = subprocess.Popen(
                [self.binary, "-p", self.prefix + "/", "-c", conf,
                 "-e", os.path.join(self.prefix, "error.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise AssertionError("nginx did not start:\n%s" % self.error_log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)     # graceful shutdown
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None

    def error_log(self, tail=30):
        try:
            with open(os.path.join(self.prefix, "error.log")) as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return "(no error log)"

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


class NginxForwardAuth(LatchTestCase):
    @classmethod
    def setUpClass(cls):
        binary = ensure_nginx()
        cls.app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        cls.app.daemon_threads = True
        threading.Thread(target=cls.app.serve_forever, daemon=True).start()
        cls.latch = None
        cls.nginx = None
        try:
            cls.latch = harness.start_module_server()
            cls.user, cls.email, cls.token = cls.latch.new_user()
            cls.admin_email = unique_email("admin")
            proc = harness.user_add(cls.latch.data_dir, cls.admin_email, PASSWORD, role="admin")
            if proc.returncode != 0:
                raise AssertionError("latch user add --role admin: %s" % proc.stderr)
            cls.admin_token = cls.latch.login(cls.admin_email, PASSWORD).json()["token"]
            cls.nginx = Nginx(binary, cls.latch.port, cls.app.server_address[1]).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.nginx is not None:
            cls.nginx.cleanup()
        cls.app.shutdown()
        cls.app.server_close()
        harness.stop_module_server(cls.latch)

    def fetch(self, method, path, token=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "Bearer %s" % token
        return requests.request(method, self.nginx.url(path), headers=headers,
                                timeout=harness.HTTP_TIMEOUT_S, **kwargs)

    def upstream(self, resp):
        self.assertEqual(resp.status_code, 200, "%s %s\nnginx error log:\n%s"
                         % (resp.status_code, resp.text[:300], self.nginx.error_log()))
        self.assertEqual(resp.headers.get("X-Upstream"), "echo", resp.headers)
        return resp.json()

    def test_no_token_401_from_nginx(self):
        count = len(EchoHandler.seen)
        resp = self.fetch("GET", "/app/page")
        self.assertEqual(resp.status_code, 401, resp.text)
        self.assertTrue(resp.headers.get("WWW-Authenticate", "").startswith("Bearer"),
                        resp.headers)
        self.assertNotIn("X-Upstream", resp.headers)
        self.assertEqual(len(EchoHandler.seen), count, "the upstream was reached")

    def test_invalid_token_401(self):
        resp = self.fetch("GET", "/app/page", token=self.token + "x")
        self.assertEqual(resp.status_code, 401)
        self.assertIn("invalid_token", resp.headers.get("WWW-Authenticate", ""))

    def test_valid_token_reaches_upstream_with_auth_headers(self):
        info = self.upstream(self.fetch("GET", "/app/page?x=1", token=self.token))
        self.assertEqual(info["method"], "GET")
        self.assertEqual(info["path"], "/app/page?x=1")
        self.assertEqual(info["auth"], {"X-Auth-User-Id": str(self.user["id"]),
                                        "X-Auth-Email": self.email, "X-Auth-Role": "user"})

    def test_client_cannot_send_its_own_auth_headers(self):
        spoof = {"X-Auth-User-Id": "999999", "X-Auth-Role": "admin",
                 "X-Auth-Email": "boss@example.com"}
        info = self.upstream(self.fetch("GET", "/app/", token=self.token, headers=spoof))
        self.assertEqual(info["auth"], {"X-Auth-User-Id": str(self.user["id"]),
                                        "X-Auth-Email": self.email, "X-Auth-Role": "user"})
        # A token without an email claim: no X-Auth-Email at all.
        no_email = mint(claims_for(self.user["id"]), self.latch.secret(),
                        header={"alg": "HS256", "typ": "JWT", "kid": self.latch.kid()})
        info = self.upstream(self.fetch("GET", "/app/", token=no_email, headers=spoof))
        self.assertEqual(info["auth"], {"X-Auth-User-Id": str(self.user["id"]),
                                        "X-Auth-Role": "user"})

    def test_admin_location(self):
        self.assertEqual(self.fetch("GET", "/admin/panel").status_code, 401)
        resp = self.fetch("GET", "/admin/panel", token=self.token)
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertNotIn("X-Upstream", resp.headers)
        info = self.upstream(self.fetch("GET", "/admin/panel", token=self.admin_token))
        self.assertEqual(info["auth"]["X-Auth-Role"], "admin")
        self.assertEqual(info["auth"]["X-Auth-Email"], self.admin_email)

    def test_head_through_protected_location(self):
        resp = self.fetch("HEAD", "/app/page", token=self.token)
        self.assertEqual(resp.status_code, 200, self.nginx.error_log())

    def test_subrequest_is_get_without_body(self):
        # What latch receives for a client's POST with a body: a second nginx
        # from the same example sends its auth subrequests to the echo
        # application instead of latch.
        app_port = self.app.server_address[1]
        spy = Nginx(self.nginx.binary, app_port, app_port).start()
        try:
            count = len(EchoHandler.seen)
            resp = requests.post(spy.url("/app/items?q=1"), data=b"b" * 3000,
                                 headers=bearer(self.token), timeout=harness.HTTP_TIMEOUT_S)
            self.assertEqual(resp.status_code, 200, spy.error_log())
            subrequest, request = EchoHandler.seen[count:count + 2]
        finally:
            spy.cleanup()
        self.assertEqual((subrequest["method"], subrequest["path"]), ("GET", "/verify"))
        self.assertEqual(subrequest["body_length"], 0)
        self.assertIn(subrequest["content_length"], (None, "0"))
        self.assertTrue(subrequest["authorization_seen"])
        self.assertEqual(subrequest["original_uri"], "/app/items?q=1")
        self.assertEqual((request["method"], request["body_length"]), ("POST", 3000))

    def test_post_with_body_through_protected_location(self):
        # nginx makes its auth subrequest a GET without the body (see
        # test_subrequest_is_get_without_body); the POST itself, with its
        # body, reaches the application.
        body = json.dumps({"data": "z" * 5000}).encode()
        resp = self.fetch("POST", "/app/items", token=self.token, data=body,
                          headers={"Content-Type": "application/json"})
        info = self.upstream(resp)
        self.assertEqual(info["method"], "POST")
        self.assertEqual(info["body_length"], len(body))
        self.assertEqual(info["auth"]["X-Auth-User-Id"], str(self.user["id"]))

    def test_post_without_token_401(self):
        resp = self.fetch("POST", "/app/items", data=b"x" * 100)
        self.assertEqual(resp.status_code, 401, "%s\n%s" % (resp.text, self.nginx.error_log()))

    def test_login_through_nginx(self):
        resp = self.fetch("POST", "/auth/login",
                          json={"email": self.email, "password": PASSWORD})
        self.assertEqual(resp.status_code, 200, resp.text)
        token = resp.json()["token"]
        info = self.upstream(self.fetch("GET", "/app/", token=token))
        self.assertEqual(info["auth"]["X-Auth-User-Id"], str(self.user["id"]))
        jwks = self.fetch("GET", "/auth/.well-known/jwks.json")
        self.assertEqual(jwks.status_code, 200)
        self.assertEqual(jwks.json(), {"keys": []})
