"""The proposer's check of a countersigned agreement (trust.agreement.verify_countersigned):
the trusted side's named key, or a newer key of that account its keyring vouches for, and
never a key it does not hold."""

from __future__ import annotations

from typing import Any

import pytest

from trust.agreement import AGREEMENT, draft, party, verify_countersigned
from trust.crypto.documents import countersign, sign_document
from trust.crypto.keys import KeyRef, SigningKey, VerifyKey
from trust.errors import FederationRefused

CUSTOMER, MSP, MSP_NEW = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
NAMED, NEWER = KeyRef("msp-1", "k1"), KeyRef("msp-1", "k2")


def _proposal() -> dict[str, Any]:
    agreement = draft(
        "trust-0011223344556677",
        party("cust-1", "Customer", "https://cust.example", KeyRef("cust-1", "k1"),
              CUSTOMER.verify_key),
        party("msp-1", "MSP", "https://msp.example", NAMED, MSP.verify_key),
        "2026-12-01T00:00:00+00:00",
        {"id": "p1", "name": "Pat"},
    )  # fmt: skip
    return dict(sign_document(agreement, CUSTOMER, "cust-1#k1", AGREEMENT))


def _countersigned(key: SigningKey, ref: KeyRef) -> dict[str, Any]:
    return dict(countersign(_proposal(), key, str(ref), AGREEMENT))


def _vouching(keys: dict[str, VerifyKey]) -> Any:
    return keys.get


def _reason(signed: dict[str, Any], vouched: Any) -> str | None:
    try:
        verify_countersigned(signed, vouched)
    except FederationRefused as refused:
        return str(refused.extensions["reason"])
    return None


def test_a_countersignature_by_the_named_key_verifies():
    assert _reason(_countersigned(MSP, NAMED), _vouching({})) is None


def test_a_countersignature_by_a_newer_key_the_keyring_vouches_for_verifies():
    vouched = _vouching({str(NEWER): MSP_NEW.verify_key})
    assert _reason(_countersigned(MSP_NEW, NEWER), vouched) is None


def test_a_countersignature_by_a_key_the_keyring_does_not_hold_is_refused():
    assert _reason(_countersigned(MSP_NEW, NEWER), _vouching({})) == "key_unknown"


def test_a_countersignature_by_another_key_than_the_vouched_one_is_refused():
    vouched = _vouching({str(NEWER): MSP.verify_key})  # the key id, with another key
    assert _reason(_countersigned(MSP_NEW, NEWER), vouched) == "signature_invalid"


def test_an_agreement_without_the_trusted_sides_signature_is_refused():
    assert _reason(_proposal(), _vouching({})) == "signature_missing"


@pytest.mark.parametrize("forger", [MSP, MSP_NEW])
def test_a_forged_proposer_signature_is_refused_whoever_countersigned(forger):
    signed = _countersigned(MSP, NAMED)
    signed["signatures"][0]["sig"] = _countersigned(forger, NAMED)["signatures"][1]["sig"]
    assert _reason(signed, _vouching({})) == "signature_invalid"
