"""The per-peer outbox: signed calls that must arrive, delivered by jobs with backoff.

A message is written in the same transaction as the change it reports, and a delivery
job is enqueued after the commit, so nothing is announced that did not happen and
nothing that happened goes unannounced. Each attempt signs the call afresh (a new
``created`` and nonce: a retry is never a replay); the receiver de-duplicates by the
message's own id. A peer that fails is retried after 2, 4, 8 ... seconds, capped at
an hour, and given up after ``MAX_ATTEMPTS`` (about a day), recorded in the audit log.
Messages to one peer go in order of creation: a later one waits while an earlier one
is still pending, so a peer never sees a newer state overtaken by an older one. Waiting
is not an attempt: when a message is delivered or given up, the next one to that peer
is sent at once, so a backlog drains as soon as the peer is back.

Delivery jobs can be lost (the embedded runner keeps them in memory; a Redis can be
flushed), so a periodic sweep (``outbox_sweep_seconds``) sends, for every peer, the
oldest pending message whose retry is due: what was written is always delivered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import active_account_ids
from account_node.jobs import schedule_periodic
from account_node.tenancy import AccountScope, ScopedStore
from trust.client import shared_client
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.guard import OutboundPolicy
from trust.handshake import Handshake
from trust.models import OutboxMessage, Trust

DELIVER = "trust.outbox.deliver"
SWEEP = "trust.outbox.sweep"
MAX_ATTEMPTS = 30
MAX_DELAY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), MAX_DELAY)


class OutboxStore(ScopedStore[OutboxMessage]):
    model = OutboxMessage

    def earlier_pending(self, message: OutboxMessage) -> OutboxMessage | None:
        return self.first_pending_to(message, OutboxMessage.created_at < message.created_at)

    def first_pending_to(self, message: OutboxMessage, *criteria: Any) -> OutboxMessage | None:
        """The oldest pending message to ``message``'s peer (with ``criteria``)."""
        query = select(OutboxMessage).where(
            OutboxMessage.peer_node == message.peer_node,
            OutboxMessage.peer_account == message.peer_account,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.abandoned_at.is_(None),
            OutboxMessage.id != message.id,
            *criteria,
        )
        return self.session.scalars(query.order_by(OutboxMessage.created_at)).first()

    def heads_due(self, now: datetime) -> list[OutboxMessage]:
        """Per peer, the oldest pending message, if its next attempt is due."""
        pending = (OutboxMessage.delivered_at.is_(None), OutboxMessage.abandoned_at.is_(None))
        peer = (OutboxMessage.peer_node, OutboxMessage.peer_account)
        firsts = (
            select(*peer, func.min(OutboxMessage.created_at).label("first"))
            .where(*pending)
            .group_by(*peer)
            .subquery()
        )
        query = (
            select(OutboxMessage)
            .join(
                firsts,
                (OutboxMessage.peer_node == firsts.c.peer_node)
                & (OutboxMessage.peer_account == firsts.c.peer_account)
                & (OutboxMessage.created_at == firsts.c.first),
            )
            .where(
                *pending,
                OutboxMessage.next_attempt_at.is_(None) | (OutboxMessage.next_attempt_at <= now),
            )
        )
        return list(self.session.scalars(query.order_by(OutboxMessage.created_at)))


