"""The audit log: one hash chain per account (DESIGN section 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base
from account_node.tenancy import AccountScoped

GENESIS = "0" * 64


class AuditEvent(AccountScoped, Base):
    __tablename__ = "audit_events"
    # A chain begins at 1 (0016): nothing reads a row numbered lower as part of it.
    __table_args__ = (
        UniqueConstraint("account_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_from_one"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    # The authenticated person; for a foreign specialist, their account and the node
    # that vouched for them through a trust.
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_account_id: Mapped[str] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(254))
    vouched_by: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(AccountScoped, Base):
    """The chain head per account; locked while appending so two writers never fork it."""

    __tablename__ = "audit_heads"

    account_id: Mapped[str] = mapped_column(  # type: ignore[assignment]
        String(40), ForeignKey("accounts.id", ondelete="RESTRICT"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
