"""Key rotation with `latch key rotate` while the server runs (EdDSA and
HS256), kept fast with LATCH_KEY_PREPUBLISH_S=6, LATCH_ACCESS_TTL_S=6 and
LATCH_LEEWAY_S=0:

- the new kid is in the JWKS within 2 s (next), tokens are still signed by
  the old key until the pre-publication time has passed, then by the new one;
- a token of the old key still verifies while it is verify-only; after the
  access lifetime + leeway the old key leaves the JWKS and its tokens die;
- `latch key list` shows next / signing / verify-only / retired;
- a restart at any point changes nothing (same kids, same states);
- SIGHUP makes the server notice a rotation at once.
"""

import re
import signal
import time

import harness
from harness import LatchTestCase, claims_for, mint, mint_asym

# Room for what the pre-publication phase does (a rotation, up to 2 s for
# the JWKS to show it, two `latch key list` runs and a restart): 4 s was too
# little on the PostgreSQL pass of a loaded machine.
PREPUBLISH_S = 6
ACCESS_TTL_S = 6
LEEWAY_S = 0


def rotation_env(alg, prepublish=PREPUBLISH_S):
    return {"LATCH_JWT_ALG": alg, "LATCH_KEY_PREPUBLISH_S": str(prepublish),
            "LATCH_ACCESS_TTL_S": str(ACCESS_TTL_S), "LATCH_LEEWAY_S": str(LEEWAY_S)}


def sleep_until(t):
    delay = t - time.time()
    if delay > 0:
        time.sleep(delay)


