"""Malformed-request corpus (issue 5, "Hostile load"): every raw request in
CORPUS goes out on a fresh socket and must get a 4xx status or a close --
never a 5xx, never a hang (socket timeouts bound every wait) -- and the
server answers /healthz after each one.  At the end SIGTERM must stop it with
exit code 0 and no ASan/UBSan report (LatchServer.stop checks both).

The third column of CORPUS says which outcome is expected and who produces
it (see the legend above CORPUS), so a change of who answers is noticed and
the documentation can follow.  One 5xx is allowed: libmicrohttpd's own 505
for an HTTP/2 preface or HTTP/3.0 request line (the status RFC 9110 15.6.6
defines for an unsupported major version; nothing failed in the server).

Rows with an RFC reference in a comment are MUSTs that libmicrohttpd 0.9.75
lets through and latch's check_headers (src/http/server.c) has to enforce:
whitespace before a header colon, two Host headers, a Transfer-Encoding
other than "chunked".  Two known library limitations latch cannot see
through the 0.9.75 API are expected failures (an unexpected success means
the library changed): a NUL after a valid path, a NUL inside a header value.

Cases libmicrohttpd answers by itself (observed with 0.9.75, HTML body):
  - binary garbage ending in CRLF, request line without version (incl.
    HTTP/0.9 "GET /path"), unknown protocol name "HTTQ/1.1"     -> 400
  - HTTP/2 preface "PRI * HTTP/2.0", "HTTP/3.0"                 -> 505
  - request line longer than the connection's memory pool (2 MiB) -> 414
  - header line without a colon, NUL byte in a header name      -> 400
  - one header line longer than the memory pool (64 KiB)        -> 431
  - Content-Length that overflows 64 bits                       -> 413
  - negative / non-numeric Content-Length                       -> 400
    (these two send their status line and headers twice: see
    test_mhd_content_length_error_is_one_well_formed_response)
  - chunked body: non-hex, negative or too-small chunk size     -> 400
  - chunked body: chunk size overflowing 64 bits                -> 413
Closed by libmicrohttpd without an answer: a request line of control
bytes ("\x01\x02garbage...").  Waited on until the idle timeout (no
complete request line): only CRLFs, a TLS ClientHello.
Everything else in CORPUS that gets a 4xx gets latch's JSON (405 for unknown
methods, 404, 400 Missing Host / Content-Length+Transfer-Encoding / repeated
Content-Length / bad JSON, 413, 415, 431 for >100 headers or >8 KiB).
"""

import json
import os
import socket
import sys
import time
import unittest

import harness
from harness import LatchTestCase, http_request_bytes

SERVER = None
IDLE_TIMEOUT_S = 2        # the server's LATCH_IDLE_TIMEOUT_S for this module
CASE_TIMEOUT_S = 6.0      # no answer and no close within this: a hang

# Prints a table of what each case got (to stderr) when set: for documenting.
PROBE = os.environ.get("LATCH_MALFORMED_PROBE") == "1"


