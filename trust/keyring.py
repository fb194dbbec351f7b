"""Peer keys an account trusts: pinned from a countersigned agreement or a rotation.

There is no trust on first use: a key enters the keyring only through ``pin`` (called by
the handshake, after the admins compared fingerprints) or through a rotation notice
signed by a key already pinned and by the new key. A key verifies only inside its
validity window and never after revocation, so a rotated-out key keeps verifying what
it signed while it was current but nothing newer.

After a peer's suspected compromise its admin hands the new key's fingerprint over out of
band and ours confirms it (``confirm``, from trust.reconfirm): the new key is pinned and
every other key of that peer account is revoked, so a stolen key stops verifying at once,
even what it signed inside its validity window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from account_node.clock import Clock
from account_node.tenancy import AccountScope, ScopedStore, prebuilt
from trust.crypto.documents import verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, VerifyKey
from trust.keystore import ROTATION
from trust.models import PinnedKey

log = logging.getLogger(__name__)


class PinnedKeyStore(ScopedStore[PinnedKey]):
    model = PinnedKey

    def by_ref(self, ref: KeyRef) -> PinnedKey | None:
        query = prebuilt(_pinned_by_ref, self.scope.account_id)
        params = {"peer_account": ref.account, "key_id": ref.key_id}
        return self.session.scalars(query, params).first()

    def of_peer(self, peer_account: str) -> list[PinnedKey]:
        query = select(PinnedKey).where(PinnedKey.peer_account == peer_account)
        return list(self.session.scalars(query.order_by(PinnedKey.valid_from)))


def _pinned_by_ref() -> Select[PinnedKey]:
    """Every signed call a peer makes looks its key up (see ``prebuilt``)."""
    return select(PinnedKey).where(
        PinnedKey.peer_account == bindparam("peer_account"),
        PinnedKey.key_id == bindparam("key_id"),
    )


@dataclass(frozen=True)
class AcceptedRotation:
    """The pinned new key of a rotation notice; ``fresh`` unless the notice was a repeat."""

    pinned: PinnedKey
    fresh: bool

    @property
    def ref(self) -> str:
        return f"{self.pinned.peer_account}#{self.pinned.key_id}"


@dataclass(frozen=True)
class ConfirmedKey:
    """A peer key confirmed out of band; ``revoked``: the peer's keys revoked now."""

    pinned: PinnedKey
    fresh: bool
    revoked: list[str]
    replaced: bool = False  # ``pinned``'s id was pinned to another key, replaced now

    @property
    def changed(self) -> bool:
        return self.fresh or bool(self.revoked)


