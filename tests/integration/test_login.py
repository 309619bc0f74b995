"""POST /login: the 200 body, the token's header and claims checked by an
independent implementation (python3-jwt), tokens minted by it accepted by
latch, and the 401 that does not tell which half was wrong."""

import re
import time

import jwt

import harness
from harness import BAD_LOGIN, LatchTestCase, b64url_decode, unique_email

SERVER = None
PASSWORD = "correct horse battery"


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def register(email=None, password=PASSWORD):
    email = email or unique_email()
    resp = SERVER.register(email, password)
    assert resp.status_code == 201, resp.text
    return email, resp.json()


class LoginOk(LatchTestCase):
    def test_login_200_body(self):
        email, _ = register()
        body = self.assertJson(SERVER.login(email, PASSWORD), 200)
        # jwt mode (the default) also hands out a refresh token.
        self.assertEqual(sorted(body), ["expires_in", "refresh_token", "token", "token_type"])
        self.assertEqual(body["token_type"], "Bearer")
        self.assertIs(type(body["expires_in"]), int)
        self.assertEqual(body["expires_in"], 900)
        self.assertIsInstance(body["token"], str)
        self.assertEqual(body["token"].count("."), 2)

    def test_token_header_exact(self):
        email, _ = register()
        token = SERVER.login(email, PASSWORD).json()["token"]
        # With key rotation the header names its key (kid).
        self.assertEqual(harness.decode_segment(token.split(".")[0]),
                         {"alg": "HS256", "kid": SERVER.kid(), "typ": "JWT"})
        self.assertEqual(jwt.get_unverified_header(token),
                         {"alg": "HS256", "kid": SERVER.kid(), "typ": "JWT"})

    def test_token_verified_by_python_jwt(self):
        email, user = register()
        before = int(time.time())
        token = SERVER.login(email, PASSWORD).json()["token"]
        after = int(time.time())
        claims = jwt.decode(token, SERVER.secret(), algorithms=["HS256"], issuer="latch",
                            options={"require": ["sub", "iat", "exp", "iss"]})
        self.assertEqual(claims["sub"], str(user["id"]))
        self.assertIs(type(claims["userId"]), int)
        self.assertEqual(claims["userId"], user["id"])
        self.assertEqual(claims["email"], email)
        self.assertEqual(claims["role"], "user")
        self.assertEqual(claims["iss"], "latch")
        self.assertIs(type(claims["iat"]), int)
        self.assertIs(type(claims["exp"]), int)
        self.assertTrue(before - 2 <= claims["iat"] <= after + 2,
                        "iat %s not in [%s, %s]" % (claims["iat"], before, after))
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        self.assertNotIn("aud", claims)
        self.assertTrue(set(claims) <= {"sub", "userId", "email", "email_verified", "role", "iat",
                                        "exp", "jti", "iss", "sid", "nbf"},
                        "unexpected claims %s" % sorted(claims))

    def test_jti_random_128_bits_base64url(self):
        email, _ = register()
        jtis = set()
        for _ in range(3):
            token = SERVER.login(email, PASSWORD).json()["token"]
            jti = jwt.decode(token, SERVER.secret(), algorithms=["HS256"])["jti"]
            self.assertIsInstance(jti, str)
            self.assertRegex(jti, r"\A[A-Za-z0-9_-]+\Z")
            self.assertGreaterEqual(len(b64url_decode(jti)), 16, "jti %r < 128 bits" % jti)
            jtis.add(jti)
        self.assertEqual(len(jtis), 3, "jti repeated")

    def test_token_minted_by_python_jwt_accepted(self):
        email, user = register()
        now = int(time.time())
        # Only the required claims: email, jti and sid are optional on input.
        token = jwt.encode({"sub": str(user["id"]), "userId": user["id"], "role": "user",
                            "iat": now, "exp": now + 300, "iss": "latch"},
                           SERVER.secret(), algorithm="HS256")
        self.assertProfileOk(SERVER.profile(token), user)

    def test_token_minted_by_python_jwt_with_all_claims_accepted(self):
        email, user = register()
        now = int(time.time())
        token = jwt.encode({"sub": str(user["id"]), "userId": user["id"], "role": "user",
                            "email": email, "iat": now, "exp": now + 300, "iss": "latch",
                            "jti": harness.b64url(b"0123456789abcdef")},
                           SERVER.secret(), algorithm="HS256",
                           headers={"typ": "JWT"})
        self.assertProfileOk(SERVER.profile(token), user)

    def test_login_email_normalised(self):
        email, _ = register(unique_email("Norm"))
        self.assertJson(SERVER.login("  %s " % email.upper(), PASSWORD), 200)

    def test_login_twice_gives_distinct_tokens(self):
        email, _ = register()
        first = SERVER.login(email, PASSWORD).json()["token"]
        second = SERVER.login(email, PASSWORD).json()["token"]
        self.assertNotEqual(first, second)

    def test_password_never_logged(self):
        password = "NeverLogThis-%s" % unique_email()[5:17]
        email, _ = register(password=password)
        SERVER.login(email, password)
        SERVER.login(email, password + "x")
        time.sleep(0.2)
        self.assertNotIn(password, SERVER.log_text())


