"""The context one unit of work runs in: who acts, for which account, with what.

Built by the boundary (an HTTP request, a job, a CLI command) and handed to services,
which therefore never look up the session, the clock or the person from globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from account_node.audit.service import Actor, AuditLog
from account_node.clock import Clock
from account_node.jobs import JobQueue, enqueue_after_commit
from account_node.settings import Settings
from account_node.tenancy import AccountScope, bind_scope, real_session


@dataclass
class Work:
    session: Session
    scope: AccountScope
    actor: Actor
    clock: Clock
    jobs: JobQueue
    settings: Settings
    roles: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self.session = real_session(self.session)
        bind_scope(self.session, self.scope)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.session, self.scope, self.clock)

    def record(
        self,
        action: str,
        target_type: str,
        target_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.audit.record(self.actor, action, target_type, target_id, before, after)

    def enqueue(self, queue: str, func: str, *args: Any, **options: Any) -> None:
        enqueue_after_commit(self.session, self.jobs, queue, func, *args, **options)
