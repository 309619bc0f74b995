"""Starts the real latch binary for integration tests and talks to it.

A test owns every server it starts and stops it: tests use setUpModule /
tearDownModule (one server shared by a module whose tests do not interfere)
or try/finally around a server of their own.  stop() is part of the
contract: SIGTERM must end the server with exit code 0 (graceful shutdown).
"""

import atexit
import base64
import hashlib
import hmac
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
import urllib.parse
import uuid

import requests

import backend
import openapi_check

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LATCH_BIN = os.environ.get("LATCH_BIN", "build/asan/latch")
if not os.path.isabs(LATCH_BIN):
    LATCH_BIN = os.path.join(REPO_ROOT, LATCH_BIN)

# LATCH_VALGRIND=1 (make test-valgrind): every `latch serve` runs under
# valgrind's memcheck with one log file per process (in LATCH_VALGRIND_LOG_DIR);
# stop() fails on any error or definite leak in it.  Everything is slower
# under valgrind: the timeouts grow by TIME_SCALE (LATCH_TIME_SCALE overrides
# it), and a test with a timing assertion calls skip_if_valgrind() or scales
# its bound with TIME_SCALE.
VALGRIND = os.environ.get("LATCH_VALGRIND", "") not in ("", "0")
VALGRIND_CMD = os.environ.get("LATCH_VALGRIND_CMD", "valgrind")
VALGRIND_LOG_DIR = os.environ.get("LATCH_VALGRIND_LOG_DIR", "")
VALGRIND_ERROR_EXIT = 99
VALGRIND_OPTS = ["--error-exitcode=%d" % VALGRIND_ERROR_EXIT, "--leak-check=full",
                 "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                 "--num-callers=30", "--child-silent-after-fork=yes"]
# More valgrind options (e.g. --track-origins=yes to trace an uninitialised value).
VALGRIND_OPTS += os.environ.get("LATCH_VALGRIND_OPTS", "").split()
TIME_SCALE = float(os.environ.get("LATCH_TIME_SCALE", "10" if VALGRIND else "1"))

# Generating an RS256 key at first start takes minutes under valgrind.
START_TIMEOUT_S = 10.0 * TIME_SCALE * (3 if VALGRIND else 1)
STOP_TIMEOUT_S = 10.0 * TIME_SCALE
HTTP_TIMEOUT_S = 10.0 * TIME_SCALE


def skip_if_valgrind(what="timing assertion"):
    """Skips the calling test under valgrind (its timing cannot hold there);
    the runner prints a SKIP line with the reason."""
    if VALGRIND:
        raise unittest.SkipTest("under valgrind: %s" % what)


def _valgrind_log_dir():
    global VALGRIND_LOG_DIR
    if not VALGRIND_LOG_DIR:
        VALGRIND_LOG_DIR = tempfile.mkdtemp(prefix="latch-vg-")
    os.makedirs(VALGRIND_LOG_DIR, exist_ok=True)
    return VALGRIND_LOG_DIR

# Fast hashing for tests; a test that needs the real cost overrides these.
# Brute-force protection is off by default so that tests of other rules can
# log in as often as they need; the tests of that protection turn it on.
TEST_ENV = {
    "LATCH_ARGON2_MEMORY_KIB": "8192",
    "LATCH_ARGON2_ITERATIONS": "1",
    "LATCH_IP_RATE_PER_MIN": "0",
    "LATCH_LOCKOUT_ATTEMPTS": "1000",
}

# The test tools' own LATCH_* variables (make test exports LATCH_BIN): not
# latch's, so they are not passed on, or every server would warn about them.
HARNESS_VARIABLES = ("LATCH_BIN", "LATCH_CHROMIUM", "LATCH_CRASH_SEED", "LATCH_CRASH_VERBOSE",
                     "LATCH_MALFORMED_PROBE", "LATCH_SLOW_VERBOSE", "LATCH_TIME_SCALE",
                     "LATCH_VALGRIND", "LATCH_VALGRIND_CMD", "LATCH_VALGRIND_LOG_DIR",
                     "LATCH_VALGRIND_OPTS", "LATCH_TEST_BACKEND", "LATCH_TEST_BACKENDS",
                     "LATCH_TEST_PG", "LATCH_TEST_PG_BENCH")


def latch_environment(extra=None):
    """os.environ without the harness's variables, plus TEST_ENV and extra
    (a value of None removes the variable)."""
    env = {k: v for k, v in os.environ.items() if k not in HARNESS_VARIABLES}
    env.update(TEST_ENV)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


LISTENING_RE = re.compile(r"listening on (https?)://(\[[0-9a-fA-F:.]+\]|[^\s:/]+):(\d+)")
METRICS_LISTENING_RE = re.compile(r"/metrics served apart on https?://\S+:(\d+)")

# Servers that are running, and every server started since the runner's
# last test_started() call: on a failure the runner prints their logs.
_live_servers = []
_recent_servers = []


def test_started():
    """Called by the runner before each test."""
    del _recent_servers[:]


def servers_for_report():
    seen = []
    for server in _live_servers + _recent_servers:
        if server not in seen:
            seen.append(server)
    return seen


def _cleanup_at_exit():
    for server in list(_live_servers):
        try:
            server.kill()
        except Exception:
            pass
        server.remove_data_dir()


atexit.register(_cleanup_at_exit)


# -- what the suite must never find in a log (test_zz_no_secrets_in_logs) ------
#
# Every password, token, cookie, signing secret and key the suite sends,
# receives, generates or reads is recorded here, and so is every log latch
# wrote (each server's stdout and stderr, each CLI run's output).  The last
# test module scans the logs for the secrets.

SECRETS = set()              # (kind, value)
CLI_LOGS = []                # (description, text) of CLI runs
ALL_SERVERS = []             # every LatchServer created; their .lines are the logs
# Shorter values are too common to mean anything (a test's deliberately
# short password "short" may well be part of a word in a log line).
MIN_SECRET_CHARS = 8
_SECRET_FIELDS = ("password", "current_password", "new_password", "refresh_token", "token",
                  "mfa_token", "recovery_code", "secret", "otpauth_uri")
_PEM_LINE_RE = re.compile(r"^[A-Za-z0-9+/=]{16,}$")


def note_secret(kind, value):
    """Records a value that no log may contain."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
        SECRETS.add((kind, value))


def note_key_text(kind, text):
    """A key: a PEM (each base64 line is recorded) or a secret as text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if "-----BEGIN" in text:
        for line in text.splitlines():
            if _PEM_LINE_RE.match(line.strip()):
                note_secret(kind, line.strip())
    else:
        note_secret(kind, text.strip())


def note_key_file(kind, path):
    try:
        with open(path, "rb") as f:
            note_key_text(kind, f.read())
    except OSError:
        pass


def note_data_dir(data_dir):
    """The generated keys and refresh-token key of a data dir."""
    if not data_dir or not os.path.isdir(data_dir):
        return
    try:
        with open(os.path.join(data_dir, "keys.json"), "rb") as f:
            doc = json.loads(f.read())
        for entry in doc.get("keys", []):
            if isinstance(entry.get("material"), str):
                note_key_text("key material", entry["material"])
    except (OSError, ValueError):
        pass
    note_key_file("refresh key", os.path.join(data_dir, "refresh-key"))
    note_key_file("jwt secret file", os.path.join(data_dir, "jwt-secret"))


def _note_json_body(body, kind):
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str) or "{" not in body:
        return
    try:
        obj = json.loads(body)
    except ValueError:
        for name, value in re.findall(r'"(%s)"\s*:\s*"([^"]*)"' % "|".join(_SECRET_FIELDS),
                                      body):
            note_secret("%s %s" % (kind, name), value)
        return
    if isinstance(obj, dict):
        for name in _SECRET_FIELDS:
            if isinstance(obj.get(name), str):
                note_secret("%s %s" % (kind, name), obj[name])
        for code in obj.get("recovery_codes") or []:
            note_secret("%s recovery code" % kind, code)


