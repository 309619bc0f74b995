"""POST /register: 201, 409 on a normalised duplicate, and every 400 rule."""

import json

import harness
from harness import EMAIL_TAKEN, LatchTestCase, unique_email

SERVER = None
PASSWORD = "correct horse battery"


def setUpModule():
    global SERVER
    SERVER = harness.start_module_server()


def tearDownModule():
    harness.stop_module_server(SERVER)


def post_raw(body):
    return SERVER.post("/register", data=body, headers={"Content-Type": "application/json"})


class Created(LatchTestCase):
    def test_register_201(self):
        email = unique_email()
        body = self.assertJson(SERVER.register(email, PASSWORD), 201)
        self.assertEqual(sorted(body), ["email", "id", "role"])
        self.assertIs(type(body["id"]), int)
        self.assertGreater(body["id"], 0)
        self.assertEqual(body["email"], email)
        self.assertEqual(body["role"], "user")

    def test_ids_are_distinct(self):
        first = SERVER.register(unique_email()).json()["id"]
        second = SERVER.register(unique_email()).json()["id"]
        self.assertNotEqual(first, second)

    def test_email_stored_normalised(self):
        email = unique_email("MiXeD")
        body = self.assertJson(SERVER.register("  " + email.upper() + "\t", PASSWORD), 201)
        self.assertEqual(body["email"], email.lower())

    def test_no_composition_rules(self):
        # NIST SP 800-63B: length only.  All lower-case letters, all digits.
        self.assertJson(SERVER.register(unique_email(), "aaaaaaaa"), 201)
        self.assertJson(SERVER.register(unique_email(), "12345678"), 201)

    def test_password_8_bytes_accepted(self):
        self.assertJson(SERVER.register(unique_email(), "p" * 8), 201)

    def test_password_256_bytes_accepted(self):
        self.assertJson(SERVER.register(unique_email(), "p" * 256), 201)

    def test_password_256_bytes_multibyte_accepted(self):
        password = "\u00e9" * 128          # 128 characters, 256 bytes of UTF-8
        self.assertEqual(len(password.encode("utf-8")), 256)
        self.assertJson(SERVER.register(unique_email(), password), 201)

    def test_password_length_counted_in_bytes_short_side(self):
        password = "\u20ac\u20ac\u20ac"    # 3 characters, 9 bytes: long enough
        self.assertJson(SERVER.register(unique_email(), password), 201)

    def test_multibyte_password_can_log_in(self):
        email = unique_email()
        password = "\u00e9\u20ac\U0001F511" * 10
        self.assertJson(SERVER.register(email, password), 201)
        self.assertJson(SERVER.login(email, password), 200)

    def test_email_of_254_bytes_accepted(self):
        domain = "@example.com"
        email = "a" * (254 - len(domain)) + domain
        self.assertEqual(len(email), 254)
        self.assertJson(SERVER.register(email, PASSWORD), 201)


class Conflict(LatchTestCase):
    def test_exact_duplicate_409(self):
        email = unique_email()
        self.assertJson(SERVER.register(email), 201)
        self.assertJson(SERVER.register(email), 409, EMAIL_TAKEN)

    def test_duplicate_other_case_409(self):
        email = unique_email()
        self.assertJson(SERVER.register(email), 201)
        self.assertJson(SERVER.register(email.upper()), 409, EMAIL_TAKEN)

    def test_duplicate_with_whitespace_409(self):
        email = unique_email()
        self.assertJson(SERVER.register(email), 201)
        self.assertJson(SERVER.register("  %s  " % email), 409, EMAIL_TAKEN)

    def test_duplicate_case_and_whitespace_409(self):
        email = unique_email("Case")
        self.assertJson(SERVER.register(" " + email.upper()), 201)
        self.assertJson(SERVER.register(email.lower() + " "), 409, EMAIL_TAKEN)

    def test_duplicate_with_other_password_409(self):
        email = unique_email()
        self.assertJson(SERVER.register(email, "first password"), 201)
        self.assertJson(SERVER.register(email, "second password"), 409, EMAIL_TAKEN)


