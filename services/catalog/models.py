"""Services of the catalog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped


class Service(AccountScoped, Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(["account_id", "default_sla_id"], ["slas.account_id", "slas.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    default_sla_id: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Set on the trusting side for a service offered over a trust: the trust it came over
    # and its id on the offering account. Such rows are the agreement's terms, held for
    # the requests raised on them; only a new signed offering changes them.
    provided_by: Mapped[str | None] = mapped_column(String(40))
    remote_id: Mapped[str | None] = mapped_column(String(32))
