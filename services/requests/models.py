"""Requests, their pause periods and their timeline.

The SLA that applied is frozen on the request when it is created (terms, calendar
definition, source and reason), so later changes to SLAs, calendars or overrides never
silently rewrite a running request; re-evaluation is an explicit, audited action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped

STATUSES = (
    "new",
    "assigned",
    "in_progress",
    "waiting_for_customer",
    "resolved",
    "closed",
    "cancelled",
)
SLA_STATES = ("on_track", "at_risk", "breached", "met")


class Request(AccountScoped, Base):
    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("account_id", "number"),
        UniqueConstraint("account_id", "id"),
        ForeignKeyConstraint(["account_id", "service_id"], ["services.account_id", "services.id"]),
        ForeignKeyConstraint(
            ["account_id", "offering_id"], ["offerings.account_id", "offerings.id"]
        ),
        ForeignKeyConstraint(["account_id", "requester_id"], ["people.account_id", "people.id"]),
        ForeignKeyConstraint(
            ["account_id", "ci_id"], ["configuration_items.account_id", "configuration_items.id"]
        ),
        ForeignKeyConstraint(["account_id", "team_id"], ["teams.account_id", "teams.id"]),
        ForeignKeyConstraint(["account_id", "assignee_id"], ["people.account_id", "people.id"]),
        # The list's sort key, so a page costs the same at any depth.
        Index("ix_requests_account_created", "account_id", "created_at", "id"),
        Index("ix_requests_account_status", "account_id", "status"),
        Index("ix_requests_account_due", "account_id", "resolution_due_at"),
        # Only keyed creates (migration 0008 says why it is partial).
        Index(
            "ix_requests_idempotency",
            "account_id",
            "requester_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    service_id: Mapped[str] = mapped_column(String(32))
    offering_id: Mapped[str | None] = mapped_column(String(32))
    requester_id: Mapped[str] = mapped_column(String(32))
    ci_id: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(24), default="new")
    team_id: Mapped[str | None] = mapped_column(String(32))
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # A client's Idempotency-Key: a retried create returns the first request.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # With a key, digests of what the create asked for that later edits may change
    # (services.requests.idempotency): read only when the key comes again.
    idempotency_digests: Mapped[dict[str, str] | None] = mapped_column(JSON, deferred=True)

    # The SLA as it applied, frozen: which one, why, its terms and its calendar.
    sla_id: Mapped[str] = mapped_column(String(32))
    sla_name: Mapped[str] = mapped_column(String(120))
    sla_source: Mapped[str] = mapped_column(String(20))
    sla_reason: Mapped[str] = mapped_column(String(300))
    sla_terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    sla_calendar: Mapped[dict[str, Any]] = mapped_column(JSON)
    override_sla_id: Mapped[str | None] = mapped_column(String(32))
    override_reason: Mapped[str | None] = mapped_column(String(500))

    # Clocks: due moments (moved when pauses end), stops, states.
    response_due_at: Mapped[datetime]
    resolution_due_at: Mapped[datetime]
    response_at_risk_at: Mapped[datetime]
    resolution_at_risk_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    response_state: Mapped[str] = mapped_column(String(10), default="on_track")
    resolution_state: Mapped[str] = mapped_column(String(10), default="on_track")
    # Bumped on every change that moves a clock; scheduled jobs carry it and a job whose
    # version is stale does nothing.
    clock_version: Mapped[int] = mapped_column(Integer, default=0)
    # Timeline entries so far; each entry takes the next number, in the request's row lock.
    event_count: Mapped[int] = mapped_column(Integer, default=0)


class RequestPause(AccountScoped, Base):
    """A period the SLA clocks stood still (e.g. waiting for the customer)."""

    __tablename__ = "request_pauses"
    __account_id_index__ = True  # no composite key starts with account_id
    __table_args__ = (
        ForeignKeyConstraint(["account_id", "request_id"], ["requests.account_id", "requests.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(32), index=True)
    began_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(24))


class RequestEvent(AccountScoped, Base):
    """One entry of a request's timeline: created, note, status, assignment, SLA."""

    __tablename__ = "request_events"
    __table_args__ = (
        ForeignKeyConstraint(["account_id", "request_id"], ["requests.account_id", "requests.id"]),
        UniqueConstraint("account_id", "request_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(254))
    vouched_by: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RequestCounter(AccountScoped, Base):
    """Per-account request numbers (REQ-1, REQ-2, ...), locked while taking the next."""

    __tablename__ = "request_counters"

    account_id: Mapped[str] = mapped_column(  # type: ignore[assignment]
        String(40), ForeignKey("accounts.id", ondelete="RESTRICT"), primary_key=True
    )
    last: Mapped[int] = mapped_column(Integer, default=0)
