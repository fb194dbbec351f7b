"""Business-hours calendars, SLA terms, and requester-level SLA overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped

PRIORITIES = ("p1", "p2", "p3", "p4")
DEFAULT_PAUSING = ["waiting_for_customer"]


class BusinessCalendar(AccountScoped, Base):
    """A named calendar; ``definition`` is the JSON form of DESIGN section 4."""

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("account_id", "name"), UniqueConstraint("account_id", "id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # Held for a trust (see Service.provided_by): changed only by a new signed offering.
    provided_by: Mapped[str | None] = mapped_column(String(40))
    remote_id: Mapped[str | None] = mapped_column(String(32))


class Sla(AccountScoped, Base):
    """Targets per priority, in business minutes on one calendar.

    ``targets`` is ``{"p1": {"response": 30, "resolution": 240}, ...}``; every priority
    must be present so any request can be measured.
    """

    __tablename__ = "slas"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(
            ["account_id", "calendar_id"], ["calendars.account_id", "calendars.id"]
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    calendar_id: Mapped[str] = mapped_column(String(32))
    targets: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON)
    pausing_statuses: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_PAUSING))
    created_at: Mapped[datetime]
    # Held for a trust (see Service.provided_by): changed only by a new signed offering.
    provided_by: Mapped[str | None] = mapped_column(String(40))
    remote_id: Mapped[str | None] = mapped_column(String(32))


class RequesterSla(AccountScoped, Base):
    """A user-level override: these requesters get this SLA (e.g. executives, premium)."""

    __tablename__ = "requester_slas"
    __table_args__ = (
        UniqueConstraint("account_id", "label"),
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(["account_id", "sla_id"], ["slas.account_id", "slas.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    label: Mapped[str] = mapped_column(String(120))
    sla_id: Mapped[str] = mapped_column(String(32))
    person_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
