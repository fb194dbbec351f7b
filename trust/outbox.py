"""The per-peer outbox: signed calls that must arrive, delivered by jobs with backoff.

A message is written in the same transaction as the change it reports, and a delivery
job is enqueued after the commit, so nothing is announced that did not happen and
nothing that happened goes unannounced. Each attempt signs the call afresh (a new
``created`` and nonce: a retry is never a replay); the receiver de-duplicates by the
message's own id. A peer that fails is retried after 2, 4, 8 ... seconds, capped at
an hour, and given up after ``MAX_ATTEMPTS`` (about a day), recorded in the audit log;
one the peer refuses for good (``FINAL_REFUSALS``: its side of the trust is over, or
the message is invalid to it) is given up at once, recorded the same way.
Messages to one peer go in order of creation: a later one waits while an earlier one
is still pending, so a peer never sees a newer state overtaken by an older one. Waiting
is not an attempt: when a message is delivered or given up, the next one to that peer
is sent at once, so a backlog drains as soon as the peer is back.

Key rotation notices (``KEY_NOTICE``, see trust.rotation) go ahead of that order: every
other message is signed with the account's current key when it is attempted, so one
queued before a rotation is signed with the new key all the same, and the peer knows
that key only once it has the notice. A peer's queue therefore goes by ``precedence``,
then creation, in ``attempt``, ``first_pending_to`` and the sweep's ``heads_due``
alike. A key notice is about the peer, not one trust: it needs any active trust with
the peer's account at its node. Its retries are capped at ``KEY_NOTICE_MAX_DELAY``
(everything else to the peer waits for it, and the peer refuses every call the new key
signs until then).

A key notice is never given up for its number of attempts while a trust with the peer is
active: it is the only way the peer learns the key automatically, and once it is given
up every later call the new key signs is refused (``key_unknown``), each message retried
for a day and lost, and every later rotation's notice names a key the peer never had.
Trying a peer that stays down costs one call every ``KEY_NOTICE_MAX_DELAY``, and nothing
queued behind the notice spends its attempts meanwhile (waiting is not an attempt).
It ends when no trust with the peer is active any more (given up, unaudited), or when the
peer refuses the notice because it does not hold the notice's old key (``KEY_UNKNOWN``):
that answer never changes by retrying. It means the peer never pinned that key (a routine
rotation after a compromise rotation its admin has not confirmed) or its admin confirmed
a newer key out of band meanwhile; either way only that confirmation teaches the peer
the key, so the notice is set aside (audited as ``outbox.abandoned``, the error saying
so) and the peer's queue goes on: its messages go through once the admin confirms,
instead of waiting behind a notice forever. Until then the peer refuses them for the
key, and a message so refused is not given up: the peer is up and answering, and no
number of attempts brings the confirmation nearer, so it waits for it, tried again
every ``AWAITING_CONFIRMATION_DELAY`` without spending its attempts, for as long as its
trust is active (``key_refused`` marks it; trust.key_status tells the admin).

The other way round, a message (not a notice) refused with ``KEY_UNKNOWN`` reached the
peer before the notice of the key that signed it (a rotation committed while the message
was out). If that notice is still pending it is sent at once, and then the message
again, rather than the message waiting out its backoff.

An attempt is three steps: ``prepare`` (database: the checks and the signed call's
parts), ``send`` (the call alone, no database: safe on another thread) and ``settle``
(database: record the answer). ``attempt`` runs all three; a rotation runs ``send`` for
its peers concurrently between the other two (trust.rotation).

Delivery jobs can be lost (the embedded runner keeps them in memory; a Redis can be
flushed), so a periodic sweep (``outbox_sweep_seconds``) sends, for every peer, the
first pending message of its queue if its retry is due: what was written is always
delivered.

So a message often has more than one job (its retry's, the sweep's, a look again after
waiting, the one that sends it when the message before it is done), and
``next_attempt_at`` alone says when it may be tried: a job that comes before it does
nothing. Every job that sent it once scheduled a retry of its own, so one extra job
started a second chain of retries that never merged with the first: a peer that was
down was called twice as often as the backoff says, and a message given up after half
the time. Whoever has a reason to try a message sooner makes it due first (``_next``,
``_notice_first``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.errors import NodeError
from account_node.identity.accounts import active_account_ids
from account_node.jobs import contained, then_next_run
from account_node.tenancy import AccountScope, ScopedStore
from trust.client import shared_client
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.guard import OutboundPolicy
from trust.handshake import Handshake
from trust.keystore import OwnKey
from trust.models import KEY_NOTICE, MESSAGE, OutboxMessage, Trust

DELIVER = "trust.outbox.deliver"
SWEEP = "trust.outbox.sweep"
MAX_ATTEMPTS = 30  # about 20 hours at MAX_DELAY
MAX_DELAY = timedelta(hours=1)
KEY_NOTICE_MAX_DELAY = timedelta(minutes=5)
AWAITING_CONFIRMATION_DELAY = timedelta(minutes=15)
# A message waiting behind one being sent now looks again this soon (``Outbox.prepare``).
RECHECK_DELAY = timedelta(seconds=5)
# A job this much before its message is due still runs: rq's scheduler counts whole
# seconds, so a job can come almost a second before the moment it was asked for. Less
# than the shortest backoff, so a job the attempt before it made redundant still waits.
EARLY_SLACK = timedelta(seconds=1)
WAITING = "waiting for an earlier message to this peer"
#: A peer's problem codes for "I hold no such key" (trust.keyring, trust.crypto.httpsig).
KEY_UNKNOWN = frozenset({"key_unknown", "key_revoked"})
# Answers no retry changes: the trust is deactivated on the peer's side (final, whether
# or not its notice reached us; one still proposed there answers trust_pending, and is
# retried), or the message is not one the peer can take.
FINAL_REFUSALS = frozenset({"trust_inactive", "validation_failed"})


def backoff(attempts: int, cap: timedelta = MAX_DELAY) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 30)), cap)


def retry_limits(message: OutboxMessage) -> tuple[timedelta, int | None]:
    """The longest wait between attempts and the attempts before giving up (None: a key
    notice is never given up for its attempts, see the module docstring)."""
    if message.precedence == KEY_NOTICE:
        return KEY_NOTICE_MAX_DELAY, None
    return MAX_DELAY, MAX_ATTEMPTS


@dataclass(frozen=True)
class Call:
    """One attempt's signed call, made ready by ``Outbox.prepare``: sending it touches no
    database, so it may go from another thread."""

    message_id: str
    url: str
    body: dict[str, Any]
    key: OwnKey
    now: int
    trust_id: str
    actor: str | None


def send(peers: Any, call: Call) -> NodeError | None:
    """Make ``call``; None if the peer took it, else why not. No database."""
    try:
        peers.post_signed(
            call.url, call.body, call.key, now=call.now, trust_id=call.trust_id, actor=call.actor
        )
    except (PeerUnavailable, PeerDeclined, PeerNotAllowed) as exc:
        return exc
    return None


def refused_for_good(failure: NodeError | None) -> bool:
    """Whether the peer refused the call with an answer no retry changes."""
    return (
        isinstance(failure, PeerDeclined) and failure.extensions.get("peer_code") in FINAL_REFUSALS
    )


def refused_key(failure: NodeError | None) -> bool:
    """Whether the peer refused the call for a key it does not hold."""
    return isinstance(failure, PeerDeclined) and failure.extensions.get("peer_code") in KEY_UNKNOWN


def _peer_order() -> tuple[Any, ...]:
    """A peer's queue: key notices first, then by creation (id only breaks ties)."""
    return (OutboxMessage.precedence, OutboxMessage.created_at, OutboxMessage.id)


