"""RFC 9421 Appendix B.2.6 byte for byte, and interoperation with `http-message-signatures`.

The PyPI library checks ``created``/``expires`` against the wall clock (it has no clock to
inject), so the tests that hand our signatures to its verifier sign at the current time.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import (
    TAG,
    HttpRequestParts,
    required_components,
    sign_message,
    sign_request,
    signature_base,
    verify_request,
)
from trust.crypto.keys import SigningKey, VerifyKey, unb64url

B26 = json.loads((Path(__file__).parents[3] / "vectors/rfc9421/b26.json").read_text())
RFC_KEY = SigningKey.from_pem(B26["private_key_pem"].encode())
MSP = SigningKey.generate("msp#k1")
URL = "https://customer.example/federation/v1/requests/r%2F1/notes?x=1"
PROFILE = ("@method", "@target-uri", "@authority", "content-digest", "content-type")


def _b26_request() -> HttpRequestParts:
    r = B26["request"]
    return HttpRequestParts(r["method"], r["url"], dict(r["headers"]), r["body"].encode())


def _pinned(keyid: str) -> VerifyKey | None:
    return MSP.verify_key if keyid == "msp#k1" else None


def _post() -> HttpRequestParts:
    headers = {"Content-Type": "application/json", "TrustDesk-Trust": "trust-1"}
    return HttpRequestParts("POST", URL, headers, b'{"note": "hi"}')


def _library_signer(key=MSP.private_key, algorithm=algorithms.ED25519) -> HTTPMessageSigner:
    resolver = MappingKeyResolver(public_keys={}, private_keys={"msp#k1": key})
    return HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=resolver)


def _library_verifier() -> HTTPMessageVerifier:
    resolver = MappingKeyResolver(
        public_keys={"msp#k1": MSP.verify_key.public_key}, private_keys={}
    )
    return HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- RFC 9421 Appendix B.2.6 ------------------------------------------------------------


def test_the_rfc_test_key_is_the_one_the_vector_names():
    assert RFC_KEY.verify_key.to_b64url() == B26["public_key_x"]
    assert SigningKey.from_raw(unb64url(B26["private_key_d"])).verify_key == RFC_KEY.verify_key


def test_b26_signature_base_is_reproduced_byte_for_byte():
    base = signature_base(_b26_request(), B26["components"], B26["params"])
    assert base == B26["signature_base"].encode()
    assert hashlib.sha256(base).hexdigest() == B26["signature_base_sha256"]


def test_b26_signature_input_and_signature_are_reproduced_byte_for_byte():
    fields = sign_message(
        _b26_request(),
        RFC_KEY,
        keyid=B26["keyid"],
        components=B26["components"],
        created=B26["params"]["created"],
        label=B26["label"],
        include_alg=False,
    )
    assert fields == {"Signature-Input": B26["signature_input"], "Signature": B26["signature"]}


def test_the_published_b26_signature_verifies_over_our_base():
    public = VerifyKey.from_pem(B26["public_key_pem"].encode())
    base = signature_base(_b26_request(), B26["components"], B26["params"])
    assert public.verify(bytes.fromhex(B26["signature_hex"]), base)


def test_the_library_builds_the_same_b26_base():
    prepared = _library_signer(RFC_KEY.private_key).prepare(
        _b26_request(),
        key_id=B26["keyid"],
        created=_at(B26["params"]["created"]),
        include_alg=False,
        covered_component_ids=B26["components"],
        use_existing_digest=True,
    )
    assert prepared.signature_base == B26["signature_base"].encode()


# --- our signatures, their verifier -------------------------------------------------------


def test_the_library_verifies_our_signed_post_including_its_digest():
    parts = _post()
    sign_request(parts, MSP, created=int(time.time()))
    [result] = _library_verifier().verify(
        parts,
        max_age=None,
        expect_tag=TAG,
        require_components=required_components(parts),
        body=parts.body,
    )
    assert result.parameters["keyid"] == "msp#k1" and result.body == parts.body


def test_the_library_verifies_our_signed_get():
    parts = HttpRequestParts("GET", URL, {"TrustDesk-Trust": "trust-1"})
    sign_request(parts, MSP, created=int(time.time()))
    [result] = _library_verifier().verify(parts, max_age=None, expect_tag=TAG)
    assert '"trustdesk-trust"' in result.covered_components


def test_the_library_rejects_our_signature_on_a_changed_body():
    parts = _post()
    sign_request(parts, MSP, created=int(time.time()))
    parts.body = b'{"note": "changed"}'
    with pytest.raises(InvalidSignature):
        _library_verifier().verify(parts, max_age=None, expect_tag=TAG, body=parts.body)


# --- their signatures, our verifier -------------------------------------------------------


def _library_signed(parts: HttpRequestParts, components=PROFILE, **options) -> HttpRequestParts:
    defaults = {"created": _at(1_700_000_000), "expires": _at(1_700_000_060), "nonce": "n-1"}
    _library_signer().sign(
        parts,
        key_id="msp#k1",
        label=options.pop("label", "td"),
        tag=TAG,
        covered_component_ids=components,
        body=parts.body or None,
        **{**defaults, **options},
    )
    return parts


def test_we_verify_the_librarys_signature_of_our_profile():
    parts = _library_signed(_post(), (*PROFILE, "trustdesk-trust"))
    verified = verify_request(parts, _pinned, now=1_700_000_000)
    assert (verified.nonce, verified.trust) == ("n-1", "trust-1")


def test_we_verify_the_library_signing_with_its_own_label_order_and_extra_components():
    components = ("content-type", "@authority", "@target-uri", "@method", "trustdesk-trust")
    parts = _library_signed(_post(), (*components, "@path"), label="pyhms", include_alg=False)
    # the library appended content-digest itself because it was given the body
    assert verify_request(parts, _pinned, now=1_700_000_000).keyid == "msp#k1"


def test_the_library_and_we_write_identical_fields_for_the_same_request():
    ours, theirs = _post(), _post()
    sign_request(ours, MSP, created=1_700_000_000, nonce="n-1")
    _library_signed(theirs, (*PROFILE, "trustdesk-trust"))
    assert ours.headers == theirs.headers


def test_the_librarys_signature_without_our_tag_is_incomplete():
    parts = _post()
    _library_signer().sign(
        parts,
        key_id="msp#k1",
        created=_at(1_700_000_000),
        expires=_at(1_700_000_060),
        nonce="n-1",
        covered_component_ids=(*PROFILE, "trustdesk-trust"),
        body=parts.body,
    )
    with pytest.raises(SignatureError) as caught:
        verify_request(parts, _pinned, now=1_700_000_000)
    assert caught.value.code == "signature_incomplete"


def test_an_hmac_signature_keyed_with_the_public_key_is_never_accepted():
    """Algorithm confusion: the attacker knows the public key and claims hmac-sha256."""
    parts = _post()
    secret = MSP.verify_key.raw
    signer = _library_signer(secret, algorithms.HMAC_SHA256)
    signer.sign(
        parts,
        key_id="msp#k1",
        created=_at(1_700_000_000),
        expires=_at(1_700_000_060),
        nonce="n-1",
        label="td",
        tag=TAG,
        covered_component_ids=(*PROFILE, "trustdesk-trust"),
        body=parts.body,
    )
    for hide_alg in (False, True):
        if hide_alg:
            parts.headers["Signature-Input"] = parts.headers["Signature-Input"].replace(
                ';alg="hmac-sha256"', ""
            )
        with pytest.raises(SignatureError) as caught:
            verify_request(parts, _pinned, now=1_700_000_000)
        assert caught.value.code == "signature_invalid"
