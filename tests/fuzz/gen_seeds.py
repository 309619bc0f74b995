#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (standard library only).

The seeds are committed; run this again only to change them:
    /usr/bin/python3 tests/fuzz/gen_seeds.py
It rewrites the files it names and leaves others (regression seeds) alone.
The HS256 secret, issuer and time match the constants in fuzz_jws.c.
"""
import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"latch-fuzz-secret-0123456789abcdef"
NOW = 1700000000
ISSUER = "latch"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def token(header, payload, secret=SECRET, raw_header=None, raw_payload=None) -> str:
    h = raw_header if raw_header is not None else compact(header)
    p = raw_payload if raw_payload is not None else compact(payload)
    signing_input = b64(h) + "." + b64(p)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def claims(**over):
    c = {"sub": "42", "userId": 42, "email": "alice@example.com", "role": "user",
         "iat": NOW, "exp": NOW + 900, "jti": "AAAAAAAAAAAAAAAAAAAAAA", "iss": ISSUER}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def jws_seeds():
    hs = {"alg": "HS256", "typ": "JWT"}
    k1 = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    t = {  # token mode: first byte 0x00, then the token
        "valid": token(hs, claims()),
        "valid-kid-k1": token(k1, claims()),
        "valid-nbf-sid": token(hs, claims(nbf=NOW - 10, sid="s-1")),
        "valid-real-dates": token(hs, claims(iat=NOW + 0.5, exp=NOW + 900.25)),
        "alg-none": b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(compact(claims())) + ".",
        "alg-hs512": token({"alg": "HS512"}, claims()),
        "kid-unknown": token({"alg": "HS256", "kid": "k2"}, claims()),
        "jku": token({"alg": "HS256", "jku": "https://evil.example/jwks"}, claims()),
        "crit": token({"alg": "HS256", "crit": ["exp"]}, claims()),
        "b64-false": token({"alg": "HS256", "b64": False}, claims()),
        "expired": token(hs, claims(iat=NOW - 2000, exp=NOW - 1000)),
        "wrong-iss": token(hs, claims(iss="other")),
        "sub-mismatch": token(hs, claims(sub="43")),
        "bad-signature": token(hs, claims(), secret=b"another-secret-of-enough-length-123"),
        "dup-role": token(hs, None, raw_payload=b'{"sub":"1","userId":1,"role":"user",'
                          b'"role":"admin","iat":1700000000,"exp":1700000900,"iss":"latch"}'),
        "padded": token(hs, claims()) + "==",
    }
    for name, tok in t.items():
        write("fuzz_jws", "tok-" + name, b"\x00" + tok.encode())
    # Sign mode: 0x01 (no kid) / 0x03 (kid k1), then the payload JSON.
    write("fuzz_jws", "sign-claims", b"\x01" + compact(claims()))
    write("fuzz_jws", "sign-claims-k1", b"\x03" + compact(claims(nbf=NOW, sid="s")))
    write("fuzz_jws", "sign-minimal", b'\x01{"sub":"1","userId":1,"role":"r","iat":0,'
          b'"exp":1700000900,"iss":"latch"}')
    write("fuzz_jws", "sign-not-object", b"\x01[1,2,3]")
    # 0x05: tamper with byte 0x0010 of the signed token by XOR 0x20.
    write("fuzz_jws", "sign-tamper", b"\x05\x00\x10\x20" + compact(claims()))


def b64url_seeds():
    for name, data in {
        "empty": b"",
        "one-byte": b64(b"\xff"),
        "two-bytes": b64(b"\xfb\xff"),
        "three-bytes": b64(b"abc"),
        "jws-header": b64(b'{"alg":"HS256","typ":"JWT"}'),
        "all-chars": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        "padded": "YQ==",
        "std-alphabet": "+/+/",
        "trailing-bits": "YR",
        "dangling": "YWJjZ",
    }.items():
        write("fuzz_b64url", name, data)


def credentials_seeds():
    for name, data in {
        "email": "alice@example.com",
        "email-upper-spaces": "  Alice.Smith@Example.COM\t",
        "email-two-at": "a@b@example.com",
        "email-dot-end": "a@example.",
        "email-254": "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "c" * 6,
        "bearer": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        "bearer-lower-tabs": "\tbearer\t\tabc.def.ghi \t",
        "bearer-alone": "Bearer",
        "bearer-two-tokens": "Bearer abc def",
        "basic": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "bearer-nul": "Bearer abc\x00def",
    }.items():
        write("fuzz_credentials", name, data)


def config_seeds():
    for name, args in {
        "listen": ["--listen", "127.0.0.1:8080"],
        "listen-eq-v6": ["--listen=[::1]:0"],
        "all-ints": ["--access-ttl-s=60", "--leeway-s", "0", "--argon2-memory-kib=8",
                     "--argon2-iterations=1", "--hash-workers=2", "--hash-queue=1",
                     "--max-connections=1", "--max-conn-per-ip=0", "--idle-timeout-s=1",
                     "--threads=0"],
        "strings": ["--data-dir", "/tmp/x", "--db=/tmp/x/a.db", "--issuer=https://a.example",
                    "--log-level=debug"],
        "extra-positional": ["--role", "admin", "alice@example.com", "pw"],
        "help": ["--help"],
        "bad-int": ["--threads=-1"],
        "bad-listen": ["--listen", "[::1]8080"],
        "no-value": ["--issuer"],
    }.items():
        write("fuzz_config", name, "\x00".join(args))


def body_seeds():
    for name, data in {
        "register": '{"email":"alice@example.com","password":"correct horse battery"}',
        "login-upper": '{"email":" Alice@Example.com ","password":"hunter22"}',
        "short-password": '{"email":"a@b.co","password":"short"}',
        "dup-key": '{"email":"a@b.co","email":"c@d.co","password":"xxxxxxxxxx"}',
        "wrong-types": '{"email":1,"password":null,"extra":[true,false,{"a":1.5e3}]}',
        "escapes": '{"email":"\\u0041@b.co","password":"\\ud83d\\ude00\\n\\t\\"xx"}',
        "nested": '{"a":{"b":{"c":{"d":[[[[1]]]]}}}}',
        "not-object": '["email","password"]',
    }.items():
        write("fuzz_body", name, data)


def framing_seeds():
    """First byte: bit 0 is the HTTP minor version; then one field a line,
    name and value split at the first ':' (fuzz_framing.c)."""
    def head(minor, *lines):
        return bytes([minor]) + "\n".join(lines).encode("latin-1")
    for name, data in {
        "plain-get": head(1, "Host:example.com", "Accept:*/*", "User-Agent:curl/8"),
        "http10-no-host": head(0, "Accept:*/*"),
        "post-json": head(1, "Host:x", "Content-Type:application/json", "Content-Length:17",
                          "Authorization:Bearer abc.def.ghi", "Origin:https://a.example"),
        "chunked": head(1, "Host:x", "Transfer-Encoding:chunked"),
        "folded-content-length": head(1, "Host:x", "Content-Length69:"),
        "folded-host": head(1, "Host:x", "Hostevil.example:"),
        "folded-with-space": head(1, "Host:x", "X-Ab c:a"),
        "empty-name": head(1, ":value", "Host:x"),
        "two-authorization": head(1, "Host:x", "Authorization:Bearer a", "authorization:b"),
        "two-content-length": head(1, "Host:x", "Content-Length:2", "Content-Length:2"),
        "cl-and-te": head(1, "Host:x", "Content-Length:2", "Transfer-Encoding:chunked"),
        "body-too-large": head(1, "Host:x", "Content-Length:16385"),
        "nul-in-value": head(1, "Host:x", "X-A:a\x00b"),
        "many-fields": head(1, *(["Host:x"] + ["X-%d:v" % i for i in range(100)])),
        "cookies-and-xff": head(1, "Host:x", "Cookie:a=b", "Cookie:latch_session=x",
                                "X-Forwarded-For:1.2.3.4", "X-Forwarded-For:[::1]:80"),
    }.items():
        write("fuzz_framing", name, data)


def totp_seeds():
    """Each input is a base32 text, a TOTP code, a recovery code and (split
    at its first NUL) an issuer and email for the URI (fuzz_totp.c)."""
    for name, data in {
        "b32-rfc-padded": b"MZXW6YTBOI======",
        "b32-lower": b"mzxw6ytboi",
        "b32-bad-pad": b"MZXW6Y==",
        "b32-secret": b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "code-now": b"050471",        # RFC 6238 B, T = 1111111111 (fuzz_totp.c's NOW)
        "code-prev": b"081804",
        "code-short": b"05047",
        "code-space": b"050 471",
        "recovery": b"abcde-fghjk",
        "recovery-typed": b" OIL23 45678 ",
        "recovery-u": b"abcde-fghju",
        "uri-hostile": b"Acme & Co?x=1#f\x00a+b&secret=AAAA@example.com",
        "uri-colon": b"a:b\x00c:d@example.com",
        "uri-utf8": "Bücher\x00jürgen@example.com".encode(),
    }.items():
        write("fuzz_totp", name, data)


def mailfmt_seeds():
    """First byte bit 0: the rest is the body; else body, subject, to, from,
    mail id separated by NUL (fuzz_mailfmt.c)."""
    def fields(*parts):
        return b"\x00" + b"\x00".join(p.encode() if isinstance(p, str) else p for p in parts)
    long_line = "word " * 250 + "end"
    for name, data in {
        "plain": fields("Hello,\n\nopen https://latch.example/v#t=x\n", "Verify your email",
                        "alice@example.com", "no-reply@latch.example", "42"),
        "crlf-body": fields("a\r\nb\r\n.\r\n..x", "S"),
        "lone-cr": fields("a\rb", "S"),
        "long-line": fields(long_line, "S"),
        "long-utf8": fields("é" * 700, "S"),
        "subject-inject": fields("b", "Hi\r\nBcc: eve@evil.example"),
        "to-inject": fields("b", "S", "alice@example.com>\r\nRCPT TO:<eve@evil.example"),
        "to-display": fields("b", "S", "Alice <alice@example.com>"),
        "from-quoted": fields("b", "S", "alice@example.com", "\"a b\"@x.example"),
        "id-bad": fields("b", "S", "alice@example.com", "a@b.example", "4 2>"),
        "body-raw-nul": b"\x01a\x00b\nc",
        "body-raw-utf8": b"\x01\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\xed\xa0\x80",
    }.items():
        write("fuzz_mailfmt", name, data)


def malformed_corpus():
    """(name, raw bytes) of every request in the integration tests' malformed
    corpus (tests/integration/test_malformed.py), loaded with a stand-in for
    its harness module so that only the standard library is needed."""
    import sys
    import types

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
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    stub = types.ModuleType("harness")
    stub.http_request_bytes = http_request_bytes
    stub.LatchTestCase = object
    saved = sys.modules.get("harness")
    sys.modules["harness"] = stub
    try:
        path = os.path.join(HERE, "..", "integration", "test_malformed.py")
        scope = {"__name__": "test_malformed_seeds"}
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), scope)
    finally:
        if saved is None:
            del sys.modules["harness"]
        else:
            sys.modules["harness"] = saved
    return [(name, data) for name, data, _ in scope["CORPUS"]]


def http_parse_seeds():
    """First byte even: a request head (and what follows); odd: a chunked
    body (fuzz_http_parse.c).  Every request of the malformed corpus, cut
    to FUZZ_MAX_LEN, plus the chunked bodies in it and a few of our own."""
    max_len = 8192
    for name, data in malformed_corpus():
        write("fuzz_http_parse", "corpus-" + name, (b"\x00" + data)[:max_len])
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"chunked" in head.lower() and body:
            write("fuzz_http_parse", "chunked-" + name, (b"\x01" + body)[:max_len])
    for name, data in {
        "pipelined": b"\x00GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        "bare-lf": b"\x00\nGET /healthz HTTP/1.0\nA: b\n\n",
        "obs-fold": b"\x00GET / HTTP/1.1\r\nHost: x\r\nX-Foo:\r\n bar\r\n\r\n",
        "empty-name-after-field": b"\x00GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
        "chunked-ext-trailer": b"\x05" + b"5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET",
        "chunked-bare-lf": b"\x03" + b"2\n{}\n0\n\n",
        "chunked-overflow": b"\x01" + b"fffffffffffffffffffff\r\n",
    }.items():
        write("fuzz_http_parse", name, data)


if __name__ == "__main__":
    jws_seeds()
    b64url_seeds()
    credentials_seeds()
    config_seeds()
    body_seeds()
    framing_seeds()
    totp_seeds()
    mailfmt_seeds()
    http_parse_seeds()
