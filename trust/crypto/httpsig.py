"""RFC 9421 HTTP Message Signatures for node-to-node calls, with RFC 9530 Content-Digest.

Profile (DESIGN section 5): label ``td``; ``alg="ed25519"``; ``keyid`` ``<account>#<key
id>``; ``created`` and ``expires`` (60 s later); a random ``nonce``; ``tag`` =
``trustdesk-fed-v1``; covering ``@method``, ``@target-uri``, ``@authority``, then
``content-digest`` and ``content-type`` when there is a body, and ``trustdesk-trust`` and
``trustdesk-actor`` when the request carries them. The signature base is built by the
PyPI package ``http-message-signatures`` (which reproduces RFC 9421 Appendix B.2.6 byte
for byte), so we interoperate with it in both directions.

``verify_request`` checks, in the order DESIGN gives for the pure part: a resolvable key,
the signature (and the covered components), the time window, then the digest. Nonce
replay and the trust/offering checks need state and are the caller's. The algorithm is
fixed to Ed25519: an ``alg`` on the wire can never pick another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import http_sf
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from trust.crypto.errors import SignatureError
from trust.crypto.keys import SigningKey, VerifyKey

TAG = "trustdesk-fed-v1"
LABEL = "td"
LIFETIME = 60
BASE_COMPONENTS = ("@method", "@target-uri", "@authority")
OPTIONAL_HEADERS = ("trustdesk-trust", "trustdesk-actor")


@dataclass
class HttpRequestParts:
    """A request as signatures see it; ``url`` is the full target URI as sent."""

    method: str
    url: str
    headers: MutableMapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return None


@dataclass(frozen=True)
class VerifiedSignature:
    keyid: str
    created: int
    expires: int
    nonce: str
    components: tuple[str, ...]
    trust: str | None
    actor: str | None


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, keyid: str, public: Any = None, private: Any = None) -> None:
        self.keyid, self.public, self.private = keyid, public, private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public if key_id == self.keyid else None

    def resolve_private_key(self, key_id: str) -> Any:
        if key_id != self.keyid or self.private is None:
            raise KeyError(key_id)
        return self.private


class _Verifier(HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        """The window is checked after the signature, against the node's injected clock."""


def covered_components(parts: HttpRequestParts) -> tuple[str, ...]:
    components = list(BASE_COMPONENTS)
    if parts.body:
        components += ["content-digest", "content-type"]
    components += [h for h in OPTIONAL_HEADERS if parts.header(h) is not None]
    return tuple(components)


def sign_request(
    parts: HttpRequestParts,
    key: SigningKey,
    *,
    keyid: str,
    created: int,
    nonce: str | None = None,
    lifetime: int = LIFETIME,
) -> HttpRequestParts:
    """Sign ``parts`` in place (adding Content-Digest for a body) and return it."""
    if parts.body and parts.header("content-type") is None:
        raise ValueError("a request with a body needs a Content-Type to sign")
    return sign_components(
        parts,
        key,
        keyid=keyid,
        components=covered_components(parts),
        created=created,
        expires=created + lifetime,
        nonce=nonce or secrets.token_urlsafe(16),
        tag=TAG,
    )


def sign_components(
    parts: HttpRequestParts,
    key: SigningKey,
    *,
    keyid: str,
    components: tuple[str, ...],
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    label: str = LABEL,
    include_alg: bool = True,
    use_existing_digest: bool = False,
    cover_body: bool = True,
) -> HttpRequestParts:
    """The general RFC 9421 signer (Ed25519) that ``sign_request`` profiles.

    With ``cover_body`` a body gets a Content-Digest (RFC 9530) that the signature covers.
    """
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(keyid, private=key.private_key)
    )
    signer.sign(
        parts,
        key_id=keyid,
        created=datetime.fromtimestamp(created, UTC),
        expires=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
        nonce=nonce,
        label=label,
        tag=tag,
        include_alg=include_alg,
        covered_component_ids=components,
        body=(parts.body or None) if cover_body else None,
        use_existing_digest=use_existing_digest,
    )
    return parts


