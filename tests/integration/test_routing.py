"""Request checks in their contract order: 404, 405 (Allow), 413, 415, then
authentication, then validation; header limits (431); the protocol traps
latch rejected on top of libmicrohttpd 0.9.75, which its own HTTP layer
(issue 14) keeps rejecting; HEAD; keep-alive."""

import json

import requests

import harness
from harness import LatchTestCase, RawConnection, http_request_bytes, unique_email

SERVER = None

NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"
# RFC 9110 renamed 413 "Content Too Large"; either reason phrase is fine.
TOO_LARGE = ("Payload Too Large", "Content Too Large")
UNSUPPORTED = "Unsupported Media Type"
HEADERS_TOO_LARGE = "Request Header Fields Too Large"


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def allow_set(resp):
    value = resp.headers.get("Allow")
    if value is None:
        return None
    return {m.strip().upper() for m in value.split(",") if m.strip()}


def padded_register_body(email, total_bytes):
    """A valid register body padded with JSON whitespace to total_bytes."""
    body = json.dumps({"email": email, "password": "correct horse battery"})
    return (body[:-1] + " " * (total_bytes - len(body)) + "}").encode("ascii")


class NotFound(LatchTestCase):
    def test_unknown_path_404(self):
        self.assertError(SERVER.get("/nope"), 404, NOT_FOUND)

    def test_unknown_path_post_404(self):
        self.assertError(SERVER.post_json("/nope", {"a": 1}), 404, NOT_FOUND)

    def test_unknown_path_beats_413(self):
        # 20 KiB body to an unknown path: the path is checked first.
        resp = SERVER.post("/nope", data=b"x" * (20 * 1024),
                           headers={"Content-Type": "application/json"})
        self.assertError(resp, 404, NOT_FOUND)

    def test_unknown_path_beats_415(self):
        resp = SERVER.post("/nope", data=b"hello", headers={"Content-Type": "text/plain"})
        self.assertError(resp, 404, NOT_FOUND)


class MethodNotAllowed(LatchTestCase):
    def test_get_login_405_allow_post(self):
        resp = SERVER.get("/login")
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)
        allow = allow_set(resp)
        self.assertIsNotNone(allow, "405 without Allow")
        self.assertIn("POST", allow)
        self.assertFalse(allow & {"GET", "HEAD"}, "Allow: %s" % resp.headers.get("Allow"))

    def test_get_register_405_allow_post(self):
        resp = SERVER.get("/register")
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)
        self.assertIn("POST", allow_set(resp) or set())

    def test_post_profile_405_allow_get_head(self):
        resp = SERVER.post_json("/profile", {})
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)
        allow = allow_set(resp) or set()
        self.assertTrue({"GET", "HEAD"} <= allow, "Allow: %s" % resp.headers.get("Allow"))
        self.assertNotIn("POST", allow)

    def test_delete_healthz_405_allow_get_head(self):
        resp = SERVER.request("DELETE", "/healthz")
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)
        self.assertTrue({"GET", "HEAD"} <= (allow_set(resp) or set()))

    def test_405_beats_413(self):
        resp = SERVER.request("PUT", "/login", data=b"x" * (20 * 1024),
                              headers={"Content-Type": "application/json"})
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)

    def test_405_beats_415(self):
        resp = SERVER.request("PUT", "/register", data=b"hi",
                              headers={"Content-Type": "text/plain"})
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)

    def test_405_beats_401(self):
        # /profile is protected, yet the method is checked before the token.
        resp = SERVER.request("DELETE", "/profile")
        self.assertError(resp, 405, METHOD_NOT_ALLOWED)