class Outbox:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = OutboxStore(work.session, work.scope)

    def add(
        self, trust: Trust, suffix: str, body: dict[str, Any], *, actor_id: str | None = None
    ) -> OutboxMessage:
        """Queue ``body`` for ``<peer>/federation/v1/<account>/trusts/<trust>/<suffix>``."""
        now = self.work.clock.now()
        message = OutboxMessage(
            trust_id=trust.id,
            peer_account=trust.peer_account,
            peer_node=trust.peer_node,
            path=f"/federation/v1/{trust.peer_account}/trusts/{trust.id}/{suffix}",
            body=body,
            actor_id=actor_id,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
            abandoned_at=None,
            last_error=None,
        )
        self.store.add(message)
        self.work.enqueue("delivery", DELIVER, self.work.scope.account_id, message.id)
        return message

    def attempt(self, handshake: Handshake, message_id: str) -> bool:
        """Try one message now; True once it is delivered (or was already)."""
        message = self.store.find(message_id)
        if message is None or message.delivered_at or message.abandoned_at:
            return True
        earlier = self.store.earlier_pending(message)
        if earlier is not None:
            # Keep the order: this one goes when the earlier one is done (see _next).
            message.last_error = "waiting for an earlier message to this peer"
            self.work.session.flush()
            return False
        now = self.work.clock.now()
        trust = handshake.trusts.find(message.trust_id)
        if trust is None or trust.status != "active":
            message.abandoned_at, message.last_error = now, "the trust is no longer active"
            message.next_attempt_at = None
            self._next(message)
            self.work.session.flush()
            return False
        try:
            handshake.peers.post_signed(
                message.peer_node + message.path,
                {**message.body, "notice_id": message.id},
                handshake.keys.current(),
                now=int(now.timestamp()),
                trust_id=message.trust_id,
                actor=message.actor_id,
            )
        except (PeerUnavailable, PeerDeclined, PeerNotAllowed) as exc:
            self._retry_later(message, f"{exc.code}: {exc.detail}"[:200])
            return False
        message.delivered_at, message.next_attempt_at = now, None
        message.attempts += 1
        message.last_error = None
        self._next(message)
        self.work.session.flush()
        return True

    def _next(self, done: OutboxMessage) -> None:
        """``done`` was delivered or given up: send the next message to its peer now."""
        following = self.store.first_pending_to(done)
        if following is not None:
            self.work.enqueue("delivery", DELIVER, self.work.scope.account_id, following.id)

    def _retry_later(self, message: OutboxMessage, error: str) -> None:
        now = self.work.clock.now()
        message.attempts += 1
        message.last_error = error
        if message.attempts >= MAX_ATTEMPTS:
            message.abandoned_at, message.next_attempt_at = now, None
            self.work.record(
                "outbox.abandoned",
                "outbox_message",
                message.id,
                after={"peer": message.peer_account, "path": message.path, "error": error},
            )
            self._next(message)
        else:
            message.next_attempt_at = now + backoff(message.attempts)
            self.work.enqueue(
                "delivery",
                DELIVER,
                self.work.scope.account_id,
                message.id,
                at=message.next_attempt_at,
            )
        self.work.session.flush()


def outbox_work(node: Any, account_id: str) -> Work:
    actor = Actor("node:outbox", account_id, f"federation outbox of node {node.settings.node_name}")
    return Work(db.session(), AccountScope(account_id), actor, node.clock, node.jobs, node.settings)


def node_handshake(node: Any, work: Work) -> Handshake:
    """The handshake side of ``work``'s account, wired from the node (for jobs)."""
    app = node.app
    settings = node.settings
    peers = shared_client(
        app.extensions,
        OutboundPolicy(settings.federation_allow_http, settings.federation_allow_private),
        settings.federation_timeout_seconds,
    )
    return Handshake(work, settings.public_url.rstrip("/"), app.config["SECRET_KEY"], peers)


def deliver(node: Any, account_id: str, message_id: str) -> None:
    """Job: one delivery attempt (idempotent: a delivered message is not sent again)."""
    work = outbox_work(node, account_id)
    Outbox(work).attempt(node_handshake(node, work), message_id)


def sweep(node: Any, reschedule: bool = True) -> int:
    """Periodic job: per account and peer, send the oldest pending message whose retry is
    due (its delivery job may have been lost); returns how many were sent for."""
    sent = 0
    for account_id in active_account_ids(db.session()):
        work = outbox_work(node, account_id)
        for message in OutboxStore(work.session, work.scope).heads_due(work.clock.now()):
            work.enqueue("delivery", DELIVER, account_id, message.id)
            sent += 1
    if reschedule:
        every = node.settings.outbox_sweep_seconds
        schedule_periodic(node.jobs, node.clock, "delivery", SWEEP, every, "outbox-sweep")
    return sent
