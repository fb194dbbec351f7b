"""Recording and reading the audit log.

``record`` runs in the caller's transaction: the event commits or rolls back with the
change it describes. The chain head row is locked (``SELECT ... FOR UPDATE``) while
appending, so concurrent writers of one account queue up instead of forking the chain;
other accounts are not blocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from account_node.audit.chain import HASHED_FIELDS, ChainReport, event_hash, verify_chain
from account_node.audit.models import GENESIS, AuditEvent, AuditHead
from account_node.clock import Clock
from account_node.tenancy import AccountScope, ScopedStore


@dataclass(frozen=True)
class Actor:
    """The authenticated person behind a change. There is no anonymous actor.

    ``vouched_by`` names the trusted account (and node) whose signature vouched for a
    person of another account acting through the federation.
    """

    person_id: str
    account_id: str
    name: str
    vouched_by: str | None = None


class AuditStore(ScopedStore[AuditEvent]):
    model = AuditEvent

    def lock_head(self) -> AuditHead:
        # Write first, read second: the no-op UPDATE takes the row lock on PostgreSQL and
        # the database write lock on SQLite (where FOR UPDATE does nothing), so concurrent
        # writers of one account queue up instead of reading the same head.
        self.session.execute(update(AuditHead).values(seq=AuditHead.seq))
        head = self.session.scalars(select(AuditHead).with_for_update()).first()
        if head is None:
            head = AuditHead(account_id=self.scope.account_id, seq=0, hash=GENESIS)
            self.session.add(head)
            self.session.flush()
        return head

    def head(self) -> AuditHead | None:
        return self.session.scalars(select(AuditHead)).first()

    def newest(self, after_seq: int | None, limit: int, action: str | None) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
        if after_seq is not None:
            query = query.where(AuditEvent.seq < after_seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(self.session.scalars(query))

    def in_order(self, up_to: int | None = None, batch: int = 1000) -> Iterator[AuditEvent]:
        last = 0
        while True:
            query = select(AuditEvent).where(AuditEvent.seq > last)
            if up_to is not None:
                query = query.where(AuditEvent.seq <= up_to)
            rows = list(self.session.scalars(query.order_by(AuditEvent.seq).limit(batch)))
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].seq


class AuditLog:
    def __init__(self, session: Session, scope: AccountScope, clock: Clock) -> None:
        self.store = AuditStore(session, scope)
        self.scope = scope
        self.clock = clock

    def record(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEvent:
        head = self.store.lock_head()
        fields: dict[str, Any] = {
            "account_id": self.scope.account_id,
            "seq": head.seq + 1,
            "at": self.clock.now(),
            "actor_id": actor.person_id,
            "actor_account_id": actor.account_id,
            "actor_name": actor.name,
            "vouched_by": actor.vouched_by,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "before": before,
            "after": after,
            "prev_hash": head.hash,
        }
        fields["hash"] = event_hash(fields)
        event = AuditEvent(**fields)
        self.store.session.add(event)
        head.seq, head.hash = event.seq, event.hash
        self.store.session.flush()
        return event

    def page(
        self, after_seq: int | None = None, limit: int = 50, action: str | None = None
    ) -> list[AuditEvent]:
        return self.store.newest(after_seq, limit, action)

    def verify(self) -> ChainReport:
        head = self.store.head()
        recorded = (head.seq, head.hash) if head else (0, GENESIS)
        events = (
            {f: getattr(e, f) for f in (*HASHED_FIELDS, "hash")}
            # Only up to the head read above: events committed meanwhile are not a break.
            for e in self.store.in_order(up_to=recorded[0])
        )
        return verify_chain(events, recorded)