class BodyLimit(LatchTestCase):
    def test_body_over_16k_413(self):
        resp = SERVER.post("/register", data=padded_register_body(unique_email(), 16 * 1024 + 1),
                           headers={"Content-Type": "application/json"})
        self.assertError(resp, 413, TOO_LARGE)

    def test_body_of_exactly_16k_accepted(self):
        resp = SERVER.post("/register", data=padded_register_body(unique_email(), 16 * 1024),
                           headers={"Content-Type": "application/json"})
        self.assertJson(resp, 201)

    def test_413_beats_415(self):
        resp = SERVER.post("/register", data=b"x" * (20 * 1024),
                           headers={"Content-Type": "text/plain"})
        self.assertError(resp, 413, TOO_LARGE)

    def test_413_chunked_body(self):
        # No Content-Length up front: the limit must hold while streaming.
        # Raw socket: the server may answer 413 before the body has all arrived.
        with RawConnection(SERVER.address) as conn:
            conn.send(http_request_bytes("POST", "/register", headers=[
                ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
            try:
                for _ in range(20):
                    conn.send(b"400\r\n" + b" " * 1024 + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except OSError:
                pass
            try:
                resp = conn.read_response()
            except (EOFError, OSError) as e:
                self.fail("no answer to a 20 KiB chunked body (want 413): %s" % e)
        self.assertEqual(resp.status, 413, repr(resp))
        body = resp.json()
        self.assertEqual(sorted(body), ["error", "message"], repr(resp))
        self.assertIn(body["error"], TOO_LARGE)


class MediaType(LatchTestCase):
    def test_text_plain_415(self):
        body = json.dumps({"email": unique_email(), "password": "correct horse battery"})
        resp = SERVER.post("/register", data=body.encode(), headers={"Content-Type": "text/plain"})
        self.assertError(resp, 415, UNSUPPORTED)

    def test_body_without_content_type_415(self):
        body = json.dumps({"email": unique_email(), "password": "correct horse battery"})
        resp = SERVER.post("/register", data=body.encode())
        self.assertNotIn("Content-Type", resp.request.headers)
        self.assertError(resp, 415, UNSUPPORTED)

    def test_login_text_plain_415(self):
        resp = SERVER.post("/login", data=b'{"email":"a@b.c","password":"12345678"}',
                           headers={"Content-Type": "text/plain"})
        self.assertError(resp, 415, UNSUPPORTED)

    def test_post_without_body_is_400_not_415(self):
        resp = SERVER.post("/register")
        self.assertEqual(resp.request.headers.get("Content-Length"), "0")
        self.assertBadRequest(resp)

    def test_post_without_body_raw_no_content_length_is_400(self):
        resp = SERVER.raw(http_request_bytes("POST", "/register"))
        self.assertRawError(resp, 400, "Bad Request")

    def test_charset_parameter_accepted(self):
        email = unique_email()
        resp = SERVER.post("/register",
                           data=json.dumps({"email": email, "password": "correct horse battery"}),
                           headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertJson(resp, 201, None)
        self.assertEqual(resp.json()["email"], email)

    def test_415_beats_400(self):
        resp = SERVER.post("/register", data=b"not json", headers={"Content-Type": "text/plain"})
        self.assertError(resp, 415, UNSUPPORTED)


class HeaderLimit(LatchTestCase):
    def test_one_big_header_431(self):
        resp = SERVER.get("/healthz", headers={"X-Pad": "a" * (9 * 1024)})
        self.assertError(resp, 431, HEADERS_TOO_LARGE)

    def test_many_headers_over_8k_total_431(self):
        headers = {"X-Pad-%d" % i: "b" * 1500 for i in range(6)}   # ~9 KiB in total
        resp = SERVER.get("/healthz", headers=headers)
        self.assertError(resp, 431, HEADERS_TOO_LARGE)

    def test_headers_under_8k_accepted(self):
        resp = SERVER.get("/healthz", headers={"X-Pad": "c" * (6 * 1024)})
        self.assertJson(resp, 200, {"status": "ok"})

    def test_431_on_post_route(self):
        resp = SERVER.post_json("/login", {"email": "a@b.c", "password": "12345678"},
                                headers={"X-Pad": "d" * (9 * 1024)})
        self.assertError(resp, 431, HEADERS_TOO_LARGE)

    def test_server_serves_after_431(self):
        SERVER.get("/healthz", headers={"X-Pad": "e" * (10 * 1024)})
        self.assertTrue(SERVER.healthy())


class ProtocolTraps(LatchTestCase):
    def test_content_length_and_transfer_encoding_400(self):
        body = b'5\r\n{"a":\r\n0\r\n\r\n'
        req = http_request_bytes("POST", "/register", headers=[
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Transfer-Encoding", "chunked")], body=body)
        self.assertRawError(SERVER.raw(req), 400, "Bad Request")

    def test_http11_without_host_400(self):
        resp = SERVER.raw(b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertRawError(resp, 400, "Bad Request")

    def test_http10_without_host_ok(self):
        # Host is only required from HTTP/1.1 on (RFC 9112 3.2).
        resp = SERVER.raw(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(resp.status, 200, repr(resp))
        self.assertEqual(resp.json(), {"status": "ok"})

    def test_http11_with_host_ok(self):
        resp = SERVER.raw(http_request_bytes("GET", "/healthz"))
        self.assertEqual(resp.status, 200, repr(resp))


class KeepAlive(LatchTestCase):
    def test_two_gets_one_connection(self):
        with RawConnection(SERVER.address) as conn:
            for _ in range(2):
                conn.send(http_request_bytes("GET", "/healthz"))
                resp = conn.read_response()
                self.assertEqual(resp.status, 200, repr(resp))
                self.assertEqual(resp.json(), {"status": "ok"})

    def test_post_then_get_one_connection(self):
        # The 0.9.75 trap: a response queued on the first handler call closes
        # keep-alive connections; POST with a body and GET must both keep it.
        email = unique_email()
        body = json.dumps({"email": email, "password": "correct horse battery"}).encode()
        with RawConnection(SERVER.address) as conn:
            conn.send(http_request_bytes("POST", "/register",
                                         headers=[("Content-Type", "application/json")],
                                         body=body))
            first = conn.read_response()
            self.assertEqual(first.status, 201, repr(first))
            conn.send(http_request_bytes("POST", "/login",
                                         headers=[("Content-Type", "application/json")],
                                         body=body))
            second = conn.read_response()
            self.assertEqual(second.status, 200, repr(second))
            token = second.json()["token"]
            conn.send(http_request_bytes("GET", "/profile",
                                         headers=[("Authorization", "Bearer " + token)]))
            third = conn.read_response()
            self.assertEqual(third.status, 200, repr(third))
            conn.send(http_request_bytes("GET", "/nope"))
            fourth = conn.read_response()
            self.assertEqual(fourth.status, 404, repr(fourth))
            conn.send(http_request_bytes("GET", "/healthz"))
            self.assertEqual(conn.read_response().status, 200)

    def test_requests_session_reuses_connection(self):
        with requests.Session() as session:
            first = SERVER.get("/healthz", session=session)
            second = SERVER.get("/healthz", session=session)
            pool = session.get_adapter(SERVER.url).poolmanager.connection_from_url(SERVER.url)
            opened = pool.num_connections
        self.assertEqual(first.status_code, 200)
        self.assertEqual(second.status_code, 200)
        self.assertEqual(opened, 1, "requests opened %d connections for two requests" % opened)
