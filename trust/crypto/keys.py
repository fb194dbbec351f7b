"""Ed25519 account keys (RFC 8032), key references, fingerprints, and the shared failures.

Keys belong to accounts, not nodes (DESIGN section 5), so a key is named in the federation
by a reference that carries both: ``<account>#<key id>`` (:class:`KeyRef`). It is the
``keyid`` of RFC 9421 section 2.3 and of every signed document. Both parts are lowercase
``[a-z0-9][a-z0-9._-]{0,63}``: ``#`` cannot occur inside a part, so the split is unique,
and the alphabet survives URLs, headers and logs without escaping.

Encodings (all base64url are RFC 4648 section 5, unpadded, and decoded strictly: only the
canonical encoding is accepted, so one key has exactly one spelling):

- Public key: the raw 32-byte key (RFC 8032 section 5.1.5) in base64url, 43 characters.
  ``VerifyKey.from_pem`` / ``to_pem`` also read and write SubjectPublicKeyInfo PEM
  (RFC 8410), the form RFC 9421 Appendix B.1.4 prints.
- Private key: PKCS#8 PEM without encryption (RFC 8410 section 7; at rest the key store
  encrypts the PEM), or the raw 32-byte seed (``to_raw`` / ``from_raw``).
- Fingerprint: ``SHA256:`` followed by the base64url SHA-256 of the raw public key
  (43 characters), like OpenSSH's. Admins read it to each other out of band when an
  invitation is handed over or a compromised key is replaced; 256 bits leave no room for
  a look-alike key, and the prefix names the hash so it can change later.

A ``key_id`` on a key object is optional metadata (the reference it is published under);
two ``VerifyKey`` objects are equal when their raw bytes are, whatever they are called.

Every typed failure of the package is defined here, the module documents and HTTP
signatures both build on, so the stable codes can be read in one list: each class is a
:class:`~trust.crypto.errors.SignatureError` subclass whose ``code`` peers, audit entries
and problem+json responses rely on (``key_unknown``, ``signature_missing``,
``signature_malformed``, ``signature_invalid``, ``signature_incomplete``,
``signature_expired``, ``signature_not_yet_valid``, ``signature_duplicate``,
``digest_missing``, ``digest_mismatch``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trust.crypto.errors import SignatureError

_PART = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
FINGERPRINT_PREFIX = "SHA256:"


class KeyFormatError(ValueError):
    """A key, key reference or base64url text is malformed."""


KeyError_ = KeyFormatError  # the name callers written before KeyFormatError still import


class CodedSignatureError(SignatureError):
    """Base of the typed failures: the class fixes the stable ``code``, callers add detail."""

    code = "signature_error"

    def __init__(self, detail: str) -> None:
        super().__init__(type(self).code, detail)


class KeyUnknown(CodedSignatureError):
    """The named key is not one this reader pinned (or it is no longer valid)."""

    code = "key_unknown"


class SignatureMissing(CodedSignatureError):
    """A signature that is required is absent."""

    code = "signature_missing"


class SignatureMalformed(CodedSignatureError):
    """Signature data cannot be parsed or breaks its format."""

    code = "signature_malformed"


class SignatureInvalid(CodedSignatureError):
    """A signature does not verify with the key it names (or names another algorithm)."""

    code = "signature_invalid"


class SignatureIncomplete(CodedSignatureError):
    """Valid, but not the profile: its tag, a parameter or a required component is missing."""

    code = "signature_incomplete"


class SignatureExpired(CodedSignatureError):
    """Past its ``expires`` (beyond the allowed skew), or claiming too long a lifetime."""

    code = "signature_expired"


class SignatureNotYetValid(CodedSignatureError):
    """``created`` lies ahead of the reader's clock by more than the allowed skew."""

    code = "signature_not_yet_valid"


class SignatureDuplicate(CodedSignatureError):
    """One key signed a document twice."""

    code = "signature_duplicate"


class DigestMissing(CodedSignatureError):
    """A body without a (sha-256) ``Content-Digest``."""

    code = "digest_missing"


class DigestMismatch(CodedSignatureError):
    """The body does not hash to its ``Content-Digest``."""

    code = "digest_mismatch"


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url, accepting only the canonical spelling of the bytes."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise KeyFormatError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("not unpadded base64url") from exc
    if b64url(data) != text:
        raise KeyFormatError("not the canonical base64url of its bytes")
    return data


