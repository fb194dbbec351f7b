"""Keys of this node's accounts, and the peer keys each account has pinned.

An account's private keys never leave its node; they are stored encrypted with a key
derived from the node's secret. Pinned peer keys carry a validity window so a rotated
key keeps verifying what it signed while it was current, and a revoked key stops at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped

KEY_STATUSES = ("current", "previous", "revoked")


class AccountKey(AccountScoped, Base):
    __tablename__ = "account_keys"
    __table_args__ = (UniqueConstraint("account_id", "key_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[str] = mapped_column(Text)  # Fernet token of the PKCS#8 PEM
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class PinnedKey(AccountScoped, Base):
    """A peer account's key this account trusts, for a window of time."""

    __tablename__ = "pinned_keys"
    __table_args__ = (UniqueConstraint("account_id", "peer_account", "key_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    peer_account: Mapped[str] = mapped_column(String(64))
    peer_node: Mapped[str] = mapped_column(String(300))
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(20))
    pinned_at: Mapped[datetime]


TRUST_STATUSES = ("proposed", "active", "deactivated")
ROLES = ("trusting", "trusted")


class Trust(AccountScoped, Base):
    """This account's side of a trust. ``agreement`` is the signed document as it stands:
    signed by the trusting account when proposed, by both once active."""

    __tablename__ = "trusts"
    __table_args__ = (UniqueConstraint("account_id", "id"),)

    # Both sides keep the agreement's id; on a node hosting both accounts that is two
    # rows with one id, so the primary key is a row id of its own.
    row_id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(10))
    peer_account: Mapped[str] = mapped_column(String(64))
    peer_node: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))
    agreement: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    deactivated_by: Mapped[str | None] = mapped_column(String(300))

    @property
    def peer_name(self) -> str:
        """The peer account's display name as the agreement gives it (agreements signed
        before names were added give none: the account id stands in)."""
        document = (self.agreement or {}).get("document", {})
        party = document.get("trusted" if self.role == "trusting" else "trusting", {})
        name = party.get("name") if isinstance(party, dict) else None
        return name if isinstance(name, str) and name.strip() else self.peer_account


class Invitation(AccountScoped, Base):
    """A one-time code the trusted account's admin hands to a customer out of band."""

    __tablename__ = "trust_invitations"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    trust_id: Mapped[str | None] = mapped_column(String(32))


class SeenNonce(Base):
    """Nonces of accepted federation calls, kept until their signatures expire."""

    __tablename__ = "seen_nonces"

    keyid: Mapped[str] = mapped_column(String(140), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


#: An outbox message's ``precedence``: a peer's queue goes by precedence, then creation.
KEY_NOTICE = 0  # a rotation notice: the peer must have it before anything the new key signs
MESSAGE = 1  # everything else


class OutboxMessage(AccountScoped, Base):
    """A signed call to a peer that must arrive eventually (event notices, offering
    expiries whose first delivery failed, key rotation notices). Sent by jobs with
    backoff; signed afresh on every attempt, so a retry is never a replay.

    ``path`` is the call's full path on the peer's node. ``precedence`` orders a peer's
    queue ahead of creation time (``KEY_NOTICE`` first). ``signing_key`` names the own
    key that signs it (a rotation notice: the key it introduces), else the account's
    current key at each attempt. ``key_refused``: the peer's last answer refused the
    call for a key it does not hold (only its admin can change that, trust.outbox)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (UniqueConstraint("account_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    trust_id: Mapped[str] = mapped_column(String(40))
    peer_account: Mapped[str] = mapped_column(String(64))
    peer_node: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(300))
    body: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    delivered_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    precedence: Mapped[int] = mapped_column(Integer, default=MESSAGE)
    signing_key: Mapped[str | None] = mapped_column(String(64))
    key_refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReceivedNotice(AccountScoped, Base):
    """Ids of event notices already accepted from peers: a redelivery is acknowledged
    (202) and dropped."""

    __tablename__ = "received_notices"
    __table_args__ = (UniqueConstraint("account_id", "peer_account", "notice_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    peer_account: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(index=True)


class WitnessedHead(AccountScoped, Base):
    """A peer account's audit chain head as it signed and sent it (DESIGN section 6).

    Kept so that a truncated or rewritten history on the peer's node shows from here:
    ``conflict`` says what did not add up with the heads witnessed before.
    """

    __tablename__ = "witnessed_heads"
    __table_args__ = (UniqueConstraint("account_id", "peer_account", "seq", "hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    trust_id: Mapped[str] = mapped_column(String(40))
    peer_account: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    document: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    conflict: Mapped[str | None] = mapped_column(String(300))
