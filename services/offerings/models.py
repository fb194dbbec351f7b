"""Offerings: a service offered with customer terms and the team that handles it.

Three kinds, told apart by ``trust_id`` and ``remote_id``:

- a *local* offering (no trust): an account offers its own service to its own people;
- an *offered* one (trust, no remote id): this account, the trusted side, offers its
  service over a trust; ``document`` is the offering as signed by this account;
- a *received* one (trust and remote id): the trusting side's copy of the signed
  document, pointing at the service, SLA and calendar rows held for the trust. Requests
  are raised on it here and worked by the offering account's team, named in ``team_name``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped


class Offering(AccountScoped, Base):
    __tablename__ = "offerings"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        UniqueConstraint("account_id", "trust_id", "remote_id"),
        ForeignKeyConstraint(["account_id", "service_id"], ["services.account_id", "services.id"]),
        ForeignKeyConstraint(["account_id", "customer_sla_id"], ["slas.account_id", "slas.id"]),
        ForeignKeyConstraint(["account_id", "team_id"], ["teams.account_id", "teams.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    customer_sla_id: Mapped[str | None] = mapped_column(String(32))
    # The routing team: one of this account's, or (received) the provider's, by name.
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(120))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    trust_id: Mapped[str | None] = mapped_column(String(40))
    peer_account: Mapped[str | None] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The signed document as received or sent: kept as evidence of what was agreed, read
    # by nobody on a hot path. Deferred, so that listing offerings (every visibility call,
    # every inbox page, every create on an offering) does not parse it.
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)

    @property
    def kind(self) -> str:
        if self.trust_id is None:
            return "local"
        return "received" if self.remote_id else "offered"

    def is_open(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
