"""Database base, the session and the unit of work.

The boundary that began the work (an HTTP request, a job, a CLI command) commits;
services and stores only flush, so a failure anywhere rolls back everything the work
did. Work that must only happen once the data is durable (enqueueing a job, notifying a
peer) is registered with ``after_commit`` and runs after a successful commit, never after
a rollback, so a worker never sees a row that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_AFTER_COMMIT = "trustdesk.after_commit"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={datetime: UTCDateTime()},
    )


log = logging.getLogger(__name__)

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def after_commit(session: Session, action: Callable[[], Any]) -> None:
    """Run ``action`` once the session's current transaction has committed.

    A transaction is begun if none is, so that a rollback before any SQL ran still
    discards the action instead of leaving it for the next commit.
    """
    if not session.in_transaction():
        session.begin()
    transaction = session.get_transaction(), session.get_nested_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).append((transaction[1] or transaction[0], action))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    """Each action, whatever the others do. The transaction is durable by now: an action
    that fails (Redis down as a job is enqueued) must neither turn the commit into an
    error, which a client would retry and so do twice, nor keep the later actions from
    running. A lost job is logged; the sweeps repair what it would have done."""
    for _, action in session.info.pop(_AFTER_COMMIT, []):
        try:
            action()
        except Exception:
            log.exception("an action after a commit failed; the committed work stands")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    """Drop what the rolled-back transaction (or savepoint, and those inside it) asked for."""
    pending = session.info.get(_AFTER_COMMIT)
    if not pending:
        return
    if not session.in_transaction():
        session.info.pop(_AFTER_COMMIT, None)
        return
    session.info[_AFTER_COMMIT] = [
        (owner, action) for owner, action in pending if not _within(owner, previous_transaction)
    ]


def _within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def new_id() -> str:
    """Random, unguessable ids: sequential ones would leak other tenants' volumes."""
    return uuid.uuid4().hex
