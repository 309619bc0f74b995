"""Wrong algorithms: the key carries HS256, and a token claiming any other
`alg` (none in any case, HS384, HS512, ...) is rejected before any MAC."""

import jwt

import harness
from harness import LatchTestCase, b64url, claims_for, mint, sign

SERVER = None
USER = None
TOKEN = None


def setUpModule():
    global SERVER, USER, TOKEN
    SERVER = harness.start_module_server()
    USER, _, TOKEN = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


def unsigned(alg, trailing_dot):
    header = b64url('{"alg":"%s","typ":"JWT"}' % alg)
    payload = harness._segment(claims_for(USER["id"]))
    return header + "." + payload + ("." if trailing_dot else "")


class AlgNone(LatchTestCase):
    def test_control_valid_token_accepted(self):
        self.assertProfileOk(SERVER.profile(TOKEN), USER)

    def test_none_with_hmac_signature_kept(self):
        header = b64url('{"alg":"none","typ":"JWT"}')
        payload = harness._segment(claims_for(USER["id"]))
        signing_input = header + "." + payload
        token = signing_input + "." + sign(signing_input, SERVER.secret())
        self.assertInvalidToken(SERVER.profile(token))

    def test_none_header_without_typ(self):
        token = b64url('{"alg":"none"}') + "." + harness._segment(claims_for(USER["id"])) + "."
        self.assertInvalidToken(SERVER.profile(token))


def _none_test(alg, trailing_dot):
    def test(self):
        self.assertInvalidToken(SERVER.profile(unsigned(alg, trailing_dot)))
    return test


for _alg in ("none", "None", "NONE", "nOnE"):
    for _dot in (True, False):
        setattr(AlgNone, "test_alg_%s_%s" % (_alg, "trailing_dot" if _dot else "no_dot"),
                _none_test(_alg, _dot))


class OtherAlgorithms(LatchTestCase):
    def test_hs384_with_right_secret(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"]), SERVER.secret(), alg="HS384")))

    def test_hs512_with_right_secret(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"]), SERVER.secret(), alg="HS512")))

    def test_hs384_minted_by_python_jwt(self):
        token = jwt.encode(claims_for(USER["id"]), SERVER.secret(), algorithm="HS384")
        self.assertInvalidToken(SERVER.profile(token))

    def test_hs512_minted_by_python_jwt(self):
        token = jwt.encode(claims_for(USER["id"]), SERVER.secret(), algorithm="HS512")
        self.assertInvalidToken(SERVER.profile(token))

    def test_rs256_header_with_hs256_mac(self):
        # Algorithm confusion: the header names RS256, the MAC is HS256.
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": "RS256", "typ": "JWT"}, alg="HS256")
        self.assertInvalidToken(SERVER.profile(token))

    def test_lower_case_hs256(self):
        # JOSE algorithm names are case-sensitive (RFC 7515 4.1.1).
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": "hs256", "typ": "JWT"}, alg="HS256")
        self.assertInvalidToken(SERVER.profile(token))

    def test_missing_alg(self):
        token = mint(claims_for(USER["id"]), SERVER.secret(), header={"typ": "JWT"}, alg="HS256")
        self.assertInvalidToken(SERVER.profile(token))

    def test_alg_not_a_string(self):
        token = mint(claims_for(USER["id"]), SERVER.secret(),
                     header={"alg": ["HS256"], "typ": "JWT"}, alg="HS256")
        self.assertInvalidToken(SERVER.profile(token))

    def test_control_hand_minted_hs256_accepted(self):
        # Shows the crafting helper itself produces tokens latch accepts.
        self.assertProfileOk(SERVER.profile(mint(claims_for(USER["id"]), SERVER.secret())), USER)
