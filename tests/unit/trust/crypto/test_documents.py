"""Documents signed by several parties: agreements, rotations, descriptors."""

from __future__ import annotations

import copy
import json

import pytest

from trust.crypto.canonical import canonicalize
from trust.crypto.documents import (
    CONTEXT,
    SignedDocument,
    countersign,
    sign_document,
    signing_bytes,
    verify_document,
)
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, SigningKey, unb64url

CUSTOMER = SigningKey.generate("contoso#k1")
MSP = SigningKey.generate("northwind-msp#k1")
AGREEMENT = {
    "id": "trust-1",
    "revision": 1,
    "trusting": {"account": "contoso", "keyid": "contoso#k1"},
    "trusted": {"account": "northwind-msp", "keyid": "northwind-msp#k1"},
    "scopes": ["requests:read", "requests:act"],
    "start": "2026-01-01T00:00:00+00:00",
    "end": None,
}
BOTH = {"contoso#k1": CUSTOMER.verify_key, "northwind-msp#k1": MSP.verify_key}


def _agreed() -> SignedDocument:
    return sign_document(AGREEMENT, CUSTOMER, "trust-agreement").add_signature(MSP)


def _code(signed, doc_type="trust-agreement", required=BOTH, **options) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_document(signed, doc_type, required, **options)
    return caught.value.code


def test_an_agreement_proposed_then_countersigned_verifies_for_both_parties():
    agreed = _agreed()
    assert agreed.keyids == ["contoso#k1", "northwind-msp#k1"]
    assert verify_document(agreed, "trust-agreement", BOTH) == AGREEMENT


def test_a_signed_document_is_plain_json_that_survives_storage_and_transport():
    stored = json.loads(json.dumps(_agreed()))
    assert set(stored) == {"document", "signatures"}
    assert verify_document(stored, "trust-agreement", BOTH) == AGREEMENT
    assert type(_agreed().to_json()) is dict


def test_each_signature_covers_the_type_and_the_canonical_document():
    signed = sign_document(AGREEMENT, CUSTOMER, "trust-agreement")
    message = CONTEXT + b"trust-agreement\n" + canonicalize(AGREEMENT)
    assert signing_bytes(AGREEMENT, "trust-agreement") == message
    assert CUSTOMER.verify_key.verify(unb64url(signed.signatures[0]["sig"]), message)


def test_signing_copies_the_document_so_later_edits_of_the_input_change_nothing():
    source = copy.deepcopy(AGREEMENT)
    signed = sign_document(source, CUSTOMER, "trust-agreement")
    source["revision"] = 99
    assert signed.document["revision"] == 1


def test_a_proposal_alone_lacks_the_countersignature():
    proposed = sign_document(AGREEMENT, CUSTOMER, "trust-agreement")
    assert _code(proposed) == "signature_missing"


def test_a_changed_field_breaks_the_signatures():
    agreed = _agreed()
    agreed.document["scopes"].append("admin")
    assert _code(agreed) == "signature_invalid"


def test_a_signature_for_one_document_type_cannot_be_replayed_as_another():
    rotation_shaped = sign_document(AGREEMENT, CUSTOMER, "key-rotation").add_signature(MSP)
    assert _code(rotation_shaped, "trust-agreement") == "signature_invalid"
    assert _code(_agreed(), "key-rotation") == "signature_invalid"


def test_a_signature_by_another_key_under_a_pinned_name_is_invalid():
    impostor = SigningKey.generate("northwind-msp#k1")
    forged = sign_document(AGREEMENT, CUSTOMER, "trust-agreement").add_signature(impostor)
    assert _code(forged) == "signature_invalid"


def test_extra_signers_are_ignored_by_default_and_refused_when_exact():
    agreed = _agreed().add_signature(SigningKey.generate("someone#k9"))
    assert verify_document(agreed, "trust-agreement", BOTH) == AGREEMENT
    assert _code(agreed, exact=True) == "key_unknown"
    assert verify_document(_agreed(), "trust-agreement", BOTH, exact=True) == AGREEMENT


