"""Canonical JSON (RFC 8785), account keys, and documents signed by several parties."""

from __future__ import annotations

import pytest

from trust.crypto.canonical import CanonicalizationError, canonicalize
from trust.crypto.documents import countersign, sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyError_, KeyRef, SigningKey, VerifyKey


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 2, "a": 1}, b'{"a":1,"b":2}'),
        ([1.0, 4.5, 0.002, 1e30, 1e-7, -0.0], b"[1,4.5,0.002,1e+30,1e-7,0]"),
        ({"\u20ac": 1, "\r": 2, "1": 3}, '{"\\r":2,"1":3,"\u20ac":1}'.encode()),
        ("é\u2028", '"é\u2028"'.encode()),
        ({"nested": {"z": [True, False, None]}}, b'{"nested":{"z":[true,false,null]}}'),
    ],
)
def test_rfc_8785_canonical_form(value, expected):
    assert canonicalize(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "a"}, {"a": {1, 2}}, b"bytes"])
def test_values_without_a_json_form_are_refused(value):
    with pytest.raises(CanonicalizationError):
        canonicalize(value)


def test_key_references_name_the_account_and_the_key():
    ref = KeyRef.parse("northwind-msp#k2026")
    assert (ref.account, ref.key_id, str(ref)) == ("northwind-msp", "k2026", "northwind-msp#k2026")
    for bad in ("", "noaccount", "#k1", "a#", "A#k1", "a#k#1"):
        with pytest.raises(KeyError_):
            KeyRef.parse(bad)


def test_a_fingerprint_is_short_stable_and_survives_serialization():
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.to_pem())
    assert again.verify_key == key.verify_key
    fingerprint = key.verify_key.fingerprint
    assert fingerprint.startswith("SHA256:") and len(fingerprint) == 7 + 43
    assert VerifyKey.from_b64url(key.verify_key.to_b64url()).fingerprint == fingerprint


CUSTOMER, MSP = SigningKey.generate(), SigningKey.generate()
AGREEMENT = {"id": "trust-1", "revision": 1, "trusting": "contoso", "trusted": "northwind-msp"}
BOTH = {"contoso#k1": CUSTOMER.verify_key, "northwind-msp#k1": MSP.verify_key}


def _agreed():
    proposed = sign_document(AGREEMENT, CUSTOMER, "contoso#k1", "trust-agreement")
    return countersign(proposed, MSP, "northwind-msp#k1", "trust-agreement")


def test_an_agreement_signed_by_both_parties_verifies():
    assert verify_document(_agreed(), "trust-agreement", BOTH) == AGREEMENT


def test_a_proposal_lacks_the_countersignature():
    proposed = sign_document(AGREEMENT, CUSTOMER, "contoso#k1", "trust-agreement")
    with pytest.raises(SignatureError) as caught:
        verify_document(proposed, "trust-agreement", BOTH)
    assert caught.value.code == "signature_missing"


def test_a_changed_field_breaks_every_signature():
    agreed = _agreed()
    agreed["document"]["revision"] = 2
    with pytest.raises(SignatureError) as caught:
        verify_document(agreed, "trust-agreement", BOTH)
    assert caught.value.code == "signature_invalid"


def test_a_signature_for_one_document_type_cannot_be_replayed_as_another():
    with pytest.raises(SignatureError) as caught:
        verify_document(_agreed(), "offering", BOTH)
    assert caught.value.code == "signature_invalid"


def test_signatures_by_other_keys_are_ignored_but_twice_by_one_is_refused():
    agreed = countersign(_agreed(), SigningKey.generate(), "someone#k9", "trust-agreement")
    assert verify_document(agreed, "trust-agreement", BOTH) == AGREEMENT
    with pytest.raises(SignatureError) as caught:
        countersign(agreed, MSP, "northwind-msp#k1", "trust-agreement")
    assert caught.value.code == "signature_duplicate"


@pytest.mark.parametrize(
    "signed",
    [
        None,
        [],
        {"document": {}},
        {"document": [], "signatures": []},
        {"document": {}, "signatures": [{"keyid": 1}]},
    ],
)
def test_malformed_signed_documents_are_refused(signed):
    with pytest.raises(SignatureError) as caught:
        verify_document(signed, "trust-agreement", BOTH)
    assert caught.value.code == "signature_malformed"