_COOKIE_RE = re.compile(r"latch_session=([A-Za-z0-9_\-]+)")
_BEARER_RE = re.compile(r"(?i)authorization:\s*bearer\s+(\S+)")


def _note_headers(headers, kind):
    for name, value in headers:
        lname = name.lower()
        if lname == "authorization":
            parts = value.split(None, 1)
            if len(parts) == 2:
                note_secret(kind + " authorization", parts[1])
        elif lname in ("cookie", "set-cookie"):
            for cookie in _COOKIE_RE.findall(value):
                note_secret(kind + " cookie", cookie)


_original_send = requests.Session.send


def latch_listener(host, port):
    """"public" or "metrics" when host:port is a listener of a latch server
    of this run (its public one, or LATCH_METRICS_LISTEN's), else None:
    nginx or another proxy in front answers for itself, and only latch's own
    answers are checked against docs/openapi.yaml."""
    if port is None:
        return None
    for server in list(_live_servers):
        if port == server.port:
            return "public"
        if port == server.metrics_port:
            return "metrics"
    return None


def validate_response(listener, method, target, status, headers, body):
    """Checks one of latch's answers against docs/openapi.yaml (raises
    openapi_check.Mismatch, and records it for run.py)."""
    if listener is None:
        return
    openapi_check.validate(method, target, status, headers, body,
                           openapi_check.METRICS_LISTENER_PATHS if listener == "metrics"
                           else None)


def _response_headers(resp):
    """A requests response's header lines, repeated fields kept apart."""
    if resp.raw is not None and hasattr(resp.raw, "headers"):
        return list(resp.raw.headers.items())
    return list(resp.headers.items())


def _recording_send(self, request, **kwargs):
    """Every request made with `requests` (and its answer) is looked at:
    secrets are recorded, and latch's answers are validated against
    docs/openapi.yaml (a mismatch fails the test that got it)."""
    try:
        _note_headers(request.headers.items(), "sent")
        _note_json_body(request.body, "sent")
    except Exception:
        pass
    resp = _original_send(self, request, **kwargs)
    if not kwargs.get("stream"):
        try:
            _note_headers(_response_headers(resp), "received")
            if "json" in resp.headers.get("Content-Type", ""):
                _note_json_body(resp.content, "received")
        except Exception:
            pass
        url = urllib.parse.urlsplit(request.url)
        validate_response(latch_listener(url.hostname, url.port), request.method,
                          request.path_url, resp.status_code, _response_headers(resp),
                          resp.content)
    return resp


requests.Session.send = _recording_send


def _note_raw_request(data):
    text = bytes(data).decode("latin-1")
    for token in _BEARER_RE.findall(text):
        note_secret("sent raw authorization", token)
    for cookie in _COOKIE_RE.findall(text):
        note_secret("sent raw cookie", cookie)
    if "\r\n\r\n" in text:
        _note_json_body(text.split("\r\n\r\n", 1)[1], "sent raw")


def collected_logs():
    """[(description, text)] of every log written so far."""
    logs = []
    for server in ALL_SERVERS:
        text = "\n".join(line for stream, line in server.lines if stream != "harness")
        if text:
            logs.append(("latch serve, data dir %s, env %s" % (
                server.data_dir, {k: v for k, v in server.extra_env.items()
                                  if k in ("LATCH_LOG_FORMAT", "LATCH_LOG_LEVEL")}), text))
    return logs + list(CLI_LOGS)


# Tokens, opaque values and base64 lines are found as whole runs of these
# characters (split where a log puts quotes, spaces, '=' or '/').
_RUN_RE = re.compile(r"[A-Za-z0-9_\-]{16,}")
_TOKEN_LIKE_RE = re.compile(r"^[A-Za-z0-9_\-.+/=]+$")


def _distinctive(piece, shared):
    """A run that identifies its secret: not made of a few repeated
    characters (a test's "A" * 5000 token also makes long "AAAA" paths), and
    not common to several secrets (every HS256 JWT starts with the same
    header segment, which is no secret)."""
    return len(set(piece)) >= 8 and piece not in shared


def find_leaks(logs, secrets):
    """[(kind, value, where)] for each secret found in a log.  A token-like
    secret leaks when one of its distinctive runs of 16+ base64url
    characters is a run of a log (or starts one: a cut token); any other
    secret (a password) when it occurs as a substring."""
    leaks = []
    runs, prefixes = {}, {}
    for where, text in logs:
        for run in _RUN_RE.findall(text):
            runs.setdefault(run, where)
            prefixes.setdefault(run[:16], where)
    seen, shared = set(), set()
    for value in {value for _, value in secrets}:
        for piece in set(_RUN_RE.findall(value)):
            (shared if piece in seen else seen).add(piece)
    for kind, value in sorted(secrets):
        if _TOKEN_LIKE_RE.match(value) and _RUN_RE.search(value):
            for piece in _RUN_RE.findall(value):
                if not _distinctive(piece, shared):
                    continue
                where = runs.get(piece)
                # A cut token: a log run that starts as this piece does, if
                # that start is itself distinctive (a crafted signature may
                # begin with "AAAA...", as a test's request id may).
                if where is None and len(set(piece[:16])) >= 8:
                    where = prefixes.get(piece[:16])
                if where is not None:
                    leaks.append((kind, value, where, _line_with(logs, where, piece[:16])))
                    break
            continue
        for where, text in logs:
            if value in text:
                leaks.append((kind, value, where, _line_with(logs, where, value)))
                break
    return leaks