class LoginRejected(LatchTestCase):
    def test_wrong_password_401(self):
        email, _ = register()
        self.assertJson(SERVER.login(email, PASSWORD + "!"), 401, BAD_LOGIN)

    def test_unknown_email_401(self):
        self.assertJson(SERVER.login(unique_email("ghost"), PASSWORD), 401, BAD_LOGIN)

    def test_wrong_password_and_unknown_email_identical(self):
        email, _ = register()
        wrong = SERVER.login(email, PASSWORD + "!")
        unknown = SERVER.login(unique_email("ghost"), PASSWORD)
        self.assertEqual(wrong.status_code, unknown.status_code)
        self.assertEqual(wrong.content, unknown.content)
        self.assertEqual(wrong.headers.get("Content-Type"), unknown.headers.get("Content-Type"))
        self.assertEqual(wrong.headers.get("WWW-Authenticate"),
                         unknown.headers.get("WWW-Authenticate"))

    def test_password_case_matters(self):
        email, _ = register(password="CaseSensitive")
        self.assertJson(SERVER.login(email, "casesensitive"), 401, BAD_LOGIN)

    def test_password_with_trailing_space_differs(self):
        email, _ = register()
        self.assertJson(SERVER.login(email, PASSWORD + " "), 401, BAD_LOGIN)


class LoginBadRequest(LatchTestCase):
    def test_malformed_json_400(self):
        resp = SERVER.post("/login", data=b'{"email":', headers={"Content-Type": "application/json"})
        self.assertBadRequest(resp)

    def test_array_body_400(self):
        resp = SERVER.post("/login", data=b'["a@example.com","12345678"]',
                           headers={"Content-Type": "application/json"})
        self.assertBadRequest(resp)

    def test_missing_password_400(self):
        self.assertBadRequest(SERVER.post_json("/login", {"email": unique_email()}))

    def test_non_string_email_400(self):
        self.assertBadRequest(SERVER.post_json("/login", {"email": 5, "password": PASSWORD}))

    def test_no_body_400(self):
        self.assertBadRequest(SERVER.post("/login"))


class Rehash(LatchTestCase):
    """crypto_pwhash_str_needs_rehash upgrades a stored hash on the next
    successful login: start with t=1, restart with t=2, log in, and the hash
    stored in latch.db now says t=2."""

    def test_hash_upgraded_on_login(self):
        server = harness.LatchServer()
        try:
            server.start()
            email, password = unique_email(), PASSWORD
            self.assertJson(server.register(email, password), 201)
            before = stored_hashes(server.data_dir)
            self.assertEqual(len(before), 1, before)
            self.assertIn("t=1", before[0])
            server.restart(env={"LATCH_ARGON2_ITERATIONS": "2"})
            self.assertJson(server.login(email, password), 200)
            after = stored_hashes(server.data_dir)
            self.assertEqual(len(after), 1, after)
            self.assertIn("t=2", after[0], "hash not upgraded: %s" % after[0])
            self.assertJson(server.login(email, password), 200)
        finally:
            server.close()


def stored_hashes(data_dir):
    """Every Argon2id hash string in the store, whatever the schema."""
    if harness.backend.POSTGRES:
        tables = [r[0] for r in harness.backend.query(
            data_dir, "SELECT table_name FROM information_schema.tables "
                      "WHERE table_schema = current_schema()")]
    else:
        tables = [r[0] for r in harness.backend.query(
            data_dir, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = []
    for table in tables:
        for row in harness.backend.query(data_dir, 'SELECT * FROM "%s"'
                                         % table.replace('"', '""')):
            for value in row:
                if isinstance(value, str) and re.match(r"\$argon2id\$", value):
                    found.append(value)
    return found
