"""Configuration items: the things requests are about, in a parent/child tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped

CI_STATUSES = ("planned", "active", "maintenance", "retired")


class ConfigurationItem(AccountScoped, Base):
    __tablename__ = "configuration_items"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(
            ["account_id", "parent_id"],
            ["configuration_items.account_id", "configuration_items.id"],
        ),
        ForeignKeyConstraint(["account_id", "sla_id"], ["slas.account_id", "slas.id"]),
        ForeignKeyConstraint(["account_id", "owner_id"], ["people.account_id", "people.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="active")
    parent_id: Mapped[str | None] = mapped_column(String(32))
    sla_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
