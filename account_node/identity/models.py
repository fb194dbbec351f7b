"""Accounts, people, teams and personal API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from account_node.db import Base, new_id
from account_node.tenancy import AccountScoped

ROLES = ("admin", "specialist", "end_user", "auditor")


class Account(Base):
    """A tenant. Node-level: not itself account-scoped, and holds no customer data."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="customer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Person(AccountScoped, Base):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("account_id", "email"),
        UniqueConstraint("account_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    # Portal sessions hold it from sign-in; signing out or a new password moves it on,
    # ending every session made before (migration 0013).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]

    teams: Mapped[list[Team]] = relationship(
        secondary="team_members", back_populates="members", order_by="Team.name", viewonly=True
    )


class Team(AccountScoped, Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("account_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(1000), default="")
    # Members who are end users see each other's requests (a department's shared queue).
    shares_requests: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    members: Mapped[list[Person]] = relationship(
        secondary="team_members", back_populates="teams", order_by="Person.name", viewonly=True
    )


class TeamMember(AccountScoped, Base):
    """Membership; the composite foreign keys keep both ends inside one account."""

    __tablename__ = "team_members"
    __account_id_index__ = True  # no composite key starts with account_id
    __table_args__ = (
        ForeignKeyConstraint(["account_id", "team_id"], ["teams.account_id", "teams.id"]),
        ForeignKeyConstraint(["account_id", "person_id"], ["people.account_id", "people.id"]),
    )

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class ApiToken(AccountScoped, Base):
    """A personal OAuth 2 bearer token; only a SHA-256 of its secret is kept."""

    __tablename__ = "api_tokens"
    __account_id_index__ = True  # no composite key starts with account_id
    __table_args__ = (
        ForeignKeyConstraint(["account_id", "person_id"], ["people.account_id", "people.id"]),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(120))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


__all__ = ["ROLES", "Account", "ApiToken", "Person", "Team", "TeamMember"]