class BadBody(LatchTestCase):
    def test_malformed_json(self):
        self.assertBadRequest(post_raw(b'{"email": "a@example.com", "password": '))

    def test_not_json_at_all(self):
        self.assertBadRequest(post_raw(b"email=a@example.com&password=12345678"))

    def test_trailing_garbage_after_object(self):
        body = json.dumps({"email": unique_email(), "password": PASSWORD}) + " x"
        self.assertBadRequest(post_raw(body.encode()))

    def test_array_body(self):
        self.assertBadRequest(post_raw(json.dumps([unique_email(), PASSWORD]).encode()))

    def test_string_body(self):
        self.assertBadRequest(post_raw(b'"a@example.com"'))

    def test_number_body(self):
        self.assertBadRequest(post_raw(b"42"))

    def test_null_body(self):
        self.assertBadRequest(post_raw(b"null"))

    def test_empty_object(self):
        self.assertBadRequest(post_raw(b"{}"))

    def test_missing_email(self):
        self.assertBadRequest(post_raw(json.dumps({"password": PASSWORD}).encode()))

    def test_missing_password(self):
        self.assertBadRequest(post_raw(json.dumps({"email": unique_email()}).encode()))

    def test_email_not_a_string(self):
        for value in (123, None, True, ["a@example.com"], {"a": "b"}):
            with self.subTest(email=value):
                body = json.dumps({"email": value, "password": PASSWORD}).encode()
                self.assertBadRequest(post_raw(body))

    def test_password_not_a_string(self):
        for value in (12345678, None, False, ["correct horse"], {"p": "correct horse"}):
            with self.subTest(password=value):
                body = json.dumps({"email": unique_email(), "password": value}).encode()
                self.assertBadRequest(post_raw(body))

    def test_invalid_utf8(self):
        body = b'{"email":"' + unique_email().encode() + b'","password":"abc\xff\xfedefgh"}'
        self.assertBadRequest(post_raw(body))

    def test_empty_body(self):
        self.assertBadRequest(post_raw(b""))


class InvalidEmail(LatchTestCase):
    def check(self, email):
        self.assertBadRequest(SERVER.register(email, PASSWORD))

    def test_email_255_bytes(self):
        domain = "@example.com"
        self.check("a" * (255 - len(domain)) + domain)

    def test_email_without_at(self):
        self.check("user.example.com")

    def test_email_with_two_ats(self):
        self.check("us@er@example.com")

    def test_email_empty_local_part(self):
        self.check("@example.com")

    def test_email_domain_without_dot(self):
        self.check("user@localhost")

    def test_email_empty_domain(self):
        self.check("user@")

    def test_email_inner_space(self):
        self.check("us er@example.com")

    def test_email_space_in_domain(self):
        self.check("user@exa mple.com")

    def test_email_control_character(self):
        self.check("us\u0001er@example.com")

    def test_email_tab_inside(self):
        self.check("us\ter@example.com")

    def test_email_newline_inside(self):
        self.check("user@example.com\nx")

    def test_email_nul_inside(self):
        self.check("user\u0000@example.com")

    def test_email_del_character(self):
        self.check("us\u007fer@example.com")

    def test_email_empty(self):
        self.check("")

    def test_email_only_whitespace(self):
        self.check("   ")


class InvalidPassword(LatchTestCase):
    def test_password_7_bytes(self):
        self.assertBadRequest(SERVER.register(unique_email(), "p" * 7))

    def test_password_257_bytes(self):
        self.assertBadRequest(SERVER.register(unique_email(), "p" * 257))

    def test_password_empty(self):
        self.assertBadRequest(SERVER.register(unique_email(), ""))

    def test_multibyte_password_over_256_bytes(self):
        password = "\u00e9" * 129          # 129 characters, 258 bytes
        self.assertBadRequest(SERVER.register(unique_email(), password))

    def test_multibyte_password_under_8_bytes(self):
        password = "\u00e9\u00e9\u00e9"    # 3 characters, 6 bytes
        self.assertBadRequest(SERVER.register(unique_email(), password))

    def test_rejected_registration_creates_no_user(self):
        email = unique_email()
        self.assertBadRequest(SERVER.register(email, "short"))
        self.assertJson(SERVER.register(email, PASSWORD), 201)


class AsciiOnlyEmails(LatchTestCase):
    """Issue 9: an address being created must be ASCII, which refuses
    Unicode spaces, controls, invisible and bidi characters and look-alikes;
    a login with such an address is an unknown account (401)."""

    BAD = ["ada\u00a0@example.com", "ada\u0085@example.com", "ada\u2028@example.com",
           "ada\u200b@example.com", "ada\u202e@example.com", "\u0430da@example.com",
           "caf\u00e9@example.com", "ada@ex\u00e4mple.com", "ada@example.com\u3000"]
    MESSAGE = {"error": "Bad Request", "message": "Email must contain only ASCII characters"}

    def test_register_refuses_non_ascii(self):
        for email in self.BAD:
            with self.subTest(email=repr(email)):
                self.assertJson(SERVER.register(email, PASSWORD), 400, self.MESSAGE)
                self.assertJson(SERVER.login(email, PASSWORD), 401, harness.BAD_LOGIN)

    def test_admin_create_refuses_non_ascii(self):
        _, body = harness.make_admin(SERVER)
        for email in self.BAD[:3]:
            with self.subTest(email=repr(email)):
                resp = harness.admin_req(SERVER, "POST", "/admin/users", body["token"],
                                         {"email": email, "password": PASSWORD})
                self.assertJson(resp, 400, self.MESSAGE)

    def test_cli_refuses_non_ascii(self):
        result = harness.user_add(SERVER.data_dir, self.BAD[0], PASSWORD, role="user")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("only ASCII", result.stderr)
