"""What the outbox tests share: a job queue that remembers, a Work, a stored message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope
from trust.models import OutboxMessage
from trust.outbox import DELIVER, OutboxStore


@dataclass
class RecordedJobs:
    """A job queue that remembers what it was asked to run."""

    asked: list[tuple[str, tuple[Any, ...], datetime | None]] = field(default_factory=list)

    def enqueue(self, queue: str, func: str, *args: Any, at=None, job_id=None) -> None:
        self.asked.append((func, args, at))

    def deliveries(self) -> list[str]:
        return [args[1] for func, args, _ in self.asked if func == DELIVER]

    def close(self) -> None:
        pass


def work_for(app, account, jobs: RecordedJobs) -> Work:
    """The account's admin at work, with ``jobs`` as the job queue."""
    node = app.extensions["trustdesk"]
    actor = Actor(account.admin.id, account.id, "Ada Admin")
    return Work(db.session(), AccountScope(account.id), actor, node.clock, jobs, node.settings)


def stored_message(app, account, message_id: str) -> OutboxMessage:
    """The message as stored now, detached from the session."""
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        found = OutboxStore(work.session, work.scope).get(message_id)
        db.session.expunge(found)
        return found
