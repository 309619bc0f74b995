"""Required claims (sub, userId == sub, role, iat, exp, iss), the issuer,
and duplicate keys in the header or payload JSON."""

import time

import harness
from harness import LatchTestCase, b64url, claims_for, mint, sign

SERVER = None
USER = None
OTHER = None


def setUpModule():
    global SERVER, USER, OTHER
    SERVER = harness.start_module_server()
    USER, _, _ = SERVER.new_user()
    OTHER, _, _ = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


def hand_signed(header_json, payload_json):
    """Signs hand-written JSON exactly as given (duplicate keys survive)."""
    signing_input = b64url(header_json) + "." + b64url(payload_json)
    return signing_input + "." + sign(signing_input, SERVER.secret())


class Issuer(LatchTestCase):
    def test_missing_iss(self):
        claims = claims_for(USER["id"])
        del claims["iss"]
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_wrong_iss(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"], issuer="evil"), SERVER.secret())))

    def test_iss_other_case(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"], issuer="Latch"), SERVER.secret())))

    def test_iss_with_suffix(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"], issuer="latch "), SERVER.secret())))

    def test_empty_iss(self):
        self.assertInvalidToken(SERVER.profile(
            mint(claims_for(USER["id"], issuer=""), SERVER.secret())))


class RequiredClaims(LatchTestCase):
    def test_control_all_required_claims_accepted(self):
        claims = claims_for(USER["id"])
        del claims["jti"]
        self.assertProfileOk(SERVER.profile(mint(claims, SERVER.secret())), USER)

    def test_user_id_differs_from_sub(self):
        claims = claims_for(USER["id"])
        claims["userId"] = OTHER["id"]
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_sub_differs_from_user_id(self):
        claims = claims_for(USER["id"])
        claims["sub"] = str(OTHER["id"])
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_user_id_as_string(self):
        claims = claims_for(USER["id"])
        claims["userId"] = str(USER["id"])
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_payload_not_an_object(self):
        self.assertInvalidToken(SERVER.profile(mint([1, 2, 3], SERVER.secret())))

    def test_payload_not_json(self):
        self.assertInvalidToken(SERVER.profile(mint(b"not json", SERVER.secret())))


def _missing_claim_test(claim):
    def test(self):
        claims = claims_for(USER["id"], email="x@example.com")
        del claims[claim]
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))
    return test


for _claim in ("sub", "userId", "role", "iat", "exp", "iss"):
    setattr(RequiredClaims, "test_missing_%s" % _claim, _missing_claim_test(_claim))


class DuplicateKeys(LatchTestCase):
    def payload(self, middle):
        now = int(time.time())
        uid = USER["id"]
        return ('{"sub":"%d","userId":%d,%s"iat":%d,"exp":%d,"iss":"latch"}'
                % (uid, uid, middle, now, now + 300))

    def test_control_hand_written_payload_accepted(self):
        token = hand_signed('{"alg":"HS256","typ":"JWT"}', self.payload('"role":"user",'))
        self.assertProfileOk(SERVER.profile(token), USER)

    def test_duplicate_role(self):
        token = hand_signed('{"alg":"HS256","typ":"JWT"}',
                            self.payload('"role":"user","role":"admin",'))
        self.assertInvalidToken(SERVER.profile(token))

    def test_duplicate_role_same_value(self):
        token = hand_signed('{"alg":"HS256","typ":"JWT"}',
                            self.payload('"role":"user","role":"user",'))
        self.assertInvalidToken(SERVER.profile(token))

    def test_duplicate_sub(self):
        uid = USER["id"]
        token = hand_signed('{"alg":"HS256","typ":"JWT"}',
                            self.payload('"role":"user","sub":"%d",' % uid))
        self.assertInvalidToken(SERVER.profile(token))

    def test_duplicate_alg_in_header(self):
        token = hand_signed('{"alg":"none","alg":"HS256","typ":"JWT"}',
                            self.payload('"role":"user",'))
        self.assertInvalidToken(SERVER.profile(token))

    def test_duplicate_typ_in_header(self):
        token = hand_signed('{"alg":"HS256","typ":"JWT","typ":"JWT"}',
                            self.payload('"role":"user",'))
        self.assertInvalidToken(SERVER.profile(token))