class Timeline(LatchTestCase):
    """One rotation followed through every state of the old key."""

    def mint_with(self, srv, entry, user, email):
        """A token of a key from keys.json, as long-lived as latch accepts
        (access TTL + leeway)."""
        claims = claims_for(user["id"], email=email, ttl=ACCESS_TTL_S + LEEWAY_S)
        if entry["alg"] == "HS256":
            return mint(claims, entry["material"],
                        header={"alg": "HS256", "typ": "JWT", "kid": entry["kid"]})
        return mint_asym(claims, harness.load_private_pem(entry["material"]), entry["alg"],
                         kid=entry["kid"])

    def login_kid(self, srv, email):
        resp = srv.login(email)
        self.assertEqual(resp.status_code, 200, resp.text)
        return resp.json()["token"], harness.token_header(resp.json()["token"]).get("kid")

    def check_states(self, srv, env, expected, asym, phase):
        listed = harness.key_list(srv.data_dir, env=env)
        for kid, state in expected.items():
            self.assertIn(kid, listed, "%s: key list %s" % (phase, listed))
            self.assertEqual(listed[kid][1], state, "%s: key list %s" % (phase, listed))
        if asym:
            published = {kid for kid, state in expected.items() if state != "retired"}
            self.assertEqual(set(harness.jwks_kids(srv)), published, phase)
        else:
            self.assertEqual(harness.jwks_of(srv), {"keys": []}, phase)

    def restart_changes_nothing(self, srv, env, expected, asym, phase):
        listed = harness.key_list(srv.data_dir, env=env)
        jwks = harness.jwks_of(srv)
        srv.restart()
        self.assertEqual(harness.key_list(srv.data_dir, env=env), listed,
                         "%s: key list changed across a restart" % phase)
        self.assertEqual(harness.jwks_of(srv), jwks, "%s: JWKS changed across a restart" % phase)
        self.check_states(srv, env, expected, asym, phase + " after restart")

    def run_timeline(self, alg):
        asym = alg != "HS256"
        env = rotation_env(alg)
        with harness.LatchServer(env=env) as srv:
            user, email, _ = srv.new_user()
            kid0 = srv.kid()
            old_entry = harness.key_entry(srv.data_dir, kid0)
            self.check_states(srv, env, {kid0: "signing"}, asym, "before rotation")

            harness.until_second_start(0.1)
            rotated_at = time.time()
            proc = harness.key_rotate(srv.data_dir, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            entries = [e for e in harness.keys_file(srv.data_dir)["keys"] if e["kid"] != kid0]
            self.assertEqual(len(entries), 1)
            new_entry = entries[0]
            kid1 = new_entry["kid"]
            self.assertIn(kid1, proc.stdout, "rotate names the new kid")
            self.assertEqual(new_entry["signs_from"], int(rotated_at) + PREPUBLISH_S)
            signs_from = new_entry["signs_from"]

            # Published within 2 s of the rotation.
            if asym:
                while kid1 not in harness.jwks_kids(srv):
                    self.assertLess(time.time() - rotated_at, 2.0,
                                    "the new kid is not in the JWKS 2 s after the rotation")
                    time.sleep(0.05)
                jwk = [k for k in harness.jwks_of(srv)["keys"] if k["kid"] == kid1][0]
                self.assertEqual(kid1, harness.rfc7638_thumbprint(jwk))
            else:
                time.sleep(1.1)     # let the server notice the file
            self.assertLess(time.time(), signs_from - 0.3, "test too slow")
            token, kid = self.login_kid(srv, email)
            self.assertEqual(kid, kid0, "signed by the new key before its pre-publication ended")
            self.check_states(srv, env, {kid0: "signing", kid1: "next"}, asym, "next")
            self.restart_changes_nothing(srv, env, {kid0: "signing", kid1: "next"}, asym,
                                         "next")
            # The last token of the old key, issued just before the switch
            # (it lives ACCESS_TTL_S: it must still be valid after it).
            sleep_until(signs_from - 0.6)
            old_token, kid = self.login_kid(srv, email)
            if time.time() < signs_from - 0.1:
                self.assertEqual(kid, kid0)
            else:
                old_token = self.mint_with(srv, old_entry, user, email)

            sleep_until(signs_from + 0.15)
            token, kid = self.login_kid(srv, email)
            self.assertEqual(kid, kid1, "the new key signs once the pre-publication is over")
            self.assertProfileOk(srv.profile(token), user)
            self.assertProfileOk(srv.profile(old_token), user)
            self.assertProfileOk(srv.profile(self.mint_with(srv, old_entry, user, email)), user)
            self.check_states(srv, env, {kid0: "verify-only", kid1: "signing"}, asym,
                              "verify-only")
            self.restart_changes_nothing(srv, env, {kid0: "verify-only", kid1: "signing"}, asym,
                                         "verify-only")
            # Minted late enough to outlive its key's retirement (at
            # signs_from + TTL + leeway + 1), so that only the retirement can
            # refuse it below.
            sleep_until(signs_from + 1.5)
            minted_old = self.mint_with(srv, old_entry, user, email)
            self.assertProfileOk(srv.profile(minted_old), user)
            token, kid = self.login_kid(srv, email)
            self.assertEqual(kid, kid1)

            # Every token of the old key has expired: it retires.
            retire_at = signs_from + ACCESS_TTL_S + LEEWAY_S + 1
            sleep_until(retire_at + 0.15)
            self.check_states(srv, env, {kid0: "retired", kid1: "signing"}, asym, "retired")
            self.assertInvalidToken(srv.profile(self.mint_with(srv, old_entry, user, email)))
            self.assertInvalidToken(srv.profile(old_token))
            # minted_old was verified (and cached) while its key was
            # verify-only; a retired key verifies nothing, cached or not.
            cached_after_retirement = srv.profile(minted_old).status_code
            self.assertProfileOk(srv.profile(self.mint_with(
                srv, harness.key_entry(srv.data_dir, kid1), user, email)), user)
            self.restart_changes_nothing(srv, env, {kid0: "retired", kid1: "signing"}, asym,
                                         "retired")
            self.assertInvalidToken(srv.profile(minted_old))

            # The next rotation drops retired keys from keys.json.
            proc = harness.key_rotate(srv.data_dir, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertNotIn(kid0, [e["kid"] for e in harness.keys_file(srv.data_dir)["keys"]])
            self.assertEqual(cached_after_retirement, 401,
                             "a token of the retired key %s, cached while the key was "
                             "verify-only, is still accepted after the key retired" % kid0)

    def test_eddsa_rotation(self):
        harness.skip_if_valgrind("rotation timeline of seconds")
        self.run_timeline("EdDSA")

    def test_hs256_rotation(self):
        harness.skip_if_valgrind("rotation timeline of seconds")
        self.run_timeline("HS256")


class Sighup(LatchTestCase):
    def test_sighup_reloads_at_once(self):
        harness.skip_if_valgrind("reload within 0.4 s")
        # With a long pre-publication the rotated keys stay "next": the
        # server publishes them but keeps signing with the first key.
        env = rotation_env("ES256", prepublish=300)
        with harness.LatchServer(env=env) as srv:
            _, email, _ = srv.new_user()
            kid0 = srv.kid()
            delays = []
            for _ in range(4):
                proc = harness.key_rotate(srv.data_dir, env=env)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                kid = re.search(r"key ([A-Za-z0-9_-]+)", proc.stdout).group(1)
                start = time.time()
                srv.proc.send_signal(signal.SIGHUP)
                while kid not in harness.jwks_kids(srv) and time.time() - start < 2:
                    time.sleep(0.01)
                delays.append(time.time() - start)
                self.assertIn(kid, harness.jwks_kids(srv))
            # The once-a-second poll alone would pass all four within 0.4 s
            # with probability about 2.5%.
            self.assertLess(max(delays), 0.4, "JWKS after SIGHUP took %s s" % delays)
            self.assertEqual(len(harness.jwks_kids(srv)), 5)
            login = srv.login(email)
            self.assertEqual(harness.token_header(login.json()["token"])["kid"], kid0)
            states = harness.key_list(srv.data_dir, env=env)
            self.assertEqual(sorted(s for _, s in states.values()),
                             ["next"] * 4 + ["signing"], states)
            self.assertTrue(srv.running())

    def test_sighup_without_change_keeps_keys(self):
        env = rotation_env("EdDSA")
        with harness.LatchServer(env=env) as srv:
            user, _, token = srv.new_user()
            kids = harness.jwks_kids(srv)
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            self.assertTrue(srv.running())
            self.assertEqual(harness.jwks_kids(srv), kids)
            self.assertProfileOk(srv.profile(token), user)

    def test_rotate_while_stopped(self):
        harness.skip_if_valgrind("key states after a timed wait")
        env = rotation_env("EdDSA")
        srv = harness.LatchServer(env=env)
        try:
            srv.start()
            kid0 = srv.kid()
            srv.stop()
            proc = harness.key_rotate(srv.data_dir, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            listed = harness.key_list(srv.data_dir, env=env)
            srv.start()
            self.assertEqual(harness.key_list(srv.data_dir, env=env), listed)
            self.assertEqual(len(harness.jwks_kids(srv)), 2)
            self.assertIn(kid0, harness.jwks_kids(srv))
        finally:
            srv.close()


class CacheAcrossPrepublication(LatchTestCase):
    def test_token_first_seen_while_next_key_waits_dies_with_its_key(self):
        # Issue 9: a token of the old key verified (and cached) while the new
        # key is only pre-published was remembered as if its key would never
        # retire.  With a 3 s leeway its iat may lie 3 s ahead, so its exp
        # (iat + TTL + leeway) reaches past the old key's retirement.
        harness.skip_if_valgrind("rotation timeline of seconds")
        ttl, leeway, prepublish = 2, 3, 3
        env = {"LATCH_JWT_ALG": "EdDSA", "LATCH_KEY_PREPUBLISH_S": str(prepublish),
               "LATCH_ACCESS_TTL_S": str(ttl), "LATCH_LEEWAY_S": str(leeway)}
        with harness.LatchServer(env=env) as srv:
            user, email, _ = srv.new_user()
            old = harness.key_entry(srv.data_dir, srv.kid())
            key = harness.load_private_pem(old["material"])
            harness.until_second_start(0.1)
            proc = harness.key_rotate(srv.data_dir, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            new = [e for e in harness.keys_file(srv.data_dir)["keys"] if e["kid"] != old["kid"]][0]
            signs_from = new["signs_from"]
            retires = signs_from + ttl + leeway + 1

            def forged():
                now = int(time.time())
                claims = claims_for(user["id"], email=email, now=now + leeway, ttl=ttl + leeway)
                return mint_asym(claims, key, "EdDSA", kid=old["kid"])

            time.sleep(1.1)      # the server has seen the new (next) key
            seen = forged()
            self.assertLess(time.time(), signs_from, "test too slow")
            self.assertProfileOk(srv.profile(seen), user)       # verified and cached
            sleep_until(retires + 0.2)
            self.assertLess(time.time(), harness.token_payload(seen)["exp"] + leeway - 0.3,
                            "test too slow: the token itself expired")
            self.assertInvalidToken(srv.profile(seen))
            self.assertEqual(srv.get("/verify", headers=harness.bearer(seen)).status_code, 401)