def verify_request(
    parts: HttpRequestParts,
    resolve_key: Callable[[str], VerifyKey | None],
    *,
    now: int,
    max_skew: int = 30,
    max_lifetime: int = 300,
) -> VerifiedSignature:
    params = _our_signature_params(parts)
    keyid = params.get("keyid")
    if not isinstance(keyid, str):
        raise SignatureError("signature_malformed", "the signature names no keyid")
    key = resolve_key(keyid)
    if key is None:
        raise SignatureError("key_unknown", f"no pinned key {keyid}")
    verifier = _Verifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(keyid, key.public_key)
    )
    required = covered_components(parts)
    try:
        [result] = verifier.verify(parts, max_age=None, expect_tag=TAG, require_components=required)
    except InvalidSignature as exc:
        code = "signature_incomplete" if "Required component" in str(exc) else "signature_invalid"
        raise SignatureError(code, str(exc)) from exc
    except (HTTPMessageSignaturesException, ValueError) as exc:
        raise SignatureError("signature_malformed", str(exc)) from exc
    verified = _window(result.parameters, now, max_skew, max_lifetime)
    _check_digest(parts)
    return VerifiedSignature(
        keyid=keyid,
        created=verified[0],
        expires=verified[1],
        nonce=verified[2],
        components=tuple(
            k.strip('"') for k in result.covered_components if k != '"@signature-params"'
        ),
        trust=parts.header("trustdesk-trust"),
        actor=parts.header("trustdesk-actor"),
    )


def _our_signature_params(parts: HttpRequestParts) -> dict[str, Any]:
    raw_input, raw_signature = parts.header("signature-input"), parts.header("signature")
    if raw_input is None or raw_signature is None:
        raise SignatureError("signature_missing", "the request is not signed")
    try:
        parsed = _dictionary(raw_input)
    except Exception as exc:  # http_sf raises plain ValueErrors and others on garbage
        raise SignatureError(
            "signature_malformed", "Signature-Input is not a structured field"
        ) from exc
    ours = [params for _, (_, params) in parsed.items() if params.get("tag") == TAG]
    if len(ours) != 1:
        raise SignatureError("signature_missing", f"expected one signature tagged {TAG}")
    alg = ours[0].get("alg", "ed25519")
    if alg != "ed25519":
        raise SignatureError("signature_invalid", f"algorithm {alg!r} is not accepted")
    return dict(ours[0])


def _window(params: dict[str, Any], now: int, skew: int, max_lifetime: int) -> tuple[int, int, str]:
    created, expires, nonce = params.get("created"), params.get("expires"), params.get("nonce")
    if not isinstance(created, int) or not isinstance(expires, int) or not isinstance(nonce, str):
        raise SignatureError("signature_incomplete", "created, expires and nonce are required")
    if created > now + skew:
        raise SignatureError("signature_not_yet_valid", "created is in the future")
    if expires < now - skew or expires - created > max_lifetime or expires <= created:
        raise SignatureError("signature_expired", "the signature has expired or lives too long")
    return created, expires, nonce


def _check_digest(parts: HttpRequestParts) -> None:
    header = parts.header("content-digest")
    if not parts.body and header is None:
        return
    if header is None:
        raise SignatureError("digest_missing", "a body needs a Content-Digest")
    try:
        members = _dictionary(header)
        claimed = members["sha-256"][0]
    except Exception as exc:
        raise SignatureError("digest_missing", "Content-Digest has no sha-256 member") from exc
    if not isinstance(claimed, bytes) or not hmac.compare_digest(
        claimed, hashlib.sha256(parts.body).digest()
    ):
        raise SignatureError("digest_mismatch", "the body does not match its Content-Digest")


def signature_b64(parts: HttpRequestParts) -> str:
    """The raw signature value (for logs and tests)."""
    raw = parts.header("signature") or ""
    return base64.b64encode(_dictionary(raw)[LABEL][0]).decode()


def _dictionary(raw: str) -> dict[str, Any]:
    """An RFC 8941 dictionary as plain values: {name: (value, params)}."""
    return cast(dict[str, Any], http_sf.parse(raw.encode(), tltype="dictionary"))
