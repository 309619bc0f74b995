"""exp, nbf and iat against the clock, with the default 30 s leeway."""

import time

import harness
from harness import LatchTestCase, claims_for, mint

SERVER = None
USER = None


def setUpModule():
    global SERVER, USER
    SERVER = harness.start_module_server()
    USER, _, _ = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


def token(**overrides):
    now = int(time.time())
    claims = claims_for(USER["id"], now=now)
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = now + value     # offsets from now, in seconds
    return mint(claims, SERVER.secret())


class Expiry(LatchTestCase):
    def test_expired_beyond_leeway(self):
        self.assertInvalidToken(SERVER.profile(token(iat=-1000, exp=-60)))

    def test_expired_long_ago(self):
        self.assertInvalidToken(SERVER.profile(token(iat=-100000, exp=-86400)))

    def test_expired_within_leeway_accepted(self):
        self.assertProfileOk(SERVER.profile(token(iat=-910, exp=-10)), USER)

    def test_exp_zero(self):
        claims = claims_for(USER["id"])
        claims["exp"] = 0
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_exp_not_a_number(self):
        claims = claims_for(USER["id"])
        claims["exp"] = "9999999999"
        self.assertInvalidToken(SERVER.profile(mint(claims, SERVER.secret())))

    def test_old_iat_with_valid_exp_accepted(self):
        # Accepted while exp - iat stays within the access TTL + leeway.
        self.assertProfileOk(SERVER.profile(token(iat=-900, exp=30)), USER)

    def test_lifetime_longer_than_access_ttl_refused(self):
        # Issue 9: a token minted elsewhere with the shared secret may not
        # outlive what the revocation set remembers (TTL 900 + leeway 30).
        self.assertProfileOk(SERVER.profile(token(iat=0, exp=930)), USER)
        self.assertInvalidToken(SERVER.profile(token(iat=0, exp=931)))
        self.assertInvalidToken(SERVER.profile(token(iat=-3000, exp=600)))
        self.assertInvalidToken(SERVER.profile(token(iat=0, exp=86400 * 365)))
        self.assertEqual(SERVER.get("/verify", headers=harness.bearer(
            token(iat=0, exp=931))).status_code, 401)


class NotBefore(LatchTestCase):
    def test_nbf_in_future_beyond_leeway(self):
        self.assertInvalidToken(SERVER.profile(token(nbf=120)))

    def test_nbf_far_future(self):
        self.assertInvalidToken(SERVER.profile(token(nbf=86400, exp=90000)))

    def test_nbf_within_leeway_accepted(self):
        self.assertProfileOk(SERVER.profile(token(nbf=10)), USER)

    def test_nbf_in_past_accepted(self):
        self.assertProfileOk(SERVER.profile(token(nbf=-60)), USER)


class IssuedAt(LatchTestCase):
    def test_iat_in_future_beyond_leeway(self):
        self.assertInvalidToken(SERVER.profile(token(iat=120, exp=1000)))

    def test_iat_within_leeway_accepted(self):
        self.assertProfileOk(SERVER.profile(token(iat=10, exp=900)), USER)
