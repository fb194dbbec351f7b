"""The federation's RFC 9421 profile: what a signed call carries, and every refusal's code."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import (
    TAG,
    HttpRequestParts,
    content_digest,
    sign_message,
    sign_request,
    verify_request,
)
from trust.crypto.keys import SigningKey, VerifyKey

NOW = 1_700_000_000
MSP = SigningKey.generate("msp#k1")
URL = "https://customer.example:8443/federation/v1/requests/r%2F1/notes?x=1"
BODY = b'{"note": "hi"}'
HEADERS = {
    "Content-Type": "application/json",
    "TrustDesk-Trust": "trust-1",
    "TrustDesk-Actor": "p7",
}


def _pinned(keyid: str) -> VerifyKey | None:
    return MSP.verify_key if keyid == "msp#k1" else None


def _request(body: bytes = BODY, **headers: str) -> HttpRequestParts:
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    fields = {**HEADERS, **extra} if body else extra
    return HttpRequestParts("POST" if body else "GET", URL, fields, body)


def _signed(parts: HttpRequestParts | None = None, key=MSP, **options) -> HttpRequestParts:
    parts = parts or _request()
    options.setdefault("created", NOW)
    added = sign_request(replace(parts, headers=dict(parts.headers)), key, **options)
    return parts.with_headers(added)


def _code(parts: HttpRequestParts, now: int = NOW + 5, resolve=_pinned) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_request(parts, resolve, now=now)
    return caught.value.code


def _with(parts: HttpRequestParts, **fields: str) -> HttpRequestParts:
    return parts.with_headers({k.replace("_", "-"): v for k, v in fields.items()})


def _sign_custom(parts: HttpRequestParts, *, with_digest: bool = True, **changes) -> dict[str, str]:
    """A valid signature by MSP that departs from the profile as ``changes`` say."""
    fields = {"Content-Digest": content_digest(parts.body)} if with_digest else {}
    view = parts.with_headers(fields)
    options = {"created": NOW, "expires": NOW + 60, "nonce": "n-1", "tag": TAG, **changes}
    components = ["@method", "@target-uri", "@authority", "content-digest", "content-type"]
    components += ["trustdesk-trust", "trustdesk-actor"]
    options = {k: v for k, v in options.items() if v is not None}
    return fields | sign_message(view, MSP, keyid="msp#k1", components=components, **options)


# --- what a signed call carries -------------------------------------------------------


def test_signing_returns_the_digest_and_signature_fields_to_add():
    added = sign_request(_request(), MSP, created=NOW, nonce="n-1")
    assert set(added) == {"Content-Digest", "Signature-Input", "Signature"}
    assert added["Content-Digest"] == content_digest(BODY)
    assert added["Signature-Input"] == (
        'td=("@method" "@target-uri" "@authority" "content-digest" "content-type" '
        '"trustdesk-trust" "trustdesk-actor");created=1700000000;keyid="msp#k1";'
        'alg="ed25519";expires=1700000060;nonce="n-1";tag="trustdesk-fed-v1"'
    )


def test_a_signed_post_verifies_and_says_who_when_for_which_trust_and_actor():
    verified = verify_request(_signed(), _pinned, now=NOW + 5)
    assert (verified.keyid, verified.created, verified.expires) == ("msp#k1", NOW, NOW + 60)
    assert (verified.trust, verified.actor) == ("trust-1", "p7")
    assert verified.components == (
        "@method", "@target-uri", "@authority", "content-digest", "content-type",
        "trustdesk-trust", "trustdesk-actor",
    )  # fmt: skip


def test_a_get_without_body_covers_no_digest():
    parts = _signed(_request(b""))
    assert parts.header("content-digest") is None
    verified = verify_request(parts, _pinned, now=NOW)
    assert verified.components == ("@method", "@target-uri", "@authority")
    assert verified.trust is None and verified.actor is None


def test_every_signature_gets_a_fresh_random_nonce():
    nonces = {verify_request(_signed(), _pinned, now=NOW).nonce for _ in range(5)}
    assert len(nonces) == 5 and all(len(n) >= 20 for n in nonces)


def test_headers_may_be_field_lines_with_repeated_names():
    lines = [("content-type", "application/json"), ("TrustDesk-Actor", "p7"), ("Via", "a, b")]
    parts = HttpRequestParts("POST", URL, lines, BODY)
    signed = parts.with_headers(sign_request(parts, MSP, created=NOW))
    assert verify_request(signed, _pinned, now=NOW).actor == "p7"


def test_a_mutable_header_mapping_is_also_updated_for_callers_of_the_older_api():
    parts = _request()
    added = sign_request(parts, MSP, created=NOW)
    assert all(parts.headers[name] == value for name, value in added.items())
    assert verify_request(parts, _pinned, now=NOW).keyid == "msp#k1"


def test_signing_refuses_what_the_profile_cannot_express():
    with pytest.raises(ValueError, match="Content-Type"):
        sign_request(HttpRequestParts("POST", URL, {}, BODY), MSP, created=NOW)
    with pytest.raises(ValueError, match="already signed"):
        sign_request(_signed(), MSP, created=NOW)
    with pytest.raises(ValueError, match="key_id"):
        sign_request(_request(), SigningKey.generate(), created=NOW)
    with pytest.raises(ValueError):
        sign_request(_request(), MSP, keyid="not-a-keyref", created=NOW)


# --- refusals, in the order the receiver checks -----------------------------------------


def test_an_unsigned_request_is_refused():
    assert _code(_request()) == "signature_missing"


def test_an_unknown_key_is_refused():
    assert _code(_signed(), resolve=lambda keyid: None) == "key_unknown"
    assert _code(_signed(keyid="nobody#k1")) == "key_unknown"


def test_a_forged_signature_is_refused():
    assert _code(_signed(key=SigningKey.generate("msp#k1"))) == "signature_invalid"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: replace(p, url=p.url.replace("r%2F1", "r%2F2")),
        lambda p: replace(p, url=p.url.replace("customer.example", "other.example")),
        lambda p: replace(p, method="PUT"),
        lambda p: _with(p, TrustDesk_Trust="trust-2"),
        lambda p: _with(p, TrustDesk_Actor="mallory"),
        lambda p: _with(p, Content_Type="text/plain"),
    ],
    ids=["target", "authority", "method", "trust", "actor", "content-type"],
)
def test_any_change_to_a_covered_component_is_refused(change):
    assert _code(change(_signed())) == "signature_invalid"


def test_a_body_changed_after_signing_does_not_match_its_digest():
    assert _code(replace(_signed(), body=b'{"note": "changed"}')) == "digest_mismatch"


def test_a_stripped_digest_is_missing():
    signed = _signed()
    stripped = HttpRequestParts(
        signed.method, signed.url,
        [(k, v) for k, v in signed.header_items() if k.lower() != "content-digest"], signed.body,
    )  # fmt: skip
    assert _code(stripped) == "digest_missing"


def test_a_digest_without_sha256_is_missing_and_a_wrong_sha512_mismatches():
    only_512 = "sha-512=:" + "A" * 86 + "==:"
    parts = _request(Content_Digest=only_512)
    signed = parts.with_headers(_sign_custom(parts, with_digest=False))
    assert _code(signed) == "digest_missing"
    both = content_digest(BODY) + ", " + only_512
    parts = _request(Content_Digest=both)
    assert _code(parts.with_headers(_sign_custom(parts, with_digest=False))) == "digest_mismatch"


def test_a_body_smuggled_into_a_bodiless_signed_call_is_not_covered():
    signed = _signed(_request(b""))
    smuggled = _with(replace(signed, body=BODY), Content_Type="application/json")
    smuggled = _with(smuggled, Content_Digest=content_digest(BODY))
    assert _code(smuggled) == "signature_incomplete"


def test_a_header_added_after_signing_must_have_been_covered():
    signed = _signed(_request(b""))
    assert _code(_with(signed, TrustDesk_Actor="mallory")) == "signature_incomplete"


def test_a_signature_without_our_tag_is_incomplete():
    assert _code(_signed(tag="someone-else")) == "signature_incomplete"


@pytest.mark.parametrize("drop", ["expires", "nonce"])
def test_a_signature_without_expiry_or_nonce_is_incomplete(drop):
    parts = _request()
    assert _code(parts.with_headers(_sign_custom(parts, **{drop: None}))) == "signature_incomplete"


def test_a_stale_signature_is_expired():
    assert _code(_signed(created=NOW - 3600)) == "signature_expired"


def test_a_signature_from_the_future_is_not_yet_valid():
    assert _code(_signed(created=NOW + 3600)) == "signature_not_yet_valid"


def test_the_window_allows_the_clock_skew_and_not_a_second_more():
    signed = _signed()
    verify_request(signed, _pinned, now=NOW - 30)
    verify_request(signed, _pinned, now=NOW + 60 + 30)
    assert _code(signed, now=NOW - 31) == "signature_not_yet_valid"
    assert _code(signed, now=NOW + 60 + 31) == "signature_expired"


def test_a_signature_claiming_a_long_life_is_refused():
    assert _code(_signed(expires_in=3600)) == "signature_expired"


def test_expires_before_created_is_malformed():
    parts = _request()
    assert _code(parts.with_headers(_sign_custom(parts, expires=NOW - 1))) == "signature_malformed"


# --- several signatures ------------------------------------------------------------------


def test_among_several_signatures_the_one_with_our_tag_counts():
    signed = _signed()
    proxy = SigningKey.generate("proxy#k1")
    theirs = sign_message(
        signed, proxy, keyid="proxy#k1", components=["@method"], created=NOW, label="proxy",
        tag="proxy-v1",
    )  # fmt: skip
    both = _with(
        signed,
        Signature_Input=signed.header("signature-input") + ", " + theirs["Signature-Input"],
        Signature=theirs["Signature"] + ", " + signed.header("signature"),
    )
    assert verify_request(both, _pinned, now=NOW).keyid == "msp#k1"


def test_two_signatures_with_our_tag_are_ambiguous():
    signed = _signed()
    second = _sign_custom(_request())
    doubled = _with(
        signed,
        Signature_Input=signed.header("signature-input")
        + ", again="
        + second["Signature-Input"][3:],
        Signature=signed.header("signature") + ", again=" + second["Signature"][3:],
    )
    assert _code(doubled) == "signature_malformed"


def test_several_signatures_none_with_our_tag_are_incomplete():
    parts = _request(b"")
    fields = [
        sign_message(parts, MSP, keyid="msp#k1", components=["@method"], created=NOW, label=x)
        for x in ("a", "b")
    ]
    both = _with(
        parts,
        Signature_Input=", ".join(f["Signature-Input"] for f in fields),
        Signature=", ".join(f["Signature"] for f in fields),
    )
    assert _code(both) == "signature_incomplete"


# --- garbage never crashes ----------------------------------------------------------------

GOOD_INPUT = 'td=("@method");created=1700000000;keyid="msp#k1";tag="trustdesk-fed-v1"'
GOOD_SIGNATURE = "td=:" + "A" * 86 + "==:"


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ("td=(((", GOOD_SIGNATURE),
        (GOOD_INPUT, "garbage(("),
        (GOOD_INPUT, None),
        (None, GOOD_SIGNATURE),
        ("", ""),
        ("td=\u00e9", GOOD_SIGNATURE),
        ('td=("@method")', "td=:é:"),
        (GOOD_INPUT, 'td="not bytes"'),
        (GOOD_INPUT, "other=:AAAA:"),
        ('td="@method";keyid="msp#k1";tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=(1 2);keyid="msp#k1";tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=("@method");keyid=msp;tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=("@method");created="1";keyid="msp#k1";tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=("@method");created=?1;keyid="msp#k1";tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=("@method");keyid="msp#k1";tag=trustdesk-fed-v1', GOOD_SIGNATURE),
        ('td=("@method");keyid="msp#k1";tag="trustdesk-fed-v1";color="red"', GOOD_SIGNATURE),
        ('td=("@method");tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        ('td=("@method");keyid="msp#k1";nonce="";tag="trustdesk-fed-v1"', GOOD_SIGNATURE),
        (GOOD_INPUT + ', td=("@path")', GOOD_SIGNATURE),
        (GOOD_INPUT + ";x=" + "1" * 9000, GOOD_SIGNATURE),
    ],
)
def test_malformed_signature_fields_are_refused_as_malformed(signature_input, signature):
    fields = {"Signature-Input": signature_input, "Signature": signature}
    parts = HttpRequestParts("GET", URL, {k: v for k, v in fields.items() if v is not None})
    assert _code(parts) == "signature_malformed"


@pytest.mark.parametrize(
    "components",
    ['("@method" "@method")', '("@query-param")', '("@status")', '("x-absent")', '("@Method")'],
)
def test_components_that_cannot_be_rebuilt_make_the_signature_invalid(components):
    fields = {
        "Signature-Input": f'td={components};keyid="msp#k1";tag="trustdesk-fed-v1"',
        "Signature": GOOD_SIGNATURE,
    }
    assert _code(HttpRequestParts("GET", URL, fields)) == "signature_invalid"


def test_a_signed_but_unparsable_content_digest_is_malformed():
    parts = _request(Content_Digest="sha-256=(((")
    assert (
        _code(parts.with_headers(_sign_custom(parts, with_digest=False))) == "signature_malformed"
    )


FIELD_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)


@given(signature_input=FIELD_TEXT, signature=FIELD_TEXT, digest=FIELD_TEXT)
def test_arbitrary_field_text_gets_a_code_never_an_exception(signature_input, signature, digest):
    fields = {"Signature-Input": signature_input, "Signature": signature, "Content-Digest": digest}
    with pytest.raises(SignatureError):
        verify_request(HttpRequestParts("POST", URL, fields, BODY), _pinned, now=NOW)


@given(st.data())
def test_a_mutated_signature_input_is_refused_with_a_code(data):
    signed = _signed()
    original = signed.header("signature-input")
    index = data.draw(st.integers(0, len(original) - 1))
    char = data.draw(st.characters(min_codepoint=0x20, max_codepoint=0x7E))
    mutated = original[:index] + char + original[index + 1 :]
    if mutated == original:
        return
    with pytest.raises(SignatureError):
        verify_request(_with(signed, Signature_Input=mutated), _pinned, now=NOW)
