"""Documents signed by one or several parties: trust agreements, offerings, key rotations.

A signed document is ``{"document": {...}, "signatures": [{"keyid", "sig"}, ...]}``. Each
signature is Ed25519 over ``b"trustdesk-doc-v1\\n" + type + b"\\n" + JCS(document)``
(RFC 8785): the type in the signed bytes means a signature made for one kind of document
can never be replayed as another. Verification demands a valid signature from every
required party; signatures by other keys are ignored (they prove nothing to this reader).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from trust.crypto.canonical import canonicalize
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyError_, SigningKey, VerifyKey, b64url, unb64url

CONTEXT = b"trustdesk-doc-v1\n"


def signing_bytes(document: Mapping[str, Any], doc_type: str) -> bytes:
    if not doc_type or "\n" in doc_type:
        raise ValueError("a document type is one line of text")
    return CONTEXT + doc_type.encode() + b"\n" + canonicalize(dict(document))


def sign_document(
    document: Mapping[str, Any], key: SigningKey, keyid: str, doc_type: str
) -> dict[str, Any]:
    signature = {"keyid": keyid, "sig": b64url(key.sign(signing_bytes(document, doc_type)))}
    return {"document": copy.deepcopy(dict(document)), "signatures": [signature]}


def countersign(
    signed: Mapping[str, Any], key: SigningKey, keyid: str, doc_type: str
) -> dict[str, Any]:
    """Add a signature by another party over the same document."""
    result = copy.deepcopy(dict(signed))
    if any(s.get("keyid") == keyid for s in result.get("signatures", [])):
        raise SignatureError("signature_duplicate", f"{keyid} has already signed")
    sig = b64url(key.sign(signing_bytes(result["document"], doc_type)))
    result["signatures"].append({"keyid": keyid, "sig": sig})
    return result


def verify_document(
    signed: Any, doc_type: str, required: Mapping[str, VerifyKey]
) -> dict[str, Any]:
    """Return the document if every key in ``required`` signed it validly."""
    document, signatures = _shape(signed)
    message = signing_bytes(document, doc_type)
    by_key: dict[str, str] = {}
    for entry in signatures:
        if entry["keyid"] in by_key:
            raise SignatureError("signature_duplicate", f"{entry['keyid']} signed twice")
        by_key[entry["keyid"]] = entry["sig"]
    for keyid, key in required.items():
        if keyid not in by_key:
            raise SignatureError("signature_missing", f"no signature by {keyid}")
        try:
            raw = unb64url(by_key[keyid])
        except KeyError_ as exc:
            raise SignatureError(
                "signature_malformed", f"signature by {keyid} is not base64url"
            ) from exc
        if not key.verify(raw, message):
            raise SignatureError("signature_invalid", f"signature by {keyid} does not verify")
    return document


def _shape(signed: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    if not isinstance(signed, dict) or set(signed) != {"document", "signatures"}:
        raise SignatureError("signature_malformed", "a signed document has document and signatures")
    document, signatures = signed["document"], signed["signatures"]
    if not isinstance(document, dict) or not isinstance(signatures, list):
        raise SignatureError("signature_malformed", "document must be an object, signatures a list")
    for entry in signatures:
        if not (
            isinstance(entry, dict)
            and set(entry) == {"keyid", "sig"}
            and all(isinstance(v, str) for v in entry.values())
        ):
            raise SignatureError("signature_malformed", "each signature is {keyid, sig}")
    return document, signatures
