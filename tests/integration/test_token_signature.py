"""Tampering with the payload or the signature, and the wrong key."""

import base64
import json
import os

import harness
from harness import LatchTestCase, b64url, b64url_decode, claims_for, mint

SERVER = None
USER = None
TOKEN = None


def setUpModule():
    global SERVER, USER, TOKEN
    SERVER = harness.start_module_server()
    USER, _, TOKEN = SERVER.new_user()


def tearDownModule():
    harness.stop_module_server(SERVER)


class Tampered(LatchTestCase):
    def test_control_valid_token_accepted(self):
        self.assertProfileOk(SERVER.profile(TOKEN), USER)

    def test_payload_role_changed_original_signature(self):
        header, payload, signature = TOKEN.split(".")
        claims = json.loads(b64url_decode(payload))
        claims["role"] = "admin"
        forged = header + "." + b64url(json.dumps(claims, separators=(",", ":"))) + "." + signature
        self.assertInvalidToken(SERVER.profile(forged))

    def test_payload_user_changed_original_signature(self):
        other, _, _ = SERVER.new_user()
        header, payload, signature = TOKEN.split(".")
        claims = json.loads(b64url_decode(payload))
        claims["sub"] = str(other["id"])
        claims["userId"] = other["id"]
        forged = header + "." + b64url(json.dumps(claims, separators=(",", ":"))) + "." + signature
        self.assertInvalidToken(SERVER.profile(forged))

    def test_payload_exp_extended_original_signature(self):
        header, payload, signature = TOKEN.split(".")
        claims = json.loads(b64url_decode(payload))
        claims["exp"] += 86400
        forged = header + "." + b64url(json.dumps(claims, separators=(",", ":"))) + "." + signature
        self.assertInvalidToken(SERVER.profile(forged))

    def test_header_changed_original_signature(self):
        _, payload, signature = TOKEN.split(".")
        header = b64url('{"typ":"JWT","alg":"HS256"}')
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "." + signature))


class Signature(LatchTestCase):
    def test_signature_stripped_keep_dot(self):
        header, payload, _ = TOKEN.split(".")
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "."))

    def test_signature_stripped_no_dot(self):
        header, payload, _ = TOKEN.split(".")
        self.assertInvalidToken(SERVER.profile(header + "." + payload))

    def test_signature_truncated_by_one_byte(self):
        header, payload, signature = TOKEN.split(".")
        short = b64url(b64url_decode(signature)[:-1])
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "." + short))

    def test_signature_truncated_to_half(self):
        header, payload, signature = TOKEN.split(".")
        short = b64url(b64url_decode(signature)[:16])
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "." + short))

    def test_signature_truncated_text(self):
        self.assertInvalidToken(SERVER.profile(TOKEN[:-4]))

    def test_signature_extended(self):
        header, payload, signature = TOKEN.split(".")
        longer = b64url(b64url_decode(signature) + b"\x00")
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "." + longer))

    def test_signature_bit_flipped_first_byte(self):
        self.assertInvalidToken(SERVER.profile(flip_bit(TOKEN, 0, 0x01)))

    def test_signature_bit_flipped_last_byte(self):
        self.assertInvalidToken(SERVER.profile(flip_bit(TOKEN, 31, 0x80)))

    def test_signature_bit_flipped_middle(self):
        self.assertInvalidToken(SERVER.profile(flip_bit(TOKEN, 15, 0x10)))

    def test_signature_all_zero(self):
        header, payload, _ = TOKEN.split(".")
        self.assertInvalidToken(SERVER.profile(header + "." + payload + "." + b64url(b"\0" * 32)))


class WrongKey(LatchTestCase):
    def test_signed_with_another_secret(self):
        other = base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=")
        self.assertInvalidToken(SERVER.profile(mint(claims_for(USER["id"]), other)))

    def test_signed_with_secret_prefix(self):
        self.assertInvalidToken(SERVER.profile(mint(claims_for(USER["id"]), SERVER.secret()[:32])))

    def test_signed_with_base64_decoded_secret(self):
        # The secret is used verbatim: its base64url-decoded bytes are another key.
        decoded = b64url_decode(SERVER.secret().decode("ascii"))
        self.assertInvalidToken(SERVER.profile(mint(claims_for(USER["id"]), decoded)))

    def test_signed_with_empty_key(self):
        self.assertInvalidToken(SERVER.profile(mint(claims_for(USER["id"]), b"")))


def flip_bit(token, byte_index, mask):
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[byte_index] ^= mask
    return header + "." + payload + "." + b64url(bytes(raw))
