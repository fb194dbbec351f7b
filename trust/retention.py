"""What federation keeps of finished traffic, and for how long.

Every change to a request shared over a trust queues an event notice in the sender's
outbox, and the receiver keeps each notice's id to drop a redelivery. Neither is needed
for long once the message is done: a delivered or given-up message is never sent again
(its audit trail, where there is one, is the audit log's), and a notice the receiver
took comes again only if its answer was lost, while the sender retries (a day at most,
``trust.outbox.MAX_ATTEMPTS``; a redelivery later still is at worst one live event
shown twice: notices carry references only). Kept
forever, both tables would grow with every note and status change, and every query of
them with it. So a periodic job (``federation_prune_seconds``) deletes, per account,
what finished more than ``federation_retention_days`` ago:

- outbox messages delivered or given up then, except what other parts read back:
  key rotation notices (a few per rotation) and each peer's latest delivered message,
  which tell whether the peer holds the account's key (trust.key_status); and the
  newest message not given up of each kind (path) per trust, which is how the audit
  witness knows the head it last sent over a trust (trust.witness names it as the next
  head's ``previous``: without it the peer could not check the link between the two);
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
from account_node.jobs import contained, then_next_run
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
    own = OutboxMessage.account_id == work.scope.account_id
    kept = _newest(
        session,
        own & OutboxMessage.delivered_at.is_not(None),
        (OutboxMessage.peer_node, OutboxMessage.peer_account),
        OutboxMessage.delivered_at,
    ) | _newest(
        session,
        own & OutboxMessage.abandoned_at.is_(None),
        (OutboxMessage.trust_id, OutboxMessage.path),
        OutboxMessage.created_at,
    )
    finished = or_(OutboxMessage.delivered_at < cutoff, OutboxMessage.abandoned_at < cutoff)
    messages = _deleted(
        session,
        delete(OutboxMessage).where(
            finished, OutboxMessage.precedence == MESSAGE, OutboxMessage.id.not_in(sorted(kept))
        ),
    )
    notices = _deleted(session, delete(ReceivedNotice).where(ReceivedNotice.received_at < cutoff))
    return Pruned(messages, notices)


def _newest(session: Any, where: Any, group: tuple[Any, ...], by: Any) -> set[str]:
    """The ids of the newest message (by ``by``) of each ``group``, among those
    ``where`` holds: one per group, however many the group holds. ``where`` names the
    account itself rather than trust the ORM's criterion to reach into the subquery
    (two accounts of one node may send to one peer, even over one trust id)."""
    rank = (
        func.row_number()
        .over(partition_by=group, order_by=(by.desc(), OutboxMessage.id.desc()))
        .label("rank")
    )
    ranked = select(OutboxMessage.id, rank).where(where).subquery()
    return set(session.scalars(select(ranked.c.id).where(ranked.c.rank == 1)))


def _deleted(session: Any, statement: Any) -> int:
    """Run a bulk DELETE (the rows are not in this unit of work); how many went."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def prune(node: Any, reschedule: bool = True) -> Pruned:
    """Periodic job: ``prune_account`` for every active account, each committed alone
    (one account's backlog must not hold the others' locks)."""
    done = Pruned()
    every = node.settings.federation_prune_seconds
    name = "federation-prune"
    with then_next_run(node.jobs, node.clock, "delivery", PRUNE, every, name, when=reschedule):
        for account_id in active_account_ids(db.session()):
            with contained(db.session(), "the federation prune", f"account {account_id}"):
                work = outbox_work(node, account_id)
                done += prune_account(work, node.settings.federation_retention_days)
                db.session.commit()
    return done