def _line_with(logs, where, needle):
    """The log line that holds needle, cut short: for the failure message."""
    for name, text in logs:
        if name == where:
            for line in text.splitlines():
                if needle in line:
                    return line[:200]
    return ""


def unique_email(prefix="user"):
    return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:12])


class StartupError(AssertionError):
    pass


_VG_ERROR_SUMMARY_RE = re.compile(r"ERROR SUMMARY: (\d+) errors")
_VG_DEFINITE_RE = re.compile(r"definitely lost: ([\d,]+) bytes")


def valgrind_log_problems(path):
    """Reads a memcheck log: [] when it reports no error and no definitely
    lost bytes, else [summary, the log's relevant lines...]."""
    try:
        with open(path, "r", errors="replace") as f:
            text = f.read()
    except OSError as e:
        return ["cannot read the valgrind log: %s" % e]
    summaries = [int(n) for n in _VG_ERROR_SUMMARY_RE.findall(text)]
    if not summaries:
        return ["no ERROR SUMMARY in the valgrind log (valgrind killed or still running?)"]
    lost = sum(int(n.replace(",", "")) for n in _VG_DEFINITE_RE.findall(text))
    if max(summaries) == 0 and lost == 0:
        return []
    body = [re.sub(r"^==\d+== ?", "", line) for line in text.splitlines()
            if line.startswith("==")]
    start = next((i for i, line in enumerate(body)
                  if line.startswith(("Invalid", "Conditional", "Use of uninit", "Syscall param",
                                      "Mismatched", "Source and destination", "Argument "))
                  or "definitely lost in" in line), 0)
    return (["%d errors, %d bytes definitely lost" % (max(summaries), lost)]
            + body[start:start + 60])