class OutboxStore(ScopedStore[OutboxMessage]):
    model = OutboxMessage

    def claim(self, message_id: str) -> OutboxMessage | None:
        """The message, its row locked until this attempt commits; None if it is gone or
        another worker holds it (PostgreSQL: SKIP LOCKED). Two workers with a job for one
        message (its own and the sweep's, say) sent it twice, each then waking the next
        message, so the duplicates multiplied down the queue, and their outcomes
        overwrote each other. SQLite has one writer at a time (and the embedded runner
        one thread per node)."""
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(query).first()

    def earlier_pending(self, message: OutboxMessage, most: int = 1) -> list[OutboxMessage]:
        """Up to ``most`` pending messages to ``message``'s peer that go before it in the
        queue's own order (``_peer_order``): of lower precedence (a key notice), or of
        the same one created earlier, or at the same moment with a lower id."""
        same = OutboxMessage.precedence == message.precedence
        ahead = (
            (OutboxMessage.precedence < message.precedence)
            | (same & (OutboxMessage.created_at < message.created_at))
            | (
                same
                & (OutboxMessage.created_at == message.created_at)
                & (OutboxMessage.id < message.id)
            )
        )
        return self.pending_to(message, ahead, most=most)

    def pending_key_notices(self, peer_node: str, peer_account: str) -> list[OutboxMessage]:
        """Key notices to the peer not yet delivered nor given up, oldest first."""
        query = select(OutboxMessage).where(
            OutboxMessage.peer_node == peer_node,
            OutboxMessage.peer_account == peer_account,
            OutboxMessage.precedence == KEY_NOTICE,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.abandoned_at.is_(None),
        )
        return list(self.session.scalars(query.order_by(*_peer_order())))

    def first_pending_to(self, message: OutboxMessage, *criteria: Any) -> OutboxMessage | None:
        """The first pending message in ``message``'s peer's queue (with ``criteria``)."""
        found = self.pending_to(message, *criteria, most=1)
        return found[0] if found else None

    def pending_to(self, message: OutboxMessage, *criteria: Any, most: int) -> list[OutboxMessage]:
        """The first ``most`` pending messages in ``message``'s peer's queue, but it."""
        query = select(OutboxMessage).where(
            OutboxMessage.peer_node == message.peer_node,
            OutboxMessage.peer_account == message.peer_account,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.abandoned_at.is_(None),
            OutboxMessage.id != message.id,
            *criteria,
        )
        return list(self.session.scalars(query.order_by(*_peer_order()).limit(most)))

    def make_due(self, message: OutboxMessage, now: datetime) -> None:
        """Bring ``message``'s next attempt forward to ``now`` if it is still pending and
        waits for a later retry. In SQL, on the row as it stands when this transaction
        gets it: a worker may be sending it this moment (PostgreSQL waits for that
        attempt to commit), and a message it delivered must not look due again."""
        query = (
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.abandoned_at.is_(None),
                OutboxMessage.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )
        self.session.execute(query, execution_options={"synchronize_session": "fetch"})

    def heads_due(self, now: datetime) -> list[OutboxMessage]:
        """Per peer, the first pending message of its queue, if its next attempt is due."""
        peer = (OutboxMessage.peer_node, OutboxMessage.peer_account)
        place = func.row_number().over(partition_by=peer, order_by=_peer_order())
        queues = (
            select(OutboxMessage.id, place.label("place"))
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.abandoned_at.is_(None))
            .subquery()
        )
        query = (
            select(OutboxMessage)
            .join(queues, queues.c.id == OutboxMessage.id)
            .where(
                queues.c.place == 1,
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
        path = f"/federation/v1/{trust.peer_account}/trusts/{trust.id}/{suffix}"
        return self.queue(trust, path, body, actor_id=actor_id)

    def queue(
        self,
        trust: Trust,
        path: str,
        body: dict[str, Any],
        *,
        actor_id: str | None = None,
        precedence: int = MESSAGE,
        signing_key: str | None = None,
        enqueue: bool = True,
    ) -> OutboxMessage:
        """Queue ``body`` for ``path`` on the node of ``trust``'s peer. ``enqueue=False``
        leaves the first attempt to the caller, after its commit (the sweep sends it if
        the caller never does)."""
        now = self.work.clock.now()
        message = OutboxMessage(
            trust_id=trust.id,
            peer_account=trust.peer_account,
            peer_node=trust.peer_node,
            path=path,
            body=body,
            actor_id=actor_id,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
            abandoned_at=None,
            last_error=None,
            precedence=precedence,
            signing_key=signing_key,
            key_refused=False,
        )
        self.store.add(message)
        if enqueue:
            self.work.enqueue("delivery", DELIVER, self.work.scope.account_id, message.id)
        return message

    def supersede(self, message: OutboxMessage, by: str) -> None:
        """Set ``message`` aside unsent: a newer message carries what it said. Not a
        failure: no audit event, and the next message is not sent on its account."""
        message.abandoned_at, message.next_attempt_at = self.work.clock.now(), None
        message.last_error = f"superseded by {by}"[:200]
        self.work.session.flush()

    def attempt(self, handshake: Handshake, message_id: str) -> bool:
        """Try one message now; True once it is delivered (or was already)."""
        call = self.prepare(handshake, message_id)
        if isinstance(call, bool):
            return call
        return self.settle(handshake, call, send(handshake.peers, call))

    def prepare(self, handshake: Handshake, message_id: str) -> Call | bool:
        """The call that tries ``message_id`` now, or, if there is none to make, whether
        the message is delivered: True if it was already (or is gone), False if it waits
        for an earlier message to its peer or was given up."""
        message = self.store.claim(message_id)
        if message is None:  # gone, or another worker is sending it right now
            return self.store.find(message_id) is None
        if message.delivered_at or message.abandoned_at:
            return True
        if not self._due(message):
            return False  # a job made redundant: the attempt that ran since has its own
        ahead = self.store.earlier_pending(message, most=2)
        if ahead:
            # Keep the order: this one goes when the earlier one is done (see _next).
            first_wait = message.last_error != WAITING
            message.last_error = WAITING
            now = self.work.clock.now()
            if first_wait and len(ahead) == 1 and (ahead[0].next_attempt_at or now) <= now:
                # Next in line behind one being sent now: that one's delivery looks for a
                # follower (``_next``), but may have looked before this one was committed.
                # Look again once, soon, rather than wait for the sweep.
                self.work.enqueue(
                    "delivery", DELIVER, self.work.scope.account_id, message.id,
                    at=now + RECHECK_DELAY,
                )  # fmt: skip
            self.work.session.flush()
            return False
        trust = self._trust_for(handshake, message)
        if trust is None:
            self._give_up(message, "the trust is no longer active", audit=False)
            return False
        try:
            key = (
                handshake.keys.own(message.signing_key)
                if message.signing_key
                else handshake.keys.current()
            )
        except LookupError:
            self._give_up(message, f"no signing key {message.signing_key}")
            return False
        return Call(
            message.id,
            message.peer_node + message.path,
            {**message.body, "notice_id": message.id},
            key,
            int(self.work.clock.now().timestamp()),
            message.trust_id,
            message.actor_id,
        )

    def settle(self, handshake: Handshake, call: Call, failure: NodeError | None) -> bool:
        """Record how ``call`` went (``failure`` None: the peer took it); True if its
        message is delivered now. See the module docstring for ``KEY_UNKNOWN``."""
        message = self.store.get(call.message_id)
        message.key_refused = refused_key(failure)
        if failure is None:
            message.delivered_at, message.next_attempt_at = self.work.clock.now(), None
            message.attempts += 1
            message.last_error = None
            self._next(message)
            self.work.session.flush()
            return True
        error = f"{failure.code}: {failure.detail}"
        if message.key_refused:
            error = f"{error} ({failure.extensions['peer_code']})"
            if message.precedence == KEY_NOTICE:
                message.attempts += 1
                self._give_up(
                    message,
                    f"{error}: the peer lacks the old key; its admin must confirm the new one",
                )
                return False
            if self._notice_first(handshake, message, call.key):
                return self.attempt(handshake, message.id)
            self._await_confirmation(message, error)
            return False
        if refused_for_good(failure):
            # Retried, it would hold every later message to the peer for a day.
            message.attempts += 1
            self._give_up(message, f"{error} ({failure.extensions['peer_code']}): final")
            return False
        self._retry_later(message, error[:200])
        return False

    def _notice_first(self, handshake: Handshake, message: OutboxMessage, key: OwnKey) -> bool:
        """Send now the pending key notice of ``key`` (which signed ``message``, refused
        for it) if there is one; True if the peer took it."""
        for notice in self.store.pending_key_notices(message.peer_node, message.peer_account):
            if notice.signing_key == key.ref.key_id:
                notice.next_attempt_at = self.work.clock.now()
                return self.attempt(handshake, notice.id)
        return False

    def defer(self, message_id: str, until: datetime, error: str) -> None:
        """Leave ``message_id`` to a delivery job at ``until``: its call is still out,
        answered too late to wait for (the peer takes a repeat as the first)."""
        message = self.store.get(message_id)
        if message.delivered_at or message.abandoned_at:
            return
        message.next_attempt_at, message.last_error = until, error[:200]
        self.work.enqueue("delivery", DELIVER, self.work.scope.account_id, message_id, at=until)
        self.work.session.flush()

    def _due(self, message: OutboxMessage) -> bool:
        """Whether ``message`` may be tried now (see the module docstring)."""
        due = message.next_attempt_at
        return due is None or due <= self.work.clock.now() + EARLY_SLACK

    def _trust_for(self, handshake: Handshake, message: OutboxMessage) -> Trust | None:
        """The active trust ``message`` goes under: its own; for a key notice, which is
        about the peer and not one trust, any active trust with the peer at its node."""
        trust = handshake.trusts.find(message.trust_id)
        if trust is not None and trust.status == "active":
            return trust
        if message.precedence != KEY_NOTICE:
            return None
        other = active_trusts(self.work.session, (message.peer_node, message.peer_account))
        if other:
            message.trust_id = other[0].id
            return other[0]
        return None

    def _next(self, done: OutboxMessage) -> None:
        """``done`` was delivered or given up: send the next message to its peer now,
        even one backing off (it waited behind a key notice): the peer is back, or the
        one message it held up is out of the way."""
        following = self.store.first_pending_to(done)
        if following is not None:
            self.store.make_due(following, self.work.clock.now())
            self.work.enqueue("delivery", DELIVER, self.work.scope.account_id, following.id)

    def _give_up(self, message: OutboxMessage, error: str, *, audit: bool = True) -> None:
        message.abandoned_at, message.next_attempt_at = self.work.clock.now(), None
        message.last_error = error[:200]
        if audit:
            self.work.record(
                "outbox.abandoned",
                "outbox_message",
                message.id,
                after={"peer": message.peer_account, "path": message.path, "error": error},
            )
        self._next(message)
        self.work.session.flush()

    def _retry_later(self, message: OutboxMessage, error: str) -> None:
        now = self.work.clock.now()
        cap, limit = retry_limits(message)
        message.attempts += 1
        message.last_error = error
        if limit is not None and message.attempts >= limit:
            self._give_up(message, error)
            return
        message.next_attempt_at = now + backoff(message.attempts, cap)
        self.work.enqueue(
            "delivery",
            DELIVER,
            self.work.scope.account_id,
            message.id,
            at=message.next_attempt_at,
        )
        self.work.session.flush()

    def _await_confirmation(self, message: OutboxMessage, error: str) -> None:
        """The peer refused ``message`` for this account's key and no notice of the key
        is pending: only its admin, confirming the key out of band, changes that. Not an
        attempt (the peer is up and answering): tried again every
        ``AWAITING_CONFIRMATION_DELAY`` for as long as its trust is active, never given
        up for it, and listed meanwhile by the keys page (trust.key_status)."""
        message.last_error = f"{error[:120]}: waiting for the peer's admin to confirm the key"
        message.next_attempt_at = self.work.clock.now() + AWAITING_CONFIRMATION_DELAY
        self.work.enqueue(
            "delivery", DELIVER, self.work.scope.account_id, message.id,
            at=message.next_attempt_at,
        )  # fmt: skip
        self.work.session.flush()


def active_trusts(session: Any, peer: tuple[str, str] | None = None) -> list[Trust]:
    """The account's active trusts, oldest first; with ``peer`` (its node and account),
    those with that peer only. ``session`` is bound to the account's scope."""
    query = select(Trust).where(Trust.status == "active")
    if peer is not None:
        query = query.where(Trust.peer_node == peer[0], Trust.peer_account == peer[1])
    return list(session.scalars(query.order_by(Trust.created_at, Trust.id)))


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
    """Periodic job: per account and peer, send the first pending message of the peer's
    queue if its retry is due (its delivery job may have been lost); returns how many
    were sent for."""
    sent = 0
    every = node.settings.outbox_sweep_seconds
    name = "outbox-sweep"
    with then_next_run(node.jobs, node.clock, "delivery", SWEEP, every, name, when=reschedule):
        for account_id in active_account_ids(db.session()):
            with contained(db.session(), "the outbox sweep", f"account {account_id}"):
                work = outbox_work(node, account_id)
                for message in OutboxStore(work.session, work.scope).heads_due(work.clock.now()):
                    work.enqueue("delivery", DELIVER, account_id, message.id)
                    sent += 1
                work.session.commit()  # each account's on its own: the next may fail
    return sent
