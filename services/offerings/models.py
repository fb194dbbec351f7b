"""Offerings: a service offered with customer terms and the team that handles it.

A local record for now; the federation makes offerings signed documents held by both
the trusted and the trusting account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped


class Offering(AccountScoped, Base):
    __tablename__ = "offerings"
    __table_args__ = (
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(["account_id", "service_id"], ["services.account_id", "services.id"]),
        ForeignKeyConstraint(["account_id", "customer_sla_id"], ["slas.account_id", "slas.id"]),
        ForeignKeyConstraint(["account_id", "team_id"], ["teams.account_id", "teams.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    customer_sla_id: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    def is_open(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
