"""An account's own signing keys: created on first use, rotated with a signed notice.

Private keys are stored as Fernet tokens under a key derived (HKDF-SHA256) from the
node's secret, so a database dump alone does not give away an account's identity. A
routine rotation produces a document signed by both the old and the new key (DESIGN
section 5), which peers accept automatically; the old key stays listed as "previous",
with the time it stopped being valid.

After a suspected compromise (``replace_compromised``) the old key is not announced: a
notice signed by a key that may be stolen proves nothing. It becomes "revoked", which
neither signs nor is listed in the descriptor, and each peer's admin confirms the new
key's fingerprint out of band (trust.reconfirm).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from account_node.clock import Clock
from account_node.tenancy import AccountScope, ScopedStore
from trust.crypto.documents import countersign, sign_document
from trust.crypto.keys import KeyRef, SigningKey, VerifyKey
from trust.models import KEY_STATUSES, AccountKey

ROTATION = "key-rotation"


class KeyChainRevoked(LookupError):
    """A key between two others was revoked: no chain of notices joins them."""


def rotation_notice(old: OwnKey, new: OwnKey, at: datetime) -> dict[str, Any]:
    """The notice that ``new`` replaced ``old`` at ``at``, signed by the old key, then
    countersigned by the new one (DESIGN section 5)."""
    notice = {
        "account": old.ref.account,
        "old": str(old.ref),
        "new": str(new.ref),
        "new_public_key": new.signing.verify_key.to_b64url(),
        "at": at.isoformat(),
    }
    signed = sign_document(notice, old.signing, str(old.ref), ROTATION)
    return countersign(signed, new.signing, str(new.ref), ROTATION)


def sealing_key(node_secret: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"trustdesk account keys v1"
    ).derive(node_secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@dataclass(frozen=True)
class OwnKey:
    ref: KeyRef
    signing: SigningKey


class AccountKeyStore(ScopedStore[AccountKey]):
    model = AccountKey

    def with_status(self, *statuses: str) -> list[AccountKey]:
        query = select(AccountKey).where(AccountKey.status.in_(statuses))
        return list(self.session.scalars(query.order_by(AccountKey.created_at)))


class AccountKeys:
    def __init__(self, session: Any, scope: AccountScope, clock: Clock, node_secret: str) -> None:
        self.store = AccountKeyStore(session, scope)
        self.scope = scope
        self.clock = clock
        self.fernet = sealing_key(node_secret)

    def current(self) -> OwnKey:
        """The account's signing key, created the first time it is needed."""
        found = self.store.with_status("current")
        if found:
            return self._own(found[0])
        return self._own(self._create())

    def own(self, key_id: str) -> OwnKey:
        """The current or a previous key by its id: a rotation notice not yet delivered
        is signed by the key it introduces, which a later rotation may have retired.
        ``LookupError`` for a key this account never had or revoked."""
        for row in self.store.with_status("current", "previous"):
            if row.key_id == key_id:
                return self._own(row)
        raise LookupError(f"account {self.scope.account_id} has no usable key {key_id}")

    def listed(self) -> list[AccountKey]:
        """Current and previous keys, as the node descriptor publishes them."""
        return self.store.with_status("current", "previous")

    def rotate(self) -> dict[str, Any]:
        """Make a new current key; returns the rotation notice signed by old and new."""
        old = self.current()
        now = self._retire("previous")
        return rotation_notice(old, self._own(self._create()), now)

    def notices_since(self, key_id: str) -> list[dict[str, Any]]:
        """The rotation notices from this account's key ``key_id`` to its current key,
        oldest first; none if ``key_id`` is current. Made again as ``rotate`` made them
        (Ed25519 signs deterministically: they are those very notices), for a peer that
        was sent none (it pinned ``key_id`` before a trust with it was active).
        ``LookupError`` if ``key_id`` is not this account's, ``KeyChainRevoked`` if a
        key from it on was revoked (a compromise rotation announces nothing)."""
        rows = self.store.with_status(*KEY_STATUSES)
        ids = [row.key_id for row in rows]
        if key_id not in ids:
            raise LookupError(f"account {self.scope.account_id} has no key {key_id}")
        chain = rows[ids.index(key_id) :]
        if any(row.status == "revoked" for row in chain):
            raise KeyChainRevoked(f"a key after {key_id} of {self.scope.account_id} was revoked")
        return [
            rotation_notice(
                self.own(old.key_id), self.own(new.key_id), old.retired_at or self.clock.now()
            )
            for old, new in pairwise(chain)
        ]

    def replace_compromised(self) -> tuple[str, OwnKey]:
        """Revoke the current key (suspected stolen) and make a new current one, with no
        notice. Returns the revoked key's reference and the new key."""
        old = self.current()
        self._retire("revoked")
        return str(old.ref), self._own(self._create())

    def _retire(self, status: str) -> datetime:
        """Set the current key aside as ``status`` (previous or revoked); returns when."""
        row = self.store.with_status("current")[0]
        now = self.clock.now()
        row.status, row.retired_at = status, now
        self.store.session.flush()
        return now

    def _create(self) -> AccountKey:
        signing = SigningKey.generate()
        now = self.clock.now()
        row = AccountKey(
            key_id=f"k{now.strftime('%Y%m%d')}-{secrets.token_hex(3)}",
            public_key=signing.verify_key.to_b64url(),
            private_key=self.fernet.encrypt(signing.to_pem()).decode(),
            status="current",
            created_at=now,
            retired_at=None,
        )
        return self.store.add(row)

    def _own(self, row: AccountKey) -> OwnKey:
        # Unsealing costs a key derivation and a PEM parse; every signed call needs it, so
        # the unsealed key is kept per sealed value (a rotated key is a new sealed value).
        sealed = row.private_key
        signing = _unsealed.get(sealed)
        if signing is None:
            signing = SigningKey.from_pem(self.fernet.decrypt(sealed.encode()))
            if len(_unsealed) > 1000:
                _unsealed.clear()
            _unsealed[sealed] = signing
        return OwnKey(KeyRef(self.scope.account_id, row.key_id), signing)


_unsealed: dict[str, SigningKey] = {}


def key_listing(row: AccountKey) -> dict[str, Any]:
    public = VerifyKey.from_b64url(row.public_key)
    return {
        "key_id": row.key_id,
        "public_key": row.public_key,
        "fingerprint": public.fingerprint,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
    }