def test_one_party_cannot_sign_twice():
    with pytest.raises(SignatureError) as caught:
        _agreed().add_signature(MSP)
    assert caught.value.code == "signature_duplicate"
    doubled = _agreed().to_json()
    doubled["signatures"].append(dict(doubled["signatures"][0]))
    assert _code(doubled) == "signature_duplicate"


def test_a_key_rotation_needs_both_the_old_and_the_new_key():
    old, new = SigningKey.generate("msp#k1"), SigningKey.generate("msp#k2")
    notice = {"old": "msp#k1", "new": "msp#k2", "new_public_key": new.verify_key.to_b64url()}
    keys = {KeyRef("msp", "k1"): old.verify_key, KeyRef("msp", "k2"): new.verify_key}
    only_new = sign_document(notice, new, "key-rotation")
    assert _code(only_new, "key-rotation", keys) == "signature_missing"
    both = SignedDocument(notice, "key-rotation").add_signature(old).add_signature(new)
    assert both.verify(keys, exact=True) == notice


def test_a_node_descriptor_signed_by_every_hosted_account_verifies_for_each_reader():
    accounts = [SigningKey.generate(f"acct{i}#k1") for i in range(3)]
    descriptor = {"node": "https://node.example", "accounts": ["acct0", "acct1", "acct2"]}
    signed = sign_document(descriptor, accounts[0], "node-descriptor")
    for key in accounts[1:]:
        signed = countersign(signed, key, key.key_id, "node-descriptor")
    for key in accounts:
        assert verify_document(signed, "node-descriptor", {key.key_id: key.verify_key})


def test_the_older_call_forms_still_work():
    anonymous = SigningKey.generate()
    proposed = sign_document(AGREEMENT, anonymous, "contoso#k1", "trust-agreement")
    agreed = countersign(proposed, MSP, "northwind-msp#k1", "trust-agreement")
    assert proposed.keyids == ["contoso#k1"]  # countersign copied, it did not mutate
    required = {"contoso#k1": anonymous.verify_key, "northwind-msp#k1": MSP.verify_key}
    assert verify_document(agreed, "trust-agreement", required) == AGREEMENT


def test_signing_needs_a_key_id_a_document_type_and_a_json_document():
    with pytest.raises(ValueError, match="key_id"):
        sign_document(AGREEMENT, SigningKey.generate(), "trust-agreement")
    with pytest.raises(ValueError, match="document type"):
        sign_document(AGREEMENT, CUSTOMER, "Trust Agreement\n")
    with pytest.raises(ValueError, match="not a JSON value"):
        sign_document({"at": object()}, CUSTOMER, "trust-agreement")


def test_verifying_against_nobody_is_a_programming_error():
    with pytest.raises(ValueError, match="no party"):
        verify_document(_agreed(), "trust-agreement", {})


@pytest.mark.parametrize(
    "signed",
    [
        None,
        [],
        "text",
        {"document": {}},
        {"document": {}, "signatures": [], "extra": 1},
        {"document": [], "signatures": []},
        {"document": {}, "signatures": {}},
        {"document": {}, "signatures": [{"keyid": 1, "sig": "AA"}]},
        {"document": {}, "signatures": [{"keyid": "contoso#k1"}]},
        {"document": {}, "signatures": [{"keyid": "Contoso", "sig": "AA"}]},
    ],
    ids=repr,
)
def test_malformed_signed_documents_are_refused_with_a_code(signed):
    assert _code(signed) == "signature_malformed"


@pytest.mark.parametrize("sig", ["not base64!", "AAAA", "A" * 86 + "=="])
def test_a_garbled_signature_value_is_malformed(sig):
    agreed = _agreed().to_json()
    agreed["signatures"][1]["sig"] = sig
    assert _code(agreed) == "signature_malformed"


def test_an_unrepresentable_document_is_malformed_not_a_crash():
    agreed = _agreed().to_json()
    agreed["document"]["n"] = float("nan")
    assert _code(agreed) == "signature_malformed"
