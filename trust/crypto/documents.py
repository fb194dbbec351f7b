"""Documents signed by one or several parties: trust agreements, key rotations, descriptors.

Wire form (plain JSON, stored and sent as is)::

    {"document": {...}, "signatures": [{"keyid": "<account>#<key id>", "sig": "<base64url>"}]}

Each ``sig`` is the Ed25519 signature (RFC 8032) over::

    b"trustdesk-doc-v1\\n" + doc_type + b"\\n" + JCS(document)

where JCS is RFC 8785 canonical JSON (:mod:`trust.crypto.canonical`).

Invariants and why:

- Domain separation: the document type is inside the signed bytes, so a signature made
  for one kind of document (a key rotation) can never be replayed as another (a trust
  agreement), even when the JSON happens to be identical. A type is one lowercase token
  (``[a-z0-9][a-z0-9._-]{0,63}``), so it cannot contain the newline that ends it.
- Every party signs the same canonical bytes, so signatures are independent: a party
  countersigns by appending, and the order of ``signatures`` carries no meaning.
- Verification demands a valid signature from every required party, checked with the key
  the reader pinned for that party (never a key the document brings along).
- A signature by a key the reader did not ask about is ignored by default: it cannot
  change what the required parties signed, and a node descriptor carries one signature per
  hosted account while each reader pins only its own peer's. ``exact=True`` refuses them
  (code ``key_unknown``) where the set of signers is itself meaningful.
- One party signing twice is malformed (``signature_duplicate``): it would make "which
  signature counts" ambiguous.
- Failures raise :class:`~trust.crypto.errors.SignatureError` subclasses with a stable
  ``code``: ``signature_malformed``, ``signature_missing``, ``signature_invalid``,
  ``signature_duplicate``, ``key_unknown``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from trust.crypto.canonical import CanonicalizationError, canonicalize
from trust.crypto.keys import (
    KeyFormatError,
    KeyRef,
    KeyUnknown,
    SignatureDuplicate,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    SigningKey,
    VerifyKey,
    b64url,
    unb64url,
)

CONTEXT = b"trustdesk-doc-v1\n"
_DOC_TYPE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SIGNATURE_BYTES = 64

RequiredKeys = Mapping[str, VerifyKey] | Mapping[KeyRef, VerifyKey]


def signing_bytes(document: Mapping[str, Any], doc_type: str) -> bytes:
    """The exact bytes each party signs (see the module docstring)."""
    return CONTEXT + _checked_type(doc_type).encode("ascii") + b"\n" + canonicalize(document)


def _checked_type(doc_type: str) -> str:
    if not isinstance(doc_type, str) or not _DOC_TYPE.fullmatch(doc_type):
        raise ValueError(f"{doc_type!r} is not a document type (a lowercase token)")
    return doc_type


class SignedDocument(dict[str, Any]):
    """``{"document": ..., "signatures": [...]}``: a plain ``dict`` (JSON-safe as is) that
    remembers its document type, so parties can :meth:`add_signature` to it."""

    def __init__(
        self,
        document: Mapping[str, Any],
        doc_type: str,
        signatures: Iterable[Mapping[str, str]] = (),
    ) -> None:
        self.doc_type = _checked_type(doc_type)
        super().__init__(
            document=copy.deepcopy(dict(document)),
            signatures=[{"keyid": s["keyid"], "sig": s["sig"]} for s in signatures],
        )

    @classmethod
    def from_json(cls, data: Any, doc_type: str) -> SignedDocument:
        """A copy of received or stored JSON; raises ``signature_malformed`` /
        ``signature_duplicate`` when it is not a well-formed signed document."""
        document, signatures = _shape(data)
        return cls(document, doc_type, signatures)

    @property
    def document(self) -> dict[str, Any]:
        return self["document"]

    @property
    def signatures(self) -> list[dict[str, str]]:
        return self["signatures"]

    @property
    def keyids(self) -> list[str]:
        return [entry["keyid"] for entry in self.signatures]

    def add_signature(
        self, key: SigningKey, *, keyid: KeyRef | str | None = None
    ) -> SignedDocument:
        """Sign as ``keyid`` (default: the key's own ``key_id``); returns ``self``."""
        name = _signer_name(key, keyid)
        if name in self.keyids:
            raise SignatureDuplicate(f"{name} has already signed")
        sig = b64url(key.sign(signing_bytes(self.document, self.doc_type)))
        self.signatures.append({"keyid": name, "sig": sig})
        return self

    def verify(self, required_keys: RequiredKeys, *, exact: bool = False) -> dict[str, Any]:
        return verify_document(self, self.doc_type, required_keys, exact=exact)

    def to_json(self) -> dict[str, Any]:
        """A plain ``dict`` deep copy, detached from this object."""
        return {
            "document": copy.deepcopy(self.document),
            "signatures": copy.deepcopy(self.signatures),
        }


def sign_document(
    document: Mapping[str, Any],
    key: SigningKey,
    doc_type: str,
    legacy_doc_type: str | None = None,
    /,
    *,
    keyid: KeyRef | str | None = None,
) -> SignedDocument:
    """Sign ``document`` as type ``doc_type`` with ``key`` (named ``keyid`` or its ``key_id``).

    The older call form ``sign_document(document, key, keyid, doc_type)`` is still
    accepted: with four positional arguments the third is the key id.
    """
    if legacy_doc_type is not None:
        keyid, doc_type = doc_type, legacy_doc_type
    return SignedDocument(document, doc_type).add_signature(key, keyid=keyid)


def countersign(
    signed: Any, key: SigningKey, keyid: KeyRef | str | None, doc_type: str
) -> SignedDocument:
    """A copy of ``signed`` with one more signature (it does not verify the others)."""
    return SignedDocument.from_json(signed, doc_type).add_signature(key, keyid=keyid)


def verify_document(
    signed: Any, doc_type: str, required_keys: RequiredKeys, *, exact: bool = False
) -> dict[str, Any]:
    """Return (a copy of) the document if every required party signed it validly.

    ``required_keys`` maps each required party's ``<account>#<key id>`` (or
    :class:`KeyRef`) to the key this reader pinned for it. With ``exact``, a signature by
    anyone else is refused too. Raises a ``SignatureError`` subclass (see module docstring).
    """
    required = {str(KeyRef.of(ref)): key for ref, key in required_keys.items()}
    if not required:
        raise ValueError("a document verified against no party proves nothing")
    document, signatures = _shape(signed)
    by_keyid = {entry["keyid"]: entry["sig"] for entry in signatures}
    missing = [name for name in required if name not in by_keyid]
    if missing:
        raise SignatureMissing(f"no signature by {', '.join(missing)}")
    unexpected = [name for name in by_keyid if name not in required]
    if exact and unexpected:
        raise KeyUnknown(f"signed by keys not asked for: {', '.join(unexpected)}")
    message = _message(document, doc_type)
    for name, key in required.items():
        if not key.verify(_signature_bytes(name, by_keyid[name]), message):
            raise SignatureInvalid(f"the {doc_type} signature by {name} does not verify")
    return copy.deepcopy(document)


def _signer_name(key: SigningKey, keyid: KeyRef | str | None) -> str:
    name = keyid if keyid is not None else key.key_id
    if name is None:
        raise ValueError("the key has no key_id: pass keyid=")
    return str(KeyRef.of(name))


def _message(document: dict[str, Any], doc_type: str) -> bytes:
    try:
        return signing_bytes(document, doc_type)
    except CanonicalizationError as exc:
        raise SignatureMalformed(f"the document has no canonical form: {exc}") from exc


def _signature_bytes(name: str, sig: str) -> bytes:
    try:
        raw = unb64url(sig)
    except KeyFormatError as exc:
        raise SignatureMalformed(f"the signature by {name} is not base64url") from exc
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureMalformed(f"the signature by {name} is not {SIGNATURE_BYTES} bytes")
    return raw


def _shape(signed: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    if not isinstance(signed, dict) or set(signed) != {"document", "signatures"}:
        raise SignatureMalformed("a signed document is exactly {document, signatures}")
    document, signatures = signed["document"], signed["signatures"]
    if not isinstance(document, dict) or not isinstance(signatures, list):
        raise SignatureMalformed("document must be an object and signatures a list")
    seen: set[str] = set()
    for entry in signatures:
        if not (
            isinstance(entry, dict)
            and set(entry) == {"keyid", "sig"}
            and all(isinstance(v, str) for v in entry.values())
        ):
            raise SignatureMalformed('each signature is {"keyid": str, "sig": str}')
        try:
            KeyRef.parse(entry["keyid"])
        except KeyFormatError as exc:
            raise SignatureMalformed(f"{entry['keyid']!r} is not <account>#<key id>") from exc
        if entry["keyid"] in seen:
            raise SignatureDuplicate(f"{entry['keyid']} signed twice")
        seen.add(entry["keyid"])
    return document, signatures
