"""Ed25519 account keys (RFC 8032): signing, verifying, key references, fingerprints.

Keys belong to accounts, not nodes (DESIGN section 5), so a reference names both:
``<account>#<key id>``. A fingerprint is ``SHA256:`` and the unpadded base64url SHA-256
of the raw 32-byte public key, short enough to read aloud when admins confirm a key out
of band, as with SSH.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_PART = r"[a-z0-9][a-z0-9._-]{0,63}"
_REF = re.compile(rf"^({_PART})#({_PART})$")


class KeyError_(ValueError):
    """A key or key reference is malformed."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise KeyError_("not base64url") from exc


@dataclass(frozen=True)
class KeyRef:
    account: str
    key_id: str

    @classmethod
    def parse(cls, text: str) -> KeyRef:
        match = _REF.match(text or "")
        if not match:
            raise KeyError_(f"{text!r} is not <account>#<key id>")
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"{self.account}#{self.key_id}"


@dataclass(frozen=True)
class VerifyKey:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise KeyError_("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_b64url(cls, text: str) -> VerifyKey:
        return cls(unb64url(text))

    def to_b64url(self) -> str:
        return b64url(self.raw)

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + b64url(hashlib.sha256(self.raw).digest())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class SigningKey:
    """A private key; it never leaves the node that holds it."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.verify_key = VerifyKey(
            private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._private

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)
