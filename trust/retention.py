"""What federation keeps of finished traffic, and for how long.

Every change to a request shared over a trust queues an event notice in the sender's
outbox, and the receiver keeps each notice's id to drop a redelivery. Neither is needed
for long once the message is done: a delivered or given-up message is never sent again
(its audit trail, where there is one, is the audit log's), and a notice is redelivered
only while its sender retries it (a day at most, ``trust.outbox.MAX_ATTEMPTS``). Kept
forever, both tables would grow with every note and status change, and every query of
them with it. So a periodic job (``federation_prune_seconds``) deletes, per account,
what finished more than ``federation_retention_days`` ago:

- outbox messages delivered or given up then, except key rotation notices (a few per
  rotation) and each peer's latest delivered message: they are what tells whether the
  peer holds the account's key (trust.key_status), and what a key's story needs;
- ids of notices received then.

Pending messages are never touched, however old: they are still to be delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select

from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import active_account_ids
from account_node.jobs import schedule_periodic
from trust.models import MESSAGE, OutboxMessage, ReceivedNotice
from trust.outbox import outbox_work

PRUNE = "trust.retention.prune"


@dataclass(frozen=True)
class Pruned:
    messages: int = 0
    notices: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(self.messages + other.messages, self.notices + other.notices)


def prune_account(work: Work, days: int) -> Pruned:
    """Delete this account's federation traffic finished more than ``days`` ago."""
    cutoff = work.clock.now() - timedelta(days=days)
    session = work.session
    latest = (
        select(
            OutboxMessage.peer_node,
            OutboxMessage.peer_account,
            func.max(OutboxMessage.delivered_at),
        )
        .where(OutboxMessage.delivered_at.is_not(None))
        .group_by(OutboxMessage.peer_node, OutboxMessage.peer_account)
    )
    kept = [
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.peer_node == node,
                OutboxMessage.peer_account == account,
                OutboxMessage.delivered_at == last,
            )
            .limit(1)
        ).one()
        for node, account, last in session.execute(latest).all()
    ]
    finished = or_(OutboxMessage.delivered_at < cutoff, OutboxMessage.abandoned_at < cutoff)
    messages = _deleted(
        session,
        delete(OutboxMessage).where(
            finished, OutboxMessage.precedence == MESSAGE, OutboxMessage.id.not_in(kept)
        ),
    )
    notices = _deleted(session, delete(ReceivedNotice).where(ReceivedNotice.received_at < cutoff))
    return Pruned(messages, notices)


def _deleted(session: Any, statement: Any) -> int:
    """Run a bulk DELETE (the rows are not in this unit of work); how many went."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def prune(node: Any, reschedule: bool = True) -> Pruned:
    """Periodic job: ``prune_account`` for every active account, each committed alone
    (one account's backlog must not hold the others' locks)."""
    done = Pruned()
    for account_id in active_account_ids(db.session()):
        done += prune_account(
            outbox_work(node, account_id), node.settings.federation_retention_days
        )
        db.session.commit()
    if reschedule:
        every = node.settings.federation_prune_seconds
        schedule_periodic(node.jobs, node.clock, "delivery", PRUNE, every, "federation-prune")
    return done