@dataclass(frozen=True)
class KeyRef:
    """``<account>#<key id>``: which account's key, and which of its keys."""

    account: str
    key_id: str

    def __post_init__(self) -> None:
        for part in (self.account, self.key_id):
            if not isinstance(part, str) or not _PART.fullmatch(part):
                raise KeyFormatError(f"{part!r} is not a valid account or key id")

    @classmethod
    def parse(cls, text: str) -> KeyRef:
        """Parse ``<account>#<key id>``; raises :class:`KeyFormatError` otherwise."""
        if not isinstance(text, str) or text.count("#") != 1:
            raise KeyFormatError(f"{text!r} is not <account>#<key id>")
        account, key_id = text.split("#")
        try:
            return cls(account, key_id)
        except KeyFormatError as exc:
            raise KeyFormatError(f"{text!r} is not <account>#<key id>") from exc

    @classmethod
    def of(cls, ref: KeyRef | str) -> KeyRef:
        return ref if isinstance(ref, KeyRef) else cls.parse(ref)

    def __str__(self) -> str:
        return f"{self.account}#{self.key_id}"


def format_keyref(account: str, key_id: str) -> str:
    """``format_keyref("acme", "k1") == "acme#k1"``, validating both parts."""
    return str(KeyRef(account, key_id))


def parse_keyref(text: str) -> KeyRef:
    return KeyRef.parse(text)


def _optional_ref(key_id: KeyRef | str | None) -> KeyRef | None:
    return None if key_id is None else KeyRef.of(key_id)


@dataclass(frozen=True)
class VerifyKey:
    """An Ed25519 public key, optionally with the reference it is published under."""

    raw: bytes
    ref: KeyRef | None = field(default=None, compare=False)
    _public: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 32:
            raise KeyFormatError("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "_public", Ed25519PublicKey.from_public_bytes(self.raw))

    @classmethod
    def from_b64url(cls, text: str, key_id: KeyRef | str | None = None) -> VerifyKey:
        return cls(unb64url(text), _optional_ref(key_id))

    @classmethod
    def from_pem(cls, pem: bytes, key_id: KeyRef | str | None = None) -> VerifyKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError("not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError("not an Ed25519 public key")
        return cls(key.public_bytes_raw(), _optional_ref(key_id))

    def to_b64url(self) -> str:
        return b64url(self.raw)

    def to_pem(self) -> bytes:
        return self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def with_key_id(self, key_id: KeyRef | str | None) -> VerifyKey:
        return VerifyKey(self.raw, _optional_ref(key_id))

    @property
    def key_id(self) -> str | None:
        """The ``<account>#<key id>`` this key is published under, if known."""
        return None if self.ref is None else str(self.ref)

    @property
    def fingerprint(self) -> str:
        """``SHA256:`` + base64url SHA-256 of the raw key, for out-of-band comparison."""
        return FINGERPRINT_PREFIX + b64url(hashlib.sha256(self.raw).digest())

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The ``cryptography`` object (for libraries that want one)."""
        return self._public

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __reduce__(self) -> tuple[type[VerifyKey], tuple[bytes, KeyRef | None]]:
        return VerifyKey, (self.raw, self.ref)  # the cryptography object does not pickle

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id!r}, fingerprint={self.fingerprint!r})"


class SigningKey:
    """An Ed25519 private key; it never leaves the node that holds it (nor its repr)."""

    __slots__ = ("_private", "verify_key")

    def __init__(self, private: Ed25519PrivateKey, key_id: KeyRef | str | None = None) -> None:
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFormatError("not an Ed25519 private key")
        self._private = private
        self.verify_key = VerifyKey(private.public_key().public_bytes_raw(), _optional_ref(key_id))

    @classmethod
    def generate(cls, key_id: KeyRef | str | None = None) -> SigningKey:
        return cls(Ed25519PrivateKey.generate(), key_id)

    @classmethod
    def from_raw(cls, seed: bytes, key_id: KeyRef | str | None = None) -> SigningKey:
        """From the 32-byte private seed (RFC 8032 section 5.1.5)."""
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(seed), key_id)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError("an Ed25519 private key is a 32-byte seed") from exc

    @classmethod
    def from_pem(cls, pem: bytes, key_id: KeyRef | str | None = None) -> SigningKey:
        """From unencrypted PKCS#8 PEM (RFC 8410 section 7)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError("not an unencrypted PEM private key") from exc
        return cls(_ed25519(key), key_id)

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_raw(self) -> bytes:
        return self._private.private_bytes_raw()

    def with_key_id(self, key_id: KeyRef | str | None) -> SigningKey:
        return SigningKey(self._private, key_id)

    @property
    def ref(self) -> KeyRef | None:
        return self.verify_key.ref

    @property
    def key_id(self) -> str | None:
        return self.verify_key.key_id

    @property
    def fingerprint(self) -> str:
        return self.verify_key.fingerprint

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The ``cryptography`` object (for libraries that want one)."""
        return self._private

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (deterministic, RFC 8032 section 5.1.6)."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r}, fingerprint={self.fingerprint!r})"


def _ed25519(key: Any) -> Ed25519PrivateKey:
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("not an Ed25519 private key")
    return key