def setUpModule():
    global SERVER
    # A short idle timeout, so that a case where the server rightly waits for
    # the rest of a request ("idle") ends in a close within a few seconds.
    SERVER = harness.start_module_server(env={"LATCH_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S)})


def tearDownModule():
    # stop() asserts exit code 0 and no sanitizer report.
    harness.stop_module_server(SERVER)


def _post(path, body, ctype="application/json", extra=None):
    headers = [("Content-Type", ctype)] + list(extra or [])
    return http_request_bytes("POST", path, headers=headers, body=body)


def _chunked(path, chunks_raw):
    return http_request_bytes("POST", path, headers=[
        ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]) + chunks_raw


TLS_CLIENT_HELLO = bytes.fromhex(
    # TLS 1.0 record, handshake, ClientHello (TLS 1.2), random, no session,
    # two cipher suites, null compression, no extensions.
    "16030100310100002d0303") + b"\x11" * 32 + bytes.fromhex("000004c02fc030010000")

# (name, raw bytes, expected outcome).  Outcomes:
#   "latch"  a 4xx with latch's JSON error body
#   "mhd"    a 4xx that libmicrohttpd sends by itself (HTML or empty body)
#   "close"  the connection is closed without an answer
#   "idle"   no complete request was received, so the server waits for the
#            rest; the idle timeout (2 s for this module) closes it, no answer
# (anything else -- "hang", a 5xx, a 2xx where not listed -- fails)
#   "2xx"    valid by RFC 9112 (a lenient but allowed reading): answered normally
#   "505"    HTTP/2 preface: libmicrohttpd answers 505 HTTP Version Not Supported
#            by itself (RFC 9110 15.6.6) -- the one 5xx allowed, see the report
# A tuple allows either.  A status column would be brittle between library
# versions; the rule is "4xx or close", "expected" records who produces it.
CORPUS = [
    # -- request line ----------------------------------------------------------
    ("garbage_request_line", b"\x01\x02garbage\xff\xfe\r\n\r\n", ("mhd", "close")),
    ("random_binary_with_crlf", bytes(range(256)) + b"\r\n\r\n", ("mhd", "close")),
    ("only_crlf", b"\r\n\r\n\r\n\r\n", "idle"),
    ("request_line_two_tokens", b"GET /healthz\r\nHost: x\r\n\r\n", "mhd"),
    ("request_line_too_many_spaces", b"GET  /healthz  HTTP/1.1\r\nHost: x\r\n\r\n",
     ("mhd", "latch")),
    ("bad_version_string", b"GET /healthz HTTQ/1.1\r\nHost: x\r\n\r\n", "mhd"),
    ("version_1_9", b"GET /healthz HTTP/1.9\r\nHost: x\r\n\r\n", "2xx"),  # RFC 9112 2.3
    ("version_3_0", b"GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", ("mhd", "505")),
    ("bad_method_brew", b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "latch"),
    ("bad_method_lowercase_get", b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "latch"),
    ("bad_method_binary", b"G\x7fT /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ("mhd", "latch")),
    ("bad_method_connect", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", "latch"),
    ("bad_method_4k_long", b"A" * 4096 + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
     ("mhd", "latch")),
    ("nul_in_request_line_path", b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n",
     ("mhd", "latch")),
    ("nul_in_method", b"GE\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ("mhd", "latch")),
    ("request_line_2mib", b"GET /" + b"a" * (2 * 1024 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     ("mhd", "close")),
    ("http09_request", b"GET /healthz\r\n", ("mhd", "close", "idle")),
    ("http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ("505", "mhd", "close")),
    ("tls_client_hello", TLS_CLIENT_HELLO, ("idle", "mhd", "close")),
    ("http11_without_host", b"GET /healthz HTTP/1.1\r\n\r\n", "latch"),
    # -- headers ---------------------------------------------------------------
    ("header_without_colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
     "mhd"),
    # (a NUL inside a header value: test_nul_in_header_value_is_refused)
    ("nul_in_authorization", b"GET /profile HTTP/1.1\r\nHost: x\r\n"
     b"Authorization: Bearer x\x00y\r\n\r\n", ("mhd", "latch")),
    ("nul_in_header_name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n",
     ("mhd", "latch")),
    # RFC 9112 5.1: whitespace between field name and colon MUST get a 400.
    ("space_before_colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",
     ("mhd", "latch")),
    ("obs_fold_continuation", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
     ("mhd", "latch", "2xx")),    # RFC 9112 5.2: reject or replace by SP
    ("200_headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n", "latch"),
    ("header_bytes_over_8k", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
     + b"b" * 9000 + b"\r\n\r\n", "latch"),
    ("header_bytes_over_pool_64k", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
     + b"b" * 65536 + b"\r\n\r\n", ("mhd", "latch", "close")),
    # RFC 9112 3.2: more than one Host field line MUST get a 400.
    ("two_host_headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "latch"),
    ("bare_lf_line_endings", b"GET /healthz HTTP/1.1\nHost: x\n\n", ("2xx", "mhd")),  # 2.2: MAY
    # -- Content-Length / Transfer-Encoding --------------------------------------
    ("content_length_huge", b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
     b"\r\nContent-Length: 99999999999999999999\r\n\r\n{}", ("mhd", "latch")),
    ("content_length_2pow64", b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
     b"\r\nContent-Length: 18446744073709551616\r\n\r\n{}", ("mhd", "latch")),
    ("content_length_big_but_parseable", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 9999999999\r\n\r\n{}", "latch"),
    ("content_length_negative", b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
     b"\r\nContent-Length: -1\r\n\r\n{}", ("mhd", "latch")),
    ("content_length_not_a_number", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}", ("mhd", "latch")),
    ("content_length_twice_differing", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
     ("mhd", "latch")),
    ("content_length_and_chunked", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", "latch"),
    # RFC 9112 6.3: a Transfer-Encoding whose final coding is not chunked
    # MUST get a 400 and a close.
    ("transfer_encoding_gzip", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}",
     ("mhd", "latch", "close")),
    ("transfer_encoding_gzip_chunked", b"POST /login HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", ("mhd", "latch", "close")),
    ("chunk_size_not_hex", _chunked("/login", b"zz\r\nhello\r\n0\r\n\r\n"), "mhd"),
    ("chunk_size_negative", _chunked("/login", b"-5\r\nhello\r\n0\r\n\r\n"), "mhd"),
    ("chunk_size_overflowing", _chunked("/login", b"fffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
     "mhd"),
    ("chunk_size_too_small_for_data", _chunked("/login", b"1\r\nhello\r\n0\r\n\r\n"), "mhd"),
    ("chunked_over_16k", _chunked("/login", b"".join(b"400\r\n" + b"a" * 1024 + b"\r\n"
                                                     for _ in range(20)) + b"0\r\n\r\n"),
     "latch"),
    # -- JSON bodies ----------------------------------------------------------------
    ("json_invalid_utf8", _post("/register", b'{"email":"\xff\xfe@example.com",'
                                b'"password":"correct horse battery"}'), "latch"),
    ("json_overlong_utf8_slash", _post("/register", b'{"email":"a\xc0\xafb@example.com",'
                                       b'"password":"correct horse battery"}'), "latch"),
    ("json_lone_surrogate_escape", _post("/register", b'{"email":"\\ud800@example.com",'
                                         b'"password":"correct horse battery"}'), "latch"),
    ("json_nested_10k_brackets", _post("/register", b"[" * 10000), "latch"),
    ("json_nested_3k_objects", _post("/login", b'{"a":' * 3000), "latch"),
    ("json_nul_escape", _post("/register", b'{"email":"a\\u0000b@example.com",'
                              b'"password":"correct horse battery"}'), "latch"),
    ("json_raw_nul_byte", _post("/login", b'{"email":"a\x00b@example.com",'
                                b'"password":"correct horse battery"}'), "latch"),
    ("json_enormous_number", _post("/login", b'{"email":"a@example.com","password":"x","n":'
                                   + b"9" * 15000 + b"}"), "latch"),
    ("json_enormous_exponent", _post("/login", b'{"email":1e999999999999999999,'
                                     b'"password":"x"}'), "latch"),
    ("json_body_over_16k", _post("/register", b'{"email":"' + b"a" * 20000 + b'"}'), "latch"),
    ("json_truncated", _post("/login", b'{"email":"a@example.com","pass'), "latch"),
    ("json_wrong_content_type", _post("/login", b'{"email":"a@example.com","password":"x"}',
                                      ctype="text/plain"), "latch"),
]


def exchange(address, data, timeout=CASE_TIMEOUT_S):
    """Sends data on a fresh socket, then reads until the server closes or
    the timeout passes.  Returns (received bytes, closed, hung)."""
    sock = socket.create_connection(address, timeout=timeout)
    received = b""
    closed = False
    deadline = time.monotonic() + timeout
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            closed = True              # the server closed while we were sending
        while not closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
            if _complete_response(received):
                break
    finally:
        sock.close()
    # latch's answers here are checked against docs/openapi.yaml like every
    # other response of the suite (libmicrohttpd's own are exempt).
    harness.validate_raw(address, data, received)
    return received, closed


def _complete_response(data):
    """True when data holds a full response head and (Content-Length) body."""
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return False
    return False


def parse(received):
    """(status or None, content-type, body) of the first response in received."""
    if not received.startswith(b"HTTP/"):
        return None, "", received
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1])
    ctype = ""
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            ctype = value.strip().decode("latin-1").split(";")[0].strip().lower()
    return status, ctype, body


def who_answered(status, ctype, body):
    if status is None:
        return "close"
    if ctype == "application/json":
        try:
            doc = json.loads(body.decode("utf-8"))
            if isinstance(doc, dict) and sorted(doc) == ["error", "message"]:
                return "latch"
        except ValueError:
            pass
    return "mhd"


def outcome(received, closed):
    """Classifies what a case got: "latch", "mhd", "2xx", "505", other
    statuses as "status NNN", "close", or "idle" (nothing, still open:
    the caller tells a close by the idle timeout from a hang)."""
    status, ctype, body = parse(received)
    if status is None:
        return "close" if closed else "idle"
    if 200 <= status < 300:
        return "2xx"
    if status == 505:
        return "505"
    if not 400 <= status < 500:
        return "status %d" % status
    return who_answered(status, ctype, body)


class MalformedCorpus(LatchTestCase):
    def test_corpus(self):
        rows = []
        for name, data, expected in CORPUS:
            expected = expected if isinstance(expected, tuple) else (expected,)
            with self.subTest(case=name):
                started = time.monotonic()
                received, closed = exchange(SERVER.address, data)
                elapsed = time.monotonic() - started
                got = outcome(received, closed)
                if got == "close" and elapsed >= IDLE_TIMEOUT_S - 0.5:
                    got = "idle"       # closed by the idle timeout, not at once
                elif got == "idle":
                    got = "hang"       # not even the idle timeout closed it
                rows.append((name, parse(received)[0], got, elapsed, received[:70]))
                self.assertTrue(SERVER.running(),
                                "%s: latch exited:\n%s" % (name, SERVER.log_tail()))
                if received and parse(received)[0] is None:
                    self.fail("%s: answer is not HTTP: %r" % (name, received[:200]))
                self.assertIn(got, expected, "%s: want %s, got %s after %.1f s: %r"
                              % (name, " or ".join(expected), got, elapsed, received[:300]))
                self.assertTrue(SERVER.healthy(), "%s: /healthz fails afterwards" % name)
        if PROBE:
            sys.stderr.write("\nmalformed corpus (name, status, outcome, seconds, answer):\n")
            for row in rows:
                sys.stderr.write("  %-34s %-5s %-6s %.2fs %r\n" % row)
        # Every case left the server answering; it still answers a real request.
        _, _, token = SERVER.new_user(prefix="malformed")
        self.assertProfileOk(SERVER.profile(token))

    @unittest.expectedFailure
    def test_nul_after_valid_path_is_refused(self):
        """Known libmicrohttpd 0.9.75 limitation: the request target is cut at
        a NUL byte, so GET /healthz<NUL>x is served as /healthz (RFC 9112
        wants a 400).  latch cannot see the cut (no URL length in the API).
        An unexpected success here means the library now refuses it."""
        received, closed = exchange(SERVER.address,
                                    b"GET /healthz\x00junk HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(outcome(received, closed), ("mhd", "latch", "close"), repr(received[:200]))

    @unittest.expectedFailure
    def test_nul_in_header_value_is_refused(self):
        """RFC 9110 5.5: a NUL in a field value MUST be refused or replaced by
        SP.  libmicrohttpd 0.9.75 cuts the value at the NUL and reports the
        cut length as value_size too (it measures with strlen), so the
        strlen(value) != value_size check in tally_header never fires:
        "Authorization: Bearer <token><NUL>junk" is the token alone."""
        received, closed = exchange(SERVER.address, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                    b"X-A: a\x00b\r\n\r\n")
        self.assertIn(outcome(received, closed), ("mhd", "latch", "close"), repr(received[:200]))

    @unittest.expectedFailure
    def test_mhd_content_length_error_is_one_well_formed_response(self):
        """Known libmicrohttpd 0.9.75 bug: its own 400/413 for a bad
        Content-Length sends the status line and headers twice, so the
        declared Content-Length covers the second head, not the HTML body.
        Harmless (Connection: close follows) but malformed; an unexpected
        success here means the library was fixed."""
        received, closed = exchange(SERVER.address, b"POST /login HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 99999999999999999999\r\n\r\n{}")
        self.assertEqual(received.count(b"HTTP/1.1 "), 1, repr(received))