class _OutputDrain:
    """Reads a pipe line by line in a thread and keeps every line."""

    def __init__(self, pipe, name, sink, on_line):
        self.pipe = pipe
        self.name = name
        self.sink = sink
        self.on_line = on_line
        self.thread = threading.Thread(target=self._run, name="drain-" + name, daemon=True)
        self.thread.start()

    def _run(self):
        for raw in iter(self.pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.sink.append((self.name, line))
            self.on_line(line)
        self.pipe.close()


def free_port():
    """A loopback port free at the time of asking (for a server a test
    starts itself, or one that must find nothing listening)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LatchServer:
    """One `latch serve` process on 127.0.0.1 with a throwaway data dir.

    env: extra environment (added to os.environ and TEST_ENV; a value of None
    removes the variable).  args: replaces the default serve arguments
    (--listen 127.0.0.1:0 --data-dir <dir>) when given.
    """

    def __init__(self, env=None, args=None, data_dir=None, listen="127.0.0.1:0"):
        self.extra_env = dict(env or {})
        self.custom_args = args
        self.listen = listen
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="latch-it-")
        self.proc = None
        self.host = None
        self.port = None
        self.scheme = "http"     # "https" when latch says it listens with TLS
        self.metrics_port = None  # LATCH_METRICS_LISTEN's port, once latch says it
        self.valgrind_logs = []  # one valgrind log per start under LATCH_VALGRIND
        self.lines = []          # (stream, line) from every run of this server
        ALL_SERVERS.append(self)
        self.last_exit_code = None
        self._ready = threading.Event()
        self._drains = []

    # -- process control -------------------------------------------------

    def store_dir(self):
        """The data dir whose store this server uses: its own, or the one
        its custom arguments name."""
        args = self.custom_args or []
        if "--data-dir" in args and args.index("--data-dir") + 1 < len(args):
            return args[args.index("--data-dir") + 1]
        return self.data_dir

    def environment(self):
        extra = dict(backend.provision(self.store_dir()))
        extra.update(self.extra_env)
        return latch_environment(extra)

    def argv(self):
        if self.custom_args is not None:
            return [LATCH_BIN] + list(self.custom_args)
        return [LATCH_BIN, "serve", "--listen", self.listen, "--data-dir", self.data_dir]

    def _command(self):
        """argv(), wrapped in valgrind under LATCH_VALGRIND."""
        argv = self.argv()
        if not VALGRIND:
            return argv
        fd, log = tempfile.mkstemp(prefix="latch-%d-" % len(self.valgrind_logs),
                                   suffix=".vg.log", dir=_valgrind_log_dir())
        os.close(fd)
        self.valgrind_logs.append(log)
        return [VALGRIND_CMD] + VALGRIND_OPTS + ["--log-file=" + log] + argv

    def valgrind_reports(self):
        """Problems in the valgrind log of the last run: [] when clean (or
        not under valgrind)."""
        if not (VALGRIND and self.valgrind_logs):
            return []
        return valgrind_log_problems(self.valgrind_logs[-1])

    def _on_line(self, line):
        match = METRICS_LISTENING_RE.search(line)
        if match:
            self.metrics_port = int(match.group(1))
        if self._ready.is_set():
            return
        match = LISTENING_RE.search(line)
        if match:
            self.scheme = match.group(1)
            self.host = match.group(2)
            self.port = int(match.group(3))
            self._ready.set()

    def start(self):
        if not os.path.exists(LATCH_BIN):
            raise StartupError("latch binary not found at %s (set LATCH_BIN)" % LATCH_BIN)
        # A second start would lose the first process, which then outlives
        # the test (`with LatchServer().start()` starts twice: __enter__
        # starts too).
        if self.running():
            raise StartupError("this server is already running (pid %d)" % self.proc.pid)
        self._ready.clear()
        self._note_configured_secrets()
        self.host = self.port = self.metrics_port = None
        self.lines.append(("harness", "--- start: %s" % " ".join(self.argv())))
        self.proc = subprocess.Popen(
            self._command(), env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT)
        _live_servers.append(self)
        _recent_servers.append(self)
        self._drains = [
            _OutputDrain(self.proc.stderr, "stderr", self.lines, self._on_line),
            _OutputDrain(self.proc.stdout, "stdout", self.lines, self._on_line),
        ]
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                for drain in self._drains:
                    drain.thread.join(1)
                rc = self.proc.returncode
                self.last_exit_code = rc
                self.lines.append(("harness", "--- exit code %s" % rc))
                self._forget()
                self.proc = None
                raise StartupError("latch exited with %s before listening:\n%s"
                                   % (rc, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise StartupError("latch did not print 'listening on' within %ss:\n%s"
                                   % (START_TIMEOUT_S, self.log_tail()))
        return self

    def _note_configured_secrets(self):
        env = self.environment()
        for name in ("LATCH_JWT_SECRET", "LATCH_METRICS_TOKEN"):
            if env.get(name):
                note_secret(name, env[name])
        paths = [env.get("LATCH_TLS_KEY"), env.get("LATCH_JWT_KEY_FILE")]
        args = list(self.custom_args or [])
        for flag in ("--tls-key", "--jwt-key-file"):
            if flag in args and args.index(flag) + 1 < len(args):
                paths.append(args[args.index(flag) + 1])
        for path in paths:
            if path:
                note_key_file("key file", path)
        note_data_dir(self.data_dir)

    def _forget(self):
        if self in _live_servers:
            _live_servers.remove(self)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, check=True):
        """Stops the server; returns its exit code.  With check, a non-zero
        exit or a server that needs SIGKILL raises AssertionError."""
        if self.proc is None:
            return None
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait()
        for drain in self._drains:
            drain.thread.join(2)
        rc = self.proc.returncode
        self.last_exit_code = rc
        note_data_dir(self.data_dir)
        self.lines.append(("harness", "--- exit code %s%s" % (rc, " (SIGKILL)" if killed else "")))
        self._forget()
        self.proc = None
        if check:
            if killed:
                raise AssertionError("latch did not exit within %ss of %s:\n%s"
                                     % (STOP_TIMEOUT_S, signal.Signals(sig).name, self.log_tail()))
            if rc != 0:
                raise AssertionError("latch exited with %s after %s (want 0):\n%s"
                                     % (rc, signal.Signals(sig).name, self.log_tail()))
            reports = self.sanitizer_reports()
            if reports:
                raise AssertionError("sanitizer report in latch's output: %s\n%s"
                                     % (reports[0], self.log_tail()))
            reports = self.valgrind_reports()
            if reports:
                raise AssertionError("valgrind: %s (log %s):\n%s"
                                     % (reports[0], self.valgrind_logs[-1],
                                        "\n".join(reports[1:40])))
        return rc

    def sanitizer_reports(self):
        """Lines where ASan/UBSan/LSan reported a problem (they may not abort)."""
        pattern = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:")
        return [line for stream, line in self.lines
                if stream != "harness" and pattern.search(line)]

    def kill(self):
        note_data_dir(self.data_dir)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._forget()
        self.proc = None

    def restart(self, env=None):
        """Stops (asserting exit 0) and starts again on the same data dir."""
        self.stop()
        if env is not None:
            self.extra_env.update(env)
        return self.start()

    def remove_data_dir(self):
        note_data_dir(self.data_dir)
        if backend.POSTGRES and self.own_data_dir and self.data_dir:
            try:
                for entry in backend.keys_doc(self.data_dir)["keys"]:
                    note_key_text("key material", entry["material"])
            except Exception:
                pass
        if self.own_data_dir and self.data_dir:
            backend.release(self.data_dir)
        if self.own_data_dir and self.data_dir and os.path.isdir(self.data_dir):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def close(self, check=True):
        """stop() and remove the data dir (even when stop() fails)."""
        try:
            self.stop(check=check)
        finally:
            self.kill()
            self.remove_data_dir()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.close(check=exc_type is None)
        return False

    def log_text(self):
        """Everything the server wrote (stdout and stderr), harness notes excluded."""
        return "\n".join(line for stream, line in self.lines if stream != "harness")

    def log_tail(self, n=40):
        return "\n".join("  [%s] %s" % (stream, line) for stream, line in self.lines[-n:])

    # -- HTTP --------------------------------------------------------------

    @property
    def url(self):
        return "%s://%s:%d" % (self.scheme, self.host, self.port)

    @property
    def address(self):
        host = self.host.strip("[]")
        return (host, self.port)

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        session = kwargs.pop("session", None) or requests
        return session.request(method, self.url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def post_json(self, path, obj, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("Content-Type", "application/json")
        return self.post(path, data=json.dumps(obj).encode("utf-8"), headers=headers, **kwargs)

    def register(self, email=None, password="correct horse battery", **kwargs):
        if email is None:
            email = unique_email()
        return self.post_json("/register", {"email": email, "password": password}, **kwargs)

    def login(self, email, password="correct horse battery", **kwargs):
        return self.post_json("/login", {"email": email, "password": password}, **kwargs)

    def profile(self, token=None, scheme="Bearer", headers=None, **kwargs):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "%s %s" % (scheme, token) if scheme else token
        return self.get("/profile", headers=headers, **kwargs)

    def new_user(self, password="correct horse battery", prefix="user"):
        """Registers a user and logs in; returns (user_json, email, token)."""
        email = unique_email(prefix)
        reg = self.register(email, password)
        if reg.status_code != 201:
            raise AssertionError("register %s: %s %s" % (email, reg.status_code, reg.text))
        login = self.login(email, password)
        if login.status_code != 200:
            raise AssertionError("login %s: %s %s" % (email, login.status_code, login.text))
        return reg.json(), email, login.json()["token"]

    def healthy(self):
        resp = self.get("/healthz")
        return resp.status_code == 200 and resp.json() == {"status": "ok"}

    # -- data dir ------------------------------------------------------------

    def secret_path(self):
        """The key file: keys.json holds every generated signing key."""
        return os.path.join(self.data_dir, "keys.json")

    def signing_entry(self):
        """The keys.json entry that signs now (the newest started one)."""
        doc = backend.keys_doc(self.store_dir())
        now = time.time()
        started = [k for k in doc["keys"] if k["signs_from"] <= now]
        if not started:
            raise FileNotFoundError("no generated signing key for %s" % self.data_dir)
        return max(started, key=lambda k: (k["signs_from"], k["created_at"]))

    def secret(self):
        """The generated HS256 signing secret: its text, used verbatim as bytes."""
        material = self.signing_entry()["material"]
        note_key_text("key material", material)
        return material.encode("ascii")

    def kid(self):
        return self.signing_entry()["kid"]

    def assert_keys_at_rest_protected(self, test):
        """SQLite: keys.json is mode 0600.  PostgreSQL: no key material is in
        the database in clear (it is sealed under the master key)."""
        if backend.POSTGRES:
            materials = [k["material"].encode() for k in self.keys_doc()["keys"]]
            test.assertTrue(materials, "no keys in the database")
            for (sealed,) in store_query(self, "SELECT sealed FROM keys"):
                for material in materials:
                    test.assertNotIn(material[:32], bytes(sealed))
            return
        mode = os.stat(self.secret_path()).st_mode & 0o777
        test.assertEqual(mode, 0o600, "keys.json mode %o" % mode)

    def keys_doc(self):
        return backend.keys_doc(self.store_dir())

    def raw(self, data, **kwargs):
        return raw_exchange(self.address, data, **kwargs)


def run_latch(args, stdin_text=None, env=None, timeout=30):
    """Runs `latch ARGS...` to completion (CLI subcommands, refused starts).

    Returns subprocess.CompletedProcess with text stdout/stderr.  A serve that
    unexpectedly starts listening is killed after timeout."""
    if not os.path.exists(LATCH_BIN):
        raise StartupError("latch binary not found at %s (set LATCH_BIN)" % LATCH_BIN)
    extra = {}
    # A command on a server's data dir reaches that server's store (made
    # now when the command runs before the server's first start).
    if "--data-dir" in args and list(args).index("--data-dir") + 1 < len(args):
        extra.update(backend.provision(args[list(args).index("--data-dir") + 1]))
    extra.update(env or {})
    full_env = latch_environment(extra)
    argv = [LATCH_BIN] + list(args)
    if stdin_text:
        for line in stdin_text.splitlines():
            note_secret("cli stdin password", line)
    for name in ("LATCH_JWT_SECRET", "LATCH_METRICS_TOKEN"):
        if full_env.get(name):
            note_secret(name, full_env[name])
    vg_log = None
    if VALGRIND:
        fd, vg_log = tempfile.mkstemp(prefix="latch-cli-", suffix=".vg.log",
                                      dir=_valgrind_log_dir())
        os.close(fd)
        argv = [VALGRIND_CMD] + VALGRIND_OPTS + ["--log-file=" + vg_log] + argv
        timeout = timeout * TIME_SCALE
    try:
        proc = subprocess.run(argv, input=stdin_text, env=full_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace", timeout=timeout, cwd=REPO_ROOT,
                              stdin=None if stdin_text is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("latch %s did not exit within %ss (stderr: %r)"
                             % (" ".join(args), timeout, e.stderr))
    # `latch mail list` prints the waiting mails on purpose, links included
    # (its job, behind the master key): its stdout is that output, not a
    # log; its stderr is checked like every other command's.
    shown = "" if list(args[:2]) == ["mail", "list"] else proc.stdout
    CLI_LOGS.append(("latch %s" % " ".join(args), "%s\n%s" % (shown, proc.stderr)))
    for i, arg in enumerate(args):
        if arg in ("--data-dir",) and i + 1 < len(args):
            note_data_dir(args[i + 1])
    if vg_log is not None:
        reports = valgrind_log_problems(vg_log)
        if reports:
            raise AssertionError("valgrind, latch %s: %s (log %s):\n%s"
                                 % (" ".join(args), reports[0], vg_log,
                                    "\n".join(reports[1:40])))
    return proc


# latch-probe (tests/tools/probe.c): the test driver of the issue-11 building
# blocks (mail, TOTP, QR), built beside the latch binary by `make test`.
PROBE_BIN = os.environ.get("LATCH_PROBE_BIN",
                           os.path.join(os.path.dirname(LATCH_BIN), "latch-probe"))


def run_probe(args, timeout=60):
    """Runs `latch-probe ARGS...`; returns subprocess.CompletedProcess (text).
    Skips under valgrind when the probe was not built there."""
    if not os.path.exists(PROBE_BIN):
        if VALGRIND:
            raise unittest.SkipTest("latch-probe is built for the sanitizer build only")
        raise AssertionError("latch-probe not found at %s (make %s)" % (PROBE_BIN, PROBE_BIN))
    try:
        return subprocess.run([PROBE_BIN] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=timeout * TIME_SCALE, cwd=REPO_ROOT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("latch-probe %s did not exit within %ss (stderr: %r)"
                             % (" ".join(args[:1]), timeout, e.stderr))


def make_admin(srv, password="admin password 1", env=None):
    """Creates an admin with the CLI on srv's data dir and logs in:
    (email, login body)."""
    email = unique_email("admin")
    result = user_add(srv.data_dir, email, password, role="admin", env=env)
    if result.returncode != 0:
        raise AssertionError("latch user add: %s %s" % (result.stdout, result.stderr))
    login = srv.login(email, password)
    if login.status_code != 200:
        raise AssertionError("admin login: %s %s" % (login.status_code, login.text))
    return email, login.json()


def admin_req(srv, method, path, token=None, body=None):
    """An admin API request with an optional bearer token and JSON body."""
    headers = bearer(token) if token is not None else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
        return srv.request(method, path, headers=headers,
                           data=json.dumps(body).encode("utf-8"))
    return srv.request(method, path, headers=headers)


def store_query(server, sql, params=(), write=False):
    """Rows of a query (? placeholders) on a server's store, SQLite or
    PostgreSQL, as a list of tuples."""
    return backend.query(server.store_dir(), sql, params, write=write)


def user_add(data_dir, email, password, role="admin", env=None):
    """`latch user add --data-dir D --email E --role R`, password on stdin."""
    return run_latch(["user", "add", "--data-dir", data_dir, "--email", email, "--role", role],
                     stdin_text=password + "\n", env=env)


# -- raw HTTP over sockets ---------------------------------------------------

class RawResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name-lowercased, value)
        self.body = body
        self.raw = raw

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "RawResponse(%s, %r)" % (self.status, self.raw[:300])


class RawConnection:
    """A plain TCP connection for requests that requests/urllib3 cannot send."""

    def __init__(self, address, timeout=HTTP_TIMEOUT_S):
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buf = b""
        # The requests sent, so that each response read is validated
        # against docs/openapi.yaml as the answer to its request.
        self.requests = openapi_check.RequestTracker()
        self.listener = latch_listener(address[0], address[1])

    def send(self, data):
        try:
            _note_raw_request(data)
        except Exception:
            pass
        self.requests.sent(data)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def read_response(self, head_request=False):
        """Reads one response; returns RawResponse.  Raises EOFError if the
        server closed the connection before a full response head."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        hdict = dict(headers)
        body = b""
        if head_request or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in hdict.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._fill()
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        elif "content-length" in hdict:
            length = int(hdict["content-length"])
            while len(self.buf) < length:
                self._fill()
            body, self.buf = self.buf[:length], self.buf[length:]
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        try:
            _note_headers(headers, "received raw")
            _note_json_body(body, "received raw")
        except Exception:
            pass
        # An interim 1xx answers no request by itself.
        sent = self.requests.next_request() if status >= 200 else None
        if sent is not None:
            validate_response(self.listener, sent[0], sent[1], status, headers, body)
        return RawResponse(status, reason, headers, body, head + b"\r\n\r\n" + body)

    def closed_by_peer(self, wait_s=2.0):
        """True if the server closes the connection (EOF or reset) within wait_s."""
        self.sock.settimeout(wait_s)
        try:
            data = self.sock.recv(65536)
            self.buf += data
            return data == b""
        except socket.timeout:
            return False
        except ConnectionError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def validate_raw(address, sent, received):
    """For a test with a socket of its own: validates the first response in
    received (when it parses as HTTP) as the answer to the first request in
    sent, against docs/openapi.yaml (raises openapi_check.Mismatch)."""
    listener = latch_listener(address[0], address[1])
    tracker = openapi_check.RequestTracker()
    tracker.sent(sent)
    request = tracker.next_request()
    if listener is None or request is None or b"\r\n\r\n" not in received:
        return
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    length = dict(headers).get("content-length", "")
    body = b"" if request[0] == "HEAD" else (rest[:int(length)] if length.isdigit() else rest)
    validate_response(listener, request[0], request[1], int(parts[1]), headers, body)


def raw_exchange(address, data, head_request=False, timeout=HTTP_TIMEOUT_S):
    """Sends data on a fresh connection and reads one response."""
    with RawConnection(address, timeout=timeout) as conn:
        conn.send(data)
        return conn.read_response(head_request=head_request)


def http_request_bytes(method, path, headers=None, body=None, version="HTTP/1.1",
                       host="127.0.0.1"):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for name, value in (headers or []):
        lines.append("%s: %s" % (name, value))
    if body is not None and not any(n.lower() in ("content-length", "transfer-encoding")
                                    for n, _ in (headers or [])):
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


# -- JWS crafting (independent of python-jwt, so malformed tokens are possible)

def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    text += "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _segment(part):
    if isinstance(part, (bytes, str)):
        return b64url(part)        # hand-written JSON, sent exactly as given
    return b64url(json.dumps(part, separators=(",", ":")))


HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def sign(signing_input, key, alg="HS256"):
    if isinstance(key, str):
        key = key.encode("utf-8")
    return b64url(hmac.new(key, signing_input.encode("ascii"), HASHES[alg]).digest())


def mint(payload, key, header=None, alg="HS256"):
    """A JWS compact token.  payload / header: a dict (compact JSON) or a
    str/bytes of hand-written JSON.  The MAC uses `alg` (HS256/384/512),
    whatever the header claims."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
    signing_input = _segment(header) + "." + _segment(payload)
    return signing_input + "." + sign(signing_input, key, alg)


def claims_for(user_id, role="user", email=None, now=None, ttl=900, issuer="latch", **extra):
    now = int(time.time()) if now is None else now
    claims = {"sub": str(user_id), "userId": user_id, "role": role,
              "iat": now, "exp": now + ttl, "iss": issuer,
              "jti": b64url(os.urandom(16))}
    if email is not None:
        claims["email"] = email
    claims.update(extra)
    return claims


def split_token(token):
    return token.split(".")


def decode_segment(segment):
    return json.loads(b64url_decode(segment))


# -- assertions ----------------------------------------------------------------

INVALID_TOKEN = {"error": "Unauthorized", "message": "Invalid or expired token"}
MISSING_TOKEN = {"error": "Unauthorized", "message": "Missing token"}
BAD_LOGIN = {"error": "Unauthorized", "message": "Invalid email or password"}
EMAIL_TAKEN = {"error": "Conflict", "message": "Email already registered"}


def _describe(resp):
    return "%s %s\n  headers: %s\n  body: %r" % (
        resp.status_code, resp.reason, dict(resp.headers), resp.content[:500])


def _www_authenticate_params(value):
    """Splits 'Bearer a="b", c="d"' into ('bearer', {'a': 'b', 'c': 'd'})."""
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    for match in re.finditer(r'([A-Za-z0-9_\-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]+)', rest):
        params[match.group(1).lower()] = (match.group(3) if match.group(3) is not None
                                          else match.group(2))
    return scheme.lower(), params


class LatchTestCase(unittest.TestCase):
    maxDiff = 4000

    def assertJson(self, resp, status, body=None):
        """Status, Content-Type application/json, and (if given) the exact body."""
        self.assertEqual(resp.status_code, status, "want %s, got %s" % (status, _describe(resp)))
        ctype = resp.headers.get("Content-Type", "")
        self.assertEqual(ctype.split(";")[0].strip().lower(), "application/json",
                         "Content-Type: %s" % _describe(resp))
        try:
            parsed = resp.json()
        except ValueError:
            self.fail("body is not JSON: %s" % _describe(resp))
        if body is not None:
            self.assertEqual(parsed, body, "body of %s" % _describe(resp))
        return parsed

    def assertError(self, resp, status, error, message=None):
        """The {"error","message"} shape: exactly these two string keys."""
        parsed = self.assertJson(resp, status)
        self.assertIsInstance(parsed, dict, _describe(resp))
        self.assertEqual(sorted(parsed), ["error", "message"], "error shape: %s" % _describe(resp))
        if isinstance(error, (tuple, list)):
            self.assertIn(parsed["error"], error, _describe(resp))
        else:
            self.assertEqual(parsed["error"], error, _describe(resp))
        self.assertIsInstance(parsed["message"], str)
        self.assertTrue(parsed["message"], "empty message: %s" % _describe(resp))
        if message is not None:
            self.assertEqual(parsed["message"], message, _describe(resp))
        return parsed

    def assertBadRequest(self, resp):
        return self.assertError(resp, 400, "Bad Request")

    def assertMissingToken(self, resp):
        self.assertJson(resp, 401, MISSING_TOKEN)
        value = resp.headers.get("WWW-Authenticate")
        self.assertIsNotNone(value, "no WWW-Authenticate: %s" % _describe(resp))
        scheme, params = _www_authenticate_params(value)
        self.assertEqual(scheme, "bearer", "WWW-Authenticate: %r" % value)
        self.assertNotIn("error", params,
                         "no error param when no token was sent (RFC 6750 3.1): %r" % value)

    def assertInvalidToken(self, resp):
        self.assertJson(resp, 401, INVALID_TOKEN)
        value = resp.headers.get("WWW-Authenticate")
        self.assertIsNotNone(value, "no WWW-Authenticate: %s" % _describe(resp))
        scheme, params = _www_authenticate_params(value)
        self.assertEqual(scheme, "bearer", "WWW-Authenticate: %r" % value)
        self.assertEqual(params.get("error"), "invalid_token", "WWW-Authenticate: %r" % value)

    def assertProfileOk(self, resp, user=None):
        body = self.assertJson(resp, 200)
        self.assertEqual(sorted(body), ["created_at", "email", "email_verified", "id", "mfa",
                                        "role"], _describe(resp))
        if user is not None:
            self.assertEqual(body["id"], user["id"])
            self.assertEqual(body["email"], user["email"])
            self.assertEqual(body["role"], user["role"])
        return body

    def assertRawError(self, resp, status, error):
        self.assertEqual(resp.status, status, repr(resp))
        ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json", repr(resp))
        body = resp.json()
        self.assertEqual(sorted(body), ["error", "message"], repr(resp))
        self.assertEqual(body["error"], error, repr(resp))


def start_module_server(env=None):
    """For setUpModule: starts a shared server, stopped by stop_module_server."""
    server = LatchServer(env=env)
    try:
        return server.start()
    except BaseException:
        server.kill()
        server.remove_data_dir()
        raise


def stop_module_server(server):
    if server is not None:
        server.close()


def start_refused(env=None, args=None):
    """Starts `latch serve` expecting it to refuse: returns (exit code, output).
    Raises AssertionError if it starts listening instead (it is then stopped)."""
    server = LatchServer(env=env, args=args)
    try:
        server.start()
    except StartupError:
        reports = server.valgrind_reports()
        if reports:
            raise AssertionError("valgrind, on a refused start: %s (log %s):\n%s"
                                 % (reports[0], server.valgrind_logs[-1],
                                    "\n".join(reports[1:40])))
        return server.last_exit_code, server.log_text()
    finally:
        server.kill()
        server.remove_data_dir()
    raise AssertionError("latch started (listening on %s) but should have refused:\n%s"
                         % (server.port, server.log_tail()))


# -- token lifecycle (sessions, refresh, revocation, brute force) ------------

import http.cookiejar  # noqa: E402
import requests.adapters  # noqa: E402

REFRESH_INVALID = {"error": "Unauthorized", "message": "Invalid or expired refresh token"}
TOO_MANY = {"error": "Too Many Requests", "message": "Too many attempts, try again later"}
INSUFFICIENT_ROLE = {"error": "Forbidden", "message": "Insufficient role"}
CSRF_REFUSED = {"error": "Forbidden", "message": "Cross-site request refused"}
LAST_ADMIN = {"error": "Conflict", "message": "At least one enabled admin must remain"}
OPAQUE_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def bearer(token):
    return {"Authorization": "Bearer %s" % token}


class _SourceAddressAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source_ip, **kwargs):
        self._source_address = (source_ip, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self._source_address
        super().init_poolmanager(*args, **kwargs)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):
        return False


def bound_session(source_ip):
    """A requests.Session whose connections leave from source_ip (on Linux
    every 127.x.y.z is a loopback source address).  Pass it to
    LatchServer.request(..., session=S); it keeps no cookies."""
    session = requests.Session()
    session.cookies.set_policy(_NoCookies())
    adapter = _SourceAddressAdapter(source_ip)
    session.mount("http://", adapter)
    return session


def until_second_start(max_fraction=0.2):
    """Sleeps until just after a wall-clock second begins (latch counts
    whole seconds), so that a short sequence runs within one second."""
    frac = time.time() % 1.0
    if frac > max_fraction:
        time.sleep(1.0 - frac + 0.01)


# -- asymmetric keys, JWKS, rotation, metrics (issue 4) ------------------------

TESTS_DIR = os.path.join(REPO_ROOT, "tests")
JOSE_TOOL = os.path.join(TESTS_DIR, "integration", "js", "jose_tool.mjs")
ASYM_ALGS = ("EdDSA", "ES256", "RS256")
# Members of a JWK that hold private or symmetric key material (RFC 7518 6).
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
# RFC 7638 3.2: the required members of each key type, in the thumbprint.
THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"),
                      "RSA": ("e", "kty", "n")}
GENPKEY_ARGS = {"EdDSA": ["-algorithm", "ed25519"],
                "ES256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "RS256": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]}


def rfc7638_thumbprint(jwk):
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) computed here."""
    members = THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"),
                           sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def genpkey(alg, path, mode=0o600, rsa_bits=None):
    """Writes a fresh private key (PKCS#8 PEM) for alg with `openssl genpkey`."""
    if rsa_bits is not None:
        args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % rsa_bits]
    else:
        args = list(GENPKEY_ARGS[alg])
    subprocess.run(["openssl", "genpkey"] + args + ["-out", path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.chmod(path, mode)
    with open(path, "rb") as f:
        return f.read()


def new_private_key(alg):
    """A fresh private key object (python3-cryptography) for alg."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(alg)


def load_private_pem(pem):
    from cryptography.hazmat.primitives import serialization
    if isinstance(pem, str):
        pem = pem.encode("ascii")
    return serialization.load_pem_private_key(pem, password=None)


def private_pem(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_pem(key):
    """SubjectPublicKeyInfo PEM bytes of a private or public key."""
    from cryptography.hazmat.primitives import serialization
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_der(key):
    from cryptography.hazmat.primitives import serialization
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_jwk(key, alg):
    """The public JWK (kty/crv/x/y/n/e only) of a key, computed here."""
    from cryptography.hazmat.primitives import serialization
    pub = key.public_key() if hasattr(key, "public_key") else key

    def n2b(n, size=None):
        size = size or (n.bit_length() + 7) // 8
        return b64url(n.to_bytes(size, "big"))
    if alg == "EdDSA":
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    numbers = pub.public_numbers()
    if alg == "ES256":
        return {"kty": "EC", "crv": "P-256", "x": n2b(numbers.x, 32), "y": n2b(numbers.y, 32)}
    return {"kty": "RSA", "n": n2b(numbers.n), "e": n2b(numbers.e)}


def asym_signature(signing_input, key, alg, der=False):
    """The JWS signature bytes of signing_input (str) with a private key;
    ES256 in the raw r||s form unless der."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    data = signing_input.encode("ascii")
    if alg == "EdDSA":
        return key.sign(data)
    if alg == "ES256":
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if der:
            return sig
        r, s = decode_dss_signature(sig)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(alg)


def mint_asym(payload, key, alg, kid=None, header=None, der=False):
    """A JWS signed with an asymmetric private key (python3-cryptography).
    payload / header: dict or hand-written JSON text, as for mint()."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
    signing_input = _segment(header) + "." + _segment(payload)
    return signing_input + "." + b64url(asym_signature(signing_input, key, alg, der=der))


def mint_hmac_raw(payload, key_bytes, header):
    """An HS256 JWS whose MAC key is key_bytes (algorithm confusion)."""
    signing_input = _segment(header) + "." + _segment(payload)
    mac = hmac.new(key_bytes, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def _npm_missing():
    """The packages of tests/package.json that tests/node_modules lacks, or
    holds in another version than the one pinned."""
    with open(os.path.join(TESTS_DIR, "package.json"), "rb") as f:
        wanted = json.loads(f.read()).get("dependencies", {})
    missing = []
    for name, version in sorted(wanted.items()):
        try:
            with open(os.path.join(TESTS_DIR, "node_modules", name, "package.json"), "rb") as f:
                if json.loads(f.read()).get("version") == version:
                    continue
        except (OSError, ValueError):
            pass
        missing.append(name)
    return missing


def npm_ready():
    """Installs tests/node_modules from package-lock.json when a package of
    tests/package.json is missing or outdated (`npm ci`, quietly).  Returns
    None when ready, else the reason."""
    if not _npm_missing():
        return None
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    proc = subprocess.run(["npm", "ci", "--prefix", TESTS_DIR, "--no-audit", "--no-fund",
                           "--loglevel=error"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    missing = _npm_missing()
    if proc.returncode != 0 or missing:
        raise AssertionError("npm ci --prefix tests failed (missing: %s):\n%s"
                             % (", ".join(missing), proc.stdout[-2000:]))
    return None


def jose_tool(requests_list, timeout=60):
    """Runs tests/integration/js/jose_tool.mjs (npm `jose`) on a list of
    requests; returns its list of results."""
    proc = subprocess.run(["node", JOSE_TOOL], input=json.dumps(requests_list),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=TESTS_DIR)
    if proc.returncode != 0:
        raise AssertionError("jose_tool.mjs exited with %s: %s"
                             % (proc.returncode, proc.stderr[-2000:]))
    return json.loads(proc.stdout)


# -- the lesson page in a real browser (issue 13) ---------------------------------

# Debian's chromium (scripts/deps.sh test installs it); LATCH_CHROMIUM may name
# another Chromium binary.
CHROMIUM = os.environ.get("LATCH_CHROMIUM", "/usr/bin/chromium")
UI_FLOW = os.path.join(TESTS_DIR, "integration", "js", "ui_flow.mjs")


def browser_ready():
    """None when Chromium and playwright-core (npm) are there, else the
    reason to skip: only a Chromium that could not be installed is one."""
    if not os.access(CHROMIUM, os.X_OK):
        return ("Chromium is not installed at %s: scripts/deps.sh test installs Debian's "
                "chromium (apt-get install chromium); it could not here" % CHROMIUM)
    return npm_ready()


def ui_flow(request, timeout=180):
    """Runs tests/integration/js/ui_flow.mjs (playwright-core driving
    Chromium) with one request; returns its result."""
    env = dict(os.environ)
    env["LATCH_CHROMIUM"] = CHROMIUM
    proc = subprocess.run(["node", UI_FLOW], input=json.dumps(request), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout * TIME_SCALE,
                          cwd=TESTS_DIR, env=env)
    if proc.returncode != 0:
        raise AssertionError("ui_flow.mjs exited with %s: %s"
                             % (proc.returncode, proc.stderr[-3000:]))
    return json.loads(proc.stdout)


def jwks_of(server):
    resp = server.get("/.well-known/jwks.json")
    if resp.status_code != 200:
        raise AssertionError("GET /.well-known/jwks.json: %s %s"
                             % (resp.status_code, resp.text[:300]))
    return resp.json()


def jwks_kids(server):
    return [k.get("kid") for k in jwks_of(server)["keys"]]


def key_list(data_dir, env=None):
    """`latch key list --data-dir D`: {kid: (alg, state)} (exit code checked)."""
    proc = run_latch(["key", "list", "--data-dir", data_dir], env=env)
    if proc.returncode != 0:
        raise AssertionError("latch key list exited with %s: %s"
                             % (proc.returncode, proc.stderr))
    keys = {}
    for line in proc.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:
            keys[fields[0]] = (fields[1], fields[-1])
    return keys


def key_rotate(data_dir, env=None):
    """`latch key rotate --data-dir D`: the CompletedProcess."""
    return run_latch(["key", "rotate", "--data-dir", data_dir], env=env)


def keys_file(data_dir):
    """The signing keys as keys.json holds them (unsealed from the database
    on PostgreSQL)."""
    return backend.keys_doc(data_dir)


def key_entry(data_dir, kid):
    for entry in keys_file(data_dir)["keys"]:
        if entry["kid"] == kid:
            return entry
    raise AssertionError("no key %s in %s/keys.json" % (kid, data_dir))


def metrics(server):
    """GET /metrics parsed into {name: number} (Prometheus text, no labels)."""
    resp = server.get("/metrics")
    if resp.status_code != 200:
        raise AssertionError("GET /metrics: %s %s" % (resp.status_code, resp.text[:300]))
    values = {}
    for line in resp.text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        values[name.strip()] = float(value)
    return values


def token_header(token):
    return decode_segment(token.split(".")[0])


def token_payload(token):
    return decode_segment(token.split(".")[1])