class Keyring:
    def __init__(self, session: Any, scope: AccountScope, clock: Clock) -> None:
        self.store = PinnedKeyStore(session, scope)
        self.clock = clock
        self._resolved: dict[str, PinnedKey] = {}

    def pin(self, ref: KeyRef, key: VerifyKey, peer_node: str, source: str) -> PinnedKey:
        existing = self.store.by_ref(ref)
        if existing is not None:
            if existing.public_key != key.to_b64url():
                raise SignatureError("key_conflict", f"{ref} is already pinned to another key")
            return existing
        now = self.clock.now()
        row = PinnedKey(
            peer_account=ref.account,
            peer_node=peer_node,
            key_id=ref.key_id,
            public_key=key.to_b64url(),
            valid_from=now,
            valid_until=None,
            revoked_at=None,
            source=source,
            pinned_at=now,
        )
        return self.store.add(row)

    def resolve(self, keyid: str, at: datetime | None = None) -> VerifyKey | None:
        """The pinned key for ``<account>#<key id>`` if it is valid at ``at`` (default now)."""
        try:
            ref = KeyRef.parse(keyid)
        except ValueError:
            return None
        row = self.store.by_ref(ref)
        moment = at or self.clock.now()
        if row is None or row.revoked_at is not None:
            return None
        if row.valid_until is not None and moment >= row.valid_until:
            return None
        self._resolved[keyid] = row
        return VerifyKey.from_b64url(row.public_key)

    def node_of(self, keyid: str) -> str | None:
        """The node ``keyid`` was pinned from (a handshake with that node, or a rotation
        of a key pinned from it), if this keyring resolved it: a call signed with it is
        a call from that node, whatever account id the key names."""
        row = self._resolved.get(keyid)
        return row.peer_node if row is not None else None

    def accept_rotation(self, notice: dict[str, Any]) -> AcceptedRotation:
        """Pin the new key of a rotation signed by a pinned old key and by the new key.

        Idempotent: the sender retries until it hears a success, so a notice may come
        again after it was accepted (its first answer lost). Its old key is then no
        longer valid, so a repeat is recognised instead: the new key is the one already
        pinned (same public key, from the old key's node). It is verified as fully as
        the first time, with the old key as pinned, and changes nothing (``fresh`` is
        False). A revoked old key accepts nothing."""
        old, new, new_key = _rotation(notice)
        old_row = self.store.by_ref(old)
        if old_row is None or old_row.revoked_at is not None:
            raise SignatureError("key_unknown", f"{old} is not a pinned, valid key")
        valid = self.resolve(str(old)) is not None
        repeat = None if valid else self.store.by_ref(new)
        if not valid and repeat is None:
            raise SignatureError("key_unknown", f"{old} is not a pinned, valid key")
        old_key = VerifyKey.from_b64url(old_row.public_key)
        verify_document(notice, ROTATION, {str(old): old_key, str(new): new_key})
        if repeat is not None:
            if repeat.public_key != new_key.to_b64url() or repeat.peer_node != old_row.peer_node:
                raise SignatureError("key_conflict", f"{new} is already pinned to another key")
            return AcceptedRotation(repeat, fresh=False)
        old_row.valid_until = self.clock.now()
        return AcceptedRotation(self.pin(new, new_key, old_row.peer_node, "rotation"), fresh=True)

    def accept_chain(self, keyid: str, notices: list[Any]) -> list[AcceptedRotation]:
        """Take ``notices``, a chain of rotations from the pinned key ``keyid`` on (each
        notice's old key the previous one's new key), as ``accept_rotation`` takes one.
        The chain ends at the first notice that does not follow or does not verify
        (logged, not raised: what came before stands); returns what was taken."""
        taken: list[AcceptedRotation] = []
        for notice in notices:
            document = notice.get("document") if isinstance(notice, dict) else None
            if not isinstance(document, dict) or document.get("old") != keyid:
                log.warning("a rotation notice does not follow %s", keyid)
                break
            try:
                accepted = self.accept_rotation(notice)
            except (SignatureError, ValueError) as exc:
                log.warning("a rotation notice after %s does not verify: %s", keyid, exc)
                break
            taken.append(accepted)
            keyid = accepted.ref
        return taken

    def confirm(self, ref: KeyRef, key: VerifyKey, peer_node: str) -> ConfirmedKey:
        """Pin ``key`` as ``ref`` (its fingerprint confirmed out of band) and revoke every
        other key pinned for its account. Idempotent: a key already pinned, with the others
        revoked, changes nothing. ``SignatureError`` ``key_revoked`` if this very key was
        revoked or rotated out here, under any id (a key is never made valid again).

        If ``ref`` is pinned to another key, the confirmed fingerprint wins: the peer's new
        key id is public in its descriptor at once, so whoever holds the stolen key, still
        valid here until this confirmation, can rotate it to that id bound to a key of
        their own. Refusing would leave the thief's key pinned and the trust beyond repair;
        instead the row takes the confirmed key, and what the other key signed no longer
        verifies. ``replaced`` names it for the audit log."""
        existing = self.store.by_ref(ref)
        material = key.to_b64url()
        if any(
            row.public_key == material and row.revoked_at is not None
            for row in self.store.of_peer(ref.account)
        ):
            raise SignatureError("key_revoked", f"the key confirmed as {ref} was revoked here")
        replaced = existing is not None and existing.public_key != material
        if existing is not None and replaced:
            now = self.clock.now()
            existing.public_key, existing.peer_node = key.to_b64url(), peer_node
            existing.valid_from, existing.valid_until, existing.revoked_at = now, None, None
            existing.source, existing.pinned_at = "confirmed", now
            self.store.session.flush()
        elif existing is not None and (
            existing.revoked_at is not None or existing.valid_until is not None
        ):
            raise SignatureError("key_revoked", f"{ref} was revoked or rotated out here")
        pinned = self.pin(ref, key, peer_node, "confirmed")
        revoked = []
        for row in self.store.of_peer(ref.account):
            if row.id != pinned.id and row.revoked_at is None:
                self.revoke(f"{row.peer_account}#{row.key_id}")
                revoked.append(f"{row.peer_account}#{row.key_id}")
        return ConfirmedKey(pinned, existing is None or replaced, revoked, replaced)

    def revoke(self, keyid: str) -> None:
        row = self.store.by_ref(KeyRef.parse(keyid))
        if row is not None and row.revoked_at is None:
            row.revoked_at = self.clock.now()
            self.store.session.flush()


def _rotation(notice: Any) -> tuple[KeyRef, KeyRef, VerifyKey]:
    """The old and new key a rotation notice names, and the new public key."""
    document = notice.get("document") if isinstance(notice, dict) else None
    if not isinstance(document, dict):
        raise SignatureError("signature_malformed", "not a rotation notice")
    try:
        old, new = KeyRef.parse(document["old"]), KeyRef.parse(document["new"])
        new_key = VerifyKey.from_b64url(document["new_public_key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError("signature_malformed", "the rotation notice is incomplete") from exc
    if old.account != new.account or document.get("account") != old.account:
        raise SignatureError("signature_invalid", "a rotation stays within one account")
    if old == new:
        raise SignatureError("signature_invalid", "a rotation introduces another key")
    return old, new, new_key
