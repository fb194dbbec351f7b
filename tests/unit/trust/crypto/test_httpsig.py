"""RFC 9421 signatures: Appendix B.2.6 byte for byte, interop, and every refusal's code."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures._components import _parse_component_ids
from http_message_signatures.resolvers import MappingKeyResolver
from http_message_signatures.signatures import HTTPSignatureHandler

from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import (
    TAG,
    HttpRequestParts,
    covered_components,
    sign_components,
    sign_request,
    verify_request,
)
from trust.crypto.keys import SigningKey, VerifyKey

B26 = json.loads((Path(__file__).parents[4] / "tests/vectors/rfc9421/b26.json").read_text())
NOW = 1_700_000_000
MSP = SigningKey.generate()
KEYID = "msp#k1"


def _b26_request() -> HttpRequestParts:
    r = B26["request"]
    return HttpRequestParts(r["method"], r["url"], dict(r["headers"]), r["body"].encode())


def _pinned(keyid: str) -> VerifyKey | None:
    return MSP.verify_key if keyid == KEYID else None


def _signed(**changes) -> HttpRequestParts:
    headers = {
        "Content-Type": "application/json",
        "TrustDesk-Trust": "trust-1",
        "TrustDesk-Actor": "alex",
    }
    parts = HttpRequestParts(
        "POST",
        "https://customer.example:8443/federation/v1/requests/r%2F1/notes?x=1",
        headers,
        b'{"body": "hi"}',
    )
    return sign_request(parts, MSP, keyid=KEYID, created=changes.pop("created", NOW), **changes)


def _code(parts: HttpRequestParts, now: int = NOW + 5, resolve=_pinned) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_request(parts, resolve, now=now)
    return caught.value.code


def test_rfc_9421_b26_is_reproduced_byte_for_byte():
    key = SigningKey.from_pem(B26["private_key_pem"].encode())
    assert key.verify_key.to_b64url() == B26["public_key_x"]
    parts = sign_components(
        _b26_request(),
        key,
        keyid=B26["keyid"],
        components=tuple(B26["components"]),
        created=B26["created"],
        label=B26["label"],
        include_alg=False,
        cover_body=False,
        use_existing_digest=True,
    )
    assert parts.headers["Signature-Input"] == B26["signature_input"]
    assert parts.headers["Signature"] == B26["signature"]


def test_the_b26_signature_base_has_the_published_hash():
    handler = HTTPSignatureHandler(signature_algorithm=algorithms.ED25519, key_resolver=None)
    base, _, _ = handler._build_signature_base(
        _b26_request(),
        covered_component_ids=list(_parse_component_ids(B26["components"])),
        signature_params={"created": B26["created"], "keyid": B26["keyid"]},
    )
    assert hashlib.sha256(base.encode()).hexdigest() == B26["signature_base_sha256"]


def test_a_signed_request_verifies_and_says_who_for_which_trust():
    verified = verify_request(_signed(), _pinned, now=NOW + 5)
    assert (verified.keyid, verified.trust, verified.actor) == (KEYID, "trust-1", "alex")
    assert verified.expires == NOW + 60
    assert set(verified.components) == {
        "@method", "@target-uri", "@authority", "content-digest", "content-type",
        "trustdesk-trust", "trustdesk-actor",
    }  # fmt: skip


def test_the_pypi_library_verifies_our_signatures():
    parts = _signed(created=int(time.time()))  # the library checks times on the wall clock
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={KEYID: MSP.verify_key.public_key}, private_keys={}
        ),
    )
    [result] = verifier.verify(parts, max_age=None, expect_tag=TAG, body=parts.body)
    assert result.parameters["keyid"] == KEYID


def test_we_verify_the_pypi_librarys_signatures():
    parts = HttpRequestParts(
        "POST",
        "https://msp.example/federation/v1/events",
        {"Content-Type": "application/json"},
        b"{}",
    )
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEYID: MSP.private_key}),
    )
    signer.sign(
        parts,
        key_id=KEYID,
        created=datetime.fromtimestamp(NOW, UTC),
        expires=datetime.fromtimestamp(NOW + 60, UTC),
        nonce="n-1",
        label="theirs",
        tag=TAG,
        covered_component_ids=covered_components(parts),
        body=parts.body,
    )
    assert verify_request(parts, _pinned, now=NOW).nonce == "n-1"


def test_a_forged_signature_is_refused():
    forger = SigningKey.generate()
    parts = sign_request(
        HttpRequestParts("GET", "https://customer.example/federation/v1/requests"),
        forger,
        keyid=KEYID,
        created=NOW,
    )
    assert _code(parts) == "signature_invalid"


def test_an_unknown_key_is_refused():
    assert _code(_signed(), resolve=lambda keyid: None) == "key_unknown"


def test_a_body_that_does_not_match_its_digest_is_refused():
    parts = _signed()
    parts.body = b'{"body": "changed"}'
    assert _code(parts) == "digest_mismatch"


def test_a_body_the_signature_does_not_cover_is_refused():
    parts = HttpRequestParts(
        "POST", "https://customer.example/x", {"Content-Type": "application/json"}, b""
    )
    sign_request(parts, MSP, keyid=KEYID, created=NOW)
    parts.body = b'{"smuggled": true}'
    assert _code(parts) == "signature_incomplete"


def test_a_stripped_digest_is_refused():
    parts = _signed()
    del parts.headers["Content-Digest"]
    assert _code(parts) in {"signature_invalid", "signature_malformed"}


def test_a_stale_signature_is_refused():
    assert _code(_signed(created=NOW - 3600)) == "signature_expired"


def test_a_signature_from_the_future_is_refused():
    assert _code(_signed(created=NOW + 3600)) == "signature_not_yet_valid"


def test_small_clock_skew_is_tolerated():
    verify_request(_signed(created=NOW + 20), _pinned, now=NOW)
    verify_request(_signed(created=NOW - 80), _pinned, now=NOW)


def test_a_header_added_after_signing_must_be_covered():
    parts = sign_request(
        HttpRequestParts("GET", "https://customer.example/federation/v1/requests"),
        MSP,
        keyid=KEYID,
        created=NOW,
    )
    parts.headers["TrustDesk-Actor"] = "mallory"
    assert _code(parts) == "signature_incomplete"


def test_a_changed_target_is_refused():
    parts = _signed()
    parts.url = parts.url.replace("r%2F1", "r%2F2")
    assert _code(parts) == "signature_invalid"


@pytest.mark.parametrize(
    ("signature_input", "signature", "code"),
    [
        (None, None, "signature_missing"),
        ("td=(((", "td=:AA==:", "signature_malformed"),
        ('td=("@method");keyid="msp#k1";tag="other"', "td=:AA==:", "signature_missing"),
        (
            'td=("@method");keyid="msp#k1";tag="trustdesk-fed-v1";alg="hmac-sha256"',
            "td=:AA==:",
            "signature_invalid",
        ),
        ('td=("@method");tag="trustdesk-fed-v1"', "td=:AA==:", "signature_malformed"),
        ('td=("@method");keyid="msp#k1";tag="trustdesk-fed-v1"', "garbage((", "signature_invalid"),
    ],
)
def test_garbage_headers_get_a_code_not_a_crash(signature_input, signature, code):
    headers = {}
    if signature_input is not None:
        headers = {"Signature-Input": signature_input, "Signature": signature}
    parts = HttpRequestParts("GET", "https://customer.example/federation/v1/requests", headers)
    assert _code(parts) == code
