"""RFC 9421 HTTP Message Signatures for node-to-node calls, with RFC 9530 Content-Digest.

Profile (DESIGN section 5): one signature labelled ``td`` with ``alg="ed25519"``, ``keyid``
``<account>#<key id>``, ``created``, ``expires`` (60 s later), a random ``nonce`` and
``tag="trustdesk-fed-v1"`` (RFC 9421 section 2.3), covering ``@method``, ``@target-uri``,
``@authority`` (section 2.2), ``content-digest`` (RFC 9530, sha-256) and ``content-type``
when there is a body, and ``trustdesk-trust`` / ``trustdesk-actor`` whenever the request
carries them, so no header that changes a call's meaning can be added in transit.

Component values come from ``http_message_signatures``' public component resolver, so they
are normalised exactly as that library does; the signature base (section 2.5), structured
fields (RFC 8941, via ``http_sf``) and all policy are ours. Tests prove Appendix B.2.6 byte
for byte and interoperation with the library in both directions.

``verify_request`` runs the pure part of DESIGN's order and raises, at the first failure, a
``SignatureError`` subclass with a stable ``code``: structure (``signature_missing``,
``signature_malformed``), a pinned key (``key_unknown``), the signature
(``signature_invalid``), the profile's tag, parameters and components
(``signature_incomplete``), the window with its skew (``signature_expired``,
``signature_not_yet_valid``), then the body digest (``digest_missing``,
``digest_mismatch``). Nonce replay and trust checks need state: the caller does them.

Invariants: the algorithm is Ed25519 whatever ``alg`` says (section 3.2 step 6: the
verifier decides); garbage in any field is a coded refusal, never an unhandled exception;
of several signatures only the one tagged ``trustdesk-fed-v1`` counts (section 4.3), and two
so tagged are ambiguous, so refused; the URL is used as given (the receiver rebuilds it from
its public base URL and the raw request target).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import http_sf
from http_message_signatures import HTTPSignatureComponentResolver
from http_sf.compat import Item
from http_sf.parameters import ser_params

from trust.crypto.keys import (
    DigestMismatch,
    DigestMissing,
    KeyFormatError,
    KeyRef,
    KeyUnknown,
    SignatureExpired,
    SignatureIncomplete,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    SignatureNotYetValid,
    SigningKey,
    VerifyKey,
)

TAG = "trustdesk-fed-v1"
LABEL = "td"
ALG = "ed25519"
LIFETIME = 60
MAX_SKEW = 30
MAX_LIFETIME = 300
MAX_FIELD_LENGTH = 8192
MAX_NONCE_LENGTH = 100
BASE_COMPONENTS = ("@method", "@target-uri", "@authority")
BODY_COMPONENTS = ("content-digest", "content-type")
OPTIONAL_HEADERS = ("trustdesk-trust", "trustdesk-actor")
_PARAM_TYPES: dict[str, type] = {
    "alg": str, "created": int, "expires": int, "keyid": str, "nonce": str, "tag": str,
}  # fmt: skip
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Component = tuple[str, dict[str, Any]]


@dataclass
class HttpRequestParts:
    """A request as signatures see it: ``url`` is the full target URI as sent, ``headers``
    a mapping or a list of ``(name, value)`` field lines (repeated names allowed)."""

    method: str
    url: str
    headers: Headers = field(default_factory=dict)
    body: bytes = b""

    def header_items(self) -> list[tuple[str, str]]:
        pairs = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        return [(str(name), str(value)) for name, value in pairs]

    def header(self, name: str) -> str | None:
        """All field lines named ``name`` (any case) joined by ", " (RFC 9110 5.3), or None."""
        name = name.lower()
        pairs = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        values = [str(v).strip(" \t") for k, v in pairs if str(k).lower() == name]
        return ", ".join(values) if values else None

    def with_headers(self, extra: Mapping[str, str]) -> HttpRequestParts:
        """A copy with ``extra`` fields set (replacing fields of the same name)."""
        names = {name.lower() for name in extra}
        kept = [(k, v) for k, v in self.header_items() if k.lower() not in names]
        return HttpRequestParts(self.method, self.url, kept + list(extra.items()), self.body)


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified request proves; ``trust`` and ``actor`` are the signed values."""

    keyid: str
    created: int
    expires: int
    nonce: str
    components: tuple[str, ...]
    trust: str | None
    actor: str | None


