"""Keys of this node's accounts, and the peer keys each account has pinned.

An account's private keys never leave its node; they are stored encrypted with a key
derived from the node's secret. Pinned peer keys carry a validity window so a rotated
key keeps verifying what it signed while it was current, and a revoked key stops at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
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
