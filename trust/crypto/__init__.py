"""Pure cryptography for the federation: canonical JSON, keys, signed documents, RFC 9421.

No I/O, no clock, no framework: callers pass time, keys and messages in (STYLE 5 and 6).
The submodules state their invariants; the names below are the package's public surface.
"""

from trust.crypto.canonical import CanonicalizationError, canonicalize
from trust.crypto.documents import (
    SignedDocument,
    countersign,
    sign_document,
    signing_bytes,
    verify_document,
)
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import (
    HttpRequestParts,
    VerifiedSignature,
    content_digest,
    required_components,
    sign_message,
    sign_request,
    signature_base,
    verify_request,
)
from trust.crypto.keys import (
    CodedSignatureError,
    DigestMismatch,
    DigestMissing,
    KeyFormatError,
    KeyRef,
    KeyUnknown,
    SignatureDuplicate,
    SignatureExpired,
    SignatureIncomplete,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    SignatureNotYetValid,
    SigningKey,
    VerifyKey,
    format_keyref,
    parse_keyref,
)

__all__ = [
    "CanonicalizationError",
    "CodedSignatureError",
    "DigestMismatch",
    "DigestMissing",
    "HttpRequestParts",
    "KeyFormatError",
    "KeyRef",
    "KeyUnknown",
    "SignatureDuplicate",
    "SignatureError",
    "SignatureExpired",
    "SignatureIncomplete",
    "SignatureInvalid",
    "SignatureMalformed",
    "SignatureMissing",
    "SignatureNotYetValid",
    "SignedDocument",
    "SigningKey",
    "VerifiedSignature",
    "VerifyKey",
    "canonicalize",
    "content_digest",
    "countersign",
    "format_keyref",
    "parse_keyref",
    "required_components",
    "sign_document",
    "sign_message",
    "sign_request",
    "signature_base",
    "signing_bytes",
    "verify_document",
    "verify_request",
]