@dataclass(frozen=True)
class _Candidate:
    label: str
    components: list[Component]
    params: dict[str, Any]
    signature: bytes


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value for ``body``: ``sha-256=:<base64>:``."""
    return http_sf.ser({"sha-256": (hashlib.sha256(body).digest(), {})})


def required_components(parts: HttpRequestParts) -> tuple[str, ...]:
    """The components our profile requires a signature of ``parts`` to cover."""
    components = list(BASE_COMPONENTS)
    if parts.body:
        components += BODY_COMPONENTS
    components += [name for name in OPTIONAL_HEADERS if parts.header(name) is not None]
    return tuple(components)


def signature_base(
    parts: HttpRequestParts, components: Sequence[str], params: Mapping[str, int | str]
) -> bytes:
    """The RFC 9421 section 2.5 signature base. ``components`` are names (``"@method"``) or
    serialized identifiers (``'"@query-param";name="Pet"'``); ``params`` keep their order."""
    return _base(parts, [_component(c) for c in components], dict(params))[0]


def sign_message(
    parts: HttpRequestParts,
    key: SigningKey,
    *,
    keyid: str,
    components: Sequence[str],
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    label: str = LABEL,
    include_alg: bool = True,
) -> dict[str, str]:
    """General RFC 9421 Ed25519 signer: the ``Signature-Input`` and ``Signature`` fields for
    exactly ``components`` (no digest is added). ``sign_request`` is our profile of it."""
    params: dict[str, Any] = {"created": created, "keyid": keyid}
    optional = {"alg": ALG if include_alg else None, "expires": expires, "nonce": nonce, "tag": tag}
    params.update((name, value) for name, value in optional.items() if value is not None)
    comps = [_component(c) for c in components]
    base, inner, _ = _base(parts, comps, params)
    return {
        "Signature-Input": f"{label}={inner}",
        "Signature": http_sf.ser({label: (key.sign(base), {})}),
    }


def sign_request(
    parts: HttpRequestParts,
    key: SigningKey,
    *,
    keyid: str | None = None,
    created: int,
    nonce: str | None = None,
    expires_in: int = LIFETIME,
    tag: str = TAG,
) -> dict[str, str]:
    """Sign ``parts`` per the profile; return the header fields to set on the request:
    ``Content-Digest`` (when there is a body), ``Signature-Input`` and ``Signature``.
    ``keyid`` defaults to the key's ``key_id``; ``nonce`` to 128 random bits.

    Callers written before this returned the fields read them from ``parts.headers``, so
    when that is a mutable mapping the fields are set there too.
    """
    if keyid is None and key.key_id is None:
        raise ValueError("the key has no key_id: pass keyid=")
    ref = str(KeyRef.of(keyid or key.key_id or ""))
    if parts.header("signature-input") is not None or parts.header("signature") is not None:
        raise ValueError("the request is already signed")
    added = _digest_to_add(parts)
    view = parts.with_headers(added)
    added |= sign_message(
        view,
        key,
        keyid=ref,
        components=required_components(view),
        created=created,
        expires=created + expires_in,
        nonce=nonce if nonce is not None else secrets.token_urlsafe(16),
        tag=tag,
    )
    if isinstance(parts.headers, MutableMapping):
        replaced = {name.lower() for name in added}
        for old in [k for k in parts.headers if k.lower() in replaced]:
            del parts.headers[old]
        parts.headers.update(added)
    return added


def verify_request(
    parts: HttpRequestParts,
    resolve_key: Callable[[str], VerifyKey | None],
    *,
    now: int,
    max_skew: int = MAX_SKEW,
    max_lifetime: int = MAX_LIFETIME,
) -> VerifiedSignature:
    """Verify the profile's signature on ``parts`` at time ``now`` (Unix seconds) with the key
    ``resolve_key`` returns for its keyid (``None``: not pinned). See the module docstring."""
    candidate = _select(parts)
    keyid = candidate.params["keyid"]
    key = _resolve(keyid, resolve_key)
    covered = _check_signature(parts, candidate, key)
    _check_profile(parts, candidate)
    created, expires = _check_window(candidate.params, now, max_skew, max_lifetime)
    _check_digest(parts)
    nonce, names = candidate.params["nonce"], tuple(name for name, _ in candidate.components)
    trust, actor = covered.get("trustdesk-trust"), covered.get("trustdesk-actor")
    return VerifiedSignature(keyid, created, expires, nonce, names, trust, actor)


# --- signing helpers ------------------------------------------------------------------


def _digest_to_add(parts: HttpRequestParts) -> dict[str, str]:
    """Always computed from the body (replacing any the request brought), never trusted."""
    if not parts.body:
        return {}
    if parts.header("content-type") is None:
        raise ValueError("a request with a body needs a Content-Type to sign")
    return {"Content-Digest": content_digest(parts.body)}


def _component(text: str) -> Component:
    if not text.startswith('"'):
        return text, {}
    parsed: Any = http_sf.parse(text.encode("ascii"), tltype="item")
    if type(parsed[0]) is not str:
        raise ValueError(f"{text!r} is not a component identifier")
    return parsed[0], dict(parsed[1])


def _base(
    parts: HttpRequestParts, components: list[Component], params: dict[str, Any]
) -> tuple[bytes, str, dict[str, str]]:
    """The signature base, the serialized ``@signature-params`` inner list, and the values
    of the parameterless components. Raises ``ValueError`` if it cannot be built."""
    for name, value in params.items():
        if type(value) is not _PARAM_TYPES.get(name, type(value)):
            raise ValueError(f"signature parameter {name} must be {_PARAM_TYPES[name].__name__}")
    resolved = _resolved(parts, components)
    inner = f"({' '.join(ident for ident, _ in resolved)}){ser_params(params)}"
    lines = [f"{ident}: {value}" for ident, value in resolved]
    base = "\n".join([*lines, f'"@signature-params": {inner}'])
    if not base.isascii():
        raise ValueError("the signature base is not ASCII")
    values = {n: value for (n, p), (_, value) in zip(components, resolved, strict=True) if not p}
    return base.encode("ascii"), inner, values


def _resolved(parts: HttpRequestParts, components: list[Component]) -> list[tuple[str, str]]:
    """Each component's serialized identifier and value, per the library's resolver."""
    lines = parts.header_items()  # the resolver reads method, url and headers.items()
    fields = SimpleNamespace(items=lambda: lines)
    message = SimpleNamespace(method=parts.method, url=parts.url, headers=fields)
    seen: set[tuple[str, frozenset[tuple[str, Any]]]] = set()
    resolved = []
    try:
        resolver = HTTPSignatureComponentResolver(message)
        for name, params in components:
            node, identity = Item(name), (name, frozenset(params.items()))
            node.params.update(params)
            if name != name.lower() or identity in seen:
                raise ValueError(f"component {name!r} is not lowercase or appears twice")
            seen.add(identity)
            value = resolver.resolve(node)
            if not isinstance(value, str) or not value.replace("\t", " ").isprintable():
                raise ValueError(f"component {name!r} has a value the base cannot carry")
            resolved.append((str(node), value))
    except ValueError:
        raise
    except Exception as exc:  # the resolver signals unusable components in several ways
        raise ValueError(f"cannot resolve the covered components: {exc}") from exc
    return resolved


# --- verification steps, in order -------------------------------------------------------


def _select(parts: HttpRequestParts) -> _Candidate:
    raw_input, raw_signature = parts.header("signature-input"), parts.header("signature")
    if raw_input is None and raw_signature is None:
        raise SignatureMissing("the request is not signed")
    if raw_input is None or raw_signature is None:
        raise SignatureMalformed("Signature-Input and Signature come together")
    inputs = _dictionary("Signature-Input", raw_input)
    signatures = _dictionary("Signature", raw_signature)
    tagged = [label for label, (_, params) in inputs.items() if params.get("tag") == TAG]
    if len(tagged) > 1:
        raise SignatureMalformed(f"{len(tagged)} signatures are tagged {TAG}")
    if not tagged and len(inputs) != 1:
        raise SignatureIncomplete(f"none of the {len(inputs)} signatures is tagged {TAG}")
    label = tagged[0] if tagged else next(iter(inputs))
    if label not in signatures:
        raise SignatureMalformed(f"Signature has no member {label!r}")
    return _candidate(label, inputs[label], signatures[label])


def _dictionary(name: str, raw: str) -> dict[str, Any]:
    def refuse_duplicate(key: str, context: str) -> None:
        raise ValueError(f"duplicate {context} key {key!r}")

    if len(raw) > MAX_FIELD_LENGTH:
        raise SignatureMalformed(f"{name} is longer than {MAX_FIELD_LENGTH} characters")
    try:
        parsed = http_sf.parse(
            raw.encode("ascii"), tltype="dictionary", on_duplicate_key=refuse_duplicate
        )
    except Exception as exc:  # http_sf signals garbage with several exception types
        raise SignatureMalformed(f"{name} is not a structured field dictionary") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise SignatureMalformed(f"{name} is empty")
    return parsed


def _candidate(label: str, member: Any, signature: Any) -> _Candidate:
    value, params = member
    if not isinstance(value, list) or any(type(name) is not str for name, _ in value):
        raise SignatureMalformed(f"Signature-Input {label!r} is not a list of component names")
    for name, param in params.items():
        if name not in _PARAM_TYPES or type(param) is not _PARAM_TYPES[name]:
            raise SignatureMalformed(f"signature parameter {name!r} is unknown or mistyped")
    if "keyid" not in params:
        raise SignatureMalformed("the signature names no keyid")
    if "nonce" in params and not 0 < len(params["nonce"]) <= MAX_NONCE_LENGTH:
        raise SignatureMalformed(f"a nonce is 1 to {MAX_NONCE_LENGTH} characters")
    if not isinstance(signature[0], bytes):
        raise SignatureMalformed(f"Signature {label!r} is not a byte sequence")
    return _Candidate(label, [(n, dict(p)) for n, p in value], dict(params), signature[0])


def _resolve(keyid: str, resolve_key: Callable[[str], VerifyKey | None]) -> VerifyKey:
    try:
        KeyRef.parse(keyid)
    except KeyFormatError as exc:
        raise KeyUnknown(f"{keyid!r} is not an <account>#<key id> this node pins") from exc
    key = resolve_key(keyid)
    if key is None:
        raise KeyUnknown(f"no pinned key {keyid}")
    return key


def _check_signature(
    parts: HttpRequestParts, candidate: _Candidate, key: VerifyKey
) -> dict[str, str]:
    """Verify with Ed25519 only; return the signed values of plain field components."""
    alg = candidate.params.get("alg", ALG)
    if alg != ALG:
        raise SignatureInvalid(f"algorithm {alg!r} is not accepted: federation uses {ALG}")
    names = [name for name, _ in candidate.components]
    if "content-digest" in names and parts.header("content-digest") is None:
        raise DigestMissing("the signature covers a Content-Digest the request lacks")
    try:
        base, _, values = _base(parts, candidate.components, candidate.params)
    except ValueError as exc:
        raise SignatureInvalid(f"the signature base cannot be rebuilt: {exc}") from exc
    if not key.verify(candidate.signature, base):
        raise SignatureInvalid(f"the signature does not verify with {candidate.params['keyid']}")
    return values


def _check_profile(parts: HttpRequestParts, candidate: _Candidate) -> None:
    if candidate.params.get("tag") != TAG:
        raise SignatureIncomplete(f"the signature is not tagged {TAG}")
    absent = [p for p in ("created", "expires", "nonce") if p not in candidate.params]
    plain = {name for name, params in candidate.components if not params}
    absent += [c for c in required_components(parts) if c not in plain]
    if absent:
        raise SignatureIncomplete(f"the signature lacks {', '.join(absent)}")


def _check_window(
    params: dict[str, Any], now: int, skew: int, max_lifetime: int
) -> tuple[int, int]:
    created, expires = params["created"], params["expires"]
    if expires <= created:
        raise SignatureMalformed("expires must be after created")
    if created > now + skew:
        raise SignatureNotYetValid(f"created {created} is ahead of this node's clock ({now})")
    if expires < now - skew:
        raise SignatureExpired(f"the signature expired at {expires} (now {now})")
    if expires - created > max_lifetime:
        raise SignatureExpired(f"a signature may live {max_lifetime} s, this one claims longer")
    return created, expires


def _check_digest(parts: HttpRequestParts) -> None:
    header = parts.header("content-digest")
    if header is None:
        if parts.body:
            raise DigestMissing("a request with a body needs a Content-Digest")
        return
    members = _dictionary("Content-Digest", header)
    if "sha-256" not in members:
        raise DigestMissing("Content-Digest has no sha-256 member")
    for algorithm, (claimed, _) in members.items():
        if algorithm not in _DIGESTS:
            continue  # RFC 9530 section 2: unknown algorithms are ignored
        actual = _DIGESTS[algorithm](parts.body).digest()
        if not isinstance(claimed, bytes) or not hmac.compare_digest(claimed, actual):
            raise DigestMismatch(f"the body does not match its {algorithm} Content-Digest")
