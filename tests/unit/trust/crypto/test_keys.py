"""Ed25519 account keys: references, encodings, fingerprints, signing."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trust.crypto import keys
from trust.crypto.errors import SignatureError
from trust.crypto.keys import (
    KeyFormatError,
    KeyRef,
    SigningKey,
    VerifyKey,
    b64url,
    format_keyref,
    parse_keyref,
    unb64url,
)

B26 = json.loads((Path(__file__).parents[3] / "vectors/rfc9421/b26.json").read_text())


def test_a_key_reference_names_the_account_and_its_key():
    ref = parse_keyref("northwind-msp#k20260101-a1b2c3")
    assert (ref.account, ref.key_id) == ("northwind-msp", "k20260101-a1b2c3")
    assert str(ref) == format_keyref("northwind-msp", "k20260101-a1b2c3")
    assert KeyRef.of(ref) is ref and KeyRef.of(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    ["", "noaccount", "#k1", "a#", "A#k1", "a#K1", "a#k#1", "a b#k1", "-a#k1", "a#" + "k" * 65, 7],
)
def test_malformed_key_references_are_refused(text):
    with pytest.raises(KeyFormatError):
        KeyRef.parse(text)


def test_a_key_reference_cannot_be_built_from_bad_parts():
    with pytest.raises(KeyFormatError):
        KeyRef("acme", "k#1")


def test_the_rfc_test_key_loads_from_pem_and_its_public_half_matches_the_jwk():
    key = SigningKey.from_pem(B26["private_key_pem"].encode())
    assert key.verify_key.to_b64url() == B26["public_key_x"]
    assert key.to_raw() == unb64url(B26["private_key_d"])
    assert VerifyKey.from_pem(B26["public_key_pem"].encode()) == key.verify_key
    assert key.verify_key.to_pem().decode() == B26["public_key_pem"]


def test_private_keys_round_trip_through_pkcs8_pem_and_raw_seed():
    key = SigningKey.generate("acme#k1")
    assert b"BEGIN PRIVATE KEY" in key.to_pem()
    for again in (SigningKey.from_pem(key.to_pem()), SigningKey.from_raw(key.to_raw())):
        assert again.verify_key == key.verify_key
        assert again.sign(b"m") == key.sign(b"m")  # Ed25519 is deterministic


def test_public_keys_round_trip_through_43_characters_of_base64url():
    key = SigningKey.generate().verify_key
    text = key.to_b64url()
    assert len(text) == 43 and "=" not in text
    assert VerifyKey.from_b64url(text) == key


@pytest.mark.parametrize(
    "text", ["", "AAAA", "A" * 42 + "=", "A" * 42 + "+", "A" * 44, "A" * 42 + "B", None]
)
def test_public_keys_in_any_other_spelling_are_refused(text):
    with pytest.raises(KeyFormatError):
        VerifyKey.from_b64url(text)


def test_base64url_decoding_accepts_only_the_canonical_spelling():
    assert unb64url(b64url(b"\xff\xfe")) == b"\xff\xfe"
    with pytest.raises(KeyFormatError):
        unb64url("__9")  # same bytes as "__8" with stray low bits


@pytest.mark.parametrize(
    "pem",
    [
        b"not a pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_garbage_private_keys_are_refused(pem):
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(pem)


def test_a_non_ed25519_private_key_is_refused():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="Ed25519"):
        SigningKey.from_pem(pem)


def test_a_fingerprint_is_sha256_of_the_raw_key_for_reading_aloud():
    key = SigningKey.from_pem(B26["private_key_pem"].encode()).verify_key
    fingerprint = key.fingerprint
    assert fingerprint.startswith("SHA256:") and len(fingerprint) == 7 + 43
    digest = base64.urlsafe_b64decode(fingerprint[7:] + "=")
    assert digest == hashlib.sha256(key.raw).digest()
    assert SigningKey.generate().verify_key.fingerprint != fingerprint


def test_signatures_verify_only_for_the_same_key_and_message():
    key = SigningKey.generate()
    signature = key.sign(b"message")
    assert len(signature) == 64
    assert key.verify_key.verify(signature, b"message")
    assert not key.verify_key.verify(signature, b"messagE")
    assert not SigningKey.generate().verify_key.verify(signature, b"message")
    assert not key.verify_key.verify(signature[:63], b"message")


def test_keys_carry_the_reference_they_are_published_under_without_it_changing_equality():
    key = SigningKey.generate(KeyRef("acme", "k1"))
    assert key.key_id == "acme#k1" and key.verify_key.key_id == "acme#k1"
    assert key.ref == KeyRef("acme", "k1")
    anonymous = VerifyKey(key.verify_key.raw)
    assert anonymous.key_id is None and anonymous == key.verify_key
    assert anonymous.with_key_id("acme#k1").key_id == "acme#k1"
    with pytest.raises(KeyFormatError):
        SigningKey.generate("not a reference")


def test_a_signing_key_never_shows_its_secret():
    key = SigningKey.generate("acme#k1")
    shown = repr(key)
    assert "acme#k1" in shown and key.fingerprint in shown
    assert b64url(key.to_raw()) not in shown


def test_public_keys_copy_and_pickle_by_value():
    key = SigningKey.generate("acme#k1").verify_key
    for again in (copy.deepcopy(key), pickle.loads(pickle.dumps(key))):  # noqa: S301
        assert again == key and again.key_id == "acme#k1" and hash(again) == hash(key)
    assert repr(key) == f"VerifyKey(key_id='acme#k1', fingerprint='{key.fingerprint}')"


STABLE_CODES = {
    "KeyUnknown": "key_unknown",
    "SignatureMissing": "signature_missing",
    "SignatureMalformed": "signature_malformed",
    "SignatureInvalid": "signature_invalid",
    "SignatureIncomplete": "signature_incomplete",
    "SignatureExpired": "signature_expired",
    "SignatureNotYetValid": "signature_not_yet_valid",
    "SignatureDuplicate": "signature_duplicate",
    "DigestMissing": "digest_missing",
    "DigestMismatch": "digest_mismatch",
}


@pytest.mark.parametrize(("name", "code"), STABLE_CODES.items())
def test_every_failure_is_a_signature_error_with_its_stable_code(name, code):
    error = getattr(keys, name)("what went wrong")
    assert isinstance(error, SignatureError)
    assert (error.code, error.detail) == (code, "what went wrong")
    assert str(error) == f"{code}: what went wrong"
