"""Signature failures, each with a stable code peers and audits rely on."""

from __future__ import annotations


class SignatureError(Exception):
    """``code`` is one of: key_unknown, signature_missing, signature_malformed,
    signature_invalid, signature_incomplete, signature_expired, signature_not_yet_valid,
    digest_missing, digest_mismatch, signature_duplicate."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
